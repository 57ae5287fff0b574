package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Provision phases.
const (
	phaseCreate     = ""           // create the deployment
	phaseEnv        = "env"        // wait for create_deployment_environment
	phaseInstall    = "install"    // start install
	phaseInstalling = "installing" // wait for install
)

func (e *Engine) provision(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	if op.SupersededBy != "" {
		return fail("provision halted by a deprovision request"), nil
	}
	switch op.Phase {
	case phaseCreate:
		return e.createDeployment(ctx, op, log)
	case phaseEnv:
		return e.waitEnvironment(ctx, op)
	case phaseInstall:
		return e.startWorkflow(ctx, op, "install", phaseInstalling, true, log)
	case phaseInstalling:
		return e.waitWorkflow(ctx, op, "install", func() outcome {
			return succeed(fmt.Sprintf("deployment %s installed", op.DeploymentID))
		})
	}
	return fail(fmt.Sprintf("unknown provision phase %q", op.Phase)), nil
}

// createDeployment creates the deployment, or adopts it when an earlier attempt of this
// step created it (same instance label) before its result was recorded.
func (e *Engine) createDeployment(ctx context.Context, op *broker.Operation, log *slog.Logger) (outcome, error) {
	inputs, err := e.openMap(op.Inputs)
	if err != nil {
		return outcome{}, err
	}
	labels := make([]cloudify.Label, 0, len(op.Labels))
	for _, k := range []string{broker.LabelInstanceID, broker.LabelServiceID, broker.LabelPlanID} {
		if v, ok := op.Labels[k]; ok {
			labels = append(labels, cloudify.Label{Key: k, Value: v})
		}
	}
	dep, err := e.Cloudify.CreateDeployment(ctx, op.DeploymentID, cloudify.CreateDeploymentRequest{
		BlueprintID: op.BlueprintID,
		Inputs:      inputs,
		Visibility:  "tenant",
		Labels:      labels,
		AsyncCreate: true,
	})
	switch {
	case err == nil:
		log.InfoContext(ctx, "deployment created", "blueprint_id", op.BlueprintID, "execution_id", dep.CreateExecution)
	case cloudify.IsConflict(err):
		existing, gerr := e.Cloudify.GetDeployment(ctx, op.DeploymentID)
		if gerr != nil {
			return outcome{}, fmt.Errorf("read existing deployment: %w", gerr)
		}
		if v, ok := existing.Label(broker.LabelInstanceID); ok && v != op.InstanceID || !ok && len(existing.Labels) > 0 {
			return fail(fmt.Sprintf("deployment %s already exists on the manager and belongs to something else", op.DeploymentID)), nil
		}
		log.InfoContext(ctx, "deployment already exists; adopting it", "blueprint_id", existing.BlueprintID)
		dep = existing
	case retryable(err):
		return outcome{}, err
	case cloudify.IsNotFound(err):
		return fail(fmt.Sprintf("blueprint %s is not on the manager", op.BlueprintID)), nil
	default:
		// Input errors (missing, unknown, constraint), creation errors: the user's to fix.
		return fail("Cloudify refused the deployment: " + cloudifyMessage(err)), nil
	}
	op.Phase = phaseEnv
	op.ExecutionID = dep.CreateExecution
	return next(e.Backoff.Short(), fmt.Sprintf("creating the environment of deployment %s", op.DeploymentID)), nil
}

// waitEnvironment waits for create_deployment_environment to end.
func (e *Engine) waitEnvironment(ctx context.Context, op *broker.Operation) (outcome, error) {
	exec, found, err := e.environmentExecution(ctx, op)
	if err != nil {
		return outcome{}, err
	}
	if !found {
		// Managers before 6.0 do not name it on the deployment; starting install tells
		// us whether the environment is ready.
		op.Phase = phaseInstall
		return next(0, ""), nil
	}
	switch {
	case exec.Status.Succeeded():
		op.Phase = phaseInstall
		return next(0, fmt.Sprintf("installing deployment %s", op.DeploymentID)), nil
	case exec.Status.Terminal():
		return fail(fmt.Sprintf("creating deployment %s failed: %s", op.DeploymentID, summary(exec))), nil
	}
	return next(e.Backoff.Short(), ""), nil
}

// environmentExecution finds the deployment's create_deployment_environment execution.
func (e *Engine) environmentExecution(ctx context.Context, op *broker.Operation) (cloudify.Execution, bool, error) {
	if op.ExecutionID != "" {
		exec, err := e.Cloudify.GetExecution(ctx, op.ExecutionID)
		if err == nil || !cloudify.IsNotFound(err) {
			return exec, err == nil, err
		}
	}
	list, err := e.Cloudify.ListExecutions(ctx, cloudify.ListOptions{
		Filters: map[string][]string{"deployment_id": {op.DeploymentID}, "workflow_id": {"create_deployment_environment"}},
		Sort:    []string{"-created_at"}, Limit: 1, PageSize: 1,
	})
	if err != nil {
		return cloudify.Execution{}, false, err
	}
	if len(list) == 0 {
		return cloudify.Execution{}, false, nil
	}
	op.ExecutionID = list[0].ID
	return list[0], true, nil
}

// clockSkew is how far the manager's clock may be behind the broker's when deciding
// whether an execution was started by this operation.
const clockSkew = time.Minute

// startWorkflow starts a workflow on the operation's deployment, or adopts the run of it
// that an earlier attempt of this step started: any run still going, any run at all
// when adoptAny (the deployment is the operation's own, as in a provision), else a
// finished run created after the operation began.
func (e *Engine) startWorkflow(ctx context.Context, op *broker.Operation, workflow, waitPhase string, adoptAny bool, log *slog.Logger) (outcome, error) {
	if exec, ok, err := e.latestExecution(ctx, op.DeploymentID, workflow); err != nil {
		return outcome{}, err
	} else if ok && (adoptAny || exec.Status.Active() || exec.Status.Waiting() || !exec.CreatedAt.Before(op.CreatedAt.Add(-clockSkew))) {
		log.InfoContext(ctx, "adopting a run of the workflow", "workflow_id", workflow, "execution_id", exec.ID, "status", string(exec.Status))
		op.ExecutionID, op.Phase = exec.ID, waitPhase
		return next(0, ""), nil
	}
	exec, err := e.Cloudify.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: op.DeploymentID, WorkflowID: workflow})
	switch {
	case err == nil:
	case cloudify.IsEnvNotReady(err):
		return next(e.Backoff.Short(), fmt.Sprintf("waiting for the environment of deployment %s", op.DeploymentID)), nil
	case cloudify.IsRunningExecution(err):
		return next(e.Backoff.Short(), fmt.Sprintf("waiting for another execution on deployment %s to end", op.DeploymentID)), nil
	case cloudify.IsUnavailableWorkflow(err) && workflow == "install":
		// 6.4+: every node instance is started already.
		return succeed(fmt.Sprintf("deployment %s installed", op.DeploymentID)), nil
	case cloudify.IsUnavailableWorkflow(err) && workflow == "uninstall":
		// 6.4+: no node instance is live: nothing to uninstall.
		op.Phase = phaseDelete
		return next(0, ""), nil
	case retryable(err):
		return outcome{}, err
	case cloudify.IsDeploymentCreation(err):
		return fail(fmt.Sprintf("creating deployment %s failed: %s", op.DeploymentID, cloudifyMessage(err))), nil
	default:
		return fail(fmt.Sprintf("Cloudify refused to start %s: %s", workflow, cloudifyMessage(err))), nil
	}
	log.InfoContext(ctx, "workflow started", "workflow_id", workflow, "execution_id", exec.ID)
	op.ExecutionID, op.Phase = exec.ID, waitPhase
	return next(e.Backoff.Short(), fmt.Sprintf("%s of deployment %s is running", workflow, op.DeploymentID)), nil
}

// waitWorkflow follows the operation's execution to its end.
func (e *Engine) waitWorkflow(ctx context.Context, op *broker.Operation, workflow string, onSuccess func() outcome) (outcome, error) {
	exec, err := e.Cloudify.GetExecution(ctx, op.ExecutionID)
	if err != nil {
		if cloudify.IsNotFound(err) {
			return fail(fmt.Sprintf("the %s execution %s disappeared from the manager", workflow, op.ExecutionID)), nil
		}
		return outcome{}, err
	}
	switch {
	case exec.Status.Succeeded():
		op.CloudifyEndedAt = exec.EndedAt.Time
		return onSuccess(), nil
	case exec.Status == cloudify.Cancelled:
		op.CloudifyEndedAt = exec.EndedAt.Time
		return fail(fmt.Sprintf("%s of deployment %s was cancelled on the manager", workflow, op.DeploymentID)), nil
	case exec.Status.Terminal():
		op.CloudifyEndedAt = exec.EndedAt.Time
		return fail(fmt.Sprintf("%s of deployment %s failed: %s", workflow, op.DeploymentID, summary(exec))), nil
	}
	return next(e.Backoff.Next(e.now().Sub(op.CreatedAt), &exec), progress(workflow, op.DeploymentID, exec)), nil
}

// latestExecution returns the newest run of a workflow on a deployment.
func (e *Engine) latestExecution(ctx context.Context, deploymentID, workflow string) (cloudify.Execution, bool, error) {
	list, err := e.Cloudify.ListExecutions(ctx, cloudify.ListOptions{
		Filters: map[string][]string{"deployment_id": {deploymentID}, "workflow_id": {workflow}},
		Sort:    []string{"-created_at"}, Limit: 1, PageSize: 1,
	})
	if err != nil {
		if cloudify.IsNotFound(err) {
			return cloudify.Execution{}, false, nil
		}
		return cloudify.Execution{}, false, err
	}
	if len(list) == 0 {
		return cloudify.Execution{}, false, nil
	}
	return list[0], true, nil
}

// summary is an execution's error for the platform: its last line, trimmed.
func summary(exec cloudify.Execution) string {
	if s := exec.ErrorSummary(); s != "" {
		return trim(s)
	}
	return "the execution ended " + string(exec.Status) + " without an error message"
}

func progress(workflow, deploymentID string, exec cloudify.Execution) string {
	if exec.TotalOperations > 0 {
		return fmt.Sprintf("%s of deployment %s is %s (%d of %d operations done)", workflow, deploymentID, exec.Status, exec.FinishedOperations, exec.TotalOperations)
	}
	return fmt.Sprintf("%s of deployment %s is %s", workflow, deploymentID, exec.Status)
}
