package cloudifysim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// bindParams are valid osb_bind parameters for binding b of deployment dep.
func bindParams(dep, b string) map[string]any {
	return map[string]any{"parameters": map[string]any{"binding_id": b, "secret_key": "osb-" + dep + "-" + b}}
}

// users returns the binding users of a deployment.
func (ts *tsim) users(dep string) []BindingUser {
	ts.t.Helper()
	info, ok := ts.sim.Deployment(dep)
	if !ok {
		ts.t.Fatalf("deployment %s not found", dep)
	}
	return info.BindingUsers
}

// secretJSON reads a secret as admin and decodes its value.
func (ts *tsim) secretJSON(key string) map[string]any {
	ts.t.Helper()
	r := ts.do("GET", "/secrets/"+key, nil)
	expectStatus(ts.t, r, 200)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.JSON(ts.t)["value"].(string)), &m); err != nil {
		ts.t.Fatalf("secret %s does not hold a JSON object: %v", key, err)
	}
	return m
}

func TestBindEffectCreatesUserAndSecret(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.installed("db1")
	id := ts.mustStart("db1", "osb_bind", bindParams("db1", "b1"))
	// the effect happens when the workflow ends, not before
	ts.advance(time.Second)
	if u := ts.users("db1"); len(u) != 0 {
		t.Fatalf("users before the workflow ended: %+v", u)
	}
	expectError(t, ts.do("GET", "/secrets/osb-db1-b1", nil), 404, "not_found_error", "")
	e := ts.waitEnd(id)
	if e["status"] != "terminated" {
		t.Fatalf("osb_bind ended %v: %v", e["status"], e["error"])
	}
	params := e["parameters"].(map[string]any)
	if params["app_guid"] != nil || params["privileges"] != "read_write" || params["binding_id"] != "b1" {
		t.Errorf("parameters with defaults = %v", params)
	}
	users := ts.users("db1")
	if len(users) != 1 || users[0].Binding != "b1" || users[0].SecretKey != "osb-db1-b1" || users[0].Username == "" || users[0].Password == "" {
		t.Fatalf("users after bind = %+v", users)
	}
	creds := ts.secretJSON("osb-db1-b1")
	caps := ts.do("GET", "/deployments/db1/capabilities", nil).JSON(t)["capabilities"].(map[string]any)
	if creds["host"] != caps["host"] || creds["port"] != float64(3306) || creds["database"] != "app" ||
		creds["username"] != users[0].Username || creds["password"] != users[0].Password {
		t.Errorf("credentials = %v; capabilities %v; user %+v", creds, caps, users[0])
	}
	sec := ts.do("GET", "/secrets/osb-db1-b1", nil).JSON(t)
	if sec["is_hidden_value"] != true || sec["created_by"] != "admin" || sec["visibility"] != "tenant" {
		t.Errorf("secret = %v", sec)
	}

	// a second binding gets its own user
	ts.waitEnd(ts.mustStart("db1", "osb_bind", bindParams("db1", "b2")))
	users = ts.users("db1")
	if len(users) != 2 || users[0].Username == users[1].Username || users[0].Password == users[1].Password {
		t.Fatalf("users after two binds = %+v", users)
	}
	// binding b1 again keeps its user and password
	ts.waitEnd(ts.mustStart("db1", "osb_bind", bindParams("db1", "b1")))
	if again := ts.secretJSON("osb-db1-b1"); again["username"] != creds["username"] || again["password"] != creds["password"] {
		t.Errorf("repeated bind changed the credentials: %v, was %v", again, creds)
	}

	// unbind drops the user; the secret is left to the caller
	e = ts.waitEnd(ts.mustStart("db1", "osb_unbind", bindParams("db1", "b1")))
	if e["status"] != "terminated" {
		t.Fatalf("osb_unbind ended %v: %v", e["status"], e["error"])
	}
	users = ts.users("db1")
	if len(users) != 1 || users[0].Binding != "b2" {
		t.Fatalf("users after unbind of b1 = %+v", users)
	}
	expectStatus(t, ts.do("GET", "/secrets/osb-db1-b1", nil), 200)
	// unbinding a binding that has no user succeeds and changes nothing
	if e := ts.waitEnd(ts.mustStart("db1", "osb_unbind", bindParams("db1", "b1"))); e["status"] != "terminated" {
		t.Errorf("repeated unbind ended %v", e["status"])
	}
	// uninstall takes the remaining users with the service
	ts.waitEnd(ts.mustStart("db1", "uninstall", nil))
	if u := ts.users("db1"); len(u) != 0 {
		t.Errorf("users after uninstall = %+v", u)
	}
}

func TestBindParametersRefused(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.installed("db1")
	cases := []struct {
		name   string
		params map[string]any
		part   string
	}{
		{"missing required", map[string]any{"binding_id": "b1"}, `Workflow "osb_bind" must be provided with the following parameters to execute: secret_key`},
		{"both missing", map[string]any{}, "to execute: binding_id,secret_key"},
		{"unknown", map[string]any{"binding_id": "b1", "secret_key": "k", "colour": "red"}, "does not have the following parameters declared: colour"},
		{"constraint", map[string]any{"binding_id": "b1", "secret_key": "k", "privileges": "root"}, "privileges"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, ts.start("db1", "osb_bind", map[string]any{"parameters": c.params}), 400, "illegal_execution_parameters_error", c.part)
		})
	}
	// allow_custom_parameters lets an undeclared one through
	expectStatus(t, ts.start("db1", "osb_bind", map[string]any{"allow_custom_parameters": true,
		"parameters": map[string]any{"binding_id": "b1", "secret_key": "k", "colour": "red"}}), 201)
	// the samples with shared credentials have no such workflow
	ts.create("cache", "redis-cache", nil, false)
	expectError(t, ts.start("cache", "osb_bind", bindParams("cache", "b1")), 400, "nonexistent_workflow_error", "osb_bind")
}

func TestBindBeforeInstall(t *testing.T) {
	t.Run("6.4 refuses it by its availability rule", func(t *testing.T) {
		ts := newTestSim(t, "6.4")
		ts.create("db1", "mariadb", mariadbInputs(), false)
		expectError(t, ts.start("db1", "osb_bind", bindParams("db1", "b1")), 400, "unavailable_workflow_error", "osb_bind")
	})
	t.Run("6.2 runs it and it fails", func(t *testing.T) {
		ts := newTestSim(t, "6.2")
		ts.create("db1", "mariadb", mariadbInputs(), false)
		e := ts.waitEnd(ts.mustStart("db1", "osb_bind", bindParams("db1", "b1")))
		if e["status"] != "failed" || !strings.Contains(e["error"].(string), "is not installed") {
			t.Fatalf("osb_bind before install ended %v: %v", e["status"], e["error"])
		}
		if u := ts.users("db1"); len(u) != 0 {
			t.Errorf("users after a failed bind = %+v", u)
		}
		expectError(t, ts.do("GET", "/secrets/osb-db1-b1", nil), 404, "not_found_error", "")
	})
}

// effectsFixture declares one custom workflow per effect kind.
const effectsFixture = `{"id": "effects", "plan": {"inputs": {}, "workflows": {
	"install": {"plugin": "default_workflows", "operation": "cloudify.plugins.workflows.install", "parameters": {}},
	"explode": {"plugin": "script", "operation": "x.py", "parameters": {}},
	"stall": {"plugin": "script", "operation": "x.py", "parameters": {}},
	"stall_pending": {"plugin": "script", "operation": "x.py", "parameters": {}},
	"grant": {"plugin": "script", "operation": "x.py", "parameters": {"binding_id": {"type": "string"}, "key": {"type": "string"}}},
	"purge": {"plugin": "script", "operation": "x.py", "parameters": {"binding_id": {"type": "string"}, "key": {"type": "string"}}}}},
  "x-sim": {"durations": {"explode": "3s"}, "workflow_effects": {
	"explode": {"effect": "fail", "error": "Traceback\nRuntimeError: boom"},
	"stall": {"effect": "hang"},
	"stall_pending": {"effect": "hang", "state": "pending"},
	"grant": {"effect": "create_secret", "secret_parameter": "key", "value": {"fixed": "v"}, "visibility": "private"},
	"purge": {"effect": "delete_secret", "secret_parameter": "key"}}}}`

func TestWorkflowEffectsFailAndHang(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	if err := ts.sim.AddBlueprint(effectsFixture); err != nil {
		t.Fatal(err)
	}
	ts.create("fx", "effects", nil, false)

	id := ts.mustStart("fx", "explode", nil)
	ts.advance(time.Second) // started, still within its 3 s
	if st := ts.exec(id)["status"]; st != "started" {
		t.Fatalf("explode after 1 s: %v", st)
	}
	e := ts.waitEnd(id)
	if e["status"] != "failed" || e["error"] != "Traceback\nRuntimeError: boom" {
		t.Fatalf("explode ended %v: %q", e["status"], e["error"])
	}

	for wf, held := range map[string]string{"stall": "started", "stall_pending": "pending"} {
		id := ts.mustStart("fx", wf, map[string]any{"force": true})
		ts.advance(time.Hour)
		if st := ts.exec(id)["status"]; st != held {
			t.Errorf("%s after an hour: %v, want %s", wf, st, held)
		}
		// a hung execution can still be cancelled
		expectStatus(t, ts.do("POST", "/executions/"+id, map[string]any{"action": "kill"}), 200)
		if e := ts.waitEnd(id); e["status"] != "cancelled" {
			t.Errorf("%s after kill: %v", wf, e["status"])
		}
	}
}

func TestWorkflowEffectsCreateAndDeleteSecret(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	if err := ts.sim.AddBlueprint(effectsFixture); err != nil {
		t.Fatal(err)
	}
	ts.create("fx", "effects", nil, false)
	ts.waitEnd(ts.mustStart("fx", "install", nil))
	p := map[string]any{"parameters": map[string]any{"binding_id": "b", "key": "fx-b"}}
	if e := ts.waitEnd(ts.mustStart("fx", "grant", p)); e["status"] != "terminated" {
		t.Fatalf("grant ended %v: %v", e["status"], e["error"])
	}
	creds := ts.secretJSON("fx-b")
	if creds["fixed"] != "v" || creds["username"] == nil {
		t.Errorf("credentials = %v", creds)
	}
	if v := ts.do("GET", "/secrets/fx-b", nil).JSON(t)["visibility"]; v != "private" {
		t.Errorf("visibility = %v, want private", v)
	}
	if e := ts.waitEnd(ts.mustStart("fx", "purge", p)); e["status"] != "terminated" {
		t.Fatalf("purge ended %v", e["status"])
	}
	expectError(t, ts.do("GET", "/secrets/fx-b", nil), 404, "not_found_error", "fx-b")
	if u := ts.users("fx"); len(u) != 0 {
		t.Errorf("users after purge = %+v", u)
	}
	// an empty secret key fails the workflow instead of making a secret
	bad := map[string]any{"parameters": map[string]any{"binding_id": "b", "key": ""}}
	if e := ts.waitEnd(ts.mustStart("fx", "grant", bad)); e["status"] != "failed" || !strings.Contains(e["error"].(string), "key must be a non-empty string") {
		t.Errorf("grant with an empty key ended %v: %v", e["status"], e["error"])
	}
	// a dry run has no effect
	if e := ts.waitEnd(ts.mustStart("fx", "grant", map[string]any{"dry_run": true, "parameters": map[string]any{"binding_id": "b", "key": "dry"}})); e["status"] != "terminated" {
		t.Errorf("dry run ended %v", e["status"])
	}
	expectError(t, ts.do("GET", "/secrets/dry", nil), 404, "not_found_error", "")
}

func TestWorkflowEffectsFixtureChecks(t *testing.T) {
	for name, fx := range map[string]string{
		"unknown effect": `{"id": "x", "x-sim": {"workflow_effects": {"w": {"effect": "explode"}}}}`,
		"hang state":     `{"id": "x", "x-sim": {"workflow_effects": {"w": {"effect": "hang", "state": "queued"}}}}`,
		"visibility":     `{"id": "x", "x-sim": {"workflow_effects": {"w": {"effect": "create_secret", "visibility": "public"}}}}`,
	} {
		if err := New(Config{}).AddBlueprint(fx); err == nil {
			t.Errorf("%s: fixture accepted", name)
		}
	}
}

func TestBindingUsersSurviveRestart(t *testing.T) {
	path := t.TempDir() + "/state.json"
	ts := newTestSim(t, "7.0.4", func(c *Config) { c.StateFile = path })
	ts.installed("db1")
	ts.waitEnd(ts.mustStart("db1", "osb_bind", bindParams("db1", "b1")))
	want := ts.users("db1")
	sim2 := New(Config{Version: "7.0.4", Clock: NewManualClock(t0), LoadSamples: true, StateFile: path})
	if err := sim2.LoadState(); err != nil {
		t.Fatal(err)
	}
	info, _ := sim2.Deployment("db1")
	if len(info.BindingUsers) != 1 || info.BindingUsers[0].Username != want[0].Username || info.BindingUsers[0].Password != want[0].Password {
		t.Errorf("restored users = %+v, want %+v", info.BindingUsers, want)
	}
}
