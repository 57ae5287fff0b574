package cloudify

import (
	"context"
	"net/http"
	"net/url"
)

// CreateDeploymentRequest is the body of PUT /deployments/{id}.
type CreateDeploymentRequest struct {
	// BlueprintID is required; a missing blueprint gives 404.
	BlueprintID string
	// Inputs are the deployment inputs; nil sends none.
	Inputs map[string]any
	// Visibility is "private", "tenant" or "global"; "" sends none (the
	// manager then uses "tenant").
	Visibility string
	// Labels are sent as [{"key": "value"}, ...] (5.1.1+); nil sends none.
	Labels []Label
	// DisplayName (6.0+) defaults to the id on the manager; "" sends none.
	DisplayName string
	// SkipPluginsValidation is always sent as a JSON boolean.
	SkipPluginsValidation bool
	// AsyncCreate sends ?async_create=true to managers >= 6.0, so the
	// call returns at once with a skeleton deployment whose
	// CreateExecution must then be observed. Older managers (and an
	// unknown version) never get the parameter; they return at once
	// anyway (4.x/5.x) or after the synchronous wait.
	AsyncCreate bool
}

// Deployment is a deployment resource (GET /deployments/{id},
// GET /deployments). Every field is optional: 5.1.1 adds Labels, 6.0 adds
// DisplayName and the status fields; a 6.0+ skeleton (async create still
// running) has nil Inputs and Workflows.
type Deployment struct {
	// ID is the deployment id.
	ID string `json:"id"`
	// BlueprintID is the blueprint the deployment was created from.
	BlueprintID string `json:"blueprint_id"`
	// DisplayName (6.0+) defaults to the id.
	DisplayName string `json:"display_name,omitempty"`
	// Description comes from the blueprint.
	Description string `json:"description"`
	// TenantName and CreatedBy name the owner.
	TenantName string `json:"tenant_name"`
	CreatedBy  string `json:"created_by"`
	// Visibility is "private", "tenant" or "global".
	Visibility string `json:"visibility"`
	// SiteName (5.0+) is the site the deployment belongs to.
	SiteName string `json:"site_name,omitempty"`
	// Inputs are the deployment inputs (nil in a 6.0+ skeleton).
	Inputs map[string]any `json:"inputs"`
	// Outputs and Capabilities are the unevaluated definitions; use
	// DeploymentOutputs and DeploymentCapabilities for values.
	Outputs      map[string]Output `json:"outputs,omitempty"`
	Capabilities map[string]Output `json:"capabilities,omitempty"`
	// Labels (5.1.1+) are the deployment labels.
	Labels []Label `json:"labels,omitempty"`
	// Workflows lists the deployment's workflows (single GET; nil in a
	// 6.0+ skeleton).
	Workflows []DeploymentWorkflow `json:"workflows,omitempty"`
	// InstallationStatus (6.0+) is "active" or "inactive".
	InstallationStatus string `json:"installation_status,omitempty"`
	// DeploymentStatus (6.0+) is "good", "in_progress" or
	// "requires_attention".
	DeploymentStatus string `json:"deployment_status,omitempty"`
	// CreateExecution (6.0+) is the id of the create_deployment_environment
	// execution.
	CreateExecution string `json:"create_execution,omitempty"`
	// LatestExecution (6.0+) is the id of the latest execution.
	LatestExecution string `json:"latest_execution,omitempty"`
	// LatestExecutionStatus (6.0+) is a summary: "completed", "failed",
	// "cancelled" or "in_progress".
	LatestExecutionStatus string `json:"latest_execution_status,omitempty"`
	// LatestExecutionWorkflowID (6.0+) is the workflow of the latest
	// execution.
	LatestExecutionWorkflowID string `json:"latest_execution_workflow_id,omitempty"`
	// CreatedAt and UpdatedAt are the manager's timestamps.
	CreatedAt Time `json:"created_at"`
	UpdatedAt Time `json:"updated_at"`
}

// DeploymentWorkflow is one entry of a deployment's workflows list. 4.x sends
// {name, created_at, parameters}; 6.4+/7.x send {name, plugin, operation,
// parameters, is_cascading, is_available, availability_rules}.
type DeploymentWorkflow struct {
	// Name is the workflow name, for example "install".
	Name string `json:"name"`
	// IsAvailable (6.4+) is nil when the manager does not report it.
	IsAvailable *bool `json:"is_available,omitempty"`
	// Parameters are the parameter definitions, shaped like inputs.
	Parameters map[string]Input `json:"parameters,omitempty"`
	// Plugin, Operation, IsCascading and AvailabilityRules are sent by
	// 6.x+/7.x managers.
	Plugin            string         `json:"plugin,omitempty"`
	Operation         string         `json:"operation,omitempty"`
	IsCascading       bool           `json:"is_cascading,omitempty"`
	AvailabilityRules map[string]any `json:"availability_rules,omitempty"`
	// CreatedAt is sent by 4.x managers (often null).
	CreatedAt Time `json:"created_at"`
}

// WorkflowAvailable reports whether the named workflow may be started now.
// known is true only when the manager stated it (is_available, 6.4+). For a
// listed workflow without is_available (before 6.4, where no availability
// rules exist) it returns (true, false); for a workflow that is not listed
// (or when workflows were not fetched) it returns (false, false).
func (d Deployment) WorkflowAvailable(name string) (available, known bool) {
	for _, w := range d.Workflows {
		if w.Name != name {
			continue
		}
		if w.IsAvailable == nil {
			return true, false
		}
		return *w.IsAvailable, true
	}
	return false, false
}

// Label returns the first value of the label key, and whether it is set.
func (d Deployment) Label(key string) (string, bool) {
	for _, l := range d.Labels {
		if l.Key == key {
			return l.Value, true
		}
	}
	return "", false
}

// DeleteDeploymentOptions are the options of DELETE /deployments/{id}.
type DeleteDeploymentOptions struct {
	// Force deletes despite live node instances or dependent deployments
	// (not despite active executions). Sent as force (5.1+) or
	// ignore_live_nodes (before 5.1).
	Force bool
	// DeleteLogs also deletes the deployment's logs (5.0+; not sent to
	// older managers).
	DeleteLogs bool
}

// createDeploymentBody is the wire form of CreateDeploymentRequest.
type createDeploymentBody struct {
	BlueprintID           string              `json:"blueprint_id"`
	Inputs                map[string]any      `json:"inputs,omitempty"`
	Visibility            string              `json:"visibility,omitempty"`
	Labels                []map[string]string `json:"labels,omitempty"`
	DisplayName           string              `json:"display_name,omitempty"`
	SkipPluginsValidation bool                `json:"skip_plugins_validation"`
}

// CreateDeployment creates a deployment with PUT /api/v3.1/deployments/{id}
// and returns the manager's answer (201).
//
// On 4.x/5.x the answer comes at once and create_deployment_environment runs
// afterwards; until it terminates, StartExecution fails with IsEnvNotReady.
// On 6.0+ the manager waits for that execution (up to 120 s) unless
// req.AsyncCreate is set, in which case a skeleton is returned and its
// CreateExecution must be observed with GetExecution.
//
// Errors: *APIError for a non-2xx answer: 409 (IsConflict) for an existing id,
// 404 for a missing blueprint, input errors (IsInputError), 400
// deployment_creation_error (IsDeploymentCreation) when the synchronous
// create failed on 6.0+, 500 when the synchronous wait ran out; a wrapped
// transport error otherwise. The version lookup (for async_create) may also
// fail with a transport error.
func (c *Client) CreateDeployment(ctx context.Context, id string, req CreateDeploymentRequest) (Deployment, error) {
	const op = "CreateDeployment"
	if err := needID(op, "deployment id", id); err != nil {
		return Deployment{}, err
	}
	var q url.Values
	if req.AsyncCreate {
		v, known, err := c.managerVersion(ctx)
		if err != nil {
			return Deployment{}, err
		}
		if known && v.AtLeast(6, 0, 0) {
			q = url.Values{"async_create": {"true"}}
		}
	}
	body := createDeploymentBody{
		BlueprintID:           req.BlueprintID,
		Inputs:                req.Inputs,
		Visibility:            req.Visibility,
		DisplayName:           req.DisplayName,
		SkipPluginsValidation: req.SkipPluginsValidation,
	}
	if len(req.Labels) > 0 {
		body.Labels = labelsWire(req.Labels)
	}
	var d Deployment
	if _, err := c.do(ctx, request{op: op, method: http.MethodPut, path: escapePath("deployments", id), query: q, body: body, out: &d}); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// GetDeployment returns one deployment, from GET /api/v3.1/deployments/{id},
// projected to the include fields when given. Errors: *APIError for a non-2xx
// answer (IsNotFound once a deployment is gone), a wrapped transport error
// otherwise.
func (c *Client) GetDeployment(ctx context.Context, id string, include ...string) (Deployment, error) {
	const op = "GetDeployment"
	if err := needID(op, "deployment id", id); err != nil {
		return Deployment{}, err
	}
	var d Deployment
	if _, err := c.do(ctx, request{op: op, method: http.MethodGet, path: escapePath("deployments", id), query: includeQuery(include), out: &d}); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// ListDeployments returns the deployments of the tenant, from GET
// /api/v3.1/deployments, reading every page (see ListOptions). Errors:
// *APIError for a non-2xx answer (400 bad_parameters_error for an unknown
// filter key), a wrapped transport error otherwise; no partial result is
// returned.
func (c *Client) ListDeployments(ctx context.Context, opts ListOptions) ([]Deployment, error) {
	return list[Deployment](ctx, c, "ListDeployments", http.MethodGet, "/deployments", opts, nil)
}

// searchBody is the body of POST /searches/{resource}.
type searchBody struct {
	FilterRules []FilterRule `json:"filter_rules"`
}

// SearchDeployments returns the deployments matching every filter rule, from
// POST /api/v3.1/searches/deployments with {"filter_rules": [...]} (6.x+),
// reading every page (see ListOptions; the body is repeated on each page).
// Errors: *APIError for a non-2xx answer (400 invalid_filter_rule for a bad
// rule, a non-JSON 404 on managers without the endpoint), a wrapped
// transport error otherwise.
func (c *Client) SearchDeployments(ctx context.Context, rules []FilterRule, opts ListOptions) ([]Deployment, error) {
	body := searchBody{FilterRules: rules}
	if body.FilterRules == nil {
		body.FilterRules = []FilterRule{}
	}
	return list[Deployment](ctx, c, "SearchDeployments", http.MethodPost, "/searches/deployments", opts, body)
}

// DeleteDeployment asks the manager to delete a deployment, with DELETE
// /api/v3.1/deployments/{id}. The query depends on the manager version:
// 5.1+ (and an unknown version) get force and delete_logs and answer 204;
// 4.4–5.0 get ignore_live_nodes (= opts.Force) and, from 5.0, delete_logs,
// and answer 200 with the deployment; earlier releases get
// ignore_live_nodes only. Any 2xx answer is success.
//
// Deletion is asynchronous from 4.4: the deployment stays readable until the
// delete_deployment_environment execution finishes. Completion is observed by
// calling GetDeployment until it fails with IsNotFound (404); a failed
// delete_deployment_environment execution leaves the deployment in place.
//
// Errors: *APIError for a non-2xx answer: 400 dependent_exists_error
// (IsDependentExists) for live nodes, dependents or active/queued executions,
// 404 (IsNotFound) when it does not exist; a wrapped transport error
// otherwise.
func (c *Client) DeleteDeployment(ctx context.Context, id string, opts DeleteDeploymentOptions) error {
	const op = "DeleteDeployment"
	if err := needID(op, "deployment id", id); err != nil {
		return err
	}
	v, known, err := c.managerVersion(ctx)
	if err != nil {
		return err
	}
	q := url.Values{}
	switch {
	case !known || v.AtLeast(5, 1, 0):
		q.Set("force", formatBool(opts.Force))
		q.Set("delete_logs", formatBool(opts.DeleteLogs))
	default:
		q.Set("ignore_live_nodes", formatBool(opts.Force))
		if v.AtLeast(5, 0, 0) {
			q.Set("delete_logs", formatBool(opts.DeleteLogs))
		}
	}
	_, err = c.do(ctx, request{op: op, method: http.MethodDelete, path: escapePath("deployments", id), query: q})
	return err
}

// labelsBody is the body of PATCH /deployments/{id}.
type labelsBody struct {
	Labels []map[string]string `json:"labels"`
}

// SetDeploymentLabels replaces the deployment's labels, with PATCH
// /api/v3.1/deployments/{id} and {"labels": [{"key": "value"}, ...]}
// (5.1.1+), and returns the updated deployment. An empty list removes every
// label. Errors: *APIError for a non-2xx answer (404 for a missing
// deployment, 400 bad_parameters_error for invalid keys or values), a
// wrapped transport error otherwise.
func (c *Client) SetDeploymentLabels(ctx context.Context, id string, labels []Label) (Deployment, error) {
	const op = "SetDeploymentLabels"
	if err := needID(op, "deployment id", id); err != nil {
		return Deployment{}, err
	}
	var d Deployment
	body := labelsBody{Labels: labelsWire(labels)}
	if _, err := c.do(ctx, request{op: op, method: http.MethodPatch, path: escapePath("deployments", id), body: body, out: &d}); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// outputsBody is the answer of GET /deployments/{id}/outputs and
// /capabilities.
type outputsBody struct {
	DeploymentID string         `json:"deployment_id"`
	Outputs      map[string]any `json:"outputs"`
	Capabilities map[string]any `json:"capabilities"`
}

// DeploymentOutputs returns the evaluated outputs of a deployment, from GET
// /api/v3.1/deployments/{id}/outputs ({"deployment_id", "outputs"}). The map
// is empty, not nil, when the deployment has none (or they are not set yet).
// Errors: *APIError for a non-2xx answer (404, 400
// deployment_outputs_evaluation_error), a wrapped transport error otherwise.
func (c *Client) DeploymentOutputs(ctx context.Context, id string) (map[string]any, error) {
	const op = "DeploymentOutputs"
	if err := needID(op, "deployment id", id); err != nil {
		return nil, err
	}
	var b outputsBody
	if _, err := c.do(ctx, request{op: op, method: http.MethodGet, path: escapePath("deployments", id, "outputs"), out: &b}); err != nil {
		return nil, err
	}
	if b.Outputs == nil {
		b.Outputs = map[string]any{}
	}
	return b.Outputs, nil
}

// DeploymentCapabilities returns the evaluated capabilities of a deployment,
// from GET /api/v3.1/deployments/{id}/capabilities ({"deployment_id",
// "capabilities"}, 4.5.5+). The map is empty, not nil, when there are none.
// Errors: *APIError for a non-2xx answer (404; IsRouteNotFound on managers
// before 4.5.5; 400 deployment_capabilities_evaluation_error), a wrapped
// transport error otherwise.
func (c *Client) DeploymentCapabilities(ctx context.Context, id string) (map[string]any, error) {
	const op = "DeploymentCapabilities"
	if err := needID(op, "deployment id", id); err != nil {
		return nil, err
	}
	var b outputsBody
	if _, err := c.do(ctx, request{op: op, method: http.MethodGet, path: escapePath("deployments", id, "capabilities"), out: &b}); err != nil {
		return nil, err
	}
	if b.Capabilities == nil {
		b.Capabilities = map[string]any{}
	}
	return b.Capabilities, nil
}
