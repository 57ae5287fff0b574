package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Workflow parameters that the broker sets on bind and unbind workflows itself; a
// binding's own parameters may not use these names.
const (
	ParamBindingID   = "binding_id"
	ParamSecretKey   = "secret_key"
	ParamAppGUID     = "app_guid"
	ParamPredecessor = "predecessor_binding_id"
)

// ReservedBindParameters are the bind workflow parameters the broker fills in.
var ReservedBindParameters = []string{ParamBindingID, ParamSecretKey, ParamAppGUID, ParamPredecessor}

// DefaultUnbindWorkflow is run to revoke a binding whose plan no longer names an unbind
// workflow (the catalog changed after the bind).
const DefaultUnbindWorkflow = "osb_unbind"

// Bind creates a binding (PUT /v2/service_instances/:instance_id/service_bindings/:binding_id).
//
// A plan with bind workflows gives every binding its own credentials: the bind is
// asynchronous (202 and an operation that runs the plan's bind workflow, which leaves
// the credentials in the Cloudify secret BindingSecretKey names), and refused with
// AsyncRequired without accepts_incomplete. Any other plan binds synchronously: the
// credentials are the deployment's capabilities and outputs, mapped per the service's
// credentials mapping, the same for every binding. Credentials are never stored.
//
// The service_id and plan_id must be the instance's (400 otherwise, nothing stored).
// An identical repeat answers as the first (202 with the same operation while it runs,
// 200 once bound); a different one with the same id is a 409.
func (s *UseCases) Bind(ctx context.Context, req BindRequest) (BindResult, error) {
	for _, id := range [][2]string{{"instance_id", req.InstanceID}, {"binding_id", req.BindingID}, {"service_id", req.ServiceID}, {"plan_id", req.PlanID}} {
		if err := ValidateID(id[0], id[1]); err != nil {
			return BindResult{}, err
		}
	}
	if req.PredecessorBindingID != "" {
		if err := ValidateID("predecessor_binding_id", req.PredecessorBindingID); err != nil {
			return BindResult{}, err
		}
		if req.PredecessorBindingID == req.BindingID {
			return BindResult{}, Errorf(EInvalid, "predecessor_binding_id is the binding's own id")
		}
	}
	res, err := retryConflicts(func() (BindResult, bool, error) { return s.bindOnce(ctx, req) })
	return res, concurrencyOf(err)
}

// concurrencyOf turns the lost write of a use case's last round into a 422
// ConcurrencyError: concurrent requests kept changing the instance.
func concurrencyOf(err error) error {
	if errors.Is(err, ErrConflict) {
		return &Error{Code: EConcurrency, Message: "the instance kept changing while this request was recorded; try again", Err: err}
	}
	return err
}

// bindOnce does one read-compare-write round of Bind (see retryConflicts).
func (s *UseCases) bindOnce(ctx context.Context, req BindRequest) (BindResult, bool, error) {
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	if errors.Is(err, ErrNotFound) || err == nil && inst.State == InstanceGone {
		return BindResult{}, false, Errorf(ENotFound, "instance %s does not exist", req.InstanceID)
	}
	if err != nil {
		return BindResult{}, false, fmt.Errorf("broker: read instance: %w", err)
	}
	if err := s.checkInstanceIDs(ctx, inst, req.ServiceID, req.PlanID); err != nil {
		return BindResult{}, false, err
	}
	svc, plan, err := s.lookupPlan(ctx, inst.ServiceID, inst.PlanID)
	if err != nil {
		return BindResult{}, false, Errorf(EUnprocessable, "the instance's plan %q is no longer in the catalog", inst.PlanID)
	}
	appGUID := req.AppGUID
	if v, ok := req.BindResource["app_guid"].(string); ok && appGUID == "" {
		appGUID = v
	}
	fp := fingerprint("bind", req.ServiceID, req.PlanID, appGUID, req.Parameters, req.PredecessorBindingID)

	existing, err := s.store.GetBinding(ctx, req.InstanceID, req.BindingID)
	switch {
	case err == nil:
		res, err := s.bindRepeat(ctx, svc, inst, existing, fp)
		return res, false, err
	case !errors.Is(err, ErrNotFound):
		return BindResult{}, false, fmt.Errorf("broker: read binding: %w", err)
	}
	if inst.Busy() {
		return BindResult{}, false, Errorf(EConcurrency, "a %s is in progress", inst.OperationType)
	}
	if inst.State != InstanceReady {
		return BindResult{}, false, Errorf(EUnprocessable, "instance %s is %s and cannot be bound", inst.ID, inst.State)
	}
	if !svc.PlanBindable(plan) {
		return BindResult{}, false, Errorf(EUnprocessable, "plan %q of service %q is not bindable", plan.Name, svc.Name)
	}
	params, err := decodeParameters("parameters", req.Parameters)
	if err != nil {
		return BindResult{}, false, err
	}
	if len(plan.BindSchema) > 0 {
		if err := s.schemas.validateParameters("parameters", plan.BindSchema, req.Parameters); err != nil {
			return BindResult{}, false, err
		}
	} else if len(params) > 0 {
		return BindResult{}, false, Errorf(EInvalid, "plan %q takes no binding parameters", plan.Name)
	}
	if !plan.PerBindingCredentials() {
		if req.PredecessorBindingID != "" {
			return BindResult{}, false, Errorf(EUnprocessable, "plan %q shares its credentials between bindings: binding rotation needs credentials of its own per binding", plan.Name)
		}
		return s.bindShared(ctx, req, svc, inst, params, appGUID, fp)
	}
	for _, k := range ReservedBindParameters {
		if _, ok := params[k]; ok {
			return BindResult{}, false, Errorf(EInvalid, "parameter %q is set by the broker and cannot be given", k)
		}
	}
	if req.PredecessorBindingID != "" {
		if err := s.checkPredecessor(ctx, req, plan); err != nil {
			return BindResult{}, false, err
		}
	}
	if !req.AcceptsIncomplete {
		return BindResult{}, false, Errorf(EAsyncRequired, "bindings of plan %q get their own credentials from a Cloudify workflow and are made asynchronously", plan.Name)
	}
	return s.bindAsync(ctx, req, plan, inst, params, appGUID, fp)
}

// bindRepeat answers a bind whose binding id is already recorded.
func (s *UseCases) bindRepeat(ctx context.Context, svc Service, inst Instance, b Binding, fp string) (BindResult, error) {
	if b.Fingerprint != fp {
		return BindResult{}, Errorf(EConflict, "binding %s exists with other attributes", b.ID)
	}
	switch {
	case b.Busy() && b.OperationType == OpBind:
		return BindResult{Async: true, Operation: b.OperationID}, nil
	case b.Busy():
		return BindResult{}, Errorf(EConcurrency, "binding %s is being unbound", b.ID)
	case b.State == BindingFailed:
		return BindResult{}, Errorf(EConflict, "binding %s failed; unbind it before binding again", b.ID)
	}
	creds, err := s.bindingCredentials(ctx, svc, inst, b)
	if err != nil {
		return BindResult{}, err
	}
	return BindResult{Existing: true, Credentials: creds, Metadata: b.metadata()}, nil
}

// bindShared records a binding whose credentials are the deployment's values.
func (s *UseCases) bindShared(ctx context.Context, req BindRequest, svc Service, inst Instance, params map[string]any, appGUID, fp string) (BindResult, bool, error) {
	creds, err := s.sharedCredentials(ctx, svc, inst)
	if err != nil {
		return BindResult{}, false, err
	}
	sealedParams, err := s.sealJSON(params)
	if err != nil {
		return BindResult{}, false, err
	}
	now := s.now()
	b := Binding{
		InstanceID: inst.ID, ID: req.BindingID, ServiceID: inst.ServiceID, PlanID: inst.PlanID,
		AppGUID: appGUID, Fingerprint: fp, Parameters: sealedParams, Context: req.Context, CreatedAt: now,
	}
	// The instance is part of the transaction so that a bind cannot slip in while a
	// deprovision is being recorded.
	inst.UpdatedAt = now
	if retry, err := s.commit(ctx, Tx{Instances: []*Instance{&inst}, Bindings: []*Binding{&b}}, "binding"); err != nil {
		return BindResult{}, retry, err
	}
	s.cfg.Logger.InfoContext(ctx, "binding created", "instance_id", inst.ID, "binding_id", b.ID, "credentials", "shared",
		"deployment_id", inst.DeploymentID, "credential_keys", len(creds), "request_id", req.RequestID, "identity", req.Identity.String())
	return BindResult{Credentials: creds}, false, nil
}

// checkPredecessor checks a rotation: the plan's bindings rotate, and the predecessor
// is a bound, unexpired binding of the same instance.
func (s *UseCases) checkPredecessor(ctx context.Context, req BindRequest, plan Plan) error {
	if plan.BindingRotation == nil {
		return Errorf(EUnprocessable, "bindings of plan %q are not rotatable", plan.Name)
	}
	pred, err := s.store.GetBinding(ctx, req.InstanceID, req.PredecessorBindingID)
	if errors.Is(err, ErrNotFound) {
		return Errorf(EInvalid, "predecessor_binding_id %q is not a binding of instance %s", req.PredecessorBindingID, req.InstanceID)
	}
	if err != nil {
		return fmt.Errorf("broker: read predecessor binding: %w", err)
	}
	if !pred.Ready() || pred.Busy() {
		return Errorf(EInvalid, "predecessor binding %s is not bound (it is %s)", pred.ID, pred.State)
	}
	if !pred.ExpiresAt.IsZero() && !s.now().Before(pred.ExpiresAt) {
		return Errorf(EInvalid, "predecessor binding %s expired at %s", pred.ID, pred.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// bindAsync records a binding with its own credentials and the operation that runs
// the plan's bind workflow, then starts it.
func (s *UseCases) bindAsync(ctx context.Context, req BindRequest, plan Plan, inst Instance, params map[string]any, appGUID, fp string) (BindResult, bool, error) {
	now := s.now()
	key := BindingSecretKey(inst.DeploymentID, req.BindingID)
	wfParams := map[string]any{}
	for k, v := range params {
		wfParams[k] = v
	}
	wfParams[ParamBindingID] = req.BindingID
	wfParams[ParamSecretKey] = key
	if appGUID != "" {
		wfParams[ParamAppGUID] = appGUID
	}
	if req.PredecessorBindingID != "" {
		wfParams[ParamPredecessor] = req.PredecessorBindingID
	}
	sealedParams, err := s.sealJSON(params)
	if err != nil {
		return BindResult{}, false, err
	}
	sealedInputs, err := s.sealJSON(wfParams)
	if err != nil {
		return BindResult{}, false, err
	}
	op := Operation{
		ID:           s.newOperationID(OpBind),
		Type:         OpBind,
		InstanceID:   inst.ID,
		BindingID:    req.BindingID,
		State:        StateInProgress,
		Description:  fmt.Sprintf("creating the credentials of binding %s", req.BindingID),
		DeploymentID: inst.DeploymentID,
		ServiceID:    inst.ServiceID,
		PlanID:       inst.PlanID,
		Workflow:     plan.BindWorkflows.Bind,
		SecretKey:    key,
		Inputs:       sealedInputs,
		Parameters:   sealedParams,
		Fingerprint:  fp,
		Deadline:     s.deadline(plan),
		NextCheck:    now,
		RequestID:    req.RequestID,
		Identity:     req.Identity.String(),
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	b := Binding{
		InstanceID: inst.ID, ID: req.BindingID, ServiceID: inst.ServiceID, PlanID: inst.PlanID,
		AppGUID: appGUID, Fingerprint: fp, Parameters: sealedParams, Context: req.Context,
		State: BindingBinding, SecretKey: key, PredecessorID: req.PredecessorBindingID,
		OperationID: op.ID, OperationType: OpBind, OperationState: StateInProgress, CreatedAt: now,
	}
	if r := plan.BindingRotation; r != nil && r.MaximumValidityPeriod > 0 {
		b.ExpiresAt = now.Add(time.Duration(r.MaximumValidityPeriod) * time.Second)
		b.RenewBefore = b.ExpiresAt.Add(-time.Duration(r.OverlapPeriod) * time.Second)
	}
	inst.UpdatedAt = now
	if retry, err := s.commit(ctx, Tx{Instances: []*Instance{&inst}, Bindings: []*Binding{&b}, Operations: []*Operation{&op}}, "binding"); err != nil {
		return BindResult{}, retry, err
	}
	s.cfg.Logger.InfoContext(ctx, "bind recorded", "instance_id", inst.ID, "binding_id", b.ID, "operation_id", op.ID,
		"deployment_id", inst.DeploymentID, "workflow_id", op.Workflow, "rotates", b.PredecessorID,
		"request_id", req.RequestID, "identity", req.Identity.String())
	s.start(ctx, op)
	return BindResult{Async: true, Operation: op.ID}, false, nil
}

// metadata is the binding's OSB metadata.
func (b Binding) metadata() BindingMetadata {
	return BindingMetadata{ExpiresAt: b.ExpiresAt, RenewBefore: b.RenewBefore}
}

// bindingCredentials reads a binding's credentials afresh from Cloudify: its own
// secret, or the deployment's values.
func (s *UseCases) bindingCredentials(ctx context.Context, svc Service, inst Instance, b Binding) (map[string]any, error) {
	if b.SecretKey == "" {
		return s.sharedCredentials(ctx, svc, inst)
	}
	creds, err := s.creds.BindingSecret(ctx, b.SecretKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, &Error{Code: EUnprocessable, Err: err,
			Message: fmt.Sprintf("the credentials of binding %s are no longer on the Cloudify manager (secret %s); unbind it and bind again", b.ID, b.SecretKey)}
	case err != nil && ErrorCode(err) != "":
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("broker: read binding secret: %w", err)
	}
	return DecorateCredentials(svc, creds), nil
}

// sharedCredentials reads the deployment's values and maps them.
func (s *UseCases) sharedCredentials(ctx context.Context, svc Service, inst Instance) (map[string]any, error) {
	caps, outs, err := s.creds.DeploymentValues(ctx, inst.DeploymentID)
	if err != nil {
		if ErrorCode(err) != "" {
			return nil, err
		}
		return nil, fmt.Errorf("broker: read deployment values: %w", err)
	}
	return DecorateCredentials(svc, MapCredentials(svc.Credentials, caps, outs)), nil
}

// MapCredentials builds binding credentials from a deployment's capabilities and
// outputs. With no mapping, every capability is a credential, or every output when
// the deployment has no capabilities. A mapped name missing from Cloudify is left out.
func MapCredentials(fields []CredentialField, caps, outs map[string]any) map[string]any {
	creds := map[string]any{}
	if len(fields) == 0 {
		src := caps
		if len(src) == 0 {
			src = outs
		}
		for k, v := range src {
			creds[k] = v
		}
		return creds
	}
	for _, f := range fields {
		name := f.Name
		if name == "" {
			name = f.Key
		}
		var v any
		var ok bool
		switch f.Source {
		case "capability":
			v, ok = caps[name]
		case "output":
			v, ok = outs[name]
		default:
			if v, ok = caps[name]; !ok {
				v, ok = outs[name]
			}
		}
		if ok {
			creds[f.Key] = v
		}
	}
	return creds
}

// FetchBinding returns a binding with credentials read afresh from Cloudify
// (GET .../service_bindings/:binding_id). A binding whose bind is still running is a
// 404, as OSB has it.
func (s *UseCases) FetchBinding(ctx context.Context, req FetchBindingRequest) (BindingDetails, error) {
	b, err := s.store.GetBinding(ctx, req.InstanceID, req.BindingID)
	if errors.Is(err, ErrNotFound) {
		return BindingDetails{}, Errorf(ENotFound, "binding %s does not exist", req.BindingID)
	}
	if err != nil {
		return BindingDetails{}, fmt.Errorf("broker: read binding: %w", err)
	}
	switch b.State {
	case BindingBinding:
		return BindingDetails{}, Errorf(ENotFound, "binding %s is still being created", req.BindingID)
	case BindingFailed:
		return BindingDetails{}, Errorf(ENotFound, "binding %s failed; unbind it", req.BindingID)
	}
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	if err != nil {
		return BindingDetails{}, fmt.Errorf("broker: read instance: %w", err)
	}
	c, err := s.Catalog(ctx)
	if err != nil {
		return BindingDetails{}, err
	}
	svc, _ := c.Service(inst.ServiceID)
	creds, err := s.bindingCredentials(ctx, svc, inst, b)
	if err != nil {
		return BindingDetails{}, err
	}
	d := BindingDetails{Credentials: creds, Metadata: b.metadata()}
	if len(b.Parameters) > 0 {
		plain, err := s.sealer.Open(b.Parameters)
		if err != nil {
			return BindingDetails{}, fmt.Errorf("broker: open parameters: %w", err)
		}
		if err := json.Unmarshal(plain, &d.Parameters); err != nil {
			return BindingDetails{}, fmt.Errorf("broker: decode parameters: %w", err)
		}
	}
	return d, nil
}

// Unbind deletes a binding (DELETE .../service_bindings/:binding_id). A binding with
// shared credentials is forgotten at once (nothing changes on Cloudify: the credentials
// stay valid). One with its own credentials is unbound asynchronously: the plan's
// unbind workflow revokes them, then the broker deletes their secret; an unbind while
// its bind runs halts the bind first. An unknown binding is a 410 whatever the ids; a
// service_id or plan_id that is not the instance's is a 400 and the binding stays.
func (s *UseCases) Unbind(ctx context.Context, req UnbindRequest) (UnbindResult, error) {
	res, err := retryConflicts(func() (UnbindResult, bool, error) { return s.unbindOnce(ctx, req) })
	return res, concurrencyOf(err)
}

// unbindOnce does one read-compare-write round of Unbind (see retryConflicts).
func (s *UseCases) unbindOnce(ctx context.Context, req UnbindRequest) (UnbindResult, bool, error) {
	b, err := s.store.GetBinding(ctx, req.InstanceID, req.BindingID)
	if errors.Is(err, ErrNotFound) {
		return UnbindResult{}, false, Errorf(EGone, "binding %s does not exist", req.BindingID)
	}
	if err != nil {
		return UnbindResult{}, false, fmt.Errorf("broker: read binding: %w", err)
	}
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	instFound := err == nil
	switch {
	case errors.Is(err, ErrNotFound):
		// A binding that outlived its instance record is checked against what it
		// recorded.
		inst = Instance{ID: req.InstanceID, ServiceID: b.ServiceID, PlanID: b.PlanID}
	case err != nil:
		return UnbindResult{}, false, fmt.Errorf("broker: read instance: %w", err)
	}
	if err := s.checkInstanceIDs(ctx, inst, req.ServiceID, req.PlanID); err != nil {
		return UnbindResult{}, false, err
	}
	if b.SecretKey == "" || !instFound || inst.State == InstanceGone {
		// Shared credentials, or nothing left on Cloudify to revoke.
		if retry, err := s.commit(ctx, Tx{DeleteBindings: []*Binding{&b}}, "unbind"); err != nil {
			return UnbindResult{}, retry, err
		}
		s.cfg.Logger.InfoContext(ctx, "binding deleted", "instance_id", req.InstanceID, "binding_id", req.BindingID, "request_id", req.RequestID)
		return UnbindResult{}, false, nil
	}
	if b.Busy() && b.OperationType == OpUnbind {
		return UnbindResult{Async: true, Operation: b.OperationID}, false, nil
	}
	if !req.AcceptsIncomplete {
		return UnbindResult{}, false, Errorf(EAsyncRequired, "binding %s has its own credentials, which a Cloudify workflow revokes asynchronously", b.ID)
	}
	if inst.Busy() && inst.OperationType == OpDeprovision {
		return UnbindResult{}, false, Errorf(EConcurrency, "instance %s is being deprovisioned; its bindings go with it", inst.ID)
	}
	now := s.now()
	var halted *Operation
	if b.Busy() && b.OperationType == OpBind {
		bindOp, err := s.store.GetOperation(ctx, b.OperationID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return UnbindResult{}, false, fmt.Errorf("broker: read bind: %w", err)
		}
		if err == nil && !bindOp.Done() {
			halted = &bindOp
		}
	}
	workflow := DefaultUnbindWorkflow
	plan := Plan{}
	if _, p, err := s.lookupPlan(ctx, inst.ServiceID, inst.PlanID); err == nil {
		plan = p
		if p.PerBindingCredentials() {
			workflow = p.BindWorkflows.Unbind
		}
	}
	sealedInputs, err := s.sealJSON(map[string]any{ParamBindingID: b.ID, ParamSecretKey: b.SecretKey})
	if err != nil {
		return UnbindResult{}, false, err
	}
	op := Operation{
		ID:           s.newOperationID(OpUnbind),
		Type:         OpUnbind,
		InstanceID:   inst.ID,
		BindingID:    b.ID,
		State:        StateInProgress,
		Description:  fmt.Sprintf("revoking the credentials of binding %s", b.ID),
		DeploymentID: inst.DeploymentID,
		ServiceID:    inst.ServiceID,
		PlanID:       inst.PlanID,
		Workflow:     workflow,
		SecretKey:    b.SecretKey,
		Inputs:       sealedInputs,
		Deadline:     s.deadline(plan),
		NextCheck:    now,
		RequestID:    req.RequestID,
		Identity:     req.Identity.String(),
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	b.State = BindingUnbinding
	b.OperationID, b.OperationType, b.OperationState = op.ID, OpUnbind, StateInProgress
	inst.UpdatedAt = now
	tx := Tx{Instances: []*Instance{&inst}, Bindings: []*Binding{&b}, Operations: supersede(&op, halted, now)}
	if retry, err := s.commit(ctx, tx, "unbind"); err != nil {
		return UnbindResult{}, retry, err
	}
	s.cfg.Logger.InfoContext(ctx, "unbind recorded", "instance_id", inst.ID, "binding_id", b.ID, "operation_id", op.ID,
		"workflow_id", workflow, "halted_bind", halted != nil, "request_id", req.RequestID, "identity", req.Identity.String())
	s.startAll(ctx, tx.Operations)
	return UnbindResult{Async: true, Operation: op.ID}, false, nil
}

// bindingLastOperation answers a binding's last_operation from broker state alone. The
// operation named by the platform answers, even after its binding is gone (a failed
// bind removes the binding; a finished unbind is a 410); without a name, the binding's
// current operation does, and a binding with shared credentials is always bound.
func (s *UseCases) bindingLastOperation(ctx context.Context, req LastOperationRequest) (LastOperation, error) {
	var op Operation
	if req.Operation != "" {
		found, err := s.store.GetOperation(ctx, req.Operation)
		switch {
		case err == nil && found.InstanceID == req.InstanceID && found.BindingID == req.BindingID:
			op = found
		case err != nil && !errors.Is(err, ErrNotFound):
			return LastOperation{}, fmt.Errorf("broker: read operation: %w", err)
		}
	}
	if op.ID == "" {
		b, err := s.store.GetBinding(ctx, req.InstanceID, req.BindingID)
		if errors.Is(err, ErrNotFound) {
			return LastOperation{}, Errorf(ENotFound, "binding %s does not exist", req.BindingID)
		}
		if err != nil {
			return LastOperation{}, fmt.Errorf("broker: read binding: %w", err)
		}
		if req.Operation != "" {
			name := req.Operation
			if len(name) > 64 {
				name = name[:64] + "..."
			}
			return LastOperation{}, Errorf(EInvalid, "operation %q is not an operation of binding %s", name, req.BindingID)
		}
		if b.OperationID == "" {
			return LastOperation{State: StateSucceeded, Description: "bound"}, nil
		}
		if op, err = s.store.GetOperation(ctx, b.OperationID); err != nil {
			return LastOperation{}, fmt.Errorf("broker: read operation: %w", err)
		}
	}
	if op.Type == OpUnbind && op.State == StateSucceeded {
		return LastOperation{}, Errorf(EGone, "binding %s is unbound", req.BindingID)
	}
	lo := LastOperation{State: op.State, Description: op.Description}
	if op.State == StateInProgress {
		lo.RetryAfter = s.retryAfter(op.NextCheck)
	}
	return lo, nil
}
