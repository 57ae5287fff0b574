package cloudify

import (
	"context"
	"net/http"
)

// Deployment update states.
const (
	// UpdateSuccessful is the state of an update whose workflow terminated.
	UpdateSuccessful = "successful"
	// UpdateFailed is the state of an update whose workflow failed or was
	// cancelled.
	UpdateFailed = "failed"
)

// UpdateDeploymentRequest is the body of
// /deployment-updates/{deployment_id}/update/initiate. Every field is
// optional; omitting BlueprintID keeps the current blueprint, and Inputs are
// merged over the existing inputs.
type UpdateDeploymentRequest struct {
	// BlueprintID moves the deployment to another uploaded blueprint.
	BlueprintID string
	// Inputs are the changed inputs; nil sends none.
	Inputs map[string]any
	// SkipInstall skips installing added instances.
	SkipInstall bool
	// SkipUninstall skips removing removed instances.
	SkipUninstall bool
	// SkipReinstall skips reinstalling modified instances.
	SkipReinstall bool
	// Force ignores stale active updates (4.4–6.3); on 7.x it is passed to
	// the update execution.
	Force bool
	// IgnoreFailure ignores failures while uninstalling.
	IgnoreFailure bool
	// InstallFirst installs new instances before removing old ones.
	InstallFirst bool
	// ReinstallList names instances to reinstall anyway; nil sends none.
	ReinstallList []string
}

// updateBody is the wire form of UpdateDeploymentRequest; the booleans are
// always sent as JSON booleans.
type updateBody struct {
	BlueprintID   string         `json:"blueprint_id,omitempty"`
	Inputs        map[string]any `json:"inputs,omitempty"`
	SkipInstall   bool           `json:"skip_install"`
	SkipUninstall bool           `json:"skip_uninstall"`
	SkipReinstall bool           `json:"skip_reinstall"`
	Force         bool           `json:"force"`
	IgnoreFailure bool           `json:"ignore_failure"`
	InstallFirst  bool           `json:"install_first"`
	ReinstallList []string       `json:"reinstall_list,omitempty"`
}

// DeploymentUpdate is a deployment-update resource. Track its progress
// through the execution ExecutionID, then check that State is "successful".
type DeploymentUpdate struct {
	// ID is the update id, "<deployment id>-<uuid>".
	ID string `json:"id"`
	// DeploymentID is the updated deployment.
	DeploymentID string `json:"deployment_id"`
	// OldBlueprintID and NewBlueprintID are the blueprints before and
	// after the update.
	OldBlueprintID string `json:"old_blueprint_id"`
	NewBlueprintID string `json:"new_blueprint_id"`
	// State is "updating", "executing_workflow", "finalizing",
	// "successful", "failed" or "preview".
	State string `json:"state"`
	// ExecutionID is the execution that performs the update.
	ExecutionID string `json:"execution_id"`
	// OldInputs and NewInputs are the inputs before and after (merged).
	OldInputs map[string]any `json:"old_inputs"`
	NewInputs map[string]any `json:"new_inputs"`
	// CreatedAt is the manager's timestamp.
	CreatedAt Time `json:"created_at"`
	// CreatedBy, TenantName and Visibility describe the owner.
	CreatedBy  string `json:"created_by,omitempty"`
	TenantName string `json:"tenant_name,omitempty"`
	Visibility string `json:"visibility,omitempty"`
}

// UpdateDeployment starts a deployment update with
// /api/v3.1/deployment-updates/{deployment_id}/update/initiate and returns it
// (200). The method depends on the manager version: PUT up to 6.3, POST from
// 6.4 (PUT is gone in 7.0). When the version is unknown the client sends PUT,
// which every release up to 6.4 accepts, and on a 405 answer (7.0+) repeats the
// request with POST. (POST first would not do: 4.4–6.3 have a POST route there,
// the legacy archive upload, which answers 400 to a JSON body.) The update runs
// asynchronously; follow its ExecutionID.
//
// Errors: *APIError for a non-2xx answer: 409 conflict_error (IsConflict) on
// 4.4–6.3 while another update is active, 404 for a missing deployment or
// blueprint, input errors; a wrapped transport error otherwise. The version
// lookup may also fail with a transport error.
func (c *Client) UpdateDeployment(ctx context.Context, deploymentID string, req UpdateDeploymentRequest) (DeploymentUpdate, error) {
	const op = "UpdateDeployment"
	if err := needID(op, "deployment id", deploymentID); err != nil {
		return DeploymentUpdate{}, err
	}
	v, known, err := c.managerVersion(ctx)
	if err != nil {
		return DeploymentUpdate{}, err
	}
	// Same fields as the request, with JSON tags.
	body := updateBody(req)
	r := request{op: op, path: escapePath("deployment-updates", deploymentID, "update", "initiate"), body: body}
	var u DeploymentUpdate
	r.out = &u
	switch {
	case known && !v.AtLeast(6, 4, 0):
		r.method = http.MethodPut
		_, err = c.do(ctx, r)
	case known:
		r.method = http.MethodPost
		_, err = c.do(ctx, r)
	default:
		r.method = http.MethodPut
		_, err = c.do(ctx, r)
		if e, ok := apiError(err); ok && e.Status == http.StatusMethodNotAllowed {
			u = DeploymentUpdate{}
			r.method = http.MethodPost
			_, err = c.do(ctx, r)
		}
	}
	if err != nil {
		return DeploymentUpdate{}, err
	}
	return u, nil
}

// GetDeploymentUpdate returns one deployment update, from GET
// /api/v3.1/deployment-updates/{id}. Errors: *APIError for a non-2xx answer
// (IsNotFound), a wrapped transport error otherwise.
func (c *Client) GetDeploymentUpdate(ctx context.Context, id string) (DeploymentUpdate, error) {
	const op = "GetDeploymentUpdate"
	if err := needID(op, "deployment update id", id); err != nil {
		return DeploymentUpdate{}, err
	}
	var u DeploymentUpdate
	if _, err := c.do(ctx, request{op: op, method: http.MethodGet, path: escapePath("deployment-updates", id), out: &u}); err != nil {
		return DeploymentUpdate{}, err
	}
	return u, nil
}

// ListDeploymentUpdates returns deployment updates, from GET
// /api/v3.1/deployment-updates, reading every page (see ListOptions; filter
// with deployment_id). Errors: *APIError for a non-2xx answer, a wrapped
// transport error otherwise; no partial result is returned.
func (c *Client) ListDeploymentUpdates(ctx context.Context, opts ListOptions) ([]DeploymentUpdate, error) {
	return list[DeploymentUpdate](ctx, c, "ListDeploymentUpdates", http.MethodGet, "/deployment-updates", opts, nil)
}
