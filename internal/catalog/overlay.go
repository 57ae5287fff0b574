package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// OverlayFile is the name overlay errors carry, as in "overlay.yaml:12: ...": the overlay
// is one YAML document whatever file or store record it comes from.
const OverlayFile = "overlay.yaml"

// OverlayVersion is the overlay format version this package reads and writes.
const OverlayVersion = 1

// Overlay is the operator's adornment of the catalog: which blueprints are published and
// how each becomes an OSB service with its plans. Its YAML format is documented in
// FORMAT.md and the package doc; ParseOverlay reads it and Export writes it.
//
// The zero Overlay is valid: every uploaded, visible blueprint becomes a bindable service
// with one plan named "default".
type Overlay struct {
	// Version is the format version; 0 (absent) or OverlayVersion.
	Version int `yaml:"version,omitempty"`
	// LabelFilter, when set, publishes only the blueprints carrying a label "key" (any
	// value) or "key=value". Label keys compare case-insensitively (the manager lower-cases
	// them), values exactly. Blueprint labels exist from Cloudify 6.0.
	LabelFilter string `yaml:"label_filter,omitempty"`
	// Hidden lists blueprint ids never published as services. They can still be the
	// blueprint of another service's plan.
	Hidden []string `yaml:"hidden,omitempty"`
	// Bindable is the default of every service's bindable (nil: true).
	Bindable *bool `yaml:"bindable,omitempty"`
	// Services adorns services, keyed by blueprint id. Keys without a blueprint are
	// reported as warnings by Build.
	Services map[string]ServiceOverlay `yaml:"services,omitempty"`

	// lines maps a field path ("services.mariadb.plans[1].inputs") to its line in the
	// parsed document; nil for an overlay built or changed in code.
	lines map[string]int
}

// ServiceOverlay adorns the service built from one blueprint. Nil pointers and empty
// values mean "the default".
type ServiceOverlay struct {
	// Hide leaves the blueprint out of the catalog, like Overlay.Hidden.
	Hide bool `yaml:"hide,omitempty"`
	// Name is the OSB service name (default: derived from the blueprint id, see ServiceName).
	Name string `yaml:"name,omitempty"`
	// ID pins the OSB service id (default: ServiceID of manager, tenant and blueprint).
	ID string `yaml:"id,omitempty"`
	// Description is the service description (default: the blueprint's).
	Description string `yaml:"description,omitempty"`
	// Tags are the OSB tags.
	Tags []string `yaml:"tags,omitempty"`
	// Requires lists OSB permissions: syslog_drain, route_forwarding, volume_mount.
	Requires []string `yaml:"requires,omitempty"`
	// Metadata is the OSB/CF service metadata.
	Metadata ServiceMetadata `yaml:"metadata,omitempty"`
	// Bindable overrides Overlay.Bindable.
	Bindable *bool `yaml:"bindable,omitempty"`
	// InstancesRetrievable and BindingsRetrievable default to true.
	InstancesRetrievable *bool `yaml:"instances_retrievable,omitempty"`
	BindingsRetrievable  *bool `yaml:"bindings_retrievable,omitempty"`
	// PlanUpdateable and AllowContextUpdates default to false.
	PlanUpdateable      *bool `yaml:"plan_updateable,omitempty"`
	AllowContextUpdates *bool `yaml:"allow_context_updates,omitempty"`
	// MaintenanceInfo is the default maintenance_info of the service's plans.
	MaintenanceInfo *MaintenanceInfo `yaml:"maintenance_info,omitempty"`
	// Credentials maps capabilities and outputs to binding credentials (empty: every
	// capability, or every output when there are none).
	Credentials []CredentialMapping `yaml:"credentials,omitempty"`
	// CredentialsType is the "type" entry of every binding's credentials (default: the
	// blueprint label osb-type, else the first tag).
	CredentialsType string `yaml:"credentials_type,omitempty"`
	// URITemplate makes a "uri" entry of a binding's credentials from its other entries,
	// such as "mysql://{username}:{password}@{host}:{port}/{database}" (see
	// broker.RenderURI).
	URITemplate string `yaml:"uri_template,omitempty"`
	// BindWorkflow, UnbindWorkflow, Bindings and BindingRotation are the defaults of the
	// service's plans (see PlanOverlay).
	BindWorkflow    string           `yaml:"bind_workflow,omitempty"`
	UnbindWorkflow  string           `yaml:"unbind_workflow,omitempty"`
	Bindings        string           `yaml:"bindings,omitempty"`
	BindingRotation *BindingRotation `yaml:"binding_rotation,omitempty"`
	// Plans are the service's plans, in catalog order (empty: one plan named "default"
	// with every input of the blueprint).
	Plans []PlanOverlay `yaml:"plans,omitempty"`
}

// ServiceMetadata is the conventional OSB/CF service metadata.
type ServiceMetadata struct {
	DisplayName         string `yaml:"displayName,omitempty"`
	ImageURL            string `yaml:"imageUrl,omitempty"`
	LongDescription     string `yaml:"longDescription,omitempty"`
	DocumentationURL    string `yaml:"documentationUrl,omitempty"`
	SupportURL          string `yaml:"supportUrl,omitempty"`
	ProviderDisplayName string `yaml:"providerDisplayName,omitempty"`
}

// CredentialMapping maps one Cloudify capability or output to one credentials key.
type CredentialMapping struct {
	// Key is the name in the binding's credentials.
	Key string `yaml:"key"`
	// From is "capability", "output", or empty for a capability falling back to an output.
	From string `yaml:"from,omitempty"`
	// Name is the capability or output name (default: Key).
	Name string `yaml:"name,omitempty"`
	// Secret marks a secret value.
	Secret bool `yaml:"secret,omitempty"`
}

// PlanOverlay is one plan of a service.
type PlanOverlay struct {
	// Name is the plan name, unique in the service (required).
	Name string `yaml:"name"`
	// ID pins the OSB plan id (default: PlanID of manager, tenant, service key and name).
	ID string `yaml:"id,omitempty"`
	// Description defaults to "Deploys blueprint <id>.".
	Description string `yaml:"description,omitempty"`
	// Free defaults to true.
	Free *bool `yaml:"free,omitempty"`
	// Bindable and PlanUpdateable override the service's values.
	Bindable       *bool `yaml:"bindable,omitempty"`
	PlanUpdateable *bool `yaml:"plan_updateable,omitempty"`
	// MaximumPollingDuration is in seconds (0: not published).
	MaximumPollingDuration int `yaml:"maximum_polling_duration,omitempty"`
	// Metadata is the OSB/CF plan metadata.
	Metadata PlanMetadata `yaml:"metadata,omitempty"`
	// Inputs are fixed by the plan: merged over the user's parameters and left out of the
	// plan's schemas. Each must be an input of the plan's blueprint.
	Inputs map[string]any `yaml:"inputs,omitempty"`
	// Blueprint is the blueprint the plan deploys (default: the service's). Pointing a plan
	// at a new blueprint, with a new MaintenanceInfo version, offers an upgrade.
	Blueprint string `yaml:"blueprint,omitempty"`
	// MaintenanceInfo overrides the service's; the default version is "1.0.0".
	MaintenanceInfo *MaintenanceInfo `yaml:"maintenance_info,omitempty"`
	// BindWorkflow and UnbindWorkflow name the blueprint's workflows that make and
	// revoke one binding's credentials (default: the service's, else DefaultBindWorkflow
	// and DefaultUnbindWorkflow). A plan whose blueprint declares both gives every
	// binding its own credentials.
	BindWorkflow   string `yaml:"bind_workflow,omitempty"`
	UnbindWorkflow string `yaml:"unbind_workflow,omitempty"`
	// Bindings is BindingsShared, BindingsPerBinding or empty (the service's, else
	// per-binding exactly when the blueprint declares the workflows).
	Bindings string `yaml:"bindings,omitempty"`
	// BindingRotation makes the plan's bindings rotatable (default: the service's); only
	// for plans with per-binding credentials.
	BindingRotation *BindingRotation `yaml:"binding_rotation,omitempty"`
}

// The values of a service's or plan's Bindings.
const (
	// BindingsShared gives every binding the deployment's credentials (its capabilities
	// and outputs), even when the blueprint declares bind workflows.
	BindingsShared = "shared"
	// BindingsPerBinding requires the bind workflows: a blueprint without them is an
	// error.
	BindingsPerBinding = "per-binding"
)

// BindingRotation is the rotation of a plan's bindings (OSB binding_rotatable).
type BindingRotation struct {
	// MaximumValidityPeriod is how long, in seconds, a binding's credentials are valid;
	// 0 means they do not expire.
	MaximumValidityPeriod int `yaml:"maximum_validity_period,omitempty"`
	// OverlapPeriod is how long, in seconds, before a binding expires its successor
	// should be made; less than MaximumValidityPeriod when that is set.
	OverlapPeriod int `yaml:"overlap_period,omitempty"`
}

// MaxBindingValidity is the longest maximum_validity_period an overlay may set, in
// seconds (ten years of 365 days).
const MaxBindingValidity = 10 * 365 * 24 * 3600

// PlanMetadata is the conventional OSB/CF plan metadata.
type PlanMetadata struct {
	DisplayName string   `yaml:"displayName,omitempty"`
	Bullets     []string `yaml:"bullets,omitempty"`
	// Costs become metadata.costs: [{"amount": {"usd": 10.0}, "unit": "MONTHLY"}].
	Costs []Cost `yaml:"costs,omitempty"`
}

// Cost is one entry of a plan's metadata.costs.
type Cost struct {
	// Amount maps a currency code (such as "usd") to the price.
	Amount map[string]float64 `yaml:"amount"`
	// Unit is the billing unit, such as "MONTHLY".
	Unit string `yaml:"unit"`
}

// MaintenanceInfo is a plan's OSB maintenance_info.
type MaintenanceInfo struct {
	// Version is a Semantic Versioning 2.0 version (required).
	Version string `yaml:"version"`
	// Description tells users what the version brings.
	Description string `yaml:"description,omitempty"`
}

// OverlayError is a problem in an overlay, located by field path and, for a parsed
// overlay, by line.
type OverlayError struct {
	// Line is the 1-based line in the overlay document, 0 when unknown.
	Line int
	// Path is the field, such as "services.mariadb.plans[1].inputs"; empty for the document.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error returns "overlay.yaml:12: services.mariadb.plans[1].inputs: unknown input ...".
func (e *OverlayError) Error() string {
	var b strings.Builder
	b.WriteString(OverlayFile)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Path != "" {
		b.WriteString(": " + e.Path)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// ParseOverlay reads an overlay document. Unknown fields, values of the wrong type,
// duplicate keys and invalid values (names, ids, semver versions, credential sources, ...)
// are errors that name the line and field; several are joined with errors.Join, each an
// *OverlayError. Checks against the blueprints happen in Build. An empty document is the
// zero Overlay.
func ParseOverlay(doc []byte) (Overlay, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return Overlay{}, nil
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return Overlay{}, nil
		}
		return Overlay{}, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return Overlay{}, yamlError(err)
		}
		return Overlay{}, &OverlayError{Line: line, Msg: "more than one YAML document"}
	}
	body := &root
	if body.Kind == yaml.DocumentNode && len(body.Content) == 1 {
		body = body.Content[0]
	}
	if body.Kind == yaml.ScalarNode && body.Tag == "!!null" {
		return Overlay{}, nil
	}
	if body.Kind != yaml.MappingNode {
		return Overlay{}, &OverlayError{Line: body.Line, Msg: "the overlay must be a mapping"}
	}

	w := &walker{lines: map[string]int{}}
	w.walk(body, reflect.TypeOf(Overlay{}), "")
	if len(w.errs) > 0 {
		return Overlay{}, errors.Join(w.errs...)
	}

	// Strict decoding into the types; the walker has already found unknown fields, so what
	// is left are type errors.
	var strictOverlay Overlay
	strict := yaml.NewDecoder(bytes.NewReader(doc))
	strict.KnownFields(true)
	if err := strict.Decode(&strictOverlay); err != nil {
		return Overlay{}, yamlError(err)
	}
	// The values come from the walked tree, where free-form timestamps are strings again.
	var o Overlay
	if err := root.Decode(&o); err != nil {
		return Overlay{}, yamlError(err)
	}
	o.lines = w.lines
	if err := o.validate(); err != nil {
		return Overlay{}, err
	}
	return o, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a yaml error into *OverlayErrors with the line numbers it names.
func yamlError(err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			n, _ := strconv.Atoi(sub[1])
			errs = append(errs, &OverlayError{Line: n, Msg: sub[2]})
			continue
		}
		errs = append(errs, &OverlayError{Msg: m})
	}
	return errors.Join(errs...)
}

// walker checks a YAML node tree against the overlay types: unknown fields and map keys
// that are not strings are errors. It records the line of every field path.
type walker struct {
	lines map[string]int
	errs  []error
}

func (w *walker) errorf(line int, path, format string, args ...any) {
	w.errs = append(w.errs, &OverlayError{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	w.walkValue(n, t, path, false)
}

// walkValue walks n as a value of type t; free is set inside free-form values, where a map
// key must be a string (yaml decodes other keys into map[any]any, which JSON cannot hold).
func (w *walker) walkValue(n *yaml.Node, t reflect.Type, path string, free bool) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type error
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Tag == "!!merge" {
				w.walkValue(v, t, path, free)
				continue
			}
			f, ok := fields[k.Value]
			if !ok {
				w.errorf(k.Line, path, "unknown field %q%s", k.Value, suggest(k.Value, fields))
				continue
			}
			p := joinPath(path, k.Value)
			w.lines[p] = k.Line
			w.walk(v, f.Type, p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || free && k.Tag != "!!str" && k.Tag != "!!merge" {
				w.errorf(k.Line, path, "key %q is not a string", k.Value)
				continue
			}
			p := joinPath(path, k.Value)
			w.lines[p] = k.Line
			w.walkValue(v, t.Elem(), p, free)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = e.Line
			w.walkValue(e, t.Elem(), p, free)
		}
	case reflect.Interface:
		// Free-form values (plan inputs): only map keys are checked.
		switch n.Kind {
		case yaml.MappingNode:
			w.walkValue(n, reflect.TypeOf(map[string]any{}), path, true)
		case yaml.SequenceNode:
			w.walkValue(n, reflect.TypeOf([]any{}), path, true)
		case yaml.ScalarNode:
			switch n.Tag {
			case "!!float":
				if v := strings.ToLower(n.Value); strings.Contains(v, "inf") || strings.Contains(v, "nan") {
					w.errorf(n.Line, path, "%s is not a JSON number", n.Value)
				}
			case "!!timestamp", "!!binary":
				// Keep the text: a date input is a string to Cloudify.
				n.Tag = "!!str"
			}
		}
	}
}

// yamlFields maps the yaml names of a struct's exported fields to the fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

// suggest returns ` (did you mean "x"?)` for a near miss among the known fields.
func suggest(got string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
	for name := range fields {
		if d := editDistance(strings.ToLower(got), strings.ToLower(name)); d < bestD || d == bestD && name < best {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// joinPath appends a key to a field path, quoting keys that would be ambiguous.
func joinPath(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\" ") {
		key = "[" + strconv.Quote(key) + "]"
		return path + key
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func servicePath(key string) string { return joinPath("services", key) }

func planPath(key string, i int) string {
	return fmt.Sprintf("%s[%d]", joinPath(servicePath(key), "plans"), i)
}

// line returns the line of path in the parsed document, or of its closest parent.
func (o *Overlay) line(path string) int {
	for path != "" {
		if n, ok := o.lines[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

func (o *Overlay) errorf(path, format string, args ...any) error {
	return &OverlayError{Line: o.line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks the overlay's own values, as ParseOverlay does; Build checks it against
// the blueprints. Errors are *OverlayErrors joined with errors.Join.
func (o Overlay) Validate() error { return o.validate() }

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
	idRE     = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	requiresValues = map[string]bool{"syslog_drain": true, "route_forwarding": true, "volume_mount": true}
)

// MaxOSBName is the longest service or plan name an overlay may set (OSB recommends at most
// 255 characters for strings).
const MaxOSBName = 255

func (o *Overlay) validate() error {
	v := &validator{o: o, names: map[string]string{}, ids: map[string]string{}}
	v.document()
	for _, key := range sortedKeys(o.Services) {
		v.service(key, o.Services[key])
	}
	return errors.Join(v.errs...)
}

// validator collects the problems of an overlay's own values, in document order, and
// the names and ids claimed so far (each must be unique across the overlay).
type validator struct {
	o     *Overlay
	errs  []error
	names map[string]string // service name → the path that claims it
	ids   map[string]string // service or plan id → the path that claims it
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, v.o.errorf(path, format, args...))
}

// claimID records that owner uses id; an id used twice is a problem.
func (v *validator) claimID(id, owner string) {
	if id == "" {
		return
	}
	if prev, ok := v.ids[id]; ok {
		v.add(owner+".id", "id %q is also the id of %s", id, prev)
		return
	}
	v.ids[id] = owner
}

// document checks the fields outside services: version, label_filter, hidden.
func (v *validator) document() {
	o := v.o
	if o.Version != 0 && o.Version != OverlayVersion {
		v.add("version", "unsupported version %d (want %d)", o.Version, OverlayVersion)
	}
	if o.LabelFilter != "" {
		if k, _ := parseLabelFilter(o.LabelFilter); k == "" {
			v.add("label_filter", "want key or key=value, got %q", o.LabelFilter)
		}
	}
	for i, h := range o.Hidden {
		if strings.TrimSpace(h) == "" {
			v.add(fmt.Sprintf("hidden[%d]", i), "empty blueprint id")
		}
	}
}

// service checks one service entry and its plans.
func (v *validator) service(key string, s ServiceOverlay) {
	sp := servicePath(key)
	if strings.TrimSpace(key) == "" {
		v.add(sp, "empty blueprint id")
	}
	if s.Name != "" {
		if err := checkName(s.Name); err != "" {
			v.add(sp+".name", "service name %q %s", s.Name, err)
		} else if prev, ok := v.names[s.Name]; ok {
			v.add(sp+".name", "service name %q is also the name of %s", s.Name, prev)
		} else {
			v.names[s.Name] = sp
		}
	}
	if s.ID != "" {
		if err := checkID(s.ID); err != "" {
			v.add(sp+".id", "id %q %s", s.ID, err)
		}
		v.claimID(s.ID, sp)
	}
	for i, t := range s.Tags {
		if strings.TrimSpace(t) == "" {
			v.add(fmt.Sprintf("%s.tags[%d]", sp, i), "empty tag")
		}
	}
	seen := map[string]bool{}
	for i, r := range s.Requires {
		p := fmt.Sprintf("%s.requires[%d]", sp, i)
		switch {
		case !requiresValues[r]:
			v.add(p, "unknown permission %q (want syslog_drain, route_forwarding or volume_mount)", r)
		case seen[r]:
			v.add(p, "%q given twice", r)
		}
		seen[r] = true
	}
	for _, u := range []struct{ field, v string }{
		{"imageUrl", s.Metadata.ImageURL}, {"documentationUrl", s.Metadata.DocumentationURL}, {"supportUrl", s.Metadata.SupportURL},
	} {
		if u.v == "" {
			continue
		}
		if pu, err := url.Parse(u.v); err != nil || pu.Scheme == "" {
			v.add(sp+".metadata."+u.field, "%q is not an absolute URL", u.v)
		}
	}
	if err := checkMaintenance(s.MaintenanceInfo); err != "" {
		v.add(sp+".maintenance_info.version", "%s", err)
	}
	v.credentials(sp, s.Credentials)
	if s.CredentialsType != "" && strings.TrimSpace(s.CredentialsType) == "" {
		v.add(sp+".credentials_type", "empty credentials type")
	}
	if s.URITemplate != "" {
		if strings.TrimSpace(s.URITemplate) == "" {
			v.add(sp+".uri_template", "empty template")
		} else if _, err := broker.URITemplatePlaceholders(s.URITemplate); err != nil {
			v.add(sp+".uri_template", "%v", err)
		}
	}
	v.bindings(sp, s.BindWorkflow, s.UnbindWorkflow, s.Bindings, s.BindingRotation)
	plans := map[string]bool{}
	for i, p := range s.Plans {
		v.plan(planPath(key, i), p, plans)
		bind, unbind := firstNonEmpty(p.BindWorkflow, s.BindWorkflow), firstNonEmpty(p.UnbindWorkflow, s.UnbindWorkflow)
		// One name from the plan, the other from the service (both from one place are
		// checked there).
		if bind != "" && bind == unbind && (p.BindWorkflow != "") != (p.UnbindWorkflow != "") {
			v.add(planPath(key, i), "the bind and unbind workflows are both %q", bind)
		}
	}
}

// bindings checks the binding fields of a service (at sp) or a plan: the workflow
// names, the bindings mode and the rotation.
func (v *validator) bindings(path, bind, unbind, mode string, rot *BindingRotation) {
	for _, w := range []struct{ field, name string }{{"bind_workflow", bind}, {"unbind_workflow", unbind}} {
		if w.name != "" {
			if err := checkWorkflowName(w.name); err != "" {
				v.add(path+"."+w.field, "workflow name %q %s", w.name, err)
			}
		}
	}
	if bind != "" && bind == unbind {
		v.add(path, "the bind and unbind workflows are both %q", bind)
	}
	switch mode {
	case "", BindingsShared, BindingsPerBinding:
	default:
		v.add(path+".bindings", "want %s or %s, got %q", BindingsShared, BindingsPerBinding, mode)
	}
	if rot == nil {
		return
	}
	rp := path + ".binding_rotation"
	if mode == BindingsShared {
		v.add(rp, "bindings that share their credentials cannot be rotated (bindings is %s)", BindingsShared)
	}
	switch {
	case rot.MaximumValidityPeriod < 0:
		v.add(rp+".maximum_validity_period", "must not be negative")
	case rot.MaximumValidityPeriod > MaxBindingValidity:
		v.add(rp+".maximum_validity_period", "%d seconds is longer than the %d (10 years) a binding may last", rot.MaximumValidityPeriod, MaxBindingValidity)
	}
	switch {
	case rot.OverlapPeriod < 0:
		v.add(rp+".overlap_period", "must not be negative")
	case rot.MaximumValidityPeriod > 0 && rot.OverlapPeriod >= rot.MaximumValidityPeriod:
		v.add(rp+".overlap_period", "%d seconds is not shorter than maximum_validity_period (%d)", rot.OverlapPeriod, rot.MaximumValidityPeriod)
	}
}

// credentials checks a service's credentials mapping.
func (v *validator) credentials(sp string, creds []CredentialMapping) {
	keys := map[string]bool{}
	for i, c := range creds {
		p := fmt.Sprintf("%s.credentials[%d]", sp, i)
		switch {
		case c.Key == "":
			v.add(p, "key is required")
		case keys[c.Key]:
			v.add(p+".key", "key %q is mapped twice", c.Key)
		}
		keys[c.Key] = true
		if c.From != "" && c.From != "capability" && c.From != "output" {
			v.add(p+".from", "want capability or output, got %q", c.From)
		}
	}
}

// plan checks one plan at path pp; plans holds the names of the service's plans so far.
func (v *validator) plan(pp string, p PlanOverlay, plans map[string]bool) {
	if p.Name == "" {
		v.add(pp, "name is required")
	} else if err := checkName(p.Name); err != "" {
		v.add(pp+".name", "plan name %q %s", p.Name, err)
	} else if plans[p.Name] {
		v.add(pp+".name", "plan %q is defined twice", p.Name)
	}
	plans[p.Name] = true
	if p.ID != "" {
		if err := checkID(p.ID); err != "" {
			v.add(pp+".id", "id %q %s", p.ID, err)
		}
		v.claimID(p.ID, pp)
	}
	if p.MaximumPollingDuration < 0 {
		v.add(pp+".maximum_polling_duration", "must not be negative")
	} else if maxSec := int(broker.MaxOperationDeadline / time.Second); p.MaximumPollingDuration > maxSec {
		v.add(pp+".maximum_polling_duration", "%d seconds is longer than the %d (%s) an operation may run", p.MaximumPollingDuration, maxSec, broker.MaxOperationDeadline)
	}
	for j, bl := range p.Metadata.Bullets {
		if strings.TrimSpace(bl) == "" {
			v.add(fmt.Sprintf("%s.metadata.bullets[%d]", pp, j), "empty bullet")
		}
	}
	v.costs(pp, p.Metadata.Costs)
	for _, name := range sortedKeys(p.Inputs) {
		if name == "" {
			v.add(pp+".inputs", "empty input name")
		}
	}
	if err := checkMaintenance(p.MaintenanceInfo); err != "" {
		v.add(pp+".maintenance_info.version", "%s", err)
	}
	v.bindings(pp, p.BindWorkflow, p.UnbindWorkflow, p.Bindings, p.BindingRotation)
}

// costs checks a plan's metadata.costs.
func (v *validator) costs(pp string, costs []Cost) {
	for j, c := range costs {
		cp := fmt.Sprintf("%s.metadata.costs[%d]", pp, j)
		if c.Unit == "" {
			v.add(cp, "unit is required")
		}
		if len(c.Amount) == 0 {
			v.add(cp, "amount is required")
		}
		for _, cur := range sortedKeys(c.Amount) {
			if a := c.Amount[cur]; a < 0 || math.IsNaN(a) || math.IsInf(a, 0) {
				v.add(cp+".amount."+cur, "amount must be a non-negative number")
			}
		}
	}
}

func checkName(n string) string {
	switch {
	case len(n) > MaxOSBName:
		return fmt.Sprintf("is longer than %d characters", MaxOSBName)
	case !nameRE.MatchString(n):
		return "must hold only letters, digits, \".\" and \"-\", and start with a letter or digit"
	}
	return ""
}

func checkID(id string) string {
	switch {
	case len(id) > MaxOSBName:
		return fmt.Sprintf("is longer than %d characters", MaxOSBName)
	case !idRE.MatchString(id):
		return "must hold only unreserved URL characters (letters, digits, \"-\", \".\", \"_\", \"~\")"
	}
	return ""
}

// checkWorkflowName checks the name of a bind or unbind workflow: the manager's
// workflow names are YAML keys, so only blanks and control characters are refused.
func checkWorkflowName(n string) string {
	switch {
	case strings.TrimSpace(n) == "":
		return "is blank"
	case strings.IndexFunc(n, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "must not hold spaces or control characters"
	}
	return ""
}

func checkMaintenance(m *MaintenanceInfo) string {
	if m == nil {
		return ""
	}
	if m.Version == "" {
		return "version is required"
	}
	if !semverRE.MatchString(m.Version) {
		return fmt.Sprintf("%q is not a Semantic Versioning 2.0 version", m.Version)
	}
	return ""
}

// parseLabelFilter splits "key" or "key=value".
func parseLabelFilter(f string) (key, value string) {
	k, v, _ := strings.Cut(f, "=")
	return strings.TrimSpace(k), strings.TrimSpace(v)
}

// MarshalYAML writes the overlay in its document format (see Export).
func (o Overlay) MarshalYAML() (any, error) {
	type plain Overlay // without the method, to avoid recursion
	p := plain(o)
	if p.Version == 0 {
		p.Version = OverlayVersion
	}
	return p, nil
}

// Export returns the overlay as a YAML document that ParseOverlay reads back to an equal
// overlay: two-space indentation, map keys sorted, plans and lists in their order.
func (o Overlay) Export() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# cfybroker catalog overlay; see internal/catalog/FORMAT.md\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(o); err != nil {
		return nil, fmt.Errorf("catalog: export overlay: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("catalog: export overlay: %w", err)
	}
	return buf.Bytes(), nil
}

// Clone returns a deep copy of the overlay (without line information).
func (o Overlay) Clone() Overlay {
	c := o
	c.lines = nil
	c.Hidden = cloneSlice(o.Hidden)
	c.Bindable = clonePtr(o.Bindable)
	if o.Services != nil {
		c.Services = make(map[string]ServiceOverlay, len(o.Services))
		for k, s := range o.Services {
			c.Services[k] = s.clone()
		}
	}
	return c
}

func (s ServiceOverlay) clone() ServiceOverlay {
	c := s
	c.Tags = cloneSlice(s.Tags)
	c.Requires = cloneSlice(s.Requires)
	c.Bindable = clonePtr(s.Bindable)
	c.InstancesRetrievable = clonePtr(s.InstancesRetrievable)
	c.BindingsRetrievable = clonePtr(s.BindingsRetrievable)
	c.PlanUpdateable = clonePtr(s.PlanUpdateable)
	c.AllowContextUpdates = clonePtr(s.AllowContextUpdates)
	c.MaintenanceInfo = clonePtr(s.MaintenanceInfo)
	c.Credentials = cloneSlice(s.Credentials)
	c.BindingRotation = clonePtr(s.BindingRotation)
	if s.Plans != nil {
		c.Plans = make([]PlanOverlay, len(s.Plans))
		for i, p := range s.Plans {
			c.Plans[i] = p.clone()
		}
	}
	return c
}

func (p PlanOverlay) clone() PlanOverlay {
	c := p
	c.Free = clonePtr(p.Free)
	c.Bindable = clonePtr(p.Bindable)
	c.PlanUpdateable = clonePtr(p.PlanUpdateable)
	c.MaintenanceInfo = clonePtr(p.MaintenanceInfo)
	c.BindingRotation = clonePtr(p.BindingRotation)
	c.Metadata.Bullets = cloneSlice(p.Metadata.Bullets)
	if p.Metadata.Costs != nil {
		c.Metadata.Costs = make([]Cost, len(p.Metadata.Costs))
		for i, cost := range p.Metadata.Costs {
			c.Metadata.Costs[i] = Cost{Unit: cost.Unit, Amount: cloneMap(cost.Amount)}
		}
	}
	if p.Inputs != nil {
		c.Inputs = deepCopy(p.Inputs).(map[string]any)
	}
	return c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T(nil), s...)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// deepCopy copies JSON-like values (maps, slices, scalars).
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, e := range t {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}
