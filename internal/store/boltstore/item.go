package boltstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// schemaVersion is the version of the stored format written by this code. Records of
// another version are refused rather than misread.
const schemaVersion = 1

// header starts every stored record.
type header struct {
	Schema int `json:"schema"`
}

// current is the header of every record written now.
var current = header{Schema: schemaVersion}

func (h header) check() error {
	if h.Schema != schemaVersion {
		return fmt.Errorf("stored schema version %d, want %d", h.Schema, schemaVersion)
	}
	return nil
}

// encode returns the stored form of an item.
func encode(item any) ([]byte, error) {
	return json.Marshal(item)
}

// decode reads a stored item and checks its schema version. Decoding copies, so the
// item stays valid after the bbolt transaction ends.
func decode(data []byte, item interface{ check() error }) error {
	if err := json.Unmarshal(data, item); err != nil {
		return err
	}
	return item.check()
}

// headItem is the part of any record that a conditional write needs: its version and,
// for operations, what the index of operations in progress is keyed by.
type headItem struct {
	header
	Version   int64     `json:"version"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
}

// instanceItem is the stored form of a broker.Instance. Byte fields are kept as
// given (base64 in the JSON), so a platform's context survives byte for byte.
type instanceItem struct {
	header
	ID                 string    `json:"id"`
	ServiceID          string    `json:"service_id,omitempty"`
	PlanID             string    `json:"plan_id,omitempty"`
	OrganizationGUID   string    `json:"organization_guid,omitempty"`
	SpaceGUID          string    `json:"space_guid,omitempty"`
	Context            []byte    `json:"context,omitempty"`
	Fingerprint        string    `json:"fingerprint,omitempty"`
	Parameters         []byte    `json:"parameters,omitempty"`
	DeploymentID       string    `json:"deployment_id,omitempty"`
	BlueprintID        string    `json:"blueprint_id,omitempty"`
	MaintenanceVersion string    `json:"maintenance_version,omitempty"`
	DashboardURL       string    `json:"dashboard_url,omitempty"`
	State              string    `json:"state,omitempty"`
	OperationID        string    `json:"operation_id,omitempty"`
	OperationType      string    `json:"operation_type,omitempty"`
	OperationState     string    `json:"operation_state,omitempty"`
	CreatedAt          time.Time `json:"created_at,omitzero"`
	UpdatedAt          time.Time `json:"updated_at,omitzero"`
	Version            int64     `json:"version"`
}

func newInstanceItem(in broker.Instance, version int64) instanceItem {
	return instanceItem{
		header:             current,
		ID:                 in.ID,
		ServiceID:          in.ServiceID,
		PlanID:             in.PlanID,
		OrganizationGUID:   in.OrganizationGUID,
		SpaceGUID:          in.SpaceGUID,
		Context:            in.Context,
		Fingerprint:        in.Fingerprint,
		Parameters:         in.Parameters,
		DeploymentID:       in.DeploymentID,
		BlueprintID:        in.BlueprintID,
		MaintenanceVersion: in.MaintenanceVersion,
		DashboardURL:       in.DashboardURL,
		State:              string(in.State),
		OperationID:        in.OperationID,
		OperationType:      string(in.OperationType),
		OperationState:     string(in.OperationState),
		CreatedAt:          in.CreatedAt.UTC(),
		UpdatedAt:          in.UpdatedAt.UTC(),
		Version:            version,
	}
}

func (it instanceItem) instance() broker.Instance {
	return broker.Instance{
		ID:                 it.ID,
		ServiceID:          it.ServiceID,
		PlanID:             it.PlanID,
		OrganizationGUID:   it.OrganizationGUID,
		SpaceGUID:          it.SpaceGUID,
		Context:            json.RawMessage(it.Context),
		Fingerprint:        it.Fingerprint,
		Parameters:         it.Parameters,
		DeploymentID:       it.DeploymentID,
		BlueprintID:        it.BlueprintID,
		MaintenanceVersion: it.MaintenanceVersion,
		DashboardURL:       it.DashboardURL,
		State:              broker.InstanceState(it.State),
		OperationID:        it.OperationID,
		OperationType:      broker.OperationType(it.OperationType),
		OperationState:     broker.OperationState(it.OperationState),
		CreatedAt:          it.CreatedAt,
		UpdatedAt:          it.UpdatedAt,
		Version:            it.Version,
	}
}

// operationItem is the stored form of a broker.Operation.
type operationItem struct {
	header
	ID                 string            `json:"id"`
	Type               string            `json:"type,omitempty"`
	InstanceID         string            `json:"instance_id,omitempty"`
	BindingID          string            `json:"binding_id,omitempty"`
	Workflow           string            `json:"workflow,omitempty"`
	SecretKey          string            `json:"secret_key,omitempty"`
	State              string            `json:"state,omitempty"`
	Description        string            `json:"description,omitempty"`
	Phase              string            `json:"phase,omitempty"`
	DeploymentID       string            `json:"deployment_id,omitempty"`
	BlueprintID        string            `json:"blueprint_id,omitempty"`
	ServiceID          string            `json:"service_id,omitempty"`
	PlanID             string            `json:"plan_id,omitempty"`
	PreviousPlanID     string            `json:"previous_plan_id,omitempty"`
	MaintenanceVersion string            `json:"maintenance_version,omitempty"`
	Inputs             []byte            `json:"inputs,omitempty"`
	Parameters         []byte            `json:"parameters,omitempty"`
	Fingerprint        string            `json:"fingerprint,omitempty"`
	Labels             map[string]string `json:"labels,omitempty"`
	ExecutionID        string            `json:"execution_id,omitempty"`
	UpdateID           string            `json:"update_id,omitempty"`
	SupersededBy       string            `json:"superseded_by,omitempty"`
	Halts              string            `json:"halts,omitempty"`
	Deadline           time.Time         `json:"deadline,omitzero"`
	NextCheck          time.Time         `json:"next_check,omitzero"`
	Steps              int               `json:"steps,omitempty"`
	Retries            int               `json:"retries,omitempty"`
	RequestID          string            `json:"request_id,omitempty"`
	Identity           string            `json:"identity,omitempty"`
	CreatedAt          time.Time         `json:"created_at,omitzero"`
	UpdatedAt          time.Time         `json:"updated_at,omitzero"`
	EndedAt            time.Time         `json:"ended_at,omitzero"`
	CloudifyEndedAt    time.Time         `json:"cloudify_ended_at,omitzero"`
	Version            int64             `json:"version"`
}

func newOperationItem(op broker.Operation, version int64) operationItem {
	return operationItem{
		header:             current,
		ID:                 op.ID,
		Type:               string(op.Type),
		InstanceID:         op.InstanceID,
		BindingID:          op.BindingID,
		Workflow:           op.Workflow,
		SecretKey:          op.SecretKey,
		State:              string(op.State),
		Description:        op.Description,
		Phase:              op.Phase,
		DeploymentID:       op.DeploymentID,
		BlueprintID:        op.BlueprintID,
		ServiceID:          op.ServiceID,
		PlanID:             op.PlanID,
		PreviousPlanID:     op.PreviousPlanID,
		MaintenanceVersion: op.MaintenanceVersion,
		Inputs:             op.Inputs,
		Parameters:         op.Parameters,
		Fingerprint:        op.Fingerprint,
		Labels:             op.Labels,
		ExecutionID:        op.ExecutionID,
		UpdateID:           op.UpdateID,
		SupersededBy:       op.SupersededBy,
		Halts:              op.Halts,
		Deadline:           op.Deadline.UTC(),
		NextCheck:          op.NextCheck.UTC(),
		Steps:              op.Steps,
		Retries:            op.Retries,
		RequestID:          op.RequestID,
		Identity:           op.Identity,
		CreatedAt:          op.CreatedAt.UTC(),
		UpdatedAt:          op.UpdatedAt.UTC(),
		EndedAt:            op.EndedAt.UTC(),
		CloudifyEndedAt:    op.CloudifyEndedAt.UTC(),
		Version:            version,
	}
}

func (it operationItem) operation() broker.Operation {
	return broker.Operation{
		ID:                 it.ID,
		Type:               broker.OperationType(it.Type),
		InstanceID:         it.InstanceID,
		BindingID:          it.BindingID,
		Workflow:           it.Workflow,
		SecretKey:          it.SecretKey,
		State:              broker.OperationState(it.State),
		Description:        it.Description,
		Phase:              it.Phase,
		DeploymentID:       it.DeploymentID,
		BlueprintID:        it.BlueprintID,
		ServiceID:          it.ServiceID,
		PlanID:             it.PlanID,
		PreviousPlanID:     it.PreviousPlanID,
		MaintenanceVersion: it.MaintenanceVersion,
		Inputs:             it.Inputs,
		Parameters:         it.Parameters,
		Fingerprint:        it.Fingerprint,
		Labels:             it.Labels,
		ExecutionID:        it.ExecutionID,
		UpdateID:           it.UpdateID,
		SupersededBy:       it.SupersededBy,
		Halts:              it.Halts,
		Deadline:           it.Deadline,
		NextCheck:          it.NextCheck,
		Steps:              it.Steps,
		Retries:            it.Retries,
		RequestID:          it.RequestID,
		Identity:           it.Identity,
		CreatedAt:          it.CreatedAt,
		UpdatedAt:          it.UpdatedAt,
		EndedAt:            it.EndedAt,
		CloudifyEndedAt:    it.CloudifyEndedAt,
		Version:            it.Version,
	}
}

// bindingItem is the stored form of a broker.Binding.
type bindingItem struct {
	header
	InstanceID  string    `json:"instance_id"`
	ID          string    `json:"id"`
	ServiceID   string    `json:"service_id,omitempty"`
	PlanID      string    `json:"plan_id,omitempty"`
	AppGUID     string    `json:"app_guid,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Parameters  []byte    `json:"parameters,omitempty"`
	Context     []byte    `json:"context,omitempty"`
	State       string    `json:"state,omitempty"`
	SecretKey   string    `json:"secret_key,omitempty"`
	Predecessor string    `json:"predecessor_id,omitempty"`
	OperationID string    `json:"operation_id,omitempty"`
	OpType      string    `json:"operation_type,omitempty"`
	OpState     string    `json:"operation_state,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	RenewBefore time.Time `json:"renew_before,omitzero"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	Version     int64     `json:"version"`
}

func newBindingItem(b broker.Binding, version int64) bindingItem {
	return bindingItem{
		header:      current,
		InstanceID:  b.InstanceID,
		ID:          b.ID,
		ServiceID:   b.ServiceID,
		PlanID:      b.PlanID,
		AppGUID:     b.AppGUID,
		Fingerprint: b.Fingerprint,
		Parameters:  b.Parameters,
		Context:     b.Context,
		State:       string(b.State),
		SecretKey:   b.SecretKey,
		Predecessor: b.PredecessorID,
		OperationID: b.OperationID,
		OpType:      string(b.OperationType),
		OpState:     string(b.OperationState),
		ExpiresAt:   b.ExpiresAt.UTC(),
		RenewBefore: b.RenewBefore.UTC(),
		CreatedAt:   b.CreatedAt.UTC(),
		Version:     version,
	}
}

func (it bindingItem) binding() broker.Binding {
	return broker.Binding{
		InstanceID:     it.InstanceID,
		ID:             it.ID,
		ServiceID:      it.ServiceID,
		PlanID:         it.PlanID,
		AppGUID:        it.AppGUID,
		Fingerprint:    it.Fingerprint,
		Parameters:     it.Parameters,
		Context:        json.RawMessage(it.Context),
		State:          broker.BindingState(it.State),
		SecretKey:      it.SecretKey,
		PredecessorID:  it.Predecessor,
		OperationID:    it.OperationID,
		OperationType:  broker.OperationType(it.OpType),
		OperationState: broker.OperationState(it.OpState),
		ExpiresAt:      it.ExpiresAt,
		RenewBefore:    it.RenewBefore,
		CreatedAt:      it.CreatedAt,
		Version:        it.Version,
	}
}

// catalogItem is the stored form of the catalog. The catalog is a published JSON
// document whose field names the domain already fixes with tags, so it is stored as
// that document rather than mirrored field by field.
type catalogItem struct {
	header
	Catalog broker.Catalog `json:"catalog"`
}

// overlayItem is the stored form of the operator's overlay, an opaque document.
type overlayItem struct {
	header
	Doc []byte `json:"doc"`
}
