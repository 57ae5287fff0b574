package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Labels put on every deployment the broker creates, so that a deployment can be
// traced back to its instance from the manager (and found again by reconcile).
const (
	LabelInstanceID = "osb-instance-id"
	LabelServiceID  = "osb-service-id"
	LabelPlanID     = "osb-plan-id"
)

// Provision records a provision and hands it to the workflow driver
// (PUT /v2/service_instances/:instance_id). Provisioning always runs asynchronously.
func (s *UseCases) Provision(ctx context.Context, req ProvisionRequest) (ProvisionResult, error) {
	if err := ValidateID("instance_id", req.InstanceID); err != nil {
		return ProvisionResult{}, err
	}
	if err := ValidateID("service_id", req.ServiceID); err != nil {
		return ProvisionResult{}, err
	}
	if err := ValidateID("plan_id", req.PlanID); err != nil {
		return ProvisionResult{}, err
	}
	if !req.AcceptsIncomplete {
		return ProvisionResult{}, Errorf(EAsyncRequired, "provisioning runs a Cloudify install and is asynchronous")
	}
	svc, plan, err := s.lookupPlan(ctx, req.ServiceID, req.PlanID)
	if err != nil {
		return ProvisionResult{}, err
	}
	if err := checkMaintenanceInfo(req.MaintenanceInfo, plan); err != nil {
		return ProvisionResult{}, err
	}
	params, err := decodeParameters("parameters", req.Parameters)
	if err != nil {
		return ProvisionResult{}, err
	}
	if err := s.schemas.validateParameters("parameters", plan.CreateSchema, req.Parameters); err != nil {
		return ProvisionResult{}, err
	}
	fp := fingerprint("provision", req.ServiceID, req.PlanID, req.Parameters, req.OrganizationGUID, req.SpaceGUID)
	return retryConflicts(func() (ProvisionResult, bool, error) {
		return s.provisionOnce(ctx, req, svc, plan, params, fp)
	})
}

// provisionOnce does one read-compare-write round of Provision (see retryConflicts).
func (s *UseCases) provisionOnce(ctx context.Context, req ProvisionRequest, svc Service, plan Plan, params map[string]any, fp string) (ProvisionResult, bool, error) {
	existing, err := s.store.GetInstance(ctx, req.InstanceID)
	switch {
	case errors.Is(err, ErrNotFound):
		existing = Instance{}
	case err != nil:
		return ProvisionResult{}, false, fmt.Errorf("broker: read instance: %w", err)
	}
	if existing.Version != 0 && existing.State != InstanceGone {
		return s.provisionRepeat(existing, fp)
	}

	now := s.now()
	depID := DeploymentID(req.InstanceID)
	sealedParams, err := s.sealJSON(params)
	if err != nil {
		return ProvisionResult{}, false, err
	}
	sealedInputs, err := s.sealJSON(mergeInputs(params, plan.Inputs))
	if err != nil {
		return ProvisionResult{}, false, err
	}
	op := Operation{
		ID:                 s.newOperationID(OpProvision),
		Type:               OpProvision,
		InstanceID:         req.InstanceID,
		State:              StateInProgress,
		Description:        "creating deployment " + depID,
		DeploymentID:       depID,
		BlueprintID:        plan.BlueprintID,
		ServiceID:          svc.ID,
		PlanID:             plan.ID,
		MaintenanceVersion: maintenanceVersion(plan.MaintenanceInfo),
		Inputs:             sealedInputs,
		Parameters:         sealedParams,
		Fingerprint:        fp,
		Labels:             map[string]string{LabelInstanceID: req.InstanceID, LabelServiceID: svc.ID, LabelPlanID: plan.ID},
		Deadline:           s.deadline(plan),
		NextCheck:          now,
		RequestID:          req.RequestID,
		Identity:           req.Identity.String(),
		CreatedAt:          now,
		UpdatedAt:          now,
	}
	inst := Instance{
		ID:                 req.InstanceID,
		ServiceID:          svc.ID,
		PlanID:             plan.ID,
		OrganizationGUID:   req.OrganizationGUID,
		SpaceGUID:          req.SpaceGUID,
		Context:            req.Context,
		Fingerprint:        fp,
		Parameters:         sealedParams,
		DeploymentID:       depID,
		BlueprintID:        plan.BlueprintID,
		MaintenanceVersion: op.MaintenanceVersion,
		DashboardURL:       s.dashboard(depID),
		State:              InstanceProvisioning,
		OperationID:        op.ID,
		OperationType:      OpProvision,
		OperationState:     StateInProgress,
		CreatedAt:          now,
		UpdatedAt:          now,
		Version:            existing.Version, // a tombstone is replaced in place
	}
	if retry, err := s.commit(ctx, Tx{Instances: []*Instance{&inst}, Operations: []*Operation{&op}}, "provision"); err != nil {
		return ProvisionResult{}, retry, err
	}
	s.cfg.Logger.InfoContext(ctx, "provision recorded", "instance_id", inst.ID, "operation_id", op.ID,
		"deployment_id", depID, "blueprint_id", plan.BlueprintID, "request_id", req.RequestID, "identity", req.Identity.String())
	s.start(ctx, op)
	return ProvisionResult{Async: true, Operation: op.ID, DashboardURL: inst.DashboardURL}, false, nil
}

// provisionRepeat answers a provision for an instance that exists.
func (s *UseCases) provisionRepeat(existing Instance, fp string) (ProvisionResult, bool, error) {
	if existing.Fingerprint != fp {
		return ProvisionResult{}, false, Errorf(EConflict, "instance %s exists with other attributes", existing.ID)
	}
	switch {
	case existing.State == InstanceProvisioning:
		return ProvisionResult{Async: true, Operation: existing.OperationID, DashboardURL: existing.DashboardURL}, false, nil
	case existing.State == InstanceReady:
		return ProvisionResult{DashboardURL: existing.DashboardURL}, false, nil
	case existing.State == InstanceFailed:
		return ProvisionResult{}, false, Errorf(EConflict, "instance %s exists and its provision failed; deprovision it first", existing.ID)
	default:
		return ProvisionResult{}, false, Errorf(EConcurrency, "instance %s is being deprovisioned", existing.ID)
	}
}

// Deprovision records a deprovision and hands it to the workflow driver
// (DELETE /v2/service_instances/:instance_id). A deprovision that arrives while the
// instance is provisioning halts the provision: the new operation cancels what runs on
// the deployment, then uninstalls and deletes it. An unknown instance is a 410 whatever
// the ids; a service_id or plan_id that is not the instance's is a 400.
func (s *UseCases) Deprovision(ctx context.Context, req DeprovisionRequest) (DeprovisionResult, error) {
	if err := ValidateID("instance_id", req.InstanceID); err != nil {
		return DeprovisionResult{}, err
	}
	return retryConflicts(func() (DeprovisionResult, bool, error) { return s.deprovisionOnce(ctx, req) })
}

// deprovisionOnce does one read-compare-write round of Deprovision (see retryConflicts).
func (s *UseCases) deprovisionOnce(ctx context.Context, req DeprovisionRequest) (DeprovisionResult, bool, error) {
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	if errors.Is(err, ErrNotFound) || err == nil && inst.State == InstanceGone {
		return DeprovisionResult{}, false, Errorf(EGone, "instance %s does not exist", req.InstanceID)
	}
	if err != nil {
		return DeprovisionResult{}, false, fmt.Errorf("broker: read instance: %w", err)
	}
	if err := s.checkInstanceIDs(ctx, inst, req.ServiceID, req.PlanID); err != nil {
		return DeprovisionResult{}, false, err
	}
	if inst.State == InstanceDeprovisioning && inst.Busy() {
		return DeprovisionResult{Async: true, Operation: inst.OperationID}, false, nil
	}
	if !req.AcceptsIncomplete {
		return DeprovisionResult{}, false, Errorf(EAsyncRequired, "deprovisioning runs a Cloudify uninstall and is asynchronous")
	}
	now := s.now()
	var halted *Operation
	if inst.Busy() {
		if inst.OperationType != OpProvision {
			return DeprovisionResult{}, false, Errorf(EConcurrency, "an %s is in progress", inst.OperationType)
		}
		prov, err := s.store.GetOperation(ctx, inst.OperationID)
		if err != nil {
			return DeprovisionResult{}, false, fmt.Errorf("broker: read provision: %w", err)
		}
		if !prov.Done() {
			halted = &prov
		}
	}
	plan := Plan{}
	if c, err := s.Catalog(ctx); err == nil {
		if svc, ok := c.Service(inst.ServiceID); ok {
			plan, _ = svc.Plan(inst.PlanID)
		}
	}
	op := Operation{
		ID:           s.newOperationID(OpDeprovision),
		Type:         OpDeprovision,
		InstanceID:   inst.ID,
		State:        StateInProgress,
		Description:  "deleting deployment " + inst.DeploymentID,
		DeploymentID: inst.DeploymentID,
		BlueprintID:  inst.BlueprintID,
		ServiceID:    inst.ServiceID,
		PlanID:       inst.PlanID,
		Deadline:     s.deadline(plan),
		NextCheck:    now,
		RequestID:    req.RequestID,
		Identity:     req.Identity.String(),
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	inst.State = InstanceDeprovisioning
	inst.OperationID, inst.OperationType, inst.OperationState = op.ID, OpDeprovision, StateInProgress
	inst.UpdatedAt = now
	tx := Tx{Instances: []*Instance{&inst}, Operations: supersede(&op, halted, now)}
	if retry, err := s.commit(ctx, tx, "deprovision"); err != nil {
		return DeprovisionResult{}, retry, err
	}
	s.cfg.Logger.InfoContext(ctx, "deprovision recorded", "instance_id", inst.ID, "operation_id", op.ID,
		"deployment_id", inst.DeploymentID, "halted_provision", halted != nil, "request_id", req.RequestID, "identity", req.Identity.String())
	s.startAll(ctx, tx.Operations)
	return DeprovisionResult{Async: true, Operation: op.ID}, false, nil
}

// Update changes an instance's parameters, plan or maintenance version through a
// Cloudify deployment update, or records a context-only change
// (PATCH /v2/service_instances/:instance_id).
func (s *UseCases) Update(ctx context.Context, req UpdateRequest) (UpdateResult, error) {
	if err := ValidateID("instance_id", req.InstanceID); err != nil {
		return UpdateResult{}, err
	}
	if err := ValidateID("service_id", req.ServiceID); err != nil {
		return UpdateResult{}, err
	}
	if req.PlanID != "" {
		if err := ValidateID("plan_id", req.PlanID); err != nil {
			return UpdateResult{}, err
		}
	}
	return retryConflicts(func() (UpdateResult, bool, error) { return s.updateOnce(ctx, req) })
}

// updateOnce does one read-compare-write round of Update (see retryConflicts): it
// reads the instance, answers a repeat of the update in progress, works out what the
// request changes, and records either the new context alone or an update operation.
func (s *UseCases) updateOnce(ctx context.Context, req UpdateRequest) (UpdateResult, bool, error) {
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	if errors.Is(err, ErrNotFound) || err == nil && inst.State == InstanceGone {
		return UpdateResult{}, false, Errorf(ENotFound, "instance %s does not exist", req.InstanceID)
	}
	if err != nil {
		return UpdateResult{}, false, fmt.Errorf("broker: read instance: %w", err)
	}
	if req.ServiceID != inst.ServiceID {
		return UpdateResult{}, false, Errorf(EInvalid, "service_id %q is not the instance's service", req.ServiceID)
	}
	fp := fingerprint("update", req.ServiceID, req.PlanID, req.Parameters, maintenanceVersion(req.MaintenanceInfo))
	if inst.Busy() {
		res, err := s.updateRepeat(ctx, inst, fp)
		return res, false, err
	}
	if inst.State != InstanceReady {
		return UpdateResult{}, false, &Error{Code: EUnprocessable, Message: fmt.Sprintf("instance %s is %s and cannot be updated; deprovision it", inst.ID, inst.State),
			InstanceUsable: boolp(false), UpdateRepeatable: boolp(false)}
	}
	ch, err := s.updateChangeOf(ctx, req, inst)
	if err != nil {
		return UpdateResult{}, false, err
	}
	if !ch.changesDeployment(inst) {
		return s.recordContext(ctx, req, inst)
	}
	if !req.AcceptsIncomplete {
		return UpdateResult{}, false, Errorf(EAsyncRequired, "updating runs a Cloudify deployment update and is asynchronous")
	}
	return s.recordUpdate(ctx, req, inst, ch, fp)
}

// updateRepeat answers an update of an instance with an operation in progress: the
// same update again gets its operation (202); anything else is refused.
func (s *UseCases) updateRepeat(ctx context.Context, inst Instance, fp string) (UpdateResult, error) {
	if inst.OperationType == OpUpdate {
		if op, err := s.store.GetOperation(ctx, inst.OperationID); err == nil && op.Fingerprint == fp && !op.Done() {
			return UpdateResult{Async: true, Operation: op.ID}, nil
		}
	}
	return UpdateResult{}, Errorf(EConcurrency, "an %s is in progress", inst.OperationType)
}

// updateChange is what an update request asks of a ready instance.
type updateChange struct {
	// target is the plan after the update: the instance's own unless the plan changes.
	target     Plan
	planChange bool
	// params are the request's parameters; nil when it has none.
	params map[string]any
	// maintenanceVersion is the instance's maintenance version after the update.
	maintenanceVersion string
}

// changesDeployment reports whether the change needs a Cloudify deployment update;
// when it does not, only the context can change.
func (c updateChange) changesDeployment(inst Instance) bool {
	upgrade := c.maintenanceVersion != inst.MaintenanceVersion || c.target.BlueprintID != inst.BlueprintID
	return c.planChange || len(c.params) > 0 || upgrade
}

// updateChangeOf checks an update request against the catalog (plan_updateable, the
// target plan, maintenance_info, the update schema) and says what it changes.
func (s *UseCases) updateChangeOf(ctx context.Context, req UpdateRequest, inst Instance) (updateChange, error) {
	svc, curPlan, err := s.lookupPlan(ctx, inst.ServiceID, inst.PlanID)
	if err != nil {
		return updateChange{}, Errorf(EUnprocessable, "the instance's plan %q is no longer in the catalog", inst.PlanID)
	}
	ch := updateChange{target: curPlan, planChange: req.PlanID != "" && req.PlanID != inst.PlanID}
	if ch.planChange {
		if !svc.PlanIsUpdateable(curPlan) {
			return updateChange{}, Errorf(EUnprocessable, "plan %q cannot be changed", curPlan.Name)
		}
		p, ok := svc.Plan(req.PlanID)
		if !ok {
			return updateChange{}, Errorf(EInvalid, "plan_id %q is not a plan of service %q", req.PlanID, svc.Name)
		}
		ch.target = p
	}
	if err := checkMaintenanceInfo(req.MaintenanceInfo, ch.target); err != nil {
		return updateChange{}, err
	}
	if ch.params, err = decodeParameters("parameters", req.Parameters); err != nil {
		return updateChange{}, err
	}
	if req.Parameters != nil {
		if err := s.schemas.validateParameters("parameters", ch.target.UpdateSchema, req.Parameters); err != nil {
			return updateChange{}, err
		}
	}
	ch.maintenanceVersion = inst.MaintenanceVersion
	if req.MaintenanceInfo != nil || ch.planChange {
		ch.maintenanceVersion = maintenanceVersion(ch.target.MaintenanceInfo)
	}
	return ch, nil
}

// recordContext answers an update that changes nothing on Cloudify (200): a new
// context is written on the instance, nothing else.
func (s *UseCases) recordContext(ctx context.Context, req UpdateRequest, inst Instance) (UpdateResult, bool, error) {
	if len(req.Context) == 0 || string(req.Context) == string(inst.Context) {
		return UpdateResult{}, false, nil
	}
	inst.Context, inst.UpdatedAt = req.Context, s.now()
	if retry, err := s.commit(ctx, Tx{Instances: []*Instance{&inst}}, "context"); err != nil {
		return UpdateResult{}, retry, err
	}
	return UpdateResult{}, false, nil
}

// recordUpdate records an update operation for the change and hands it to the
// workflow driver (202).
func (s *UseCases) recordUpdate(ctx context.Context, req UpdateRequest, inst Instance, ch updateChange, fp string) (UpdateResult, bool, error) {
	inputs := ch.params
	if ch.planChange {
		inputs = mergeInputs(ch.params, ch.target.Inputs)
	}
	sealedInputs, err := s.sealJSON(inputs)
	if err != nil {
		return UpdateResult{}, false, err
	}
	sealedParams, err := s.sealJSON(ch.params)
	if err != nil {
		return UpdateResult{}, false, err
	}
	now := s.now()
	op := Operation{
		ID:                 s.newOperationID(OpUpdate),
		Type:               OpUpdate,
		InstanceID:         inst.ID,
		State:              StateInProgress,
		Description:        "updating deployment " + inst.DeploymentID,
		DeploymentID:       inst.DeploymentID,
		ServiceID:          inst.ServiceID,
		PlanID:             ch.target.ID,
		PreviousPlanID:     inst.PlanID,
		MaintenanceVersion: ch.maintenanceVersion,
		Inputs:             sealedInputs,
		Parameters:         sealedParams,
		Fingerprint:        fp,
		Deadline:           s.deadline(ch.target),
		NextCheck:          now,
		RequestID:          req.RequestID,
		Identity:           req.Identity.String(),
		CreatedAt:          now,
		UpdatedAt:          now,
	}
	if ch.target.BlueprintID != inst.BlueprintID {
		op.BlueprintID = ch.target.BlueprintID
	}
	if len(req.Context) > 0 {
		inst.Context = req.Context
	}
	inst.OperationID, inst.OperationType, inst.OperationState = op.ID, OpUpdate, StateInProgress
	inst.UpdatedAt = now
	if retry, err := s.commit(ctx, Tx{Instances: []*Instance{&inst}, Operations: []*Operation{&op}}, "update"); err != nil {
		return UpdateResult{}, retry, err
	}
	s.cfg.Logger.InfoContext(ctx, "update recorded", "instance_id", inst.ID, "operation_id", op.ID,
		"deployment_id", inst.DeploymentID, "plan_change", ch.planChange, "blueprint_id", op.BlueprintID, "request_id", req.RequestID, "identity", req.Identity.String())
	s.start(ctx, op)
	return UpdateResult{Async: true, Operation: op.ID}, false, nil
}

// LastOperation answers an instance's or a binding's last_operation from broker state
// alone (GET .../last_operation); it never calls Cloudify. With operation, the named
// operation of the instance answers, even an earlier, finished one (a platform may
// poll it after the next began); an operation the instance never had is a 400.
func (s *UseCases) LastOperation(ctx context.Context, req LastOperationRequest) (LastOperation, error) {
	if req.BindingID != "" {
		return s.bindingLastOperation(ctx, req)
	}
	op, err := s.operationStatus(ctx, req)
	if err != nil {
		return LastOperation{}, err
	}
	if op.Type == OpDeprovision && op.State == StateSucceeded {
		return LastOperation{}, Errorf(EGone, "instance %s is deprovisioned", req.InstanceID)
	}
	lo := LastOperation{State: op.State, Description: op.Description}
	if op.State == StateInProgress {
		lo.RetryAfter = s.retryAfter(op.NextCheck)
	}
	if op.State == StateFailed {
		switch op.Type {
		case OpUpdate:
			lo.InstanceUsable, lo.UpdateRepeatable = &yes, &yes
		case OpDeprovision:
			lo.InstanceUsable = &no
		}
	}
	return lo, nil
}

// Shared answers of LastOperation: callers only read them.
var yes, no = true, false

// operationStatus finds the operation a last_operation request is about: the one it
// names, which must be one of the instance's (400 otherwise: the platform holds an
// operation id this broker never gave for the instance), else the instance's current
// one. An unknown instance is a 404 whatever the operation. With a StatusReader store
// it is one read: the reader answers the named operation when it is the instance's,
// else the current one, which tells an unknown name by its ID.
func (s *UseCases) operationStatus(ctx context.Context, req LastOperationRequest) (OperationStatus, error) {
	if s.status == nil {
		op, err := s.operationFor(ctx, req)
		return op.Status(), err
	}
	named := req.Operation
	if len(named) > MaxIDLength+32 {
		named = "" // never one of ours; the instance is still looked up for the 404
	}
	st, err := s.status.OperationStatus(ctx, req.InstanceID, named)
	if errors.Is(err, ErrNotFound) {
		return OperationStatus{}, Errorf(ENotFound, "instance %s does not exist", req.InstanceID)
	}
	if err != nil {
		return OperationStatus{}, fmt.Errorf("broker: read operation: %w", err)
	}
	if req.Operation != "" && (st.ID != req.Operation || st.Type.OnBinding()) {
		return OperationStatus{}, unknownOperation(req)
	}
	return st, nil
}

// unknownOperation is the 400 of a last_operation that names an operation the
// instance never had.
func unknownOperation(req LastOperationRequest) error {
	name := req.Operation
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return Errorf(EInvalid, "operation %q is not an operation of instance %s", name, req.InstanceID)
}

// operationFor finds the operation a last_operation request is about (see
// operationStatus) with GetOperation and GetInstance.
func (s *UseCases) operationFor(ctx context.Context, req LastOperationRequest) (Operation, error) {
	if req.Operation != "" && len(req.Operation) <= MaxIDLength+32 {
		op, err := s.store.GetOperation(ctx, req.Operation)
		if err == nil && op.InstanceID == req.InstanceID && !op.Type.OnBinding() {
			return op, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Operation{}, fmt.Errorf("broker: read operation: %w", err)
		}
	}
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	if errors.Is(err, ErrNotFound) {
		return Operation{}, Errorf(ENotFound, "instance %s does not exist", req.InstanceID)
	}
	if err != nil {
		return Operation{}, fmt.Errorf("broker: read instance: %w", err)
	}
	if req.Operation != "" {
		return Operation{}, unknownOperation(req)
	}
	op, err := s.store.GetOperation(ctx, inst.OperationID)
	if errors.Is(err, ErrNotFound) {
		return Operation{}, Errorf(ENotFound, "instance %s has no operation", req.InstanceID)
	}
	if err != nil {
		return Operation{}, fmt.Errorf("broker: read operation: %w", err)
	}
	return op, nil
}

// retryAfter tells the platform when asking again is useful: when the engine looks
// at Cloudify next, within 2 s to 60 s.
func (s *UseCases) retryAfter(nextCheck time.Time) time.Duration {
	d := nextCheck.Sub(s.now()).Round(time.Second)
	return min(max(d, 2*time.Second), 60*time.Second)
}

// FetchInstance returns a provisioned instance (GET /v2/service_instances/:instance_id).
// Parameters whose names suggest secrets are left out.
func (s *UseCases) FetchInstance(ctx context.Context, req FetchInstanceRequest) (InstanceDetails, error) {
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	if errors.Is(err, ErrNotFound) || err == nil && (inst.State == InstanceGone || inst.State == InstanceProvisioning) {
		return InstanceDetails{}, Errorf(ENotFound, "instance %s does not exist or is being provisioned", req.InstanceID)
	}
	if err != nil {
		return InstanceDetails{}, fmt.Errorf("broker: read instance: %w", err)
	}
	if inst.Busy() && inst.OperationType == OpUpdate {
		return InstanceDetails{}, Errorf(EConcurrency, "an update is in progress")
	}
	d := InstanceDetails{ServiceID: inst.ServiceID, PlanID: inst.PlanID, DashboardURL: inst.DashboardURL}
	if inst.MaintenanceVersion != "" {
		d.MaintenanceInfo = &MaintenanceInfo{Version: inst.MaintenanceVersion}
	}
	if len(inst.Parameters) > 0 {
		plain, err := s.sealer.Open(inst.Parameters)
		if err != nil {
			return InstanceDetails{}, fmt.Errorf("broker: open parameters: %w", err)
		}
		var params map[string]any
		if err := json.Unmarshal(plain, &params); err != nil {
			return InstanceDetails{}, fmt.Errorf("broker: decode parameters: %w", err)
		}
		for k := range params {
			if secretName(k) {
				delete(params, k)
			}
		}
		d.Parameters = params
	}
	return d, nil
}
