package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// The bind and unbind workflows a plan uses when the overlay names none.
const (
	DefaultBindWorkflow   = "osb_bind"
	DefaultUnbindWorkflow = "osb_unbind"
)

// CredentialsTypeLabel is the blueprint label whose value is the default credentials
// type of the blueprint's service.
const CredentialsTypeLabel = "osb-type"

// The plan metadata keys Build adds for bindable plans.
const (
	// MetadataBindingCredentials is "per-binding" or "shared": whether each binding of
	// the plan gets its own credentials.
	MetadataBindingCredentials = "bindingCredentials"
	// MetadataBindingRotation is {"maximumValidityPeriod": s, "overlapPeriod": s} (each
	// key only when not 0) for plans whose bindings are rotatable.
	MetadataBindingRotation = "bindingRotation"
)

// brokerBindParameters are the bind workflow parameters the broker fills in itself:
// they are left out of a plan's binding schema. binding_id and secret_key are passed
// to both workflows on every run, so a workflow must declare them.
var (
	brokerBindParameters = broker.ReservedBindParameters
	alwaysPassed         = []string{broker.ParamBindingID, broker.ParamSecretKey}
)

// planBinding is what a plan's bindings are: per-binding (Workflows set) or shared.
type planBinding struct {
	Workflows *broker.BindWorkflows
	Schema    json.RawMessage
	Rotation  *broker.BindingRotation
	// rotationFromService is set when Rotation, or a rotation the plan could not take,
	// comes from the service's default.
	rotationFromService bool
}

// bindingBuild holds what planBindings needs of the plan being built.
type bindingBuild struct {
	ov       *Overlay
	so       ServiceOverlay
	po       PlanOverlay
	sp, pp   string // the service's and the plan's path (pp is sp for the implicit plan)
	target   cloudify.Blueprint
	bindable bool
	opts     SchemaOptions
	warn     func(format string, args ...any)
}

// setting is an overlay value and where it was set: on the plan or on the service.
type setting struct {
	value string
	path  string
}

func (b bindingBuild) setting(field, plan, service string) setting {
	if plan != "" {
		return setting{plan, b.pp + "." + field}
	}
	if service != "" {
		return setting{service, b.sp + "." + field}
	}
	return setting{}
}

// planBindings settles the bindings of one plan. A bindable plan gets per-binding
// credentials when its blueprint declares the bind and unbind workflows (the overlay's
// names, else DefaultBindWorkflow and DefaultUnbindWorkflow) with the parameters the
// broker passes, unless the overlay says bindings: shared. When the overlay asks for
// them (bindings: per-binding, or a workflow name) and the blueprint does not have
// them, it is an error, as an unknown input is; when only one default workflow is
// declared, a warning. A rotation the plan sets for itself on shared credentials is
// an error; the service's default rotation applies to its per-binding plans only.
func planBindings(b bindingBuild) (planBinding, error) {
	rotation, rotPath, fromService := b.po.BindingRotation, b.pp+".binding_rotation", false
	if rotation == nil && b.so.BindingRotation != nil {
		rotation, rotPath, fromService = b.so.BindingRotation, b.sp+".binding_rotation", true
	}
	out := planBinding{rotationFromService: fromService}
	refuseRotation := func(why string) error {
		if rotation == nil || fromService {
			return nil
		}
		return b.ov.errorf(rotPath, "binding rotation needs per-binding credentials; %s", why)
	}
	if !b.bindable {
		return out, refuseRotation("the plan is not bindable")
	}
	mode := b.setting("bindings", b.po.Bindings, b.so.Bindings)
	if mode.value == BindingsShared {
		return out, refuseRotation(fmt.Sprintf("%s is %s", mode.path, BindingsShared))
	}
	bind := b.setting("bind_workflow", b.po.BindWorkflow, b.so.BindWorkflow)
	unbind := b.setting("unbind_workflow", b.po.UnbindWorkflow, b.so.UnbindWorkflow)
	asked := ""
	for _, s := range []setting{bind, unbind, mode} {
		if s.value != "" && asked == "" {
			asked = s.path
		}
	}
	names := broker.BindWorkflows{Bind: firstNonEmpty(bind.value, DefaultBindWorkflow), Unbind: firstNonEmpty(unbind.value, DefaultUnbindWorkflow)}
	var workflows map[string]cloudify.WorkflowDef
	if b.target.Plan != nil {
		workflows = b.target.Plan.Workflows
	}
	if problem, declaresAny := workflowProblem(workflows, names); problem != "" {
		switch {
		case asked != "":
			return out, b.ov.errorf(asked, "blueprint %s %s, which per-binding credentials need", b.target.ID, problem)
		case declaresAny:
			b.warn("blueprint %s %s; the plan's bindings share the deployment's credentials", b.target.ID, problem)
		}
		return out, refuseRotation(fmt.Sprintf("blueprint %s %s", b.target.ID, problem))
	}

	bindDef := workflows[names.Bind]
	schema, warns, err := ParameterSchema(bindDef, b.target.Plan.DataTypes, brokerBindParameters, b.opts)
	for _, w := range warns {
		b.warn("blueprint %s, workflow %s: %s", b.target.ID, names.Bind, w)
	}
	if err != nil {
		return out, fmt.Errorf("catalog: blueprint %s, workflow %s: %w", b.target.ID, names.Bind, err)
	}
	if _, ok := bindDef.Parameters["app_guid"]; !ok {
		b.warn("blueprint %s: workflow %s declares no parameter app_guid; the manager will refuse binds to an application", b.target.ID, names.Bind)
	}
	out.Workflows, out.Schema = &names, schema
	if rotation != nil {
		if _, ok := bindDef.Parameters["predecessor_binding_id"]; !ok {
			b.warn("blueprint %s: workflow %s declares no parameter predecessor_binding_id; the manager will refuse rotations", b.target.ID, names.Bind)
		}
		out.Rotation = &broker.BindingRotation{MaximumValidityPeriod: rotation.MaximumValidityPeriod, OverlapPeriod: rotation.OverlapPeriod}
	}
	return out, nil
}

// workflowProblem says what keeps the named workflows from making per-binding
// credentials ("" when nothing does), and whether either is declared at all.
func workflowProblem(workflows map[string]cloudify.WorkflowDef, names broker.BindWorkflows) (problem string, declaresAny bool) {
	bind, hasBind := workflows[names.Bind]
	unbind, hasUnbind := workflows[names.Unbind]
	switch {
	case !hasBind && !hasUnbind:
		return fmt.Sprintf("declares neither workflow %q nor %q", names.Bind, names.Unbind), false
	case !hasBind:
		return fmt.Sprintf("declares workflow %q but no %q", names.Unbind, names.Bind), true
	case !hasUnbind:
		return fmt.Sprintf("declares workflow %q but no %q", names.Bind, names.Unbind), true
	}
	for _, wf := range []struct {
		name string
		def  cloudify.WorkflowDef
	}{{names.Bind, bind}, {names.Unbind, unbind}} {
		var missing []string
		for _, p := range alwaysPassed {
			if _, ok := wf.def.Parameters[p]; !ok {
				missing = append(missing, strconv.Quote(p))
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("declares workflow %q without the parameter %s the broker passes", wf.name, strings.Join(missing, " and ")), true
		}
	}
	return "", true
}

// bindingMetadata adds the binding keys to a bindable plan's metadata (which may be nil).
func bindingMetadata(m map[string]any, pb planBinding) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	m[MetadataBindingCredentials] = BindingsShared
	if pb.Workflows != nil {
		m[MetadataBindingCredentials] = BindingsPerBinding
	}
	if r := pb.Rotation; r != nil {
		rot := map[string]any{}
		if r.MaximumValidityPeriod > 0 {
			rot["maximumValidityPeriod"] = r.MaximumValidityPeriod
		}
		if r.OverlapPeriod > 0 {
			rot["overlapPeriod"] = r.OverlapPeriod
		}
		m[MetadataBindingRotation] = rot
	}
	return m
}

// credentialsType is a service's credentials type: the overlay's, else the value of
// the blueprint's CredentialsTypeLabel label, else the first tag, else "".
func credentialsType(so ServiceOverlay, bp cloudify.Blueprint, tags []string) string {
	if so.CredentialsType != "" {
		return so.CredentialsType
	}
	for _, l := range bp.Labels {
		if strings.EqualFold(l.Key, CredentialsTypeLabel) && strings.TrimSpace(l.Value) != "" {
			return l.Value
		}
	}
	if len(tags) > 0 {
		return tags[0]
	}
	return ""
}

// unusedPlaceholders lists the placeholders of a service's URI template that no mapped
// credentials key fills, when every binding's credentials are the mapped ones.
func unusedPlaceholders(template string, creds []broker.CredentialField) []string {
	names, err := broker.URITemplatePlaceholders(template)
	if err != nil || len(creds) == 0 {
		return nil
	}
	var out []string
	for _, n := range names {
		if !slices.ContainsFunc(creds, func(c broker.CredentialField) bool { return c.Key == n }) {
			out = append(out, n)
		}
	}
	return out
}
