package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

var syncTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func testOptions() BuildOptions {
	return BuildOptions{ManagerURL: "https://mgr.example.com", Tenant: "default_tenant", Now: func() time.Time { return syncTime }}
}

func mariadbPlan() *cloudify.BlueprintPlan {
	return &cloudify.BlueprintPlan{
		Description: "MariaDB from the plan",
		Inputs: map[string]cloudify.Input{
			"node_count":     {Type: "integer", Default: json.RawMessage("3"), Constraints: []cloudify.Constraint{{"in_range": []any{1.0, 9.0}}}},
			"admin_password": {Type: "string"},
			"flavor":         {Type: "string", Constraints: []cloudify.Constraint{{"pattern": "(?i)small|large"}}},
		},
		Workflows: bindWorkflows(),
	}
}

// bindWorkflows are the osb_bind and osb_unbind workflows of the mariadb sample: the
// broker's parameters and one of the user's.
func bindWorkflows() map[string]cloudify.WorkflowDef {
	return map[string]cloudify.WorkflowDef{
		"install": {Operation: "install"},
		"osb_bind": {Operation: "scripts/osb_bind.py", Parameters: map[string]cloudify.Input{
			"binding_id":             {Type: "string"},
			"secret_key":             {Type: "string"},
			"app_guid":               {Type: "string", Default: json.RawMessage("null")},
			"predecessor_binding_id": {Type: "string", Default: json.RawMessage("null")},
			"privileges": {Type: "string", Default: json.RawMessage(`"read_write"`), Description: "Privileges of the binding's user",
				Constraints: []cloudify.Constraint{{"valid_values": []any{"read_write", "read_only"}}}},
		}},
		"osb_unbind": {Operation: "scripts/osb_unbind.py", Parameters: map[string]cloudify.Input{
			"binding_id": {Type: "string"},
			"secret_key": {Type: "string"},
		}},
	}
}

// testBlueprints is a manager's blueprint list covering every publishing rule.
func testBlueprints() []cloudify.Blueprint {
	v2 := mariadbPlan()
	v2.Inputs["version"] = cloudify.Input{Type: "string", Default: json.RawMessage(`"11"`)}
	return []cloudify.Blueprint{
		{ID: "mariadb", Description: "MariaDB", State: "uploaded", Plan: mariadbPlan(),
			Labels: []cloudify.Label{{Key: "osb", Value: "true"}, {Key: "OSB-Type", Value: "mysql"}}},
		{ID: "mariadb_v2", State: "uploaded", Plan: v2},
		{ID: "legacy_app", Plan: &cloudify.BlueprintPlan{}}, // pre-5.2: no state
		{ID: "broken", State: "failed_parsing", Plan: &cloudify.BlueprintPlan{}},
		{ID: "uploading", State: "uploading"},
		{ID: "system", State: "uploaded", IsHidden: true, Plan: &cloudify.BlueprintPlan{}},
		{ID: "network", State: "uploaded", Plan: &cloudify.BlueprintPlan{Description: "Network"}},
		{ID: "My_App", State: "uploaded", Plan: &cloudify.BlueprintPlan{}, Labels: []cloudify.Label{{Key: "OSB", Value: "false"}}},
		{ID: "my-app", State: "uploaded", Plan: &cloudify.BlueprintPlan{}},
		{ID: "my.app", State: "uploaded", Plan: &cloudify.BlueprintPlan{Description: "Dots"}},
	}
}

const testOverlayDoc = `version: 1
hidden: [network, mariadb_v2]
services:
  mariadb:
    description: Clustered MariaDB
    tags: [sql]
    metadata: {displayName: MariaDB}
    plan_updateable: true
    maintenance_info: {version: 1.1.0}
    credentials:
      - {key: host, from: capability, name: endpoint}
    plans:
      - name: small
        free: false
        inputs: {node_count: 1}
        metadata:
          costs: [{amount: {usd: 10.5}, unit: MONTHLY}]
      - name: large
        id: pinned-large
        inputs: {node_count: 5}
        blueprint: mariadb_v2
        maximum_polling_duration: 7200
        maintenance_info: {version: 2.0.0, description: MariaDB 11}
  legacy_app:
    name: legacy
    bindable: false
    instances_retrievable: false
  gone_blueprint:
    description: no such blueprint
  broken:
    description: failed upload
`

func mustBuild(t *testing.T, bps []cloudify.Blueprint, ov Overlay, opts BuildOptions) (broker.Catalog, []Warning) {
	t.Helper()
	cat, warns, err := Build(bps, ov, opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return cat, warns
}

func TestBuildGolden(t *testing.T) {
	ov := mustParseOverlay(t, testOverlayDoc)
	cat, warns := mustBuild(t, testBlueprints(), ov, testOptions())
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.String())
	}
	out, err := encodeSchema(struct {
		Catalog  broker.Catalog `json:"catalog"`
		Warnings []string       `json:"warnings"`
	}{cat, ws})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/catalog.golden.json", indentJSON(t, out))
}

func TestBuildRules(t *testing.T) {
	ov := mustParseOverlay(t, testOverlayDoc)
	cat, _ := mustBuild(t, testBlueprints(), ov, testOptions())
	var names []string
	for _, s := range cat.Services {
		names = append(names, s.Name+"="+s.BlueprintID)
	}
	// Sorted by name; my-app and My_App collide, My_App sorts first by id and keeps the name.
	want := []string{"legacy=legacy_app", "mariadb=mariadb", "my-app=My_App", "my-app-2=my-app", "my.app=my.app"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}

	maria, _ := cat.Service(ServiceID("https://mgr.example.com", "", "mariadb"))
	if maria.Name != "mariadb" || !maria.Bindable || !maria.InstancesRetrievable || !maria.BindingsRetrievable || !maria.PlanUpdateable || maria.AllowContextUpdates {
		t.Errorf("mariadb flags: %+v", maria)
	}
	if diff := cmp.Diff([]broker.CredentialField{{Key: "host", Source: "capability", Name: "endpoint"}}, maria.Credentials); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}
	small, ok := maria.Plan(PlanID("https://mgr.example.com", "default_tenant", "mariadb", "small"))
	if !ok {
		t.Fatalf("no generated plan id for small in %+v", maria.Plans)
	}
	if small.Free || small.BlueprintID != "mariadb" || small.MaintenanceInfo.Version != "1.1.0" {
		t.Errorf("small: %+v", small)
	}
	wantMeta := map[string]any{
		"costs":              []any{map[string]any{"amount": map[string]any{"usd": 10.5}, "unit": "MONTHLY"}},
		"bindingCredentials": "per-binding",
	}
	if diff := cmp.Diff(wantMeta, small.Metadata); diff != "" {
		t.Errorf("small metadata (-want +got):\n%s", diff)
	}
	var schema struct {
		Properties map[string]any `json:"properties"`
		Required   []string       `json:"required"`
	}
	if err := json.Unmarshal(small.CreateSchema, &schema); err != nil {
		t.Fatal(err)
	}
	if _, ok := schema.Properties["node_count"]; ok {
		t.Error("the fixed input node_count is in the schema")
	}
	large, ok := maria.Plan("pinned-large")
	if !ok {
		t.Fatal("no pinned plan id")
	}
	if large.BlueprintID != "mariadb_v2" || large.MaintenanceInfo.Version != "2.0.0" || large.MaximumPollingDuration != 7200 || !large.Free {
		t.Errorf("large: %+v", large)
	}
	if err := json.Unmarshal(large.UpdateSchema, &schema); err != nil {
		t.Fatal(err)
	}
	if _, ok := schema.Properties["version"]; !ok {
		t.Error("the large plan's schema is not from mariadb_v2")
	}

	legacy, _ := cat.Service(ServiceID("https://mgr.example.com", "", "legacy_app"))
	if legacy.Bindable || legacy.InstancesRetrievable || len(legacy.Plans) != 1 {
		t.Errorf("legacy: %+v", legacy)
	}
	def := legacy.Plans[0]
	if def.Name != "default" || !def.Free || def.MaintenanceInfo.Version != "1.0.0" || def.Description != "Deploys blueprint legacy_app." {
		t.Errorf("default plan: %+v", def)
	}
	if legacy.Description != "Cloudify blueprint legacy_app" {
		t.Errorf("legacy description = %q", legacy.Description)
	}
	if cat.SyncedAt != syncTime || cat.ETag == "" {
		t.Errorf("SyncedAt = %v, ETag = %q", cat.SyncedAt, cat.ETag)
	}
}

func TestBuildFilters(t *testing.T) {
	tests := []struct {
		name    string
		overlay string
		want    []string // blueprint ids published
	}{
		{"defaults", "", []string{"My_App", "legacy_app", "mariadb", "mariadb_v2", "my-app", "my.app", "network"}},
		{"label key", "label_filter: osb\n", []string{"My_App", "mariadb"}},
		{"label key=value (key case-insensitive)", "label_filter: OSB=true\n", []string{"mariadb"}},
		{"hidden list", "hidden: [network, my.app]\n", []string{"My_App", "legacy_app", "mariadb", "mariadb_v2", "my-app"}},
		{"hide flag", "services:\n  my-app: {hide: true}\n", []string{"My_App", "legacy_app", "mariadb", "mariadb_v2", "my.app", "network"}},
		{"bindable default", "bindable: false\nservices:\n  network: {bindable: true}\n", []string{"My_App", "legacy_app", "mariadb", "mariadb_v2", "my-app", "my.app", "network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, _ := mustBuild(t, testBlueprints(), mustParseOverlay(t, tt.overlay), testOptions())
			var got []string
			for _, s := range cat.Services {
				got = append(got, s.BlueprintID)
				wantBindable := !strings.HasPrefix(tt.overlay, "bindable: false") || s.BlueprintID == "network"
				if s.Bindable != wantBindable {
					t.Errorf("%s: bindable = %v", s.BlueprintID, s.Bindable)
				}
			}
			sortStrings(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestBuildErrors(t *testing.T) {
	big := &cloudify.BlueprintPlan{Inputs: map[string]cloudify.Input{}}
	for i := range 400 {
		big.Inputs[fmt.Sprintf("input_%03d", i)] = cloudify.Input{Type: "string", Description: strings.Repeat("d", 200)}
	}
	bps := append(testBlueprints(), cloudify.Blueprint{ID: "huge", State: "uploaded", Plan: big})
	tests := []struct {
		name    string
		overlay string
		bps     []cloudify.Blueprint
		want    []string
		is      error
	}{
		{
			name:    "unknown input",
			overlay: "hidden: [huge]\nservices:\n  mariadb:\n    plans:\n      - name: a\n      - name: b\n        inputs:\n          node_count: 1\n          foo: 2\n",
			want:    []string{`overlay.yaml:9: services.mariadb.plans[1].inputs: unknown input "foo" of blueprint mariadb`},
		},
		{
			name:    "plan blueprint missing",
			overlay: "hidden: [huge]\nservices:\n  mariadb:\n    plans:\n      - name: a\n        blueprint: broken\n",
			want:    []string{`overlay.yaml:6: services.mariadb.plans[0].blueprint: blueprint "broken" does not exist or is not uploaded`},
		},
		{
			name:    "pinned id collides with a generated one",
			overlay: "hidden: [huge]\nservices:\n  network:\n    id: " + ServiceID("https://mgr.example.com", "", "mariadb") + "\n",
			want:    []string{"overlay.yaml:4: services.network.id: id " + ServiceID("https://mgr.example.com", "", "mariadb") + " of service network is also the id of service mariadb"},
		},
		{
			name: "schema too large",
			want: []string{"catalog: blueprint huge, plan default: catalog: create schema is 103726 bytes: schema larger than 64 kB"},
			is:   ErrSchemaTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Build(bps, mustParseOverlay(t, tt.overlay), testOptions())
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error is not %v", tt.is)
			}
		})
	}
}

func TestBuildInvalidOverlay(t *testing.T) {
	ov := Overlay{Services: map[string]ServiceOverlay{"mariadb": {Plans: []PlanOverlay{{Name: "bad name"}}}}}
	_, _, err := Build(testBlueprints(), ov, testOptions())
	if err == nil || !strings.Contains(err.Error(), `overlay.yaml: services.mariadb.plans[0].name: plan name "bad name"`) {
		t.Errorf("err = %v", err)
	}
}

func TestBuildDeterministic(t *testing.T) {
	ov := mustParseOverlay(t, testOverlayDoc)
	want, wantWarns := mustBuild(t, testBlueprints(), ov, testOptions())
	r := rand.New(rand.NewSource(1))
	for range 20 {
		bps := testBlueprints()
		r.Shuffle(len(bps), func(i, j int) { bps[i], bps[j] = bps[j], bps[i] })
		got, gotWarns := mustBuild(t, bps, ov, testOptions())
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("catalog depends on blueprint order (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantWarns, gotWarns); diff != "" {
			t.Fatalf("warnings depend on blueprint order (-want +got):\n%s", diff)
		}
	}
}

func TestBuildNames(t *testing.T) {
	bp := func(id string) cloudify.Blueprint {
		return cloudify.Blueprint{ID: id, State: "uploaded", Plan: &cloudify.BlueprintPlan{}}
	}
	long := strings.Repeat("x", 70)
	bps := []cloudify.Blueprint{bp("a_b"), bp("a-b"), bp("A.B"), bp("a__b"), bp(long + "1"), bp(long + "2")}
	names := func(cat broker.Catalog) map[string]string {
		m := map[string]string{}
		for _, s := range cat.Services {
			m[s.BlueprintID] = s.Name
		}
		return m
	}
	cat, warns := mustBuild(t, bps, Overlay{}, testOptions())
	want := map[string]string{
		"A.B": "a.b", "a-b": "a-b", "a__b": "a-b-2", "a_b": "a-b-3",
		long + "1": strings.Repeat("x", 63), long + "2": strings.Repeat("x", 61) + "-2",
	}
	if diff := cmp.Diff(want, names(cat)); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if len(warns) != 3 || !strings.Contains(warns[0].String(), `blueprint a__b: service name "a-b" is taken by blueprint a-b; using "a-b-2"`) {
		t.Errorf("warnings = %v", warns)
	}

	// A blueprint uploaded later whose name collides does not rename the existing services.
	prev := cat
	opts := testOptions()
	opts.Previous = &prev
	cat2, _ := mustBuild(t, append([]cloudify.Blueprint{bp("a--b")}, bps...), Overlay{}, opts)
	want["a--b"] = "a-b-4"
	if diff := cmp.Diff(want, names(cat2)); diff != "" {
		t.Errorf("names with previous (-want +got):\n%s", diff)
	}
	// Without the previous catalog, a--b sorts first of the a-b group and takes a-b.
	cat3, _ := mustBuild(t, append([]cloudify.Blueprint{bp("a--b")}, bps...), Overlay{}, testOptions())
	if got := names(cat3)["a--b"]; got != "a-b" {
		t.Errorf("a--b = %q without previous", got)
	}
	// A pinned name wins over a remembered one.
	pin := Overlay{Services: map[string]ServiceOverlay{"A.B": {Name: "a-b"}}}
	cat4, _ := mustBuild(t, bps, pin, opts)
	if got := names(cat4); got["A.B"] != "a-b" || got["a-b"] == "a-b" {
		t.Errorf("pinned: %v", got)
	}
}

func TestETag(t *testing.T) {
	ov := mustParseOverlay(t, testOverlayDoc)
	base, _ := mustBuild(t, testBlueprints(), ov, testOptions())
	same := []func(*broker.Catalog){
		func(c *broker.Catalog) { c.SyncedAt = c.SyncedAt.Add(time.Hour) },
		func(c *broker.Catalog) { c.Services[1].BlueprintID = "other" },
		func(c *broker.Catalog) { c.Services[1].Credentials = nil },
		func(c *broker.Catalog) { c.Services[1].Plans[0].Inputs = map[string]any{"x": 1} },
		func(c *broker.Catalog) { c.Services[1].Plans[0].BlueprintID = "other" },
		func(c *broker.Catalog) { c.ETag = "stale" },
		// Broker-only binding settings: the platform does not see them.
		func(c *broker.Catalog) { c.Services[1].CredentialsType = "postgresql" },
		func(c *broker.Catalog) { c.Services[1].URITemplate = "mysql://{host}" },
		func(c *broker.Catalog) {
			c.Services[1].Plans[0].BindWorkflows = &broker.BindWorkflows{Bind: "make_user", Unbind: "drop_user"}
		},
		func(c *broker.Catalog) {
			// The same schema with other key order and spacing.
			var v any
			_ = json.Unmarshal(c.Services[1].Plans[0].CreateSchema, &v)
			b, _ := json.MarshalIndent(v, "", "    ")
			c.Services[1].Plans[0].CreateSchema = b
		},
	}
	differ := []func(*broker.Catalog){
		func(c *broker.Catalog) { c.Services[1].Name = "renamed" },
		func(c *broker.Catalog) { c.Services[1].Description = "new" },
		func(c *broker.Catalog) { c.Services[1].Tags = append(c.Services[1].Tags, "new") },
		func(c *broker.Catalog) { c.Services[1].Metadata = map[string]any{"displayName": "X"} },
		func(c *broker.Catalog) { c.Services[1].Plans[0].CreateSchema = json.RawMessage(`{}`) },
		func(c *broker.Catalog) {
			c.Services[1].Plans[0].MaintenanceInfo = &broker.MaintenanceInfo{Version: "9.9.9"}
		},
		func(c *broker.Catalog) { c.Services[1].Plans[0].Free = !c.Services[1].Plans[0].Free },
		func(c *broker.Catalog) { c.Services[1].Plans = c.Services[1].Plans[:1] },
		func(c *broker.Catalog) { c.Services = c.Services[1:] },
		// What the platform sees of bindings: rotatable, the metadata, the schema.
		func(c *broker.Catalog) { c.Services[1].Plans[0].BindingRotation = &broker.BindingRotation{} },
		func(c *broker.Catalog) { c.Services[1].Plans[0].Metadata[MetadataBindingCredentials] = BindingsShared },
		func(c *broker.Catalog) { c.Services[1].Plans[0].BindSchema = json.RawMessage(`{"type":"object"}`) },
	}
	baseTag, err := ETag(base)
	if err != nil || baseTag != base.ETag || len(baseTag) != 32 {
		t.Fatalf("ETag = %q, %v; catalog has %q", baseTag, err, base.ETag)
	}
	for i, f := range same {
		c := cloneCatalog(t, base)
		f(&c)
		if got, _ := ETag(c); got != baseTag {
			t.Errorf("same[%d]: ETag changed", i)
		}
	}
	for i, f := range differ {
		c := cloneCatalog(t, base)
		f(&c)
		if got, _ := ETag(c); got == baseTag {
			t.Errorf("differ[%d]: ETag did not change", i)
		}
	}
}

func cloneCatalog(t *testing.T, c broker.Catalog) broker.Catalog {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out broker.Catalog
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
