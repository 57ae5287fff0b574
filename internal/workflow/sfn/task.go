package sfn

import (
	"encoding/json"
	"strings"

	"github.com/cfybroker/cfybroker/internal/workflow"
)

// Input is what the state machine passes to the step function: the operation id
// (workflow.TaskInput), the execution's ARN for the logs, and, on the MarkFailed state
// only, the error that made the execution give up.
type Input struct {
	workflow.TaskInput
	// ExecutionID is the ARN of the execution ($$.Execution.Id); empty when the
	// function is invoked by hand.
	ExecutionID string `json:"execution_id,omitempty"`
	// Fail, when set, asks the function to mark the operation failed instead of
	// stepping it.
	Fail *Failure `json:"fail,omitempty"`
}

// Failure is the error a Catch caught: the Error and Cause fields of the state
// machine's error output.
type Failure struct {
	// Error is the error name: StepFault, a Lambda.* or States.* name.
	Error string `json:"error"`
	// Cause is the error's cause. For a Lambda function's error it is the JSON of the
	// function's error payload ({"errorMessage": ..., "errorType": ...}).
	Cause string `json:"cause"`
}

// Error names that the step function answers with; the Retry and Catch of the
// definition match them.
const (
	// ErrorStepFault names StepFault: a fault that a later attempt may not meet.
	ErrorStepFault = "StepFault"
	// ErrorOperationNotFound names OperationNotFound: there is nothing to drive.
	ErrorOperationNotFound = "OperationNotFound"
)

// StepFault is the error the step function returns for a fault (Cloudify unreachable
// or in maintenance, the store unavailable, a concurrent write). The Lambda runtime
// reports its type name, StepFault (ErrorStepFault), as the errorType that the
// state machine's Retry matches, and Message as the errorMessage, which ends up in
// the operation's description when the retries run out: Message must be fit to show
// to a platform user (no internal detail, no secret). Err is the cause, for logs.
type StepFault struct {
	Message string
	Err     error
}

// Error returns Message.
func (e *StepFault) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *StepFault) Unwrap() error { return e.Err }

// OperationNotFound is the error the step function returns for an operation id that
// is not in the store (its type name is ErrorOperationNotFound). It is not retried.
type OperationNotFound struct {
	OperationID string
}

// Error names the operation.
func (e *OperationNotFound) Error() string { return "operation " + e.OperationID + " does not exist" }

// lambdaErrorPayload is the JSON of a Lambda function's error.
type lambdaErrorPayload struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// Description returns the operation description for a failure the state machine
// caught: what a platform user sees in last_operation. Only the step function's own
// StepFault messages are passed through (they are written to be shown); any other
// cause is summarised by its error name.
func (f Failure) Description() string {
	var p lambdaErrorPayload
	if json.Unmarshal([]byte(f.Cause), &p) == nil && p.ErrorType == ErrorStepFault && p.ErrorMessage != "" {
		return "the broker gave up after repeated faults: " + p.ErrorMessage
	}
	switch {
	case f.Error == ErrorStepFault:
		return "the broker gave up after repeated faults"
	case f.Error == "States.Timeout" || f.Error == "Sandbox.Timedout" || strings.HasSuffix(f.Error, ".Timeout"):
		return "the broker gave up: its workflow step kept timing out"
	case f.Error == "":
		return "the broker's workflow driver failed"
	}
	return "the broker's workflow driver failed (" + f.Error + ")"
}
