package catalog

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func ptr[T any](v T) *T { return &v }

// overlayOpts compares overlays by their exported content.
var overlayOpts = cmp.Options{cmpopts.IgnoreUnexported(Overlay{}), cmpopts.EquateEmpty()}

func mustParseOverlay(t *testing.T, doc string) Overlay {
	t.Helper()
	o, err := ParseOverlay([]byte(doc))
	if err != nil {
		t.Fatalf("ParseOverlay: %v", err)
	}
	return o
}

// formatExample returns the YAML example of FORMAT.md, so the documentation stays valid.
func formatExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Example\n\n```yaml\n")
	if !ok {
		t.Fatal("FORMAT.md has no yaml example")
	}
	doc, _, _ := strings.Cut(rest, "```")
	return doc
}

func TestParseOverlayFormatExample(t *testing.T) {
	got := mustParseOverlay(t, formatExample(t))
	want := Overlay{
		Version:     1,
		LabelFilter: "osb-publish=true",
		Hidden:      []string{"network_base", "mariadb_v2"},
		Bindable:    ptr(true),
		Services: map[string]ServiceOverlay{
			"mariadb": {
				Name:        "mariadb",
				ID:          "0e4c5b2a-8a5e-4e8e-9a43-2b1f2d3c4e5f",
				Description: "Clustered MariaDB",
				Tags:        []string{"sql", "mariadb"},
				Requires:    []string{"syslog_drain"},
				Metadata: ServiceMetadata{
					DisplayName: "MariaDB", ImageURL: "https://example.com/mariadb.png",
					LongDescription: "A Galera cluster of MariaDB servers.", DocumentationURL: "https://example.com/docs",
					SupportURL: "https://example.com/support", ProviderDisplayName: "Example Corp",
				},
				InstancesRetrievable: ptr(true),
				BindingsRetrievable:  ptr(true),
				PlanUpdateable:       ptr(true),
				AllowContextUpdates:  ptr(false),
				MaintenanceInfo:      &MaintenanceInfo{Version: "1.0.0"},
				Credentials: []CredentialMapping{
					{Key: "host", From: "capability", Name: "endpoint"},
					{Key: "password", From: "output", Name: "admin_password", Secret: true},
				},
				CredentialsType: "mysql",
				URITemplate:     "mysql://{username}:{password}@{host}:{port}/{database}",
				BindWorkflow:    "osb_bind",
				UnbindWorkflow:  "osb_unbind",
				Bindings:        BindingsPerBinding,
				Plans: []PlanOverlay{
					{
						Name: "small", Description: "One node", Free: ptr(false), MaximumPollingDuration: 3600,
						Metadata: PlanMetadata{
							DisplayName: "Small", Bullets: []string{"1 node", "10 GB"},
							Costs: []Cost{{Amount: map[string]float64{"usd": 10}, Unit: "MONTHLY"}},
						},
						Inputs: map[string]any{"node_count": 1},
					},
					{
						Name: "large", Inputs: map[string]any{"node_count": 5}, Blueprint: "mariadb_v2",
						MaintenanceInfo: &MaintenanceInfo{Version: "2.0.0", Description: "MariaDB 11"},
						BindingRotation: &BindingRotation{MaximumValidityPeriod: 2592000, OverlapPeriod: 86400},
					},
				},
			},
		},
	}
	if diff := cmp.Diff(want, got, overlayOpts); diff != "" {
		t.Errorf("overlay (-want +got):\n%s", diff)
	}
	if n := got.line("services.mariadb.plans[1].inputs"); n != 47 {
		t.Errorf("line of plans[1].inputs = %d, want 47", n)
	}
}

func TestParseOverlayEmpty(t *testing.T) {
	for _, doc := range []string{"", "  \n", "# just a comment\n", "---\n", "~\n", "{}\n"} {
		got, err := ParseOverlay([]byte(doc))
		if err != nil {
			t.Errorf("ParseOverlay(%q): %v", doc, err)
			continue
		}
		if diff := cmp.Diff(Overlay{}, got, overlayOpts); diff != "" {
			t.Errorf("ParseOverlay(%q) (-want +got):\n%s", doc, diff)
		}
	}
}

func TestParseOverlayValues(t *testing.T) {
	got := mustParseOverlay(t, `
services:
  123:                  # a numeric blueprint id is a string key
    plans:
      - name: p
        inputs:
          date: 2024-01-02   # stays the text it is
          nested: {a: [1, {b: true}], c: null}
          f: 1.5
`)
	want := map[string]any{
		"date":   "2024-01-02",
		"nested": map[string]any{"a": []any{1, map[string]any{"b": true}}, "c": nil},
		"f":      1.5,
	}
	if diff := cmp.Diff(want, got.Services["123"].Plans[0].Inputs); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
	}
}

func TestParseOverlayErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // the error lines
	}{
		{
			name: "unknown field with suggestion",
			doc:  "services:\n  mariadb:\n    descriptin: x\n",
			want: []string{`overlay.yaml:3: services.mariadb: unknown field "descriptin" (did you mean "description"?)`},
		},
		{
			name: "unknown top-level field",
			doc:  "bindable: true\nlabels: x\n",
			want: []string{`overlay.yaml:2: unknown field "labels"`},
		},
		{
			name: "unknown plan field",
			doc:  "services:\n  a:\n    plans:\n      - name: p\n        input: {x: 1}\n",
			want: []string{`overlay.yaml:5: services.a.plans[0]: unknown field "input" (did you mean "inputs"?)`},
		},
		{
			name: "wrong type",
			doc:  "services:\n  a:\n    bindable: maybe\n",
			want: []string{"overlay.yaml:3: cannot unmarshal !!str `maybe` into bool"},
		},
		{
			name: "duplicate key",
			doc:  "services:\n  a: {}\n  a: {}\n",
			want: []string{`overlay.yaml:3: mapping key "a" already defined at line 2`},
		},
		{
			name: "syntax",
			doc:  "services:\n  a: [\n",
			want: []string{"overlay.yaml:2: did not find expected node content"},
		},
		{
			name: "two documents",
			doc:  "hidden: [a]\n---\nhidden: [b]\n",
			want: []string{"overlay.yaml:2: more than one YAML document"},
		},
		{
			name: "not a mapping",
			doc:  "- a\n",
			want: []string{"overlay.yaml:1: the overlay must be a mapping"},
		},
		{
			name: "non-string key in inputs",
			doc:  "services:\n  a:\n    plans:\n      - name: p\n        inputs:\n          x: {1: a}\n",
			want: []string{`overlay.yaml:6: services.a.plans[0].inputs.x: key "1" is not a string`},
		},
		{
			name: "infinite number",
			doc:  "services:\n  a:\n    plans:\n      - name: p\n        inputs: {x: .inf}\n",
			want: []string{`overlay.yaml:5: services.a.plans[0].inputs.x: .inf is not a JSON number`},
		},
		{
			name: "values",
			doc: `version: 2
label_filter: =x
hidden: [""]
services:
  a:
    name: Not_OK
    id: "has space"
    tags: [""]
    requires: [syslog_drain, bad, syslog_drain]
    metadata: {imageUrl: not-a-url}
    maintenance_info: {version: "1.0"}
    credentials:
      - {key: k, from: somewhere}
      - {key: k}
      - {name: n}
    plans:
      - name: p
        id: same
        maximum_polling_duration: -1
        metadata:
          bullets: [" "]
          costs: [{amount: {}, unit: ""}, {amount: {usd: -1}, unit: M}]
        maintenance_info: {description: no version}
      - name: p
        id: same
      - description: nameless
        maximum_polling_duration: 86401
  b:
    name: dup
  c:
    name: dup
`,
			want: []string{
				"overlay.yaml:1: version: unsupported version 2 (want 1)",
				`overlay.yaml:2: label_filter: want key or key=value, got "=x"`,
				"overlay.yaml:3: hidden[0]: empty blueprint id",
				`overlay.yaml:6: services.a.name: service name "Not_OK" must hold only letters, digits, "." and "-", and start with a letter or digit`,
				`overlay.yaml:7: services.a.id: id "has space" must hold only unreserved URL characters (letters, digits, "-", ".", "_", "~")`,
				"overlay.yaml:8: services.a.tags[0]: empty tag",
				`overlay.yaml:9: services.a.requires[1]: unknown permission "bad" (want syslog_drain, route_forwarding or volume_mount)`,
				`overlay.yaml:9: services.a.requires[2]: "syslog_drain" given twice`,
				`overlay.yaml:10: services.a.metadata.imageUrl: "not-a-url" is not an absolute URL`,
				`overlay.yaml:11: services.a.maintenance_info.version: "1.0" is not a Semantic Versioning 2.0 version`,
				`overlay.yaml:13: services.a.credentials[0].from: want capability or output, got "somewhere"`,
				`overlay.yaml:14: services.a.credentials[1].key: key "k" is mapped twice`,
				"overlay.yaml:15: services.a.credentials[2]: key is required",
				"overlay.yaml:19: services.a.plans[0].maximum_polling_duration: must not be negative",
				"overlay.yaml:21: services.a.plans[0].metadata.bullets[0]: empty bullet",
				"overlay.yaml:22: services.a.plans[0].metadata.costs[0]: unit is required",
				"overlay.yaml:22: services.a.plans[0].metadata.costs[0]: amount is required",
				"overlay.yaml:22: services.a.plans[0].metadata.costs[1].amount.usd: amount must be a non-negative number",
				"overlay.yaml:23: services.a.plans[0].maintenance_info.version: version is required",
				`overlay.yaml:24: services.a.plans[1].name: plan "p" is defined twice`,
				`overlay.yaml:25: services.a.plans[1].id: id "same" is also the id of services.a.plans[0]`,
				"overlay.yaml:26: services.a.plans[2]: name is required",
				"overlay.yaml:27: services.a.plans[2].maximum_polling_duration: 86401 seconds is longer than the 86400 (24h0m0s) an operation may run",
				`overlay.yaml:31: services.c.name: service name "dup" is also the name of services.b`,
			},
		},
		{
			name: "binding values",
			doc: `services:
  a:
    credentials_type: " "
    uri_template: "mysql://{user:{password}@{host}"
    bind_workflow: "make user"
    unbind_workflow: ""
    bindings: sometimes
    binding_rotation: {maximum_validity_period: -1, overlap_period: -2}
    plans:
      - name: p
        bind_workflow: same
        unbind_workflow: same
        binding_rotation: {maximum_validity_period: 3600, overlap_period: 3600}
      - name: q
        bindings: shared
        binding_rotation: {maximum_validity_period: 315360001}
  b:
    uri_template: "redis://{host}}"
    unbind_workflow: drop
    plans:
      - name: p
        bind_workflow: drop
      - name: q
        binding_rotation: {overlap_period: 10}
`,
			want: []string{
				"overlay.yaml:3: services.a.credentials_type: empty credentials type",
				`overlay.yaml:4: services.a.uri_template: position 15: "{" inside the placeholder opened at position 9`,
				`overlay.yaml:5: services.a.bind_workflow: workflow name "make user" must not hold spaces or control characters`,
				`overlay.yaml:7: services.a.bindings: want shared or per-binding, got "sometimes"`,
				"overlay.yaml:8: services.a.binding_rotation.maximum_validity_period: must not be negative",
				"overlay.yaml:8: services.a.binding_rotation.overlap_period: must not be negative",
				`overlay.yaml:10: services.a.plans[0]: the bind and unbind workflows are both "same"`,
				"overlay.yaml:13: services.a.plans[0].binding_rotation.overlap_period: 3600 seconds is not shorter than maximum_validity_period (3600)",
				"overlay.yaml:16: services.a.plans[1].binding_rotation: bindings that share their credentials cannot be rotated (bindings is shared)",
				"overlay.yaml:16: services.a.plans[1].binding_rotation.maximum_validity_period: 315360001 seconds is longer than the 315360000 (10 years) a binding may last",
				`overlay.yaml:18: services.b.uri_template: position 15: "}" closes no placeholder`,
				`overlay.yaml:21: services.b.plans[0]: the bind and unbind workflows are both "drop"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOverlay([]byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			var oe *OverlayError
			if !errors.As(err, &oe) {
				t.Errorf("error %v is not an *OverlayError", err)
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOverlayRoundTrip(t *testing.T) {
	for name, doc := range map[string]string{
		"format example": formatExample(t),
		"small":          "hidden: [b, a]\nservices:\n  x:\n    hide: true\n    plans:\n      - name: p\n        free: false\n        inputs: {\"y\": [1, \"2\"], n: ~}\n",
		"empty":          "",
	} {
		t.Run(name, func(t *testing.T) {
			first := mustParseOverlay(t, doc)
			out, err := first.Export()
			if err != nil {
				t.Fatal(err)
			}
			second := mustParseOverlay(t, string(out))
			if first.Version == 0 {
				first.Version = OverlayVersion // Export writes the version
			}
			if diff := cmp.Diff(first, second, overlayOpts); diff != "" {
				t.Errorf("round trip (-first +second):\n%s\nexported:\n%s", diff, out)
			}
			again, err := second.Export()
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(out) {
				t.Errorf("export is not stable:\n%s\n---\n%s", out, again)
			}
		})
	}
}

func TestOverlayExportGolden(t *testing.T) {
	o := mustParseOverlay(t, formatExample(t))
	out, err := o.Export()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/overlay-export.golden.yaml", out)
}

func TestOverlayEdits(t *testing.T) {
	var o Overlay
	steps := []struct {
		name string
		edit func(*Overlay) error
		err  string
	}{
		{"set name", func(o *Overlay) error { return o.SetServiceField("mariadb", "name", "maria") }, ""},
		{"set tags", func(o *Overlay) error { return o.SetServiceField("mariadb", "tags", "sql, db,") }, ""},
		{"set bindable", func(o *Overlay) error { return o.SetServiceField("mariadb", "bindable", "false") }, ""},
		{"bad bool", func(o *Overlay) error { return o.SetServiceField("mariadb", "plan_updateable", "yes please") }, "want true or false"},
		{"set display name", func(o *Overlay) error { return o.SetServiceField("mariadb", "metadata.displayName", "MariaDB") }, ""},
		{"set maintenance", func(o *Overlay) error { return o.SetServiceField("mariadb", "maintenance_info.version", "1.2.0") }, ""},
		{"bad maintenance", func(o *Overlay) error { return o.SetServiceField("mariadb", "maintenance_info.version", "1.2") }, "not a Semantic Versioning"},
		{"unknown field", func(o *Overlay) error { return o.SetServiceField("mariadb", "colour", "red") }, "unknown service field"},
		{"bad name", func(o *Overlay) error { return o.SetServiceField("mariadb", "name", "no spaces") }, "services.mariadb.name"},
		{"add plan", func(o *Overlay) error {
			return o.AddPlan("mariadb", PlanOverlay{Name: "small", Inputs: map[string]any{"n": 1}})
		}, ""},
		{"add plan twice", func(o *Overlay) error { return o.AddPlan("mariadb", PlanOverlay{Name: "small"}) }, "already has a plan"},
		{"add large", func(o *Overlay) error { return o.AddPlan("mariadb", PlanOverlay{Name: "large"}) }, ""},
		{"set plan", func(o *Overlay) error {
			return o.SetPlan("mariadb", PlanOverlay{Name: "small", Inputs: map[string]any{"n": 2}})
		}, ""},
		{"remove large", func(o *Overlay) error { return o.RemovePlan("mariadb", "large") }, ""},
		{"remove missing", func(o *Overlay) error { return o.RemovePlan("mariadb", "large") }, "no such entry"},
		{"map credential", func(o *Overlay) error {
			return o.MapCredential("mariadb", CredentialMapping{Key: "host", From: "output"})
		}, ""},
		{"remap credential", func(o *Overlay) error {
			return o.MapCredential("mariadb", CredentialMapping{Key: "host", From: "capability", Name: "endpoint"})
		}, ""},
		{"map password", func(o *Overlay) error {
			return o.MapCredential("mariadb", CredentialMapping{Key: "password", Secret: true})
		}, ""},
		{"bad credential", func(o *Overlay) error { return o.MapCredential("mariadb", CredentialMapping{Key: "x", From: "env"}) }, "want capability or output"},
		{"unmap", func(o *Overlay) error { return o.UnmapCredential("mariadb", "password") }, ""},
		{"unmap missing", func(o *Overlay) error { return o.UnmapCredential("mariadb", "password") }, "no such entry"},
		{"hide", func(o *Overlay) error { o.Hide("network"); o.Hide("network"); return nil }, ""},
		{"hide flag", func(o *Overlay) error { return o.SetServiceField("legacy", "hide", "true") }, ""},
		{"empty id", func(o *Overlay) error { return o.SetServiceField("", "name", "x") }, "empty blueprint id"},
		{"credentials type", func(o *Overlay) error { return o.SetServiceField("mariadb", "credentials_type", "mysql") }, ""},
		{"bad uri template", func(o *Overlay) error { return o.SetServiceField("mariadb", "uri_template", "mysql://{host") }, "services.mariadb.uri_template: position 9"},
		{"uri template", func(o *Overlay) error {
			return o.SetServiceField("mariadb", "uri_template", "mysql://{username}:{password}@{host}")
		}, ""},
		{"bad bindings", func(o *Overlay) error { return o.SetServiceField("mariadb", "bindings", "sometimes") }, "want shared or per-binding"},
		{"bindings", func(o *Overlay) error { return o.SetServiceField("mariadb", "bindings", "per-binding") }, ""},
		{"bind workflow", func(o *Overlay) error { return o.SetServiceField("mariadb", "bind_workflow", "make_user") }, ""},
		{"same unbind workflow", func(o *Overlay) error { return o.SetServiceField("mariadb", "unbind_workflow", "make_user") }, "both \"make_user\""},
		{"unbind workflow", func(o *Overlay) error { return o.SetServiceField("mariadb", "unbind_workflow", "drop_user") }, ""},
		{"validity", func(o *Overlay) error {
			return o.SetServiceField("mariadb", "binding_rotation.maximum_validity_period", "720h")
		}, ""},
		{"bad period", func(o *Overlay) error { return o.SetServiceField("mariadb", "binding_rotation.overlap_period", "1d") }, "want seconds or a duration"},
		{"overlap too long", func(o *Overlay) error {
			return o.SetServiceField("mariadb", "binding_rotation.overlap_period", "2592000")
		}, "is not shorter than maximum_validity_period"},
		{"overlap", func(o *Overlay) error {
			return o.SetServiceField("mariadb", "binding_rotation.overlap_period", "86400")
		}, ""},
	}
	for _, s := range steps {
		before := o.Clone()
		err := s.edit(&o)
		switch {
		case s.err == "" && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.err != "" && (err == nil || !strings.Contains(err.Error(), s.err)):
			t.Fatalf("%s: err = %v, want %q", s.name, err, s.err)
		case s.err != "":
			if diff := cmp.Diff(before, o, overlayOpts); diff != "" {
				t.Fatalf("%s: a failed edit changed the overlay:\n%s", s.name, diff)
			}
		}
	}
	want := Overlay{
		Hidden: []string{"network"},
		Services: map[string]ServiceOverlay{
			"mariadb": {
				Name: "maria", Tags: []string{"sql", "db"}, Bindable: ptr(false),
				Metadata:        ServiceMetadata{DisplayName: "MariaDB"},
				MaintenanceInfo: &MaintenanceInfo{Version: "1.2.0"},
				Credentials:     []CredentialMapping{{Key: "host", From: "capability", Name: "endpoint"}},
				Plans:           []PlanOverlay{{Name: "small", Inputs: map[string]any{"n": 2}}},
				CredentialsType: "mysql",
				URITemplate:     "mysql://{username}:{password}@{host}",
				Bindings:        BindingsPerBinding,
				BindWorkflow:    "make_user",
				UnbindWorkflow:  "drop_user",
				BindingRotation: &BindingRotation{MaximumValidityPeriod: 2592000, OverlapPeriod: 86400},
			},
			"legacy": {Hide: true},
		},
	}
	if diff := cmp.Diff(want, o, overlayOpts); diff != "" {
		t.Errorf("overlay (-want +got):\n%s", diff)
	}
	if !o.IsHidden("network") || !o.IsHidden("legacy") || o.IsHidden("mariadb") {
		t.Error("IsHidden is wrong")
	}

	o.Unhide("legacy")
	o.Unhide("network")
	if _, ok := o.Service("legacy"); ok {
		t.Error("an unhidden service with no settings is still in the overlay")
	}
	if o.Hidden != nil || o.IsHidden("network") {
		t.Errorf("hidden = %q", o.Hidden)
	}
	if err := o.RemovePlan("mariadb", "small"); err != nil {
		t.Fatal(err)
	}
	s, _ := o.Service("mariadb")
	if s.Plans != nil {
		t.Errorf("plans = %v, want none", s.Plans)
	}
	s.Tags[0] = "changed" // Service returns a copy
	if got, _ := o.Service("mariadb"); got.Tags[0] != "sql" {
		t.Error("Service returned shared slices")
	}
	if err := o.SetService("mysql", ServiceOverlay{Name: "maria"}); err == nil {
		t.Error("SetService accepted a duplicate name")
	}
	o.RemoveService("mariadb")
	if o.Services != nil {
		t.Errorf("services = %v", o.Services)
	}
}

func TestOverlayEditDropsLines(t *testing.T) {
	o := mustParseOverlay(t, "services:\n  a:\n    plans:\n      - name: p\n")
	if o.line("services.a.plans[0]") != 4 {
		t.Fatal("no line information after parsing")
	}
	if err := o.AddPlan("a", PlanOverlay{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	if o.line("services.a.plans[0]") != 0 {
		t.Error("an edited overlay still has line information")
	}
}

func TestEditBindingRotation(t *testing.T) {
	var o Overlay
	set := func(field, value string) {
		t.Helper()
		if err := o.SetServiceField("db", "binding_rotation."+field, value); err != nil {
			t.Fatalf("%s=%q: %v", field, value, err)
		}
	}
	rotation := func() *BindingRotation { s, _ := o.Service("db"); return s.BindingRotation }

	set("maximum_validity_period", "0") // rotatable, no expiry
	if diff := cmp.Diff(&BindingRotation{}, rotation()); diff != "" {
		t.Errorf("after validity 0 (-want +got):\n%s", diff)
	}
	set("overlap_period", "90m")
	set("maximum_validity_period", "")
	if diff := cmp.Diff(&BindingRotation{OverlapPeriod: 5400}, rotation()); diff != "" {
		t.Errorf("after unsetting validity (-want +got):\n%s", diff)
	}
	set("overlap_period", "")
	if r := rotation(); r != nil {
		t.Errorf("rotation = %+v after unsetting both, want none", r)
	}
	if _, ok := o.Service("db"); ok {
		t.Error("a service with nothing set is still in the overlay")
	}
	if _, err := EditBindingRotation(nil, "validity", "1"); err == nil {
		t.Error("EditBindingRotation accepted an unknown field")
	}
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "3600": 3600, " 720h ": 2592000, "1h30m": 5400, "-5": -5} {
		if got, err := ParsePeriod(in); err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1d", "1.5", "1500ms", "abc"} {
		if got, err := ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) = %d, want an error", in, got)
		}
	}
}
