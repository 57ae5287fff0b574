package cloudify_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Execution statuses, shortened for tables.
const (
	pending    = cloudify.Pending
	started    = cloudify.Started
	queued     = cloudify.Queued
	terminated = cloudify.Terminated
)

// ipRe matches the simulator's stand-in addresses.
var ipRe = regexp.MustCompile(`^10\.\d{1,3}\.\d{1,3}\.\d{1,3}$`)

// TestSimLifecycle drives one OSB instance through its whole life on each
// supported manager release: create deployment -> environment execution ->
// install -> outputs/capabilities -> update -> uninstall -> delete -> 404.
func TestSimLifecycle(t *testing.T) {
	const (
		id       = "osb-lifecycle"
		password = "correct-horse"
	)
	cases := []struct {
		version string
		// asyncCreate asks for ?async_create=true (sent to 6.0+ only).
		asyncCreate bool
		// wantEnv are the create_deployment_environment statuses the
		// client can observe after CreateDeployment returned.
		wantEnv []cloudify.ExecutionStatus
		// statusFields: the 6.0+ deployment status fields are reported.
		statusFields bool
		// rules: the 6.4+ availability rules are reported.
		rules bool
		// updateRoute is the route the update must use; otherRoute must
		// stay unused.
		updateRoute, otherRoute string
	}{
		{version: "5.1.1", asyncCreate: true, wantEnv: []cloudify.ExecutionStatus{pending, started, terminated},
			updateRoute: "PUT /deployment-updates/{id}/update/initiate", otherRoute: "POST /deployment-updates/{id}/update/initiate"},
		{version: "6.2", wantEnv: []cloudify.ExecutionStatus{terminated}, statusFields: true,
			updateRoute: "PUT /deployment-updates/{id}/update/initiate", otherRoute: "POST /deployment-updates/{id}/update/initiate"},
		{version: "6.4", asyncCreate: true, wantEnv: []cloudify.ExecutionStatus{pending, started, terminated}, statusFields: true, rules: true,
			updateRoute: "POST /deployment-updates/{id}/update/initiate", otherRoute: "PUT /deployment-updates/{id}/update/initiate"},
		{version: "7.0.4", asyncCreate: true, wantEnv: []cloudify.ExecutionStatus{pending, started, terminated}, statusFields: true, rules: true,
			updateRoute: "POST /deployment-updates/{id}/update/initiate", otherRoute: "PUT /deployment-updates/{id}/update/initiate"},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			c, ctx := e.c, e.ctx
			skeleton := tc.asyncCreate && tc.statusFields

			// 1. Create the deployment.
			d := e.create(id, cloudify.CreateDeploymentRequest{
				BlueprintID: "mariadb",
				Inputs:      map[string]any{"admin_password": password},
				Labels:      []cloudify.Label{{Key: "osb-instance-id", Value: "i-1"}},
				AsyncCreate: tc.asyncCreate,
			})
			if d.ID != id || d.BlueprintID != "mariadb" {
				t.Fatalf("created %s from %s", d.ID, d.BlueprintID)
			}
			if skeleton {
				if d.Inputs != nil || d.Workflows != nil {
					t.Errorf("async skeleton has inputs %v and workflows %v, want none yet", d.Inputs, d.Workflows)
				}
				if d.CreateExecution == "" || d.LatestExecution != d.CreateExecution || d.DeploymentStatus != "requires_attention" {
					t.Errorf("skeleton: create_execution %q latest %q deployment_status %q", d.CreateExecution, d.LatestExecution, d.DeploymentStatus)
				}
				out, err := c.DeploymentOutputs(ctx, id)
				if err != nil {
					t.Fatalf("DeploymentOutputs on a skeleton: %v", err)
				}
				if diff := cmp.Diff(map[string]any{}, out); diff != "" {
					t.Errorf("outputs of a skeleton (-want +got):\n%s", diff)
				}
			} else if d.Inputs["admin_password"] != password {
				t.Errorf("synchronously created deployment has inputs %v", d.Inputs)
			}

			// 2. Follow the environment execution; installing is refused
			// with the matching "not ready" code until it terminated.
			envID := e.createExecutionID(d)
			var seen []cloudify.ExecutionStatus
			for i := 0; ; i++ {
				if i > simMaxPolls {
					t.Fatalf("environment execution did not end; seen %v", seen)
				}
				x := e.exec(envID)
				if x.WorkflowID != "create_deployment_environment" || x.DeploymentID != id || x.IsSystemWorkflow {
					t.Fatalf("environment execution = %+v", x)
				}
				if len(seen) == 0 || seen[len(seen)-1] != x.Status {
					seen = append(seen, x.Status)
				}
				if x.Status.Terminal() {
					break
				}
				_, err := c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "install"})
				want := map[cloudify.ExecutionStatus]string{
					pending: cloudify.CodeDeploymentEnvironmentCreationPending,
					started: cloudify.CodeDeploymentEnvironmentCreationInProgress,
				}[x.Status]
				wantCode(t, err, 400, want)
				if !cloudify.IsEnvNotReady(err) {
					t.Errorf("IsEnvNotReady(%v) = false", err)
				}
				e.advance(simPollStep)
			}
			if diff := cmp.Diff(tc.wantEnv, seen); diff != "" {
				t.Errorf("environment execution statuses (-want +got):\n%s", diff)
			}

			d = e.get(id)
			if d.Inputs["admin_password"] != password || d.Inputs["db_name"] != "app" {
				t.Errorf("inputs after environment creation = %v", d.Inputs)
			}
			if v, ok := d.Label("osb-instance-id"); !ok || v != "i-1" || len(d.Labels) != 1 {
				t.Errorf("labels = %+v", d.Labels)
			}
			if avail, known := d.WorkflowAvailable("install"); !avail || known != tc.rules {
				t.Errorf("WorkflowAvailable(install) before install = %v, %v; want true, %v", avail, known, tc.rules)
			}
			checkStatusFields(t, tc.statusFields, d, "inactive", "requires_attention", "completed", "create_deployment_environment")

			// 3. Outputs and capabilities before install: attributes are null.
			checkEvaluated(t, e, id, nil, "app", password)

			// 4. Install.
			inst := e.start(cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "install"})
			if inst.Status != pending || inst.WorkflowID != "install" || inst.DeploymentID != id || inst.BlueprintID != "mariadb" {
				t.Fatalf("StartExecution(install) = %+v", inst)
			}
			done, seen := e.follow(inst.ID)
			if diff := cmp.Diff([]cloudify.ExecutionStatus{pending, started, terminated}, seen); diff != "" {
				t.Errorf("install statuses (-want +got):\n%s", diff)
			}
			if got := done.StartedAt.Sub(done.CreatedAt.Time); got != simPending {
				t.Errorf("install waited %v in pending, want %v", got, simPending)
			}
			if got := done.EndedAt.Sub(done.StartedAt.Time); got != simInstallDefault {
				t.Errorf("install ran %v, want %v", got, simInstallDefault)
			}
			if done.Error != "" || done.ErrorSummary() != "" {
				t.Errorf("successful install has error %q", done.Error)
			}
			d = e.get(id)
			checkStatusFields(t, tc.statusFields, d, "active", "good", "completed", "install")
			if tc.statusFields && d.LatestExecution != inst.ID {
				t.Errorf("latest_execution = %q, want %q", d.LatestExecution, inst.ID)
			}
			if tc.rules {
				for wf, want := range map[string]bool{"install": false, "uninstall": true} {
					if avail, known := d.WorkflowAvailable(wf); avail != want || !known {
						t.Errorf("WorkflowAvailable(%s) after install = %v, %v; want %v, true", wf, avail, known, want)
					}
				}
			}

			// 5. Outputs and capabilities after install are evaluated.
			host := checkEvaluated(t, e, id, ptr(true), "app", password)

			// An installed deployment cannot be deleted without force.
			if err := c.DeleteDeployment(ctx, id, cloudify.DeleteDeploymentOptions{}); !cloudify.IsDependentExists(err) {
				t.Errorf("DeleteDeployment of an installed deployment = %v, want dependent_exists_error", err)
			}

			// 6. Update: the inputs are merged over the existing ones.
			e.advance(time.Second)
			u, err := c.UpdateDeployment(ctx, id, cloudify.UpdateDeploymentRequest{Inputs: map[string]any{"db_name": "orders"}})
			if err != nil {
				t.Fatalf("UpdateDeployment: %v", err)
			}
			if got, other := e.requests(tc.updateRoute), e.requests(tc.otherRoute); got != 1 || other != 0 {
				t.Errorf("update requests: %q %d, %q %d; want 1 and 0", tc.updateRoute, got, tc.otherRoute, other)
			}
			if !strings.HasPrefix(u.ID, id+"-") || u.DeploymentID != id || u.OldBlueprintID != "mariadb" ||
				u.NewBlueprintID != "mariadb" || u.State != "updating" || u.ExecutionID == "" {
				t.Errorf("UpdateDeployment = %+v", u)
			}
			if u.OldInputs["db_name"] != "app" || u.NewInputs["db_name"] != "orders" || u.NewInputs["admin_password"] != password {
				t.Errorf("update inputs: old %v new %v", u.OldInputs, u.NewInputs)
			}
			upd, seen := e.follow(u.ExecutionID)
			if diff := cmp.Diff([]cloudify.ExecutionStatus{pending, started, terminated}, seen); diff != "" {
				t.Errorf("update execution statuses (-want +got):\n%s", diff)
			}
			if upd.WorkflowID != "update" || upd.DeploymentID != id {
				t.Errorf("update execution = %+v", upd)
			}
			gu, err := c.GetDeploymentUpdate(ctx, u.ID)
			if err != nil {
				t.Fatalf("GetDeploymentUpdate: %v", err)
			}
			if gu.State != cloudify.UpdateSuccessful || gu.ExecutionID != u.ExecutionID {
				t.Errorf("update after its execution: state %q execution %q", gu.State, gu.ExecutionID)
			}
			us, err := c.ListDeploymentUpdates(ctx, cloudify.ListOptions{Filters: map[string][]string{"deployment_id": {id}}})
			if err != nil {
				t.Fatalf("ListDeploymentUpdates: %v", err)
			}
			if diff := cmp.Diff([]string{u.ID}, ids(us, updateID)); diff != "" {
				t.Errorf("updates of the deployment (-want +got):\n%s", diff)
			}
			d = e.get(id)
			if d.Inputs["db_name"] != "orders" || d.Inputs["admin_password"] != password {
				t.Errorf("inputs after update = %v", d.Inputs)
			}
			if got := checkEvaluated(t, e, id, ptr(true), "orders", password); got != host {
				t.Errorf("host changed by an input update: %q -> %q", host, got)
			}

			// 7. Uninstall: attributes are gone again.
			e.advance(time.Second)
			un := e.start(cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "uninstall"})
			if _, seen := e.follow(un.ID); !cmp.Equal([]cloudify.ExecutionStatus{pending, started, terminated}, seen) {
				t.Errorf("uninstall statuses = %v", seen)
			}
			checkEvaluated(t, e, id, nil, "orders", password)
			d = e.get(id)
			checkStatusFields(t, tc.statusFields, d, "inactive", "requires_attention", "completed", "uninstall")

			// 8. Delete, then poll until 404.
			if err := c.DeleteDeployment(ctx, id, cloudify.DeleteDeploymentOptions{DeleteLogs: true}); err != nil {
				t.Fatalf("DeleteDeployment: %v", err)
			}
			d = e.get(id) // deletion is asynchronous: still readable
			if tc.statusFields && d.DeploymentStatus != "in_progress" {
				t.Errorf("deployment_status while deleting = %q, want in_progress", d.DeploymentStatus)
			}
			if err := c.DeleteDeployment(ctx, id, cloudify.DeleteDeploymentOptions{}); !cloudify.IsDependentExists(err) {
				t.Errorf("second DeleteDeployment while deleting = %v, want dependent_exists_error", err)
			}
			if took := e.waitGone(id); took < simPending+simDeleteEnv || took > simPending+simDeleteEnv+simPollStep {
				t.Errorf("deletion took %v of simulated time, want about %v", took, simPending+simDeleteEnv)
			}
			if _, err := c.GetExecution(ctx, inst.ID); !cloudify.IsNotFound(err) {
				t.Errorf("GetExecution of a deleted deployment's execution = %v, want not found", err)
			}
			if _, err := c.DeploymentOutputs(ctx, id); !cloudify.IsNotFound(err) {
				t.Errorf("DeploymentOutputs after deletion = %v, want not found", err)
			}
			left, err := c.ListExecutions(ctx, cloudify.ListOptions{Filters: map[string][]string{"deployment_id": {id}}})
			if err != nil || len(left) != 0 {
				t.Errorf("executions left after deletion: %v, %v", ids(left, executionWorkflow), err)
			}
			if err := c.DeleteDeployment(ctx, id, cloudify.DeleteDeploymentOptions{}); !cloudify.IsNotFound(err) {
				t.Errorf("DeleteDeployment of a deleted deployment = %v, want not found", err)
			}
		})
	}
}

// checkStatusFields checks the 6.0+ deployment status fields, or that they
// are absent on older releases.
func checkStatusFields(t *testing.T, present bool, d cloudify.Deployment, installation, deployment, latest, latestWorkflow string) {
	t.Helper()
	type fields struct{ Installation, Deployment, Latest, LatestWorkflow string }
	want := fields{installation, deployment, latest, latestWorkflow}
	if !present {
		want = fields{}
	}
	got := fields{d.InstallationStatus, d.DeploymentStatus, d.LatestExecutionStatus, d.LatestExecutionWorkflowID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deployment %s status fields (-want +got):\n%s", d.ID, diff)
	}
}

// checkEvaluated checks the evaluated outputs and capabilities of a mariadb
// deployment. installed == nil means the runtime attributes are not set
// (before install, after uninstall). It returns the host.
func checkEvaluated(t *testing.T, e *simEnv, id string, installed *bool, dbName, password string) string {
	t.Helper()
	out, err := e.c.DeploymentOutputs(e.ctx, id)
	if err != nil {
		t.Fatalf("DeploymentOutputs: %v", err)
	}
	caps, err := e.c.DeploymentCapabilities(e.ctx, id)
	if err != nil {
		t.Fatalf("DeploymentCapabilities: %v", err)
	}
	wantOut := map[string]any{"endpoint": nil, "jdbc_url": nil}
	wantCaps := map[string]any{"host": nil, "port": nil, "username": "dbadmin", "password": password, "database": dbName}
	host, _ := caps["host"].(string)
	if installed != nil {
		if !ipRe.MatchString(host) {
			t.Errorf("capability host = %v, want an address", caps["host"])
		}
		wantOut = map[string]any{"endpoint": host + ":3306", "jdbc_url": "jdbc:mariadb://" + host + ":3306/" + dbName}
		wantCaps["host"] = host
		wantCaps["port"] = float64(3306)
	}
	if diff := cmp.Diff(wantOut, out); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantCaps, caps); diff != "" {
		t.Errorf("capabilities (-want +got):\n%s", diff)
	}
	return host
}

// TestSimConcurrentWorkflows starts two workflows on one deployment: the
// second is refused with existing_running_execution_error; with queue it is
// queued and runs once the first has ended.
func TestSimConcurrentWorkflows(t *testing.T) {
	for _, version := range []string{"5.1.1", "6.2", "6.4", "7.0.4"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, version)
			c, ctx := e.c, e.ctx
			const id = "busy"
			e.createReady(id, "required-input", map[string]any{"name": "x"})
			e.advance(time.Second)

			first := e.start(cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "install"})
			// check_status: available once install has ended (6.4+ checks when it leaves the queue)
			second := cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "check_status"}
			for _, phase := range []cloudify.ExecutionStatus{pending, started} {
				if got := e.exec(first.ID).Status; got != phase || !got.Active() {
					t.Fatalf("first execution is %s, want %s", got, phase)
				}
				_, err := c.StartExecution(ctx, second)
				ae := wantCode(t, err, 400, cloudify.CodeExistingRunningExecution)
				if !cloudify.IsRunningExecution(err) || !strings.Contains(ae.Message, first.ID) {
					t.Errorf("while %s: %v (IsRunningExecution %v), want the running id in the message", phase, err, cloudify.IsRunningExecution(err))
				}
				e.advance(simPending)
			}

			e.advance(time.Second)
			second.Queue = true
			q := e.start(second)
			if q.Status != queued || !q.Status.Waiting() || q.Status.Active() || q.WorkflowID != "check_status" {
				t.Fatalf("queued StartExecution = %s %s, want queued check_status", q.Status, q.WorkflowID)
			}
			// The refused requests left no execution behind.
			all, err := c.ListExecutions(ctx, cloudify.ListOptions{Filters: map[string][]string{"deployment_id": {id}}, Sort: []string{"created_at"}})
			if err != nil {
				t.Fatalf("ListExecutions: %v", err)
			}
			if diff := cmp.Diff([]string{"create_deployment_environment", "install", "check_status"}, ids(all, executionWorkflow)); diff != "" {
				t.Errorf("executions of the deployment (-want +got):\n%s", diff)
			}

			e.advance(2 * time.Second)
			if got := e.exec(q.ID).Status; got != queued {
				t.Errorf("queued execution is %s while the first runs", got)
			}
			firstDone, _ := e.follow(first.ID)
			if firstDone.Status != terminated {
				t.Fatalf("first execution ended %s", firstDone.Status)
			}
			secondDone, seen := e.follow(q.ID)
			if diff := cmp.Diff([]cloudify.ExecutionStatus{pending, started, terminated}, seen); diff != "" {
				t.Errorf("queued execution after the first ended (-want +got):\n%s", diff)
			}
			if got := secondDone.StartedAt.Sub(firstDone.EndedAt.Time); got != simPending {
				t.Errorf("queued execution started %v after the first ended, want %v", got, simPending)
			}
			if !secondDone.CreatedAt.Before(firstDone.EndedAt.Time) {
				t.Errorf("queued execution created at %v, after the first ended at %v", secondDone.CreatedAt, firstDone.EndedAt)
			}
		})
	}
}

// TestSimForceRunsInParallel shows that force bypasses the one-execution
// rule: both executions are active at once.
func TestSimForceRunsInParallel(t *testing.T) {
	for _, version := range []string{"5.1.1", "7.0.4"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, version)
			const id = "forced"
			e.createReady(id, "required-input", map[string]any{"name": "x"})
			first := e.start(cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "install"})
			forced := e.start(cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "start", Force: true})
			if forced.Status != pending {
				t.Fatalf("forced execution is %s, want pending", forced.Status)
			}
			e.advance(simPending)
			running, err := e.c.ListExecutions(e.ctx, cloudify.ListOptions{Filters: map[string][]string{
				"deployment_id": {id}, "status": {string(started)},
			}})
			if err != nil {
				t.Fatalf("ListExecutions: %v", err)
			}
			if len(running) != 2 {
				t.Errorf("%d executions started at once, want 2 (install %s and forced start %s)", len(running), first.ID, forced.ID)
			}
			for _, x := range []string{first.ID, forced.ID} {
				if done, _ := e.follow(x); done.Status != terminated {
					t.Errorf("execution %s ended %s", x, done.Status)
				}
			}
		})
	}
}

// TestSimWorkflowAvailability checks the 6.4+ availability rules: install on
// an installed deployment and uninstall on a never-installed one are refused
// with unavailable_workflow_error, and force overrides the refusal. Earlier
// releases have no such rule.
func TestSimWorkflowAvailability(t *testing.T) {
	cases := []struct {
		version string
		rules   bool
	}{{"6.2", false}, {"6.4", true}, {"7.0.4", true}}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			c, ctx := e.c, e.ctx
			const id = "avail"
			e.createReady(id, "required-input", map[string]any{"name": "x"})

			if tc.rules {
				_, err := c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "uninstall"})
				wantCode(t, err, 400, cloudify.CodeUnavailableWorkflow)
				if !cloudify.IsUnavailableWorkflow(err) {
					t.Errorf("IsUnavailableWorkflow(%v) = false", err)
				}
			}
			e.advance(time.Second)
			inst := e.run(cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "install"})
			d := e.get(id)
			avail, known := d.WorkflowAvailable("install")
			if avail == tc.rules || known != tc.rules {
				t.Errorf("WorkflowAvailable(install) on an installed deployment = %v, %v", avail, known)
			}

			e.advance(time.Second)
			again, err := c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "install"})
			if !tc.rules {
				if err != nil {
					t.Fatalf("second install before 6.4: %v", err)
				}
				e.follow(again.ID)
				return
			}
			ae := wantCode(t, err, 400, cloudify.CodeUnavailableWorkflow)
			if !cloudify.IsUnavailableWorkflow(err) || ae.Message != "Workflow not available: install" {
				t.Errorf("second install: %v", err)
			}
			// The refusal leaves a failed row but does not become the
			// deployment's latest execution.
			failed, err := c.ListExecutions(ctx, cloudify.ListOptions{Filters: map[string][]string{
				"deployment_id": {id}, "workflow_id": {"install"}, "status": {"failed"},
			}})
			if err != nil || len(failed) != 1 || !strings.HasPrefix(failed[0].Error, "Error preparing execution:") {
				t.Errorf("rejected install rows = %+v, %v", failed, err)
			}
			if got := e.get(id).LatestExecution; got != inst.ID {
				t.Errorf("latest_execution = %q, want the successful install %q", got, inst.ID)
			}

			forced := e.start(cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "install", Force: true})
			if forced.Status != pending {
				t.Errorf("forced install is %s, want pending", forced.Status)
			}
			if done, _ := e.follow(forced.ID); done.Status != terminated {
				t.Errorf("forced install ended %s", done.Status)
			}
		})
	}
}
