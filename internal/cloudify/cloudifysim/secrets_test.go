package cloudifysim

import (
	"testing"
	"time"
)

// withUsers adds users with their roles (admin/admin stays an admin).
func withUsers(roles map[string]string) func(*Config) {
	return func(c *Config) {
		c.Users = map[string]string{"admin": "admin"}
		c.Roles = map[string]string{}
		for u, r := range roles {
			c.Users[u] = u + "-pass"
			c.Roles[u] = r
		}
	}
}

// as sends the request as user (password user-pass).
func as(user string) reqOpt { return withBasic(user, user+"-pass") }

func TestSecretCreateGetPatchDelete(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	r := ts.do("PUT", "/secrets/db-creds", map[string]any{"value": `{"u":"x"}`})
	expectStatus(t, r, 200)
	got := r.JSON(t)
	if got["key"] != "db-creds" || got["value"] != `{"u":"x"}` || got["visibility"] != "tenant" ||
		got["is_hidden_value"] != false || got["created_by"] != "admin" || got["tenant_name"] != "default_tenant" {
		t.Fatalf("created secret = %v", got)
	}
	ts.advance(time.Second)
	r = ts.do("PATCH", "/secrets/db-creds", map[string]any{"value": "v2", "visibility": "global", "is_hidden_value": true})
	expectStatus(t, r, 200)
	got = r.JSON(t)
	if got["value"] != "v2" || got["visibility"] != "global" || got["is_hidden_value"] != true ||
		got["updated_at"] == got["created_at"] {
		t.Fatalf("patched secret = %v", got)
	}
	if g := ts.do("GET", "/secrets/db-creds", nil).JSON(t); g["value"] != "v2" {
		t.Errorf("GET value = %v, want v2", g["value"])
	}
	if g := ts.do("GET", "/secrets/db-creds?_skip_value=true", nil).JSON(t); g["value"] != nil || g["key"] != "db-creds" {
		t.Errorf("GET _skip_value = %v", g)
	}
	expectStatus(t, ts.do("DELETE", "/secrets/db-creds", nil), 204)
	expectError(t, ts.do("GET", "/secrets/db-creds", nil), 404, "not_found_error", "Requested `Secret` with ID `db-creds` was not found")
	expectError(t, ts.do("DELETE", "/secrets/db-creds", nil), 404, "not_found_error", "db-creds")
	expectError(t, ts.do("PATCH", "/secrets/db-creds", map[string]any{"value": "x"}), 404, "not_found_error", "db-creds")
}

func TestSecretConflictAndUpdateIfExists(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	expectStatus(t, ts.do("PUT", "/secrets/k", map[string]any{"value": "one"}), 200)
	expectError(t, ts.do("PUT", "/secrets/k", map[string]any{"value": "two"}), 409, "conflict_error", "already exists")
	r := ts.do("PUT", "/secrets/k", map[string]any{"value": "two", "update_if_exists": true})
	expectStatus(t, r, 200)
	if v := ts.do("GET", "/secrets/k", nil).JSON(t)["value"]; v != "two" {
		t.Errorf("value after update_if_exists = %v, want two", v)
	}
}

func TestSecretBodyValidation(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	cases := []struct {
		name string
		path string
		body any
		code string
		part string
	}{
		{"missing value", "/secrets/k", map[string]any{}, "bad_parameters_error", "Missing value"},
		{"value not a string", "/secrets/k", map[string]any{"value": 3}, "bad_parameters_error", "value parameter is expected to be of type str"},
		{"bad visibility", "/secrets/k", map[string]any{"value": "v", "visibility": "everyone"}, "bad_parameters_error", "Invalid visibility"},
		{"hidden not a bool", "/secrets/k", map[string]any{"value": "v", "is_hidden_value": "yes"}, "bad_parameters_error", "is_hidden_value"},
		{"bad key", "/secrets/a%20b", map[string]any{"value": "v"}, "bad_parameters_error", "illegal characters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, ts.do("PUT", c.path, c.body), 400, c.code, c.part)
		})
	}
	expectError(t, ts.do("PUT", "/secrets/k", `{"value": "v"}`, withHeader("Content-Type", "text/plain")), 415, "unsupported_content_type_error", "")
	if n := len(ts.sim.Secrets()); n != 0 {
		t.Errorf("%d secrets stored by refused requests", n)
	}
}

func TestSecretListHasNoValues(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	for _, k := range []string{"a", "b", "c"} {
		expectStatus(t, ts.do("PUT", "/secrets/"+k, map[string]any{"value": "v-" + k}), 200)
		ts.advance(time.Second)
	}
	r := ts.do("GET", "/secrets?_size=2&_offset=1", nil)
	expectStatus(t, r, 200)
	m := r.JSON(t)
	items := m["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["key"] != "b" || items[1].(map[string]any)["key"] != "c" {
		t.Fatalf("items = %v", items)
	}
	for _, it := range items {
		if _, has := it.(map[string]any)["value"]; has {
			t.Errorf("list item carries a value: %v", it)
		}
	}
	if total := m["metadata"].(map[string]any)["pagination"].(map[string]any)["total"]; total != float64(3) {
		t.Errorf("total = %v, want 3", total)
	}
}

func TestSecretHiddenValueForNonOwners(t *testing.T) {
	ts := newTestSim(t, "7.0.4", withUsers(map[string]string{"alice": RoleUser, "bob": RoleUser}))
	expectStatus(t, ts.do("PUT", "/secrets/h", map[string]any{"value": "pw", "is_hidden_value": true}, as("alice")), 200)
	for _, c := range []struct {
		user, want string
	}{{"alice", "pw"}, {"admin", "pw"}, {"bob", ""}} {
		opt := as(c.user)
		if c.user == "admin" {
			opt = withBasic("admin", "admin")
		}
		r := ts.do("GET", "/secrets/h", nil, opt)
		expectStatus(t, r, 200)
		if v := r.JSON(t)["value"]; v != c.want {
			t.Errorf("%s reads value %q, want %q", c.user, v, c.want)
		}
	}
	expectError(t, ts.do("PATCH", "/secrets/h", map[string]any{"value": "x"}, as("bob")), 403, "forbidden_error", "hidden value secret `h`")
	expectError(t, ts.do("DELETE", "/secrets/h", nil, as("bob")), 403, "forbidden_error", "hidden value secret `h`")
	expectError(t, ts.do("PUT", "/secrets/h", map[string]any{"value": "x", "update_if_exists": true}, as("bob")), 403, "forbidden_error", "")
	if got := ts.sim.Secrets(); len(got) != 1 || got[0].Value != "pw" {
		t.Errorf("secret changed by a refused request: %+v", got)
	}
	// a visible value is readable by everyone
	expectStatus(t, ts.do("PUT", "/secrets/open", map[string]any{"value": "v"}, as("alice")), 200)
	if v := ts.do("GET", "/secrets/open", nil, as("bob")).JSON(t)["value"]; v != "v" {
		t.Errorf("bob reads %v from a visible secret", v)
	}
}

func TestSecretVisibility(t *testing.T) {
	ts := newTestSim(t, "7.0.4", withUsers(map[string]string{"alice": RoleUser, "bob": RoleUser}),
		func(c *Config) { c.Tenants = []string{"default_tenant", "other"} })
	expectStatus(t, ts.do("PUT", "/secrets/mine", map[string]any{"value": "m", "visibility": "private"}, as("alice")), 200)
	ts.advance(time.Second)
	expectStatus(t, ts.do("PUT", "/secrets/shared", map[string]any{"value": "s"}, as("alice")), 200)
	ts.advance(time.Second)
	expectStatus(t, ts.do("PUT", "/secrets/everywhere", map[string]any{"value": "g", "visibility": "global"}, as("alice")), 200)

	keys := func(opts ...reqOpt) []string {
		r := ts.do("GET", "/secrets", nil, opts...)
		expectStatus(t, r, 200)
		var out []string
		for _, it := range r.JSON(t)["items"].([]any) {
			out = append(out, it.(map[string]any)["key"].(string))
		}
		return out
	}
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s sees %v, want %v", name, got, want)
			return
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s sees %v, want %v", name, got, want)
				return
			}
		}
	}
	check("alice", keys(as("alice")), "mine", "shared", "everywhere")
	check("bob", keys(as("bob")), "shared", "everywhere")
	check("admin", keys(), "mine", "shared", "everywhere")
	check("bob in other tenant", keys(as("bob"), withHeader("Tenant", "other")), "everywhere")

	expectError(t, ts.do("GET", "/secrets/mine", nil, as("bob")), 404, "not_found_error", "mine")
	expectStatus(t, ts.do("GET", "/secrets/mine", nil), 200)
	expectError(t, ts.do("GET", "/secrets/shared", nil, withHeader("Tenant", "other")), 404, "not_found_error", "shared")
	expectStatus(t, ts.do("GET", "/secrets/everywhere", nil, withHeader("Tenant", "other")), 200)
	// a global key is taken in every tenant; a tenant key only in its own
	expectError(t, ts.do("PUT", "/secrets/everywhere", map[string]any{"value": "x"}, withHeader("Tenant", "other")), 409, "conflict_error", "")
	expectStatus(t, ts.do("PUT", "/secrets/shared", map[string]any{"value": "x"}, withHeader("Tenant", "other")), 200)
}

func TestSecretRoutesBeforeHiddenValues(t *testing.T) {
	ts := newTestSim(t, "4.3")
	r := ts.do("PUT", "/secrets/k", map[string]any{"value": "v", "is_hidden_value": true})
	expectStatus(t, r, 200)
	if _, has := r.JSON(t)["is_hidden_value"]; has {
		t.Errorf("4.3 answers with is_hidden_value: %s", r.Body)
	}
}

func TestSecretsSurviveRestart(t *testing.T) {
	path := t.TempDir() + "/state.json"
	ts := newTestSim(t, "7.0.4", func(c *Config) { c.StateFile = path })
	expectStatus(t, ts.do("PUT", "/secrets/k", map[string]any{"value": "v", "is_hidden_value": true, "visibility": "private"}), 200)
	sim2 := New(Config{Version: "7.0.4", Clock: NewManualClock(t0), LoadSamples: true, StateFile: path})
	if err := sim2.LoadState(); err != nil {
		t.Fatal(err)
	}
	got := sim2.Secrets()
	if len(got) != 1 || got[0].Key != "k" || got[0].Value != "v" || !got[0].IsHiddenValue || got[0].Visibility != "private" {
		t.Errorf("restored secrets = %+v", got)
	}
}

func TestGetSecretReadsAPISecrets(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	if err := ts.sim.AddBlueprint(`{"id": "fn", "plan": {"inputs": {}, "outputs": {
		"whole": {"value": {"get_secret": "creds"}},
		"user": {"value": {"get_secret": ["creds", "username"]}}}}}`); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, ts.do("PUT", "/secrets/creds", map[string]any{"value": `{"username": "u1"}`}), 200)
	ts.create("f", "fn", nil, false)
	out := ts.do("GET", "/deployments/f/outputs", nil).JSON(t)["outputs"].(map[string]any)
	if out["user"] != "u1" {
		t.Errorf("get_secret path = %v, want u1", out["user"])
	}
	if w, ok := out["whole"].(map[string]any); !ok || w["username"] != "u1" {
		t.Errorf("get_secret whole = %v", out["whole"])
	}
}
