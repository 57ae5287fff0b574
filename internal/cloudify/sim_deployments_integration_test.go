package cloudify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// TestSimCreateDeployment creates deployments synchronously and with
// async_create on each release: 4.x/5.x answer at once with a populated
// deployment and run the environment execution afterwards; 6.0+ wait for it
// unless async_create is set, and then return a skeleton.
func TestSimCreateDeployment(t *testing.T) {
	cases := []struct {
		version string
		async   bool
		// wantSkeleton: the answer has no inputs or workflows yet.
		wantSkeleton bool
		// wantEnv is the status of the environment execution right after
		// the answer.
		wantEnv cloudify.ExecutionStatus
	}{
		{"5.1.1", false, false, pending},
		{"5.1.1", true, false, pending}, // async_create is not sent before 6.0
		{"6.0", false, false, terminated},
		{"6.0", true, true, pending},
		{"6.2", false, false, terminated},
		{"6.4", true, true, pending},
		{"7.0.4", false, false, terminated},
		{"7.0.4", true, true, pending},
	}
	for _, tc := range cases {
		name := tc.version + "/sync"
		if tc.async {
			name = tc.version + "/async"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			req := cloudify.CreateDeploymentRequest{
				BlueprintID: cloudifysim.SampleRedis,
				Inputs:      map[string]any{"memory_mb": 512},
				Visibility:  "private",
				Labels:      []cloudify.Label{{Key: "OSB-Instance-ID", Value: "i-1"}, {Key: "team", Value: "a"}, {Key: "team", Value: "b"}},
				DisplayName: "My cache",
				AsyncCreate: tc.async,
			}
			d := e.create("cache-1", req)
			if d.ID != "cache-1" || d.BlueprintID != cloudifysim.SampleRedis || d.Visibility != "private" ||
				d.TenantName != simTenant || d.CreatedBy != simUser || !d.CreatedAt.Equal(simT0) {
				t.Errorf("created deployment = %+v", d)
			}
			if tc.wantSkeleton != (d.Inputs == nil) || tc.wantSkeleton != (d.Workflows == nil) {
				t.Errorf("skeleton = %v, but inputs %v and %d workflows", tc.wantSkeleton, d.Inputs, len(d.Workflows))
			}
			if !tc.wantSkeleton && d.Inputs["memory_mb"] != float64(512) {
				t.Errorf("inputs = %v", d.Inputs)
			}
			wantDisplay := ""
			if e.atLeast(6, 0) {
				wantDisplay = "My cache"
			}
			if d.DisplayName != wantDisplay {
				t.Errorf("display name %q, want %q", d.DisplayName, wantDisplay)
			}
			wantLabels := map[string]string{"osb-instance-id": "i-1", "team": "a,b"}
			// A skeleton's labels are not checked: on 6.0+ the environment
			// execution applies them (workflow-lifecycle.md §2.1).
			if diff := cmp.Diff(wantLabels, labelMap(d.Labels)); !tc.wantSkeleton && diff != "" {
				t.Errorf("labels, keys lower-cased (-want +got):\n%s", diff)
			}
			env := e.exec(e.createExecutionID(d))
			if env.Status != tc.wantEnv || env.WorkflowID != "create_deployment_environment" {
				t.Errorf("environment execution %s is %s, want %s", env.WorkflowID, env.Status, tc.wantEnv)
			}
			if done, _ := e.follow(env.ID); done.Status != terminated {
				t.Fatalf("environment execution ended %s", done.Status)
			}
			d = e.get("cache-1")
			if d.Inputs["memory_mb"] != float64(512) || d.Inputs["eviction_policy"] != "allkeys-lru" || len(d.Workflows) == 0 {
				t.Errorf("ready deployment: inputs %v, %d workflows", d.Inputs, len(d.Workflows))
			}
			if diff := cmp.Diff(wantLabels, labelMap(d.Labels)); diff != "" {
				t.Errorf("labels of the ready deployment (-want +got):\n%s", diff)
			}

			// A second create with the same id is a conflict.
			_, err := e.c.CreateDeployment(e.ctx, "cache-1", req)
			wantCode(t, err, 409, cloudify.CodeConflict)
			if !cloudify.IsConflict(err) {
				t.Errorf("IsConflict(%v) = false", err)
			}
		})
	}
}

// TestSimCreateDeploymentFailures covers what goes wrong at creation on
// 6.0+: the environment execution fails (synchronously: 400
// deployment_creation_error; asynchronously: the next StartExecution says
// so), and the failed deployment can be created again.
func TestSimCreateDeploymentFailures(t *testing.T) {
	bad := map[string]any{"admin_password": "long-enough", "node_count": 12}
	for _, version := range []string{"6.2", "7.0.4"} {
		t.Run(version+"/sync", func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, version)
			_, err := e.c.CreateDeployment(e.ctx, "db", cloudify.CreateDeploymentRequest{BlueprintID: "mariadb", Inputs: bad})
			ae := wantCode(t, err, 400, cloudify.CodeDeploymentCreation)
			if !cloudify.IsDeploymentCreation(err) || cloudify.IsInputError(err) ||
				!strings.Contains(ae.Message, "violates constraint in_range(1, 9)") {
				t.Errorf("constraint violation at create: %v", err)
			}
			// The failed row stays; a new create with good inputs replaces it.
			if d := e.get("db"); d.Inputs != nil {
				t.Errorf("failed deployment has inputs %v", d.Inputs)
			}
			d := e.create("db", cloudify.CreateDeploymentRequest{BlueprintID: "mariadb", Inputs: map[string]any{"admin_password": "long-enough"}})
			if d.Inputs["node_count"] != float64(1) {
				t.Errorf("recreated deployment inputs = %v", d.Inputs)
			}
		})
		t.Run(version+"/async", func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, version)
			d := e.create("db", cloudify.CreateDeploymentRequest{BlueprintID: "mariadb", Inputs: bad, AsyncCreate: true})
			env, seen := e.follow(d.CreateExecution)
			if diff := cmp.Diff([]cloudify.ExecutionStatus{pending, started, cloudify.Failed}, seen); diff != "" {
				t.Errorf("environment execution (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(env.ErrorSummary(), "dsl_parser.exceptions.ConstraintException: ") || !strings.Contains(env.Error, "Traceback") {
				t.Errorf("environment execution error summary %q", env.ErrorSummary())
			}
			_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "db", WorkflowID: "install"})
			ae := wantCode(t, err, 400, cloudify.CodeDeploymentCreation)
			if !cloudify.IsDeploymentCreation(err) || cloudify.IsEnvNotReady(err) || !strings.Contains(ae.Message, env.ErrorSummary()) {
				t.Errorf("StartExecution after a failed environment: %v", err)
			}
			if got := e.get("db"); got.LatestExecutionStatus != "failed" || got.DeploymentStatus != "requires_attention" {
				t.Errorf("failed deployment: latest %q status %q", got.LatestExecutionStatus, got.DeploymentStatus)
			}
		})
	}
	t.Run("7.0.4/constraint error_message", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t, "7.0.4")
		_, err := e.c.CreateDeployment(e.ctx, "db", cloudify.CreateDeploymentRequest{BlueprintID: "mariadb", Inputs: map[string]any{"admin_password": "short"}})
		if ae := wantCode(t, err, 400, cloudify.CodeDeploymentCreation); !strings.HasSuffix(ae.Message, "The admin password must have at least 8 characters") {
			t.Errorf("message %q does not carry the constraint's error_message", ae.Message)
		}
	})
	t.Run("6.2/synchronous wait runs out", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t, "6.2")
		e.sim.SetDuration("slow", "create_deployment_environment", 3*time.Minute)
		_, err := e.c.CreateDeployment(e.ctx, "slow", cloudify.CreateDeploymentRequest{BlueprintID: cloudifysim.SampleRedis})
		ae := wantCode(t, err, 500, cloudify.CodeInternalServer)
		if !cloudify.IsTransient(err) || ae.Traceback == "" || !strings.Contains(ae.Message, "Timed out") {
			t.Errorf("timed-out create: %v (traceback %d bytes)", err, len(ae.Traceback))
		}
		// The deployment stays and its environment goes on.
		if env, _ := e.follow(e.get("slow").CreateExecution); env.Status != terminated {
			t.Errorf("environment of the timed-out create ended %s", env.Status)
		}
	})
	t.Run("5.1.1/failed environment is a 500", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t, "5.1.1")
		e.sim.FailWorkflow("db", "create_deployment_environment", "")
		d := e.create("db", cloudify.CreateDeploymentRequest{BlueprintID: cloudifysim.SampleRedis})
		if env, _ := e.follow(e.createExecutionID(d)); env.Status != cloudify.Failed {
			t.Fatalf("environment ended %s", env.Status)
		}
		_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "db", WorkflowID: "install"})
		wantCode(t, err, 500, cloudify.CodeInternalServer)
		if !cloudify.IsDeploymentCreation(err) {
			t.Errorf("IsDeploymentCreation(%v) = false", err)
		}
	})
}

// TestSimListAndSearchDeployments lists deployments with paging, include,
// sort, filters and limit, and searches them by label and attribute.
func TestSimListAndSearchDeployments(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	for i, d := range []struct{ id, bp, instance, plan string }{
		{"dep-a", cloudifysim.SampleRequiredInput, "i-1", "small"},
		{"dep-b", cloudifysim.SampleRedis, "i-2", "small"},
		{"dep-c", cloudifysim.SampleRequiredInput, "i-3", "large"},
	} {
		inputs := map[string]any{}
		if d.bp == cloudifysim.SampleRequiredInput {
			inputs["name"] = d.id
		}
		e.create(d.id, cloudify.CreateDeploymentRequest{BlueprintID: d.bp, Inputs: inputs,
			Labels: []cloudify.Label{{Key: "osb-instance-id", Value: d.instance}, {Key: "osb-plan", Value: d.plan}}})
		e.advance(time.Duration(i+1) * time.Second)
	}
	all := []string{"dep-a", "dep-b", "dep-c"}

	lists := []struct {
		name      string
		opts      cloudify.ListOptions
		want      []string
		wantPages int
	}{
		{"default order is created_at", cloudify.ListOptions{}, all, 1},
		{"pages of one", cloudify.ListOptions{PageSize: 1}, all, 3},
		{"descending", cloudify.ListOptions{Sort: []string{"-id"}, PageSize: 2}, []string{"dep-c", "dep-b", "dep-a"}, 2},
		{"filter", cloudify.ListOptions{Filters: map[string][]string{"blueprint_id": {cloudifysim.SampleRequiredInput}}}, []string{"dep-a", "dep-c"}, 1},
		{"filter OR", cloudify.ListOptions{Filters: map[string][]string{"id": {"dep-b", "dep-c", "dep-x"}}}, []string{"dep-b", "dep-c"}, 1},
		{"limit", cloudify.ListOptions{Sort: []string{"-created_at"}, Limit: 2, PageSize: 1}, []string{"dep-c", "dep-b"}, 2},
		{"search substring", cloudify.ListOptions{Filters: map[string][]string{"_search": {"-b"}}}, []string{"dep-b"}, 1},
	}
	for _, tc := range lists {
		t.Run("list/"+tc.name, func(t *testing.T) {
			e.sim.ResetStats()
			tc.opts.Include = []string{"id", "blueprint_id", "created_at"}
			ds, err := e.c.ListDeployments(e.ctx, tc.opts)
			if err != nil {
				t.Fatalf("ListDeployments: %v", err)
			}
			if diff := cmp.Diff(tc.want, ids(ds, deploymentID)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if got := e.requests("GET /deployments"); got != tc.wantPages {
				t.Errorf("%d requests, want %d", got, tc.wantPages)
			}
			for _, d := range ds {
				if d.BlueprintID == "" || d.CreatedAt.IsZero() || d.Inputs != nil || d.Labels != nil {
					t.Errorf("projection to id,blueprint_id,created_at: %+v", d)
				}
			}
		})
	}
	t.Run("list/whole resources", func(t *testing.T) {
		ds, err := e.c.ListDeployments(e.ctx, cloudify.ListOptions{Filters: map[string][]string{"id": {"dep-b"}}})
		if err != nil || len(ds) != 1 {
			t.Fatalf("ListDeployments = %v, %v", ds, err)
		}
		if d := ds[0]; d.Inputs["memory_mb"] != float64(256) || labelMap(d.Labels)["osb-instance-id"] != "i-2" || d.InstallationStatus != "inactive" {
			t.Errorf("listed deployment = %+v", d)
		}
	})

	label := func(key, op string, values ...string) cloudify.FilterRule {
		return cloudify.FilterRule{Key: key, Values: values, Operator: op, Type: cloudify.FilterTypeLabel}
	}
	attr := func(key, op string, values ...string) cloudify.FilterRule {
		return cloudify.FilterRule{Key: key, Values: values, Operator: op, Type: cloudify.FilterTypeAttribute}
	}
	searches := []struct {
		name      string
		rules     []cloudify.FilterRule
		opts      cloudify.ListOptions
		want      []string
		wantPages int
	}{
		{"no rules", nil, cloudify.ListOptions{}, all, 1},
		{"by instance label", []cloudify.FilterRule{label("osb-instance-id", cloudify.FilterAnyOf, "i-2")}, cloudify.ListOptions{}, []string{"dep-b"}, 1},
		{"label key is case-insensitive", []cloudify.FilterRule{label("OSB-Instance-ID", cloudify.FilterAnyOf, "i-3")}, cloudify.ListOptions{}, []string{"dep-c"}, 1},
		{"rules are ANDed", []cloudify.FilterRule{
			label("osb-plan", cloudify.FilterAnyOf, "small"),
			attr("blueprint_id", cloudify.FilterAnyOf, cloudifysim.SampleRequiredInput),
		}, cloudify.ListOptions{}, []string{"dep-a"}, 1},
		{"not any of, paged", []cloudify.FilterRule{label("osb-instance-id", cloudify.FilterNotAnyOf, "i-1")},
			cloudify.ListOptions{PageSize: 1, Sort: []string{"-id"}}, []string{"dep-c", "dep-b"}, 2},
		{"is null", []cloudify.FilterRule{label("team", cloudify.FilterIsNull)}, cloudify.ListOptions{}, all, 1},
		{"starts with", []cloudify.FilterRule{attr("blueprint_id", cloudify.FilterStartsWith, "redis")}, cloudify.ListOptions{}, []string{"dep-b"}, 1},
		{"no match", []cloudify.FilterRule{label("osb-instance-id", cloudify.FilterAnyOf, "i-9")}, cloudify.ListOptions{}, []string{}, 1},
	}
	for _, tc := range searches {
		t.Run("search/"+tc.name, func(t *testing.T) {
			e.sim.ResetStats()
			ds, err := e.c.SearchDeployments(e.ctx, tc.rules, tc.opts)
			if err != nil {
				t.Fatalf("SearchDeployments: %v", err)
			}
			if diff := cmp.Diff(tc.want, ids(ds, deploymentID)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if got := e.requests("POST /searches/deployments"); got != tc.wantPages {
				t.Errorf("%d requests, want %d", got, tc.wantPages)
			}
		})
	}
	t.Run("search/invalid rule", func(t *testing.T) {
		_, err := e.c.SearchDeployments(e.ctx, []cloudify.FilterRule{label("osb-plan", cloudify.FilterContains, "x")}, cloudify.ListOptions{})
		wantCode(t, err, 400, cloudify.CodeInvalidFilterRule)
		_, err = e.c.SearchDeployments(e.ctx, []cloudify.FilterRule{attr("colour", cloudify.FilterAnyOf, "red")}, cloudify.ListOptions{})
		wantCode(t, err, 400, cloudify.CodeInvalidFilterRule)
	})
	t.Run("list/bad filter", func(t *testing.T) {
		_, err := e.c.ListDeployments(e.ctx, cloudify.ListOptions{Filters: map[string][]string{"colour": {"red"}}})
		wantCode(t, err, 400, cloudify.CodeBadParameters)
	})
}

// TestSimGetDeployment reads one deployment, whole and projected.
func TestSimGetDeployment(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	e.createReady("dep", cloudifysim.SampleRequiredInput, map[string]any{"name": "world"})
	d := e.get("dep")
	if d.Description == "" || d.Inputs["name"] != "world" || d.Outputs["greeting"].Value == nil || d.Capabilities["name"].Value == nil {
		t.Errorf("deployment = %+v", d)
	}
	if diff := cmp.Diff(raw(`{"concat": ["Hello, ", {"get_input": "name"}]}`), d.Outputs["greeting"].Value, cmpRawJSON); diff != "" {
		t.Errorf("unevaluated output greeting (-want +got):\n%s", diff)
	}
	var install *cloudify.DeploymentWorkflow
	for i, w := range d.Workflows {
		if w.Name == "install" {
			install = &d.Workflows[i]
		}
	}
	if install == nil || install.Plugin != "default_workflows" || install.IsAvailable == nil || !*install.IsAvailable ||
		install.Parameters["type_names"].Type != "list" || install.AvailabilityRules == nil {
		t.Errorf("workflow install = %+v", install)
	}
	p, err := e.c.GetDeployment(e.ctx, "dep", "id", "inputs")
	if err != nil {
		t.Fatalf("GetDeployment(include): %v", err)
	}
	if diff := cmp.Diff(cloudify.Deployment{ID: "dep", Inputs: map[string]any{"name": "world"}}, p); diff != "" {
		t.Errorf("projected deployment (-want +got):\n%s", diff)
	}
	_, err = e.c.GetDeployment(e.ctx, "dep", "nope")
	wantCode(t, err, 400, cloudify.CodeNoSuchIncludeField)
	_, err = e.c.GetDeployment(e.ctx, "nope")
	if ae := wantCode(t, err, 404, cloudify.CodeNotFound); !cloudify.IsNotFound(err) || ae.Op != "GetDeployment" {
		t.Errorf("missing deployment: %v", err)
	}
	if c, err := e.c.DeploymentCapabilities(e.ctx, "dep"); err != nil || c["name"] != "world" {
		t.Errorf("DeploymentCapabilities = %v, %v", c, err)
	}
	if o, err := e.c.DeploymentOutputs(e.ctx, "dep"); err != nil || o["greeting"] != "Hello, world" {
		t.Errorf("DeploymentOutputs = %v, %v", o, err)
	}
	_, err = e.c.DeploymentCapabilities(e.ctx, "nope")
	wantCode(t, err, 404, cloudify.CodeNotFound)
}

// TestSimDeploymentLabels replaces a deployment's labels.
func TestSimDeploymentLabels(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	e.create("dep", cloudify.CreateDeploymentRequest{BlueprintID: cloudifysim.SampleRedis,
		Labels: []cloudify.Label{{Key: "osb-instance-id", Value: "i-1"}}})
	e.advance(time.Minute)
	d, err := e.c.SetDeploymentLabels(e.ctx, "dep", []cloudify.Label{
		{Key: "osb-instance-id", Value: "i-1"}, {Key: "OSB-Plan", Value: "gold"}, {Key: "team", Value: "a"}, {Key: "team", Value: "b"},
	})
	if err != nil {
		t.Fatalf("SetDeploymentLabels: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"osb-instance-id": "i-1", "osb-plan": "gold", "team": "a,b"}, labelMap(d.Labels)); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	for _, l := range d.Labels {
		wantAt := simT0.Add(time.Minute)
		if l.Key == "osb-instance-id" {
			wantAt = simT0 // kept labels keep their creation time
		}
		if !l.CreatedAt.Equal(wantAt) || l.CreatedBy != simUser {
			t.Errorf("label %s=%s created %v by %q, want %v by %s", l.Key, l.Value, l.CreatedAt, l.CreatedBy, wantAt, simUser)
		}
	}
	if got := labelMap(e.get("dep").Labels); got["osb-plan"] != "gold" {
		t.Errorf("labels read back = %v", got)
	}
	found, err := e.c.SearchDeployments(e.ctx, []cloudify.FilterRule{{Key: "osb-plan", Values: []string{"gold"}, Operator: cloudify.FilterAnyOf, Type: cloudify.FilterTypeLabel}}, cloudify.ListOptions{})
	if err != nil || len(found) != 1 {
		t.Errorf("search by the new label = %v, %v", ids(found, deploymentID), err)
	}

	d, err = e.c.SetDeploymentLabels(e.ctx, "dep", nil)
	if err != nil || len(d.Labels) != 0 {
		t.Errorf("SetDeploymentLabels(nil) = %v, %v; want no labels", d.Labels, err)
	}
	_, err = e.c.SetDeploymentLabels(e.ctx, "dep", []cloudify.Label{{Key: "bad key!", Value: "x"}})
	wantCode(t, err, 400, cloudify.CodeBadParameters)
	_, err = e.c.SetDeploymentLabels(e.ctx, "nope", []cloudify.Label{{Key: "a", Value: "b"}})
	wantCode(t, err, 404, cloudify.CodeNotFound)
}

// TestSimDeleteDeployment deletes deployments with each release's query
// parameters: ignore_live_nodes (and delete_logs) before 5.1, force and
// delete_logs from 5.1, plus recursive from 7.0.1.
func TestSimDeleteDeployment(t *testing.T) {
	cases := []struct {
		version string
		// wantParams are the delete_deployment_environment parameters
		// for DeleteDeploymentOptions{Force: true, DeleteLogs: true}.
		wantParams map[string]any
	}{
		{"5.0", map[string]any{"delete_logs": true}},
		{"5.1.1", map[string]any{"delete_logs": true, "force": true}},
		{"6.4", map[string]any{"delete_logs": true, "force": true}},
		{"7.0.4", map[string]any{"delete_logs": true, "force": true, "recursive": false}},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			c, ctx := e.c, e.ctx
			e.installed("live", cloudifysim.SampleRequiredInput, map[string]any{"name": "x"})

			// Live nodes refuse a delete without force ...
			err := c.DeleteDeployment(ctx, "live", cloudify.DeleteDeploymentOptions{DeleteLogs: true})
			if ae := wantCode(t, err, 400, cloudify.CodeDependentExists); !cloudify.IsDependentExists(err) || !strings.Contains(ae.Message, "live nodes") {
				t.Errorf("delete with live nodes: %v", err)
			}
			// ... and so does an active execution, even with force.
			e.advance(time.Second)
			x := e.start(cloudify.StartExecutionRequest{DeploymentID: "live", WorkflowID: "start", Force: true})
			err = c.DeleteDeployment(ctx, "live", cloudify.DeleteDeploymentOptions{Force: true})
			if ae := wantCode(t, err, 400, cloudify.CodeDependentExists); !strings.Contains(ae.Message, x.ID) {
				t.Errorf("delete with a running execution: %v", err)
			}
			e.follow(x.ID)

			// Force (sent under the release's parameter name) overrides
			// the live nodes.
			e.advance(time.Second)
			if err := c.DeleteDeployment(ctx, "live", cloudify.DeleteDeploymentOptions{Force: true, DeleteLogs: true}); err != nil {
				t.Fatalf("forced DeleteDeployment: %v", err)
			}
			del, err := c.ListExecutions(ctx, cloudify.ListOptions{Filters: map[string][]string{
				"deployment_id": {"live"}, "workflow_id": {"delete_deployment_environment"},
			}})
			if err != nil || len(del) != 1 {
				t.Fatalf("delete_deployment_environment executions = %v, %v", del, err)
			}
			if diff := cmp.Diff(tc.wantParams, del[0].Parameters); diff != "" {
				t.Errorf("delete_deployment_environment parameters (-want +got):\n%s", diff)
			}
			e.get("live") // still there until the execution ends
			if took := e.waitGone("live"); took > simPending+simDeleteEnv+simPollStep {
				t.Errorf("deletion took %v", took)
			}
			if info, ok := e.sim.Deployment("live"); ok {
				t.Errorf("simulator still has the deployment: %+v", info)
			}
			err = c.DeleteDeployment(ctx, "live", cloudify.DeleteDeploymentOptions{})
			wantCode(t, err, 404, cloudify.CodeNotFound)
		})
	}
}
