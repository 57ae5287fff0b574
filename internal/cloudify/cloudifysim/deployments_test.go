package cloudifysim

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCreateDeployment51Synchronous(t *testing.T) {
	ts := newTestSim(t, "5.1")
	// 5.1.0 ignores required: false, so replica_zones (no default) is required
	expectError(t, ts.do("PUT", "/deployments/db1", map[string]any{"blueprint_id": "mariadb", "inputs": mariadbInputs()}),
		400, "missing_required_deployment_input_error", "Required inputs ['replica_zones'] were not specified")
	mariadbInputs := func() map[string]any {
		return map[string]any{"admin_password": "s3cr3t-pass", "replica_zones": []any{"eu-1a", "eu-1b"}}
	}
	// constraint violations are checked by the REST call itself
	in := mariadbInputs()
	in["node_count"] = 12
	expectError(t, ts.do("PUT", "/deployments/db1", map[string]any{"blueprint_id": "mariadb", "inputs": in}),
		400, "constraint_error", "Value 12 of input node_count violates constraint in_range(1, 9) operator.")
	// a type mismatch was not mapped before 6.0
	in["node_count"] = "three"
	expectError(t, ts.do("PUT", "/deployments/db1", map[string]any{"blueprint_id": "mariadb", "inputs": in}),
		500, "internal_server_error", "Internal error occurred in manager REST server - DSLParsingLogicException")
	// messages of the 4.x/5.x parser
	expectError(t, ts.do("PUT", "/deployments/db1", map[string]any{"blueprint_id": "mariadb"}),
		400, "missing_required_deployment_input_error", "Required inputs ['admin_password', 'replica_zones'] were not specified - expected inputs: ['admin_password', 'admin_user', ")
	expectError(t, ts.do("PUT", "/deployments/db1", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "a", "x": 1}}),
		400, "unknown_deployment_input_error", "Unknown inputs ['x'] specified - expected inputs: ['name']")
	// ids must start with a letter up to 5.2
	expectError(t, ts.do("PUT", "/deployments/1db", map[string]any{"blueprint_id": "mariadb", "inputs": mariadbInputs()}),
		400, "bad_parameters_error", "must begin with a letter")

	d := ts.create("db1", "mariadb", mariadbInputs(), false)
	if d["inputs"].(map[string]any)["db_name"] != "app" || d["outputs"] == nil || d["workflows"] == nil {
		t.Fatalf("5.1 create returns a populated deployment: %v", d)
	}
	for _, f := range []string{"deployment_status", "installation_status", "latest_execution", "display_name", "labels"} {
		if _, ok := d[f]; ok {
			t.Errorf("5.1 deployment has field %s", f)
		}
	}
	// create_deployment_environment still runs asynchronously
	expectError(t, ts.start("db1", "install", nil), 400, "deployment_environment_creation_pending_error", "still pending")
	ts.advance(300 * time.Millisecond)
	expectError(t, ts.start("db1", "install", nil), 400, "deployment_environment_creation_in_progress_error", "in progress")
	ts.advance(time.Second)
	e := ts.exec(ts.mustStart("db1", "install", nil))
	if _, ok := e["status_display"]; ok {
		t.Error("status_display before 6.0")
	}
}

func TestCreateDeploymentAsync(t *testing.T) {
	ts := newTestSim(t, "6.4")
	d := ts.create("db1", "mariadb", mariadbInputs(), true)
	for _, f := range []string{"inputs", "outputs", "capabilities", "workflows", "description"} {
		if d[f] != nil {
			t.Errorf("skeleton %s = %v, want null", f, d[f])
		}
	}
	if d["deployment_status"] != "requires_attention" || d["installation_status"] != "inactive" ||
		d["latest_execution"] != d["create_execution"] || d["latest_execution_status"] != "in_progress" {
		t.Errorf("skeleton statuses: %v", d)
	}
	createID := d["create_execution"].(string)
	// outputs are {} while create_deployment_environment runs
	r := ts.do("GET", "/deployments/db1/outputs", nil)
	if diff := cmp.Diff(map[string]any{"deployment_id": "db1", "outputs": map[string]any{}}, r.JSON(t)); diff != "" {
		t.Error(diff)
	}
	expectError(t, ts.start("db1", "install", nil), 400, "deployment_environment_creation_pending_error", "")
	ts.advance(250 * time.Millisecond)
	if got := ts.dep("db1")["deployment_status"]; got != "in_progress" {
		t.Errorf("deployment_status while creating = %v", got)
	}
	e := ts.waitEnd(createID)
	if e["status"] != "terminated" || e["status_display"] != "completed" || e["started_at"] == nil || e["ended_at"] == nil {
		t.Fatalf("create execution = %v", e)
	}
	params := e["parameters"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"admin_password": "s3cr3t-pass"}, params["inputs"]); diff != "" {
		t.Errorf("create parameters: %s", diff)
	}
	d = ts.dep("db1")
	if d["inputs"].(map[string]any)["flavor"] != "small" || d["deployment_status"] != "requires_attention" {
		t.Errorf("after create: %v", d)
	}
}

func TestCreateDeploymentAsyncConstraintViolation(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	in := mariadbInputs()
	in["flavor"] = "huge"
	d := ts.create("db1", "mariadb", in, true) // names are fine: 201
	e := ts.waitEnd(d["create_execution"].(string))
	if e["status"] != "failed" {
		t.Fatalf("create execution = %v", e["status"])
	}
	last := lastLine(e["error"].(string))
	want := "dsl_parser.exceptions.ConstraintException: Value huge of input flavor violates constraint valid_values(small, medium, large) operator."
	if last != want {
		t.Errorf("last error line = %q, want %q", last, want)
	}
	expectError(t, ts.start("db1", "install", nil), 400, "deployment_creation_error",
		"Can't launch executions since environment creation for deployment db1 has failed: "+want)
	d = ts.dep("db1")
	if d["deployment_status"] != "requires_attention" || d["latest_execution_status"] != "failed" || d["inputs"] != nil {
		t.Errorf("failed create: %v", d)
	}
	// 7.0 constraint error_message replaces the default text
	in = map[string]any{"admin_password": "short"}
	d = ts.create("db2", "mariadb", in, true)
	e = ts.waitEnd(d["create_execution"].(string))
	if !strings.HasSuffix(e["error"].(string), "The admin password must have at least 8 characters\n") {
		t.Errorf("error = %q", e["error"])
	}
}

func TestCreateDeploymentSync(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	d := ts.create("db1", "mariadb", mariadbInputs(), false)
	if d["inputs"] == nil || d["latest_execution_status"] != "completed" {
		t.Fatalf("sync create returns the full deployment: %v", d)
	}
	execs := ts.sim.Executions("db1")
	if len(execs) != 1 || execs[0].Status != "terminated" {
		t.Fatalf("executions = %+v", execs)
	}

	// duplicate id
	expectError(t, ts.do("PUT", "/deployments/db1", map[string]any{"blueprint_id": "mariadb", "inputs": mariadbInputs()}),
		409, "conflict_error", "<Deployment id=`db1` tenant=`default_tenant`> already exists on <Tenant name=`default_tenant`> or with global visibility")

	// a violation fails the synchronous create with the last error line
	in := mariadbInputs()
	in["db_name"] = "1nvalid"
	expectError(t, ts.do("PUT", "/deployments/db2", map[string]any{"blueprint_id": "mariadb", "inputs": in}),
		400, "deployment_creation_error", "Value 1nvalid of input db_name violates constraint pattern([a-z][a-z0-9_]*) operator.")
	if _, ok := ts.sim.Deployment("db2"); !ok {
		t.Fatal("the failed deployment row stays")
	}
	// 6.0+ replaces a deployment whose only execution is a failed create
	d = ts.create("db2", "mariadb", mariadbInputs(), false)
	if d["inputs"] == nil {
		t.Fatal("replacement not created")
	}
	// a create that cannot finish within the wait answers 500
	ts.sim.SetDuration("slow", "create_deployment_environment", 10*time.Minute)
	expectError(t, ts.do("PUT", "/deployments/slow", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "x"}}),
		500, "internal_server_error", "Timed out waiting")
	if info, _ := ts.sim.Deployment("slow"); info.Inputs != nil {
		t.Error("slow create should still be running")
	}
}

func TestSyncCreateWaitPerVersion(t *testing.T) {
	tests := []struct {
		version string
		create  time.Duration
		status  int
	}{
		{"6.0", 50 * time.Second, 201},
		{"6.0", 90 * time.Second, 500}, // 6.0-6.1 wait 60s
		{"6.2", 90 * time.Second, 201}, // 6.2+ wait 120s
		{"7.0.4", 130 * time.Second, 500},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.version, tt.create), func(t *testing.T) {
			ts := newTestSim(t, tt.version, func(c *Config) {
				c.Durations.Workflows = map[string]time.Duration{"create_deployment_environment": tt.create}
			})
			r := ts.do("PUT", "/deployments/d", map[string]any{"blueprint_id": "redis-cache"})
			expectStatus(t, r, tt.status)
		})
	}
}

func TestCreateDeploymentValidation(t *testing.T) {
	tests := []struct {
		name    string
		version string
		id      string
		body    any
		status  int
		code    string
		msg     string
	}{
		{"digit first accepted on 7.0", "7.0.4", "1db", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "a"}}, 201, "", ""},
		{"digit first refused on 5.1", "5.1", "1db", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "a"}}, 400, "bad_parameters_error", "must begin with a letter"},
		{"illegal characters", "7.0.4", "a:b", map[string]any{"blueprint_id": "required-input"}, 400, "bad_parameters_error", "contains illegal characters"},
		{"too long", "7.0.4", strings.Repeat("a", 257), map[string]any{"blueprint_id": "required-input"}, 400, "bad_parameters_error", "256"},
		{"missing blueprint_id", "7.0.4", "d", map[string]any{"inputs": map[string]any{}}, 400, "bad_parameters_error", "Missing blueprint_id in json request body"},
		{"string boolean", "7.0.4", "d", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "a"}, "skip_plugins_validation": "true"}, 400, "bad_parameters_error", "expected to be of type bool"},
		{"inputs not an object", "7.0.4", "d", map[string]any{"blueprint_id": "required-input", "inputs": []any{}}, 400, "bad_parameters_error", "inputs"},
		{"unknown blueprint", "7.0.4", "d", map[string]any{"blueprint_id": "nope"}, 404, "not_found_error", "Requested `Blueprint` with ID `nope` was not found"},
		{"blueprint not uploaded", "7.0.4", "d", map[string]any{"blueprint_id": "broken-upload"}, 400, "deployment_creation_error", "Unable to create a deployment based on a blueprint which is not `uploaded` but: `failed_parsing`"},
		{"missing input 7.x", "7.0.4", "d", map[string]any{"blueprint_id": "required-input"}, 400, "missing_required_deployment_input_error", "missing inputs: name"},
		{"unknown input 7.x", "7.0.4", "d", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "a", "zz": 1}}, 400, "unknown_deployment_input_error", "Cannot create deployment - unknown inputs: zz"},
		{"bad labels", "7.0.4", "d", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "a"}, "labels": []any{map[string]any{"a": "1", "b": "2"}}}, 400, "bad_parameters_error", "Labels must be a list of 1-entry dictionaries"},
		{"reserved label", "7.0.4", "d", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "a"}, "labels": []any{map[string]any{"csys-secret": "1"}}}, 400, "bad_parameters_error", "csys-"},
		{"bad visibility", "7.0.4", "d", map[string]any{"blueprint_id": "required-input", "inputs": map[string]any{"name": "a"}, "visibility": "public"}, 400, "bad_parameters_error", "Invalid visibility"},
		{"not json", "7.0.4", "d", "{", 400, "bad_parameters_error", "Failed to decode JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSim(t, tt.version)
			r := ts.do("PUT", "/deployments/"+tt.id, tt.body)
			if tt.code == "" {
				expectStatus(t, r, tt.status)
				return
			}
			expectError(t, r, tt.status, tt.code, tt.msg)
		})
	}
}

func TestLabelsAndSearch(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	mk := func(id string, labels []any) {
		r := ts.do("PUT", "/deployments/"+id, map[string]any{"blueprint_id": "required-input",
			"inputs": map[string]any{"name": id}, "labels": labels})
		expectStatus(t, r, 201)
	}
	mk("a", []any{map[string]any{"OSB-Instance": "i-1"}, map[string]any{"env": []any{"prod", "eu"}}})
	mk("b", []any{map[string]any{"osb-instance": "i-2"}})
	mk("c", nil)
	d := ts.dep("a")
	var got []string
	for _, l := range d["labels"].([]any) {
		lm := l.(map[string]any)
		got = append(got, lm["key"].(string)+"="+lm["value"].(string))
		if lm["created_by"] != "admin" || lm["created_at"] == nil {
			t.Errorf("label %v", lm)
		}
	}
	if diff := cmp.Diff([]string{"osb-instance=i-1", "env=prod", "env=eu"}, got); diff != "" {
		t.Errorf("labels (keys lower-cased): %s", diff)
	}
	search := func(rules ...map[string]any) resp {
		return ts.do("POST", "/searches/deployments?_sort=id", map[string]any{"filter_rules": rules})
	}
	rule := func(key, op, typ string, values ...string) map[string]any {
		vs := []any{}
		for _, v := range values {
			vs = append(vs, v)
		}
		return map[string]any{"key": key, "values": vs, "operator": op, "type": typ}
	}
	tests := []struct {
		name  string
		rules []map[string]any
		want  []string
	}{
		{"any_of", []map[string]any{rule("osb-instance", "any_of", "label", "i-2", "i-9")}, []string{"b"}},
		{"not_any_of needs the key", []map[string]any{rule("osb-instance", "not_any_of", "label", "i-2")}, []string{"a"}},
		{"is_null", []map[string]any{rule("osb-instance", "is_null", "label")}, []string{"c"}},
		{"is_not_null", []map[string]any{rule("env", "is_not_null", "label")}, []string{"a"}},
		{"attribute any_of", []map[string]any{rule("blueprint_id", "any_of", "attribute", "required-input")}, []string{"a", "b", "c"}},
		{"attribute starts_with and label", []map[string]any{rule("display_name", "starts_with", "attribute", "a", "b"),
			rule("osb-instance", "is_not_null", "label")}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := search(tt.rules...)
			expectStatus(t, r, 200)
			if diff := cmp.Diff(tt.want, itemIDs(t, r)); diff != "" {
				t.Error(diff)
			}
			if f := r.JSON(t)["metadata"].(map[string]any)["filtered"]; f != float64(3-len(tt.want)) {
				t.Errorf("filtered = %v", f)
			}
		})
	}
	m := expectError(t, search(rule("nosuch", "any_of", "attribute", "x")), 400, "invalid_filter_rule", "")
	if m["err_filter_rule"] == nil || m["err_reason"] == nil {
		t.Errorf("invalid_filter_rule body: %v", m)
	}
	expectError(t, search(rule("k", "sounds_like", "label", "x")), 400, "invalid_filter_rule", "")

	// PATCH replaces the label set
	r := ts.do("PATCH", "/deployments/b", map[string]any{"labels": []any{map[string]any{"osb-plan": "small"}}})
	expectStatus(t, r, 200)
	if diff := cmp.Diff([]any{map[string]any{"key": "osb-plan", "value": "small", "created_at": "2024-01-10T08:00:00.000Z",
		"created_by": "admin"}}, r.JSON(t)["labels"]); diff != "" {
		t.Error(diff)
	}
	expectError(t, ts.do("PATCH", "/deployments/b", map[string]any{}), 400, "illegal_action_error", "")
	expectError(t, ts.do("PATCH", "/deployments/zz", map[string]any{"labels": []any{}}), 404, "not_found_error", "")
}

var ipRe = regexp.MustCompile(`^10\.\d+\.\d+\.\d+$`)

func TestOutputsAndCapabilities(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.create("db1", "mariadb", map[string]any{"admin_password": "s3cr3t-pass", "db_name": "orders"}, false)
	caps := func(id string) map[string]any {
		r := ts.do("GET", "/deployments/"+id+"/capabilities", nil)
		expectStatus(t, r, 200)
		m := r.JSON(t)
		if m["deployment_id"] != id {
			t.Errorf("deployment_id = %v", m["deployment_id"])
		}
		return m["capabilities"].(map[string]any)
	}
	outs := func(id string) map[string]any {
		r := ts.do("GET", "/deployments/"+id+"/outputs", nil)
		expectStatus(t, r, 200)
		return r.JSON(t)["outputs"].(map[string]any)
	}
	want := map[string]any{"host": nil, "port": nil, "username": "dbadmin", "password": "s3cr3t-pass", "database": "orders"}
	if diff := cmp.Diff(want, caps("db1")); diff != "" {
		t.Errorf("before install (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"endpoint": nil, "jdbc_url": nil}, outs("db1")); diff != "" {
		t.Errorf("outputs before install: %s", diff)
	}
	ts.waitEnd(ts.mustStart("db1", "install", nil))
	c := caps("db1")
	host, _ := c["host"].(string)
	if !ipRe.MatchString(host) || c["port"] != float64(3306) {
		t.Fatalf("capabilities after install: %v", c)
	}
	if diff := cmp.Diff(map[string]any{"endpoint": host + ":3306", "jdbc_url": "jdbc:mariadb://" + host + ":3306/orders"}, outs("db1")); diff != "" {
		t.Errorf("outputs after install: %s", diff)
	}
	// stand-ins are deterministic
	if caps("db1")["host"] != host {
		t.Error("host changed between reads")
	}
	ts.create("cache", "redis-cache", nil, false)
	ts.waitEnd(ts.mustStart("cache", "install", nil))
	if c := caps("cache"); len(c["password"].(string)) < 16 || !ipRe.MatchString(c["host"].(string)) || c["port"] != float64(6379) {
		t.Errorf("redis capabilities: %v", c)
	}
	ts.create("bucket", "s3-bucket", map[string]any{"region": "us-east-1"}, false)
	if got := caps("bucket")["endpoint"]; got != "https://s3.us-east-1.amazonaws.com" {
		t.Errorf("literal concat = %v", got)
	}
	expectError(t, ts.do("GET", "/deployments/nope/outputs", nil), 404, "not_found_error", "Requested `Deployment` with ID `nope` was not found")
	// uninstall makes the attributes go away again
	ts.waitEnd(ts.mustStart("db1", "uninstall", nil))
	if caps("db1")["host"] != nil {
		t.Error("host after uninstall")
	}
}

func TestOutputsWithSecretAndCapability(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.sim.SetSecret("api_key", "k-123")
	err := ts.sim.AddBlueprint(`{"id": "fn", "plan": {"inputs": {}, "outputs": {
		"secret": {"value": {"get_secret": "api_key"}},
		"missing": {"value": {"get_secret": "nope"}},
		"sys": {"value": {"get_sys": ["deployment", "id"]}},
		"other": {"value": {"get_capability": ["cache", "port"]}},
		"merged": {"value": {"merge": [{"a": 1}, {"b": 2}]}}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	ts.installed("cache-unused")
	ts.create("cache", "redis-cache", nil, false)
	ts.waitEnd(ts.mustStart("cache", "install", nil))
	ts.create("f", "fn", nil, false)
	r := ts.do("GET", "/deployments/f/outputs", nil)
	want := map[string]any{"secret": "k-123", "missing": nil, "sys": "f", "other": float64(6379),
		"merged": map[string]any{"a": float64(1), "b": float64(2)}}
	if diff := cmp.Diff(want, r.JSON(t)["outputs"]); diff != "" {
		t.Error(diff)
	}
}

func TestDeleteDeployment(t *testing.T) {
	t.Run("7.0 checks and asynchronous delete", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.installed("db1")
		expectError(t, ts.do("DELETE", "/deployments/db1", nil), 400, "dependent_exists_error",
			"Can't delete deployment db1 - There are live nodes for this deployment. Live nodes ids: db_lb_")
		id := ts.mustStart("db1", "uninstall", nil)
		expectError(t, ts.do("DELETE", "/deployments/db1?force=true", nil), 400, "dependent_exists_error",
			"There are running or queued executions for this deployment. Running executions ids: "+id)
		ts.waitEnd(id)
		r := ts.do("DELETE", "/deployments/db1?delete_logs=true", nil)
		expectStatus(t, r, 204)
		if len(r.Body) != 0 {
			t.Errorf("204 with body %q", r.Body)
		}
		d := ts.dep("db1")
		if d["deployment_status"] != "in_progress" || d["latest_execution_workflow_id"] != "delete_deployment_environment" {
			t.Errorf("deleting: %v", d)
		}
		// a second DELETE while delete-dep-env runs
		expectError(t, ts.do("DELETE", "/deployments/db1", nil), 400, "dependent_exists_error", "running or queued executions")
		r = ts.do("GET", "/executions?deployment_id=db1&workflow_id=delete_deployment_environment&_sort=-created_at&_size=1", nil)
		ex := r.JSON(t)["items"].([]any)[0].(map[string]any)
		if diff := cmp.Diff(map[string]any{"delete_logs": true, "force": false, "recursive": false}, ex["parameters"]); diff != "" {
			t.Errorf("delete parameters: %s", diff)
		}
		ts.advance(2 * time.Second)
		expectError(t, ts.do("GET", "/deployments/db1", nil), 404, "not_found_error", "Requested `Deployment` with ID `db1` was not found")
		if got := ts.sim.Executions("db1"); len(got) != 0 {
			t.Errorf("executions survive the deployment: %v", got)
		}
		infos := ts.sim.Deployments()
		if len(infos) != 1 || infos[0].Exists || infos[0].ID != "db1" {
			t.Errorf("tombstone: %+v", infos)
		}
	})
	t.Run("force skips the live-node check", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.installed("db1")
		expectStatus(t, ts.do("DELETE", "/deployments/db1?force=true", nil), 204)
		ts.advance(2 * time.Second)
		expectStatus(t, ts.do("GET", "/deployments/db1", nil), 404)
	})
	t.Run("failed delete without force keeps the deployment", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.create("d", "required-input", map[string]any{"name": "x"}, false)
		ts.sim.FailWorkflow("d", "delete_deployment_environment", "")
		expectStatus(t, ts.do("DELETE", "/deployments/d", nil), 204)
		ts.advance(5 * time.Second)
		if got := ts.dep("d")["deployment_status"]; got != "requires_attention" {
			t.Errorf("deployment_status = %v", got)
		}
		expectStatus(t, ts.do("DELETE", "/deployments/d?force=true", nil), 204)
		ts.advance(5 * time.Second)
		expectStatus(t, ts.do("GET", "/deployments/d", nil), 404)
	})
	t.Run("5.0 answers 200 with the deployment", func(t *testing.T) {
		ts := newTestSim(t, "5.0.5")
		ts.create("d", "required-input", map[string]any{"name": "x"}, false)
		ts.advance(2 * time.Second)
		ts.waitEnd(ts.mustStart("d", "install", nil))
		expectError(t, ts.do("DELETE", "/deployments/d", nil), 400, "dependent_exists_error", "live nodes")
		r := ts.do("DELETE", "/deployments/d?ignore_live_nodes=true", nil)
		expectStatus(t, r, 200)
		if r.JSON(t)["id"] != "d" {
			t.Errorf("body = %s", r.Body)
		}
		expectStatus(t, ts.do("GET", "/deployments/d", nil), 200) // still there
		ts.advance(2 * time.Second)
		expectStatus(t, ts.do("GET", "/deployments/d", nil), 404)
	})
	t.Run("4.3 removes the row at once", func(t *testing.T) {
		ts := newTestSim(t, "4.3")
		ts.create("d", "required-input", map[string]any{"name": "x"}, false)
		ts.advance(2 * time.Second)
		expectStatus(t, ts.do("DELETE", "/deployments/d", nil), 200)
		expectStatus(t, ts.do("GET", "/deployments/d", nil), 404)
	})
	t.Run("operator deletes by hand", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.installed("db1")
		if !ts.sim.DeleteDeploymentNow("db1") || ts.sim.DeleteDeploymentNow("db1") {
			t.Fatal("DeleteDeploymentNow result")
		}
		expectStatus(t, ts.do("GET", "/deployments/db1", nil), 404)
	})
}

func TestNodeInstancesAndStatuses(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.create("db1", "mariadb", map[string]any{"admin_password": "s3cr3t-pass", "node_count": 3}, false)
	r := ts.do("GET", "/node-instances?deployment_id=db1&_sort=id", nil)
	expectStatus(t, r, 200)
	items := r.JSON(t)["items"].([]any)
	if len(items) != 4 {
		t.Fatalf("node instances = %d, want 4 (1 lb + 3 db nodes)", len(items))
	}
	for _, it := range items {
		if it.(map[string]any)["state"] != "uninitialized" {
			t.Errorf("instance %v", it)
		}
	}
	ts.waitEnd(ts.mustStart("db1", "install", nil))
	d := ts.dep("db1")
	if d["installation_status"] != "active" || d["deployment_status"] != "good" || d["latest_execution_status"] != "completed" {
		t.Errorf("after install: %v %v %v", d["installation_status"], d["deployment_status"], d["latest_execution_status"])
	}
	info, _ := ts.sim.Deployment("db1")
	if diff := cmp.Diff(map[string]int{"started": 4}, info.NodeInstances); diff != "" || info.InstallationStatus != "active" {
		t.Errorf("snapshot %+v", info)
	}
	// a failing install leaves requires_attention and half the instances started
	ts.create("f", "failing-install", nil, false)
	e := ts.waitEnd(ts.mustStart("f", "install", nil))
	if e["status"] != "failed" || !strings.HasPrefix(lastLine(e["error"].(string)), "cloudify.exceptions.NonRecoverableError: ansible-playbook failed") {
		t.Fatalf("failing install: %v", e)
	}
	d = ts.dep("f")
	if d["deployment_status"] != "requires_attention" || d["installation_status"] != "inactive" || d["latest_execution_status"] != "failed" {
		t.Errorf("after failed install: %v", d)
	}
	info, _ = ts.sim.Deployment("f")
	if diff := cmp.Diff(map[string]int{"started": 1, "uninitialized": 1}, info.NodeInstances); diff != "" {
		t.Errorf("after failed install: %s", diff)
	}
}
