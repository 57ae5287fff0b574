// Package workflow drives the broker's asynchronous operations (provision, update,
// deprovision) on a Cloudify manager.
//
// An operation is a persisted state machine (broker.Operation, its Phase). Engine.Step
// advances one operation by one step: it reads the operation from the store, looks at
// Cloudify, makes at most one change there, writes the operation back under a version
// condition and says when to look again. Step is idempotent: repeating it after a crash,
// a retry or a lost write finds the Cloudify side as it is (a deployment that exists, an
// execution that already runs) and carries on from there.
//
// Two drivers call Step: Runner, in process, for the embedded shape; and the Step
// Functions state machine, through a task Lambda, for the AWS shape. Both pass only the
// operation id (TaskInput) and get back TaskOutput.
package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// TaskInput is what a driver passes to one step: the operation id alone.
type TaskInput struct {
	OperationID string `json:"operation_id"`
}

// TaskOutput is what a step answers. "Still running" is data (Done false and a wait),
// not an error; errors are faults for the driver to retry.
type TaskOutput struct {
	OperationID string `json:"operation_id"`
	Done        bool   `json:"done"`
	// State is the operation's OSB state after the step.
	State broker.OperationState `json:"state"`
	// WaitSeconds is how long to wait before the next step (0 when Done), rounded up
	// to whole seconds (what a Step Functions Wait state takes).
	WaitSeconds int `json:"wait_seconds"`
	// WaitExact is the same wait unrounded, for in-process drivers (not serialized).
	WaitExact time.Duration `json:"-"`
}

// Wait returns WaitSeconds as a duration.
func (o TaskOutput) Wait() time.Duration { return time.Duration(o.WaitSeconds) * time.Second }

// Engine advances operations. Every field but Logger, Now and Observer is required.
type Engine struct {
	Store    broker.Store
	Cloudify *cloudify.Client
	Sealer   broker.Sealer
	Backoff  Backoff
	Logger   *slog.Logger
	Now      func() time.Time
	// Observer, when set, is told what every step did (for metrics).
	Observer Observer
}

// Observer learns the outcome of every step of an operation that could be read and
// was not already finished. ObserveStep runs on the step's goroutine, so it must be
// quick; it cannot fail the step.
type Observer interface {
	ObserveStep(ctx context.Context, r StepReport)
}

// StepReport is what one step did, without ids or parameters: only values of a small
// fixed set, so that an observer can count them.
type StepReport struct {
	// Type is the operation's type.
	Type broker.OperationType
	// First is set for the operation's first step.
	First bool
	// State is the operation's OSB state after the step.
	State broker.OperationState
	// Ended is set when this step finished the operation (State tells how).
	Ended bool
	// Fault is set when the step failed and will be retried by the driver.
	Fault bool
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// outcome is what one phase handler decided.
type outcome struct {
	// done ends the operation: succeeded unless failed is set.
	done   bool
	failed bool
	// message is the description shown to the platform.
	message string
	// wait is when to look again (not done).
	wait time.Duration
	// revoke, on a failed bind, keeps its binding (failed) for an unbind or the
	// deprovision to revoke: its workflow succeeded, so the credentials it made exist.
	revoke bool
}

func next(wait time.Duration, message string) outcome { return outcome{wait: wait, message: message} }
func succeed(message string) outcome                  { return outcome{done: true, message: message} }
func fail(message string) outcome                     { return outcome{done: true, failed: true, message: message} }

// Step advances the operation by one step (see the package comment).
//
// Errors: one matching broker.ErrNotFound when the operation does not exist (drop it);
// any other error is a fault (Cloudify unreachable or in maintenance, the store
// unavailable, a concurrent write) after which the step may simply be repeated.
func (e *Engine) Step(ctx context.Context, operationID string) (_ TaskOutput, err error) {
	op, err := e.Store.GetOperation(ctx, operationID)
	if err != nil {
		return TaskOutput{}, fmt.Errorf("step %s: read operation: %w", operationID, err)
	}
	out := TaskOutput{OperationID: op.ID, State: op.State}
	if op.Done() {
		out.Done = true
		return out, nil
	}
	// report, when observed, is completed by the step's successful end; a step that
	// ends early in error reports a fault.
	var report *StepReport
	if e.Observer != nil {
		report = &StepReport{Type: op.Type, First: op.Steps == 0, State: op.State}
		defer func() {
			report.Fault = err != nil
			e.Observer.ObserveStep(ctx, *report)
		}()
	}
	log := e.logger().With("operation_id", op.ID, "instance_id", op.InstanceID, "deployment_id", op.DeploymentID,
		"operation_type", string(op.Type), "request_id", op.RequestID)
	now := e.now()
	var res outcome
	if now.After(op.Deadline) {
		why := fmt.Sprintf("timed out: Cloudify did not finish the %s within the plan's maximum polling duration (%s, at %s)",
			op.Type, op.Deadline.Sub(op.CreatedAt).Round(time.Second), phaseName(op.Phase))
		res = fail(why)
		if op.Type == broker.OpBind {
			// Nothing of a bind that ends may outlive it: its workflow is stopped and
			// its secret deleted first.
			if res, err = e.abandonBind(ctx, &op, why, log); err != nil {
				log.WarnContext(ctx, "step fault; it will be retried", "phase", op.Phase, "error", err, "cloudify_error_code", errorCode(err))
				return out, fmt.Errorf("step %s (timed out): %w", op.ID, err)
			}
		}
	} else {
		res, err = e.advance(ctx, &op, log)
		if err != nil {
			log.WarnContext(ctx, "step fault; it will be retried", "phase", op.Phase, "error", err, "cloudify_error_code", errorCode(err))
			return out, fmt.Errorf("step %s (%s): %w", op.ID, phaseName(op.Phase), err)
		}
	}
	op.Steps++
	op.UpdatedAt = now
	if res.message != "" {
		op.Description = res.message
	}
	tx := broker.Tx{Operations: []*broker.Operation{&op}}
	if res.done {
		op.State = broker.StateSucceeded
		if res.failed {
			op.State = broker.StateFailed
		}
		op.EndedAt = now
		op.NextCheck = time.Time{}
		if err := e.applyEnd(ctx, op, &tx, !res.revoke, now); err != nil {
			return out, fmt.Errorf("step %s: %w", op.ID, err)
		}
	} else {
		// Look again no later than just past the deadline, so that an operation whose
		// execution hangs fails "timed out" on time rather than one long wait later.
		if left := op.Deadline.Sub(now); res.wait > left {
			res.wait = max(left, 0) + time.Millisecond
		}
		op.NextCheck = now.Add(res.wait)
	}
	if err := e.Store.Commit(ctx, tx); err != nil {
		if errors.Is(err, broker.ErrConflict) {
			if again, gerr := e.Store.GetOperation(ctx, op.ID); gerr == nil && again.Done() {
				return TaskOutput{OperationID: op.ID, Done: true, State: again.State}, nil
			}
		}
		return out, fmt.Errorf("step %s: write operation: %w", op.ID, err)
	}
	out.State = op.State
	out.Done = res.done
	if report != nil {
		report.State, report.Ended = op.State, res.done
	}
	if !res.done {
		out.WaitSeconds = int((res.wait + time.Second - 1) / time.Second)
		out.WaitExact = res.wait
	}
	if res.done {
		log.InfoContext(ctx, "operation ended", "state", string(op.State), "description", op.Description,
			"steps", op.Steps, "duration_ms", now.Sub(op.CreatedAt).Milliseconds(), "execution_id", op.ExecutionID)
	} else {
		log.DebugContext(ctx, "operation step", "phase", op.Phase, "wait_s", out.WaitSeconds, "execution_id", op.ExecutionID)
	}
	return out, nil
}

// advance runs the handler of the operation's type.
func (e *Engine) advance(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	switch op.Type {
	case broker.OpProvision:
		return e.provision(ctx, op, log)
	case broker.OpDeprovision:
		return e.deprovision(ctx, op, log)
	case broker.OpUpdate:
		return e.update(ctx, op, log)
	case broker.OpBind:
		return e.bind(ctx, op, log)
	case broker.OpUnbind:
		return e.unbind(ctx, op, log)
	default:
		return fail(fmt.Sprintf("unknown operation type %q", op.Type)), nil
	}
}

// applyEnd adds to tx what an ended operation changes beside itself: its binding, for
// a bind or unbind (cleaned: see finishBinding); the bindings a successful deprovision
// leaves behind, whose secrets its last phase deleted; and its instance, when the
// operation is the instance's current one (a binding's operation never is).
func (e *Engine) applyEnd(ctx context.Context, op broker.Operation, tx *broker.Tx, cleaned bool, now time.Time) error {
	if op.Type.OnBinding() {
		return e.finishBinding(ctx, op, tx, cleaned)
	}
	if op.Type == broker.OpDeprovision && op.State == broker.StateSucceeded {
		bindings, err := e.bindingsOf(ctx, op.InstanceID)
		if err != nil {
			return err
		}
		for i := range bindings {
			tx.DeleteBindings = append(tx.DeleteBindings, &bindings[i])
		}
	}
	inst, err := e.Store.GetInstance(ctx, op.InstanceID)
	switch {
	case errors.Is(err, broker.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read instance: %w", err)
	case inst.OperationID != op.ID:
		return nil
	}
	if err := e.finishInstance(&inst, op, now); err != nil {
		return err
	}
	tx.Instances = []*broker.Instance{&inst}
	return nil
}

// finishInstance applies an ended operation to its instance.
func (e *Engine) finishInstance(inst *broker.Instance, op broker.Operation, now time.Time) error {
	inst.OperationState = op.State
	inst.UpdatedAt = now
	ok := op.State == broker.StateSucceeded
	switch op.Type {
	case broker.OpProvision:
		inst.State = broker.InstanceFailed
		if ok {
			inst.State = broker.InstanceReady
		}
	case broker.OpDeprovision:
		inst.State = broker.InstanceFailed
		if ok {
			inst.State = broker.InstanceGone
		}
	case broker.OpUpdate:
		if !ok {
			return nil
		}
		inst.PlanID = op.PlanID
		inst.MaintenanceVersion = op.MaintenanceVersion
		if op.BlueprintID != "" {
			inst.BlueprintID = op.BlueprintID
		}
		merged, err := e.mergeParameters(inst.Parameters, op.Parameters)
		if err != nil {
			return err
		}
		inst.Parameters = merged
	}
	return nil
}

// mergeParameters lays an update's parameters over the instance's, both sealed.
func (e *Engine) mergeParameters(instSealed, opSealed []byte) ([]byte, error) {
	if len(opSealed) == 0 {
		return instSealed, nil
	}
	base, err := e.openMap(instSealed)
	if err != nil {
		return nil, err
	}
	upd, err := e.openMap(opSealed)
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = map[string]any{}
	}
	for k, v := range upd {
		base[k] = v
	}
	b, err := json.Marshal(base)
	if err != nil {
		return nil, fmt.Errorf("encode parameters: %w", err)
	}
	return e.Sealer.Seal(b)
}

// openMap opens a sealed JSON object (nil for nil).
func (e *Engine) openMap(sealed []byte) (map[string]any, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	plain, err := e.Sealer.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, fmt.Errorf("decode sealed value: %w", err)
	}
	return m, nil
}

// retryable reports whether a Cloudify error is a fault to retry rather than an
// answer: unreachable, overloaded or in maintenance, or refusing our credentials (a
// configuration fix brings it back; the operation deadline bounds the wait).
func retryable(err error) bool {
	return cloudify.IsTransient(err) || cloudify.IsUnauthorized(err) || cloudify.IsForbidden(err)
}

// errorCode returns Cloudify's error_code of err, if any (for logs and metrics).
func errorCode(err error) string {
	var ae *cloudify.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// cloudifyMessage is a Cloudify error's message, safe to show (no credentials: the
// manager's messages name ids and inputs, not values of secrets).
func cloudifyMessage(err error) string {
	var ae *cloudify.APIError
	if cloudify.IsLicenseError(err) && errors.As(err, &ae) {
		// The manager refuses everything until an operator installs a licence: say so,
		// with the code, whatever its message.
		return trim(fmt.Sprintf("the Cloudify manager has no valid licence (%s): it refuses every request until one is installed; %s", ae.Code, ae.Message))
	}
	if errors.As(err, &ae) && ae.Message != "" {
		return trim(ae.Message)
	}
	return "Cloudify refused the request"
}

// trim cuts a description to what a platform shows comfortably.
func trim(s string) string {
	const max = 480
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

func phaseName(p string) string {
	if p == "" {
		return "start"
	}
	return p
}
