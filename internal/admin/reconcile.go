package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Kinds of Finding.
const (
	// FindingDeploymentMissing: a ready instance whose deployment is not on the manager
	// (deleted by hand). Repair: the instance is marked failed, so that the platform can
	// only deprovision it (which then succeeds at once).
	FindingDeploymentMissing = "deployment_missing"
	// FindingExecutionLost: an operation in progress (of an instance, or a bind or
	// unbind) follows an execution the manager does not know. Repair: the operation's
	// step runs now, and the engine settles it (an install that vanished fails the
	// operation, a finished create moves on, a bind whose run vanished cleans up).
	FindingExecutionLost = "execution_lost"
	// FindingStalled: an operation in progress (of an instance, or a bind or unbind)
	// whose next check is long past: nothing drives it. Repair: its step runs now.
	FindingStalled = "stalled"
	// FindingOrphan: a deployment labelled osb-instance-id for an instance the broker
	// does not have (or has deprovisioned). Repair, with DeleteOrphans only: delete it,
	// uninstalling it first when nodes are live.
	FindingOrphan = "orphan"
	// FindingBindingSecretMissing: a ready binding with credentials of its own whose
	// secret is not on the manager (deleted by hand): its credentials can no longer be
	// fetched. Repair: none; the platform must unbind it and bind again.
	FindingBindingSecretMissing = "binding_secret_missing"
	// FindingOrphanSecret: a secret named as a binding secret of an instance the broker
	// knows (deprovisioned ones included), which no binding of the instance claims.
	// Repair, with DeleteOrphans only: delete it.
	FindingOrphanSecret = "orphan_secret"
	// FindingError: reconcile could not check something; Error says what.
	FindingError = "error"
)

// ReconcileRequest tunes Reconcile.
type ReconcileRequest struct {
	// DeleteOrphans deletes orphan deployments and orphan binding secrets instead of
	// only reporting them.
	DeleteOrphans bool `json:"delete_orphans,omitempty"`
	// DryRun reports what would be done and changes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// Finding is one thing reconcile found.
type Finding struct {
	Kind         string `json:"kind"`
	InstanceID   string `json:"instance_id,omitempty"`
	BindingID    string `json:"binding_id,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`
	OperationID  string `json:"operation_id,omitempty"`
	ExecutionID  string `json:"execution_id,omitempty"`
	// SecretKey is the key (never the value) of the binding secret the finding is about.
	SecretKey string `json:"secret_key,omitempty"`
	// Problem says what is wrong.
	Problem string `json:"problem"`
	// Action says what reconcile did, or what is left to the operator.
	Action string `json:"action"`
	// Repaired is true when reconcile changed something.
	Repaired bool `json:"repaired"`
	// Error is set when the check or the repair failed.
	Error string `json:"error,omitempty"`
}

// ReconcileReport is what Reconcile checked, found and did.
type ReconcileReport struct {
	// Instances is the number of instances checked; Bindings the number of their
	// bindings with credentials of their own; Deployments the number of deployments on
	// the manager labelled for an instance; Secrets the number of secrets on the
	// manager named as binding secrets of a deployment the broker knows.
	Instances   int       `json:"instances"`
	Bindings    int       `json:"bindings"`
	Deployments int       `json:"deployments"`
	Secrets     int       `json:"secrets"`
	Findings    []Finding `json:"findings"`
	// Repaired counts findings repaired; Errors findings with an error.
	Repaired int  `json:"repaired"`
	Errors   int  `json:"errors"`
	DryRun   bool `json:"dry_run,omitempty"`
	// Notes say what could not be checked on this manager (not errors).
	Notes []string `json:"notes,omitempty"`
}

func (r *ReconcileReport) add(f Finding) {
	r.Findings = append(r.Findings, f)
	if f.Repaired {
		r.Repaired++
	}
	if f.Error != "" {
		r.Errors++
	}
}

// Reconcile compares the broker's state with the manager's and repairs what it can:
//
//   - a ready instance whose deployment is missing (deleted by hand) is marked failed;
//   - an operation in progress, of an instance or of a binding, whose execution the
//     manager does not know, or whose next check is more than StaleAfter past, has its
//     step run now (Stepper, else Wake);
//   - deployments labelled osb-instance-id for no live instance are reported as orphans,
//     and deleted with req.DeleteOrphans (uninstalled first when nodes are live; a
//     second run then deletes them);
//   - a ready binding with its own credentials whose secret is not on the manager is
//     reported (nothing can make its credentials again);
//   - a binding secret of a deployment the broker knows that no recorded binding claims
//     is reported as an orphan, and deleted with req.DeleteOrphans.
//
// Problems met with one instance, binding, deployment or secret are findings with Error
// set; the run goes on. Errors: EUnavailable without a manager; faults of the store.
func (s *Service) Reconcile(ctx context.Context, req ReconcileRequest) (ReconcileReport, error) {
	mgr, err := s.manager("reconcile")
	if err != nil {
		return ReconcileReport{}, err
	}
	rep := ReconcileReport{Findings: []Finding{}, DryRun: req.DryRun}
	// One listing of the deployments answers "is it there" for every instance; a miss
	// is confirmed with a direct read, since a deployment may be newer than the listing.
	deps, listErr := mgr.ListDeployments(ctx, cloudify.ListOptions{Include: []string{"id", "blueprint_id", "labels"}})
	labels := true
	var apiErr *cloudify.APIError
	if errors.As(listErr, &apiErr) && apiErr.Code == cloudify.CodeNoSuchIncludeField {
		// Managers before deployment labels (5.1) refuse the field: no orphans to find.
		labels = false
		rep.Notes = append(rep.Notes, "this manager has no deployment labels, so orphan deployments are not looked for")
		deps, listErr = mgr.ListDeployments(ctx, cloudify.ListOptions{Include: []string{"id", "blueprint_id"}})
	}
	onManager := map[string]bool{}
	for _, d := range deps {
		onManager[d.ID] = true
	}
	// The secrets are listed before any binding is read (see reconcileSecrets), and
	// without their values.
	secrets, secretsErr := mgr.ListSecrets(ctx, cloudify.ListOptions{Include: []string{"key"}})
	active, err := s.store.ActiveOperations(ctx)
	if err != nil {
		return rep, fmt.Errorf("admin: reconcile: list operations: %w", err)
	}
	known := secretOwners{deployments: map[string]broker.Instance{}, binding: map[string]bool{}}
	err = s.eachInstance(ctx, func(in broker.Instance) error {
		if in.DeploymentID != "" {
			known.deployments[in.DeploymentID] = in
		}
		if in.State == broker.InstanceGone {
			return nil
		}
		rep.Instances++
		if in.State == broker.InstanceReady {
			known.ready = append(known.ready, in)
		}
		if in.Busy() {
			return s.reconcileOperation(ctx, mgr, in.ID, in.OperationID, req, &rep)
		}
		if in.State == broker.InstanceReady && (listErr != nil || !onManager[in.DeploymentID]) {
			return s.reconcileDeployment(ctx, mgr, in, req, &rep)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	// Binding operations never make their instance busy: the store's list finds them.
	for _, op := range active {
		if !op.Type.OnBinding() {
			continue
		}
		if err := s.reconcileOperation(ctx, mgr, op.InstanceID, op.ID, req, &rep); err != nil {
			return rep, err
		}
	}
	switch {
	case listErr != nil:
		rep.add(Finding{Kind: FindingError, Problem: "cannot list the manager's deployments, so orphans are not looked for",
			Action: "none", Error: listErr.Error()})
	case labels:
		for _, d := range deps {
			instanceID, ok := d.Label(broker.LabelInstanceID)
			if !ok {
				continue
			}
			rep.Deployments++
			if err := s.reconcileOrphan(ctx, mgr, d, instanceID, req, &rep); err != nil {
				return rep, err
			}
		}
	}
	if secretsErr != nil {
		rep.add(Finding{Kind: FindingError, Problem: "cannot list the manager's secrets, so binding secrets are not checked",
			Action: "none", Error: secretsErr.Error()})
	} else {
		for _, op := range active {
			if op.Type.OnBinding() {
				known.binding[op.InstanceID] = true
			}
		}
		if err := s.reconcileSecrets(ctx, mgr, secrets, known, req, &rep); err != nil {
			return rep, err
		}
	}
	if rep.Repaired > 0 {
		s.cfg.Logger.InfoContext(ctx, "reconcile repaired broker state", "findings", len(rep.Findings), "repaired", rep.Repaired, "errors", rep.Errors)
	}
	return rep, nil
}

// reconcileDeployment checks that a ready instance's deployment exists.
func (s *Service) reconcileDeployment(ctx context.Context, mgr Manager, in broker.Instance, req ReconcileRequest, rep *ReconcileReport) error {
	_, err := mgr.GetDeployment(ctx, in.DeploymentID, "id")
	switch {
	case err == nil:
		return nil
	case !cloudify.IsNotFound(err):
		rep.add(Finding{Kind: FindingError, InstanceID: in.ID, DeploymentID: in.DeploymentID,
			Problem: "cannot read the instance's deployment", Action: "none", Error: err.Error()})
		return nil
	}
	f := Finding{Kind: FindingDeploymentMissing, InstanceID: in.ID, DeploymentID: in.DeploymentID,
		Problem: fmt.Sprintf("deployment %s of ready instance %s is not on the manager: deployment deleted by hand", in.DeploymentID, in.ID)}
	if req.DryRun {
		f.Action = "would mark the instance failed"
		rep.add(f)
		return nil
	}
	in.State = broker.InstanceFailed
	in.UpdatedAt = s.now()
	err = s.store.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}})
	switch {
	case errors.Is(err, broker.ErrConflict):
		f.Action, f.Error = "none", "the instance changed meanwhile; run reconcile again"
	case err != nil:
		return fmt.Errorf("admin: reconcile %s: %w", in.ID, err)
	default:
		f.Action, f.Repaired = "marked the instance failed (deployment deleted by hand): the platform can only deprovision it", true
		s.cfg.Logger.WarnContext(ctx, "instance marked failed: deployment deleted by hand", "instance_id", in.ID, "deployment_id", in.DeploymentID)
	}
	rep.add(f)
	return nil
}

// reconcileOperation checks the execution of an operation in progress: an instance's,
// or a binding's.
func (s *Service) reconcileOperation(ctx context.Context, mgr Manager, instanceID, opID string, req ReconcileRequest, rep *ReconcileReport) error {
	op, err := s.store.GetOperation(ctx, opID)
	if errors.Is(err, broker.ErrNotFound) {
		rep.add(Finding{Kind: FindingError, InstanceID: instanceID, OperationID: opID,
			Problem: "the operation is not in the store", Action: "none", Error: err.Error()})
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin: reconcile %s: read operation: %w", instanceID, err)
	}
	if op.Done() {
		return nil // it ended between the two reads
	}
	f := Finding{InstanceID: op.InstanceID, BindingID: op.BindingID, DeploymentID: op.DeploymentID, OperationID: op.ID, ExecutionID: op.ExecutionID}
	if op.ExecutionID != "" {
		_, err := mgr.GetExecution(ctx, op.ExecutionID, "id", "status")
		switch {
		case cloudify.IsNotFound(err):
			f.Kind = FindingExecutionLost
			f.Problem = fmt.Sprintf("operation %s (%s, phase %s) follows execution %s, which the manager does not know",
				op.ID, operationWhat(op), phaseOrStart(op.Phase), op.ExecutionID)
		case err != nil:
			rep.add(Finding{Kind: FindingError, InstanceID: op.InstanceID, BindingID: op.BindingID, OperationID: op.ID, ExecutionID: op.ExecutionID,
				Problem: "cannot read the operation's execution", Action: "none", Error: err.Error()})
			return nil
		}
	}
	if f.Kind == "" && op.NextCheck.Before(s.now().Add(-s.cfg.StaleAfter)) {
		f.Kind = FindingStalled
		f.Problem = fmt.Sprintf("operation %s (%s, phase %s) was due for a look at %s: nothing drives it",
			op.ID, operationWhat(op), phaseOrStart(op.Phase), op.NextCheck.Format("2006-01-02T15:04:05Z"))
	}
	if f.Kind == "" {
		return nil
	}
	if req.DryRun {
		f.Action = "would run its step now"
		rep.add(f)
		return nil
	}
	res, err := s.nudge(ctx, op)
	switch {
	case ErrorCode(err) == EUnavailable:
		f.Action, f.Error = "none", err.Error()
	case err != nil:
		return err
	default:
		f.Repaired = true
		f.Action = fmt.Sprintf("%s: the operation is now %s (%s)", res.Message, res.Operation.State, res.Operation.Description)
	}
	rep.add(f)
	return nil
}

// reconcileOrphan checks a labelled deployment against its instance.
func (s *Service) reconcileOrphan(ctx context.Context, mgr Manager, d cloudify.Deployment, instanceID string, req ReconcileRequest, rep *ReconcileReport) error {
	in, err := s.store.GetInstance(ctx, instanceID)
	f := Finding{Kind: FindingOrphan, InstanceID: instanceID, DeploymentID: d.ID}
	switch {
	case errors.Is(err, broker.ErrNotFound):
		f.Problem = fmt.Sprintf("deployment %s is labelled for instance %s, which the broker does not have", d.ID, instanceID)
	case err != nil:
		return fmt.Errorf("admin: reconcile deployment %s: %w", d.ID, err)
	case in.State == broker.InstanceGone:
		f.Problem = fmt.Sprintf("deployment %s is labelled for instance %s, which was deprovisioned", d.ID, instanceID)
	case in.DeploymentID != d.ID:
		f.Problem = fmt.Sprintf("deployment %s is labelled for instance %s, whose deployment is %s", d.ID, instanceID, in.DeploymentID)
	default:
		return nil
	}
	switch {
	case !req.DeleteOrphans:
		f.Action = "left alone: run reconcile --delete-orphans to delete it"
	case req.DryRun:
		f.Action = "would delete it"
	default:
		s.deleteOrphan(ctx, mgr, d.ID, &f)
	}
	rep.add(f)
	return nil
}

// deleteOrphan deletes an orphan deployment, or uninstalls it when nodes are live.
func (s *Service) deleteOrphan(ctx context.Context, mgr Manager, id string, f *Finding) {
	active, err := mgr.ListExecutions(ctx, cloudify.ListOptions{Filters: map[string][]string{
		"deployment_id": {id},
		"status":        {string(cloudify.Pending), string(cloudify.Started), string(cloudify.Queued), string(cloudify.Scheduled), string(cloudify.Cancelling), string(cloudify.ForceCancelling), string(cloudify.KillCancelling)},
	}})
	if err != nil {
		f.Action, f.Error = "none", err.Error()
		return
	}
	if len(active) > 0 {
		f.Action = fmt.Sprintf("not deleted yet: execution %s (%s) runs on it; run reconcile --delete-orphans again later", active[0].ID, active[0].WorkflowID)
		return
	}
	err = mgr.DeleteDeployment(ctx, id, cloudify.DeleteDeploymentOptions{DeleteLogs: true})
	switch {
	case err == nil:
		f.Action, f.Repaired = "deletion started", true
	case cloudify.IsNotFound(err):
		f.Action = "it is gone already"
	case cloudify.IsDependentExists(err):
		exec, err := mgr.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "uninstall"})
		if err != nil {
			f.Action, f.Error = "none", "delete refused (live nodes) and uninstall refused: "+err.Error()
			return
		}
		f.ExecutionID = exec.ID
		f.Action, f.Repaired = "its nodes are live: uninstall started; run reconcile --delete-orphans again to delete it", true
	default:
		f.Action, f.Error = "none", err.Error()
	}
	if f.Repaired {
		s.cfg.Logger.WarnContext(ctx, "orphan deployment removed by reconcile", "deployment_id", id, "instance_id", f.InstanceID, "action", f.Action)
	}
}

// operationWhat names what an operation does: its type, and its binding's id.
func operationWhat(op broker.Operation) string {
	if op.BindingID != "" {
		return fmt.Sprintf("%s of binding %s", op.Type, op.BindingID)
	}
	return string(op.Type)
}

func phaseOrStart(p string) string {
	if p == "" {
		return "start"
	}
	return p
}
