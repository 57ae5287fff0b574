package cloudify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// TestSimStartExecution covers the request options of StartExecution and
// the refusals that do not depend on other executions.
func TestSimStartExecution(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	c, ctx := e.c, e.ctx
	e.createReady("dep", cloudifysim.SampleRequiredInput, map[string]any{"name": "x"})

	t.Run("dry run", func(t *testing.T) {
		x := e.start(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install", DryRun: true})
		if !x.IsDryRun {
			t.Errorf("IsDryRun = false")
		}
		if done, _ := e.follow(x.ID); done.Status != terminated || !done.IsDryRun {
			t.Errorf("dry run ended %s (dry run %v)", done.Status, done.IsDryRun)
		}
		// A dry run changes nothing: install is still available.
		d := e.get("dep")
		if avail, known := d.WorkflowAvailable("install"); !avail || !known || d.InstallationStatus != "inactive" {
			t.Errorf("after a dry run: install available %v (known %v), installation %q", avail, known, d.InstallationStatus)
		}
	})
	t.Run("parameters", func(t *testing.T) {
		e.advance(time.Second)
		x := e.start(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install",
			Parameters: map[string]any{"node_ids": []string{"app"}, "extra": "yes"}, AllowCustomParameters: true, DryRun: true})
		want := map[string]any{"node_ids": []any{"app"}, "type_names": []any{}, "node_instance_ids": []any{}, "extra": "yes"}
		if diff := cmp.Diff(want, x.Parameters); diff != "" {
			t.Errorf("parameters with defaults (-want +got):\n%s", diff)
		}
		e.follow(x.ID)
		_, err := c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install",
			Parameters: map[string]any{"extra": "yes"}})
		if ae := wantCode(t, err, 400, cloudify.CodeIllegalExecutionParameters); !strings.Contains(ae.Message, "extra") {
			t.Errorf("undeclared parameter: %v", err)
		}
		_, err = c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "execute_operation"})
		if ae := wantCode(t, err, 400, cloudify.CodeIllegalExecutionParameters); !strings.Contains(ae.Message, "operation") {
			t.Errorf("missing parameter: %v", err)
		}
		_, err = c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "scale",
			Parameters: map[string]any{"scalable_entity_name": "app", "delta": "two"}})
		wantCode(t, err, 400, cloudify.CodeIllegalExecutionParameters)
	})
	t.Run("refusals", func(t *testing.T) {
		_, err := c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "nope"})
		wantCode(t, err, 400, cloudify.CodeNonexistentWorkflow)
		_, err = c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: "nope", WorkflowID: "install"})
		if wantCode(t, err, 404, cloudify.CodeNotFound); !cloudify.IsNotFound(err) {
			t.Errorf("IsNotFound(%v) = false", err)
		}
	})
}

// TestSimGetAndListExecutions reads executions one by one and in lists.
func TestSimGetAndListExecutions(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	c, ctx := e.c, e.ctx
	e.createReady("a", cloudifysim.SampleRequiredInput, map[string]any{"name": "a"})
	e.createReady("b", cloudifysim.SampleRedis, nil)
	e.advance(time.Second)
	inst := e.run(cloudify.StartExecutionRequest{DeploymentID: "a", WorkflowID: "install"})
	e.advance(time.Second)
	stop := e.run(cloudify.StartExecutionRequest{DeploymentID: "a", WorkflowID: "stop"})

	x := e.exec(inst.ID)
	if x.WorkflowID != "install" || x.DeploymentID != "a" || x.BlueprintID != cloudifysim.SampleRequiredInput ||
		x.Status != terminated || x.StatusDisplay != "completed" || x.CreatedBy != simUser || x.TenantName != simTenant ||
		x.TotalOperations == 0 || x.FinishedOperations != x.TotalOperations || x.EndedAt.IsZero() {
		t.Errorf("GetExecution = %+v", x)
	}
	p, err := c.GetExecution(ctx, inst.ID, "id", "status", "error", "ended_at")
	if err != nil {
		t.Fatalf("GetExecution(include): %v", err)
	}
	if diff := cmp.Diff(cloudify.Execution{ID: inst.ID, Status: terminated, EndedAt: x.EndedAt}, p); diff != "" {
		t.Errorf("projected execution (-want +got):\n%s", diff)
	}
	_, err = c.GetExecution(ctx, "nope")
	if wantCode(t, err, 404, cloudify.CodeNotFound); !cloudify.IsNotFound(err) {
		t.Errorf("IsNotFound(%v) = false", err)
	}

	cases := []struct {
		name string
		opts cloudify.ListOptions
		want []string // workflow ids
	}{
		{"deployment a, oldest first", cloudify.ListOptions{Filters: map[string][]string{"deployment_id": {"a"}}, Sort: []string{"created_at"}},
			[]string{"create_deployment_environment", "install", "stop"}},
		{"latest of a", cloudify.ListOptions{Filters: map[string][]string{"deployment_id": {"a"}}, Sort: []string{"-created_at"}, Limit: 1},
			[]string{"stop"}},
		{"by workflow and status, paged", cloudify.ListOptions{Filters: map[string][]string{
			"workflow_id": {"create_deployment_environment"}, "status": {"terminated"}}, PageSize: 1},
			[]string{"create_deployment_environment", "create_deployment_environment"}},
		{"several deployments", cloudify.ListOptions{Filters: map[string][]string{"deployment_id": {"a", "b"}}, Include: []string{"workflow_id"}},
			[]string{"create_deployment_environment", "create_deployment_environment", "install", "stop"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			xs, err := c.ListExecutions(ctx, tc.opts)
			if err != nil {
				t.Fatalf("ListExecutions: %v", err)
			}
			got := ids(xs, executionWorkflow)
			if len(tc.opts.Sort) == 0 {
				// created_at ties (synchronous creates at the same instant)
				// have no defined order.
				got = sortedCopy(got)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("workflows (-want +got):\n%s", diff)
			}
		})
	}
	if latest, err := c.ListExecutions(ctx, cloudify.ListOptions{Filters: map[string][]string{"deployment_id": {"a"}}, Sort: []string{"-created_at"}, Limit: 1}); err != nil || len(latest) != 1 || latest[0].ID != stop.ID {
		t.Errorf("latest execution = %v, %v; want %s", latest, err, stop.ID)
	}
	_, err = c.ListExecutions(ctx, cloudify.ListOptions{Filters: map[string][]string{"colour": {"red"}}})
	wantCode(t, err, 400, cloudify.CodeBadParameters)
}

// sortedCopy returns s sorted.
func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestSimCancelExecution cancels, force-cancels and kills executions, and
// checks the illegal_action_error cases.
func TestSimCancelExecution(t *testing.T) {
	for _, version := range []string{"5.1.1", "7.0.4"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, version)
			c, ctx := e.c, e.ctx
			e.createReady("dep", cloudifysim.SampleRequiredInput, map[string]any{"name": "x"})
			cancel := func(id string, action cloudify.CancelAction) (cloudify.Execution, error) {
				t.Helper()
				return c.CancelExecution(ctx, id, action)
			}
			mustCancel := func(id string, action cloudify.CancelAction, want cloudify.ExecutionStatus) {
				t.Helper()
				x, err := cancel(id, action)
				if err != nil {
					t.Fatalf("CancelExecution(%s): %v", action, err)
				}
				if x.ID != id || x.Status != want {
					t.Fatalf("CancelExecution(%s) = %s, want %s", action, x.Status, want)
				}
				if got := e.exec(id).Status; got != want {
					t.Fatalf("after CancelExecution(%s) the execution is %s, want %s", action, got, want)
				}
			}
			illegal := func(id string, action cloudify.CancelAction, status cloudify.ExecutionStatus) {
				t.Helper()
				_, err := cancel(id, action)
				ae := wantCode(t, err, 400, cloudify.CodeIllegalAction)
				if !strings.Contains(ae.Message, "status "+string(status)) {
					t.Errorf("CancelExecution(%s) in %s: message %q", action, status, ae.Message)
				}
			}

			// cancel a pending execution, then force-cancel it while it is
			// cancelling.
			x1 := e.start(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
			mustCancel(x1.ID, cloudify.Cancel, cloudify.Cancelling)
			illegal(x1.ID, cloudify.Cancel, cloudify.Cancelling)
			mustCancel(x1.ID, cloudify.ForceCancel, cloudify.ForceCancelling)
			done, seen := e.follow(x1.ID)
			if done.Status != cloudify.Cancelled || done.Error != "" || !cmp.Equal([]cloudify.ExecutionStatus{cloudify.ForceCancelling, cloudify.Cancelled}, seen) {
				t.Errorf("cancelled execution: %s (error %q), seen %v", done.Status, done.Error, seen)
			}
			illegal(x1.ID, cloudify.Cancel, cloudify.Cancelled)
			illegal(x1.ID, cloudify.ForceCancel, cloudify.Cancelled)
			mustCancel(x1.ID, cloudify.Kill, cloudify.Cancelled) // kill is always allowed, and changes nothing here

			// force-cancel a started execution.
			e.advance(time.Second)
			x2 := e.start(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
			e.advance(simPending)
			if got := e.exec(x2.ID).Status; got != started {
				t.Fatalf("execution is %s, want started", got)
			}
			mustCancel(x2.ID, cloudify.ForceCancel, cloudify.ForceCancelling)
			if done, _ := e.follow(x2.ID); done.Status != cloudify.Cancelled {
				t.Errorf("force-cancelled execution ended %s", done.Status)
			}

			// kill a started execution; cancelling a queued one kills it.
			e.advance(time.Second)
			x3 := e.start(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
			x4 := e.start(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "start", Queue: true})
			if x4.Status != queued {
				t.Fatalf("second execution is %s, want queued", x4.Status)
			}
			e.advance(simPending)
			mustCancel(x4.ID, cloudify.Cancel, cloudify.KillCancelling)
			mustCancel(x3.ID, cloudify.Kill, cloudify.KillCancelling)
			for _, id := range []string{x3.ID, x4.ID} {
				if done, _ := e.follow(id); done.Status != cloudify.Cancelled {
					t.Errorf("killed execution %s ended %s", id, done.Status)
				}
			}

			// an execution that ended cannot be cancelled; an empty action
			// means cancel.
			e.advance(time.Second)
			x5 := e.run(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
			illegal(x5.ID, "", terminated)
			illegal(x5.ID, cloudify.ForceCancel, terminated)

			_, err := cancel(x5.ID, "bogus")
			if ae := wantCode(t, err, 400, cloudify.CodeBadParameters); !strings.Contains(ae.Message, "Invalid action") {
				t.Errorf("unknown action: %v", err)
			}
			_, err = cancel("nope", cloudify.Cancel)
			wantCode(t, err, 404, cloudify.CodeNotFound)
		})
	}
}

// TestSimUpdateDeployment starts deployment updates with PUT (up to 6.3)
// and POST (6.4+, the only method on 7.0).
func TestSimUpdateDeployment(t *testing.T) {
	const (
		put  = "PUT /deployment-updates/{id}/update/initiate"
		post = "POST /deployment-updates/{id}/update/initiate"
	)
	cases := []struct {
		version  string
		route    string
		unused   string
		blocking bool // a second update while one is active gives 409
	}{
		{"5.1.1", put, post, true},
		{"6.3", put, post, true},
		{"6.4", post, put, true},
		{"7.0.4", post, put, false},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			c, ctx := e.c, e.ctx
			e.installed("db", cloudifysim.SampleMariaDB, map[string]any{"admin_password": "long-enough", "storage_gb": 30})
			e.advance(time.Second)

			// Plan change: another blueprint, with one changed input.
			u, err := c.UpdateDeployment(ctx, "db", cloudify.UpdateDeploymentRequest{
				BlueprintID: cloudifysim.SampleMariaDBv2, Inputs: map[string]any{"flavor": "medium"}, SkipReinstall: true,
			})
			if err != nil {
				t.Fatalf("UpdateDeployment: %v", err)
			}
			if got, other := e.requests(tc.route), e.requests(tc.unused); got != 1 || other != 0 {
				t.Errorf("%q sent %d times, %q %d times; want 1 and 0", tc.route, got, tc.unused, other)
			}
			if u.OldBlueprintID != cloudifysim.SampleMariaDB || u.NewBlueprintID != cloudifysim.SampleMariaDBv2 || u.DeploymentID != "db" ||
				u.NewInputs["flavor"] != "medium" || u.NewInputs["storage_gb"] != float64(30) || u.OldInputs["flavor"] != "small" ||
				!u.CreatedAt.Equal(e.clock.Now()) {
				t.Errorf("UpdateDeployment = %+v", u)
			}
			x := e.exec(u.ExecutionID)
			if x.WorkflowID != "update" || x.Parameters["skip_reinstall"] != true {
				t.Errorf("update execution %s parameters %v", x.WorkflowID, x.Parameters)
			}

			// The same update again while the first is active (with force,
			// which only skips stale updates before 7.0).
			e.advance(time.Millisecond) // no created_at tie with the first
			_, err = c.UpdateDeployment(ctx, "db", cloudify.UpdateDeploymentRequest{
				BlueprintID: cloudifysim.SampleMariaDBv2, Inputs: map[string]any{"flavor": "medium"}, SkipReinstall: true, Force: true,
			})
			if tc.blocking {
				if ae := wantCode(t, err, 409, cloudify.CodeConflict); !cloudify.IsConflict(err) || !strings.Contains(ae.Message, u.ID) {
					t.Errorf("second update while active: %v", err)
				}
			} else if err != nil {
				t.Errorf("second update on 7.x: %v (no REST-level check expected)", err)
			}

			if done, _ := e.follow(u.ExecutionID); done.Status != terminated {
				t.Fatalf("update execution ended %s: %s", done.Status, done.ErrorSummary())
			}
			got, err := c.GetDeploymentUpdate(ctx, u.ID)
			if err != nil || got.State != cloudify.UpdateSuccessful || got.ID != u.ID {
				t.Errorf("GetDeploymentUpdate = %+v, %v", got, err)
			}
			// Settle any second (7.x) update before reading the deployment.
			us, err := c.ListDeploymentUpdates(ctx, cloudify.ListOptions{Filters: map[string][]string{"deployment_id": {"db"}}, Sort: []string{"created_at"}})
			if err != nil || len(us) == 0 || us[0].ID != u.ID {
				t.Fatalf("ListDeploymentUpdates = %v, %v", ids(us, updateID), err)
			}
			for _, other := range us[1:] {
				e.follow(other.ExecutionID)
			}
			d := e.get("db")
			if d.BlueprintID != cloudifysim.SampleMariaDBv2 || d.Inputs["engine_version"] != "10.11" || d.Inputs["storage_gb"] != float64(30) {
				t.Errorf("deployment after the plan change: blueprint %s inputs %v", d.BlueprintID, d.Inputs)
			}
			caps, err := c.DeploymentCapabilities(ctx, "db")
			if err != nil || caps["tls"] != false || caps["port"] != float64(3306) {
				t.Errorf("capabilities of the new blueprint = %v, %v", caps, err)
			}

			// Input errors.
			_, err = c.UpdateDeployment(ctx, "db", cloudify.UpdateDeploymentRequest{Inputs: map[string]any{"colour": "red"}})
			if wantCode(t, err, 400, cloudify.CodeUnknownDeploymentInput); !cloudify.IsInputError(err) {
				t.Errorf("IsInputError(%v) = false", err)
			}
			_, err = c.UpdateDeployment(ctx, "nope", cloudify.UpdateDeploymentRequest{Inputs: map[string]any{"flavor": "large"}})
			wantCode(t, err, 404, cloudify.CodeNotFound)
			_, err = c.UpdateDeployment(ctx, "db", cloudify.UpdateDeploymentRequest{BlueprintID: "nope"})
			wantCode(t, err, 404, cloudify.CodeNotFound)
			_, err = c.GetDeploymentUpdate(ctx, "nope")
			wantCode(t, err, 404, cloudify.CodeNotFound)

			// A constraint violation: refused at once before 7.0; on 7.x the
			// update execution fails and so does the update.
			e.advance(time.Second)
			u, err = c.UpdateDeployment(ctx, "db", cloudify.UpdateDeploymentRequest{Inputs: map[string]any{"flavor": "huge"}})
			if !e.atLeast(7, 0) {
				if wantCode(t, err, 400, cloudify.CodeConstraint); !cloudify.IsInputError(err) {
					t.Errorf("IsInputError(%v) = false", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UpdateDeployment with a bad input on 7.x: %v", err)
			}
			done, _ := e.follow(u.ExecutionID)
			if done.Status != cloudify.Failed || !strings.Contains(done.ErrorSummary(), "flavor") {
				t.Errorf("update execution with a bad input ended %s: %q", done.Status, done.ErrorSummary())
			}
			if got, err := c.GetDeploymentUpdate(ctx, u.ID); err != nil || got.State != cloudify.UpdateFailed {
				t.Errorf("failed update state = %q, %v", got.State, err)
			}
			if d := e.get("db"); d.Inputs["flavor"] != "medium" {
				t.Errorf("a failed update changed the inputs: %v", d.Inputs)
			}
		})
	}
}

// TestSimUpdateDeploymentUnknownVersion starts an update when the client
// cannot tell the manager's version (here an unparsable WithManagerVersion;
// also a non-transient error from GET /version).
//
// Managers 4.4–6.3 route POST .../update/initiate to the legacy multipart
// "upload a new archive" form (rest-contract.md §8) and answer a JSON body with
// 400, never 405; so with an unknown version the client tries PUT first (served
// up to 6.4) and falls back to POST on 405 (7.0+).
func TestSimUpdateDeploymentUnknownVersion(t *testing.T) {
	cases := []struct {
		version   string
		wantRoute string
	}{
		{"5.1.1", "PUT /deployment-updates/{id}/update/initiate"},
		{"6.3", "PUT /deployment-updates/{id}/update/initiate"},
		{"6.4", "PUT /deployment-updates/{id}/update/initiate"}, // deprecated alias, still served
		{"7.0.4", "POST /deployment-updates/{id}/update/initiate"},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			e.createReady("dep", cloudifysim.SampleRedis, nil)
			c := e.client(cloudify.WithManagerVersion("unknown"))
			u, err := c.UpdateDeployment(e.ctx, "dep", cloudify.UpdateDeploymentRequest{Inputs: map[string]any{"memory_mb": 512}})
			if err != nil {
				t.Fatalf("UpdateDeployment with an unknown version: %v", err)
			}
			if got := e.requests(tc.wantRoute); got != 1 {
				t.Errorf("%q sent %d times, want 1", tc.wantRoute, got)
			}
			if done, _ := e.follow(u.ExecutionID); done.Status != terminated {
				t.Errorf("update ended %s", done.Status)
			}
			if d := e.get("dep"); d.Inputs["memory_mb"] != float64(512) {
				t.Errorf("inputs after the update = %v", d.Inputs)
			}
		})
	}
}

// TestSimVersionLookupForBehaviour checks the GET /version lookup behind the
// release-dependent methods: a transient failure is returned (and nothing
// else is sent), the first success is cached.
func TestSimVersionLookupForBehaviour(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	e.installed("dep", cloudifysim.SampleRedis, nil)
	c := e.client() // fresh client: no cached version
	e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance, Count: 1, Match: cloudifysim.FaultMatch{PathPrefix: "/version"}})
	err := c.DeleteDeployment(e.ctx, "dep", cloudify.DeleteDeploymentOptions{Force: true})
	if !cloudify.IsMaintenance(err) || e.requests("DELETE /deployments/{id}") != 0 {
		t.Fatalf("DeleteDeployment with /version in maintenance: %v, %d DELETEs", err, e.requests("DELETE /deployments/{id}"))
	}
	if err := c.DeleteDeployment(e.ctx, "dep", cloudify.DeleteDeploymentOptions{Force: true}); err != nil {
		t.Fatalf("DeleteDeployment after maintenance: %v", err)
	}
	e.waitGone("dep")
	if _, err := c.NewToken(e.ctx, "", time.Time{}); err != nil {
		t.Fatalf("NewToken: %v", err)
	}
	if _, err := c.UpdateDeployment(e.ctx, "dep", cloudify.UpdateDeploymentRequest{}); !cloudify.IsNotFound(err) {
		t.Errorf("UpdateDeployment of a deleted deployment = %v", err)
	}
	if got := e.requests("GET /version"); got != 2 {
		t.Errorf("GET /version sent %d times, want 2 (one failure, then cached)", got)
	}
}
