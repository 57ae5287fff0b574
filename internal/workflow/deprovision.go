package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Deprovision phases.
const (
	phaseHalt         = ""             // cancel whatever runs on the deployment
	phaseUninstall    = "uninstall"    // start uninstall when something is live
	phaseUninstalling = "uninstalling" // wait for uninstall
	phaseDelete       = "delete"       // delete the deployment
	phaseDeleting     = "deleting"     // wait until the manager answers 404
	phaseForget       = "forget"       // delete the secrets of the bindings left
)

// forceCancelAfter is how many steps a cancelling execution gets before the engine
// escalates to force-cancel.
const forceCancelAfter = 6

// activeStatuses are the execution statuses that keep a deployment busy.
var activeStatuses = []string{
	string(cloudify.Pending), string(cloudify.Started), string(cloudify.Queued), string(cloudify.Scheduled),
	string(cloudify.Cancelling), string(cloudify.ForceCancelling), string(cloudify.KillCancelling),
}

func (e *Engine) deprovision(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	switch op.Phase {
	case phaseHalt:
		return e.halt(ctx, op, log)
	case phaseUninstall:
		return e.uninstall(ctx, op, log)
	case phaseUninstalling:
		return e.waitWorkflow(ctx, op, "uninstall", func() outcome {
			op.Phase = phaseDelete
			return next(0, fmt.Sprintf("deleting deployment %s", op.DeploymentID))
		})
	case phaseDelete:
		return e.deleteDeployment(ctx, op, log)
	case phaseDeleting:
		return e.waitDeleted(ctx, op)
	case phaseForget:
		return e.forgetBindings(ctx, op, log)
	}
	return fail(fmt.Sprintf("unknown deprovision phase %q", op.Phase)), nil
}

// gone moves a deprovision whose deployment is deleted to its last phase.
func gone(op *broker.Operation) outcome {
	op.Phase = phaseForget
	return next(0, fmt.Sprintf("deployment %s deleted; removing what its bindings left", op.DeploymentID))
}

// halt cancels the executions running on the deployment (a provision that a deprovision
// interrupted, or anything an operator started) and waits until none is active.
func (e *Engine) halt(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	if op.Halts != "" {
		halted, err := e.Store.GetOperation(ctx, op.Halts)
		if err != nil && !errors.Is(err, broker.ErrNotFound) {
			return outcome{}, fmt.Errorf("read halted operation: %w", err)
		}
		if err == nil && !halted.Done() {
			return next(e.Backoff.Short(), fmt.Sprintf("halting the provision of deployment %s", op.DeploymentID)), nil
		}
	}
	if _, err := e.Cloudify.GetDeployment(ctx, op.DeploymentID, "id"); err != nil {
		if cloudify.IsNotFound(err) {
			return gone(op), nil
		}
		return outcome{}, err
	}
	active, err := e.Cloudify.ListExecutions(ctx, cloudify.ListOptions{
		Filters: map[string][]string{"deployment_id": {op.DeploymentID}, "status": activeStatuses},
	})
	if err != nil {
		return outcome{}, err
	}
	if len(active) == 0 {
		op.Phase = phaseUninstall
		return next(0, fmt.Sprintf("uninstalling deployment %s", op.DeploymentID)), nil
	}
	for _, ex := range active {
		var action cloudify.CancelAction
		switch {
		case ex.WorkflowID == "create_deployment_environment" || ex.WorkflowID == "delete_deployment_environment":
			continue // seconds long; let it end
		case ex.Status == cloudify.Pending || ex.Status == cloudify.Started:
			action = cloudify.Cancel
		case ex.Status == cloudify.Queued || ex.Status == cloudify.Scheduled:
			action = cloudify.Kill
		case ex.Status == cloudify.Cancelling && op.Steps >= forceCancelAfter:
			action = cloudify.ForceCancel
		default:
			continue // already cancelling
		}
		if _, err := e.Cloudify.CancelExecution(ctx, ex.ID, action); err != nil && retryable(err) {
			return outcome{}, err
		} else if err == nil {
			log.InfoContext(ctx, "cancelling execution", "execution_id", ex.ID, "workflow_id", ex.WorkflowID, "action", string(action))
		}
	}
	return next(e.Backoff.Short(), fmt.Sprintf("stopping %d execution(s) on deployment %s", len(active), op.DeploymentID)), nil
}

// uninstall starts uninstall unless nothing on the deployment is live.
func (e *Engine) uninstall(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	dep, err := e.Cloudify.GetDeployment(ctx, op.DeploymentID)
	if err != nil {
		if cloudify.IsNotFound(err) {
			return gone(op), nil
		}
		return outcome{}, err
	}
	if available, known := dep.WorkflowAvailable("uninstall"); known && !available {
		op.Phase = phaseDelete
		return next(0, fmt.Sprintf("deleting deployment %s", op.DeploymentID)), nil
	}
	res, err := e.startWorkflow(ctx, op, "uninstall", phaseUninstalling, false, log)
	if err == nil && !res.done && op.Phase == phaseUninstall && strings.HasPrefix(res.message, "waiting for another execution") {
		op.Phase = phaseHalt // something started meanwhile: stop it first
	}
	return res, err
}

// deleteDeployment asks the manager to delete the deployment.
func (e *Engine) deleteDeployment(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	err := e.Cloudify.DeleteDeployment(ctx, op.DeploymentID, cloudify.DeleteDeploymentOptions{DeleteLogs: true})
	switch {
	case err == nil:
		log.InfoContext(ctx, "deployment delete started")
		op.Phase = phaseDeleting
		return next(e.Backoff.Short(), fmt.Sprintf("deleting deployment %s", op.DeploymentID)), nil
	case cloudify.IsNotFound(err):
		return gone(op), nil
	case cloudify.IsDependentExists(err) && strings.Contains(strings.ToLower(cloudifyMessage(err)), "execution"):
		// Something runs (an earlier delete, or a new execution): look again.
		op.Phase = phaseDeleting
		return next(e.Backoff.Short(), ""), nil
	case retryable(err):
		return outcome{}, err
	default:
		return fail(fmt.Sprintf("Cloudify refused to delete deployment %s: %s", op.DeploymentID, cloudifyMessage(err))), nil
	}
}

// waitDeleted polls the deployment until the manager answers 404; a failed
// delete_deployment_environment fails the operation.
func (e *Engine) waitDeleted(ctx context.Context, op *broker.Operation) (outcome, error) {
	if _, err := e.Cloudify.GetDeployment(ctx, op.DeploymentID, "id"); err != nil {
		if cloudify.IsNotFound(err) {
			return gone(op), nil
		}
		return outcome{}, err
	}
	exec, ok, err := e.latestExecution(ctx, op.DeploymentID, "delete_deployment_environment")
	if err != nil {
		return outcome{}, err
	}
	switch {
	case !ok:
		// No delete running (4.x removes the row at once, or the delete was refused
		// because something ran): ask again.
		op.Phase = phaseHalt
		return next(e.Backoff.Short(), ""), nil
	case exec.Status == cloudify.Failed:
		return fail(fmt.Sprintf("deleting deployment %s failed: %s", op.DeploymentID, summary(exec))), nil
	case exec.Status.Terminal():
		// Ended but the row is still there: an earlier delete attempt; start over.
		op.Phase = phaseHalt
		return next(e.Backoff.Short(), ""), nil
	}
	return next(e.Backoff.Short(), ""), nil
}
