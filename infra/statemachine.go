package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// stepFunctionARNVar is the DefinitionSubstitutions variable that stands for the
// step function's ARN in the definition.
const stepFunctionARNVar = "StepFunctionArn"

// Definition returns the operations state machine's definition as the stack of cfg
// deploys it, with ${StepFunctionArn} where the step function's ARN goes: the document
// of internal/workflow/sfn, the one the local tests run, with the step function's task
// timeout longer than the function's own.
//
// Errors: those of sfn.Definition.
func Definition(cfg Config) (string, error) {
	def, err := sfn.Definition(sfn.DefinitionConfig{
		StepFunctionARN:    "${" + stepFunctionARNVar + "}",
		TaskTimeoutSeconds: cfg.stepTaskTimeoutSeconds(),
	})
	if err != nil {
		return "", fmt.Errorf("state machine: %w", err)
	}
	return string(def), nil
}

// newStateMachine defines the Standard state machine that drives one operation per
// execution, with step as its task, and lets it invoke step (and nothing else). It
// is named <stack name>-operations, logs to logs at ERROR without execution data
// (no input or output: they name operations only, but nothing more should leak),
// and is traced when cfg.Tracing.
func newStateMachine(scope constructs.Construct, id string, step awslambda.IFunction, logs awslogs.ILogGroup, cfg Config) (awsstepfunctions.StateMachine, error) {
	def, err := Definition(cfg)
	if err != nil {
		return nil, err
	}
	sm := awsstepfunctions.NewStateMachine(scope, jsii.String(id), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(cfg.StackName + "-operations"),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromString(jsii.String(def)),
		DefinitionSubstitutions: &map[string]*string{
			stepFunctionARNVar: step.FunctionArn(),
		},
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logs,
			Level:                awsstepfunctions.LogLevel_ERROR,
			IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(cfg.Tracing),
	})
	step.GrantInvoke(sm)
	return sm, nil
}
