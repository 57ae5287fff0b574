// Command api is the api function: API Gateway (HTTP API payload 2.0, or REST API
// payload 1.0) in front of the OSB API of the broker.
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
	handler, err := serverless.NewAPIHandler(ctx, cfg, deps)
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
