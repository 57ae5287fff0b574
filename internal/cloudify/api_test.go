package cloudify

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// These assignments fail to compile when an exported signature that the rest of the
// project codes against (the workflow engine, the catalog, the admin service) changes.
var (
	_ func(string, ...Option) (*Client, error) = New
	_ func(string, string) Option              = WithBasicAuth
	_ func(string) Option                      = WithToken
	_ func(string) Option                      = WithTenant
	_ func(*http.Client) Option                = WithHTTPClient
	_ func(string) Option                      = WithManagerVersion
	_ func(string) Option                      = WithUserAgent

	_ func(*Client, context.Context) (VersionInfo, error)                                       = (*Client).Version
	_ func(*Client, context.Context) (ManagerStatus, error)                                     = (*Client).Status
	_ func(*Client, context.Context, string, time.Time) (Token, error)                          = (*Client).NewToken
	_ func(*Client, context.Context, ListOptions) ([]Blueprint, error)                          = (*Client).ListBlueprints
	_ func(*Client, context.Context, string, ...string) (Blueprint, error)                      = (*Client).GetBlueprint
	_ func(*Client, context.Context, string, CreateDeploymentRequest) (Deployment, error)       = (*Client).CreateDeployment
	_ func(*Client, context.Context, string, ...string) (Deployment, error)                     = (*Client).GetDeployment
	_ func(*Client, context.Context, ListOptions) ([]Deployment, error)                         = (*Client).ListDeployments
	_ func(*Client, context.Context, []FilterRule, ListOptions) ([]Deployment, error)           = (*Client).SearchDeployments
	_ func(*Client, context.Context, string, DeleteDeploymentOptions) error                     = (*Client).DeleteDeployment
	_ func(*Client, context.Context, string, []Label) (Deployment, error)                       = (*Client).SetDeploymentLabels
	_ func(*Client, context.Context, string) (map[string]any, error)                            = (*Client).DeploymentOutputs
	_ func(*Client, context.Context, string) (map[string]any, error)                            = (*Client).DeploymentCapabilities
	_ func(*Client, context.Context, StartExecutionRequest) (Execution, error)                  = (*Client).StartExecution
	_ func(*Client, context.Context, string, ...string) (Execution, error)                      = (*Client).GetExecution
	_ func(*Client, context.Context, ListOptions) ([]Execution, error)                          = (*Client).ListExecutions
	_ func(*Client, context.Context, string, CancelAction) (Execution, error)                   = (*Client).CancelExecution
	_ func(*Client, context.Context, string, UpdateDeploymentRequest) (DeploymentUpdate, error) = (*Client).UpdateDeployment
	_ func(*Client, context.Context, string) (DeploymentUpdate, error)                          = (*Client).GetDeploymentUpdate
	_ func(*Client, context.Context, ListOptions) ([]DeploymentUpdate, error)                   = (*Client).ListDeploymentUpdates

	_ func(VersionInfo, int, int) bool                 = VersionInfo.AtLeast
	_ func(Deployment, string) (available, known bool) = Deployment.WorkflowAvailable
	_ func(ExecutionStatus) bool                       = ExecutionStatus.Terminal
	_ func(ExecutionStatus) bool                       = ExecutionStatus.Succeeded
	_ func(ExecutionStatus) bool                       = ExecutionStatus.Active
	_ func(Execution) string                           = Execution.ErrorSummary

	_ = []func(error) bool{IsNotFound, IsConflict, IsRunningExecution, IsEnvNotReady, IsDeploymentCreation,
		IsDependentExists, IsUnavailableWorkflow, IsInputError, IsUnauthorized, IsForbidden, IsMaintenance, IsTransient}
	_ = []CancelAction{Cancel, ForceCancel, Kill}
	_ = []ExecutionStatus{Pending, Started, Cancelling, ForceCancelling, KillCancelling, Queued, Scheduled, Terminated, Failed, Cancelled}
)

// TestAPIFields builds every exported request and result struct with the fields the
// rest of the project relies on.
func TestAPIFields(t *testing.T) {
	var tm Time = Time{time.Unix(0, 0)}
	_ = ListOptions{Include: []string{}, Sort: []string{}, Filters: map[string][]string{}, PageSize: 1, Limit: 1}
	_ = FilterRule{Key: "", Values: []string{}, Operator: "", Type: ""}
	_ = Label{Key: "", Value: "", CreatedAt: tm, CreatedBy: ""}
	_ = VersionInfo{Edition: "", Version: "", Build: "", Date: "", Commit: "", Distribution: "", DistroRelease: ""}
	_ = Blueprint{ID: "", Description: "", MainFileName: "", State: "", Error: "", Visibility: "", TenantName: "", CreatedBy: "",
		IsHidden: false, CreatedAt: tm, UpdatedAt: tm, Labels: []Label{}, Plan: &BlueprintPlan{}}
	_ = BlueprintPlan{Description: "", Inputs: map[string]Input{}, Outputs: map[string]Output{}, Capabilities: map[string]Output{},
		Workflows: map[string]WorkflowDef{}, DataTypes: map[string]DataType{}}
	_ = Input{Type: "", Description: "", DisplayLabel: "", ItemType: "", Default: json.RawMessage(nil), Required: nil, Hidden: false,
		Constraints: []Constraint{{}}, Display: map[string]any{}}
	_ = DataType{Description: "", DerivedFrom: "", Properties: map[string]Input{}}
	_ = Output{Description: "", Value: json.RawMessage(nil)}
	_ = WorkflowDef{Plugin: "", Operation: "", Parameters: map[string]Input{}, IsCascading: false}
	_ = CreateDeploymentRequest{BlueprintID: "", Inputs: map[string]any{}, Visibility: "", Labels: []Label{}, DisplayName: "",
		SkipPluginsValidation: false, AsyncCreate: false}
	_ = Deployment{ID: "", BlueprintID: "", DisplayName: "", Description: "", TenantName: "", CreatedBy: "", Visibility: "",
		Inputs: map[string]any{}, Labels: []Label{}, Workflows: []DeploymentWorkflow{}, InstallationStatus: "", DeploymentStatus: "",
		CreateExecution: "", LatestExecution: "", LatestExecutionStatus: "", CreatedAt: tm, UpdatedAt: tm}
	_ = DeploymentWorkflow{Name: "", IsAvailable: nil, Parameters: map[string]Input{}}
	_ = DeleteDeploymentOptions{Force: false, DeleteLogs: false}
	_ = Execution{ID: "", WorkflowID: "", DeploymentID: "", BlueprintID: "", Status: Pending, Error: "", Parameters: map[string]any{},
		IsSystemWorkflow: false, IsDryRun: false, CreatedAt: tm, StartedAt: tm, EndedAt: tm}
	_ = StartExecutionRequest{DeploymentID: "", WorkflowID: "", Parameters: map[string]any{}, AllowCustomParameters: false,
		Force: false, DryRun: false, Queue: false}
	_ = UpdateDeploymentRequest{BlueprintID: "", Inputs: map[string]any{}, SkipInstall: false, SkipUninstall: false,
		SkipReinstall: false, Force: false}
	_ = DeploymentUpdate{ID: "", DeploymentID: "", OldBlueprintID: "", NewBlueprintID: "", State: "", ExecutionID: "",
		OldInputs: map[string]any{}, NewInputs: map[string]any{}, CreatedAt: tm}
	_ = APIError{Status: 0, Code: CodeNotFound, Message: "", Body: ""}
	if tm.Time.IsZero() {
		t.Fatal("unreachable")
	}
}
