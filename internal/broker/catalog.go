package broker

import (
	"encoding/json"
	"time"
)

// Catalog is the published service catalog with the broker's own data for each plan.
// It is built from the manager's blueprints merged with the operator's overlay
// (internal/catalog) and served from broker state.
type Catalog struct {
	Services []Service `json:"services"`
	// ETag identifies this content; it changes whenever what the platform sees changes.
	ETag     string    `json:"etag"`
	SyncedAt time.Time `json:"synced_at"`
}

// Service is one OSB service offering, backed by a Cloudify blueprint.
type Service struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	Description          string         `json:"description"`
	Tags                 []string       `json:"tags,omitempty"`
	Requires             []string       `json:"requires,omitempty"`
	Bindable             bool           `json:"bindable"`
	InstancesRetrievable bool           `json:"instances_retrievable"`
	BindingsRetrievable  bool           `json:"bindings_retrievable"`
	PlanUpdateable       bool           `json:"plan_updateable"`
	AllowContextUpdates  bool           `json:"allow_context_updates"`
	Metadata             map[string]any `json:"metadata,omitempty"`
	Plans                []Plan         `json:"plans"`
	// BlueprintID is the service's blueprint (plans may point to others).
	BlueprintID string `json:"blueprint_id"`
	// Credentials says which capabilities and outputs make up a binding's credentials;
	// empty means every capability, or every output when there are no capabilities.
	Credentials []CredentialField `json:"credentials,omitempty"`
	// CredentialsType is the "type" entry of every binding's credentials (the Service
	// Binding for Kubernetes type): the overlay's, else the blueprint label osb-type,
	// else the first tag; "" leaves the entry out.
	CredentialsType string `json:"credentials_type,omitempty"`
	// URITemplate, when set, makes a "uri" entry from the other credentials: each
	// {name} is replaced by that credential's value (see RenderURI).
	URITemplate string `json:"uri_template,omitempty"`
}

// Plan is one plan of a service: a blueprint and a preset of its inputs.
type Plan struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Description    string         `json:"description"`
	Free           bool           `json:"free"`
	Bindable       *bool          `json:"bindable,omitempty"`
	PlanUpdateable *bool          `json:"plan_updateable,omitempty"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	// MaximumPollingDuration is in seconds; 0 means the broker's default deadline.
	MaximumPollingDuration int              `json:"maximum_polling_duration,omitempty"`
	MaintenanceInfo        *MaintenanceInfo `json:"maintenance_info,omitempty"`
	// CreateSchema, UpdateSchema and BindSchema are JSON Schema documents (nil: none).
	CreateSchema json.RawMessage `json:"create_schema,omitempty"`
	UpdateSchema json.RawMessage `json:"update_schema,omitempty"`
	BindSchema   json.RawMessage `json:"bind_schema,omitempty"`
	// BlueprintID is the blueprint a deployment of this plan runs.
	BlueprintID string `json:"blueprint_id"`
	// Inputs are fixed by the plan and merged over the user's parameters.
	Inputs map[string]any `json:"inputs,omitempty"`
	// BindWorkflows, when set, gives every binding of the plan its own credentials,
	// made and revoked by these Cloudify workflows (asynchronous bindings); nil means
	// shared credentials read from the deployment's capabilities and outputs.
	BindWorkflows *BindWorkflows `json:"bind_workflows,omitempty"`
	// BindingRotation, when set (only with BindWorkflows), makes the plan's bindings
	// rotatable (OSB binding_rotatable) and bounds their validity.
	BindingRotation *BindingRotation `json:"binding_rotation,omitempty"`
}

// BindWorkflows names the custom workflows of a blueprint that create and revoke one
// binding's credentials. Both run on the instance's deployment with the parameters
// binding_id and secret_key (plus app_guid, predecessor_binding_id and the binding's
// parameters for Bind); Bind leaves the credentials, a JSON object, in the Cloudify
// secret secret_key.
type BindWorkflows struct {
	Bind   string `json:"bind"`
	Unbind string `json:"unbind"`
}

// BindingRotation is what the overlay says of a plan's rotatable bindings.
type BindingRotation struct {
	// MaximumValidityPeriod, in seconds, is how long a binding's credentials are
	// valid (expires_at); 0 means they do not expire.
	MaximumValidityPeriod int `json:"maximum_validity_period,omitempty"`
	// OverlapPeriod, in seconds, is how long before expires_at a platform should
	// create the successor (renew_before = expires_at - overlap).
	OverlapPeriod int `json:"overlap_period,omitempty"`
}

// MaintenanceInfo is OSB's maintenance_info: a semver version of what a plan deploys.
type MaintenanceInfo struct {
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// CredentialField maps one Cloudify capability or output to one credentials key.
type CredentialField struct {
	// Key is the name in the binding's credentials.
	Key string `json:"key"`
	// Source is "capability", "output", or "" for a capability falling back to an output.
	Source string `json:"source,omitempty"`
	// Name is the capability or output name in Cloudify (defaults to Key).
	Name string `json:"name,omitempty"`
	// Secret marks values that are secrets (never logged; documented to operators).
	Secret bool `json:"secret,omitempty"`
}

// Service returns the service with the id.
func (c Catalog) Service(id string) (Service, bool) {
	for _, s := range c.Services {
		if s.ID == id {
			return s, true
		}
	}
	return Service{}, false
}

// Plan returns the service's plan with the id.
func (s Service) Plan(id string) (Plan, bool) {
	for _, p := range s.Plans {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// PlanBindable reports whether instances of the plan can be bound.
func (s Service) PlanBindable(p Plan) bool {
	if p.Bindable != nil {
		return *p.Bindable
	}
	return s.Bindable
}

// PerBindingCredentials reports whether bindings of the plan get their own
// credentials through Cloudify workflows (asynchronous bind and unbind).
func (p Plan) PerBindingCredentials() bool {
	return p.BindWorkflows != nil && p.BindWorkflows.Bind != "" && p.BindWorkflows.Unbind != ""
}

// PlanIsUpdateable reports whether the plan may be changed on an instance of the plan.
func (s Service) PlanIsUpdateable(p Plan) bool {
	if p.PlanUpdateable != nil {
		return *p.PlanUpdateable
	}
	return s.PlanUpdateable
}
