package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// pageSize is the page of instance listings.
const pageSize = 200

// InstanceView is an instance as operators see it. It never holds parameters or
// inputs (sealed in the store, and possibly secret).
type InstanceView struct {
	ID                 string                `json:"id"`
	Service            string                `json:"service"`
	ServiceID          string                `json:"service_id"`
	Plan               string                `json:"plan"`
	PlanID             string                `json:"plan_id"`
	State              broker.InstanceState  `json:"state"`
	DeploymentID       string                `json:"deployment_id"`
	BlueprintID        string                `json:"blueprint_id"`
	MaintenanceVersion string                `json:"maintenance_version,omitempty"`
	OperationID        string                `json:"operation_id,omitempty"`
	OperationType      broker.OperationType  `json:"operation_type,omitempty"`
	OperationState     broker.OperationState `json:"operation_state,omitempty"`
	// LastError is the description of the instance's operation when it failed.
	LastError        string    `json:"last_error,omitempty"`
	OrganizationGUID string    `json:"organization_guid,omitempty"`
	SpaceGUID        string    `json:"space_guid,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// InstanceDetail is one instance with its operation, bindings and deployment.
type InstanceDetail struct {
	InstanceView
	DashboardURL string          `json:"dashboard_url,omitempty"`
	Context      json.RawMessage `json:"context,omitempty"`
	// Operation is the instance's current or last operation.
	Operation *OperationView `json:"operation,omitempty"`
	Bindings  []BindingView  `json:"bindings"`
	// Deployment is what the manager says of the instance's deployment; nil when no
	// manager is configured.
	Deployment *DeploymentView `json:"deployment,omitempty"`
}

// BindingView is a binding without its parameters (credentials are never stored).
type BindingView struct {
	ID        string    `json:"id"`
	AppGUID   string    `json:"app_guid,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// DeploymentView is a deployment on the manager.
type DeploymentView struct {
	// Exists is false when the manager has no such deployment.
	Exists      bool   `json:"exists"`
	BlueprintID string `json:"blueprint_id,omitempty"`
	// Status is the deployment_status (6.0+) or installation_status.
	Status string `json:"status,omitempty"`
	// LatestExecution is the newest execution on the deployment.
	LatestExecution *ExecutionView `json:"latest_execution,omitempty"`
	// Error is set when the manager could not be asked.
	Error string `json:"error,omitempty"`
}

// ExecutionView is a Cloudify execution.
type ExecutionView struct {
	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
}

// InstanceFilter selects instances.
type InstanceFilter struct {
	// All includes deprovisioned instances (tombstones).
	All bool `json:"all,omitempty"`
}

// names maps service and plan ids to names.
type names struct {
	services map[string]string
	plans    map[string]string
}

func (s *Service) names(ctx context.Context) names {
	n := names{services: map[string]string{}, plans: map[string]string{}}
	c, err := s.store.GetCatalog(ctx)
	if err != nil {
		return n // names are a convenience: ids are shown instead
	}
	for _, svc := range c.Services {
		n.services[svc.ID] = svc.Name
		for _, p := range svc.Plans {
			n.plans[svc.ID+"/"+p.ID] = p.Name
		}
	}
	return n
}

func (n names) view(in broker.Instance) InstanceView {
	v := InstanceView{
		ID: in.ID, Service: n.services[in.ServiceID], ServiceID: in.ServiceID,
		Plan: n.plans[in.ServiceID+"/"+in.PlanID], PlanID: in.PlanID, State: in.State,
		DeploymentID: in.DeploymentID, BlueprintID: in.BlueprintID, MaintenanceVersion: in.MaintenanceVersion,
		OperationID: in.OperationID, OperationType: in.OperationType, OperationState: in.OperationState,
		OrganizationGUID: in.OrganizationGUID, SpaceGUID: in.SpaceGUID, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
	}
	if v.Service == "" {
		v.Service = in.ServiceID
	}
	if v.Plan == "" {
		v.Plan = in.PlanID
	}
	return v
}

// eachInstance calls fn for every stored instance, in id order.
func (s *Service) eachInstance(ctx context.Context, fn func(broker.Instance) error) error {
	after := ""
	for {
		page, next, err := s.store.ListInstances(ctx, after, pageSize)
		if err != nil {
			return fmt.Errorf("admin: list instances: %w", err)
		}
		for _, in := range page {
			if err := fn(in); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// Instances lists the instances in id order, with the last error of those whose
// operation failed.
func (s *Service) Instances(ctx context.Context, f InstanceFilter) ([]InstanceView, error) {
	n := s.names(ctx)
	out := []InstanceView{}
	err := s.eachInstance(ctx, func(in broker.Instance) error {
		if in.State == broker.InstanceGone && !f.All {
			return nil
		}
		v := n.view(in)
		if in.OperationState == broker.StateFailed {
			op, err := s.store.GetOperation(ctx, in.OperationID)
			if err != nil && !errors.Is(err, broker.ErrNotFound) {
				return fmt.Errorf("admin: read operation %s: %w", in.OperationID, err)
			}
			v.LastError = op.Description
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Instance returns one instance with its operation, bindings and, when a manager is
// configured, its deployment. Errors: ENotFound.
func (s *Service) Instance(ctx context.Context, id string) (InstanceDetail, error) {
	in, err := s.store.GetInstance(ctx, id)
	if errors.Is(err, broker.ErrNotFound) {
		return InstanceDetail{}, Errorf(ENotFound, "no instance %s", id)
	}
	if err != nil {
		return InstanceDetail{}, fmt.Errorf("admin: read instance: %w", err)
	}
	d := InstanceDetail{InstanceView: s.names(ctx).view(in), DashboardURL: in.DashboardURL, Context: in.Context, Bindings: []BindingView{}}
	if in.OperationID != "" {
		op, err := s.store.GetOperation(ctx, in.OperationID)
		switch {
		case err == nil:
			v := operationView(op, s.now())
			d.Operation = &v
			if op.State == broker.StateFailed {
				d.LastError = op.Description
			}
		case !errors.Is(err, broker.ErrNotFound):
			return InstanceDetail{}, fmt.Errorf("admin: read operation: %w", err)
		}
	}
	bindings, err := s.store.ListBindings(ctx, id)
	if err != nil {
		return InstanceDetail{}, fmt.Errorf("admin: list bindings: %w", err)
	}
	for _, b := range bindings {
		d.Bindings = append(d.Bindings, BindingView{ID: b.ID, AppGUID: b.AppGUID, CreatedAt: b.CreatedAt})
	}
	if s.cfg.Manager != nil && in.DeploymentID != "" {
		d.Deployment = s.deploymentView(ctx, in.DeploymentID)
	}
	return d, nil
}

// deploymentView asks the manager about a deployment; failures are reported in the view.
func (s *Service) deploymentView(ctx context.Context, id string) *DeploymentView {
	dep, err := s.cfg.Manager.GetDeployment(ctx, id)
	if cloudify.IsNotFound(err) {
		return &DeploymentView{Exists: false}
	}
	if err != nil {
		return &DeploymentView{Error: err.Error()}
	}
	v := &DeploymentView{Exists: true, BlueprintID: dep.BlueprintID, Status: dep.DeploymentStatus}
	if v.Status == "" {
		v.Status = dep.InstallationStatus
	}
	execs, err := s.cfg.Manager.ListExecutions(ctx, cloudify.ListOptions{
		Filters: map[string][]string{"deployment_id": {id}}, Sort: []string{"-created_at"}, Limit: 1, PageSize: 1,
	})
	if err != nil {
		v.Error = err.Error()
	} else if len(execs) == 1 {
		e := execs[0]
		v.LatestExecution = &ExecutionView{ID: e.ID, Workflow: e.WorkflowID, Status: string(e.Status), Error: e.ErrorSummary()}
	}
	return v
}
