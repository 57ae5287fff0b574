package cloudifysim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestExecutionExclusivity(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.create("db1", "mariadb", mariadbInputs(), false)
	first := ts.mustStart("db1", "install", nil)
	expectError(t, ts.start("db1", "install", nil), 400, "existing_running_execution_error",
		fmt.Sprintf("The following executions are currently running for this deployment: ['%s']. To execute this workflow anyway, pass \"force=true\"", first))

	// queue=true (as the Python client's string) queues it
	// (check_status: available once install has ended, when the queue lets it go)
	r := ts.start("db1", "check_status", map[string]any{"queue": "True"})
	expectStatus(t, r, 201)
	queued := r.JSON(t)
	if queued["status"] != "queued" {
		t.Fatalf("status = %v", queued["status"])
	}
	qid := queued["id"].(string)
	// from 6.0 the queued execution blocks later ones too
	ts.advance(5300 * time.Millisecond) // install ends; check_status is dequeued
	if got := ts.exec(first)["status"]; got != "terminated" {
		t.Fatalf("install = %v", got)
	}
	if got := ts.exec(qid)["status"]; got != "pending" {
		t.Fatalf("queued execution after the install ended = %v", got)
	}
	expectError(t, ts.start("db1", "stop", nil), 400, "existing_running_execution_error", qid)
	// force runs in parallel
	r = ts.start("db1", "execute_operation", map[string]any{"force": true, "parameters": map[string]any{"operation": "cloudify.interfaces.lifecycle.configure"}})
	expectStatus(t, r, 201)
	if r.JSON(t)["status"] != "pending" {
		t.Errorf("forced execution status = %v", r.JSON(t)["status"])
	}
	if e := ts.waitEnd(qid); e["status"] != "terminated" {
		t.Errorf("dequeued execution ended %v", e["status"])
	}
	expectError(t, ts.start("db1", "install", map[string]any{"queue": "maybe"}), 400, "bad_parameters_error", "queue")
}

func TestQueuedBlockingPerVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		blocks  bool
	}{{"5.1", false}, {"6.0", true}} {
		t.Run(tc.version, func(t *testing.T) {
			ts := newTestSim(t, tc.version)
			ts.create("d", "required-input", map[string]any{"name": "x"}, false)
			ts.advance(2 * time.Second) // 5.1: let create_deployment_environment finish
			first := ts.mustStart("d", "install", nil)
			queued := ts.mustStart("d", "install", map[string]any{"queue": true})
			// leave a queued execution without an active one (the manager can
			// get there when its global concurrency limit holds the queue)
			ts.sim.mu.Lock()
			ts.sim.executions[first].status = stTerminated
			ts.sim.setNext(ts.sim.executions[first], time.Time{})
			ts.sim.mu.Unlock()
			r := ts.start("d", "install", nil)
			if tc.blocks {
				expectError(t, r, 400, "existing_running_execution_error", queued)
			} else {
				expectStatus(t, r, 201)
			}
		})
	}
}

func TestDequeueCreateEnvironmentFirst(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.create("d", "required-input", map[string]any{"name": "x"}, false)
	a := ts.mustStart("d", "install", nil)
	b := ts.mustStart("d", "check_status", map[string]any{"queue": true})
	ts.advance(10 * time.Millisecond)
	c := ts.mustStart("d", "execute_operation", map[string]any{"queue": true, "parameters": map[string]any{"operation": "op"}})
	ts.advance(5300 * time.Millisecond)
	if ts.exec(a)["status"] != "terminated" || ts.exec(b)["status"] != "pending" || ts.exec(c)["status"] != "queued" {
		t.Fatal("oldest queued execution must be dequeued first, one at a time")
	}
}

func TestExecutionParameters(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.create("db1", "mariadb", mariadbInputs(), false)
	ts.waitEnd(ts.mustStart("db1", "install", nil))
	tests := []struct {
		name string
		wf   string
		body map[string]any
		code string
		msg  string
		want map[string]any
	}{
		{"defaults merged", "backup", nil, "", "", map[string]any{"target": "s3"}},
		{"given value kept", "backup", map[string]any{"parameters": map[string]any{"target": "local"}}, "", "", map[string]any{"target": "local"}},
		{"undeclared refused", "backup", map[string]any{"parameters": map[string]any{"x": 1}}, "illegal_execution_parameters_error",
			"Workflow \"backup\" does not have the following parameters declared: x", nil},
		{"undeclared allowed", "backup", map[string]any{"parameters": map[string]any{"x": 1.5}, "allow_custom_parameters": "true"}, "", "",
			map[string]any{"target": "s3", "x": 1.5}},
		{"missing required", "execute_operation", nil, "illegal_execution_parameters_error",
			"Workflow \"execute_operation\" must be provided with the following parameters to execute: operation", nil},
		{"constraint checked (6.0+)", "backup", map[string]any{"parameters": map[string]any{"target": "tape"}}, "illegal_execution_parameters_error", "valid_values", nil},
		{"parameters not an object", "backup", map[string]any{"parameters": []any{}}, "bad_parameters_error", "parameters", nil},
		{"unknown workflow", "fly", nil, "nonexistent_workflow_error", "Workflow fly does not exist in the deployment db1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"force": true}
			for k, v := range tt.body {
				body[k] = v
			}
			r := ts.start("db1", tt.wf, body)
			if tt.code != "" {
				expectError(t, r, 400, tt.code, tt.msg)
				return
			}
			expectStatus(t, r, 201)
			if diff := cmp.Diff(tt.want, r.JSON(t)["parameters"]); diff != "" {
				t.Error(diff)
			}
		})
	}
	expectError(t, ts.start("nope", "install", nil), 404, "not_found_error", "Requested `Deployment` with ID `nope` was not found")
	expectError(t, ts.do("POST", "/executions", map[string]any{"deployment_id": "db1"}), 400, "bad_parameters_error", "workflow_id")
	expectError(t, ts.do("GET", "/executions/nope", nil), 404, "not_found_error", "Requested `Execution` with ID `nope` was not found")
}

func TestCancelRules(t *testing.T) {
	// prepare returns an execution in the wanted state
	type prep func(ts *tsim) string
	pending := func(ts *tsim) string { return ts.mustStart("d", "install", nil) }
	started := func(ts *tsim) string {
		id := ts.mustStart("d", "install", nil)
		ts.advance(300 * time.Millisecond)
		return id
	}
	queued := func(ts *tsim) string {
		ts.mustStart("d", "install", nil)
		return ts.mustStart("d", "install", map[string]any{"queue": true})
	}
	cancelling := func(ts *tsim) string {
		id := started(ts)
		expectStatus(ts.t, ts.do("POST", "/executions/"+id, map[string]any{"action": "cancel"}), 200)
		return id
	}
	terminated := func(ts *tsim) string {
		id := ts.mustStart("d", "install", nil)
		ts.waitEnd(id)
		return id
	}
	tests := []struct {
		name   string
		prep   prep
		action string
		want   string // new status, or an error code
	}{
		{"cancel pending", pending, "cancel", "cancelling"},
		{"cancel started", started, "cancel", "cancelling"},
		{"force-cancel started", started, "force-cancel", "force_cancelling"},
		{"kill started", started, "kill", "kill_cancelling"},
		{"cancel queued becomes kill", queued, "cancel", "kill_cancelling"},
		{"cancel cancelling refused", cancelling, "cancel", "illegal_action_error"},
		{"force-cancel cancelling", cancelling, "force-cancel", "force_cancelling"},
		{"kill cancelling", cancelling, "kill", "kill_cancelling"},
		{"cancel terminated refused", terminated, "cancel", "illegal_action_error"},
		{"force-cancel terminated refused", terminated, "force-cancel", "illegal_action_error"},
		{"invalid action", started, "explode", "bad_parameters_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSim(t, "7.0.4")
			ts.create("d", "required-input", map[string]any{"name": "x"}, false)
			id := tt.prep(ts)
			r := ts.do("POST", "/executions/"+id, map[string]any{"action": tt.action})
			if strings.HasSuffix(tt.want, "_error") {
				m := expectError(t, r, 400, tt.want, "")
				if tt.want == "illegal_action_error" && !strings.Contains(m["message"].(string), "Can't "+tt.action+" execution "+id+" because it's in status") {
					t.Errorf("message = %v", m["message"])
				}
				if tt.want == "bad_parameters_error" && !strings.Contains(m["message"].(string), "Invalid action: explode, Valid action values are: ['cancel', 'force-cancel', 'kill', 'resume', 'force-resume', 'requeue']") {
					t.Errorf("message = %v", m["message"])
				}
				return
			}
			expectStatus(t, r, 200)
			e := r.JSON(t)
			if e["status"] != tt.want || e["error"] != "" {
				t.Fatalf("after %s: status %v error %q", tt.action, e["status"], e["error"])
			}
			// the deployment stays busy until the cancel completes
			expectError(t, ts.start("d", "uninstall", map[string]any{"force": false}), 400, "existing_running_execution_error", id)
			e = ts.waitEnd(id)
			if e["status"] != "cancelled" || e["ended_at"] == nil {
				t.Errorf("ended as %v (ended_at %v)", e["status"], e["ended_at"])
			}
		})
	}
}

func TestAvailabilityRules(t *testing.T) {
	t.Run("6.4", func(t *testing.T) {
		ts := newTestSim(t, "6.4")
		ts.create("db1", "mariadb", mariadbInputs(), false)
		avail := func() map[string]any {
			out := map[string]any{}
			for _, w := range ts.dep("db1")["workflows"].([]any) {
				wm := w.(map[string]any)
				out[wm["name"].(string)] = wm["is_available"]
			}
			return out
		}
		if a := avail(); a["install"] != true || a["uninstall"] != false || a["execute_operation"] != true {
			t.Errorf("before install: %v", a)
		}
		expectError(t, ts.start("db1", "uninstall", nil), 400, "unavailable_workflow_error", "Workflow not available: uninstall")
		execs := ts.sim.Executions("db1")
		last := execs[len(execs)-1]
		if last.WorkflowID != "uninstall" || last.Status != "failed" || last.Error != "Error preparing execution: Workflow not available: uninstall" {
			t.Errorf("rejected execution row: %+v", last)
		}
		if ts.dep("db1")["latest_execution_workflow_id"] != "create_deployment_environment" {
			t.Error("the rejected row must not become the latest execution")
		}
		ts.waitEnd(ts.mustStart("db1", "install", nil))
		if a := avail(); a["install"] != false || a["uninstall"] != true {
			t.Errorf("after install: %v", a)
		}
		expectError(t, ts.start("db1", "install", nil), 400, "unavailable_workflow_error", "Workflow not available: install")
		expectStatus(t, ts.start("db1", "install", map[string]any{"force": "true"}), 201)
	})
	// With queue=true the manager queues first and checks availability when the
	// execution leaves the queue, failing it then.
	t.Run("6.4 queued: checked when dequeued", func(t *testing.T) {
		ts := newTestSim(t, "6.4")
		ts.installed("db1")
		running := ts.mustStart("db1", "uninstall", nil)
		// install is not available now (installed) but will be once uninstall ends
		later := ts.start("db1", "install", map[string]any{"queue": true})
		expectStatus(t, later, 201)
		if got := later.JSON(t)["status"]; got != "queued" {
			t.Fatalf("queued install: status %v", got)
		}
		ts.waitEnd(running)
		if e := ts.waitEnd(later.JSON(t)["id"].(string)); e["status"] != "terminated" {
			t.Errorf("install queued while unavailable, available when dequeued: %v %v", e["status"], e["error"])
		}
		// uninstall is available now, not once the first one ends: the second fails
		first := ts.mustStart("db1", "uninstall", nil)
		second := ts.start("db1", "uninstall", map[string]any{"queue": true})
		expectStatus(t, second, 201)
		ts.waitEnd(first)
		e := ts.waitEnd(second.JSON(t)["id"].(string))
		if e["status"] != "failed" || e["error"] != "Error preparing execution: Workflow not available: uninstall" {
			t.Errorf("uninstall unavailable when dequeued: %v %v", e["status"], e["error"])
		}
	})
	t.Run("6.2 has no rules", func(t *testing.T) {
		ts := newTestSim(t, "6.2")
		ts.create("db1", "mariadb", mariadbInputs(), false)
		w := ts.dep("db1")["workflows"].([]any)[0].(map[string]any)
		if _, ok := w["is_available"]; ok {
			t.Error("is_available before 6.4")
		}
		ts.waitEnd(ts.mustStart("db1", "uninstall", nil))
		ts.waitEnd(ts.mustStart("db1", "install", nil))
		ts.waitEnd(ts.mustStart("db1", "install", nil))
	})
	t.Run("failed install of a single instance leaves nothing to uninstall", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.create("d", "required-input", map[string]any{"name": "x"}, false)
		ts.sim.FailWorkflow("d", "install", "")
		ts.waitEnd(ts.mustStart("d", "install", nil))
		expectError(t, ts.start("d", "uninstall", nil), 400, "unavailable_workflow_error", "")
		expectStatus(t, ts.do("DELETE", "/deployments/d", nil), 204)
	})
}

func TestExecutionFieldsAndListing(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.create("a", "required-input", map[string]any{"name": "x"}, false)
	ts.create("b", "required-input", map[string]any{"name": "y"}, false)
	id := ts.mustStart("a", "install", nil)
	e := ts.exec(id)
	for _, f := range []string{"status_display", "deployment_display_name", "total_operations", "finished_operations", "resume", "scheduled_for", "started_at"} {
		if _, ok := e[f]; !ok {
			t.Errorf("7.x execution lacks %s", f)
		}
	}
	if e["is_system_workflow"] != false || e["created_at"] != "2024-01-10T08:00:00.000Z" || e["started_at"] != nil {
		t.Errorf("execution = %v", e)
	}
	r := ts.do("GET", "/executions/"+id+"?_include=id,status", nil)
	if diff := cmp.Diff(map[string]any{"id": id, "status": "pending"}, r.JSON(t)); diff != "" {
		t.Error(diff)
	}
	expectError(t, ts.do("GET", "/executions/"+id+"?_include=nope", nil), 400, "no_such_include_field_error", "nope")
	ts.advance(6 * time.Second)
	e = ts.exec(id)
	if e["started_at"] != "2024-01-10T08:00:00.200Z" || e["ended_at"] != "2024-01-10T08:00:05.200Z" || e["status_display"] != "completed" {
		t.Errorf("timestamps: %v %v %v", e["started_at"], e["ended_at"], e["status_display"])
	}
	r = ts.do("GET", "/executions?deployment_id=a&_sort=created_at&_include=workflow_id", nil)
	if diff := cmp.Diff([]any{map[string]any{"workflow_id": "create_deployment_environment"}, map[string]any{"workflow_id": "install"}},
		r.JSON(t)["items"]); diff != "" {
		t.Error(diff)
	}
	r = ts.do("GET", "/executions?workflow_id=create_deployment_environment&status=terminated", nil)
	if got := r.JSON(t)["metadata"].(map[string]any)["pagination"].(map[string]any)["total"]; got != float64(2) {
		t.Errorf("filtered total = %v", got)
	}
	expectError(t, ts.do("GET", "/executions?colour=x", nil), 400, "bad_parameters_error", "Filter keys")
}

func TestDeploymentUpdates(t *testing.T) {
	t.Run("7.0 POST", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.installed("db1")
		expectStatus(t, ts.do("PUT", "/deployment-updates/db1/update/initiate", map[string]any{}), 405)
		r := ts.do("POST", "/deployment-updates/db1/update/initiate", map[string]any{
			"blueprint_id": "mariadb-v2", "inputs": map[string]any{"node_count": 2, "tls_enabled": true}, "skip_reinstall": true})
		expectStatus(t, r, 200)
		u := r.JSON(t)
		if u["state"] != "updating" || u["old_blueprint_id"] != "mariadb" || u["new_blueprint_id"] != "mariadb-v2" ||
			!strings.HasPrefix(u["id"].(string), "db1-") {
			t.Fatalf("update = %v", u)
		}
		if u["new_inputs"].(map[string]any)["admin_password"] != "s3cr3t-pass" || u["new_inputs"].(map[string]any)["node_count"] != float64(2) {
			t.Errorf("inputs are merged over the existing ones: %v", u["new_inputs"])
		}
		e := ts.exec(u["execution_id"].(string))
		if e["workflow_id"] != "update" || e["parameters"].(map[string]any)["skip_reinstall"] != true {
			t.Errorf("update execution = %v", e)
		}
		ts.advance(300 * time.Millisecond)
		if got := ts.do("GET", "/deployment-updates/"+u["id"].(string), nil).JSON(t)["state"]; got != "executing_workflow" {
			t.Errorf("state while running = %v", got)
		}
		ts.waitEnd(u["execution_id"].(string))
		if got := ts.do("GET", "/deployment-updates/"+u["id"].(string), nil).JSON(t)["state"]; got != "successful" {
			t.Errorf("state = %v", got)
		}
		d := ts.dep("db1")
		if d["blueprint_id"] != "mariadb-v2" || d["inputs"].(map[string]any)["tls_enabled"] != true || d["installation_status"] != "active" {
			t.Errorf("deployment after update: %v %v %v", d["blueprint_id"], d["inputs"], d["installation_status"])
		}
		caps := ts.do("GET", "/deployments/db1/capabilities", nil).JSON(t)["capabilities"].(map[string]any)
		if caps["tls"] != true {
			t.Errorf("capabilities of the new blueprint: %v", caps)
		}
		r = ts.do("GET", "/deployment-updates?deployment_id=db1", nil)
		if len(itemIDs(t, r)) != 1 {
			t.Errorf("list: %s", r.Body)
		}
		expectError(t, ts.do("POST", "/deployment-updates/db1/update/initiate", map[string]any{"blueprint_id": "nope"}),
			404, "not_found_error", "Requested `Blueprint` with ID `nope` was not found")
		expectError(t, ts.do("POST", "/deployment-updates/db1/update/initiate", map[string]any{"inputs": map[string]any{"zzz": 1}}),
			400, "unknown_deployment_input_error", "zzz")
		expectError(t, ts.do("POST", "/deployment-updates/nope/update/initiate", map[string]any{}),
			404, "not_found_error", "Requested `Deployment` with ID `nope` was not found")
		expectError(t, ts.do("GET", "/deployment-updates/nope", nil), 404, "not_found_error", "DeploymentUpdate")
		// a constraint violation fails the update execution in 7.x
		r = ts.do("POST", "/deployment-updates/db1/update/initiate", map[string]any{"inputs": map[string]any{"node_count": 99}})
		expectStatus(t, r, 200)
		u = r.JSON(t)
		e = ts.waitEnd(u["execution_id"].(string))
		if e["status"] != "failed" || !strings.Contains(e["error"].(string), "in_range(1, 9)") {
			t.Errorf("update execution: %v %v", e["status"], e["error"])
		}
		if got := ts.do("GET", "/deployment-updates/"+u["id"].(string), nil).JSON(t)["state"]; got != "failed" {
			t.Errorf("state = %v", got)
		}
	})
	t.Run("6.2 PUT with conflicts", func(t *testing.T) {
		ts := newTestSim(t, "6.2")
		ts.installed("db1")
		// POST without a JSON body is the legacy archive upload
		expectError(t, ts.do("POST", "/deployment-updates/db1/update/initiate", nil), 400, "bad_parameters_error", "blueprint archive")
		r := ts.do("PUT", "/deployment-updates/db1/update/initiate", map[string]any{"inputs": map[string]any{"flavor": "large"}})
		expectStatus(t, r, 200)
		first := r.JSON(t)["id"].(string)
		expectError(t, ts.do("PUT", "/deployment-updates/db1/update/initiate", map[string]any{"inputs": map[string]any{"flavor": "medium"}}),
			409, "conflict_error", first)
		// force only skips stale updates; this one really runs
		expectError(t, ts.do("PUT", "/deployment-updates/db1/update/initiate", map[string]any{"force": true}), 409, "conflict_error", "")
		// 6.x checks constraints synchronously
		ts.advance(10 * time.Second)
		expectError(t, ts.do("PUT", "/deployment-updates/db1/update/initiate", map[string]any{"inputs": map[string]any{"flavor": "huge"}}),
			400, "constraint_error", "Value huge of input flavor")
		expectStatus(t, ts.do("PUT", "/deployment-updates/db1/update/initiate", map[string]any{"inputs": map[string]any{"flavor": "medium"}}), 200)
	})
	// The manager accepts the JSON POST from 6.2.0 (the 6.2 client sends it), PUT
	// too until 7.0; before 6.2 POST is the archive upload only.
	for _, v := range []string{"6.2", "6.3.1"} {
		t.Run(v+" accepts the JSON POST", func(t *testing.T) {
			ts := newTestSim(t, v)
			ts.installed("db1")
			r := ts.do("POST", "/deployment-updates/db1/update/initiate", map[string]any{"inputs": map[string]any{"flavor": "large"}})
			expectStatus(t, r, 200)
			if e := ts.waitEnd(r.JSON(t)["execution_id"].(string)); e["status"] != "terminated" {
				t.Errorf("update execution: %v", e["status"])
			}
			if got := ts.dep("db1")["inputs"].(map[string]any)["flavor"]; got != "large" {
				t.Errorf("flavor after the update = %v", got)
			}
		})
	}
	t.Run("6.1 POST is the archive upload", func(t *testing.T) {
		ts := newTestSim(t, "6.1")
		ts.installed("db1")
		expectError(t, ts.do("POST", "/deployment-updates/db1/update/initiate", map[string]any{"inputs": map[string]any{"flavor": "large"}}),
			400, "bad_parameters_error", "blueprint archive")
	})
	t.Run("6.4 accepts both", func(t *testing.T) {
		ts := newTestSim(t, "6.4")
		ts.installed("db1")
		expectStatus(t, ts.do("POST", "/deployment-updates/db1/update/initiate", map[string]any{}), 200)
		ts.advance(10 * time.Second)
		expectStatus(t, ts.do("PUT", "/deployment-updates/db1/update/initiate", map[string]any{}), 200)
		expectError(t, ts.do("POST", "/deployment-updates/db1/update/initiate", "{}", withHeader("Content-Type", "text/plain")),
			415, "unsupported_content_type_error", "")
	})
}

// TestSystemWorkflows: from 6.0 a blueprint upload leaves an upload_blueprint system
// execution (no deployment); GET /executions leaves system executions out unless
// _include_system_workflows=true, as the manager does; a single GET finds them.
func TestSystemWorkflows(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.create("db1", "mariadb", mariadbInputs(), false)
	workflows := func(path string) map[string]int {
		t.Helper()
		r := ts.do("GET", path, nil)
		expectStatus(t, r, 200)
		out := map[string]int{}
		for _, it := range r.JSON(t)["items"].([]any) {
			e := it.(map[string]any)
			out[e["workflow_id"].(string)]++
			if (e["workflow_id"] == "upload_blueprint") != (e["is_system_workflow"] == true) {
				t.Errorf("%s: is_system_workflow %v", e["workflow_id"], e["is_system_workflow"])
			}
		}
		return out
	}
	for _, path := range []string{"/executions", "/executions?_include_system_workflows=false"} {
		if got := workflows(path); got["upload_blueprint"] != 0 || got["create_deployment_environment"] != 1 {
			t.Errorf("GET %s: %v, want no system execution", path, got)
		}
	}
	all := ts.do("GET", "/executions?_include_system_workflows=true&workflow_id=upload_blueprint", nil)
	expectStatus(t, all, 200)
	items := all.JSON(t)["items"].([]any)
	if len(items) != len(SampleBlueprints()) {
		t.Fatalf("upload_blueprint executions: %d, want one per sample blueprint (%d)", len(items), len(SampleBlueprints()))
	}
	sys := items[0].(map[string]any)
	if sys["deployment_id"] != nil || sys["is_system_workflow"] != true {
		t.Errorf("system execution = %v", sys)
	}
	expectStatus(t, ts.do("GET", "/executions/"+sys["id"].(string), nil), 200)
	if got := workflows("/executions?_include_system_workflows=true"); got["upload_blueprint"] == 0 || got["create_deployment_environment"] != 1 {
		t.Errorf("with system workflows: %v", got)
	}
}
