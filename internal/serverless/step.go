package serverless

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/workflow"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// StepHandler is the step function: the state machine's task. It runs workflow steps
// of the operation and answers when to look again, or, when the input carries Fail,
// marks the operation failed.
//
// Errors: *sfn.StepFault for a fault (retried by the state machine),
// *sfn.OperationNotFound for an unknown operation, and a plain error for an input
// without operation_id.
type StepHandler func(ctx context.Context, in sfn.Input) (workflow.TaskOutput, error)

// inlineMargin is the time an invocation keeps in hand for the step that follows a
// sleep: it sleeps a wait only while the Lambda's remaining time is at least this
// much more than the wait.
const inlineMargin = 15 * time.Second

// maxInlineSteps bounds the steps of one invocation: a guard against an engine that
// kept answering a wait of 0 (a phase change answers 0 once).
const maxInlineSteps = 50

// Why an invocation stopped stepping (the "stopped" attribute of its log record).
const (
	stopDone          = "done"
	stopFault         = "fault"
	stopInlineOff     = "inline_off"
	stopWaitOverLimit = "wait_over_limit"
	stopBudget        = "budget"
	stopRemainingTime = "remaining_time"
	stopStepLimit     = "step_limit"
	stopInterrupted   = "interrupted"
)

// NewStepHandler builds the step function. It reads the Cloudify and sealing secrets
// (once, now). It requires the settings CLOUDIFY_URL, CLOUDIFY_SECRET_ARN and
// SEAL_KEY_SECRET_ARN, and deps.Store and deps.Secrets.
//
// One invocation runs a step, then, while the operation is not done, keeps going in
// the same invocation: it sleeps the wait the step answered (through deps.Sleep; a
// wait of 0 not at all) and steps again, as long as the wait is at most
// cfg.StepInlineWait, the invocation's sleeps including it stay within
// cfg.StepInlineBudget, and the invocation's remaining time (its context's deadline
// as the invocation began, less the time deps.Now says has passed) is at least 15 s
// more than the wait. It answers the last step's output: a longer wait is the state
// machine's Wait. A fault ends the invocation at once (the state machine's Retry
// repeats the step); the steps before it are recorded. Each step emits its
// StepDuration metric; one log record per invocation says how many steps it ran and
// why it stopped. The function's timeout should exceed the budget plus the steps'
// time (infra: 100 s for the default 40 s).
//
// The handler may run for the same operation in two executions at once (a restart by
// the sweep while an old execution still retries): Step is idempotent and its
// conditional writes decide.
func NewStepHandler(ctx context.Context, cfg Config, deps Deps) (StepHandler, error) {
	p, err := build(ctx, cfg, deps, secretSet{cloudify: true, sealKey: true},
		EnvCloudifyURL, EnvCloudifySecretARN, EnvSealKeySecretARN)
	if err != nil {
		return nil, err
	}
	return p.step, nil
}

// step is the StepHandler.
func (p *parts) step(ctx context.Context, in sfn.Input) (workflow.TaskOutput, error) {
	id := in.OperationID
	if id == "" {
		return workflow.TaskOutput{}, errors.New("the task input has no operation_id")
	}
	// The engine adds operation_id (and the operation's other ids) to its own records.
	elog := p.log
	if in.ExecutionID != "" {
		elog = elog.With("sfn_execution_id", in.ExecutionID)
	}
	log := elog.With("operation_id", id)
	engine := *p.engine
	engine.Logger = elog
	start := p.deps.Now()

	if in.Fail != nil {
		desc := in.Fail.Description()
		err := engine.Fail(ctx, id, desc)
		switch {
		case errors.Is(err, broker.ErrNotFound):
			log.WarnContext(ctx, "asked to mark an unknown operation failed", "error_name", in.Fail.Error)
			return workflow.TaskOutput{OperationID: id, Done: true, State: broker.StateFailed}, nil
		case err != nil:
			log.ErrorContext(ctx, "cannot mark the operation failed", "error", err)
			return workflow.TaskOutput{OperationID: id}, &sfn.StepFault{Message: faultMessage(ctx, err), Err: err}
		}
		log.WarnContext(ctx, "the state machine gave up on the operation", "error_name", in.Fail.Error, "description", desc)
		out := workflow.TaskOutput{OperationID: id, Done: true, State: broker.StateFailed}
		p.endedMetrics(ctx, id, start, &out, true)
		return out, nil
	}

	remaining, bounded := time.Duration(0), false
	if dl, ok := ctx.Deadline(); ok {
		remaining, bounded = time.Until(dl), true
	}
	var (
		out   workflow.TaskOutput
		err   error
		steps int
		slept time.Duration
		stop  string
	)
	for {
		stepStart := p.deps.Now()
		out, err = engine.Step(ctx, id)
		steps++
		p.metrics.StepRan(id, p.deps.Now().Sub(stepStart))
		if err != nil {
			stop = stopFault
			break
		}
		if out.Done {
			p.endedMetrics(ctx, id, stepStart, &out, false)
			stop = stopDone
			break
		}
		wait := out.Wait()
		left := remaining - p.deps.Now().Sub(start)
		if stop = p.inlineStop(wait, slept, left, bounded, steps); stop != "" {
			break
		}
		if wait > 0 {
			if serr := p.deps.Sleep(ctx, wait); serr != nil {
				// The invocation is ending (its deadline): the state machine waits
				// instead.
				stop = stopInterrupted
				break
			}
			slept += wait
		}
	}
	if err == nil || !errors.Is(err, broker.ErrNotFound) {
		log.InfoContext(ctx, "step invocation", "steps", steps, "slept_s", int(slept/time.Second), "stopped", stop,
			"done", out.Done, "state", string(out.State), "wait_s", out.WaitSeconds)
	}
	if err != nil {
		if errors.Is(err, broker.ErrNotFound) {
			log.WarnContext(ctx, "no such operation", "steps", steps)
			return out, &sfn.OperationNotFound{OperationID: id}
		}
		code := cloudifyErrorCode(err)
		if code != "" {
			p.metrics.CloudifyError(code, id)
		} else {
			// The engine logs the Cloudify faults of a step itself; the rest (the
			// store) is logged here, once.
			log.WarnContext(ctx, "step fault; the state machine retries it", "error", err)
		}
		return out, &sfn.StepFault{Message: faultMessage(ctx, err), Err: err}
	}
	return out, nil
}

// inlineStop says why an invocation whose last step answered wait, after sleeping
// slept, with left of its time remaining (when bounded), answers that wait to the
// state machine rather than sleeping it; "" to sleep it and step again.
func (p *parts) inlineStop(wait, slept, left time.Duration, bounded bool, steps int) string {
	switch {
	case p.cfg.StepInlineWait <= 0 || p.cfg.StepInlineBudget <= 0:
		return stopInlineOff
	case wait > p.cfg.StepInlineWait:
		return stopWaitOverLimit
	case slept+wait > p.cfg.StepInlineBudget:
		return stopBudget
	case bounded && left < inlineMargin+wait:
		return stopRemainingTime
	case steps >= maxInlineSteps:
		return stopStepLimit
	}
	return ""
}

// endedMetrics records an operation's end metrics when this invocation ended it (a
// second execution driving the same operation, or a repeated task, finds it ended
// and records nothing); byDriver when it marked the operation failed for the state
// machine's Catch.
func (p *parts) endedMetrics(ctx context.Context, id string, start time.Time, out *workflow.TaskOutput, byDriver bool) {
	op, err := p.deps.Store.GetOperation(ctx, id)
	if err != nil {
		p.log.WarnContext(ctx, "cannot read the ended operation for its metrics", "operation_id", id, "error", err)
		return
	}
	out.State = op.State
	if op.Done() && !op.EndedAt.Before(start.Add(-time.Second)) {
		p.metrics.OperationEnded(op, byDriver)
	}
}

// cloudifyErrorCode classifies a fault from the manager for the CloudifyErrors
// metric: the manager's error_code, "http_<status>" for an answer without one,
// "unreachable" for a transport failure, "" for a fault that is not Cloudify's.
func cloudifyErrorCode(err error) string {
	var ae *cloudify.APIError
	switch {
	case errors.As(err, &ae) && ae.Code != "":
		return ae.Code
	case errors.As(err, &ae):
		return fmt.Sprintf("http_%d", ae.Status)
	case cloudify.IsTransient(err):
		return "unreachable"
	}
	return ""
}

// faultMessage is a fault's message for the state machine and, when the retries run
// out, for the platform user: what happened, without internal detail.
func faultMessage(ctx context.Context, err error) string {
	var ae *cloudify.APIError
	switch {
	case errors.As(err, &ae) && ae.Code != "":
		return fmt.Sprintf("the Cloudify manager answered HTTP %d (%s)", ae.Status, ae.Code)
	case errors.As(err, &ae):
		return fmt.Sprintf("the Cloudify manager answered HTTP %d %s", ae.Status, http.StatusText(ae.Status))
	case cloudify.IsNoAnswer(err):
		return "the Cloudify manager did not answer in time"
	case cloudify.IsTransient(err):
		return "the Cloudify manager could not be reached"
	case errors.Is(err, broker.ErrConflict):
		return "the operation was changed concurrently"
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return "an internal fault of the broker (request " + lc.AwsRequestID + ")"
	}
	return "an internal fault of the broker"
}
