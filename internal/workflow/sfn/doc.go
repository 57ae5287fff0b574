// Package sfn is the AWS Step Functions driver of the workflow engine: the state
// machine that runs workflow.Engine.Step in a loop for one operation, the Starter that
// hands a recorded operation to it, and the Sweeper that restarts operations whose
// driver was lost.
//
// # The state machine
//
// Definition builds the Amazon States Language document, in Go, in this one place: the
// CDK app imports this package and passes its Lambda ARN token, the local tests pass a
// local resource name. One Standard execution drives one operation:
//
//	Step ──► Check ──done, failed──► OperationFailed (Fail)
//	 ▲         ├──done────────────► Succeeded (Succeed)
//	 │         └──otherwise──► Wait (SecondsPath $.wait_seconds) ──┐
//	 └─────────────────────────────────────────────────────────────┘
//	Step faults: Retry (exponential backoff, full jitter, ~13 min on average),
//	then Catch States.ALL ──► MarkFailed ──► DriverFailed (Fail)
//
// Step and MarkFailed are Task states whose Resource is the step function's ARN
// itself (not arn:aws:states:::lambda:invoke), so the payload is the task input and
// the result is the function's answer. The step function receives Input and answers
// workflow.TaskOutput. "Still running" is data (done false, a wait); a fault is an
// error whose type name, StepFault, the Retry matches. MarkFailed calls the same
// function with Input.Fail set: it marks the operation failed with a description
// built from the caught error, so that last_operation never stays "in progress"
// behind a dead execution. The machine's TimeoutSeconds is a backstop only: the
// engine itself fails an operation past its deadline as "timed out".
//
// # Starting and restarting
//
// Starter.Start starts an execution named after the operation id, with input
// {"operation_id": ...}. Execution names are unique per state machine, so a repeated
// Start is harmless (ExecutionAlreadyExists counts as success). When StartExecution
// fails the operation stays recorded; Sweeper.Sweep, run on a schedule, finds
// operations in progress that no step has looked at for a while, asks Step Functions
// whether their latest execution still runs, and starts a new one (named
// <operation id>-r<n>) when none does, or fails the operation when its deadline has
// passed. Two executions may drive one operation for a while; Step is idempotent and
// its conditional writes decide.
package sfn
