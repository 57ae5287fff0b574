// Package catalogview is the OSB catalog as it goes on the wire: the body of
// GET /v2/catalog. The HTTP layer serves it, the catalog builder hashes and compares
// it, the admin service shows it; none of them depends on another for it.
//
// These types exist so that the broker's private fields of broker.Catalog (blueprint
// ids, plan inputs, the credentials mapping, the credentials type and URI template, the
// bind workflows, the ETag and sync time) can never reach a platform, whatever json
// tags the domain types carry. Of a plan's binding rotation the platform sees
// binding_rotatable (OSB 2.17) and the periods the catalog builder put in the plan's
// metadata.
package catalogview

import (
	"bytes"
	"encoding/json"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// Catalog is the body of GET /v2/catalog: what the platform sees of a catalog.
type Catalog struct {
	Services []Service `json:"services"`
}

// Service is one service of Catalog.
type Service struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	Description          string         `json:"description"`
	Tags                 []string       `json:"tags,omitempty"`
	Requires             []string       `json:"requires,omitempty"`
	Bindable             bool           `json:"bindable"`
	InstancesRetrievable bool           `json:"instances_retrievable"`
	BindingsRetrievable  bool           `json:"bindings_retrievable"`
	AllowContextUpdates  bool           `json:"allow_context_updates"`
	PlanUpdateable       bool           `json:"plan_updateable"`
	Metadata             map[string]any `json:"metadata,omitempty"`
	Plans                []Plan         `json:"plans"`
}

// Plan is one plan of Service.
type Plan struct {
	ID                     string           `json:"id"`
	Name                   string           `json:"name"`
	Description            string           `json:"description"`
	Metadata               map[string]any   `json:"metadata,omitempty"`
	Free                   bool             `json:"free"`
	Bindable               *bool            `json:"bindable,omitempty"`
	PlanUpdateable         *bool            `json:"plan_updateable,omitempty"`
	MaximumPollingDuration int              `json:"maximum_polling_duration,omitempty"`
	MaintenanceInfo        *MaintenanceInfo `json:"maintenance_info,omitempty"`
	// BindingRotatable is OSB 2.17's binding_rotatable: the platform may rotate the
	// plan's bindings (bind with predecessor_binding_id). Only true is published.
	BindingRotatable bool         `json:"binding_rotatable,omitempty"`
	Schemas          *schemasJSON `json:"schemas,omitempty"`
}

type schemasJSON struct {
	ServiceInstance *instanceSchemasJSON `json:"service_instance,omitempty"`
	ServiceBinding  *bindingSchemasJSON  `json:"service_binding,omitempty"`
}

type instanceSchemasJSON struct {
	Create *schemaJSON `json:"create,omitempty"`
	Update *schemaJSON `json:"update,omitempty"`
}

type bindingSchemasJSON struct {
	Create *schemaJSON `json:"create,omitempty"`
}

type schemaJSON struct {
	Parameters json.RawMessage `json:"parameters"`
}

// View returns what the platform sees of a catalog: the GET /v2/catalog body,
// without the broker's own fields (blueprints, fixed inputs, credentials mapping,
// credentials type and URI template, bind workflows, ETag, sync time). Other packages use it to hash and compare exactly what is published.
func View(c broker.Catalog) Catalog {
	out := Catalog{Services: make([]Service, 0, len(c.Services))}
	for _, s := range c.Services {
		out.Services = append(out.Services, ServiceView(s))
	}
	return out
}

// ServiceView returns what the platform sees of one service (see View).
func ServiceView(s broker.Service) Service {
	sj := Service{
		ID:                   s.ID,
		Name:                 s.Name,
		Description:          s.Description,
		Tags:                 s.Tags,
		Requires:             s.Requires,
		Bindable:             s.Bindable,
		InstancesRetrievable: s.InstancesRetrievable,
		BindingsRetrievable:  s.BindingsRetrievable,
		AllowContextUpdates:  s.AllowContextUpdates,
		PlanUpdateable:       s.PlanUpdateable,
		Metadata:             s.Metadata,
		Plans:                make([]Plan, 0, len(s.Plans)),
	}
	for _, p := range s.Plans {
		sj.Plans = append(sj.Plans, PlanView(p))
	}
	return sj
}

// PlanView returns what the platform sees of one plan (see View).
func PlanView(p broker.Plan) Plan {
	return Plan{
		ID:                     p.ID,
		Name:                   p.Name,
		Description:            p.Description,
		Metadata:               p.Metadata,
		Free:                   p.Free,
		Bindable:               p.Bindable,
		PlanUpdateable:         p.PlanUpdateable,
		MaximumPollingDuration: p.MaximumPollingDuration,
		MaintenanceInfo:        maintenanceInfo(p.MaintenanceInfo),
		BindingRotatable:       p.BindingRotation != nil && p.PerBindingCredentials(),
		Schemas:                planSchemas(p),
	}
}

// planSchemas returns the plan's schemas object, or nil when it has no schema.
func planSchemas(p broker.Plan) *schemasJSON {
	create, update, bind := schemaOf(p.CreateSchema), schemaOf(p.UpdateSchema), schemaOf(p.BindSchema)
	if create == nil && update == nil && bind == nil {
		return nil
	}
	s := &schemasJSON{}
	if create != nil || update != nil {
		s.ServiceInstance = &instanceSchemasJSON{Create: create, Update: update}
	}
	if bind != nil {
		s.ServiceBinding = &bindingSchemasJSON{Create: bind}
	}
	return s
}

func schemaOf(raw json.RawMessage) *schemaJSON {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return &schemaJSON{Parameters: raw}
}

// MaintenanceInfo is OSB's maintenance_info of a plan.
type MaintenanceInfo struct {
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

func maintenanceInfo(m *broker.MaintenanceInfo) *MaintenanceInfo {
	if m == nil {
		return nil
	}
	return &MaintenanceInfo{Version: m.Version, Description: m.Description}
}
