// Command api is the api function: API Gateway (HTTP API payload 2.0, or REST API
// payload 1.0) in front of the OSB API of the broker.
//
// Configuration: the environment (see serverless.ConfigFromEnv); secrets are read
// from Secrets Manager at cold start. Build: see .ci/build-lambdas.sh.
package main

import "github.com/cfybroker/cfybroker/internal/serverless"

func main() { serverless.Main(serverless.NewAPIHandler) }
