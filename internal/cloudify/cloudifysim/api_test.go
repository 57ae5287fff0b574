package cloudifysim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    version
		wantErr bool
	}{
		{"7.0.4", version{7, 0, 4}, false},
		{"6.4", version{6, 4, 0}, false},
		{"5.1", version{5, 1, 0}, false},
		{"v7.0.4", version{7, 0, 4}, false},
		{"7.0.4-ga", version{7, 0, 4}, false},
		{"5.1.1.dev1", version{5, 1, 1}, false},
		{"7", version{7, 0, 0}, false},
		{"", version{}, true},
		{"latest", version{}, true},
	}
	for _, tt := range tests {
		got, err := parseVersion(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseVersion(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("parseVersion(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if !(version{7, 0, 4}).atLeast(7, 0, 1) || (version{6, 3, 9}).atLeast(6, 4, 0) {
		t.Error("atLeast is wrong")
	}
}

func TestAuthAndTenancyBodies(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	tests := []struct {
		name   string
		path   string
		opts   []reqOpt
		status int
		body   map[string]any
	}{
		{"no auth", "/blueprints", []reqOpt{noAuth()}, 401, map[string]any{
			"message":    "User unauthorized: No authentication info provided",
			"error_code": "unauthorized_error", "server_traceback": nil}},
		{"wrong password", "/blueprints", []reqOpt{withBasic("admin", "nope")}, 401, map[string]any{
			"message":    "User unauthorized: Authentication failed for <User username=`admin`>. Wrong credentials or locked account",
			"error_code": "unauthorized_error", "server_traceback": nil}},
		{"unknown user", "/deployments", []reqOpt{withBasic("bob", "x")}, 401, map[string]any{
			"message":    "User unauthorized: Authentication failed for <User username=`bob`>. Wrong credentials or locked account",
			"error_code": "unauthorized_error", "server_traceback": nil}},
		{"7.x ignores basic auth of a user not starting with a letter", "/blueprints", []reqOpt{withBasic("1admin", "admin")}, 401, map[string]any{
			"message":    "User unauthorized: No authentication info provided",
			"error_code": "unauthorized_error", "server_traceback": nil}},
		{"invalid tenant", "/blueprints", []reqOpt{withHeader("Tenant", "nosuch")}, 403, map[string]any{
			"message":    "Authorization failed: Tried to authenticate with invalid tenant name: nosuch",
			"error_code": "forbidden_error", "server_traceback": nil}},
		{"missing tenant", "/deployments", []reqOpt{withHeader("Tenant", "")}, 403, map[string]any{
			"message":    "Authorization failed: tenant not provided",
			"error_code": "forbidden_error", "server_traceback": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("GET", tt.path, nil, tt.opts...)
			expectStatus(t, r, tt.status)
			if diff := cmp.Diff(tt.body, r.JSON(t)); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("ok needs no auth", func(t *testing.T) {
		r := ts.do("GET", "/ok", nil, noAuth())
		expectStatus(t, r, 200)
		if strings.TrimSpace(string(r.Body)) != `"OK"` {
			t.Errorf("body = %s", r.Body)
		}
	})
	t.Run("version needs auth, not a tenant", func(t *testing.T) {
		expectStatus(t, ts.do("GET", "/version", nil, noAuth()), 401)
		r := ts.do("GET", "/version", nil, withHeader("Tenant", ""))
		expectStatus(t, r, 200)
		if v := r.JSON(t)["version"]; v != "7.0.4" {
			t.Errorf("version = %v", v)
		}
		r = ts.do("GET", "/api/version", nil)
		expectStatus(t, r, 200)
		expectStatus(t, ts.do("GET", "/api/v3/status", nil), 200)
	})
	t.Run("extra tenant", func(t *testing.T) {
		ts2 := newTestSim(t, "7.0.4", func(c *Config) {
			c.Tenants = []string{"t1", "t2"}
			c.Users = map[string]string{"bob": "pw"}
		})
		r := ts2.do("PUT", "/deployments/d1", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "x"}},
			withBasic("bob", "pw"), withHeader("Tenant", "t1"))
		expectStatus(t, r, 201)
		if got := r.JSON(t)["created_by"]; got != "bob" {
			t.Errorf("created_by = %v", got)
		}
		expectStatus(t, ts2.do("GET", "/deployments/d1", nil, withBasic("bob", "pw"), withHeader("Tenant", "t2")), 404)
		expectStatus(t, ts2.do("GET", "/deployments/d1", nil, withBasic("bob", "pw"), withHeader("Tenant", "default_tenant")), 403)
	})
}

func TestTokens(t *testing.T) {
	t.Run("6.4 database tokens", func(t *testing.T) {
		ts := newTestSim(t, "6.4")
		r := ts.do("POST", "/tokens", map[string]any{"description": "broker"}, withHeader("Tenant", ""))
		expectStatus(t, r, 201)
		tok := r.JSON(t)
		value := tok["value"].(string)
		id := tok["id"].(string)
		if !strings.HasPrefix(value, "ctok-"+id+"-") || tok["username"] != "admin" || tok["description"] != "broker" {
			t.Fatalf("token = %v", tok)
		}
		expectStatus(t, ts.do("GET", "/blueprints", nil, noAuth(), withHeader("Authentication-Token", value)), 200)
		r = ts.do("GET", "/tokens", nil)
		expectStatus(t, r, 200)
		items := r.JSON(t)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["value"] != "ctok-"+id+"-********" {
			t.Fatalf("token list = %s", r.Body)
		}
		expectError(t, ts.do("GET", "/blueprints", nil, noAuth(), withHeader("Authentication-Token", "garbage")),
			401, "unauthorized_error", "Invalid token structure")
		expectStatus(t, ts.do("DELETE", "/tokens/"+id, nil), 204)
		expectError(t, ts.do("GET", "/blueprints", nil, noAuth(), withHeader("Authentication-Token", value)),
			401, "unauthorized_error", "User unauthorized")
		expectError(t, ts.do("DELETE", "/tokens/"+id, nil), 404, "not_found_error", "Requested `Token` with ID")
	})
	t.Run("6.4 token expiry follows the clock", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		exp := t0.Add(time.Hour).Format(timeFormat)
		r := ts.do("POST", "/tokens", map[string]any{"expiration_date": exp})
		expectStatus(t, r, 201)
		value := r.JSON(t)["value"].(string)
		expectStatus(t, ts.do("GET", "/deployments", nil, noAuth(), withHeader("Authentication-Token", value)), 200)
		ts.advance(2 * time.Hour)
		expectError(t, ts.do("GET", "/deployments", nil, noAuth(), withHeader("Authentication-Token", value)),
			401, "unauthorized_error", "Token is expired")
	})
	t.Run("6.2 GET tokens", func(t *testing.T) {
		ts := newTestSim(t, "6.2")
		r := ts.do("GET", "/tokens", nil)
		expectStatus(t, r, 200)
		tok := r.JSON(t)
		value, _ := tok["value"].(string)
		if value == "" || strings.HasPrefix(value, "ctok-") || tok["role"] == nil || tok["username"] != "admin" {
			t.Fatalf("legacy token = %v", tok)
		}
		expectStatus(t, ts.do("GET", "/deployments", nil, noAuth(), withHeader("Authentication-Token", value)), 200)
		// DELETE /tokens/{id} does not exist before 6.4
		r = ts.do("DELETE", "/tokens/x", nil)
		expectStatus(t, r, 404)
		if json.Valid(r.Body) {
			t.Errorf("expected Flask HTML 404, got %s", r.Body)
		}
		ts.advance(11 * time.Hour)
		expectError(t, ts.do("GET", "/deployments", nil, noAuth(), withHeader("Authentication-Token", value)),
			401, "unauthorized_error", "expired")
	})
}

func TestContentType(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	body := `{"blueprint_id": "required-input", "inputs": {"name": "x"}}`
	tests := []struct {
		name, method, path, ct string
		status                 int
	}{
		{"charset parameter rejected", "PUT", "/deployments/d1", "application/json; charset=utf-8", 415},
		{"text/plain", "PUT", "/deployments/d1", "text/plain", 415},
		{"missing", "POST", "/executions", "", 415},
		{"cancel needs json", "POST", "/executions/x", "application/x-www-form-urlencoded", 415},
		{"exact match", "PUT", "/deployments/d1", "application/json", 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(tt.method, tt.path, body, withHeader("Content-Type", tt.ct))
			if tt.status == 415 {
				expectError(t, r, 415, "unsupported_content_type_error", "Content type must be application/json")
				return
			}
			expectStatus(t, r, tt.status)
		})
	}
	t.Run("auth comes first", func(t *testing.T) {
		expectStatus(t, ts.do("PUT", "/deployments/d2", body, noAuth(), withHeader("Content-Type", "text/plain")), 401)
	})
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	for _, path := range []string{"/api/v3.1/nosuch", "/api/v3.1/deployments/a/b/c", "/api/v9/deployments", "/"} {
		r := ts.do("GET", path, nil, noAuth())
		expectStatus(t, r, 404)
		if json.Valid(r.Body) || !strings.Contains(string(r.Body), "<title>404 Not Found</title>") {
			t.Errorf("%s: body is not Flask's HTML 404: %s", path, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: content type %q", path, ct)
		}
	}
	r := ts.do("DELETE", "/blueprints", nil)
	expectError(t, r, 405, "method_not_allowed_error", "not allowed")
	if r.Header.Get("Allow") != "GET" {
		t.Errorf("Allow = %q", r.Header.Get("Allow"))
	}
}

func TestListConventions(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	t.Run("envelope", func(t *testing.T) {
		r := ts.do("GET", "/blueprints?_include=id&_sort=id&_size=2&_offset=1", nil)
		expectStatus(t, r, 200)
		want := map[string]any{
			"items": []any{map[string]any{"id": "failing-install"}, map[string]any{"id": "mariadb"}},
			"metadata": map[string]any{
				"pagination": map[string]any{"total": float64(7), "size": float64(2), "offset": float64(1)},
				"filtered":   nil,
			},
		}
		if diff := cmp.Diff(want, r.JSON(t)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"default sort is created_at", "?_include=id", []string{"mariadb", "redis-cache", "s3-bucket", "required-input", "failing-install", "broken-upload", "mariadb-v2"}},
		{"sort desc", "?_sort=-id&_size=3", []string{"s3-bucket", "required-input", "redis-cache"}},
		{"two sort keys", "?_sort=state&_sort=-id&_size=2", []string{"broken-upload", "s3-bucket"}},
		{"equality filter OR", "?id=mariadb&id=redis-cache&_sort=id", []string{"mariadb", "redis-cache"}},
		{"filter on state", "?state=failed_parsing", []string{"broken-upload"}},
		{"search", "?_search=maria&_sort=id", []string{"mariadb", "mariadb-v2"}},
		{"offset past end", "?_offset=50", nil},
		{"get all results ignores size", "?_size=1&_get_all_results=true&_sort=id&id=mariadb&id=s3-bucket", []string{"mariadb", "s3-bucket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("GET", "/blueprints"+tt.query, nil)
			expectStatus(t, r, 200)
			if diff := cmp.Diff(tt.want, itemIDs(t, r)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	errTests := []struct {
		name, query, code, msg string
		noTraceback            bool
	}{
		{"unknown include", "?_include=id,bogus", "no_such_include_field_error", "Illegal include fields: [bogus]", false},
		{"unknown sort", "?_sort=-bogus", "bad_parameters_error", "bogus", false},
		{"negative size", "?_size=-1", "bad_parameters_error", "_size", true},
		{"non-int offset", "?_offset=abc", "bad_parameters_error", "_offset", true},
		{"unknown filter", "?colour=red", "bad_parameters_error", "Filter keys '['colour']' do not exist", false},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			m := expectError(t, ts.do("GET", "/blueprints"+tt.query, nil), 400, tt.code, tt.msg)
			if _, has := m["server_traceback"]; has == tt.noTraceback {
				t.Errorf("server_traceback present = %v, want %v", has, !tt.noTraceback)
			}
		})
	}
	t.Run("6.2 pagination error keeps server_traceback", func(t *testing.T) {
		ts62 := newTestSim(t, "6.2")
		m := expectError(t, ts62.do("GET", "/deployments?_size=-5", nil), 400, "bad_parameters_error", "_size")
		if _, ok := m["server_traceback"]; !ok {
			t.Error("server_traceback missing")
		}
	})
	t.Run("single resource include and 404", func(t *testing.T) {
		r := ts.do("GET", "/blueprints/mariadb?_include=id,state", nil)
		expectStatus(t, r, 200)
		if diff := cmp.Diff(map[string]any{"id": "mariadb", "state": "uploaded"}, r.JSON(t)); diff != "" {
			t.Error(diff)
		}
		// including labels disables projection on GET /blueprints/{id}
		r = ts.do("GET", "/blueprints/mariadb?_include=id,labels", nil)
		if _, ok := r.JSON(t)["plan"]; !ok {
			t.Error("_include=labels should disable projection")
		}
		expectError(t, ts.do("GET", "/blueprints/nope", nil), 404, "not_found_error", "Requested `Blueprint` with ID `nope` was not found")
	})
	t.Run("timestamps", func(t *testing.T) {
		d := ts.create("ts1", "required-input", map[string]any{"name": "n"}, true)
		if d["created_at"] != "2024-01-10T08:00:00.000Z" {
			t.Errorf("created_at = %v", d["created_at"])
		}
	})
}

func TestBlueprintsPerVersion(t *testing.T) {
	ts51 := newTestSim(t, "5.1")
	r := ts51.do("GET", "/blueprints?_sort=id", nil)
	expectStatus(t, r, 200)
	for _, id := range itemIDs(t, r) {
		if id == "broken-upload" {
			t.Error("5.1 has no failed uploads")
		}
	}
	bp := ts51.do("GET", "/blueprints/mariadb", nil).JSON(t)
	if _, ok := bp["state"]; ok {
		t.Error("5.1 blueprints have no state")
	}
	if _, ok := bp["labels"]; ok {
		t.Error("5.1 blueprints have no labels")
	}
	wf := bp["plan"].(map[string]any)["workflows"].(map[string]any)["install"].(map[string]any)
	if _, ok := wf["availability_rules"]; ok {
		t.Error("availability_rules before 6.4")
	}
	if _, ok := r.JSON(t)["metadata"].(map[string]any)["filtered"]; ok {
		t.Error("metadata.filtered before 5.2")
	}
	ts7 := newTestSim(t, "7.0.4")
	bp = ts7.do("GET", "/blueprints/mariadb", nil).JSON(t)
	labels := bp["labels"].([]any)
	if len(labels) == 0 || labels[0].(map[string]any)["created_by"] != "admin" {
		t.Errorf("labels = %v", labels)
	}
	inputs := bp["plan"].(map[string]any)["inputs"].(map[string]any)
	if _, ok := inputs["admin_password"].(map[string]any)["default"]; ok {
		t.Error("admin_password must have no default")
	}
}

func TestSampleBlueprints(t *testing.T) {
	want := []string{"broken-upload", "failing-install", "mariadb", "mariadb-v2", "redis-cache", "required-input", "s3-bucket"}
	if diff := cmp.Diff(want, SampleBlueprintIDs()); diff != "" {
		t.Fatal(diff)
	}
	for _, raw := range SampleBlueprints() {
		if _, err := parseBlueprint(raw); err != nil {
			t.Error(err)
		}
	}
	sim := New(Config{Clock: NewManualClock(t0)})
	if len(sim.Blueprints()) != 0 {
		t.Error("samples loaded without LoadSamples")
	}
	if err := sim.AddBlueprint(map[string]any{"id": "x", "plan": map[string]any{"inputs": map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddBlueprint(json.RawMessage(`{"id": "x"}`)); err == nil {
		t.Error("duplicate id accepted")
	}
	if err := sim.AddBlueprint(`{"plan": {}}`); err == nil {
		t.Error("fixture without id accepted")
	}
	dir := t.TempDir()
	writeFile(t, dir+"/a.json", `{"id": "extra", "plan": {"inputs": {"n": {"type": "integer"}}}, "x-sim": {"durations": {"install": 1500}}}`)
	if err := sim.LoadBlueprintsDir(dir); err != nil {
		t.Fatal(err)
	}
	if got := sim.workflowDuration("", "extra", "install"); got != 1500*time.Millisecond {
		t.Errorf("fixture duration = %v", got)
	}
	dir2 := t.TempDir()
	writeFile(t, dir2+"/b.json", `{"id": "bad", "x-sim": {"durations": {"install": true}}}`)
	if err := sim.LoadBlueprintsDir(dir2); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Error("bad fixture accepted")
	}
}

func TestMiscellaneous(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	if ts.sim.Version() != "7.0.4" || !ts.sim.Now().Equal(t0) {
		t.Errorf("Version/Now = %v %v", ts.sim.Version(), ts.sim.Now())
	}
	t.Run("blueprint search", func(t *testing.T) {
		r := ts.do("POST", "/searches/blueprints?_sort=id", map[string]any{"filter_rules": []any{
			map[string]any{"key": "osb-service", "values": []any{"mariadb"}, "operator": "any_of", "type": "label"},
			map[string]any{"key": "state", "values": []any{"uploaded"}, "operator": "any_of", "type": "attribute"}}})
		expectStatus(t, r, 200)
		if diff := cmp.Diff([]string{"mariadb", "mariadb-v2"}, itemIDs(t, r)); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("search by display name", func(t *testing.T) {
		r := ts.do("PUT", "/deployments/x1", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "n"},
			"display_name": "Orders DB"})
		expectStatus(t, r, 201)
		ts.create("x2", "required-input", map[string]any{"name": "n"}, false)
		if diff := cmp.Diff([]string{"x1"}, itemIDs(t, ts.do("GET", "/deployments?_search_name=Orders", nil))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff([]string{"x2"}, itemIDs(t, ts.do("GET", "/deployments?_search=x2", nil))); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("token read and relative expiry", func(t *testing.T) {
		r := ts.do("POST", "/tokens", map[string]any{"expiration_date": "+1h"})
		expectStatus(t, r, 201)
		tok := r.JSON(t)
		if tok["expiration_date"] != "2024-01-10T09:00:00.000Z" {
			t.Errorf("expiration_date = %v", tok["expiration_date"])
		}
		got := ts.do("GET", "/tokens/"+tok["id"].(string), nil).JSON(t)
		if !strings.HasSuffix(got["value"].(string), "-********") {
			t.Errorf("value = %v", got["value"])
		}
		expectError(t, ts.do("POST", "/tokens", map[string]any{"expiration_date": "soon"}), 400, "bad_parameters_error", "")
	})
	t.Run("stop and start", func(t *testing.T) {
		ts.installed("db")
		ts.waitEnd(ts.mustStart("db", "stop", nil))
		if info, _ := ts.sim.Deployment("db"); info.NodeInstances["stopped"] != 2 || ts.dep("db")["installation_status"] != "inactive" {
			t.Errorf("after stop: %+v", info)
		}
		ts.waitEnd(ts.mustStart("db", "start", nil))
		if info, _ := ts.sim.Deployment("db"); info.InstallationStatus != "active" {
			t.Errorf("after start: %+v", info)
		}
		r := ts.do("GET", "/node-instances?deployment_id=db&node_id=db_lb", nil)
		ni := r.JSON(t)["items"].([]any)[0].(map[string]any)
		if diff := cmp.Diff(map[string]any{"port": float64(3306)}, ni["runtime_properties"]); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("tick, set and reset", func(t *testing.T) {
		id := ts.mustStart("db", "check_status", nil)
		ts.clock.Set(t0.Add(24 * time.Hour))
		ts.sim.Tick()
		if ex := ts.sim.Executions("db"); ex[len(ex)-1].ID != id || ex[len(ex)-1].Status != "terminated" {
			t.Errorf("after Tick: %+v", ex[len(ex)-1])
		}
		ts.sim.ResetStats()
		if st := ts.sim.Stats(); st.TotalRequests != 0 || len(st.Requests) != 0 {
			t.Errorf("stats after reset: %+v", st)
		}
	})
}
