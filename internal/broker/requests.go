package broker

import (
	"encoding/json"
	"time"
)

// Identity is the parsed X-Broker-API-Originating-Identity header.
type Identity struct {
	// Platform is "kubernetes", "cloudfoundry" or another platform's name.
	Platform string
	// User is the Kubernetes username or the Cloud Foundry user_id.
	User string
	// Value is the decoded JSON object.
	Value map[string]any
}

// String renders the identity for logs ("" when absent).
func (i Identity) String() string {
	if i.Platform == "" {
		return ""
	}
	return i.Platform + "/" + i.User
}

// RequestInfo is what every OSB request carries besides its body.
type RequestInfo struct {
	// APIVersion is the X-Broker-API-Version the platform sent, e.g. "2.17".
	APIVersion string
	// RequestID is X-Broker-API-Request-Identity, or one the broker made up.
	RequestID string
	Identity  Identity
}

// ProvisionRequest is PUT /v2/service_instances/:instance_id.
type ProvisionRequest struct {
	RequestInfo
	InstanceID        string
	ServiceID         string
	PlanID            string
	OrganizationGUID  string
	SpaceGUID         string
	Context           json.RawMessage
	Parameters        json.RawMessage // a JSON object, or nil
	MaintenanceInfo   *MaintenanceInfo
	AcceptsIncomplete bool
}

// ProvisionResult tells how a provision was answered: 202 when Async, else 200
// (already provisioned with identical attributes).
type ProvisionResult struct {
	Async        bool
	Operation    string
	DashboardURL string
}

// UpdateRequest is PATCH /v2/service_instances/:instance_id.
type UpdateRequest struct {
	RequestInfo
	InstanceID string
	ServiceID  string
	// PlanID is empty when the plan does not change.
	PlanID string
	// Parameters is nil when the parameters do not change.
	Parameters        json.RawMessage
	Context           json.RawMessage
	PreviousValues    *PreviousValues
	MaintenanceInfo   *MaintenanceInfo
	AcceptsIncomplete bool
}

// PreviousValues is the update request's previous_values.
type PreviousValues struct {
	ServiceID       string
	PlanID          string
	OrganizationID  string
	SpaceID         string
	MaintenanceInfo *MaintenanceInfo
}

// UpdateResult tells how an update was answered: 202 when Async, else 200.
type UpdateResult struct {
	Async        bool
	Operation    string
	DashboardURL string
}

// DeprovisionRequest is DELETE /v2/service_instances/:instance_id.
type DeprovisionRequest struct {
	RequestInfo
	InstanceID        string
	ServiceID         string
	PlanID            string
	AcceptsIncomplete bool
}

// DeprovisionResult tells how a deprovision was answered: 202 when Async, else 200.
type DeprovisionResult struct {
	Async     bool
	Operation string
}

// LastOperationRequest is GET .../last_operation for an instance (BindingID empty)
// or a binding.
type LastOperationRequest struct {
	RequestInfo
	InstanceID string
	BindingID  string
	ServiceID  string
	PlanID     string
	Operation  string
}

// LastOperation is the last_operation answer.
type LastOperation struct {
	State            OperationState
	Description      string
	InstanceUsable   *bool
	UpdateRepeatable *bool
	// RetryAfter, when non-zero, is sent as Retry-After while in progress.
	RetryAfter time.Duration
}

// FetchInstanceRequest is GET /v2/service_instances/:instance_id.
type FetchInstanceRequest struct {
	RequestInfo
	InstanceID string
	ServiceID  string
	PlanID     string
}

// InstanceDetails is the fetch-instance answer.
type InstanceDetails struct {
	ServiceID       string
	PlanID          string
	DashboardURL    string
	Parameters      map[string]any
	MaintenanceInfo *MaintenanceInfo
}

// BindRequest is PUT /v2/service_instances/:instance_id/service_bindings/:binding_id.
type BindRequest struct {
	RequestInfo
	InstanceID           string
	BindingID            string
	ServiceID            string
	PlanID               string
	AppGUID              string
	BindResource         map[string]any
	Context              json.RawMessage
	Parameters           json.RawMessage
	PredecessorBindingID string
	AcceptsIncomplete    bool
}

// BindResult is the bind answer: 202 with Operation when Async (a binding with its
// own credentials, being made or already being made), else 200 when Existing
// (identical binding), else 201.
type BindResult struct {
	Existing    bool
	Async       bool
	Operation   string
	Credentials map[string]any
	Metadata    BindingMetadata
}

// BindingMetadata is OSB's binding metadata: when the credentials expire and when a
// platform should rotate them (zero: not said).
type BindingMetadata struct {
	ExpiresAt   time.Time
	RenewBefore time.Time
}

// FetchBindingRequest is GET .../service_bindings/:binding_id.
type FetchBindingRequest struct {
	RequestInfo
	InstanceID string
	BindingID  string
	ServiceID  string
	PlanID     string
}

// BindingDetails is the fetch-binding answer.
type BindingDetails struct {
	Credentials map[string]any
	Parameters  map[string]any
	Metadata    BindingMetadata
}

// UnbindRequest is DELETE .../service_bindings/:binding_id.
type UnbindRequest struct {
	RequestInfo
	InstanceID        string
	BindingID         string
	ServiceID         string
	PlanID            string
	AcceptsIncomplete bool
}

// UnbindResult tells how an unbind was answered: 202 with Operation when Async, else 200.
type UnbindResult struct {
	Async     bool
	Operation string
}
