package catalog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// bindingBlueprints are a mariadb-like blueprint that declares osb_bind and osb_unbind,
// a redis-like one that declares neither, one that declares only osb_bind, one with
// workflows of other names, and one whose workflows lack the broker's parameters.
func bindingBlueprints() []cloudify.Blueprint {
	custom := map[string]cloudify.WorkflowDef{}
	for name, wf := range bindWorkflows() {
		custom[strings.Replace(strings.Replace(name, "osb_bind", "make_user", 1), "osb_unbind", "drop_user", 1)] = wf
	}
	half := bindWorkflows()
	delete(half, "osb_unbind")
	noParams := bindWorkflows()
	unbind := noParams["osb_unbind"]
	unbind.Parameters = map[string]cloudify.Input{"binding_id": {Type: "string"}}
	noParams["osb_unbind"] = unbind
	bp := func(id string, wfs map[string]cloudify.WorkflowDef) cloudify.Blueprint {
		return cloudify.Blueprint{ID: id, State: "uploaded", Plan: &cloudify.BlueprintPlan{
			Inputs:    map[string]cloudify.Input{"size": {Type: "integer", Default: json.RawMessage("1")}},
			Workflows: wfs,
		}}
	}
	return []cloudify.Blueprint{
		bp("db", bindWorkflows()),
		bp("cache", map[string]cloudify.WorkflowDef{"install": {}}),
		bp("half", half),
		bp("custom", custom),
		bp("noparams", noParams),
	}
}

// planBindingsOf summarizes the bindings of every plan of the catalog, by
// "service/plan": "shared", "-" (not bindable) or "bind/unbind", with " rotation"
// when rotatable; and checks that the metadata says the same.
func planBindingsOf(t *testing.T, cat broker.Catalog) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range cat.Services {
		for _, p := range s.Plans {
			key := s.BlueprintID + "/" + p.Name
			got, meta := "-", p.Metadata[MetadataBindingCredentials]
			switch {
			case !s.PlanBindable(p):
				if meta != nil {
					t.Errorf("%s: a plan that is not bindable has metadata %s %v", key, MetadataBindingCredentials, meta)
				}
			case p.PerBindingCredentials():
				got = p.BindWorkflows.Bind + "/" + p.BindWorkflows.Unbind
				if meta != BindingsPerBinding || len(p.BindSchema) == 0 {
					t.Errorf("%s: per-binding with metadata %v and bind schema %s", key, meta, p.BindSchema)
				}
			default:
				got = "shared"
				if meta != BindingsShared || p.BindWorkflows != nil || p.BindSchema != nil {
					t.Errorf("%s: shared with metadata %v, workflows %v, bind schema %s", key, meta, p.BindWorkflows, p.BindSchema)
				}
			}
			if p.BindingRotation != nil {
				got += " rotation"
			}
			out[key] = got
		}
	}
	return out
}

func warningTexts(warns []Warning) []string {
	var out []string
	for _, w := range warns {
		out = append(out, w.String())
	}
	return out
}

func TestBuildBindings(t *testing.T) {
	tests := []struct {
		name    string
		overlay string
		want    map[string]string // the plans that differ from the defaults
		warns   []string
	}{
		{
			name:    "defaults: per-binding when the blueprint declares both workflows",
			overlay: "",
		},
		{
			name:    "bindings shared on the service",
			overlay: "services:\n  db: {bindings: shared}\n",
			want:    map[string]string{"db/default": "shared"},
		},
		{
			name:    "bindings shared on one plan, per-binding on the other",
			overlay: "services:\n  db:\n    plans:\n      - name: a\n        bindings: shared\n      - name: b\n",
			want:    map[string]string{"db/default": "", "db/a": "shared", "db/b": "osb_bind/osb_unbind"},
		},
		{
			name:    "workflows named on the service",
			overlay: "services:\n  custom: {bind_workflow: make_user, unbind_workflow: drop_user}\n",
			want:    map[string]string{"custom/default": "make_user/drop_user"},
		},
		{
			name: "the plan's name overrides the service's",
			overlay: "services:\n  custom:\n    bind_workflow: nope\n    unbind_workflow: drop_user\n" +
				"    plans:\n      - name: p\n        bind_workflow: make_user\n",
			want: map[string]string{"custom/default": "", "custom/p": "make_user/drop_user"},
		},
		{
			name:    "per-binding asked where the workflows are declared",
			overlay: "services:\n  db: {bindings: per-binding}\n",
		},
		{
			name:    "a credentials mapping on a service with per-binding plans",
			overlay: "services:\n  db:\n    credentials:\n      - {key: host}\n",
			warns: []string{
				`blueprint db: credentials: the mapping applies to plans with shared credentials only; a plan with per-binding credentials hands out what its bind workflow leaves in the binding's secret`,
				`blueprint half, plan default: blueprint half declares workflow "osb_bind" but no "osb_unbind"; the plan's bindings share the deployment's credentials`,
				`blueprint noparams, plan default: blueprint noparams declares workflow "osb_unbind" without the parameter "secret_key" the broker passes; the plan's bindings share the deployment's credentials`,
			},
		},
		{
			name:    "not bindable",
			overlay: "services:\n  db: {bindable: false}\n",
			want:    map[string]string{"db/default": "-"},
		},
		{
			name:    "a plan that is not bindable, the service's default workflows",
			overlay: "services:\n  custom:\n    bind_workflow: make_user\n    unbind_workflow: drop_user\n    plans:\n      - {name: p, bindable: false}\n",
			want:    map[string]string{"custom/default": "", "custom/p": "-"},
		},
	}
	defaults := map[string]string{
		"db/default": "osb_bind/osb_unbind", "cache/default": "shared", "half/default": "shared",
		"custom/default": "shared", "noparams/default": "shared",
	}
	defaultWarns := []string{
		`blueprint half, plan default: blueprint half declares workflow "osb_bind" but no "osb_unbind"; the plan's bindings share the deployment's credentials`,
		`blueprint noparams, plan default: blueprint noparams declares workflow "osb_unbind" without the parameter "secret_key" the broker passes; the plan's bindings share the deployment's credentials`,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, warns := mustBuild(t, bindingBlueprints(), mustParseOverlay(t, tt.overlay), testOptions())
			want := map[string]string{}
			for k, v := range defaults {
				want[k] = v
			}
			for k, v := range tt.want {
				if v == "" {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			if diff := cmp.Diff(want, planBindingsOf(t, cat)); diff != "" {
				t.Errorf("plan bindings (-want +got):\n%s", diff)
			}
			wantWarns := defaultWarns
			if tt.warns != nil {
				wantWarns = tt.warns
			}
			if diff := cmp.Diff(wantWarns, warningTexts(warns)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildBindingErrors(t *testing.T) {
	tests := []struct {
		name    string
		overlay string
		want    []string
	}{
		{
			name:    "per-binding without the workflows",
			overlay: "services:\n  cache:\n    bindings: per-binding\n",
			want:    []string{`overlay.yaml:3: services.cache.bindings: blueprint cache declares neither workflow "osb_bind" nor "osb_unbind", which per-binding credentials need`},
		},
		{
			name:    "per-binding with one workflow",
			overlay: "services:\n  half:\n    plans:\n      - name: p\n        bindings: per-binding\n",
			want:    []string{`overlay.yaml:5: services.half.plans[0].bindings: blueprint half declares workflow "osb_bind" but no "osb_unbind", which per-binding credentials need`},
		},
		{
			name:    "a workflow the blueprint does not declare",
			overlay: "services:\n  db:\n    plans:\n      - name: p\n        bind_workflow: make_user\n",
			want:    []string{`overlay.yaml:5: services.db.plans[0].bind_workflow: blueprint db declares workflow "osb_unbind" but no "make_user", which per-binding credentials need`},
		},
		{
			name:    "a service's workflow name wrong for several plans, reported once",
			overlay: "services:\n  cache:\n    unbind_workflow: drop_user\n    plans:\n      - name: a\n      - name: b\n",
			want: []string{
				`overlay.yaml:3: services.cache.unbind_workflow: blueprint cache declares neither workflow "osb_bind" nor "drop_user", which per-binding credentials need`,
			},
		},
		{
			name:    "workflows without the broker's parameters",
			overlay: "services:\n  noparams: {bindings: per-binding}\n",
			want:    []string{`overlay.yaml:2: services.noparams.bindings: blueprint noparams declares workflow "osb_unbind" without the parameter "secret_key" the broker passes, which per-binding credentials need`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Build(bindingBlueprints(), mustParseOverlay(t, tt.overlay), testOptions())
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildBindSchema(t *testing.T) {
	bps := bindingBlueprints()
	wf := bps[0].Plan.Workflows["osb_bind"]
	wf.Parameters["role"] = cloudify.Input{Type: "string", Description: "Database role"}
	wf.Parameters["internal"] = cloudify.Input{Type: "string", Default: json.RawMessage(`"x"`), Hidden: true}
	bps[0].Plan.Workflows["osb_bind"] = wf

	cat, _ := mustBuild(t, bps, Overlay{}, testOptions())
	svc, _ := cat.Service(ServiceID("https://mgr.example.com", "", "db"))
	var schema map[string]any
	if err := json.Unmarshal(svc.Plans[0].BindSchema, &schema); err != nil {
		t.Fatalf("bind schema %s: %v", svc.Plans[0].BindSchema, err)
	}
	want := map[string]any{
		"$schema":              "http://json-schema.org/draft-04/schema#",
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"privileges": map[string]any{"type": "string", "default": "read_write", "description": "Privileges of the binding's user",
				"enum": []any{"read_write", "read_only"}},
			"role": map[string]any{"type": "string", "description": "Database role"},
		},
		"required": []any{"role"},
	}
	if diff := cmp.Diff(want, schema); diff != "" {
		t.Errorf("bind schema (-want +got):\n%s", diff)
	}

	// The instance schemas are the inputs', unchanged by the workflows.
	var create map[string]any
	if err := json.Unmarshal(svc.Plans[0].CreateSchema, &create); err != nil {
		t.Fatal(err)
	}
	if props := create["properties"].(map[string]any); len(props) != 1 || props["size"] == nil {
		t.Errorf("create schema properties = %v, want size only", props)
	}

	// Draft-07 on request, as for the instance schemas.
	opts := testOptions()
	opts.Draft = Draft07
	cat7, _ := mustBuild(t, bps, Overlay{}, opts)
	svc7, _ := cat7.Service(svc.ID)
	if !strings.Contains(string(svc7.Plans[0].BindSchema), "draft-07") {
		t.Errorf("draft-07 bind schema = %s", svc7.Plans[0].BindSchema)
	}
}

func TestBuildBindWarnings(t *testing.T) {
	bps := bindingBlueprints()[:1]
	wf := bps[0].Plan.Workflows["osb_bind"]
	delete(wf.Parameters, "app_guid")
	delete(wf.Parameters, "predecessor_binding_id")
	wf.Parameters["odd"] = cloudify.Input{Type: "no_such_type"}
	bps[0].Plan.Workflows["osb_bind"] = wf

	_, warns := mustBuild(t, bps, mustParseOverlay(t, "services:\n  db: {binding_rotation: {}}\n"), testOptions())
	want := []string{
		`blueprint db, plan default: blueprint db, workflow osb_bind: parameter "odd": unknown type "no_such_type"; any value accepted`,
		"blueprint db, plan default: blueprint db: workflow osb_bind declares no parameter app_guid; the manager will refuse binds to an application",
		"blueprint db, plan default: blueprint db: workflow osb_bind declares no parameter predecessor_binding_id; the manager will refuse rotations",
	}
	if diff := cmp.Diff(want, warningTexts(warns)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestBuildBindingRotation(t *testing.T) {
	t.Run("service default and plan override", func(t *testing.T) {
		ov := mustParseOverlay(t, `services:
  db:
    binding_rotation: {maximum_validity_period: 86400, overlap_period: 3600}
    plans:
      - name: inherits
      - name: own
        binding_rotation: {}
      - name: shared
        bindings: shared
  cache:
    plans:
      - name: plain
`)
		cat, _ := mustBuild(t, bindingBlueprints(), ov, testOptions())
		got := planBindingsOf(t, cat)
		for key, want := range map[string]string{
			"db/inherits": "osb_bind/osb_unbind rotation", "db/own": "osb_bind/osb_unbind rotation",
			"db/shared": "shared", "cache/plain": "shared",
		} {
			if got[key] != want {
				t.Errorf("%s = %q, want %q", key, got[key], want)
			}
		}
		svc, _ := cat.Service(ServiceID("https://mgr.example.com", "", "db"))
		wantRot := []*broker.BindingRotation{{MaximumValidityPeriod: 86400, OverlapPeriod: 3600}, {}, nil}
		wantMeta := []any{map[string]any{"maximumValidityPeriod": 86400, "overlapPeriod": 3600}, map[string]any{}, nil}
		for i, p := range svc.Plans {
			if diff := cmp.Diff(wantRot[i], p.BindingRotation); diff != "" {
				t.Errorf("plan %s rotation (-want +got):\n%s", p.Name, diff)
			}
			if diff := cmp.Diff(wantMeta[i], p.Metadata[MetadataBindingRotation]); diff != "" {
				t.Errorf("plan %s metadata %s (-want +got):\n%s", p.Name, MetadataBindingRotation, diff)
			}
		}
	})

	for _, tt := range []struct {
		name, overlay, want string
	}{
		{"on a plan with shared credentials", "services:\n  cache:\n    plans:\n      - name: p\n        binding_rotation: {maximum_validity_period: 60}\n",
			`overlay.yaml:5: services.cache.plans[0].binding_rotation: binding rotation needs per-binding credentials; blueprint cache declares neither workflow "osb_bind" nor "osb_unbind"`},
		{"on a plan the service makes shared", "services:\n  db:\n    bindings: shared\n    plans:\n      - name: p\n        binding_rotation: {}\n",
			"overlay.yaml:6: services.db.plans[0].binding_rotation: binding rotation needs per-binding credentials; services.db.bindings is shared"},
		{"on a plan that is not bindable", "services:\n  db:\n    plans:\n      - name: p\n        bindable: false\n        binding_rotation: {}\n",
			"overlay.yaml:6: services.db.plans[0].binding_rotation: binding rotation needs per-binding credentials; the plan is not bindable"},
		{"on a service without per-binding plans", "services:\n  cache:\n    binding_rotation: {overlap_period: 5}\n",
			"overlay.yaml:3: services.cache.binding_rotation: binding rotation needs per-binding credentials, and no bindable plan of the service has them"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Build(bindingBlueprints(), mustParseOverlay(t, tt.overlay), testOptions())
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestBuildCredentialsType(t *testing.T) {
	label := func(k, v string) []cloudify.Label {
		return []cloudify.Label{{Key: "other", Value: "x"}, {Key: k, Value: v}}
	}
	tests := []struct {
		name    string
		labels  []cloudify.Label
		overlay string
		want    string
	}{
		{"nothing", nil, "", ""},
		{"first tag", nil, "services:\n  db: {tags: [sql, mysql]}\n", "sql"},
		{"label over tag", label("osb-type", "mysql"), "services:\n  db: {tags: [sql]}\n", "mysql"},
		{"label key in any case", label("OSB-TYPE", "mysql"), "", "mysql"},
		{"an empty label is no label", label("osb-type", ""), "services:\n  db: {tags: [sql]}\n", "sql"},
		{"overlay over label", label("osb-type", "mysql"), "services:\n  db: {credentials_type: mariadb, tags: [sql]}\n", "mariadb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bps := bindingBlueprints()[:1]
			bps[0].Labels = tt.labels
			cat, _ := mustBuild(t, bps, mustParseOverlay(t, tt.overlay), testOptions())
			if got := cat.Services[0].CredentialsType; got != tt.want {
				t.Errorf("CredentialsType = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBuildURITemplate(t *testing.T) {
	const tmpl = "mysql://{username}:{password}@{host}/{database}"
	ov := mustParseOverlay(t, `services:
  db:
    uri_template: "`+tmpl+`"
  cache:
    uri_template: "redis://{host}:{port}"
    credentials:
      - {key: host}
`)
	cat, warns := mustBuild(t, bindingBlueprints(), ov, testOptions())
	got := map[string]string{}
	for _, s := range cat.Services {
		got[s.BlueprintID] = s.URITemplate
	}
	if got["db"] != tmpl || got["cache"] != "redis://{host}:{port}" || got["half"] != "" {
		t.Errorf("URI templates = %v", got)
	}
	// cache shares the deployment's mapped credentials, where port is not; db's
	// credentials come from its workflow, which the broker cannot know.
	want := `blueprint cache: uri_template: no credentials key is mapped for port; bindings will have no uri`
	if texts := warningTexts(warns); !strings.Contains(strings.Join(texts, "\n"), want) || strings.Contains(strings.Join(texts, "\n"), "blueprint db: uri_template") {
		t.Errorf("warnings = %q, want %q and none for db", texts, want)
	}
}
