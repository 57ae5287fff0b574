// Command catalog is the scheduled function: it rebuilds the catalog from the Cloudify
// manager and restarts or fails operations whose state machine execution was lost.
//
// Configuration: the environment (see serverless.ConfigFromEnv); secrets are read
// from Secrets Manager at cold start. Build: see .ci/build-lambdas.sh.
package main

import "github.com/cfybroker/cfybroker/internal/serverless"

func main() { serverless.Main(serverless.NewCatalogHandler) }
