package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Bind and unbind phases. Both run the plan's custom workflow (op.Workflow) on the
// instance's deployment with the parameters the broker recorded (op.Inputs, sealed),
// then look at the binding's Cloudify secret (op.SecretKey).
const (
	phaseBindStart   = ""          // start the bind workflow, or adopt the run an earlier attempt started
	phaseBinding     = "binding"   // wait for it, then check the secret it left
	phaseUnbindStart = ""          // start the unbind workflow (after a halted bind has ended)
	phaseUnbinding   = "unbinding" // wait for it, then delete the secret
)

// findBindingExecution returns the newest run of the operation's workflow for its
// binding (the binding_id parameter) started after the operation was recorded: the
// one an earlier attempt of this step started before its result was written.
//
// Runs of an earlier binding of the same id are never taken, although the clock
// skew allowed makes them look recent: a run of the binding's other workflow (the
// unbind before this bind, the bind before this unbind) marks where the earlier
// operations' runs begin, and a run that failed or was cancelled is left (the earlier
// failed bind that the platform now retries; when it was this operation's own, running
// the workflow again is what a retry does anyway).
func (e *Engine) findBindingExecution(ctx context.Context, op *broker.Operation) (cloudify.Execution, bool, error) {
	list, err := e.Cloudify.ListExecutions(ctx, cloudify.ListOptions{
		Filters: map[string][]string{"deployment_id": {op.DeploymentID}},
		Sort:    []string{"-created_at"}, Limit: 100, PageSize: 100,
	})
	if err != nil {
		if cloudify.IsNotFound(err) {
			return cloudify.Execution{}, false, nil
		}
		return cloudify.Execution{}, false, err
	}
	for _, ex := range list {
		if id, _ := ex.Parameters[broker.ParamBindingID].(string); id != op.BindingID {
			continue
		}
		if ex.CreatedAt.Before(op.CreatedAt.Add(-clockSkew)) || ex.WorkflowID != op.Workflow {
			break // runs of an earlier bind or unbind of the same id
		}
		if ex.Status == cloudify.Failed || ex.Status == cloudify.Cancelled {
			continue
		}
		return ex, true, nil
	}
	return cloudify.Execution{}, false, nil
}

// startBindingWorkflow starts the operation's workflow with its recorded parameters,
// or adopts the run that an earlier attempt of this step started.
func (e *Engine) startBindingWorkflow(ctx context.Context, op *broker.Operation, waitPhase string, log *slog.Logger) (outcome, error) {
	if ex, ok, err := e.findBindingExecution(ctx, op); err != nil {
		return outcome{}, err
	} else if ok {
		log.InfoContext(ctx, "adopting a run of the workflow", "workflow_id", op.Workflow, "execution_id", ex.ID, "status", string(ex.Status))
		op.ExecutionID, op.Phase = ex.ID, waitPhase
		return next(0, ""), nil
	}
	params, err := e.openMap(op.Inputs)
	if err != nil {
		return outcome{}, err
	}
	ex, err := e.Cloudify.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: op.DeploymentID, WorkflowID: op.Workflow, Parameters: params})
	switch {
	case err == nil:
	case cloudify.IsEnvNotReady(err):
		return next(e.Backoff.Short(), fmt.Sprintf("waiting for the environment of deployment %s", op.DeploymentID)), nil
	case cloudify.IsRunningExecution(err):
		return next(e.Backoff.Short(), fmt.Sprintf("waiting for another execution on deployment %s to end", op.DeploymentID)), nil
	case retryable(err):
		return outcome{}, err
	case cloudify.IsNotFound(err):
		return fail(fmt.Sprintf("deployment %s is not on the manager", op.DeploymentID)), nil
	default:
		return fail(fmt.Sprintf("Cloudify refused to start %s on deployment %s: %s", op.Workflow, op.DeploymentID, cloudifyMessage(err))), nil
	}
	log.InfoContext(ctx, "workflow started", "workflow_id", op.Workflow, "execution_id", ex.ID, "binding_id", op.BindingID)
	op.ExecutionID, op.Phase = ex.ID, waitPhase
	return next(e.Backoff.Short(), fmt.Sprintf("%s of binding %s is running", op.Workflow, op.BindingID)), nil
}

func (e *Engine) bind(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	if op.SupersededBy != "" {
		return e.abandonBind(ctx, op, "bind halted by an unbind request", log)
	}
	inst, err := e.Store.GetInstance(ctx, op.InstanceID)
	switch {
	case errors.Is(err, broker.ErrNotFound):
		return uninstallRevokes(e.abandonBind(ctx, op, fmt.Sprintf("instance %s no longer exists", op.InstanceID), log))
	case err != nil:
		return outcome{}, fmt.Errorf("read instance: %w", err)
	case inst.State == broker.InstanceDeprovisioning || inst.State == broker.InstanceGone:
		return uninstallRevokes(e.abandonBind(ctx, op, fmt.Sprintf("instance %s is being deprovisioned", op.InstanceID), log))
	}
	switch op.Phase {
	case phaseBindStart:
		return e.startBindingWorkflow(ctx, op, phaseBinding, log)
	case phaseBinding:
		return e.waitBind(ctx, op, log)
	}
	return fail(fmt.Sprintf("unknown bind phase %q", op.Phase)), nil
}

// waitBind follows the bind workflow; when it succeeds, the secret it left must hold
// the credentials. A failed run has its secret deleted, so that nothing outlives the
// binding.
func (e *Engine) waitBind(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	ex, err := e.Cloudify.GetExecution(ctx, op.ExecutionID)
	switch {
	case cloudify.IsNotFound(err):
		return e.abandonBind(ctx, op, fmt.Sprintf("the %s execution %s disappeared from the manager", op.Workflow, op.ExecutionID), log)
	case err != nil:
		return outcome{}, err
	case ex.Status.Succeeded():
		op.CloudifyEndedAt = ex.EndedAt.Time
		return e.checkSecret(ctx, op, log)
	case ex.Status == cloudify.Cancelled:
		op.CloudifyEndedAt = ex.EndedAt.Time
		return e.abandonBind(ctx, op, fmt.Sprintf("%s of binding %s was cancelled on the manager", op.Workflow, op.BindingID), log)
	case ex.Status.Terminal():
		op.CloudifyEndedAt = ex.EndedAt.Time
		return e.abandonBind(ctx, op, fmt.Sprintf("%s of binding %s failed: %s", op.Workflow, op.BindingID, summary(ex)), log)
	}
	return next(e.Backoff.Next(e.now().Sub(op.CreatedAt), &ex), progress(op.Workflow, op.DeploymentID, ex)), nil
}

// checkSecret ends a bind whose workflow succeeded: the secret must hold a JSON object.
func (e *Engine) checkSecret(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	s, err := e.Cloudify.GetSecret(ctx, op.SecretKey)
	switch {
	case cloudify.IsNotFound(err):
		res := fail(fmt.Sprintf("%s succeeded but left no credentials in secret %s", op.Workflow, op.SecretKey))
		res.revoke = true
		return res, nil
	case err != nil && retryable(err):
		return outcome{}, err
	case err != nil:
		return e.abandonBind(ctx, op, fmt.Sprintf("Cloudify refused to read secret %s: %s", op.SecretKey, cloudifyMessage(err)), log)
	}
	if _, err := decodeCredentials(s.Value); err != nil {
		return e.abandonBind(ctx, op, fmt.Sprintf("%s left secret %s, but %v", op.Workflow, op.SecretKey, err), log)
	}
	return succeed(fmt.Sprintf("binding %s is bound: credentials of its own in secret %s", op.BindingID, op.SecretKey)), nil
}

// abandonBind ends a bind that will not succeed: it stops the bind workflow if it
// still runs (looking again until it has ended), deletes the secret the workflow may
// have left, then fails with why. Only then may the binding be forgotten: a run still
// going could leave a secret after it. A run that succeeded (the deadline passed, or
// its secret was refused, after it ended) has made credentials that only the unbind
// workflow revokes: its binding stays, failed, for the platform's unbind or the
// deprovision.
func (e *Engine) abandonBind(ctx context.Context, op *broker.Operation, why string, log *slog.Logger) (outcome, error) {
	ex, found, err := e.bindExecution(ctx, op)
	if err != nil {
		return outcome{}, err
	}
	if found && !ex.Status.Terminal() {
		action := cloudify.Cancel
		switch {
		case ex.Status.Waiting():
			action = cloudify.Kill
		case ex.Status == cloudify.Cancelling:
			action = cloudify.ForceCancel
		case ex.Status == cloudify.ForceCancelling || ex.Status == cloudify.KillCancelling:
			action = ""
		}
		if action != "" {
			if _, err := e.Cloudify.CancelExecution(ctx, ex.ID, action); err != nil && retryable(err) {
				return outcome{}, err
			} else if err == nil {
				log.InfoContext(ctx, "stopping the bind workflow", "execution_id", ex.ID, "action", string(action), "reason", why)
			}
		}
		return next(e.Backoff.Short(), "stopping "+op.Workflow+": "+why), nil
	}
	if err := e.deleteSecret(ctx, op.SecretKey, log); err != nil {
		return outcome{}, err
	}
	res := fail(why)
	res.revoke = found && ex.Status.Succeeded()
	return res, nil
}

// uninstallRevokes clears revoke from the outcome of a bind abandoned because its
// instance goes: the deployment's uninstall revokes what the bind made.
func uninstallRevokes(res outcome, err error) (outcome, error) {
	res.revoke = false
	return res, err
}

// bindExecution is the bind's execution: the one recorded, else one an earlier
// attempt started without recording it.
func (e *Engine) bindExecution(ctx context.Context, op *broker.Operation) (cloudify.Execution, bool, error) {
	if op.ExecutionID != "" {
		ex, err := e.Cloudify.GetExecution(ctx, op.ExecutionID)
		switch {
		case err == nil:
			return ex, true, nil
		case cloudify.IsNotFound(err):
			return cloudify.Execution{}, false, nil
		default:
			return cloudify.Execution{}, false, err
		}
	}
	ex, found, err := e.findBindingExecution(ctx, op)
	if cloudify.IsNotFound(err) {
		return cloudify.Execution{}, false, nil
	}
	return ex, found, err
}

// deleteSecret deletes a binding's secret; one already gone is fine.
func (e *Engine) deleteSecret(ctx context.Context, key string, log *slog.Logger) error {
	err := e.Cloudify.DeleteSecret(ctx, key)
	switch {
	case err == nil:
		log.InfoContext(ctx, "binding secret deleted", "secret_key", key)
		return nil
	case cloudify.IsNotFound(err):
		return nil
	default:
		return fmt.Errorf("delete secret %s: %w", key, err)
	}
}

func (e *Engine) unbind(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	switch op.Phase {
	case phaseUnbindStart:
		if op.Halts != "" {
			halted, err := e.Store.GetOperation(ctx, op.Halts)
			if err != nil && !errors.Is(err, broker.ErrNotFound) {
				return outcome{}, fmt.Errorf("read halted operation: %w", err)
			}
			if err == nil && !halted.Done() {
				return next(e.Backoff.Short(), fmt.Sprintf("halting the bind of binding %s", op.BindingID)), nil
			}
		}
		if _, err := e.Cloudify.GetDeployment(ctx, op.DeploymentID, "id"); cloudify.IsNotFound(err) {
			// The credentials went with the deployment.
			return e.unbound(ctx, op, log)
		} else if err != nil {
			return outcome{}, err
		}
		return e.startBindingWorkflow(ctx, op, phaseUnbinding, log)
	case phaseUnbinding:
		ex, err := e.Cloudify.GetExecution(ctx, op.ExecutionID)
		switch {
		case cloudify.IsNotFound(err):
			return fail(fmt.Sprintf("the %s execution %s disappeared from the manager", op.Workflow, op.ExecutionID)), nil
		case err != nil:
			return outcome{}, err
		case ex.Status.Succeeded():
			op.CloudifyEndedAt = ex.EndedAt.Time
			return e.unbound(ctx, op, log)
		case ex.Status == cloudify.Cancelled:
			op.CloudifyEndedAt = ex.EndedAt.Time
			return fail(fmt.Sprintf("%s of binding %s was cancelled on the manager; the binding keeps its credentials", op.Workflow, op.BindingID)), nil
		case ex.Status.Terminal():
			op.CloudifyEndedAt = ex.EndedAt.Time
			return fail(fmt.Sprintf("%s of binding %s failed: %s; the binding keeps its credentials", op.Workflow, op.BindingID, summary(ex))), nil
		}
		return next(e.Backoff.Next(e.now().Sub(op.CreatedAt), &ex), progress(op.Workflow, op.DeploymentID, ex)), nil
	}
	return fail(fmt.Sprintf("unknown unbind phase %q", op.Phase)), nil
}

// unbound ends an unbind whose credentials are revoked: their secret goes too.
func (e *Engine) unbound(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	if err := e.deleteSecret(ctx, op.SecretKey, log); err != nil {
		return outcome{}, err
	}
	return succeed(fmt.Sprintf("binding %s is unbound: its credentials are revoked", op.BindingID)), nil
}

// finishBinding applies an ended bind or unbind to its binding: a successful bind
// makes it ready, a failed one and a successful unbind remove it, a failed unbind
// leaves it bound. A binding that has moved on to another operation (an unbind that
// halted this bind) is left to that one.
//
// cleaned says whether the bind cleaned up after itself (the engine's own failures);
// a bind failed from outside (Fail) leaves its binding failed instead, for an unbind or
// the deprovision to revoke.
func (e *Engine) finishBinding(ctx context.Context, op broker.Operation, tx *broker.Tx, cleaned bool) error {
	b, err := e.Store.GetBinding(ctx, op.InstanceID, op.BindingID)
	switch {
	case errors.Is(err, broker.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read binding: %w", err)
	case b.OperationID != op.ID:
		return nil
	}
	ok := op.State == broker.StateSucceeded
	if op.Type == broker.OpBind && !ok && cleaned || op.Type == broker.OpUnbind && ok {
		tx.DeleteBindings = append(tx.DeleteBindings, &b)
		return nil
	}
	b.State = broker.BindingReady
	if op.Type == broker.OpBind && !ok {
		b.State = broker.BindingFailed
	}
	b.OperationState = op.State
	tx.Bindings = append(tx.Bindings, &b)
	return nil
}

// forgetBindings is the last phase of a deprovision whose deployment is gone: it
// deletes the secret of every binding the instance still has (a platform that
// deprovisions without unbinding first), so that nothing is left on the manager. The
// bindings' records go in the operation's final write (see Step). A secret exists only
// for a recorded binding: the binding is written before its bind workflow starts and
// removed only after its secret is deleted.
func (e *Engine) forgetBindings(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	bindings, err := e.bindingsOf(ctx, op.InstanceID)
	if err != nil {
		return outcome{}, err
	}
	for _, b := range bindings {
		if b.SecretKey == "" {
			continue
		}
		if err := e.deleteSecret(ctx, b.SecretKey, log); err != nil {
			return outcome{}, err
		}
	}
	if len(bindings) > 0 {
		log.InfoContext(ctx, "bindings left by the platform removed with the instance", "bindings", len(bindings))
	}
	return succeed(fmt.Sprintf("deployment %s deleted", op.DeploymentID)), nil
}

// bindingsOf lists an instance's bindings; a Store that cannot list them has none to
// remove.
func (e *Engine) bindingsOf(ctx context.Context, instanceID string) ([]broker.Binding, error) {
	l, ok := e.Store.(interface {
		ListBindings(ctx context.Context, instanceID string) ([]broker.Binding, error)
	})
	if !ok {
		return nil, nil
	}
	list, err := l.ListBindings(ctx, instanceID)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	return list, nil
}
