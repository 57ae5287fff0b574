package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalogview"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// DefaultPlanName is the name of the plan a service gets when the overlay lists none.
const DefaultPlanName = "default"

// DefaultMaintenanceVersion is a plan's maintenance_info.version when the overlay gives none.
const DefaultMaintenanceVersion = "1.0.0"

// BuildOptions controls Build.
type BuildOptions struct {
	// ManagerURL and Tenant identify the manager in the generated ids (see ServiceID);
	// an empty Tenant is DefaultTenant.
	ManagerURL string
	Tenant     string
	// ManagerVersion picks the required-input rule (see SchemaOptions); "" is current.
	ManagerVersion string
	// Draft is the JSON Schema draft of the plan schemas.
	Draft Draft
	// Now stamps Catalog.SyncedAt (nil: time.Now).
	Now func() time.Time
	// Previous, when set, is the catalog published before. A service whose generated name
	// it already holds keeps that name, so that a newly uploaded blueprint whose name
	// collides never renames an existing service.
	Previous *broker.Catalog
}

// Warning is something Build left out or changed that the operator should know about.
type Warning struct {
	// Blueprint is the blueprint (service key) concerned; empty for the whole overlay.
	Blueprint string
	// Plan is the plan concerned, if any.
	Plan string
	// Message says what happened.
	Message string
}

// String returns "blueprint mariadb, plan small: message".
func (w Warning) String() string {
	var parts []string
	if w.Blueprint != "" {
		parts = append(parts, "blueprint "+w.Blueprint)
	}
	if w.Plan != "" {
		parts = append(parts, "plan "+w.Plan)
	}
	if len(parts) == 0 {
		return w.Message
	}
	return strings.Join(parts, ", ") + ": " + w.Message
}

// Build returns the catalog published for the blueprints with the overlay.
//
// A blueprint becomes a service when it is deployable (state "uploaded", or no state on
// managers before 5.2), not is_hidden, carries the overlay's label filter, and is not
// hidden by the overlay. Each service gets the overlay's plans (or one plan "default"); each
// plan gets its create and update schemas from its blueprint (the plan's blueprint, if set)
// minus its fixed inputs. Ids are ServiceID/PlanID unless pinned; names come from
// ServiceName, a collision being settled in blueprint id order with "-2", "-3", ... (and a
// warning). Services are sorted by name; plans keep the overlay's order. The catalog's ETag
// is ETag(catalog).
//
// Errors: the overlay's errors against the blueprints (an unknown fixed input, a plan
// blueprint that is not deployable, a pinned name or id used twice) as *OverlayErrors
// joined with errors.Join, and schema errors naming the blueprint (such as
// ErrSchemaTooLarge). No partial catalog is returned.
func Build(blueprints []cloudify.Blueprint, ov Overlay, opts BuildOptions) (broker.Catalog, []Warning, error) {
	return build(blueprints, ov, opts, nil)
}

// candidate is a service being built.
type candidate struct {
	key     string // blueprint id
	overlay ServiceOverlay
	svc     broker.Service
	derived bool // the name is derived, not pinned
}

func build(blueprints []cloudify.Blueprint, ov Overlay, opts BuildOptions, progress func(done, total int)) (broker.Catalog, []Warning, error) {
	if err := ov.validate(); err != nil {
		return broker.Catalog{}, nil, err
	}
	var warns []Warning
	warn := func(bp, plan, format string, args ...any) {
		warns = append(warns, Warning{Blueprint: bp, Plan: plan, Message: fmt.Sprintf(format, args...)})
	}

	sorted := slices.Clone(blueprints)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	all := map[string]cloudify.Blueprint{} // deployable blueprints, possible plan targets
	var published []cloudify.Blueprint
	known := map[string]bool{}
	labelKey, labelValue := parseLabelFilter(ov.LabelFilter)
	for _, bp := range sorted {
		if known[bp.ID] {
			warn(bp.ID, "", "listed twice; the second is ignored")
			continue
		}
		known[bp.ID] = true
		if !bp.Deployable() {
			if _, ok := ov.Services[bp.ID]; ok {
				warn(bp.ID, "", "not published: its state is %q, not %q", bp.State, cloudify.BlueprintUploaded)
			}
			continue
		}
		all[bp.ID] = bp
		switch {
		case bp.IsHidden, ov.IsHidden(bp.ID):
			continue
		case labelKey != "" && !hasLabel(bp.Labels, labelKey, labelValue):
			continue
		}
		published = append(published, bp)
	}
	for _, key := range sortedKeys(ov.Services) {
		if !known[key] {
			warn(key, "", "the overlay adorns a blueprint the manager does not have; ignored")
		}
	}
	if labelKey != "" && len(published) == 0 && len(all) > 0 {
		warn("", "", "no blueprint carries the label %q (blueprint labels need Cloudify 6.0+)", ov.LabelFilter)
	}

	tenant := tenantOrDefault(opts.Tenant)
	var errs []error
	cands := make([]*candidate, 0, len(published))
	if progress != nil {
		progress(0, len(published))
	}
	for i, bp := range published {
		c, err := buildService(bp, all, &ov, opts, tenant, warn)
		if err != nil {
			errs = append(errs, err)
		} else {
			cands = append(cands, c)
		}
		if progress != nil {
			progress(i+1, len(published))
		}
	}
	if err := assignNames(cands, &ov, opts.Previous, warn); err != nil {
		errs = append(errs, err)
	}
	if err := checkIDs(cands, &ov); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return broker.Catalog{}, warns, errors.Join(errs...)
	}

	services := make([]broker.Service, 0, len(cands))
	for _, c := range cands {
		services = append(services, c.svc)
	}
	sort.SliceStable(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	cat := broker.Catalog{Services: services, SyncedAt: now().UTC()}
	etag, err := ETag(cat)
	if err != nil {
		return broker.Catalog{}, warns, err
	}
	cat.ETag = etag
	return cat, warns, nil
}

// hasLabel reports whether labels hold key (case-insensitively) with the value, if any.
func hasLabel(labels []cloudify.Label, key, value string) bool {
	for _, l := range labels {
		if strings.EqualFold(l.Key, key) && (value == "" || l.Value == value) {
			return true
		}
	}
	return false
}

// buildService builds the service of a published blueprint, without its name.
func buildService(bp cloudify.Blueprint, all map[string]cloudify.Blueprint, ov *Overlay, opts BuildOptions, tenant string, warn func(bp, plan, format string, args ...any)) (*candidate, error) {
	so := ov.Services[bp.ID]
	sp := servicePath(bp.ID)
	svc := broker.Service{
		ID:                   so.ID,
		Description:          firstNonEmpty(so.Description, bp.Description, planDescription(bp.Plan), "Cloudify blueprint "+bp.ID),
		Tags:                 cloneSlice(so.Tags),
		Requires:             cloneSlice(so.Requires),
		Bindable:             boolOr(so.Bindable, boolOr(ov.Bindable, true)),
		InstancesRetrievable: boolOr(so.InstancesRetrievable, true),
		BindingsRetrievable:  boolOr(so.BindingsRetrievable, true),
		PlanUpdateable:       boolOr(so.PlanUpdateable, false),
		AllowContextUpdates:  boolOr(so.AllowContextUpdates, false),
		Metadata:             serviceMetadata(so.Metadata),
		BlueprintID:          bp.ID,
		URITemplate:          so.URITemplate,
	}
	svc.CredentialsType = credentialsType(so, bp, svc.Tags)
	if svc.ID == "" {
		svc.ID = ServiceID(opts.ManagerURL, tenant, bp.ID)
	}
	for _, c := range so.Credentials {
		svc.Credentials = append(svc.Credentials, broker.CredentialField{Key: c.Key, Source: c.From, Name: c.Name, Secret: c.Secret})
	}

	plans := so.Plans
	implicit := len(plans) == 0
	if implicit {
		plans = []PlanOverlay{{Name: DefaultPlanName}}
	}
	var errs []error
	rotatable := false // a plan took the service's default binding rotation
	perBinding := false
	for i, po := range plans {
		pp := planPath(bp.ID, i)
		if implicit {
			pp = sp
		}
		target := firstNonEmpty(po.Blueprint, bp.ID)
		tb, ok := all[target]
		if !ok {
			errs = append(errs, ov.errorf(pp+".blueprint", "blueprint %q does not exist or is not uploaded", target))
			continue
		}
		if tb.Plan == nil {
			warn(bp.ID, po.Name, "blueprint %s came without its plan; the plan's schemas accept no inputs", target)
		}
		var inputs map[string]cloudify.Input
		if tb.Plan != nil {
			inputs = tb.Plan.Inputs
		}
		bad := false
		for _, name := range sortedKeys(po.Inputs) {
			if _, ok := inputs[name]; !ok {
				p := pp + ".inputs"
				e := ov.errorf(joinPath(p, name), "unknown input %q of blueprint %s", name, target)
				e.(*OverlayError).Path = p
				errs = append(errs, e)
				bad = true
			}
		}
		if bad {
			continue
		}
		create, update, schemaWarns, err := InputSchemas(tb.Plan, po.Inputs, SchemaOptions{Draft: opts.Draft, ManagerVersion: opts.ManagerVersion})
		for _, w := range schemaWarns {
			if target != bp.ID {
				w = "blueprint " + target + ": " + w
			}
			warn(bp.ID, po.Name, "%s", w)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("catalog: blueprint %s, plan %s: %w", target, po.Name, err))
			continue
		}
		plan := broker.Plan{
			ID:                     po.ID,
			Name:                   po.Name,
			Description:            firstNonEmpty(po.Description, "Deploys blueprint "+target+"."),
			Free:                   boolOr(po.Free, true),
			Bindable:               clonePtr(po.Bindable),
			PlanUpdateable:         clonePtr(po.PlanUpdateable),
			Metadata:               planMetadata(po.Metadata),
			MaximumPollingDuration: po.MaximumPollingDuration,
			MaintenanceInfo:        maintenanceInfo(po.MaintenanceInfo, so.MaintenanceInfo),
			CreateSchema:           create,
			UpdateSchema:           update,
			BlueprintID:            target,
		}
		if plan.ID == "" {
			plan.ID = PlanID(opts.ManagerURL, tenant, bp.ID, po.Name)
		}
		bindable := svc.PlanBindable(plan)
		pb, err := planBindings(bindingBuild{
			ov: ov, so: so, po: po, sp: sp, pp: pp, target: tb, bindable: bindable,
			opts: SchemaOptions{Draft: opts.Draft, ManagerVersion: opts.ManagerVersion},
			warn: func(format string, args ...any) { warn(bp.ID, po.Name, format, args...) },
		})
		if err != nil {
			// A service's setting wrong for several plans is one problem.
			if !slices.ContainsFunc(errs, func(e error) bool { return e.Error() == err.Error() }) {
				errs = append(errs, err)
			}
			continue
		}
		plan.BindWorkflows, plan.BindSchema, plan.BindingRotation = pb.Workflows, pb.Schema, pb.Rotation
		if bindable {
			plan.Metadata = bindingMetadata(plan.Metadata, pb)
		}
		perBinding = perBinding || pb.Workflows != nil
		rotatable = rotatable || pb.Rotation != nil && pb.rotationFromService
		if len(po.Inputs) > 0 {
			plan.Inputs = deepCopy(po.Inputs).(map[string]any)
		}
		svc.Plans = append(svc.Plans, plan)
	}
	if len(errs) == 0 && so.BindingRotation != nil && !rotatable {
		errs = append(errs, ov.errorf(sp+".binding_rotation", "binding rotation needs per-binding credentials, and no bindable plan of the service has them"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if perBinding && len(so.Credentials) > 0 {
		warn(bp.ID, "", "credentials: the mapping applies to plans with shared credentials only; a plan with per-binding credentials hands out what its bind workflow leaves in the binding's secret")
	}
	if missing := unusedPlaceholders(svc.URITemplate, svc.Credentials); len(missing) > 0 && !perBinding {
		warn(bp.ID, "", "uri_template: no credentials key is mapped for %s; bindings will have no uri", strings.Join(missing, ", "))
	}
	return &candidate{key: bp.ID, overlay: so, svc: svc, derived: so.Name == ""}, nil
}

func planDescription(p *cloudify.BlueprintPlan) string {
	if p == nil {
		return ""
	}
	return p.Description
}

func maintenanceInfo(plan, service *MaintenanceInfo) *broker.MaintenanceInfo {
	m := &broker.MaintenanceInfo{Version: DefaultMaintenanceVersion}
	for _, o := range []*MaintenanceInfo{service, plan} {
		if o != nil {
			m.Version, m.Description = o.Version, o.Description
		}
	}
	return m
}

func serviceMetadata(m ServiceMetadata) map[string]any {
	out := map[string]any{}
	for k, v := range map[string]string{
		"displayName": m.DisplayName, "imageUrl": m.ImageURL, "longDescription": m.LongDescription,
		"documentationUrl": m.DocumentationURL, "supportUrl": m.SupportURL, "providerDisplayName": m.ProviderDisplayName,
	} {
		if v != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func planMetadata(m PlanMetadata) map[string]any {
	out := map[string]any{}
	if m.DisplayName != "" {
		out["displayName"] = m.DisplayName
	}
	if len(m.Bullets) > 0 {
		out["bullets"] = cloneSlice(m.Bullets)
	}
	if len(m.Costs) > 0 {
		costs := make([]any, 0, len(m.Costs))
		for _, c := range m.Costs {
			amount := map[string]any{}
			for cur, a := range c.Amount {
				amount[cur] = a
			}
			costs = append(costs, map[string]any{"amount": amount, "unit": c.Unit})
		}
		out["costs"] = costs
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

var numberedName = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// assignNames gives every service its name: pinned names first, then derived names kept
// from the previous catalog, then the rest in blueprint id order with "-N" on collisions.
func assignNames(cands []*candidate, ov *Overlay, prev *broker.Catalog, warn func(bp, plan, format string, args ...any)) error {
	owner := map[string]string{} // name -> blueprint id
	var errs []error
	for _, c := range cands {
		if c.derived {
			continue
		}
		c.svc.Name = c.overlay.Name
		if other, ok := owner[c.svc.Name]; ok {
			errs = append(errs, ov.errorf(servicePath(c.key)+".name", "service name %q is also the name of blueprint %s", c.svc.Name, other))
			continue
		}
		owner[c.svc.Name] = c.key
	}
	prevNames := map[string]string{}
	if prev != nil {
		for _, s := range prev.Services {
			prevNames[s.ID] = s.Name
		}
	}
	var rest []*candidate
	for _, c := range cands {
		if !c.derived {
			continue
		}
		base := ServiceName(c.key)
		old, ok := prevNames[c.svc.ID]
		if ok && isDerivedFrom(old, base) {
			if _, taken := owner[old]; !taken {
				c.svc.Name = old
				owner[old] = c.key
				continue
			}
		}
		rest = append(rest, c)
	}
	for _, c := range rest { // cands, and so rest, are in blueprint id order
		base := ServiceName(c.key)
		name := base
		for n := 2; ; n++ {
			if _, taken := owner[name]; !taken {
				break
			}
			suffix := "-" + strconv.Itoa(n)
			name = trimName(base, MaxNameLength-len(suffix)) + suffix
		}
		if name != base {
			warn(c.key, "", "service name %q is taken by blueprint %s; using %q (set services.%s.name to choose)", base, owner[base], name, c.key)
		}
		c.svc.Name = name
		owner[name] = c.key
	}
	return errors.Join(errs...)
}

// isDerivedFrom reports whether name is base or base with a "-N" collision suffix.
func isDerivedFrom(name, base string) bool {
	if name == base {
		return true
	}
	m := numberedName.FindStringSubmatch(name)
	return m != nil && m[1] == trimName(base, MaxNameLength-len(m[2])-1)
}

// checkIDs reports service and plan ids used twice (possible only with pinned ids).
func checkIDs(cands []*candidate, ov *Overlay) error {
	seen := map[string]string{}
	var errs []error
	claim := func(id, what, path string) {
		if other, ok := seen[id]; ok {
			errs = append(errs, ov.errorf(path, "id %s of %s is also the id of %s", id, what, other))
			return
		}
		seen[id] = what
	}
	for _, c := range cands {
		claim(c.svc.ID, "service "+c.key, servicePath(c.key)+".id")
		for i, p := range c.svc.Plans {
			path := servicePath(c.key)
			if len(c.overlay.Plans) > 0 {
				path = planPath(c.key, i) + ".id"
			}
			claim(p.ID, fmt.Sprintf("plan %s of service %s", p.Name, c.key), path)
		}
	}
	return errors.Join(errs...)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// ETag returns the hash (hex SHA-256, 32 characters) of the canonical JSON of what the
// platform sees of the catalog: the services and plans as GET /v2/catalog shows them, in
// order. It changes exactly when that content changes; SyncedAt, blueprint ids, fixed
// inputs and credential mappings do not count. It is not quoted: an HTTP ETag header
// wants it in double quotes.
func ETag(c broker.Catalog) (string, error) {
	b, err := canonicalJSON(catalogview.View(c))
	if err != nil {
		return "", fmt.Errorf("catalog: etag: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// canonicalJSON marshals v, then decodes and re-marshals it so that every object's keys
// are sorted, raw schemas included.
func canonicalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	return encodeSchema(d)
}
