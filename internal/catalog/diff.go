package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalogview"
)

// ChangeKind classifies a Change.
type ChangeKind string

// The kinds of Change. The last four are broker-only: the platform does not see them.
const (
	ServiceAdded           ChangeKind = "service added"
	ServiceRemoved         ChangeKind = "service removed"
	ServiceRenamed         ChangeKind = "service renamed"
	ServiceChanged         ChangeKind = "service changed"
	PlanAdded              ChangeKind = "plan added"
	PlanRemoved            ChangeKind = "plan removed"
	PlanRenamed            ChangeKind = "plan renamed"
	PlanChanged            ChangeKind = "plan changed"
	SchemaChanged          ChangeKind = "schema changed"
	MaintenanceInfoChanged ChangeKind = "maintenance_info changed"
	PlanBlueprintChanged   ChangeKind = "plan blueprint changed"
	PlanInputsChanged      ChangeKind = "plan inputs changed"
	CredentialsChanged     ChangeKind = "credentials changed"
	BindWorkflowsChanged   ChangeKind = "plan bind workflows changed"
)

// Change is one difference between two catalogs, matched by service and plan id.
type Change struct {
	Kind ChangeKind
	// ServiceID and Service identify the service (its new name, or old one when removed).
	ServiceID string
	Service   string
	// PlanID and Plan identify the plan for plan changes.
	PlanID string
	Plan   string
	// From and To are the old and new values of renames, maintenance_info versions,
	// plan blueprints and bind workflows ("bind/unbind", or "(shared)" for none).
	From, To string
	// Fields lists what changed for ServiceChanged, PlanChanged ("description",
	// "metadata", ...), SchemaChanged ("create", "update", "bind") and, when more than
	// the mapping changed, CredentialsChanged ("mapping", "credentials_type",
	// "uri_template").
	Fields []string
}

// String describes the change on one line for the CLI, for example
// "~ plan mariadb/small: maintenance_info 1.0.0 -> 1.1.0".
func (c Change) String() string {
	subject := "service " + c.Service
	if c.Plan != "" {
		subject = "plan " + c.Service + "/" + c.Plan
	}
	switch c.Kind {
	case ServiceAdded, PlanAdded:
		return "+ " + subject
	case ServiceRemoved, PlanRemoved:
		return "- " + subject
	case ServiceRenamed, PlanRenamed:
		return fmt.Sprintf("~ %s: renamed from %s", subject, c.From)
	case ServiceChanged, PlanChanged:
		return fmt.Sprintf("~ %s: %s changed", subject, strings.Join(c.Fields, ", "))
	case SchemaChanged:
		return fmt.Sprintf("~ %s: %s schema changed", subject, joinAnd(c.Fields))
	case MaintenanceInfoChanged:
		if c.From == c.To {
			return fmt.Sprintf("~ %s: maintenance_info description changed (version %s)", subject, orNone(c.To))
		}
		return fmt.Sprintf("~ %s: maintenance_info %s -> %s", subject, orNone(c.From), orNone(c.To))
	case PlanBlueprintChanged:
		s := fmt.Sprintf("~ %s: blueprint %s -> %s (broker only)", subject, c.From, c.To)
		if len(c.Fields) > 0 {
			s += "; " + strings.Join(c.Fields, "; ")
		}
		return s
	case BindWorkflowsChanged:
		return fmt.Sprintf("~ %s: bind workflows %s -> %s (broker only)", subject, c.From, c.To)
	case CredentialsChanged:
		if len(c.Fields) > 0 {
			return fmt.Sprintf("~ %s: credentials %s changed (broker only)", subject, strings.Join(c.Fields, ", "))
		}
		return fmt.Sprintf("~ %s: credentials changed (broker only)", subject)
	case PlanInputsChanged:
		return fmt.Sprintf("~ %s: inputs changed (broker only)", subject)
	}
	return fmt.Sprintf("~ %s: %s", subject, c.Kind)
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Diff lists what changes from before to after: first for the services of after in their order
// (each service's own changes, then its plans' in order, then its removed plans), then the
// removed services. Services and plans are matched by id, so a new name is a rename. A
// plan moved to another blueprint without a new maintenance_info version is flagged, since
// the platform will not offer the upgrade.
func Diff(before, after broker.Catalog) []Change {
	var out []Change
	oldSvc := map[string]broker.Service{}
	for _, s := range before.Services {
		oldSvc[s.ID] = s
	}
	seen := map[string]bool{}
	for _, ns := range after.Services {
		seen[ns.ID] = true
		os, ok := oldSvc[ns.ID]
		if !ok {
			out = append(out, Change{Kind: ServiceAdded, ServiceID: ns.ID, Service: ns.Name})
			continue
		}
		out = append(out, diffService(os, ns)...)
	}
	for _, os := range before.Services {
		if !seen[os.ID] {
			out = append(out, Change{Kind: ServiceRemoved, ServiceID: os.ID, Service: os.Name})
		}
	}
	return out
}

func diffService(os, ns broker.Service) []Change {
	var out []Change
	base := Change{ServiceID: ns.ID, Service: ns.Name}
	if os.Name != ns.Name {
		c := base
		c.Kind, c.From, c.To = ServiceRenamed, os.Name, ns.Name
		out = append(out, c)
	}
	ov, nv := catalogview.ServiceView(os), catalogview.ServiceView(ns)
	ov.Name, nv.Name = "", ""
	ov.Plans, nv.Plans = nil, nil
	if fields := changedFields(ov, nv); len(fields) > 0 {
		c := base
		c.Kind, c.Fields = ServiceChanged, fields
		out = append(out, c)
	}
	mapping := !reflect.DeepEqual(os.Credentials, ns.Credentials)
	if mapping || os.CredentialsType != ns.CredentialsType || os.URITemplate != ns.URITemplate {
		c := base
		c.Kind = CredentialsChanged
		if os.CredentialsType != ns.CredentialsType || os.URITemplate != ns.URITemplate {
			for _, f := range []struct {
				name    string
				changed bool
			}{{"mapping", mapping}, {"credentials_type", os.CredentialsType != ns.CredentialsType}, {"uri_template", os.URITemplate != ns.URITemplate}} {
				if f.changed {
					c.Fields = append(c.Fields, f.name)
				}
			}
		}
		out = append(out, c)
	}
	oldPlan := map[string]broker.Plan{}
	for _, p := range os.Plans {
		oldPlan[p.ID] = p
	}
	seen := map[string]bool{}
	for _, np := range ns.Plans {
		seen[np.ID] = true
		pc := base
		pc.PlanID, pc.Plan = np.ID, np.Name
		op, ok := oldPlan[np.ID]
		if !ok {
			pc.Kind = PlanAdded
			out = append(out, pc)
			continue
		}
		out = append(out, diffPlan(pc, op, np)...)
	}
	for _, op := range os.Plans {
		if !seen[op.ID] {
			pc := base
			pc.Kind, pc.PlanID, pc.Plan = PlanRemoved, op.ID, op.Name
			out = append(out, pc)
		}
	}
	return out
}

func diffPlan(base Change, op, np broker.Plan) []Change {
	var out []Change
	if op.Name != np.Name {
		c := base
		c.Kind, c.From, c.To = PlanRenamed, op.Name, np.Name
		out = append(out, c)
	}
	ov, nv := catalogview.PlanView(op), catalogview.PlanView(np)
	ov.Name, nv.Name = "", ""
	ov.Schemas, nv.Schemas = nil, nil
	ov.MaintenanceInfo, nv.MaintenanceInfo = nil, nil
	if fields := changedFields(ov, nv); len(fields) > 0 {
		c := base
		c.Kind, c.Fields = PlanChanged, fields
		out = append(out, c)
	}
	var schemas []string
	for _, s := range []struct {
		name     string
		old, new json.RawMessage
	}{{"create", op.CreateSchema, np.CreateSchema}, {"update", op.UpdateSchema, np.UpdateSchema}, {"bind", op.BindSchema, np.BindSchema}} {
		if !sameJSON(s.old, s.new) {
			schemas = append(schemas, s.name)
		}
	}
	if len(schemas) > 0 {
		c := base
		c.Kind, c.Fields = SchemaChanged, schemas
		out = append(out, c)
	}
	oldMI, newMI := miVersion(op.MaintenanceInfo), miVersion(np.MaintenanceInfo)
	if !reflect.DeepEqual(op.MaintenanceInfo, np.MaintenanceInfo) {
		c := base
		c.Kind, c.From, c.To = MaintenanceInfoChanged, oldMI, newMI
		if oldMI == newMI {
			c.Fields = []string{"description"}
		}
		out = append(out, c)
	}
	if op.BlueprintID != np.BlueprintID {
		c := base
		c.Kind, c.From, c.To = PlanBlueprintChanged, op.BlueprintID, np.BlueprintID
		if oldMI == newMI {
			c.Fields = []string{"maintenance_info.version is unchanged, so the platform will not offer the upgrade"}
		}
		out = append(out, c)
	}
	if from, to := workflowsText(op), workflowsText(np); from != to {
		c := base
		c.Kind, c.From, c.To = BindWorkflowsChanged, from, to
		out = append(out, c)
	}
	if !sameValue(op.Inputs, np.Inputs) {
		c := base
		c.Kind = PlanInputsChanged
		out = append(out, c)
	}
	return out
}

// workflowsText is a plan's bind workflows as "bind/unbind", or "(shared)".
func workflowsText(p broker.Plan) string {
	if !p.PerBindingCredentials() {
		return "(shared)"
	}
	return p.BindWorkflows.Bind + "/" + p.BindWorkflows.Unbind
}

func miVersion(m *broker.MaintenanceInfo) string {
	if m == nil {
		return ""
	}
	return m.Version
}

// changedFields compares two views field by field by their JSON names.
func changedFields(a, b any) []string {
	am, bm := jsonFields(a), jsonFields(b)
	var out []string
	for _, k := range sortedKeys(bm) {
		if !bytes.Equal(am[k], bm[k]) {
			out = append(out, k)
		}
	}
	for _, k := range sortedKeys(am) {
		if _, ok := bm[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func jsonFields(v any) map[string][]byte {
	b, err := canonicalJSON(v)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	out := make(map[string][]byte, len(m))
	for k, raw := range m {
		out[k] = raw
	}
	return out
}

// sameValue compares JSON-like values as JSON, so that 5 from YAML equals 5.0 from a
// stored catalog.
func sameValue(a, b any) bool {
	ca, err1 := canonicalJSON(a)
	cb, err2 := canonicalJSON(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	return bytes.Equal(ca, cb)
}

// sameJSON reports whether two JSON documents are equal as values (key order aside).
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	ca, err1 := canonicalJSON(a)
	cb, err2 := canonicalJSON(b)
	if err1 != nil || err2 != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca, cb)
}
