package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// osbPlan finds a plan in the raw GET /v2/catalog body.
func osbPlan(t *testing.T, cat map[string]any, service, plan string) map[string]any {
	t.Helper()
	for _, s := range cat["services"].([]any) {
		svc := s.(map[string]any)
		if svc["name"] != service {
			continue
		}
		for _, p := range svc["plans"].([]any) {
			if p.(map[string]any)["name"] == plan {
				return p.(map[string]any)
			}
		}
	}
	t.Fatalf("no plan %s/%s in the catalog", service, plan)
	return nil
}

// TestCLICatalogBindings: the sample mariadb blueprint declares osb_bind and
// osb_unbind, so its plan has per-binding credentials with a binding schema of the
// workflow's own parameters; redis-cache shares its credentials. The CLI sets the
// credentials type, URI template and rotation; the platform sees binding_rotatable and
// the metadata but none of the broker's settings; edits that contradict the blueprints
// are refused and change nothing.
func TestCLICatalogBindings(t *testing.T) {
	e := newCLIE2E(t)
	_, cat := e.osb("GET", "/v2/catalog", nil)
	maria := osbPlan(t, cat, "mariadb", "default")
	if got := maria["metadata"].(map[string]any)["bindingCredentials"]; got != "per-binding" {
		t.Errorf("mariadb bindingCredentials = %v, want per-binding", got)
	}
	params, _ := json.Marshal(maria["schemas"].(map[string]any)["service_binding"])
	if !strings.Contains(string(params), `"privileges"`) || strings.Contains(string(params), "secret_key") {
		t.Errorf("mariadb binding schema = %s, want privileges and none of the broker's parameters", params)
	}
	if got := osbPlan(t, cat, "redis-cache", "default")["metadata"].(map[string]any)["bindingCredentials"]; got != "shared" {
		t.Errorf("redis-cache bindingCredentials = %v, want shared", got)
	}

	out := e.mustCLI("catalog", "annotate", "mariadb", "--credentials-type", "mysql",
		"--uri-template", "mysql://{username}:{password}@{host}:{port}/{database}",
		"--binding-max-validity", "720h", "--binding-overlap", "24h")
	for _, want := range []string{
		"~ service mariadb: credentials credentials_type, uri_template changed (broker only)",
		"~ plan mariadb/default: binding_rotatable, metadata changed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("annotate printed\n%s\nwithout %q", out, want)
		}
	}
	code, cat := e.osb("GET", "/v2/catalog", nil)
	maria = osbPlan(t, cat, "mariadb", "default")
	if code != 200 || maria["binding_rotatable"] != true {
		t.Errorf("mariadb binding_rotatable = %v (status %d), want true", maria["binding_rotatable"], code)
	}
	wantRot := map[string]any{"maximumValidityPeriod": 2592000.0, "overlapPeriod": 86400.0}
	if diff := cmp.Diff(wantRot, maria["metadata"].(map[string]any)["bindingRotation"]); diff != "" {
		t.Errorf("bindingRotation metadata (-want +got):\n%s", diff)
	}
	body, _ := json.Marshal(cat)
	for _, private := range []string{"uri_template", "credentials_type", "bind_workflows", "osb_bind", "binding_rotation"} {
		if strings.Contains(string(body), private) {
			t.Errorf("GET /v2/catalog holds %q", private)
		}
	}
	table := e.mustCLI("catalog", "show", "mariadb", "-o", "table")
	for _, want := range []string{"credentials type:", "mysql://{username}", "per-binding (osb_bind/osb_unbind; parameters privileges; rotatable, valid 720h0m0s, overlap 24h0m0s)"} {
		if !strings.Contains(table, want) {
			t.Errorf("catalog show -o table lacks %q:\n%s", want, table)
		}
	}

	// Refused edits change nothing.
	before := e.mustCLI("catalog", "export")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"catalog", "plan", "set", "redis-cache", "default", "--binding-max-validity", "60"},
			"services.redis-cache.plans[0].binding_rotation: binding rotation needs per-binding credentials"},
		{[]string{"catalog", "annotate", "redis-cache", "--bindings", "per-binding"},
			`services.redis-cache.bindings: blueprint redis-cache declares neither workflow "osb_bind" nor "osb_unbind"`},
		{[]string{"catalog", "annotate", "mariadb", "--bindings", "sometimes"}, `want shared or per-binding, got "sometimes"`},
		{[]string{"catalog", "annotate", "mariadb", "--uri-template", "mysql://{host"}, "services.mariadb.uri_template: position 9"},
		{[]string{"catalog", "plan", "set", "mariadb", "default", "--binding-overlap", "1d"}, "--binding-overlap: want seconds or a duration"},
		// The service's rotation needs a per-binding plan.
		{[]string{"catalog", "plan", "set", "mariadb", "default", "--bindings", "shared"},
			"services.mariadb.binding_rotation: binding rotation needs per-binding credentials, and no bindable plan of the service has them"},
	} {
		r := e.cli(tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d %q, want an error with %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	if after := e.mustCLI("catalog", "export"); after != before {
		t.Errorf("a refused edit changed the overlay (-before +after):\n%s", cmp.Diff(before, after))
	}

	// Without the rotation, the plan can share its credentials.
	e.mustCLI("catalog", "annotate", "mariadb", "--binding-max-validity", "", "--binding-overlap", "")
	e.mustCLI("catalog", "plan", "set", "mariadb", "default", "--bindings", "shared")
	_, cat = e.osb("GET", "/v2/catalog", nil)
	maria = osbPlan(t, cat, "mariadb", "default")
	if maria["metadata"].(map[string]any)["bindingCredentials"] != "shared" || maria["binding_rotatable"] != nil || maria["schemas"].(map[string]any)["service_binding"] != nil {
		t.Errorf("mariadb with shared credentials: %v", maria)
	}
	if exported := e.mustCLI("catalog", "export"); !strings.Contains(exported, "bindings: shared") || strings.Contains(exported, "binding_rotation") {
		t.Errorf("export:\n%s", exported)
	}
}
