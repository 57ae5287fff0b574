package cloudify

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// methodCase is one call of a client method against the fake manager.
type methodCase struct {
	name    string
	version string // WithManagerVersion; "" means 7.0.4
	reply   reply
	call    func(ctx context.Context, c *Client) (any, error)
	want    wantRequest
	result  any // expected return value (nil: not checked)
}

func runMethodCases(t *testing.T, cases []methodCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fm := newFakeManager(t, func(recorded) reply { return tc.reply })
			v := tc.version
			if v == "" {
				v = "7.0.4"
			}
			got, err := tc.call(testCtx(t), fm.client(t, WithManagerVersion(v)))
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			reqs := fm.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1: %+v", len(reqs), reqs)
			}
			checkRequest(t, reqs[0], tc.want)
			if tc.result != nil {
				if diff := cmp.Diff(tc.result, got, rawJSONEqual); diff != "" {
					t.Errorf("result mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestManagerMethods(t *testing.T) {
	runMethodCases(t, []methodCase{
		{
			name:   "Version",
			reply:  reply{body: golden(t, "version_7.0.4.json")},
			call:   func(ctx context.Context, c *Client) (any, error) { return c.Version(ctx) },
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/version"},
			result: VersionInfo{Edition: "premium", Version: "7.0.4", Distribution: "rhel", DistroRelease: "Ootpa"},
		},
		{
			name:   "Status",
			reply:  reply{body: `{"status": "running", "services": {}}`},
			call:   func(ctx context.Context, c *Client) (any, error) { return c.Status(ctx) },
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/status"},
			result: ManagerStatus{Status: "running", Services: raw(`{}`)},
		},
	})
}

func TestTokenMethods(t *testing.T) {
	exp := time.Date(2024, 2, 10, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	runMethodCases(t, []methodCase{
		{
			name:    "NewToken 7.0 POST with description and expiry",
			version: "7.0.4",
			reply:   reply{body: golden(t, "token_7.0.json")},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.NewToken(ctx, "osb broker", exp) },
			want:    wantRequest{Method: "POST", Path: "/api/v3.1/tokens", Body: `{"description": "osb broker", "expiration_date": "2024-02-10T08:00:00.000Z"}`},
			result: Token{ID: "Ab12Cd34Ef", Value: "ctok-Ab12Cd34Ef-s3cretS3cretS3cret", Username: "admin", Role: "sys_admin",
				Description: "osb broker", ExpirationDate: mustTime(t, "2024-02-10T08:00:00.000Z")},
		},
		{
			name:    "NewToken 6.4 POST without optional fields",
			version: "6.4.0",
			reply:   reply{body: golden(t, "token_7.0.json")},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.NewToken(ctx, "", time.Time{}) },
			want:    wantRequest{Method: "POST", Path: "/api/v3.1/tokens", Body: `{}`},
		},
		{
			name:    "NewToken 6.3 GET",
			version: "6.3.0",
			reply:   reply{body: golden(t, "token_6.3.json")},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.NewToken(ctx, "ignored", exp) },
			want:    wantRequest{Method: "GET", Path: "/api/v3.1/tokens"},
			result:  Token{Value: "WyIwIiwiMzk1YTE2ZmI3ZDZiNGIxMmE4ZTNhMzU4NDBjYWQ4ZmIiXQ.ZCm4ZQ.R1U1d2lU", Role: "admin", Username: "admin"},
		},
		{
			name:    "NewToken 4.3 GET",
			version: "4.3",
			reply:   reply{body: `{"value": "abc", "role": "admin"}`},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.NewToken(ctx, "", time.Time{}) },
			want:    wantRequest{Method: "GET", Path: "/api/v3.1/tokens"},
			result:  Token{Value: "abc", Role: "admin"},
		},
	})
}

func TestBlueprintMethods(t *testing.T) {
	list43 := golden(t, "blueprints_list_4.3.json")
	runMethodCases(t, []methodCase{
		{
			name:  "ListBlueprints with options",
			reply: reply{body: list43},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListBlueprints(ctx, ListOptions{
					Include: []string{"id", "description", "state"},
					Sort:    []string{"-created_at", "id"},
					Filters: map[string][]string{"state": {"uploaded"}, "id": {"a", "b"}},
				})
			},
			want: wantRequest{Method: "GET", Path: "/api/v3.1/blueprints", Query: q(
				"_include", "id,description,state", "_sort", "-created_at", "_sort", "id",
				"state", "uploaded", "id", "a", "id", "b", "_offset", "0", "_size", "1000")},
			result: []Blueprint{
				{ID: "nodecellar", MainFileName: "blueprint.yaml", TenantName: "default_tenant", CreatedBy: "admin",
					CreatedAt: mustTime(t, "2018-02-14T13:41:51.346Z"), UpdatedAt: mustTime(t, "2018-02-14T13:41:51.346Z")},
				{ID: "hello", Description: "Hello world", MainFileName: "blueprint.yaml", TenantName: "default_tenant", CreatedBy: "admin",
					CreatedAt: mustTime(t, "2018-02-15T08:00:00.000Z"), UpdatedAt: mustTime(t, "2018-02-15T08:00:00.000Z")},
			},
		},
		{
			name:   "GetBlueprint",
			reply:  reply{body: `{"id": "mariadb", "state": "uploaded"}`},
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetBlueprint(ctx, "mariadb") },
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/blueprints/mariadb"},
			result: Blueprint{ID: "mariadb", State: "uploaded"},
		},
		{
			name:   "GetBlueprint with include",
			reply:  reply{body: `{"id": "mariadb", "plan": {"inputs": {}}}`},
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetBlueprint(ctx, "mariadb", "id", "plan") },
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/blueprints/mariadb", Query: q("_include", "id,plan")},
			result: Blueprint{ID: "mariadb", Plan: &BlueprintPlan{Inputs: map[string]Input{}}},
		},
	})
}

func TestDeploymentMethods(t *testing.T) {
	dep := `{"id": "osb-1", "blueprint_id": "mariadb"}`
	wantDep := Deployment{ID: "osb-1", BlueprintID: "mariadb"}
	runMethodCases(t, []methodCase{
		{
			name:  "CreateDeployment full request, async on 7.0",
			reply: reply{status: 201, body: golden(t, "deployment_6.0_skeleton.json")},
			call: func(ctx context.Context, c *Client) (any, error) {
				d, err := c.CreateDeployment(ctx, "osb-5d7c", CreateDeploymentRequest{
					BlueprintID: "mariadb",
					Inputs:      map[string]any{"db_name": "orders", "node_count": 3, "tls": true},
					Visibility:  "tenant",
					Labels:      []Label{{Key: "osb-instance-id", Value: "5d7c"}, {Key: "osb-plan", Value: "small"}},
					DisplayName: "Orders DB",
					AsyncCreate: true,
				})
				return d.CreateExecution, err
			},
			want: wantRequest{Method: "PUT", Path: "/api/v3.1/deployments/osb-5d7c", Query: q("async_create", "true"),
				Body: `{"blueprint_id": "mariadb", "inputs": {"db_name": "orders", "node_count": 3, "tls": true},
					"visibility": "tenant", "labels": [{"osb-instance-id": "5d7c"}, {"osb-plan": "small"}],
					"display_name": "Orders DB", "skip_plugins_validation": false}`},
			result: "c0ffee00-create",
		},
		{
			name:  "CreateDeployment minimal with skip_plugins_validation",
			reply: reply{status: 201, body: dep},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateDeployment(ctx, "osb-1", CreateDeploymentRequest{BlueprintID: "mariadb", SkipPluginsValidation: true})
			},
			want:   wantRequest{Method: "PUT", Path: "/api/v3.1/deployments/osb-1", Body: `{"blueprint_id": "mariadb", "skip_plugins_validation": true}`},
			result: wantDep,
		},
		{
			name:  "GetDeployment with include",
			reply: reply{body: dep},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.GetDeployment(ctx, "osb-1", "id", "blueprint_id", "workflows")
			},
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/deployments/osb-1", Query: q("_include", "id,blueprint_id,workflows")},
			result: wantDep,
		},
		{
			name:  "ListDeployments",
			reply: reply{body: golden(t, "deployments_list_7.0.json")},
			call: func(ctx context.Context, c *Client) (any, error) {
				ds, err := c.ListDeployments(ctx, ListOptions{Filters: map[string][]string{"blueprint_id": {"mariadb"}}, PageSize: 50})
				var ids []string
				for _, d := range ds {
					ids = append(ids, d.ID)
				}
				return ids, err
			},
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/deployments", Query: q("blueprint_id", "mariadb", "_offset", "0", "_size", "50")},
			result: []string{"osb-a", "osb-b"},
		},
		{
			name:  "SearchDeployments",
			reply: reply{body: golden(t, "deployments_list_7.0.json")},
			call: func(ctx context.Context, c *Client) (any, error) {
				ds, err := c.SearchDeployments(ctx, []FilterRule{
					{Key: "osb-instance-id", Values: []string{"a"}, Operator: FilterAnyOf, Type: FilterTypeLabel},
					{Key: "blueprint_id", Values: []string{"mariadb"}, Operator: FilterAnyOf, Type: FilterTypeAttribute},
					{Key: "osb-deleted", Operator: FilterIsNull, Type: FilterTypeLabel},
				}, ListOptions{Include: []string{"id", "labels"}})
				return len(ds), err
			},
			want: wantRequest{Method: "POST", Path: "/api/v3.1/searches/deployments", Query: q("_include", "id,labels", "_offset", "0", "_size", "1000"),
				Body: `{"filter_rules": [
					{"key": "osb-instance-id", "values": ["a"], "operator": "any_of", "type": "label"},
					{"key": "blueprint_id", "values": ["mariadb"], "operator": "any_of", "type": "attribute"},
					{"key": "osb-deleted", "values": [], "operator": "is_null", "type": "label"}]}`},
			result: 2,
		},
		{
			name:  "SearchDeployments without rules",
			reply: reply{body: `{"items": [], "metadata": {"pagination": {"total": 0, "size": 1000, "offset": 0}, "filtered": 0}}`},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.SearchDeployments(ctx, nil, ListOptions{})
			},
			want:   wantRequest{Method: "POST", Path: "/api/v3.1/searches/deployments", Query: q("_offset", "0", "_size", "1000"), Body: `{"filter_rules": []}`},
			result: []Deployment{},
		},
		{
			name:  "SetDeploymentLabels",
			reply: reply{body: dep},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.SetDeploymentLabels(ctx, "osb-1", []Label{{Key: "osb-plan", Value: "large"}, {Key: "env", Value: "prod"}})
			},
			want:   wantRequest{Method: "PATCH", Path: "/api/v3.1/deployments/osb-1", Body: `{"labels": [{"osb-plan": "large"}, {"env": "prod"}]}`},
			result: wantDep,
		},
		{
			name:  "SetDeploymentLabels empty clears",
			reply: reply{body: dep},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.SetDeploymentLabels(ctx, "osb-1", nil)
			},
			want: wantRequest{Method: "PATCH", Path: "/api/v3.1/deployments/osb-1", Body: `{"labels": []}`},
		},
		{
			name:  "DeploymentOutputs",
			reply: reply{body: golden(t, "outputs_7.0.json")},
			call:  func(ctx context.Context, c *Client) (any, error) { return c.DeploymentOutputs(ctx, "osb-5d7c") },
			want:  wantRequest{Method: "GET", Path: "/api/v3.1/deployments/osb-5d7c/outputs"},
			result: map[string]any{"endpoint": "10.0.0.17", "jdbc_url": "jdbc:mariadb://10.0.0.17:3306/orders",
				"creds": map[string]any{"user": "app", "password": nil}},
		},
		{
			name:    "DeploymentOutputs empty (4.3)",
			version: "4.3",
			reply:   reply{body: golden(t, "outputs_4.3.json")},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.DeploymentOutputs(ctx, "osb-5d7c0c4e") },
			want:    wantRequest{Method: "GET", Path: "/api/v3.1/deployments/osb-5d7c0c4e/outputs"},
			result:  map[string]any{},
		},
		{
			name:   "DeploymentOutputs null outputs",
			reply:  reply{body: `{"deployment_id": "osb-1", "outputs": null}`},
			call:   func(ctx context.Context, c *Client) (any, error) { return c.DeploymentOutputs(ctx, "osb-1") },
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/deployments/osb-1/outputs"},
			result: map[string]any{},
		},
		{
			name:   "DeploymentCapabilities",
			reply:  reply{body: golden(t, "capabilities_7.0.json")},
			call:   func(ctx context.Context, c *Client) (any, error) { return c.DeploymentCapabilities(ctx, "osb-5d7c") },
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/deployments/osb-5d7c/capabilities"},
			result: map[string]any{"port": 3306.0},
		},
		{
			name:  "DeleteDeployment 7.0",
			reply: reply{status: 204},
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DeleteDeployment(ctx, "osb-1", DeleteDeploymentOptions{DeleteLogs: true})
			},
			want: wantRequest{Method: "DELETE", Path: "/api/v3.1/deployments/osb-1", Query: q("force", "false", "delete_logs", "true")},
		},
	})
}

func TestExecutionMethods(t *testing.T) {
	exe := `{"id": "e1", "workflow_id": "install", "deployment_id": "osb-1", "status": "pending", "created_at": "2024-01-10T08:00:00.000Z"}`
	wantExe := Execution{ID: "e1", WorkflowID: "install", DeploymentID: "osb-1", Status: Pending, CreatedAt: mustTime(t, "2024-01-10T08:00:00.000Z")}
	cases := []methodCase{
		{
			name:  "StartExecution full",
			reply: reply{status: 201, body: exe},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.StartExecution(ctx, StartExecutionRequest{
					DeploymentID: "osb-1", WorkflowID: "scale",
					Parameters:            map[string]any{"scalable_entity_name": "db", "delta": 2},
					AllowCustomParameters: true, Force: true, DryRun: true, Queue: true,
				})
			},
			want: wantRequest{Method: "POST", Path: "/api/v3.1/executions",
				Body: `{"deployment_id": "osb-1", "workflow_id": "scale", "parameters": {"scalable_entity_name": "db", "delta": 2},
					"allow_custom_parameters": true, "force": true, "dry_run": true, "queue": true}`},
			result: wantExe,
		},
		{
			name:  "StartExecution minimal sends JSON false",
			reply: reply{status: 201, body: exe},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.StartExecution(ctx, StartExecutionRequest{DeploymentID: "osb-1", WorkflowID: "install"})
			},
			want: wantRequest{Method: "POST", Path: "/api/v3.1/executions",
				Body: `{"deployment_id": "osb-1", "workflow_id": "install", "allow_custom_parameters": false, "force": false, "dry_run": false, "queue": false}`},
			result: wantExe,
		},
		{
			name:  "GetExecution with include",
			reply: reply{body: exe},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.GetExecution(ctx, "e1", "id", "status", "error", "ended_at")
			},
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/executions/e1", Query: q("_include", "id,status,error,ended_at")},
			result: wantExe,
		},
		{
			name:  "ListExecutions latest delete",
			reply: reply{body: `{"items": [` + exe + `], "metadata": {"pagination": {"total": 4, "size": 1, "offset": 0}}}`},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListExecutions(ctx, ListOptions{
					Filters: map[string][]string{"deployment_id": {"osb-1"}, "workflow_id": {"delete_deployment_environment"}},
					Sort:    []string{"-created_at"},
					Limit:   1,
				})
			},
			want: wantRequest{Method: "GET", Path: "/api/v3.1/executions", Query: q(
				"deployment_id", "osb-1", "workflow_id", "delete_deployment_environment", "_sort", "-created_at", "_offset", "0", "_size", "1")},
			result: []Execution{wantExe},
		},
	}
	for _, a := range []struct {
		action CancelAction
		wire   string
	}{{Cancel, "cancel"}, {ForceCancel, "force-cancel"}, {Kill, "kill"}, {"", "cancel"}} {
		cases = append(cases, methodCase{
			name:  "CancelExecution " + a.wire + " from " + string(a.action),
			reply: reply{body: `{"id": "e1", "status": "cancelling"}`},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CancelExecution(ctx, "e1", a.action)
			},
			want:   wantRequest{Method: "POST", Path: "/api/v3.1/executions/e1", Body: `{"action": "` + a.wire + `"}`},
			result: Execution{ID: "e1", Status: Cancelling},
		})
	}
	runMethodCases(t, cases)
}

func TestUpdateMethods(t *testing.T) {
	upd := golden(t, "deployment_update_7.0.json")
	body := `{"blueprint_id": "mariadb-large", "inputs": {"node_count": 5}, "skip_install": false, "skip_uninstall": false,
		"skip_reinstall": true, "force": false, "ignore_failure": false, "install_first": false}`
	req := UpdateDeploymentRequest{BlueprintID: "mariadb-large", Inputs: map[string]any{"node_count": 5}, SkipReinstall: true}
	runMethodCases(t, []methodCase{
		{
			name:  "UpdateDeployment 7.0 POST",
			reply: reply{body: upd},
			call: func(ctx context.Context, c *Client) (any, error) {
				u, err := c.UpdateDeployment(ctx, "osb-5d7c", req)
				return u.ExecutionID, err
			},
			want:   wantRequest{Method: "POST", Path: "/api/v3.1/deployment-updates/osb-5d7c/update/initiate", Body: body},
			result: "a1b2-update",
		},
		{
			name:    "UpdateDeployment 6.3 PUT",
			version: "6.3.0",
			reply:   reply{body: golden(t, "deployment_update_4.5.json")},
			call: func(ctx context.Context, c *Client) (any, error) {
				u, err := c.UpdateDeployment(ctx, "osb-5d7c", req)
				return u.State, err
			},
			want:   wantRequest{Method: "PUT", Path: "/api/v3.1/deployment-updates/osb-5d7c/update/initiate", Body: body},
			result: "executing_workflow",
		},
		{
			name:  "UpdateDeployment inputs only, all options",
			reply: reply{body: upd},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateDeployment(ctx, "osb-5d7c", UpdateDeploymentRequest{
					Inputs: map[string]any{"db_name": "x"}, SkipInstall: true, SkipUninstall: true, Force: true,
					IgnoreFailure: true, InstallFirst: true, ReinstallList: []string{"db_1"},
				})
			},
			want: wantRequest{Method: "POST", Path: "/api/v3.1/deployment-updates/osb-5d7c/update/initiate",
				Body: `{"inputs": {"db_name": "x"}, "skip_install": true, "skip_uninstall": true, "skip_reinstall": false,
					"force": true, "ignore_failure": true, "install_first": true, "reinstall_list": ["db_1"]}`},
		},
		{
			name:  "GetDeploymentUpdate",
			reply: reply{body: upd},
			call: func(ctx context.Context, c *Client) (any, error) {
				u, err := c.GetDeploymentUpdate(ctx, "osb-5d7c-3f1b2c4d")
				return u.State, err
			},
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/deployment-updates/osb-5d7c-3f1b2c4d"},
			result: UpdateSuccessful,
		},
		{
			name:  "ListDeploymentUpdates",
			reply: reply{body: `{"items": [` + upd + `], "metadata": {"pagination": {"total": 1, "size": 1000, "offset": 0}}}`},
			call: func(ctx context.Context, c *Client) (any, error) {
				us, err := c.ListDeploymentUpdates(ctx, ListOptions{Filters: map[string][]string{"deployment_id": {"osb-5d7c"}}})
				var ids []string
				for _, u := range us {
					ids = append(ids, u.ID)
				}
				return ids, err
			},
			want:   wantRequest{Method: "GET", Path: "/api/v3.1/deployment-updates", Query: q("deployment_id", "osb-5d7c", "_offset", "0", "_size", "1000")},
			result: []string{"osb-5d7c-3f1b2c4d"},
		},
	})
}

func TestEmptyIDsAreRejected(t *testing.T) {
	fm := newFakeManager(t, always(200, `{}`))
	c := fm.client(t, WithManagerVersion("7.0"))
	ctx := testCtx(t)
	calls := map[string]func() error{
		"GetBlueprint":           func() error { _, err := c.GetBlueprint(ctx, ""); return err },
		"CreateDeployment":       func() error { _, err := c.CreateDeployment(ctx, "", CreateDeploymentRequest{}); return err },
		"GetDeployment":          func() error { _, err := c.GetDeployment(ctx, ""); return err },
		"DeleteDeployment":       func() error { return c.DeleteDeployment(ctx, "", DeleteDeploymentOptions{}) },
		"SetDeploymentLabels":    func() error { _, err := c.SetDeploymentLabels(ctx, "", nil); return err },
		"DeploymentOutputs":      func() error { _, err := c.DeploymentOutputs(ctx, ""); return err },
		"DeploymentCapabilities": func() error { _, err := c.DeploymentCapabilities(ctx, ""); return err },
		"StartExecution":         func() error { _, err := c.StartExecution(ctx, StartExecutionRequest{DeploymentID: "d"}); return err },
		"GetExecution":           func() error { _, err := c.GetExecution(ctx, ""); return err },
		"CancelExecution":        func() error { _, err := c.CancelExecution(ctx, "", Cancel); return err },
		"UpdateDeployment":       func() error { _, err := c.UpdateDeployment(ctx, "", UpdateDeploymentRequest{}); return err },
		"GetDeploymentUpdate":    func() error { _, err := c.GetDeploymentUpdate(ctx, ""); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s with an empty id: no error", name)
		}
	}
	if n := len(fm.requests()); n != 0 {
		t.Errorf("%d requests were sent for empty ids", n)
	}
}

func TestPathEscaping(t *testing.T) {
	fm := newFakeManager(t, always(200, `{"id": "a b/c"}`))
	if _, err := fm.client(t).GetDeployment(testCtx(t), "a b/c?d"); err != nil {
		t.Fatal(err)
	}
	r := fm.requests()[0]
	if r.Raw != "/api/v3.1/deployments/a%20b%2Fc%3Fd" || len(r.Query) != 0 {
		t.Errorf("escaped path = %q query %v, want /api/v3.1/deployments/a%%20b%%2Fc%%3Fd and no query", r.Raw, r.Query)
	}
}

func TestSuccessBodyProblems(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"HTML login page", "<html><body>Please log in</body></html>"},
		{"wrong type", `{"id": 12}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := newFakeManager(t, always(http.StatusOK, tt.body))
			_, err := fm.client(t).GetDeployment(testCtx(t), "osb-1")
			if err == nil {
				t.Fatal("no error")
			}
			if IsTransient(err) || IsNotFound(err) {
				t.Errorf("classified %v as transient or not found", err)
			}
		})
	}
}
