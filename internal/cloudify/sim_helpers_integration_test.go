package cloudify_test

// Shared helpers of the integration tests that run the client against the
// simulator (internal/cloudify/cloudifysim) over real HTTP. Time is the
// simulator's ManualClock: tests move it with advance and never sleep.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// simT0 is the start time of every simulator clock.
var simT0 = time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)

// Credentials and tenant of a default simulator.
const (
	simUser     = "admin"
	simPassword = "admin"
	simTenant   = "default_tenant"
)

// Simulated phase durations (the simulator's defaults and sample fixtures).
const (
	simPending        = 200 * time.Millisecond // pending -> started
	simCancel         = 500 * time.Millisecond // cancelling -> cancelled
	simCreateEnv      = time.Second            // create_deployment_environment
	simDeleteEnv      = time.Second            // delete_deployment_environment
	simInstallDefault = 5 * time.Second        // install without a fixture override
	simPollStep       = 100 * time.Millisecond // clock step between polls
	simMaxPolls       = 2000                   // 200 s of simulated time
)

// simEnv is one simulated manager behind an httptest server, plus a client
// for it (Basic auth, default tenant).
type simEnv struct {
	t       *testing.T
	version string
	sim     *cloudifysim.Simulator
	clock   *cloudifysim.ManualClock
	srv     *httptest.Server
	c       *cloudify.Client
	ctx     context.Context
}

// newSimEnv starts a simulator of the given release with the sample
// blueprints and returns it with a client.
func newSimEnv(t *testing.T, version string, mods ...func(*cloudifysim.Config)) *simEnv {
	t.Helper()
	clock := cloudifysim.NewManualClock(simT0)
	cfg := cloudifysim.Config{Version: version, Clock: clock, LoadSamples: true, Seed: 7}
	for _, m := range mods {
		m(&cfg)
	}
	sim := cloudifysim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &simEnv{t: t, version: version, sim: sim, clock: clock, srv: srv, ctx: t.Context()}
	e.c = e.client()
	return e
}

// client returns a new client for the simulator: Basic auth as admin, then
// opts (which may override it).
func (e *simEnv) client(opts ...cloudify.Option) *cloudify.Client {
	e.t.Helper()
	return e.clientAt(e.srv.URL, append([]cloudify.Option{cloudify.WithBasicAuth(simUser, simPassword)}, opts...)...)
}

// clientAt returns a client for baseURL using the server's HTTP client, with
// only the given options.
func (e *simEnv) clientAt(baseURL string, opts ...cloudify.Option) *cloudify.Client {
	e.t.Helper()
	c, err := cloudify.New(baseURL, append([]cloudify.Option{cloudify.WithHTTPClient(e.srv.Client())}, opts...)...)
	if err != nil {
		e.t.Fatalf("cloudify.New(%q): %v", baseURL, err)
	}
	return c
}

// atLeast reports whether the simulated release is major.minor or newer.
func (e *simEnv) atLeast(major, minor int) bool {
	return cloudify.VersionInfo{Version: e.version}.AtLeast(major, minor)
}

// advance moves the simulator's clock.
func (e *simEnv) advance(d time.Duration) { e.clock.Advance(d) }

// requests returns how many requests the simulator saw for a route key such
// as "PUT /deployment-updates/{id}/update/initiate".
func (e *simEnv) requests(key string) int {
	return e.sim.Stats().Requests[key]
}

// create creates a deployment and fails the test on error.
func (e *simEnv) create(id string, req cloudify.CreateDeploymentRequest) cloudify.Deployment {
	e.t.Helper()
	d, err := e.c.CreateDeployment(e.ctx, id, req)
	if err != nil {
		e.t.Fatalf("CreateDeployment(%s, %s): %v", id, req.BlueprintID, err)
	}
	return d
}

// createExecutionID returns the id of the deployment's
// create_deployment_environment execution (6.0+ reports it on the
// deployment; older releases are asked through the executions list).
func (e *simEnv) createExecutionID(d cloudify.Deployment) string {
	e.t.Helper()
	if d.CreateExecution != "" {
		return d.CreateExecution
	}
	execs, err := e.c.ListExecutions(e.ctx, cloudify.ListOptions{Filters: map[string][]string{
		"deployment_id": {d.ID}, "workflow_id": {"create_deployment_environment"},
	}})
	if err != nil {
		e.t.Fatalf("ListExecutions(create_deployment_environment of %s): %v", d.ID, err)
	}
	if len(execs) != 1 {
		e.t.Fatalf("deployment %s has %d create_deployment_environment executions, want 1", d.ID, len(execs))
	}
	return execs[0].ID
}

// createReady creates a deployment (synchronously where the release
// supports it) and waits until its environment is created.
func (e *simEnv) createReady(id, blueprintID string, inputs map[string]any) cloudify.Deployment {
	e.t.Helper()
	d := e.create(id, cloudify.CreateDeploymentRequest{BlueprintID: blueprintID, Inputs: inputs})
	if x, _ := e.follow(e.createExecutionID(d)); x.Status != cloudify.Terminated {
		e.t.Fatalf("create_deployment_environment of %s ended %s: %s", id, x.Status, x.Error)
	}
	return e.get(id)
}

// get reads a deployment and fails the test on error.
func (e *simEnv) get(id string, include ...string) cloudify.Deployment {
	e.t.Helper()
	d, err := e.c.GetDeployment(e.ctx, id, include...)
	if err != nil {
		e.t.Fatalf("GetDeployment(%s): %v", id, err)
	}
	return d
}

// start starts a workflow and fails the test on error.
func (e *simEnv) start(req cloudify.StartExecutionRequest) cloudify.Execution {
	e.t.Helper()
	x, err := e.c.StartExecution(e.ctx, req)
	if err != nil {
		e.t.Fatalf("StartExecution(%s on %s): %v", req.WorkflowID, req.DeploymentID, err)
	}
	return x
}

// exec reads an execution and fails the test on error.
func (e *simEnv) exec(id string) cloudify.Execution {
	e.t.Helper()
	x, err := e.c.GetExecution(e.ctx, id)
	if err != nil {
		e.t.Fatalf("GetExecution(%s): %v", id, err)
	}
	return x
}

// follow polls an execution, moving the clock by simPollStep between polls,
// until it reaches an end state. It returns the final execution and the
// statuses seen, in order, without repeats.
func (e *simEnv) follow(id string) (cloudify.Execution, []cloudify.ExecutionStatus) {
	e.t.Helper()
	var seen []cloudify.ExecutionStatus
	for i := 0; i < simMaxPolls; i++ {
		x := e.exec(id)
		if len(seen) == 0 || seen[len(seen)-1] != x.Status {
			seen = append(seen, x.Status)
		}
		if x.Status.Terminal() {
			return x, seen
		}
		e.advance(simPollStep)
	}
	e.t.Fatalf("execution %s did not end; statuses seen: %v", id, seen)
	return cloudify.Execution{}, nil
}

// run starts a workflow and follows it to a successful end.
func (e *simEnv) run(req cloudify.StartExecutionRequest) cloudify.Execution {
	e.t.Helper()
	x, _ := e.follow(e.start(req).ID)
	if !x.Status.Succeeded() {
		e.t.Fatalf("%s on %s ended %s: %s", req.WorkflowID, req.DeploymentID, x.Status, x.ErrorSummary())
	}
	return x
}

// install creates a ready deployment and installs it.
func (e *simEnv) installed(id, blueprintID string, inputs map[string]any) cloudify.Deployment {
	e.t.Helper()
	e.createReady(id, blueprintID, inputs)
	e.run(cloudify.StartExecutionRequest{DeploymentID: id, WorkflowID: "install"})
	return e.get(id)
}

// waitGone advances the clock until GetDeployment answers IsNotFound and
// returns the simulated time that took.
func (e *simEnv) waitGone(id string) time.Duration {
	e.t.Helper()
	begin := e.clock.Now()
	for i := 0; i < simMaxPolls; i++ {
		_, err := e.c.GetDeployment(e.ctx, id)
		if cloudify.IsNotFound(err) {
			return e.clock.Now().Sub(begin)
		}
		if err != nil {
			e.t.Fatalf("GetDeployment(%s) while waiting for deletion: %v", id, err)
		}
		e.advance(simPollStep)
	}
	e.t.Fatalf("deployment %s was not deleted", id)
	return 0
}

// asAPIError returns err as *cloudify.APIError, failing the test otherwise.
func asAPIError(t *testing.T, err error) *cloudify.APIError {
	t.Helper()
	var ae *cloudify.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not a *cloudify.APIError", err, err)
	}
	return ae
}

// wantCode fails unless err is an *APIError with the status and code.
func wantCode(t *testing.T, err error, status int, code string) *cloudify.APIError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d %s", status, code)
	}
	ae := asAPIError(t, err)
	if ae.Status != status || ae.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", ae.Status, ae.Code, ae.Message, status, code)
	}
	return ae
}

// helper is one of the client's error classifiers.
type helper struct {
	name string
	is   func(error) bool
}

// errorHelpers lists every exported Is* classifier of the client.
var errorHelpers = []helper{
	{"IsNotFound", cloudify.IsNotFound},
	{"IsRouteNotFound", cloudify.IsRouteNotFound},
	{"IsConflict", cloudify.IsConflict},
	{"IsRunningExecution", cloudify.IsRunningExecution},
	{"IsEnvNotReady", cloudify.IsEnvNotReady},
	{"IsDeploymentCreation", cloudify.IsDeploymentCreation},
	{"IsDependentExists", cloudify.IsDependentExists},
	{"IsUnavailableWorkflow", cloudify.IsUnavailableWorkflow},
	{"IsInputError", cloudify.IsInputError},
	{"IsUnauthorized", cloudify.IsUnauthorized},
	{"IsForbidden", cloudify.IsForbidden},
	{"IsMaintenance", cloudify.IsMaintenance},
	{"IsTransient", cloudify.IsTransient},
}

// matchingHelpers returns the names of the classifiers that report true for
// err, sorted.
func matchingHelpers(err error) []string {
	out := []string{}
	for _, h := range errorHelpers {
		if h.is(err) {
			out = append(out, h.name)
		}
	}
	sort.Strings(out)
	return out
}

// rawJSONEqual compares two JSON documents by value, ignoring layout. Two
// empty documents are equal.
func rawJSONEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(va, vb)
}

// cmpRawJSON makes cmp compare json.RawMessage values by JSON value.
var cmpRawJSON = cmp.Comparer(rawJSONEqual)

// raw is a json.RawMessage literal.
func raw(s string) json.RawMessage { return json.RawMessage(s) }

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// ids returns the ids of deployments, executions or blueprints.
func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func deploymentID(d cloudify.Deployment) string     { return d.ID }
func blueprintID(b cloudify.Blueprint) string       { return b.ID }
func executionWorkflow(x cloudify.Execution) string { return x.WorkflowID }
func updateID(u cloudify.DeploymentUpdate) string   { return u.ID }

// labelMap returns the labels as "key" -> "value" ("key" -> "v1,v2" when a
// key has several values, in order).
func labelMap(ls []cloudify.Label) map[string]string {
	out := map[string]string{}
	for _, l := range ls {
		if prev, ok := out[l.Key]; ok {
			out[l.Key] = prev + "," + l.Value
			continue
		}
		out[l.Key] = l.Value
	}
	return out
}
