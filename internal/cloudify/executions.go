package cloudify

import (
	"context"
	"net/http"
	"strings"
)

// ExecutionStatus is the status of an execution.
type ExecutionStatus string

// Execution statuses. Terminated, Failed and Cancelled are end states;
// Pending, Started and the three cancelling states are active (they block
// other executions of the deployment); Queued (4.5+) and Scheduled (4.5.5+)
// are waiting.
const (
	// Pending means the execution was created and waits for the workflow worker.
	Pending ExecutionStatus = "pending"
	// Started means the workflow is running.
	Started ExecutionStatus = "started"
	// Cancelling means a cooperative cancel was requested.
	Cancelling ExecutionStatus = "cancelling"
	// ForceCancelling means a forced cancel was requested.
	ForceCancelling ExecutionStatus = "force_cancelling"
	// KillCancelling means a kill was requested (4.4+).
	KillCancelling ExecutionStatus = "kill_cancelling"
	// Queued means the execution was accepted with queue=true and waits for
	// the deployment to be free (4.5+).
	Queued ExecutionStatus = "queued"
	// Scheduled means the execution waits for its scheduled time (4.5.5+).
	Scheduled ExecutionStatus = "scheduled"
	// Terminated means the execution ended successfully.
	Terminated ExecutionStatus = "terminated"
	// Failed means the execution ended with an error.
	Failed ExecutionStatus = "failed"
	// Cancelled means the execution ended because of a cancel request.
	Cancelled ExecutionStatus = "cancelled"
)

// Terminal reports whether s is an end state: terminated, failed or
// cancelled.
func (s ExecutionStatus) Terminal() bool {
	return s == Terminated || s == Failed || s == Cancelled
}

// Succeeded reports whether s is terminated, the only successful end state.
func (s ExecutionStatus) Succeeded() bool { return s == Terminated }

// Active reports whether s is pending, started or one of the cancelling
// states, the states that block other executions of the deployment.
func (s ExecutionStatus) Active() bool {
	switch s {
	case Pending, Started, Cancelling, ForceCancelling, KillCancelling:
		return true
	}
	return false
}

// Waiting reports whether s is queued or scheduled.
func (s ExecutionStatus) Waiting() bool { return s == Queued || s == Scheduled }

// Execution is an execution resource (POST /executions, GET /executions/{id},
// GET /executions). Every field is optional: 4.4 adds EndedAt and IsDryRun,
// 4.5 StartedAt, 6.0 StatusDisplay and the operation counters.
type Execution struct {
	// ID is the execution id.
	ID string `json:"id"`
	// WorkflowID is the workflow name, for example "install".
	WorkflowID string `json:"workflow_id"`
	// DeploymentID and BlueprintID name what the execution runs on
	// (empty for system-wide executions).
	DeploymentID string `json:"deployment_id"`
	BlueprintID  string `json:"blueprint_id"`
	// Status is the execution status.
	Status ExecutionStatus `json:"status"`
	// StatusDisplay (6.0+) is "completed" for terminated, else Status.
	StatusDisplay string `json:"status_display,omitempty"`
	// Error is "" (or null) unless the execution failed; see ErrorSummary.
	Error string `json:"error"`
	// Parameters are the workflow parameters, defaults filled in.
	Parameters map[string]any `json:"parameters"`
	// IsSystemWorkflow marks system-wide executions (snapshots, ...);
	// create/delete_deployment_environment are not flagged.
	IsSystemWorkflow bool `json:"is_system_workflow"`
	// IsDryRun (4.4+) marks dry runs.
	IsDryRun bool `json:"is_dry_run"`
	// CreatedBy and TenantName name the owner.
	CreatedBy  string `json:"created_by,omitempty"`
	TenantName string `json:"tenant_name,omitempty"`
	// TotalOperations and FinishedOperations (6.0+) show progress.
	TotalOperations    int `json:"total_operations,omitempty"`
	FinishedOperations int `json:"finished_operations,omitempty"`
	// CreatedAt, StartedAt (4.5+) and EndedAt (4.4+) are zero until set.
	CreatedAt Time `json:"created_at"`
	StartedAt Time `json:"started_at"`
	EndedAt   Time `json:"ended_at"`
	// ScheduledFor (4.5.5+) is the scheduled start of a scheduled
	// execution.
	ScheduledFor Time `json:"scheduled_for"`
}

// maxErrorSummary is the length limit, in characters, of ErrorSummary.
const maxErrorSummary = 500

// ErrorSummary returns the last non-empty line of Error, trimmed and cut to
// 500 characters; the manager uses that line as its own short reason. It
// returns "" when Error is empty.
func (e Execution) ErrorSummary() string {
	lines := strings.Split(e.Error, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if r := []rune(l); len(r) > maxErrorSummary {
			l = string(r[:maxErrorSummary])
		}
		return l
	}
	return ""
}

// StartExecutionRequest is the body of POST /executions.
type StartExecutionRequest struct {
	DeploymentID string
	WorkflowID   string
	// Parameters are the workflow parameters; nil sends none.
	Parameters map[string]any
	// AllowCustomParameters accepts parameters the workflow does not
	// declare.
	AllowCustomParameters bool
	// Force runs despite other active executions (and, 6.4+, despite the
	// availability rules and dependents).
	Force bool
	// DryRun logs operations without running them (4.4+).
	DryRun bool
	// Queue makes a busy deployment queue the execution instead of failing
	// with existing_running_execution_error (4.5+).
	Queue bool
}

// startExecutionBody is the wire form of StartExecutionRequest; the booleans
// are always sent as JSON booleans.
type startExecutionBody struct {
	DeploymentID          string         `json:"deployment_id"`
	WorkflowID            string         `json:"workflow_id"`
	Parameters            map[string]any `json:"parameters,omitempty"`
	AllowCustomParameters bool           `json:"allow_custom_parameters"`
	Force                 bool           `json:"force"`
	DryRun                bool           `json:"dry_run"`
	Queue                 bool           `json:"queue"`
}

// StartExecution starts a workflow with POST /api/v3.1/executions and returns
// the new execution (201, status pending or queued). It does not wait.
//
// Errors: *APIError for a non-2xx answer: IsRunningExecution (another
// execution is active), IsEnvNotReady (create_deployment_environment has not
// finished: retry later), IsDeploymentCreation (it failed), 400
// nonexistent_workflow_error, IsUnavailableWorkflow (6.4+), 400
// illegal_execution_parameters_error, 404 for a missing deployment; a wrapped
// transport error otherwise.
func (c *Client) StartExecution(ctx context.Context, req StartExecutionRequest) (Execution, error) {
	const op = "StartExecution"
	if err := needID(op, "deployment id", req.DeploymentID); err != nil {
		return Execution{}, err
	}
	if err := needID(op, "workflow id", req.WorkflowID); err != nil {
		return Execution{}, err
	}
	// Same fields as the request, with JSON tags.
	body := startExecutionBody(req)
	var e Execution
	if _, err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/executions", body: body, out: &e}); err != nil {
		return Execution{}, err
	}
	return e, nil
}

// GetExecution returns one execution, from GET /api/v3.1/executions/{id},
// projected to the include fields when given (for example "id", "status",
// "error", "ended_at" when polling). Errors: *APIError for a non-2xx answer
// (IsNotFound), a wrapped transport error otherwise.
func (c *Client) GetExecution(ctx context.Context, id string, include ...string) (Execution, error) {
	const op = "GetExecution"
	if err := needID(op, "execution id", id); err != nil {
		return Execution{}, err
	}
	var e Execution
	if _, err := c.do(ctx, request{op: op, method: http.MethodGet, path: escapePath("executions", id), query: includeQuery(include), out: &e}); err != nil {
		return Execution{}, err
	}
	return e, nil
}

// ListExecutions returns executions, from GET /api/v3.1/executions, reading
// every page (see ListOptions). Typical filters are deployment_id,
// workflow_id and status; Sort {"-created_at"} with Limit 1 finds the latest.
// Errors: *APIError for a non-2xx answer, a wrapped transport error
// otherwise; no partial result is returned.
func (c *Client) ListExecutions(ctx context.Context, opts ListOptions) ([]Execution, error) {
	return list[Execution](ctx, c, "ListExecutions", http.MethodGet, "/executions", opts, nil)
}

// CancelAction is the action sent to POST /executions/{id}.
type CancelAction string

// Cancel actions.
const (
	// Cancel asks the workflow to stop cooperatively.
	Cancel CancelAction = "cancel"
	// ForceCancel stops the workflow process.
	ForceCancel CancelAction = "force-cancel"
	// Kill also kills running operation processes (4.4+).
	Kill CancelAction = "kill"
)

// cancelBody is the body of POST /executions/{id}.
type cancelBody struct {
	Action CancelAction `json:"action"`
}

// CancelExecution requests cancellation with POST /api/v3.1/executions/{id}
// and {"action": "cancel"|"force-cancel"|"kill"}, and returns the execution,
// now cancelling, force_cancelling or kill_cancelling. Cancellation is
// asynchronous: the execution later becomes cancelled (or, for a plain
// cancel the workflow ignores, terminated); observe it with GetExecution.
// An empty action means Cancel.
//
// Errors: *APIError for a non-2xx answer: 400 illegal_action_error when the
// status does not allow the action, 400 bad_parameters_error for an unknown
// action, 404; a wrapped transport error otherwise.
func (c *Client) CancelExecution(ctx context.Context, id string, action CancelAction) (Execution, error) {
	const op = "CancelExecution"
	if err := needID(op, "execution id", id); err != nil {
		return Execution{}, err
	}
	if action == "" {
		action = Cancel
	}
	var e Execution
	if _, err := c.do(ctx, request{op: op, method: http.MethodPost, path: escapePath("executions", id), body: cancelBody{Action: action}, out: &e}); err != nil {
		return Execution{}, err
	}
	return e, nil
}
