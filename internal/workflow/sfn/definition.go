package sfn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// State names of the definition.
const (
	StateStep            = "Step"
	StateCheck           = "Check"
	StateWait            = "Wait"
	StateSucceeded       = "Succeeded"
	StateOperationFailed = "OperationFailed"
	StateMarkFailed      = "MarkFailed"
	StateDriverFailed    = "DriverFailed"
)

// Defaults of DefinitionConfig.
const (
	// DefaultMaxAttempts is the retries of a faulting step. With the default interval,
	// rate, cap and full jitter they wait about 13 minutes in all on average (26 at
	// most), enough to ride out a 10-minute Cloudify outage.
	DefaultMaxAttempts = 30
	// DefaultIntervalSeconds is the wait before the first retry.
	DefaultIntervalSeconds = 2
	// DefaultBackoffRate multiplies the wait at every retry.
	DefaultBackoffRate = 2.0
	// DefaultMaxDelaySeconds caps the wait between two retries.
	DefaultMaxDelaySeconds = 60
	// DefaultTaskTimeoutSeconds bounds one invocation of the step function, as seen by
	// the state machine (the function's own timeout should be shorter).
	DefaultTaskTimeoutSeconds = 300
	// DefaultTimeoutSeconds is the execution backstop: 3 days.
	DefaultTimeoutSeconds = 3 * 24 * 3600
)

// DefinitionConfig configures Definition. Zero values take the defaults.
type DefinitionConfig struct {
	// StepFunctionARN is the Resource of the Step and MarkFailed tasks: the step
	// function's ARN (a CDK token in the CDK app, a placeholder such as
	// ${StepFunctionArn} for DefinitionSubstitutions, or any name a local runner
	// maps). Required.
	StepFunctionARN string
	// MaxAttempts is how many times a faulting step is retried before the execution
	// gives up and marks the operation failed (default DefaultMaxAttempts).
	MaxAttempts int
	// IntervalSeconds, BackoffRate and MaxDelaySeconds shape the retry waits: the
	// n-th retry waits up to min(IntervalSeconds·BackoffRate^(n-1), MaxDelaySeconds),
	// with full jitter.
	IntervalSeconds int
	BackoffRate     float64
	MaxDelaySeconds int
	// TaskTimeoutSeconds bounds one task invocation (default DefaultTaskTimeoutSeconds).
	TaskTimeoutSeconds int
	// TimeoutSeconds is the whole execution's backstop (default DefaultTimeoutSeconds).
	// It must exceed the longest operation deadline (plans' maximum_polling_duration,
	// the broker's default deadline): operations end through the engine's own
	// deadline; an execution that times out is found by the Sweeper, which restarts
	// the operation or fails it as timed out.
	TimeoutSeconds int
}

func (c DefinitionConfig) withDefaults() DefinitionConfig {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.IntervalSeconds <= 0 {
		c.IntervalSeconds = DefaultIntervalSeconds
	}
	if c.BackoffRate < 1 {
		c.BackoffRate = DefaultBackoffRate
	}
	if c.MaxDelaySeconds <= 0 {
		c.MaxDelaySeconds = DefaultMaxDelaySeconds
	}
	if c.TaskTimeoutSeconds <= 0 {
		c.TaskTimeoutSeconds = DefaultTaskTimeoutSeconds
	}
	if c.TimeoutSeconds <= 0 {
		c.TimeoutSeconds = DefaultTimeoutSeconds
	}
	return c
}

// FaultErrors are the errors the Step and MarkFailed tasks retry: Lambda's own
// transient errors, the step function's StepFault, task timeouts, and Lambda.Unknown,
// which is how Step Functions reports a function whose runtime died during the
// invocation (killed, out of memory, a crashed host): a step cut short anywhere, which
// the engine's idempotency lets the retry finish.
var FaultErrors = []string{
	"Lambda.ServiceException",
	"Lambda.AWSLambdaException",
	"Lambda.SdkClientException",
	"Lambda.TooManyRequestsException",
	"Lambda.ClientExecutionTimeoutException",
	"Lambda.Unknown",
	"Sandbox.Timedout",
	"States.Timeout",
	ErrorStepFault,
}

// The ASL document, as ordered structs so that the JSON reads top-down.
type (
	definition struct {
		Comment        string        `json:"Comment"`
		StartAt        string        `json:"StartAt"`
		TimeoutSeconds int           `json:"TimeoutSeconds"`
		States         orderedStates `json:"States"`
	}
	state struct {
		Type           string         `json:"Type"`
		Comment        string         `json:"Comment,omitempty"`
		Resource       string         `json:"Resource,omitempty"`
		Parameters     map[string]any `json:"Parameters,omitempty"`
		ResultPath     *string        `json:"ResultPath,omitempty"`
		TimeoutSeconds int            `json:"TimeoutSeconds,omitempty"`
		Retry          []retrier      `json:"Retry,omitempty"`
		Catch          []catcher      `json:"Catch,omitempty"`
		Choices        []choice       `json:"Choices,omitempty"`
		Default        string         `json:"Default,omitempty"`
		SecondsPath    string         `json:"SecondsPath,omitempty"`
		Error          string         `json:"Error,omitempty"`
		Cause          string         `json:"Cause,omitempty"`
		ErrorPath      string         `json:"ErrorPath,omitempty"`
		CausePath      string         `json:"CausePath,omitempty"`
		Next           string         `json:"Next,omitempty"`
		End            bool           `json:"End,omitempty"`
		name           string
	}
	retrier struct {
		ErrorEquals     []string `json:"ErrorEquals"`
		IntervalSeconds int      `json:"IntervalSeconds"`
		MaxAttempts     int      `json:"MaxAttempts"`
		BackoffRate     float64  `json:"BackoffRate"`
		MaxDelaySeconds int      `json:"MaxDelaySeconds"`
		JitterStrategy  string   `json:"JitterStrategy"`
	}
	catcher struct {
		ErrorEquals []string `json:"ErrorEquals"`
		ResultPath  string   `json:"ResultPath"`
		Next        string   `json:"Next"`
	}
	choice struct {
		And           []choice `json:"And,omitempty"`
		Variable      string   `json:"Variable,omitempty"`
		BooleanEquals *bool    `json:"BooleanEquals,omitempty"`
		StringEquals  string   `json:"StringEquals,omitempty"`
		Next          string   `json:"Next,omitempty"`
	}
	// orderedStates marshals states as a JSON object in the order given.
	orderedStates []state
)

// MarshalJSON writes the states as one object, keyed by name, in order.
func (s orderedStates) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, st := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(st.name)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(st)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func ptr[T any](v T) *T { return &v }

// Definition returns the state machine's Amazon States Language document (see the
// package documentation), indented JSON.
//
// Errors: StepFunctionARN is empty.
func Definition(cfg DefinitionConfig) ([]byte, error) {
	if cfg.StepFunctionARN == "" {
		return nil, errors.New("sfn: definition: StepFunctionARN is required")
	}
	cfg = cfg.withDefaults()
	retry := func(attempts int) []retrier {
		return []retrier{{
			ErrorEquals:     FaultErrors,
			IntervalSeconds: cfg.IntervalSeconds,
			MaxAttempts:     attempts,
			BackoffRate:     cfg.BackoffRate,
			MaxDelaySeconds: cfg.MaxDelaySeconds,
			JitterStrategy:  "FULL",
		}}
	}
	d := definition{
		Comment: "Drives one broker operation: runs the workflow step until the operation ends, " +
			"waiting between steps as the step says; marks the operation failed when the step keeps faulting.",
		StartAt:        StateStep,
		TimeoutSeconds: cfg.TimeoutSeconds,
		States: orderedStates{
			{
				name:     StateStep,
				Type:     "Task",
				Comment:  "One workflow step: look at Cloudify, change at most one thing, say when to look again.",
				Resource: cfg.StepFunctionARN,
				Parameters: map[string]any{
					"operation_id.$": "$.operation_id",
					"execution_id.$": "$$.Execution.Id",
				},
				TimeoutSeconds: cfg.TaskTimeoutSeconds,
				Retry:          retry(cfg.MaxAttempts),
				Catch:          []catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: StateMarkFailed}},
				Next:           StateCheck,
			},
			{
				name: StateCheck,
				Type: "Choice",
				Choices: []choice{
					{And: []choice{
						{Variable: "$.done", BooleanEquals: ptr(true)},
						{Variable: "$.state", StringEquals: "failed"},
					}, Next: StateOperationFailed},
					{Variable: "$.done", BooleanEquals: ptr(true), Next: StateSucceeded},
				},
				Default: StateWait,
			},
			{
				name:        StateWait,
				Type:        "Wait",
				SecondsPath: "$.wait_seconds",
				Next:        StateStep,
			},
			{name: StateSucceeded, Type: "Succeed"},
			{
				name:  StateOperationFailed,
				Type:  "Fail",
				Error: "OperationFailed",
				Cause: "The operation failed; its last_operation description says why.",
			},
			{
				name:     StateMarkFailed,
				Type:     "Task",
				Comment:  "The step kept faulting: mark the operation failed with a description of the error.",
				Resource: cfg.StepFunctionARN,
				Parameters: map[string]any{
					"operation_id.$": "$.operation_id",
					"execution_id.$": "$$.Execution.Id",
					"fail": map[string]any{
						"error.$": "$.error.Error",
						"cause.$": "$.error.Cause",
					},
				},
				ResultPath:     ptr("$.marked"),
				TimeoutSeconds: cfg.TaskTimeoutSeconds,
				Retry:          retry(min(cfg.MaxAttempts, 10)),
				Catch:          []catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.mark_error", Next: StateDriverFailed}},
				Next:           StateDriverFailed,
			},
			{
				name:      StateDriverFailed,
				Type:      "Fail",
				ErrorPath: "$.error.Error",
				CausePath: "$.error.Cause",
			},
		},
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sfn: definition: %w", err)
	}
	return out, nil
}
