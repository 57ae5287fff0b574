package cloudify

import (
	"context"
	"encoding/json"
	"net/http"
)

// Blueprint states (5.2+). Only BlueprintUploaded can be deployed; older
// managers send no state.
const (
	// BlueprintUploaded is the state of a blueprint that can be deployed.
	BlueprintUploaded = "uploaded"
	// BlueprintInvalid is the state of a blueprint that failed validation.
	BlueprintInvalid = "invalid"
)

// Blueprint is a blueprint resource (GET /blueprints, GET /blueprints/{id}).
// Every field is optional: 5.x adds IsHidden, 5.2 State and Error, 6.0
// Labels.
type Blueprint struct {
	// ID is the blueprint id.
	ID string `json:"id"`
	// Description is the blueprint's description (may be empty).
	Description string `json:"description"`
	// MainFileName is the YAML file the blueprint was parsed from.
	MainFileName string `json:"main_file_name"`
	// State (5.2+) is "uploaded" when the blueprint can be deployed;
	// empty on older managers. See Deployable.
	State string `json:"state"`
	// Error and ErrorTraceback (5.2+) describe a failed upload.
	Error          string `json:"error"`
	ErrorTraceback string `json:"error_traceback,omitempty"`
	// Visibility is "private", "tenant" or "global".
	Visibility string `json:"visibility"`
	// TenantName and CreatedBy name the owner.
	TenantName string `json:"tenant_name"`
	CreatedBy  string `json:"created_by"`
	// IsHidden (5.x+) marks blueprints left out of lists by default.
	IsHidden bool `json:"is_hidden"`
	// CreatedAt and UpdatedAt are the manager's timestamps.
	CreatedAt Time `json:"created_at"`
	UpdatedAt Time `json:"updated_at"`
	// Labels (6.0+) are the blueprint labels.
	Labels []Label `json:"labels,omitempty"`
	// Plan is the parsed plan; nil when projected away.
	Plan *BlueprintPlan `json:"plan,omitempty"`
}

// Deployable reports whether a deployment can be created from b: its state
// is "uploaded", or absent (managers before 5.2 have no state).
func (b Blueprint) Deployable() bool {
	return b.State == "" || b.State == BlueprintUploaded
}

// BlueprintPlan is the part of a blueprint's parsed plan a broker uses.
type BlueprintPlan struct {
	// Description is the blueprint's description.
	Description string `json:"description"`
	// Inputs are the input definitions by name.
	Inputs map[string]Input `json:"inputs,omitempty"`
	// Outputs are the unevaluated output definitions by name.
	Outputs map[string]Output `json:"outputs,omitempty"`
	// Capabilities (4.5.5+) are the unevaluated capability definitions.
	Capabilities map[string]Output `json:"capabilities,omitempty"`
	// Workflows are the workflow definitions by name.
	Workflows map[string]WorkflowDef `json:"workflows,omitempty"`
	// DataTypes are the custom data types by name.
	DataTypes map[string]DataType `json:"data_types,omitempty"`
}

// Input is the definition of a blueprint input, a data-type property or a
// workflow parameter. It holds only the keys written in the YAML, so an
// absent key means "not specified".
type Input struct {
	// Type is the declared type ("string", "integer", "list", a data
	// type name, ...); empty means any value.
	Type string `json:"type,omitempty"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// DisplayLabel (6.2+) is the UI label.
	DisplayLabel string `json:"display_label,omitempty"`
	// ItemType (6.4+) is the element type of a "list" input.
	ItemType string `json:"item_type,omitempty"`
	// Default is the raw default: nil when there is no "default" key,
	// "null" for an explicit null. It may hold an intrinsic function
	// such as {"get_secret": "k"}.
	Default json.RawMessage `json:"default,omitempty"`
	// Required is nil when the key is absent (meaning true).
	Required *bool `json:"required,omitempty"`
	// Hidden (6.2+) hides the input in UIs; such inputs have a default.
	Hidden bool `json:"hidden,omitempty"`
	// Constraints (4.6+) are the input constraints.
	Constraints []Constraint `json:"constraints,omitempty"`
	// Display (6.4+) is a UI hint such as {"rows": 5}.
	Display map[string]any `json:"display,omitempty"`
}

// UnmarshalJSON decodes an input definition, keeping Default as raw JSON:
// nil when the key is absent and "null" when it is an explicit null.
func (in *Input) UnmarshalJSON(b []byte) error {
	type plain Input
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	p.Default = nil
	if d, ok := keys["default"]; ok {
		p.Default = append(json.RawMessage(nil), d...)
	}
	*in = Input(p)
	return nil
}

// HasDefault reports whether the definition has a "default" key with a
// non-null value.
func (in Input) HasDefault() bool {
	return len(in.Default) > 0 && string(in.Default) != "null"
}

// Constraint is one input constraint: one operator key (for example
// "in_range", "pattern", "valid_values") and, from DSL 1.5, "error_message".
type Constraint map[string]any

// DataType is a custom data type of a plan; Properties already include the
// properties of the types it derives from.
type DataType struct {
	// Description is free text.
	Description string `json:"description,omitempty"`
	// DerivedFrom names the parent type.
	DerivedFrom string `json:"derived_from,omitempty"`
	// Properties are the property definitions by name.
	Properties map[string]Input `json:"properties,omitempty"`
}

// Output is an output or capability definition of a plan or deployment:
// Value is the unevaluated literal or intrinsic function.
type Output struct {
	// Description is free text.
	Description string `json:"description,omitempty"`
	// Value is the raw, unevaluated value.
	Value json.RawMessage `json:"value,omitempty"`
}

// WorkflowDef is a workflow of a blueprint plan.
type WorkflowDef struct {
	// Plugin and Operation name the implementation.
	Plugin    string `json:"plugin,omitempty"`
	Operation string `json:"operation,omitempty"`
	// Parameters are the parameter definitions, shaped like inputs.
	Parameters map[string]Input `json:"parameters,omitempty"`
	// IsCascading makes the workflow run on component deployments too.
	IsCascading bool `json:"is_cascading,omitempty"`
	// AvailabilityRules (6.4+), for example
	// {"node_instances_active": ["none", "partial"]}.
	AvailabilityRules map[string]any `json:"availability_rules,omitempty"`
}

// ListBlueprints returns the blueprints of the tenant, from GET
// /api/v3.1/blueprints, reading every page (see ListOptions). Errors:
// *APIError for a non-2xx answer (400 bad_parameters_error or
// no_such_include_field_error for bad options), a wrapped transport error
// otherwise; no partial result is returned.
func (c *Client) ListBlueprints(ctx context.Context, opts ListOptions) ([]Blueprint, error) {
	return list[Blueprint](ctx, c, "ListBlueprints", http.MethodGet, "/blueprints", opts, nil)
}

// GetBlueprint returns one blueprint, from GET /api/v3.1/blueprints/{id},
// projected to the include fields when given (the plan is only returned
// whole). Errors: *APIError for a non-2xx answer (IsNotFound for 404
// not_found_error), a wrapped transport error otherwise.
func (c *Client) GetBlueprint(ctx context.Context, id string, include ...string) (Blueprint, error) {
	const op = "GetBlueprint"
	if err := needID(op, "blueprint id", id); err != nil {
		return Blueprint{}, err
	}
	var b Blueprint
	_, err := c.do(ctx, request{op: op, method: http.MethodGet, path: escapePath("blueprints", id), query: includeQuery(include), out: &b})
	if err != nil {
		return Blueprint{}, err
	}
	return b, nil
}
