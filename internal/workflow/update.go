package workflow

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Update phases.
const (
	phaseUpdate   = ""         // initiate the deployment update
	phaseUpdating = "updating" // follow it
)

func (e *Engine) update(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	switch op.Phase {
	case phaseUpdate:
		return e.startUpdate(ctx, op, log)
	case phaseUpdating:
		return e.waitUpdate(ctx, op)
	}
	return fail(fmt.Sprintf("unknown update phase %q", op.Phase)), nil
}

func updateDone(state string) bool {
	return state == cloudify.UpdateSuccessful || state == cloudify.UpdateFailed || state == "preview"
}

// startUpdate initiates the deployment update, or adopts one still running (started by
// an earlier attempt of this step whose result was not recorded).
func (e *Engine) startUpdate(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	list, err := e.Cloudify.ListDeploymentUpdates(ctx, cloudify.ListOptions{
		Filters: map[string][]string{"deployment_id": {op.DeploymentID}},
		Sort:    []string{"-created_at"}, Limit: 1, PageSize: 1,
	})
	if err != nil && !cloudify.IsNotFound(err) {
		return outcome{}, err
	}
	if len(list) == 1 && !updateDone(list[0].State) {
		log.InfoContext(ctx, "adopting a running deployment update", "update_id", list[0].ID, "execution_id", list[0].ExecutionID)
		op.UpdateID, op.ExecutionID, op.Phase = list[0].ID, list[0].ExecutionID, phaseUpdating
		return next(e.Backoff.Short(), ""), nil
	}
	inputs, err := e.openMap(op.Inputs)
	if err != nil {
		return outcome{}, err
	}
	upd, err := e.Cloudify.UpdateDeployment(ctx, op.DeploymentID, cloudify.UpdateDeploymentRequest{
		BlueprintID: op.BlueprintID,
		Inputs:      inputs,
	})
	switch {
	case err == nil:
	case cloudify.IsRunningExecution(err) || cloudify.IsConflict(err) || cloudify.IsEnvNotReady(err):
		return next(e.Backoff.Short(), fmt.Sprintf("waiting for deployment %s to be free", op.DeploymentID)), nil
	case retryable(err):
		return outcome{}, err
	case cloudify.IsNotFound(err):
		return fail(fmt.Sprintf("the update refers to something missing on the manager: %s", cloudifyMessage(err))), nil
	default:
		return fail("Cloudify refused the update: " + cloudifyMessage(err)), nil
	}
	log.InfoContext(ctx, "deployment update started", "update_id", upd.ID, "execution_id", upd.ExecutionID, "blueprint_id", op.BlueprintID)
	op.UpdateID, op.ExecutionID, op.Phase = upd.ID, upd.ExecutionID, phaseUpdating
	return next(e.Backoff.Short(), fmt.Sprintf("updating deployment %s", op.DeploymentID)), nil
}

// waitUpdate follows the update's execution, then confirms the update's state.
func (e *Engine) waitUpdate(ctx context.Context, op *broker.Operation) (outcome, error) {
	if op.ExecutionID != "" {
		exec, err := e.Cloudify.GetExecution(ctx, op.ExecutionID)
		if err != nil && !cloudify.IsNotFound(err) {
			return outcome{}, err
		}
		if err == nil && !exec.Status.Terminal() {
			return next(e.Backoff.Next(e.now().Sub(op.CreatedAt), &exec), progress("update", op.DeploymentID, exec)), nil
		}
		if err == nil {
			op.CloudifyEndedAt = exec.EndedAt.Time
			if !exec.Status.Succeeded() {
				return fail(fmt.Sprintf("update of deployment %s failed: %s", op.DeploymentID, summary(exec))), nil
			}
		}
	}
	upd, err := e.Cloudify.GetDeploymentUpdate(ctx, op.UpdateID)
	if err != nil {
		if cloudify.IsNotFound(err) {
			return fail(fmt.Sprintf("deployment update %s disappeared from the manager", op.UpdateID)), nil
		}
		return outcome{}, err
	}
	switch upd.State {
	case cloudify.UpdateSuccessful:
		return succeed(fmt.Sprintf("deployment %s updated", op.DeploymentID)), nil
	case cloudify.UpdateFailed:
		return fail(fmt.Sprintf("update of deployment %s failed", op.DeploymentID)), nil
	}
	return next(e.Backoff.Next(e.now().Sub(op.CreatedAt), nil), ""), nil
}
