package serverless

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// Main is the body of every function's main: it reads the configuration from the
// environment, builds the AWS clients, builds the handler with newHandler and hands it to
// the Lambda runtime. A cold-start failure is logged (Lambda records it as an init
// error) and exits the process; only mains exit.
func Main[H any](newHandler func(context.Context, Config, Deps) (H, error)) {
	ctx := context.Background()
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		exit(err)
	}
	deps, err := NewAWSDeps(ctx, cfg)
	if err != nil {
		exit(err)
	}
	handler, err := newHandler(ctx, cfg, deps)
	if err != nil {
		exit(err)
	}
	lambda.Start(handler)
}

func exit(err error) {
	NewLogger(Config{}).Error("cold start failed", "error", err)
	os.Exit(1)
}
