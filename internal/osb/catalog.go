package osb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// The OSB catalog as it goes on the wire. These types exist so that the broker's
// private fields of broker.Catalog (blueprint ids, plan inputs, the credentials
// mapping, the ETag and sync time) can never reach a platform, whatever json tags the
// domain types carry.

// CatalogJSON is the body of GET /v2/catalog: what the platform sees of a catalog.
type CatalogJSON struct {
	Services []ServiceJSON `json:"services"`
}

// ServiceJSON is one service of CatalogJSON.
type ServiceJSON struct {
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
	Plans                []PlanJSON     `json:"plans"`
}

// PlanJSON is one plan of ServiceJSON.
type PlanJSON struct {
	ID                     string               `json:"id"`
	Name                   string               `json:"name"`
	Description            string               `json:"description"`
	Metadata               map[string]any       `json:"metadata,omitempty"`
	Free                   bool                 `json:"free"`
	Bindable               *bool                `json:"bindable,omitempty"`
	PlanUpdateable         *bool                `json:"plan_updateable,omitempty"`
	MaximumPollingDuration int                  `json:"maximum_polling_duration,omitempty"`
	MaintenanceInfo        *maintenanceInfoJSON `json:"maintenance_info,omitempty"`
	Schemas                *schemasJSON         `json:"schemas,omitempty"`
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

// renderedCatalog is a catalog as served: its body and its ETag header.
type renderedCatalog struct {
	etag       string   // broker.Catalog.ETag
	etagHeader []string // the quoted entity tag; nil when the catalog has none usable
	body       rawJSON
}

// getCatalog serves GET /v2/catalog. The body is rendered once per ETag and kept:
// platforms poll the catalog, and a poll of an unchanged catalog does no JSON work.
func (h *handler) getCatalog(x *exchange) (int, any, error) {
	c, err := h.b.Catalog(x.r.Context())
	if err != nil {
		return 0, nil, err
	}
	rc := h.catalog.Load()
	if rc == nil || rc.etag != c.ETag || rc.etagHeader == nil {
		if rc, err = renderCatalog(c); err != nil {
			return 0, nil, err
		}
		if rc.etagHeader != nil {
			h.catalog.Store(rc)
		}
	}
	// The catalog's answer, for the log, is its ETag: hashing 14 KB a request would
	// cost more than the log line it spares.
	x.answer, x.answerSet = answerHash(rc.etag), rc.etagHeader != nil
	if rc.etagHeader != nil {
		x.w.Header()[headerETag] = rc.etagHeader
		if inm := x.r.Header.Get(headerIfNoneMatch); inm != "" && etagMatches(inm, rc.etag) {
			return http.StatusNotModified, nil, nil
		}
	}
	return http.StatusOK, rc.body, nil
}

// renderCatalog renders c to the OSB catalog JSON. A catalog whose ETag is empty, or
// holds a character an entity tag cannot, is served without ETag and not cached.
func renderCatalog(c broker.Catalog) (*renderedCatalog, error) {
	out := CatalogView(c)
	body, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("osb: render catalog %q: %w", c.ETag, err)
	}
	rc := &renderedCatalog{etag: c.ETag, body: body}
	if c.ETag != "" && validETag(c.ETag) {
		rc.etagHeader = []string{`"` + c.ETag + `"`}
	}
	return rc, nil
}

// CatalogView returns what the platform sees of a catalog: the GET /v2/catalog body,
// without the broker's own fields (blueprints, fixed inputs, credentials mapping, ETag,
// sync time). Other packages use it to hash and compare exactly what is published.
func CatalogView(c broker.Catalog) CatalogJSON {
	out := CatalogJSON{Services: make([]ServiceJSON, 0, len(c.Services))}
	for _, s := range c.Services {
		out.Services = append(out.Services, ServiceView(s))
	}
	return out
}

// ServiceView returns what the platform sees of one service (see CatalogView).
func ServiceView(s broker.Service) ServiceJSON {
	sj := ServiceJSON{
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
		Plans:                make([]PlanJSON, 0, len(s.Plans)),
	}
	for _, p := range s.Plans {
		sj.Plans = append(sj.Plans, PlanView(p))
	}
	return sj
}

// PlanView returns what the platform sees of one plan (see CatalogView).
func PlanView(p broker.Plan) PlanJSON {
	return PlanJSON{
		ID:                     p.ID,
		Name:                   p.Name,
		Description:            p.Description,
		Metadata:               p.Metadata,
		Free:                   p.Free,
		Bindable:               p.Bindable,
		PlanUpdateable:         p.PlanUpdateable,
		MaximumPollingDuration: p.MaximumPollingDuration,
		MaintenanceInfo:        maintenanceInfoFrom(p.MaintenanceInfo),
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

// validETag reports whether tag can go between the quotes of an entity tag
// (RFC 9110: %x21 / %x23-7E / obs-text).
func validETag(tag string) bool {
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; c < 0x21 || c == '"' || c == 0x7f {
			return false
		}
	}
	return true
}

// etagMatches reports whether an If-None-Match value matches tag, with the weak
// comparison RFC 9110 prescribes for If-None-Match: "*" matches, W/ is ignored.
func etagMatches(header, tag string) bool {
	for header != "" {
		var item string
		item, header, _ = strings.Cut(header, ",")
		item = strings.TrimSpace(item)
		if item == "*" {
			return true
		}
		item = strings.TrimPrefix(item, "W/")
		if len(item) >= 2 && item[0] == '"' && item[len(item)-1] == '"' && item[1:len(item)-1] == tag {
			return true
		}
	}
	return false
}
