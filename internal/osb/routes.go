package osb

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// Request bodies. Strings a platform may omit are plain strings (absent and null both
// read as ""); objects handed on to the broker stay raw.

type provisionBody struct {
	ServiceID        string                  `json:"service_id"`
	PlanID           string                  `json:"plan_id"`
	OrganizationGUID string                  `json:"organization_guid"`
	SpaceGUID        string                  `json:"space_guid"`
	Context          json.RawMessage         `json:"context"`
	Parameters       json.RawMessage         `json:"parameters"`
	MaintenanceInfo  *maintenanceInfoRequest `json:"maintenance_info"`
}

type updateBody struct {
	ServiceID       string                  `json:"service_id"`
	PlanID          string                  `json:"plan_id"`
	Parameters      json.RawMessage         `json:"parameters"`
	Context         json.RawMessage         `json:"context"`
	PreviousValues  *previousValuesJSON     `json:"previous_values"`
	MaintenanceInfo *maintenanceInfoRequest `json:"maintenance_info"`
}

type previousValuesJSON struct {
	ServiceID       string                  `json:"service_id"`
	PlanID          string                  `json:"plan_id"`
	OrganizationID  string                  `json:"organization_id"`
	SpaceID         string                  `json:"space_id"`
	MaintenanceInfo *maintenanceInfoRequest `json:"maintenance_info"`
}

type bindBody struct {
	ServiceID            string          `json:"service_id"`
	PlanID               string          `json:"plan_id"`
	AppGUID              string          `json:"app_guid"`
	BindResource         map[string]any  `json:"bind_resource"`
	Context              json.RawMessage `json:"context"`
	Parameters           json.RawMessage `json:"parameters"`
	PredecessorBindingID string          `json:"predecessor_binding_id"`
}

// Response bodies.

type provisionResponse struct {
	DashboardURL string `json:"dashboard_url,omitempty"`
	Operation    string `json:"operation,omitempty"`
}

type updateResponse struct {
	DashboardURL string `json:"dashboard_url,omitempty"`
	Operation    string `json:"operation,omitempty"`
}

type deprovisionResponse struct {
	Operation string `json:"operation,omitempty"`
}

type lastOperationResponse struct {
	State            broker.OperationState `json:"state"`
	Description      string                `json:"description,omitempty"`
	InstanceUsable   *bool                 `json:"instance_usable,omitempty"`
	UpdateRepeatable *bool                 `json:"update_repeatable,omitempty"`
}

type instanceResponse struct {
	ServiceID       string               `json:"service_id"`
	PlanID          string               `json:"plan_id"`
	DashboardURL    string               `json:"dashboard_url,omitempty"`
	Parameters      map[string]any       `json:"parameters,omitempty"`
	MaintenanceInfo *maintenanceInfoJSON `json:"maintenance_info,omitempty"`
}

type bindResponse struct {
	Credentials map[string]any       `json:"credentials"`
	Metadata    *bindingMetadataJSON `json:"metadata,omitempty"`
}

// asyncBindResponse is the 202 of an asynchronous bind or unbind.
type asyncBindResponse struct {
	Operation string `json:"operation,omitempty"`
}

type bindingResponse struct {
	Credentials map[string]any       `json:"credentials"`
	Parameters  map[string]any       `json:"parameters,omitempty"`
	Metadata    *bindingMetadataJSON `json:"metadata,omitempty"`
}

// bindingMetadataJSON is OSB's binding metadata object; times in ISO 8601 UTC with
// fractional seconds, as OSB spells them (yyyy-mm-ddThh:mm:ss.sZ).
type bindingMetadataJSON struct {
	ExpiresAt   string `json:"expires_at,omitempty"`
	RenewBefore string `json:"renew_before,omitempty"`
}

// bindingMetadata renders metadata; nil when it says nothing.
func bindingMetadata(m broker.BindingMetadata) *bindingMetadataJSON {
	if m.ExpiresAt.IsZero() && m.RenewBefore.IsZero() {
		return nil
	}
	const layout = "2006-01-02T15:04:05.000Z"
	out := &bindingMetadataJSON{}
	if !m.ExpiresAt.IsZero() {
		out.ExpiresAt = m.ExpiresAt.UTC().Format(layout)
	}
	if !m.RenewBefore.IsZero() {
		out.RenewBefore = m.RenewBefore.UTC().Format(layout)
	}
	return out
}

// emptyObject is OSB's `{}` body.
type emptyObject struct{}

// nonNil returns m, or an empty map so that it renders as {} rather than null.
func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// provision serves PUT /v2/service_instances/{instance_id}.
func (h *handler) provision(x *exchange) (int, any, error) {
	_, async, err := parseAsyncQuery(x.r)
	if err != nil {
		return 0, nil, err
	}
	body, err := decodeBody[provisionBody](h, x)
	if err != nil {
		return 0, nil, err
	}
	req := broker.ProvisionRequest{
		RequestInfo:       x.info,
		InstanceID:        x.instanceID,
		ServiceID:         body.ServiceID,
		PlanID:            body.PlanID,
		OrganizationGUID:  body.OrganizationGUID,
		SpaceGUID:         body.SpaceGUID,
		AcceptsIncomplete: async,
	}
	if err := requireFields("service_id", req.ServiceID, "plan_id", req.PlanID); err != nil {
		return 0, nil, err
	}
	if req.Context, err = checkContext(body.Context, x.info.Identity); err != nil {
		return 0, nil, err
	}
	if req.Parameters, err = objectField("parameters", body.Parameters); err != nil {
		return 0, nil, err
	}
	if req.MaintenanceInfo, err = body.MaintenanceInfo.toBroker("maintenance_info", true); err != nil {
		return 0, nil, err
	}
	// organization_guid and space_guid are deprecated in favour of context; see the
	// package doc for why they are required only without it.
	if req.Context == nil {
		if err := requireFields("organization_guid", req.OrganizationGUID, "space_guid", req.SpaceGUID); err != nil {
			return 0, nil, invalid("%s when context is absent", broker.ErrorMessage(err))
		}
	}
	res, err := h.b.Provision(x.r.Context(), req)
	if err != nil {
		return 0, nil, err
	}
	return asyncStatus(res.Async), provisionResponse{DashboardURL: res.DashboardURL, Operation: res.Operation}, nil
}

// update serves PATCH /v2/service_instances/{instance_id}.
func (h *handler) update(x *exchange) (int, any, error) {
	_, async, err := parseAsyncQuery(x.r)
	if err != nil {
		return 0, nil, err
	}
	body, err := decodeBody[updateBody](h, x)
	if err != nil {
		return 0, nil, err
	}
	req := broker.UpdateRequest{
		RequestInfo:       x.info,
		InstanceID:        x.instanceID,
		ServiceID:         body.ServiceID,
		PlanID:            body.PlanID,
		AcceptsIncomplete: async,
	}
	if err := requireFields("service_id", req.ServiceID); err != nil {
		return 0, nil, err
	}
	if req.Context, err = checkContext(body.Context, x.info.Identity); err != nil {
		return 0, nil, err
	}
	if req.Parameters, err = objectField("parameters", body.Parameters); err != nil {
		return 0, nil, err
	}
	if req.MaintenanceInfo, err = body.MaintenanceInfo.toBroker("maintenance_info", true); err != nil {
		return 0, nil, err
	}
	if pv := body.PreviousValues; pv != nil {
		req.PreviousValues = &broker.PreviousValues{
			ServiceID:      pv.ServiceID,
			PlanID:         pv.PlanID,
			OrganizationID: pv.OrganizationID,
			SpaceID:        pv.SpaceID,
		}
		// previous_values only informs: its maintenance_info is not held to the rules
		// of a new one.
		req.PreviousValues.MaintenanceInfo, _ = pv.MaintenanceInfo.toBroker("previous_values.maintenance_info", false)
	}
	res, err := h.b.Update(x.r.Context(), req)
	if err != nil {
		return 0, nil, err
	}
	return asyncStatus(res.Async), updateResponse{DashboardURL: res.DashboardURL, Operation: res.Operation}, nil
}

// deprovision serves DELETE /v2/service_instances/{instance_id}.
func (h *handler) deprovision(x *exchange) (int, any, error) {
	q, async, err := parseAsyncQuery(x.r)
	if err != nil {
		return 0, nil, err
	}
	if err := q.require("service_id", "plan_id"); err != nil {
		return 0, nil, err
	}
	res, err := h.b.Deprovision(x.r.Context(), broker.DeprovisionRequest{
		RequestInfo:       x.info,
		InstanceID:        x.instanceID,
		ServiceID:         q.get("service_id"),
		PlanID:            q.get("plan_id"),
		AcceptsIncomplete: async,
	})
	if err != nil {
		return 0, nil, err
	}
	if res.Async {
		return http.StatusAccepted, deprovisionResponse{Operation: res.Operation}, nil
	}
	return http.StatusOK, emptyObject{}, nil
}

// fetchInstance serves GET /v2/service_instances/{instance_id}.
func (h *handler) fetchInstance(x *exchange) (int, any, error) {
	q, err := parseQuery(x.r)
	if err != nil {
		return 0, nil, err
	}
	d, err := h.b.FetchInstance(x.r.Context(), broker.FetchInstanceRequest{
		RequestInfo: x.info,
		InstanceID:  x.instanceID,
		ServiceID:   q.get("service_id"),
		PlanID:      q.get("plan_id"),
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, instanceResponse{
		ServiceID:       d.ServiceID,
		PlanID:          d.PlanID,
		DashboardURL:    d.DashboardURL,
		Parameters:      d.Parameters,
		MaintenanceInfo: maintenanceInfoFrom(d.MaintenanceInfo),
	}, nil
}

// lastOperation serves GET /v2/service_instances/{instance_id}/last_operation and
// GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation
// (x.binding is empty for the instance route). The query's operation is passed on untouched, whatever it holds: it is
// the broker's own value coming back.
func (h *handler) lastOperation(x *exchange) (int, any, error) {
	serviceID, planID, operation, err := lastOperationQuery(x.r)
	if err != nil {
		return 0, nil, err
	}
	op, err := h.b.LastOperation(x.r.Context(), broker.LastOperationRequest{
		RequestInfo: x.info,
		InstanceID:  x.instanceID,
		BindingID:   x.binding,
		ServiceID:   serviceID,
		PlanID:      planID,
		Operation:   operation,
	})
	if err != nil {
		return 0, nil, err
	}
	if op.RetryAfter > 0 {
		x.w.Header()[headerRetryAfter] = retryAfterHeader(op.RetryAfter)
	}
	resp := lastOperationResponse{State: op.State, Description: op.Description}
	// OSB defines instance_usable and update_repeatable for instances only.
	if x.binding == "" {
		resp.InstanceUsable, resp.UpdateRepeatable = op.InstanceUsable, op.UpdateRepeatable
	}
	x.body = appendLastOperation(x.buf[:0], resp)
	return http.StatusOK, &x.body, nil
}

// bind serves PUT /v2/service_instances/{instance_id}/service_bindings/{binding_id}.
func (h *handler) bind(x *exchange) (int, any, error) {
	_, async, err := parseAsyncQuery(x.r)
	if err != nil {
		return 0, nil, err
	}
	body, err := decodeBody[bindBody](h, x)
	if err != nil {
		return 0, nil, err
	}
	req := broker.BindRequest{
		RequestInfo:          x.info,
		InstanceID:           x.instanceID,
		BindingID:            x.binding,
		ServiceID:            body.ServiceID,
		PlanID:               body.PlanID,
		AppGUID:              body.AppGUID,
		BindResource:         body.BindResource,
		PredecessorBindingID: body.PredecessorBindingID,
		AcceptsIncomplete:    async,
	}
	// The top-level app_guid is deprecated in favour of bind_resource.app_guid.
	if req.AppGUID == "" {
		if s, ok := body.BindResource["app_guid"].(string); ok {
			req.AppGUID = s
		}
	}
	if err := requireFields("service_id", req.ServiceID, "plan_id", req.PlanID); err != nil {
		return 0, nil, err
	}
	if req.Context, err = checkContext(body.Context, x.info.Identity); err != nil {
		return 0, nil, err
	}
	if req.Parameters, err = objectField("parameters", body.Parameters); err != nil {
		return 0, nil, err
	}
	res, err := h.b.Bind(x.r.Context(), req)
	if err != nil {
		return 0, nil, err
	}
	if res.Async {
		return http.StatusAccepted, asyncBindResponse{Operation: res.Operation}, nil
	}
	status := http.StatusCreated
	if res.Existing {
		status = http.StatusOK
	}
	return status, bindResponse{Credentials: nonNil(res.Credentials), Metadata: bindingMetadata(res.Metadata)}, nil
}

// fetchBinding serves GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}.
func (h *handler) fetchBinding(x *exchange) (int, any, error) {
	q, err := parseQuery(x.r)
	if err != nil {
		return 0, nil, err
	}
	d, err := h.b.FetchBinding(x.r.Context(), broker.FetchBindingRequest{
		RequestInfo: x.info,
		InstanceID:  x.instanceID,
		BindingID:   x.binding,
		ServiceID:   q.get("service_id"),
		PlanID:      q.get("plan_id"),
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, bindingResponse{Credentials: nonNil(d.Credentials), Parameters: d.Parameters, Metadata: bindingMetadata(d.Metadata)}, nil
}

// unbind serves DELETE /v2/service_instances/{instance_id}/service_bindings/{binding_id}.
func (h *handler) unbind(x *exchange) (int, any, error) {
	q, async, err := parseAsyncQuery(x.r)
	if err != nil {
		return 0, nil, err
	}
	if err := q.require("service_id", "plan_id"); err != nil {
		return 0, nil, err
	}
	res, err := h.b.Unbind(x.r.Context(), broker.UnbindRequest{
		RequestInfo:       x.info,
		InstanceID:        x.instanceID,
		BindingID:         x.binding,
		ServiceID:         q.get("service_id"),
		PlanID:            q.get("plan_id"),
		AcceptsIncomplete: async,
	})
	if err != nil {
		return 0, nil, err
	}
	if res.Async {
		return http.StatusAccepted, asyncBindResponse{Operation: res.Operation}, nil
	}
	return http.StatusOK, emptyObject{}, nil
}

// requireFields takes name, value pairs and refuses the empty values, naming them.
func requireFields(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			missing = append(missing, pairs[i])
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return invalid("field %s is required", missing[0])
	}
	return invalid("fields %s are required", strings.Join(missing, " and "))
}
