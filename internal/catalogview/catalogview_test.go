package catalogview_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalogview"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ptr[T any](v T) *T { return &v }

// testCatalog has every broker-private field set, a plan with per-binding, rotatable
// credentials, one with per-binding credentials that do not rotate, one with shared
// credentials, and one with a rotation but no workflows (which cannot rotate).
func testCatalog() broker.Catalog {
	bindSchema := json.RawMessage(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"privileges":{"type":"string"}},"additionalProperties":false}`)
	workflows := &broker.BindWorkflows{Bind: "osb_bind", Unbind: "osb_unbind"}
	return broker.Catalog{
		ETag: "etag-1",
		Services: []broker.Service{{
			ID: "svc-1", Name: "mariadb", Description: "MariaDB", Bindable: true, InstancesRetrievable: true, BindingsRetrievable: true,
			BlueprintID:     "mariadb_bp",
			Credentials:     []broker.CredentialField{{Key: "host", Source: "capability", Name: "endpoint"}},
			CredentialsType: "mysql",
			URITemplate:     "mysql://{username}:{password}@{host}:{port}/{database}",
			Plans: []broker.Plan{
				{
					ID: "plan-rot", Name: "rotating", Description: "Rotating", Free: true,
					Metadata: map[string]any{"bindingCredentials": "per-binding",
						"bindingRotation": map[string]any{"maximumValidityPeriod": 86400, "overlapPeriod": 3600}},
					BlueprintID: "mariadb_bp", Inputs: map[string]any{"node_count": 1},
					BindSchema: bindSchema, BindWorkflows: workflows,
					BindingRotation: &broker.BindingRotation{MaximumValidityPeriod: 86400, OverlapPeriod: 3600},
				},
				{
					ID: "plan-own", Name: "own", Description: "Own credentials", Free: true,
					Metadata:    map[string]any{"bindingCredentials": "per-binding"},
					BlueprintID: "mariadb_bp", BindSchema: bindSchema, BindWorkflows: workflows,
				},
				{
					ID: "plan-shared", Name: "shared", Description: "Shared credentials", Free: true, Bindable: ptr(true),
					Metadata:    map[string]any{"bindingCredentials": "shared"},
					BlueprintID: "mariadb_bp",
				},
				{
					ID: "plan-odd", Name: "odd", Description: "A rotation without workflows", Free: true,
					BlueprintID: "mariadb_bp", BindingRotation: &broker.BindingRotation{},
				},
			},
		}},
	}
}

func TestViewGolden(t *testing.T) {
	got, err := json.MarshalIndent(catalogview.View(testCatalog()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const path = "testdata/catalog.golden.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// TestViewBindings: only plans with rotating per-binding credentials are
// binding_rotatable, and none of the broker's own binding settings reach the platform.
func TestViewBindings(t *testing.T) {
	b, err := json.Marshal(catalogview.View(testCatalog()))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Services []map[string]any `json:"services"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	rotatable := map[string]any{}
	for _, p := range body.Services[0]["plans"].([]any) {
		plan := p.(map[string]any)
		rotatable[plan["name"].(string)] = plan["binding_rotatable"]
	}
	want := map[string]any{"rotating": true, "own": nil, "shared": nil, "odd": nil}
	if diff := cmp.Diff(want, rotatable); diff != "" {
		t.Errorf("binding_rotatable by plan (-want +got):\n%s", diff)
	}
	for _, private := range []string{
		"bind_workflows", "osb_bind", "binding_rotation", "credentials_type", "uri_template", "mysql://",
		"blueprint_id", "mariadb_bp", "node_count", "endpoint", "etag",
	} {
		if bytes.Contains(b, []byte(private)) {
			t.Errorf("the view holds %q: %s", private, b)
		}
	}
	if !strings.Contains(string(b), `"bindingRotation":{"maximumValidityPeriod":86400,"overlapPeriod":3600}`) {
		t.Errorf("the view lacks the rotation metadata: %s", b)
	}
}
