package broker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// OperationType names what an operation does.
type OperationType string

// Operation types.
const (
	OpProvision   OperationType = "provision"
	OpUpdate      OperationType = "update"
	OpDeprovision OperationType = "deprovision"
	// OpBind and OpUnbind create and revoke one binding's own credentials through
	// the plan's bind workflows (Operation.BindingID names the binding).
	OpBind   OperationType = "bind"
	OpUnbind OperationType = "unbind"
)

// OnBinding reports whether operations of the type act on a binding rather than on
// the instance.
func (t OperationType) OnBinding() bool { return t == OpBind || t == OpUnbind }

// OperationState is the OSB last_operation state.
type OperationState string

// Operation states, spelt as OSB spells them.
const (
	StateInProgress OperationState = "in progress"
	StateSucceeded  OperationState = "succeeded"
	StateFailed     OperationState = "failed"
)

// InstanceState is where an instance is in its life.
type InstanceState string

// Instance states.
const (
	// InstanceProvisioning: the provision operation runs.
	InstanceProvisioning InstanceState = "provisioning"
	// InstanceReady: provisioned; updates may run on it (see Instance.OperationID).
	InstanceReady InstanceState = "ready"
	// InstanceFailed: the provision failed; only a deprovision makes sense.
	InstanceFailed InstanceState = "failed"
	// InstanceDeprovisioning: the deprovision operation runs.
	InstanceDeprovisioning InstanceState = "deprovisioning"
	// InstanceGone: deprovisioned. The record stays as a tombstone so that
	// last_operation can answer 410 and a new provision with the same id can start over.
	InstanceGone InstanceState = "gone"
)

// Instance is a service instance as the broker keeps it.
type Instance struct {
	ID               string
	ServiceID        string
	PlanID           string
	OrganizationGUID string
	SpaceGUID        string
	// Context is the platform's context object as received (no secrets by spec).
	Context json.RawMessage
	// Fingerprint identifies the provision request's attributes (service, plan,
	// parameters, org, space, maintenance version) for OSB idempotency, without keeping
	// the parameters in clear text.
	Fingerprint string
	// Parameters are the user's parameters, sealed (see Sealer); nil when none.
	Parameters []byte
	// DeploymentID is the Cloudify deployment that backs the instance.
	DeploymentID string
	// BlueprintID is the blueprint the deployment runs (changes with plan updates).
	BlueprintID        string
	MaintenanceVersion string
	DashboardURL       string
	State              InstanceState
	// OperationID is the current or last operation of the instance.
	OperationID    string
	OperationType  OperationType
	OperationState OperationState
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Version is the optimistic-concurrency version: 0 for a record not yet stored;
	// every successful write stores Version+1 (see Tx).
	Version int64
}

// Busy reports whether an operation is in progress on the instance.
func (i Instance) Busy() bool {
	return i.OperationState == StateInProgress
}

// Operation is one asynchronous operation on an instance: a persisted state machine
// that the workflow engine advances one step at a time.
type Operation struct {
	ID         string
	Type       OperationType
	InstanceID string
	// BindingID is the binding of a bind or unbind operation ("" otherwise).
	BindingID string
	State     OperationState
	// Description is shown to the platform user (last_operation); never a secret.
	Description string
	// Phase is the engine's position in the state machine (engine-private).
	Phase        string
	DeploymentID string
	// BlueprintID is the blueprint to deploy (provision) or to move to (update);
	// empty on an update that keeps the blueprint.
	BlueprintID string
	// ServiceID and PlanID are the instance's after the operation succeeds;
	// PreviousPlanID is the plan before an update.
	ServiceID          string
	PlanID             string
	PreviousPlanID     string
	MaintenanceVersion string
	// Inputs are the Cloudify inputs to create or update with, sealed; nil when none.
	Inputs []byte
	// Parameters are the user's parameters of the request, sealed; nil when none. An
	// update merges them into the instance's parameters when it succeeds.
	Parameters []byte
	// Fingerprint identifies the request's attributes, so that an identical repeat
	// gets the same operation and a different one a conflict.
	Fingerprint string
	// Labels are put on the deployment at creation.
	Labels map[string]string
	// Workflow is the custom workflow a bind or unbind runs; SecretKey the Cloudify
	// secret that holds the binding's credentials.
	Workflow  string
	SecretKey string
	// ExecutionID is the Cloudify execution being followed; UpdateID the deployment update.
	ExecutionID string
	UpdateID    string
	// SupersededBy is the id of an operation (a deprovision) that halted this one;
	// Halts is the id of the operation this one halted. A halted provision ends
	// itself at its next step, so that a step in flight finishes first.
	SupersededBy string
	Halts        string
	// Deadline is when the operation fails as timed out.
	Deadline time.Time
	// NextCheck is when the engine should look at Cloudify again.
	NextCheck time.Time
	// Steps counts the engine steps taken; Retries the transient faults met.
	Steps   int
	Retries int
	// RequestID and Identity come from the OSB request that started the operation (logs).
	RequestID string
	Identity  string
	CreatedAt time.Time
	UpdatedAt time.Time
	EndedAt   time.Time
	// CloudifyEndedAt is when Cloudify's last execution of the operation ended (for the
	// detection-delay metric).
	CloudifyEndedAt time.Time
	Version         int64
}

// Done reports whether the operation has ended.
func (o Operation) Done() bool { return o.State == StateSucceeded || o.State == StateFailed }

// BindingState is where a binding is in its life.
type BindingState string

// Binding states. A binding with shared credentials is created ready; one with its own
// credentials goes through binding and, when unbound, unbinding. A bind that fails in
// the engine cleans up after itself and removes the binding; one ended from outside
// (an operator abandoning it, a driver giving up while the manager was unreachable)
// leaves it failed, so that an unbind or the deprovision still revokes what the bind
// workflow may have made.
const (
	BindingBinding   BindingState = "binding"
	BindingReady     BindingState = "ready"
	BindingUnbinding BindingState = "unbinding"
	BindingFailed    BindingState = "failed"
)

// Binding is a service binding as the broker keeps it. Credentials are not stored:
// they are read from Cloudify at bind and at fetch (the deployment's values, or the
// binding's own Cloudify secret).
type Binding struct {
	InstanceID  string
	ID          string
	ServiceID   string
	PlanID      string
	AppGUID     string
	Fingerprint string
	// Parameters are the binding parameters, sealed; nil when none.
	Parameters []byte
	Context    json.RawMessage
	// State is "" (read as ready) for bindings with shared credentials.
	State BindingState
	// SecretKey is the Cloudify secret holding the binding's own credentials; "" for
	// shared credentials.
	SecretKey string
	// PredecessorID is the binding this one rotates.
	PredecessorID string
	// OperationID is the binding's current or last operation; OperationType and
	// OperationState repeat its type and state.
	OperationID    string
	OperationType  OperationType
	OperationState OperationState
	// ExpiresAt and RenewBefore are set when the plan bounds the validity of its
	// bindings (zero otherwise).
	ExpiresAt   time.Time
	RenewBefore time.Time
	CreatedAt   time.Time
	Version     int64
}

// Ready reports whether the binding's credentials may be handed out.
func (b Binding) Ready() bool { return b.State == "" || b.State == BindingReady }

// Busy reports whether an operation is in progress on the binding.
func (b Binding) Busy() bool { return b.OperationState == StateInProgress }

// BindingSecretKey is the Cloudify secret key of a binding's own credentials:
// osb-<deployment id>-<binding id>, or, when the binding id has a character a secret
// key may not have (~) or the key would be longer than the manager takes (256), the
// binding id's place is taken by "h-" and a hash of it.
func BindingSecretKey(deploymentID, bindingID string) string {
	key := "osb-" + deploymentID + "-" + bindingID
	if len(key) <= 256 && !strings.ContainsRune(bindingID, '~') {
		return key
	}
	sum := sha256.Sum256([]byte(bindingID))
	return "osb-" + deploymentID + "-h-" + hex.EncodeToString(sum[:16])
}
