// Command infra is the broker's CDK app: one stack (NewBrokerStack) with the HTTP
// API, the three Lambda functions, the DynamoDB table, the operations state machine,
// the catalog schedule, logs, alarms and a dashboard.
//
// The CDK CLI runs it from the repository root (cdk.json there): `make synth`,
// `make deploy`. Its configuration comes from the context (cdk.json, or
// `-c key=value`); see README.md for the keys.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

// run builds the app from its context and synthesises it.
func run() error {
	app := awscdk.NewApp(nil)
	cfg, err := ConfigFromContext(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		return err
	}
	if _, err := NewBrokerStack(app, cfg.StackName, &BrokerStackProps{Config: cfg}); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}
