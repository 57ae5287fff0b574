package cloudify_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// TestSimErrorClassification provokes each error the broker reacts to on a
// simulated manager and checks the status, the code and exactly which Is*
// classifiers report it.
func TestSimErrorClassification(t *testing.T) {
	mariadb := func(inputs map[string]any) cloudify.CreateDeploymentRequest {
		return cloudify.CreateDeploymentRequest{BlueprintID: cloudifysim.SampleMariaDB, Inputs: inputs}
	}
	good := map[string]any{"admin_password": "long-enough"}
	cases := []struct {
		name    string
		version string
		call    func(t *testing.T, e *simEnv) error
		op      string // APIError.Op
		status  int
		code    string // "" for a non-JSON body
		helpers []string
	}{
		{
			name: "not found", version: "7.0.4", op: "GetDeployment", status: 404, code: cloudify.CodeNotFound,
			helpers: []string{"IsNotFound"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.GetDeployment(e.ctx, "nope")
				return err
			},
		},
		{
			name: "unknown route: capabilities before 4.5.5", version: "4.5", op: "DeploymentCapabilities", status: 404,
			helpers: []string{"IsRouteNotFound"},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				_, err := e.c.DeploymentCapabilities(e.ctx, "dep")
				return err
			},
		},
		{
			name: "unknown route: search before 6.0", version: "5.1.1", op: "SearchDeployments", status: 404,
			helpers: []string{"IsRouteNotFound"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.SearchDeployments(e.ctx, nil, cloudify.ListOptions{})
				return err
			},
		},
		{
			name: "unknown route: wrong base URL", version: "7.0.4", op: "GetDeployment", status: 404,
			helpers: []string{"IsRouteNotFound"},
			call: func(t *testing.T, e *simEnv) error {
				c := e.clientAt(e.srv.URL+"/manager", cloudify.WithBasicAuth(simUser, simPassword))
				_, err := c.GetDeployment(e.ctx, "dep")
				return err
			},
		},
		{
			name: "conflict: existing id", version: "7.0.4", op: "CreateDeployment", status: 409, code: cloudify.CodeConflict,
			helpers: []string{"IsConflict"},
			call: func(t *testing.T, e *simEnv) error {
				e.create("dep", mariadb(good))
				_, err := e.c.CreateDeployment(e.ctx, "dep", mariadb(good))
				return err
			},
		},
		{
			name: "conflict: active update before 7.0", version: "6.3", op: "UpdateDeployment", status: 409, code: cloudify.CodeConflict,
			helpers: []string{"IsConflict"},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleMariaDB, good)
				req := cloudify.UpdateDeploymentRequest{Inputs: map[string]any{"flavor": "large"}}
				if _, err := e.c.UpdateDeployment(e.ctx, "dep", req); err != nil {
					t.Fatalf("first UpdateDeployment: %v", err)
				}
				_, err := e.c.UpdateDeployment(e.ctx, "dep", req)
				return err
			},
		},
		{
			name: "existing running execution", version: "7.0.4", op: "StartExecution", status: 400, code: cloudify.CodeExistingRunningExecution,
			helpers: []string{"IsRunningExecution"},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleMariaDB, good)
				e.start(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "start"})
				return err
			},
		},
		{
			name: "environment creation pending", version: "5.1.1", op: "StartExecution", status: 400,
			code: cloudify.CodeDeploymentEnvironmentCreationPending, helpers: []string{"IsEnvNotReady"},
			call: func(t *testing.T, e *simEnv) error {
				e.create("dep", mariadb(good))
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
				return err
			},
		},
		{
			name: "environment creation in progress", version: "7.0.4", op: "StartExecution", status: 400,
			code: cloudify.CodeDeploymentEnvironmentCreationInProgress, helpers: []string{"IsEnvNotReady"},
			call: func(t *testing.T, e *simEnv) error {
				req := mariadb(good)
				req.AsyncCreate = true
				e.create("dep", req)
				e.advance(simPending)
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
				return err
			},
		},
		{
			name: "deployment creation: synchronous create failed", version: "7.0.4", op: "CreateDeployment", status: 400,
			code: cloudify.CodeDeploymentCreation, helpers: []string{"IsDeploymentCreation"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.CreateDeployment(e.ctx, "dep", mariadb(map[string]any{"admin_password": "long-enough", "flavor": "huge"}))
				return err
			},
		},
		{
			name: "deployment creation: blueprint not uploaded", version: "7.0.4", op: "CreateDeployment", status: 400,
			code: cloudify.CodeDeploymentCreation, helpers: []string{"IsDeploymentCreation"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.CreateDeployment(e.ctx, "dep", cloudify.CreateDeploymentRequest{BlueprintID: cloudifysim.SampleBrokenUpload})
				return err
			},
		},
		{
			name: "deployment creation: environment failed (6.x)", version: "6.4", op: "StartExecution", status: 400,
			code: cloudify.CodeDeploymentCreation, helpers: []string{"IsDeploymentCreation"},
			call: func(t *testing.T, e *simEnv) error {
				e.sim.FailWorkflow("dep", "create_deployment_environment", "")
				req := mariadb(good)
				req.AsyncCreate = true
				e.follow(e.create("dep", req).CreateExecution)
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
				return err
			},
		},
		{
			name: "deployment creation: environment failed (5.x answers 500)", version: "5.1.1", op: "StartExecution", status: 500,
			code: cloudify.CodeInternalServer, helpers: []string{"IsDeploymentCreation", "IsTransient"},
			call: func(t *testing.T, e *simEnv) error {
				e.sim.FailWorkflow("dep", "create_deployment_environment", "")
				e.follow(e.createExecutionID(e.create("dep", mariadb(good))))
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
				return err
			},
		},
		{
			name: "dependent exists: live nodes", version: "7.0.4", op: "DeleteDeployment", status: 400, code: cloudify.CodeDependentExists,
			helpers: []string{"IsDependentExists"},
			call: func(t *testing.T, e *simEnv) error {
				e.installed("dep", cloudifysim.SampleRedis, nil)
				return e.c.DeleteDeployment(e.ctx, "dep", cloudify.DeleteDeploymentOptions{})
			},
		},
		{
			name: "dependent exists: running execution despite force", version: "5.1.1", op: "DeleteDeployment", status: 400,
			code: cloudify.CodeDependentExists, helpers: []string{"IsDependentExists"},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				e.start(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
				return e.c.DeleteDeployment(e.ctx, "dep", cloudify.DeleteDeploymentOptions{Force: true})
			},
		},
		{
			name: "unavailable workflow", version: "6.4", op: "StartExecution", status: 400, code: cloudify.CodeUnavailableWorkflow,
			helpers: []string{"IsUnavailableWorkflow"},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "uninstall"})
				return err
			},
		},
		{
			name: "missing input (7.x)", version: "7.0.4", op: "CreateDeployment", status: 400,
			code: cloudify.CodeMissingRequiredDeploymentInput, helpers: []string{"IsInputError"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.CreateDeployment(e.ctx, "dep", mariadb(nil))
				return err
			},
		},
		{
			name: "missing input (5.x)", version: "5.1.1", op: "CreateDeployment", status: 400,
			code: cloudify.CodeMissingRequiredDeploymentInput, helpers: []string{"IsInputError"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.CreateDeployment(e.ctx, "dep", cloudify.CreateDeploymentRequest{BlueprintID: cloudifysim.SampleRequiredInput})
				return err
			},
		},
		{
			name: "unknown input", version: "7.0.4", op: "CreateDeployment", status: 400,
			code: cloudify.CodeUnknownDeploymentInput, helpers: []string{"IsInputError"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.CreateDeployment(e.ctx, "dep", mariadb(map[string]any{"admin_password": "long-enough", "colour": "red"}))
				return err
			},
		},
		{
			name: "constraint error (5.x)", version: "5.1.1", op: "CreateDeployment", status: 400,
			code: cloudify.CodeConstraint, helpers: []string{"IsInputError"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.CreateDeployment(e.ctx, "dep", mariadb(map[string]any{"admin_password": "long-enough", "node_count": 12}))
				return err
			},
		},
		{
			name: "input evaluation error (injected code)", version: "7.0.4", op: "CreateDeployment", status: 400,
			code: cloudify.CodeDeploymentInputEvaluation, helpers: []string{"IsInputError"},
			call: func(t *testing.T, e *simEnv) error {
				e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultHTTPError, Code: cloudify.CodeDeploymentInputEvaluation,
					Message: "Error evaluating input admin_password", Match: cloudifysim.FaultMatch{Method: http.MethodPut, PathPrefix: "/deployments"}})
				_, err := e.c.CreateDeployment(e.ctx, "dep", mariadb(good))
				return err
			},
		},
		{
			name: "unauthorized: wrong password", version: "7.0.4", op: "Status", status: 401, code: cloudify.CodeUnauthorized,
			helpers: []string{"IsUnauthorized"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.client(cloudify.WithBasicAuth(simUser, "wrong")).Status(e.ctx)
				return err
			},
		},
		{
			name: "unauthorized: no credentials", version: "6.2", op: "ListBlueprints", status: 401, code: cloudify.CodeUnauthorized,
			helpers: []string{"IsUnauthorized"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.clientAt(e.srv.URL).ListBlueprints(e.ctx, cloudify.ListOptions{})
				return err
			},
		},
		{
			name: "forbidden: unknown tenant", version: "7.0.4", op: "ListDeployments", status: 403, code: cloudify.CodeForbidden,
			helpers: []string{"IsForbidden"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.client(cloudify.WithTenant("nosuch")).ListDeployments(e.ctx, cloudify.ListOptions{})
				return err
			},
		},
		{
			name: "forbidden: no tenant", version: "7.0.4", op: "GetBlueprint", status: 403, code: cloudify.CodeForbidden,
			helpers: []string{"IsForbidden"},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.client(cloudify.WithTenant("")).GetBlueprint(e.ctx, cloudifysim.SampleMariaDB)
				return err
			},
		},
		{
			name: "maintenance mode", version: "7.0.4", op: "StartExecution", status: 503, code: cloudify.CodeMaintenanceModeActive,
			helpers: []string{"IsMaintenance", "IsTransient"},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance, Count: 1})
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
				return err
			},
		},
		{
			name: "entering maintenance mode (injected code)", version: "7.0.4", op: "Version", status: 503,
			code: cloudify.CodeEnteringMaintenanceMode, helpers: []string{"IsMaintenance", "IsTransient"},
			call: func(t *testing.T, e *simEnv) error {
				e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultHTTPError, Code: cloudify.CodeEnteringMaintenanceMode, Count: 1})
				_, err := e.c.Version(e.ctx)
				return err
			},
		},
		{
			name: "nginx 502 (non-JSON)", version: "7.0.4", op: "GetExecution", status: 502, helpers: []string{"IsTransient"},
			call: func(t *testing.T, e *simEnv) error {
				e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultBadGateway, Match: cloudifysim.FaultMatch{PathPrefix: "/executions"}})
				_, err := e.c.GetExecution(e.ctx, "x")
				return err
			},
		},
		{
			name: "nginx 504 (non-JSON)", version: "6.2", op: "ListExecutions", status: 504, helpers: []string{"IsTransient"},
			call: func(t *testing.T, e *simEnv) error {
				e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultBadGateway, Status: http.StatusGatewayTimeout})
				_, err := e.c.ListExecutions(e.ctx, cloudify.ListOptions{})
				return err
			},
		},
		{
			name: "internal server error", version: "7.0.4", op: "DeploymentOutputs", status: 500, code: cloudify.CodeInternalServer,
			helpers: []string{"IsTransient"},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultHTTPError, Match: cloudifysim.FaultMatch{DeploymentID: "dep"}})
				_, err := e.c.DeploymentOutputs(e.ctx, "dep")
				return err
			},
		},
		{
			name: "nonexistent workflow", version: "7.0.4", op: "StartExecution", status: 400, code: cloudify.CodeNonexistentWorkflow,
			helpers: []string{},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "nope"})
				return err
			},
		},
		{
			name: "illegal execution parameters", version: "7.0.4", op: "StartExecution", status: 400,
			code: cloudify.CodeIllegalExecutionParameters, helpers: []string{},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install",
					Parameters: map[string]any{"nope": 1}})
				return err
			},
		},
		{
			name: "illegal action", version: "7.0.4", op: "CancelExecution", status: 400, code: cloudify.CodeIllegalAction,
			helpers: []string{},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				x := e.run(cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
				_, err := e.c.CancelExecution(e.ctx, x.ID, cloudify.Cancel)
				return err
			},
		},
		{
			name: "method not allowed: PUT update on 7.0", version: "7.0.4", op: "UpdateDeployment", status: 405,
			code: cloudify.CodeMethodNotAllowed, helpers: []string{},
			call: func(t *testing.T, e *simEnv) error {
				e.createReady("dep", cloudifysim.SampleRedis, nil)
				_, err := e.client(cloudify.WithManagerVersion("6.3")).UpdateDeployment(e.ctx, "dep", cloudify.UpdateDeploymentRequest{})
				return err
			},
		},
		{
			name: "no such include field", version: "7.0.4", op: "GetExecution", status: 400, code: cloudify.CodeNoSuchIncludeField,
			helpers: []string{},
			call: func(t *testing.T, e *simEnv) error {
				d := e.createReady("dep", cloudifysim.SampleRedis, nil)
				_, err := e.c.GetExecution(e.ctx, d.CreateExecution, "nope")
				return err
			},
		},
		{
			name: "invalid filter rule", version: "7.0.4", op: "SearchDeployments", status: 400, code: cloudify.CodeInvalidFilterRule,
			helpers: []string{},
			call: func(t *testing.T, e *simEnv) error {
				_, err := e.c.SearchDeployments(e.ctx, []cloudify.FilterRule{{Key: "k", Values: []string{"v"}, Operator: "bogus", Type: "label"}}, cloudify.ListOptions{})
				return err
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			err := tc.call(t, e)
			if err == nil {
				t.Fatal("no error")
			}
			ae := asAPIError(t, err)
			type summary struct {
				Op      string
				Status  int
				Code    string
				Helpers []string
			}
			want := summary{tc.op, tc.status, tc.code, tc.helpers}
			got := summary{ae.Op, ae.Status, ae.Code, matchingHelpers(err)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%v\n(-want +got):\n%s", err, diff)
			}
			switch {
			case tc.code == "": // non-JSON body: kept raw, described by status
				line := fmt.Sprintf("%d %s: ", tc.status, http.StatusText(tc.status))
				if ae.Body == "" || !strings.HasPrefix(ae.Message, line) || ae.Error() != "cloudify: "+tc.op+": "+ae.Message {
					t.Errorf("non-JSON error: text %q, body %q", ae.Error(), ae.Body)
				}
			default:
				if ae.Body != "" || ae.Message == "" || !strings.Contains(ae.Error(), tc.code) {
					t.Errorf("JSON error: message %q, body %q, text %q", ae.Message, ae.Body, ae.Error())
				}
			}
			if basic := base64.StdEncoding.EncodeToString([]byte(simUser + ":" + simPassword)); strings.Contains(err.Error(), basic) {
				t.Errorf("error text mentions credentials: %v", err)
			}
		})
	}
}

// TestSimNonJSONBodies checks the raw bodies kept for non-JSON answers.
func TestSimNonJSONBodies(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	id := e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultBadGateway})
	_, err := e.c.Status(e.ctx)
	ae := wantCode(t, err, 502, "")
	if !strings.Contains(ae.Body, "<center>nginx</center>") || !strings.HasPrefix(ae.Message, "502 Bad Gateway: <html>") {
		t.Errorf("502: message %q body %q", ae.Message, ae.Body)
	}
	if cloudify.IsNotFound(err) || cloudify.IsRouteNotFound(err) {
		t.Errorf("a 502 is classified as not found")
	}
	e.sim.RemoveFault(id)

	_, err = e.clientAt(e.srv.URL+"/nowhere", cloudify.WithBasicAuth(simUser, simPassword)).GetDeployment(e.ctx, "dep")
	ae = wantCode(t, err, 404, "")
	if !strings.Contains(ae.Body, "<title>404 Not Found</title>") || cloudify.IsNotFound(err) || !cloudify.IsRouteNotFound(err) {
		t.Errorf("Flask 404: IsNotFound %v IsRouteNotFound %v body %q", cloudify.IsNotFound(err), cloudify.IsRouteNotFound(err), ae.Body)
	}
	if got := e.requests("GET <unmatched>"); got != 1 {
		t.Errorf("the simulator saw %d unmatched requests, want 1", got)
	}
}

// TestSimFaultsAreTransient checks that the injected HTTP faults, dropped
// connections included, are transient, and that the next request succeeds
// once they are gone.
func TestSimFaultsAreTransient(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	c, ctx := e.c, e.ctx
	e.createReady("dep", cloudifysim.SampleRedis, nil)

	t.Run("maintenance once", func(t *testing.T) {
		e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance, Count: 1, Match: cloudifysim.FaultMatch{DeploymentID: "dep"}})
		_, err := c.GetDeployment(ctx, "dep")
		if !cloudify.IsMaintenance(err) || !cloudify.IsTransient(err) {
			t.Fatalf("maintenance: %v", err)
		}
		if _, err := c.GetDeployment(ctx, "dep"); err != nil {
			t.Errorf("after the fault expired: %v", err)
		}
	})
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		t.Run("dropped connection "+m, func(t *testing.T) {
			// The fault stays until removed: the HTTP transport retries an
			// idempotent request once on a dropped reused connection.
			id := e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultDropConnection, Match: cloudifysim.FaultMatch{Method: m}})
			var err error
			op := "GetDeployment"
			if m == http.MethodPost {
				op = "StartExecution"
				_, err = c.StartExecution(ctx, cloudify.StartExecutionRequest{DeploymentID: "dep", WorkflowID: "install"})
			} else {
				_, err = c.GetDeployment(ctx, "dep")
			}
			e.sim.RemoveFault(id)
			if err == nil {
				t.Fatal("no error from a dropped connection")
			}
			var ae *cloudify.APIError
			if errors.As(err, &ae) {
				t.Fatalf("dropped connection gave an API error: %v", err)
			}
			if !cloudify.IsTransient(err) || !strings.HasPrefix(err.Error(), "cloudify: "+op+": ") {
				t.Errorf("dropped connection: %v (IsTransient %v)", err, cloudify.IsTransient(err))
			}
			if got := matchingHelpers(err); !cmp.Equal([]string{"IsTransient"}, got) {
				t.Errorf("classifiers of a dropped connection: %v", got)
			}
		})
	}
	t.Run("caller gives up", func(t *testing.T) {
		// A latency fault that outlasts the caller's deadline: the
		// caller's own timeout is not transient.
		id := e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultLatency, Latency: time.Minute})
		defer e.sim.RemoveFault(id)
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := c.GetDeployment(short, "dep")
		if err == nil || cloudify.IsTransient(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("caller deadline: %v (IsTransient %v)", err, cloudify.IsTransient(err))
		}
	})
	if got := e.sim.Stats().FaultsInjected; got < 4 {
		t.Errorf("FaultsInjected = %d, want at least 4", got)
	}
	if _, err := c.GetDeployment(ctx, "dep"); err != nil {
		t.Errorf("after every fault was removed: %v", err)
	}
}
