// Command step is the step function: the task of the operations state machine, one
// workflow step of one operation at a time.
//
// Configuration: the environment (see serverless.ConfigFromEnv); secrets are read
// from Secrets Manager at cold start. Build: see .ci/build-lambdas.sh.
package main

import "github.com/cfybroker/cfybroker/internal/serverless"

func main() { serverless.Main(serverless.NewStepHandler) }
