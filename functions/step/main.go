// Command step is the step function: the task of the operations state machine, one
// workflow step of one operation at a time.
//
// Configuration: the environment (see serverless.ConfigFromEnv); secrets are read
// from Secrets Manager at cold start. Build: see scripts/build-lambdas.sh.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cfybroker/cfybroker/internal/serverless"
)

func main() {
	ctx := context.Background()
	cfg, err := serverless.ConfigFromEnv(os.Getenv)
	if err != nil {
		exit(err)
	}
	deps, err := serverless.NewAWSDeps(ctx, cfg)
	if err != nil {
		exit(err)
	}
	handler, err := serverless.NewStepHandler(ctx, cfg, deps)
	if err != nil {
		exit(err)
	}
	lambda.Start(handler)
}

// exit reports a cold-start failure (Lambda records it as an init error) and exits.
func exit(err error) {
	serverless.NewLogger(serverless.Config{}).Error("cold start failed", "error", err)
	os.Exit(1)
}
