package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Bind creates a binding whose credentials come from the deployment's capabilities
// and outputs, mapped per the service's credentials mapping
// (PUT /v2/service_instances/:instance_id/service_bindings/:binding_id). Binding is
// synchronous: nothing changes on the Cloudify side. The credentials are not stored.
// The service_id and plan_id must be the instance's (400 otherwise, nothing stored).
func (s *UseCases) Bind(ctx context.Context, req BindRequest) (BindResult, error) {
	for _, id := range [][2]string{{"instance_id", req.InstanceID}, {"binding_id", req.BindingID}, {"service_id", req.ServiceID}, {"plan_id", req.PlanID}} {
		if err := ValidateID(id[0], id[1]); err != nil {
			return BindResult{}, err
		}
	}
	if req.PredecessorBindingID != "" {
		return BindResult{}, Errorf(EUnprocessable, "binding rotation is not supported by this broker's plans")
	}
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	if errors.Is(err, ErrNotFound) || err == nil && inst.State == InstanceGone {
		return BindResult{}, Errorf(ENotFound, "instance %s does not exist", req.InstanceID)
	}
	if err != nil {
		return BindResult{}, fmt.Errorf("broker: read instance: %w", err)
	}
	if err := s.checkInstanceIDs(ctx, inst, req.ServiceID, req.PlanID); err != nil {
		return BindResult{}, err
	}
	if inst.Busy() {
		return BindResult{}, Errorf(EConcurrency, "a %s is in progress", inst.OperationType)
	}
	if inst.State != InstanceReady {
		return BindResult{}, Errorf(EUnprocessable, "instance %s is %s and cannot be bound", inst.ID, inst.State)
	}
	svc, plan, err := s.lookupPlan(ctx, inst.ServiceID, inst.PlanID)
	if err != nil {
		return BindResult{}, Errorf(EUnprocessable, "the instance's plan %q is no longer in the catalog", inst.PlanID)
	}
	if !svc.PlanBindable(plan) {
		return BindResult{}, Errorf(EUnprocessable, "plan %q of service %q is not bindable", plan.Name, svc.Name)
	}
	params, err := decodeParameters("parameters", req.Parameters)
	if err != nil {
		return BindResult{}, err
	}
	if len(plan.BindSchema) > 0 {
		if err := s.schemas.validateParameters("parameters", plan.BindSchema, req.Parameters); err != nil {
			return BindResult{}, err
		}
	} else if len(params) > 0 {
		return BindResult{}, Errorf(EInvalid, "plan %q takes no binding parameters", plan.Name)
	}
	appGUID := req.AppGUID
	if v, ok := req.BindResource["app_guid"].(string); ok && appGUID == "" {
		appGUID = v
	}
	fp := fingerprint("bind", req.ServiceID, req.PlanID, appGUID, req.Parameters)

	existing, err := s.store.GetBinding(ctx, req.InstanceID, req.BindingID)
	switch {
	case err == nil:
		if existing.Fingerprint != fp {
			return BindResult{}, Errorf(EConflict, "binding %s exists with other attributes", req.BindingID)
		}
		creds, err := s.credentials(ctx, svc, inst)
		if err != nil {
			return BindResult{}, err
		}
		return BindResult{Existing: true, Credentials: creds}, nil
	case !errors.Is(err, ErrNotFound):
		return BindResult{}, fmt.Errorf("broker: read binding: %w", err)
	}
	creds, err := s.credentials(ctx, svc, inst)
	if err != nil {
		return BindResult{}, err
	}
	sealedParams, err := s.sealJSON(params)
	if err != nil {
		return BindResult{}, err
	}
	b := Binding{
		InstanceID: inst.ID, ID: req.BindingID, ServiceID: inst.ServiceID, PlanID: inst.PlanID,
		AppGUID: appGUID, Fingerprint: fp, Parameters: sealedParams, Context: req.Context, CreatedAt: s.now(),
	}
	// The instance is part of the transaction so that a bind cannot slip in while a
	// deprovision is being recorded.
	inst.UpdatedAt = s.now()
	if err := s.store.Commit(ctx, Tx{Instances: []*Instance{&inst}, Bindings: []*Binding{&b}}); err != nil {
		if errors.Is(err, ErrConflict) {
			again, gerr := s.store.GetBinding(ctx, req.InstanceID, req.BindingID)
			if gerr == nil && again.Fingerprint == fp {
				return BindResult{Existing: true, Credentials: creds}, nil
			}
			if gerr == nil {
				return BindResult{}, Errorf(EConflict, "binding %s exists with other attributes", req.BindingID)
			}
			return BindResult{}, Errorf(EConcurrency, "the instance changed while binding; try again")
		}
		return BindResult{}, fmt.Errorf("broker: record binding: %w", err)
	}
	s.cfg.Logger.InfoContext(ctx, "binding created", "instance_id", inst.ID, "binding_id", b.ID,
		"deployment_id", inst.DeploymentID, "credential_keys", len(creds), "request_id", req.RequestID, "identity", req.Identity.String())
	return BindResult{Credentials: creds}, nil
}

// credentials reads the deployment's values and maps them.
func (s *UseCases) credentials(ctx context.Context, svc Service, inst Instance) (map[string]any, error) {
	caps, outs, err := s.creds.DeploymentValues(ctx, inst.DeploymentID)
	if err != nil {
		if ErrorCode(err) != "" {
			return nil, err
		}
		return nil, fmt.Errorf("broker: read deployment values: %w", err)
	}
	return MapCredentials(svc.Credentials, caps, outs), nil
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
// (GET .../service_bindings/:binding_id).
func (s *UseCases) FetchBinding(ctx context.Context, req FetchBindingRequest) (BindingDetails, error) {
	b, err := s.store.GetBinding(ctx, req.InstanceID, req.BindingID)
	if errors.Is(err, ErrNotFound) {
		return BindingDetails{}, Errorf(ENotFound, "binding %s does not exist", req.BindingID)
	}
	if err != nil {
		return BindingDetails{}, fmt.Errorf("broker: read binding: %w", err)
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
	creds, err := s.credentials(ctx, svc, inst)
	if err != nil {
		return BindingDetails{}, err
	}
	d := BindingDetails{Credentials: creds}
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

// Unbind deletes a binding (DELETE .../service_bindings/:binding_id). Nothing changes
// on Cloudify. An unknown binding is a 410 whatever the ids; a service_id or plan_id
// that is not the instance's is a 400 and the binding stays.
func (s *UseCases) Unbind(ctx context.Context, req UnbindRequest) error {
	b, err := s.store.GetBinding(ctx, req.InstanceID, req.BindingID)
	if errors.Is(err, ErrNotFound) {
		return Errorf(EGone, "binding %s does not exist", req.BindingID)
	}
	if err != nil {
		return fmt.Errorf("broker: read binding: %w", err)
	}
	inst, err := s.store.GetInstance(ctx, req.InstanceID)
	switch {
	case errors.Is(err, ErrNotFound):
		// A binding that outlived its instance record is checked against what it
		// recorded.
		inst = Instance{ID: req.InstanceID, ServiceID: b.ServiceID, PlanID: b.PlanID}
	case err != nil:
		return fmt.Errorf("broker: read instance: %w", err)
	}
	if err := s.checkInstanceIDs(ctx, inst, req.ServiceID, req.PlanID); err != nil {
		return err
	}
	if err := s.store.Commit(ctx, Tx{DeleteBindings: []*Binding{&b}}); err != nil {
		if errors.Is(err, ErrConflict) {
			return Errorf(EGone, "binding %s does not exist", req.BindingID)
		}
		return fmt.Errorf("broker: delete binding: %w", err)
	}
	s.cfg.Logger.InfoContext(ctx, "binding deleted", "instance_id", req.InstanceID, "binding_id", req.BindingID, "request_id", req.RequestID)
	return nil
}
