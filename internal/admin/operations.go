package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// AbandonedDescription is the description of an operation an operator abandoned.
const AbandonedDescription = "abandoned by an operator"

// OperationView is an operation as operators see it, without its sealed inputs and
// parameters.
type OperationView struct {
	ID                 string                `json:"id"`
	Type               broker.OperationType  `json:"type"`
	InstanceID         string                `json:"instance_id"`
	BindingID          string                `json:"binding_id,omitempty"`
	State              broker.OperationState `json:"state"`
	Description        string                `json:"description"`
	Phase              string                `json:"phase"`
	DeploymentID       string                `json:"deployment_id"`
	BlueprintID        string                `json:"blueprint_id,omitempty"`
	ServiceID          string                `json:"service_id,omitempty"`
	PlanID             string                `json:"plan_id,omitempty"`
	MaintenanceVersion string                `json:"maintenance_version,omitempty"`
	ExecutionID        string                `json:"execution_id,omitempty"`
	UpdateID           string                `json:"update_id,omitempty"`
	SupersededBy       string                `json:"superseded_by,omitempty"`
	Halts              string                `json:"halts,omitempty"`
	Steps              int                   `json:"steps"`
	Retries            int                   `json:"retries"`
	CreatedAt          time.Time             `json:"created_at"`
	UpdatedAt          time.Time             `json:"updated_at"`
	NextCheck          time.Time             `json:"next_check,omitzero"`
	Deadline           time.Time             `json:"deadline,omitzero"`
	EndedAt            time.Time             `json:"ended_at,omitzero"`
	// Overdue is true for an operation in progress whose next check is past (by more
	// than a few seconds when the view was made): nothing is driving it.
	Overdue bool `json:"overdue,omitempty"`
}

// overdueSlack is how late a next check may be before a view calls it overdue.
const overdueSlack = 30 * time.Second

func operationView(op broker.Operation, now time.Time) OperationView {
	return OperationView{
		ID: op.ID, Type: op.Type, InstanceID: op.InstanceID, BindingID: op.BindingID, State: op.State, Description: op.Description,
		Phase: op.Phase, DeploymentID: op.DeploymentID, BlueprintID: op.BlueprintID, ServiceID: op.ServiceID,
		PlanID: op.PlanID, MaintenanceVersion: op.MaintenanceVersion, ExecutionID: op.ExecutionID, UpdateID: op.UpdateID,
		SupersededBy: op.SupersededBy, Halts: op.Halts, Steps: op.Steps, Retries: op.Retries,
		CreatedAt: op.CreatedAt, UpdatedAt: op.UpdatedAt, NextCheck: op.NextCheck, Deadline: op.Deadline, EndedAt: op.EndedAt,
		Overdue: !op.Done() && !op.NextCheck.IsZero() && op.NextCheck.Add(overdueSlack).Before(now),
	}
}

// OperationFilter selects operations.
type OperationFilter struct {
	// FailedSince adds the failed operations that are still their instance's last one
	// and ended within this duration; 0 lists operations in progress only.
	FailedSince time.Duration `json:"failed_since,omitempty"`
}

// Operations lists the operations in progress (oldest first), then the recent failed
// ones (newest first) as the filter says.
func (s *Service) Operations(ctx context.Context, f OperationFilter) ([]OperationView, error) {
	now := s.now()
	active, err := s.store.ActiveOperations(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list operations: %w", err)
	}
	out := make([]OperationView, 0, len(active))
	for _, op := range active {
		out = append(out, operationView(op, now))
	}
	if f.FailedSince <= 0 {
		return out, nil
	}
	cutoff := now.Add(-f.FailedSince)
	var failed []OperationView
	err = s.eachInstance(ctx, func(in broker.Instance) error {
		if in.OperationState != broker.StateFailed || in.UpdatedAt.Before(cutoff) {
			return nil
		}
		op, err := s.store.GetOperation(ctx, in.OperationID)
		if errors.Is(err, broker.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("admin: read operation %s: %w", in.OperationID, err)
		}
		if op.State == broker.StateFailed && !op.EndedAt.Before(cutoff) {
			failed = append(failed, operationView(op, now))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(failed, func(i, j int) bool { return failed[i].EndedAt.After(failed[j].EndedAt) })
	return append(out, failed...), nil
}

// Retry actions.
const (
	// ActionStepped: one step of the operation ran now.
	ActionStepped = "stepped"
	// ActionRescheduled: the operation was handed to the driver to run now.
	ActionRescheduled = "rescheduled"
	// ActionRestarted: a new operation of the same kind replaced the failed one.
	ActionRestarted = "restarted"
)

// RetryResult says what a retry did.
type RetryResult struct {
	// Action is ActionStepped, ActionRescheduled or ActionRestarted.
	Action string `json:"action"`
	// Retried is the id of the operation asked for.
	Retried string `json:"retried"`
	// Operation is the operation after the retry: the same one, or the new one.
	Operation OperationView `json:"operation"`
	// Message tells the operator what happens next.
	Message string `json:"message"`
}

// RetryOperation retries an operation.
//
// An operation in progress is moved now: one step runs at once when the Service has a
// Stepper, else Wake is asked to run it now.
//
// A failed operation that is still its instance's last operation is replaced by a new
// operation of the same kind and target, recorded and handed to the Driver:
//
//   - a failed deprovision (instance failed): a new deprovision; the platform's next
//     delete then finds the instance gone or going;
//   - a failed update (instance ready): the same update again (same plan, blueprint,
//     maintenance version, inputs and parameters);
//   - a failed provision (instance failed): a new provision with the recorded inputs,
//     only when the deployment is not on the manager: a provision adopts the runs it
//     finds on its deployment, so it would adopt the failed install again. Otherwise
//     the instance is the platform's to deprovision.
//
// Errors: ENotFound, EConflict when the state does not allow a retry (the message says
// why), EUnavailable when what is needed (driver, manager) is missing or fails.
func (s *Service) RetryOperation(ctx context.Context, id string) (RetryResult, error) {
	op, err := s.operation(ctx, id)
	if err != nil {
		return RetryResult{}, err
	}
	switch op.State {
	case broker.StateInProgress:
		return s.nudge(ctx, op)
	case broker.StateFailed:
		return s.restart(ctx, op)
	}
	return RetryResult{}, Errorf(EConflict, "operation %s succeeded; there is nothing to retry", id)
}

func (s *Service) operation(ctx context.Context, id string) (broker.Operation, error) {
	op, err := s.store.GetOperation(ctx, id)
	if errors.Is(err, broker.ErrNotFound) {
		return broker.Operation{}, Errorf(ENotFound, "no operation %s", id)
	}
	if err != nil {
		return broker.Operation{}, fmt.Errorf("admin: read operation: %w", err)
	}
	return op, nil
}

// nudge runs one step of an operation in progress now, or hands it to the driver.
func (s *Service) nudge(ctx context.Context, op broker.Operation) (RetryResult, error) {
	res := RetryResult{Retried: op.ID}
	switch {
	case s.cfg.Stepper != nil:
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if _, err = s.cfg.Stepper.Step(ctx, op.ID); err == nil || !errors.Is(err, broker.ErrConflict) {
				break
			}
		}
		if err != nil {
			return RetryResult{}, &Error{Code: EUnavailable, Message: fmt.Sprintf("the step of operation %s failed: %v; the driver retries it", op.ID, err), Err: err}
		}
		res.Action = ActionStepped
		res.Message = "one step ran now"
	case s.cfg.Wake != nil:
		if err := s.cfg.Wake.Start(ctx, op); err != nil {
			return RetryResult{}, &Error{Code: EUnavailable, Message: fmt.Sprintf("the workflow driver did not take operation %s: %v", op.ID, err), Err: err}
		}
		res.Action = ActionRescheduled
		res.Message = "the workflow driver runs its next step now"
	default:
		return RetryResult{}, Errorf(EUnavailable, "nothing here can run operation %s now: with --url the broker runs it; on a data directory or a table the CLI needs CLOUDIFY_URL (and on a table SEAL_KEY_SECRET_ARN) to run its step", op.ID)
	}
	again, err := s.operation(ctx, op.ID)
	if err != nil {
		return RetryResult{}, err
	}
	res.Operation = operationView(again, s.now())
	s.cfg.Logger.InfoContext(ctx, "operation retried by an operator", "operation_id", op.ID, "instance_id", op.InstanceID,
		"deployment_id", op.DeploymentID, "action", res.Action, "state", string(again.State))
	return res, nil
}

// restart replaces a failed operation by a new one of the same kind (see RetryOperation).
func (s *Service) restart(ctx context.Context, op broker.Operation) (RetryResult, error) {
	switch op.Type {
	case broker.OpBind:
		return RetryResult{}, Errorf(EConflict, "bind %s of binding %s failed; the platform unbinds it (or binds again after a cleaned-up failure): a bind is not retried by an operator", op.ID, op.BindingID)
	case broker.OpUnbind:
		return s.restartUnbind(ctx, op)
	}
	inst, err := s.store.GetInstance(ctx, op.InstanceID)
	if errors.Is(err, broker.ErrNotFound) {
		return RetryResult{}, Errorf(EConflict, "the instance %s of operation %s does not exist any more", op.InstanceID, op.ID)
	}
	if err != nil {
		return RetryResult{}, fmt.Errorf("admin: read instance: %w", err)
	}
	if inst.OperationID != op.ID {
		return RetryResult{}, Errorf(EConflict, "instance %s has had operation %s since; only an instance's last operation can be retried", inst.ID, inst.OperationID)
	}
	if inst.Busy() {
		return RetryResult{}, Errorf(EConflict, "instance %s is busy with operation %s", inst.ID, inst.OperationID)
	}
	now := s.now()
	budget := op.Deadline.Sub(op.CreatedAt)
	if budget <= 0 {
		budget = 2 * time.Hour
	}
	next := broker.Operation{
		ID: string(op.Type) + "-" + s.cfg.NewID(), Type: op.Type, InstanceID: op.InstanceID, State: broker.StateInProgress,
		DeploymentID: op.DeploymentID, BlueprintID: op.BlueprintID, ServiceID: op.ServiceID, PlanID: op.PlanID,
		PreviousPlanID: op.PreviousPlanID, MaintenanceVersion: op.MaintenanceVersion, Inputs: op.Inputs,
		Parameters: op.Parameters, Fingerprint: op.Fingerprint, Labels: op.Labels,
		Deadline: now.Add(budget), NextCheck: now, Identity: "operator", CreatedAt: now, UpdatedAt: now,
	}
	switch op.Type {
	case broker.OpProvision:
		if inst.State != broker.InstanceFailed {
			return RetryResult{}, Errorf(EConflict, "instance %s is %s; a provision is retried only on a failed instance", inst.ID, inst.State)
		}
		if err := s.checkNoDeployment(ctx, op.DeploymentID); err != nil {
			return RetryResult{}, err
		}
		inst.State = broker.InstanceProvisioning
		next.Description = "creating deployment " + op.DeploymentID + " (retry of " + op.ID + ")"
	case broker.OpUpdate:
		if inst.State != broker.InstanceReady {
			return RetryResult{}, Errorf(EConflict, "instance %s is %s; an update is retried only on a ready instance", inst.ID, inst.State)
		}
		next.Description = "updating deployment " + op.DeploymentID + " (retry of " + op.ID + ")"
	case broker.OpDeprovision:
		if inst.State != broker.InstanceFailed {
			return RetryResult{}, Errorf(EConflict, "instance %s is %s; a deprovision is retried only on a failed instance", inst.ID, inst.State)
		}
		inst.State = broker.InstanceDeprovisioning
		next.Description = "deleting deployment " + op.DeploymentID + " (retry of " + op.ID + ")"
	default:
		return RetryResult{}, Errorf(EConflict, "operation %s is of an unknown type %q", op.ID, op.Type)
	}
	inst.OperationID, inst.OperationType, inst.OperationState = next.ID, next.Type, broker.StateInProgress
	inst.UpdatedAt = now
	if err := s.store.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&inst}, Operations: []*broker.Operation{&next}}); err != nil {
		if errors.Is(err, broker.ErrConflict) {
			return RetryResult{}, Errorf(EConflict, "instance %s changed meanwhile; look at it again", inst.ID)
		}
		return RetryResult{}, fmt.Errorf("admin: record retry: %w", err)
	}
	s.cfg.Logger.InfoContext(ctx, "operation restarted by an operator", "operation_id", next.ID, "retried", op.ID,
		"instance_id", inst.ID, "deployment_id", next.DeploymentID, "operation_type", string(next.Type))
	return s.restarted(ctx, op, next, now), nil
}

// restartUnbind replaces a failed unbind that is still its binding's last operation by
// a new one: the same workflow, parameters and secret.
func (s *Service) restartUnbind(ctx context.Context, op broker.Operation) (RetryResult, error) {
	b, err := s.store.GetBinding(ctx, op.InstanceID, op.BindingID)
	if errors.Is(err, broker.ErrNotFound) {
		return RetryResult{}, Errorf(EConflict, "binding %s of operation %s does not exist any more", op.BindingID, op.ID)
	}
	if err != nil {
		return RetryResult{}, fmt.Errorf("admin: read binding: %w", err)
	}
	if b.OperationID != op.ID || b.Busy() {
		return RetryResult{}, Errorf(EConflict, "binding %s has had operation %s since; only a binding's last operation can be retried", b.ID, b.OperationID)
	}
	now := s.now()
	budget := op.Deadline.Sub(op.CreatedAt)
	if budget <= 0 {
		budget = 2 * time.Hour
	}
	next := broker.Operation{
		ID: string(op.Type) + "-" + s.cfg.NewID(), Type: op.Type, InstanceID: op.InstanceID, BindingID: op.BindingID,
		State: broker.StateInProgress, DeploymentID: op.DeploymentID, ServiceID: op.ServiceID, PlanID: op.PlanID,
		Workflow: op.Workflow, SecretKey: op.SecretKey, Inputs: op.Inputs,
		Description: "revoking the credentials of binding " + op.BindingID + " (retry of " + op.ID + ")",
		Deadline:    now.Add(budget), NextCheck: now, Identity: "operator", CreatedAt: now, UpdatedAt: now,
	}
	b.State = broker.BindingUnbinding
	b.OperationID, b.OperationType, b.OperationState = next.ID, next.Type, broker.StateInProgress
	if err := s.store.Commit(ctx, broker.Tx{Bindings: []*broker.Binding{&b}, Operations: []*broker.Operation{&next}}); err != nil {
		if errors.Is(err, broker.ErrConflict) {
			return RetryResult{}, Errorf(EConflict, "binding %s changed meanwhile; look at it again", b.ID)
		}
		return RetryResult{}, fmt.Errorf("admin: record retry: %w", err)
	}
	s.cfg.Logger.InfoContext(ctx, "operation restarted by an operator", "operation_id", next.ID, "retried", op.ID,
		"instance_id", op.InstanceID, "binding_id", op.BindingID, "operation_type", string(next.Type))
	return s.restarted(ctx, op, next, now), nil
}

// restarted hands a recorded restart to the driver and says what happens next.
func (s *Service) restarted(ctx context.Context, op, next broker.Operation, now time.Time) RetryResult {
	res := RetryResult{Action: ActionRestarted, Retried: op.ID, Operation: operationView(next, now)}
	res.Message = fmt.Sprintf("operation %s is recorded; the workflow driver picks it up when it next sweeps (the embedded broker at its start)", next.ID)
	if s.cfg.Driver != nil {
		if err := s.cfg.Driver.Start(ctx, next); err != nil {
			res.Message = fmt.Sprintf("operation %s is recorded but the driver did not take it now (%v); its sweep picks it up", next.ID, err)
		} else {
			res.Message = fmt.Sprintf("operation %s is running", next.ID)
		}
	}
	return res
}

// checkNoDeployment refuses a provision retry when the deployment is on the manager.
func (s *Service) checkNoDeployment(ctx context.Context, deploymentID string) error {
	mgr, err := s.manager("retrying a provision")
	if err != nil {
		return err
	}
	_, err = mgr.GetDeployment(ctx, deploymentID, "id")
	switch {
	case cloudify.IsNotFound(err):
		return nil
	case err != nil:
		return managerError("retrying a provision", err)
	}
	return Errorf(EConflict, "deployment %s is on the manager from the failed provision, and a new provision would adopt what the failed attempt ran there; "+
		"have the platform deprovision the instance, or delete the deployment on the manager and retry", deploymentID)
}

// AbandonOperation ends an operation in progress as failed, with the description
// "abandoned by an operator" (and the reason, if any). Its instance follows the rules of
// a failed operation: a failed provision or deprovision leaves it failed, a failed update
// leaves it ready. What runs on the manager is left as it is.
//
// Errors: ENotFound, EConflict for an operation that has ended.
func (s *Service) AbandonOperation(ctx context.Context, id, reason string) (OperationView, error) {
	op, err := s.operation(ctx, id)
	if err != nil {
		return OperationView{}, err
	}
	if op.Done() {
		return OperationView{}, Errorf(EConflict, "operation %s has already ended (%s)", id, op.State)
	}
	desc := AbandonedDescription
	if reason != "" {
		desc += ": " + reason
	}
	if err := s.cfg.Failer.Fail(ctx, id, desc); err != nil {
		if errors.Is(err, broker.ErrNotFound) {
			return OperationView{}, Errorf(ENotFound, "no operation %s", id)
		}
		return OperationView{}, fmt.Errorf("admin: abandon %s: %w", id, err)
	}
	op, err = s.operation(ctx, id)
	if err != nil {
		return OperationView{}, err
	}
	if op.Description != desc {
		return OperationView{}, Errorf(EConflict, "operation %s ended by itself meanwhile (%s: %s)", id, op.State, op.Description)
	}
	s.cfg.Logger.InfoContext(ctx, "operation abandoned by an operator", "operation_id", op.ID, "instance_id", op.InstanceID,
		"deployment_id", op.DeploymentID, "execution_id", op.ExecutionID, "reason", reason)
	return operationView(op, s.now()), nil
}
