package osb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/osb"
	"github.com/google/go-cmp/cmp"
)

// successBroker answers every route with a fully populated result.
func successBroker() *fakeBroker {
	catalog := testCatalog()
	// Made once, so that BenchmarkLastOperation counts the handler's allocations alone.
	notUsable, repeatable := ptr(false), ptr(true)
	return &fakeBroker{
		CatalogFn: func(context.Context) (broker.Catalog, error) { return catalog, nil },
		ProvisionFn: func(context.Context, broker.ProvisionRequest) (broker.ProvisionResult, error) {
			return broker.ProvisionResult{Async: true, Operation: "op-provision-1", DashboardURL: "https://dashboard.example.com/inst-1"}, nil
		},
		UpdateFn: func(context.Context, broker.UpdateRequest) (broker.UpdateResult, error) {
			return broker.UpdateResult{Async: true, Operation: "op-update-1"}, nil
		},
		DeprovisionFn: func(context.Context, broker.DeprovisionRequest) (broker.DeprovisionResult, error) {
			return broker.DeprovisionResult{Async: true, Operation: "op-deprovision-1"}, nil
		},
		LastOperationFn: func(_ context.Context, req broker.LastOperationRequest) (broker.LastOperation, error) {
			return broker.LastOperation{
				State:            broker.StateFailed,
				Description:      "install workflow failed: node vm timed out",
				InstanceUsable:   notUsable,
				UpdateRepeatable: repeatable,
			}, nil
		},
		FetchInstanceFn: func(context.Context, broker.FetchInstanceRequest) (broker.InstanceDetails, error) {
			return broker.InstanceDetails{
				ServiceID:       "svc-1",
				PlanID:          "plan-1",
				DashboardURL:    "https://dashboard.example.com/inst-1",
				Parameters:      map[string]any{"size": "large", "replicas": 3.0},
				MaintenanceInfo: &broker.MaintenanceInfo{Version: "1.2.0", Description: "OS patches"},
			}, nil
		},
		BindFn: func(context.Context, broker.BindRequest) (broker.BindResult, error) {
			return broker.BindResult{Credentials: map[string]any{"host": "db.example.com", "port": 5432.0, "password": "pw"}}, nil
		},
		FetchBindingFn: func(context.Context, broker.FetchBindingRequest) (broker.BindingDetails, error) {
			return broker.BindingDetails{
				Credentials: map[string]any{"host": "db.example.com", "port": 5432.0, "password": "pw"},
				Parameters:  map[string]any{"role": "read-only"},
			}, nil
		},
	}
}

func TestRoutesSuccess(t *testing.T) {
	tests := []struct {
		name   string
		method string
		target string
		body   string
		// change adapts successBroker for the case.
		change     func(f *fakeBroker)
		wantStatus int
		golden     string
	}{
		{name: "catalog", method: http.MethodGet, target: "/v2/catalog", wantStatus: http.StatusOK, golden: "catalog"},
		{name: "provision async", method: http.MethodPut, target: instancePath + "?accepts_incomplete=true", body: provisionJSON,
			wantStatus: http.StatusAccepted, golden: "provision_202"},
		{name: "provision existing", method: http.MethodPut, target: instancePath, body: provisionJSON,
			change: func(f *fakeBroker) {
				f.ProvisionFn = func(context.Context, broker.ProvisionRequest) (broker.ProvisionResult, error) {
					return broker.ProvisionResult{DashboardURL: "https://dashboard.example.com/inst-1"}, nil
				}
			},
			wantStatus: http.StatusOK, golden: "provision_200"},
		{name: "fetch instance", method: http.MethodGet, target: instancePath, wantStatus: http.StatusOK, golden: "fetch_instance"},
		{name: "update async", method: http.MethodPatch, target: instancePath + "?accepts_incomplete=true", body: updateJSON,
			wantStatus: http.StatusAccepted, golden: "update_202"},
		{name: "update sync", method: http.MethodPatch, target: instancePath, body: updateJSON,
			change: func(f *fakeBroker) {
				f.UpdateFn = func(context.Context, broker.UpdateRequest) (broker.UpdateResult, error) {
					return broker.UpdateResult{}, nil
				}
			},
			wantStatus: http.StatusOK, golden: "update_200"},
		{name: "deprovision async", method: http.MethodDelete, target: instancePath + "?service_id=svc-1&plan_id=plan-1&accepts_incomplete=true",
			wantStatus: http.StatusAccepted, golden: "deprovision_202"},
		{name: "deprovision sync", method: http.MethodDelete, target: instancePath + "?service_id=svc-1&plan_id=plan-1",
			change: func(f *fakeBroker) {
				f.DeprovisionFn = func(context.Context, broker.DeprovisionRequest) (broker.DeprovisionResult, error) {
					return broker.DeprovisionResult{}, nil
				}
			},
			wantStatus: http.StatusOK, golden: "deprovision_200"},
		{name: "instance last_operation", method: http.MethodGet, target: instanceLastOp + "?operation=op-provision-1",
			wantStatus: http.StatusOK, golden: "last_operation_instance"},
		{name: "bind new", method: http.MethodPut, target: bindingPath, body: bindJSON, wantStatus: http.StatusCreated, golden: "bind_201"},
		{name: "bind existing", method: http.MethodPut, target: bindingPath, body: bindJSON,
			change: func(f *fakeBroker) {
				f.BindFn = func(context.Context, broker.BindRequest) (broker.BindResult, error) {
					return broker.BindResult{Existing: true, Credentials: map[string]any{"uri": "postgres://db.example.com/app"}}, nil
				}
			},
			wantStatus: http.StatusOK, golden: "bind_200"},
		{name: "fetch binding", method: http.MethodGet, target: bindingPath, wantStatus: http.StatusOK, golden: "fetch_binding"},
		{name: "unbind", method: http.MethodDelete, target: bindingPath + "?service_id=svc-1&plan_id=plan-1",
			wantStatus: http.StatusOK, golden: "unbind"},
		{name: "binding last_operation", method: http.MethodGet, target: bindingLastOpPath,
			wantStatus: http.StatusOK, golden: "last_operation_binding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := successBroker()
			if tt.change != nil {
				tt.change(f)
			}
			w := do(t, newHandler(t, f), tt.method, tt.target, tt.body)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", w.Code, tt.wantStatus, w.Body.Bytes())
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			assertGolden(t, tt.golden, w.Body.Bytes())
		})
	}
}

// TestRequestsReachBroker checks what each route hands the broker.
func TestRequestsReachBroker(t *testing.T) {
	k8s := identityHeader(t, "kubernetes", map[string]any{"username": "alice", "uid": "u-1"})
	wantInfo := broker.RequestInfo{
		APIVersion: "2.17",
		RequestID:  testRequestID,
		Identity: broker.Identity{
			Platform: "kubernetes",
			User:     "alice",
			Value:    map[string]any{"username": "alice", "uid": "u-1"},
		},
	}
	opts := []reqOpt{
		withHeader("X-Broker-API-Request-Identity", testRequestID),
		withHeader("X-Broker-API-Originating-Identity", k8s),
	}
	var got any
	record := func(v any) { got = v }
	f := &fakeBroker{
		ProvisionFn: func(_ context.Context, req broker.ProvisionRequest) (broker.ProvisionResult, error) {
			record(req)
			return broker.ProvisionResult{}, nil
		},
		UpdateFn: func(_ context.Context, req broker.UpdateRequest) (broker.UpdateResult, error) {
			record(req)
			return broker.UpdateResult{}, nil
		},
		DeprovisionFn: func(_ context.Context, req broker.DeprovisionRequest) (broker.DeprovisionResult, error) {
			record(req)
			return broker.DeprovisionResult{}, nil
		},
		LastOperationFn: func(_ context.Context, req broker.LastOperationRequest) (broker.LastOperation, error) {
			record(req)
			return broker.LastOperation{State: broker.StateSucceeded}, nil
		},
		FetchInstanceFn: func(_ context.Context, req broker.FetchInstanceRequest) (broker.InstanceDetails, error) {
			record(req)
			return broker.InstanceDetails{}, nil
		},
		BindFn: func(_ context.Context, req broker.BindRequest) (broker.BindResult, error) {
			record(req)
			return broker.BindResult{}, nil
		},
		FetchBindingFn: func(_ context.Context, req broker.FetchBindingRequest) (broker.BindingDetails, error) {
			record(req)
			return broker.BindingDetails{}, nil
		},
		UnbindFn: func(_ context.Context, req broker.UnbindRequest) (broker.UnbindResult, error) {
			record(req)
			return broker.UnbindResult{}, nil
		},
	}
	h := newHandler(t, f)
	tests := []struct {
		name   string
		method string
		target string
		body   string
		want   any
	}{
		{
			name: "provision", method: http.MethodPut, target: instancePath + "?accepts_incomplete=true",
			body: `{"service_id":"svc-1","plan_id":"plan-1","organization_guid":"org-1","space_guid":"space-1",
				"context":{"platform":"kubernetes","namespace":"ns"},"parameters":{"size":"large"},
				"maintenance_info":{"version":"1.2.0","description":"patches"},"vendor_extension":[1,2]}`,
			want: broker.ProvisionRequest{
				RequestInfo: wantInfo, InstanceID: "inst-1", ServiceID: "svc-1", PlanID: "plan-1",
				OrganizationGUID: "org-1", SpaceGUID: "space-1",
				Context:           json.RawMessage(`{"platform":"kubernetes","namespace":"ns"}`),
				Parameters:        json.RawMessage(`{"size":"large"}`),
				MaintenanceInfo:   &broker.MaintenanceInfo{Version: "1.2.0", Description: "patches"},
				AcceptsIncomplete: true,
			},
		},
		{
			name: "update", method: http.MethodPatch, target: instancePath + "?accepts_incomplete=false",
			body: `{"service_id":"svc-1","plan_id":"plan-2","parameters":{"size":"small"},"context":{"platform":"kubernetes"},
				"previous_values":{"service_id":"svc-1","plan_id":"plan-1","organization_id":"org-1","space_id":"space-1",
				"maintenance_info":{"version":"1.1.0"}},"maintenance_info":{"version":"1.2.0"}}`,
			want: broker.UpdateRequest{
				RequestInfo: wantInfo, InstanceID: "inst-1", ServiceID: "svc-1", PlanID: "plan-2",
				Parameters: json.RawMessage(`{"size":"small"}`),
				Context:    json.RawMessage(`{"platform":"kubernetes"}`),
				PreviousValues: &broker.PreviousValues{
					ServiceID: "svc-1", PlanID: "plan-1", OrganizationID: "org-1", SpaceID: "space-1",
					MaintenanceInfo: &broker.MaintenanceInfo{Version: "1.1.0"},
				},
				MaintenanceInfo: &broker.MaintenanceInfo{Version: "1.2.0"},
			},
		},
		{
			// osb-checker and some platforms send an empty maintenance_info: no version.
			name: "provision with an empty maintenance_info", method: http.MethodPut, target: instancePath + "?accepts_incomplete=true",
			body: `{"service_id":"svc-1","plan_id":"plan-1","context":{"platform":"kubernetes"},"maintenance_info":{}}`,
			want: broker.ProvisionRequest{
				RequestInfo: wantInfo, InstanceID: "inst-1", ServiceID: "svc-1", PlanID: "plan-1",
				Context: json.RawMessage(`{"platform":"kubernetes"}`), AcceptsIncomplete: true,
			},
		},
		{
			name: "update with empty maintenance_info objects", method: http.MethodPatch, target: instancePath,
			body: `{"service_id":"svc-1","maintenance_info":{"x_vendor":1},"previous_values":{"plan_id":"plan-1","maintenance_info":{}}}`,
			want: broker.UpdateRequest{RequestInfo: wantInfo, InstanceID: "inst-1", ServiceID: "svc-1",
				PreviousValues: &broker.PreviousValues{PlanID: "plan-1"}},
		},
		{
			name: "update without plan or parameters", method: http.MethodPatch, target: instancePath,
			body: `{"service_id":"svc-1","parameters":null}`,
			want: broker.UpdateRequest{RequestInfo: wantInfo, InstanceID: "inst-1", ServiceID: "svc-1"},
		},
		{
			name: "deprovision", method: http.MethodDelete, target: instancePath + "?service_id=svc-1&plan_id=plan-1&accepts_incomplete=true",
			want: broker.DeprovisionRequest{RequestInfo: wantInfo, InstanceID: "inst-1", ServiceID: "svc-1", PlanID: "plan-1", AcceptsIncomplete: true},
		},
		{
			name: "fetch instance", method: http.MethodGet, target: instancePath + "?service_id=svc-1&plan_id=plan-1",
			want: broker.FetchInstanceRequest{RequestInfo: wantInfo, InstanceID: "inst-1", ServiceID: "svc-1", PlanID: "plan-1"},
		},
		{
			name: "instance last_operation", method: http.MethodGet,
			target: instanceLastOp + "?service_id=svc-1&plan_id=plan-1&operation=op%20with%2Fodd%3Dchars",
			want: broker.LastOperationRequest{RequestInfo: wantInfo, InstanceID: "inst-1", ServiceID: "svc-1", PlanID: "plan-1",
				Operation: "op with/odd=chars"},
		},
		{
			name: "binding last_operation", method: http.MethodGet, target: bindingLastOpPath + "?operation=op-2",
			want: broker.LastOperationRequest{RequestInfo: wantInfo, InstanceID: "inst-1", BindingID: "bind-1", Operation: "op-2"},
		},
		{
			name: "bind", method: http.MethodPut, target: bindingPath + "?accepts_incomplete=true",
			body: `{"service_id":"svc-1","plan_id":"plan-1","bind_resource":{"app_guid":"app-1","route":"r"},
				"context":{"platform":"kubernetes"},"parameters":{"role":"ro"},"predecessor_binding_id":"bind-0"}`,
			want: broker.BindRequest{
				RequestInfo: wantInfo, InstanceID: "inst-1", BindingID: "bind-1", ServiceID: "svc-1", PlanID: "plan-1",
				AppGUID:              "app-1",
				BindResource:         map[string]any{"app_guid": "app-1", "route": "r"},
				Context:              json.RawMessage(`{"platform":"kubernetes"}`),
				Parameters:           json.RawMessage(`{"role":"ro"}`),
				PredecessorBindingID: "bind-0",
				AcceptsIncomplete:    true,
			},
		},
		{
			name: "bind with deprecated app_guid", method: http.MethodPut, target: bindingPath,
			body: `{"service_id":"svc-1","plan_id":"plan-1","app_guid":"app-0","bind_resource":{"app_guid":"app-1"}}`,
			want: broker.BindRequest{
				RequestInfo: wantInfo, InstanceID: "inst-1", BindingID: "bind-1", ServiceID: "svc-1", PlanID: "plan-1",
				AppGUID: "app-0", BindResource: map[string]any{"app_guid": "app-1"},
			},
		},
		{
			name: "fetch binding", method: http.MethodGet, target: bindingPath + "?service_id=svc-1&plan_id=plan-1",
			want: broker.FetchBindingRequest{RequestInfo: wantInfo, InstanceID: "inst-1", BindingID: "bind-1", ServiceID: "svc-1", PlanID: "plan-1"},
		},
		{
			name: "unbind", method: http.MethodDelete, target: bindingPath + "?service_id=svc-1&plan_id=plan-1&accepts_incomplete=false",
			want: broker.UnbindRequest{RequestInfo: wantInfo, InstanceID: "inst-1", BindingID: "bind-1", ServiceID: "svc-1", PlanID: "plan-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			w := do(t, h, tt.method, tt.target, tt.body, opts...)
			if w.Code >= 300 {
				t.Fatalf("status = %d, body %s", w.Code, w.Body.Bytes())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("broker request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionHeader(t *testing.T) {
	const hint = "supported versions are 2.13 to 2.17"
	tests := []struct {
		name       string
		opt        reqOpt
		wantStatus int
	}{
		{"missing", withoutHeader("X-Broker-API-Version"), http.StatusPreconditionFailed},
		{"empty", withHeader("X-Broker-API-Version", ""), http.StatusPreconditionFailed},
		{"2.12", withHeader("X-Broker-API-Version", "2.12"), http.StatusPreconditionFailed},
		{"2.18", withHeader("X-Broker-API-Version", "2.18"), http.StatusPreconditionFailed},
		{"3.0", withHeader("X-Broker-API-Version", "3.0"), http.StatusPreconditionFailed},
		{"1.17", withHeader("X-Broker-API-Version", "1.17"), http.StatusPreconditionFailed},
		{"abc", withHeader("X-Broker-API-Version", "abc"), http.StatusPreconditionFailed},
		{"2", withHeader("X-Broker-API-Version", "2"), http.StatusPreconditionFailed},
		{"2.", withHeader("X-Broker-API-Version", "2."), http.StatusPreconditionFailed},
		{".17", withHeader("X-Broker-API-Version", ".17"), http.StatusPreconditionFailed},
		{"2.17.1", withHeader("X-Broker-API-Version", "2.17.1"), http.StatusPreconditionFailed},
		{"-2.17", withHeader("X-Broker-API-Version", "-2.17"), http.StatusPreconditionFailed},
		{"huge", withHeader("X-Broker-API-Version", "2.99999999999999999999999"), http.StatusPreconditionFailed},
		{"2.13", withHeader("X-Broker-API-Version", "2.13"), 0},
		{"2.14", withHeader("X-Broker-API-Version", "2.14"), 0},
		{"2.17", withHeader("X-Broker-API-Version", "2.17"), 0},
	}
	h := newHandler(t, successBroker())
	for _, rt := range allRoutes {
		for _, tt := range tests {
			t.Run(rt.name+"/"+tt.name, func(t *testing.T) {
				w := do(t, h, rt.method, rt.target, rt.body, tt.opt)
				if tt.wantStatus == 0 {
					if w.Code >= 300 {
						t.Errorf("status = %d, want success (body %s)", w.Code, w.Body.Bytes())
					}
					return
				}
				if w.Code != tt.wantStatus {
					t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
				}
				if d := description(t, w); !strings.HasSuffix(d, hint) {
					t.Errorf("description = %q, want it to end with %q", d, hint)
				}
			})
		}
	}
}

func TestMissingVersionStatusConfigurable(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MissingVersionStatus = http.StatusBadRequest
	h := osb.NewHandler(successBroker(), cfg)
	if w := do(t, h, http.MethodGet, "/v2/catalog", "", withoutHeader("X-Broker-API-Version")); w.Code != http.StatusBadRequest {
		t.Errorf("missing version: status = %d, want 400", w.Code)
	}
	if w := do(t, h, http.MethodGet, "/v2/catalog", "", withHeader("X-Broker-API-Version", "2.18")); w.Code != http.StatusPreconditionFailed {
		t.Errorf("unsupported version: status = %d, want 412", w.Code)
	}
}

func TestVersionRangeConfigurable(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MinAPIVersion = osb.APIVersion{Major: 2, Minor: 15}
	cfg.MaxAPIVersion = osb.APIVersion{Major: 2, Minor: 16}
	h := osb.NewHandler(successBroker(), cfg)
	for v, want := range map[string]int{"2.14": 412, "2.15": 200, "2.16": 200, "2.17": 412} {
		w := do(t, h, http.MethodGet, "/v2/catalog", "", withHeader("X-Broker-API-Version", v))
		if w.Code != want {
			t.Errorf("version %s: status = %d, want %d", v, w.Code, want)
		}
		if want == 412 && !strings.Contains(description(t, w), "2.15 to 2.16") {
			t.Errorf("version %s: description %q does not name the range", v, description(t, w))
		}
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name string
		opt  reqOpt
		ok   bool
	}{
		{"none", withoutHeader("Authorization"), false},
		{"wrong user", withAuth("intruder", testPassword), false},
		{"wrong password", withAuth(testUser, "guess"), false},
		{"user of one pair, password of the other", withAuth(testUser, rotatedPass), false},
		{"empty", withAuth("", ""), false},
		{"not basic", withHeader("Authorization", "Bearer abc"), false},
		{"garbage basic", withHeader("Authorization", "Basic !!!"), false},
		{"prefix of password", withAuth(testUser, testPassword[:4]), false},
		{"first credential", withAuth(testUser, testPassword), true},
		{"rotated credential", withAuth(rotatedUser, rotatedPass), true},
	}
	h := newHandler(t, successBroker())
	for _, rt := range allRoutes {
		for _, tt := range tests {
			t.Run(rt.name+"/"+tt.name, func(t *testing.T) {
				w := do(t, h, rt.method, rt.target, rt.body, tt.opt)
				if tt.ok {
					if w.Code >= 300 {
						t.Errorf("status = %d, want success (body %s)", w.Code, w.Body.Bytes())
					}
					return
				}
				assertResponse(t, w, http.StatusUnauthorized, `{"description":"missing or invalid credentials"}`)
				if got, want := w.Header().Get("WWW-Authenticate"), `Basic realm="cfybroker"`; got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			})
		}
	}
}

func TestNoCredentialsRefusesEverything(t *testing.T) {
	cfg := testConfig(nil)
	cfg.Credentials = nil
	h := osb.NewHandler(successBroker(), cfg)
	if w := do(t, h, http.MethodGet, "/v2/catalog", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", w.Code)
	}
}

// TestCheckOrder pins the order of the checks: version, auth, route, identity.
func TestCheckOrder(t *testing.T) {
	noAuth := withoutHeader("Authorization")
	noVersion := withoutHeader("X-Broker-API-Version")
	badIdentity := withHeader("X-Broker-API-Originating-Identity", "garbage")
	tests := []struct {
		name       string
		method     string
		target     string
		opts       []reqOpt
		wantStatus int
	}{
		{"no version and no auth", http.MethodGet, "/v2/catalog", []reqOpt{noVersion, noAuth}, 412},
		{"bad version and no auth", http.MethodGet, "/v2/catalog", []reqOpt{withHeader("X-Broker-API-Version", "9.9"), noAuth}, 412},
		{"no auth", http.MethodGet, "/v2/catalog", []reqOpt{noAuth}, 401},
		{"unknown route without version", http.MethodGet, "/v2/nothing", []reqOpt{noVersion}, 412},
		{"unknown route without auth", http.MethodGet, "/v2/nothing", []reqOpt{noAuth}, 401},
		{"unknown route", http.MethodGet, "/v2/nothing", nil, 404},
		{"wrong method without auth", http.MethodPost, "/v2/catalog", []reqOpt{noAuth}, 401},
		{"wrong method", http.MethodPost, "/v2/catalog", nil, 405},
		{"wrong method with bad identity", http.MethodPost, "/v2/catalog", []reqOpt{badIdentity}, 405},
		{"bad identity without auth", http.MethodGet, "/v2/catalog", []reqOpt{badIdentity, noAuth}, 401},
		{"bad identity", http.MethodGet, "/v2/catalog", []reqOpt{badIdentity}, 400},
	}
	h := newHandler(t, successBroker())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, h, tt.method, tt.target, "", tt.opts...)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", w.Code, tt.wantStatus, w.Body.Bytes())
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if description(t, w) == "" {
				t.Error("error body has no description")
			}
		})
	}
}

func TestUnknownRoutes(t *testing.T) {
	h := newHandler(t, successBroker())
	for _, target := range []string{
		"/", "/v2", "/v2/", "/v2/catalog/", "/v3/catalog", "/v2/service_instances", "/v2/service_instances/",
		"/v2/service_instances/inst-1/", "/v2/service_instances/inst-1/service_bindings",
		"/v2/service_instances/inst-1/service_bindings/bind-1/extra",
		"/v2/service_instances/inst-1/last_operation/x",
		"/v2//catalog", "/v2/./catalog", "/v2/x/../catalog", "/v2/catalog/.",
	} {
		t.Run(target, func(t *testing.T) {
			w := do(t, h, http.MethodGet, target, "")
			if w.Code != http.StatusNotFound {
				t.Fatalf("status = %d, want 404 (body %s)", w.Code, w.Body.Bytes())
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if description(t, w) == "" {
				t.Error("404 body has no description")
			}
			if got := w.Header().Get("X-Broker-API-Request-Identity"); got != generatedID {
				t.Errorf("request id = %q, want %q", got, generatedID)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	tests := []struct {
		target    string
		method    string
		wantAllow string
	}{
		{"/v2/catalog", http.MethodPost, "GET"},
		{"/v2/catalog", http.MethodHead, "GET"},
		{"/v2/catalog", http.MethodPut, "GET"},
		{instancePath, http.MethodPost, "DELETE, GET, PATCH, PUT"},
		{instancePath, "get", "DELETE, GET, PATCH, PUT"},
		{instanceLastOp, http.MethodDelete, "GET"},
		{bindingPath, http.MethodPatch, "DELETE, GET, PUT"},
		{bindingLastOpPath, http.MethodPut, "GET"},
	}
	h := newHandler(t, successBroker())
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			w := do(t, h, tt.method, tt.target, "")
			if w.Code != http.StatusMethodNotAllowed {
				t.Fatalf("status = %d, want 405", w.Code)
			}
			if got := w.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if tt.method != http.MethodHead && !strings.Contains(description(t, w), tt.wantAllow) {
				t.Errorf("description %q does not list the allowed methods", description(t, w))
			}
		})
	}
}

func TestRequestIDEchoed(t *testing.T) {
	failing := successBroker()
	failing.CatalogFn = func(context.Context) (broker.Catalog, error) { return broker.Catalog{}, errors.New("boom") }
	tests := []struct {
		name    string
		f       *fakeBroker
		opts    []reqOpt
		target  string
		status  int
		wantID  string
		fromReq bool
	}{
		{name: "success", f: successBroker(), target: "/v2/catalog", status: 200},
		{name: "412", f: successBroker(), target: "/v2/catalog", status: 412, opts: []reqOpt{withoutHeader("X-Broker-API-Version")}},
		{name: "401", f: successBroker(), target: "/v2/catalog", status: 401, opts: []reqOpt{withoutHeader("Authorization")}},
		{name: "404", f: successBroker(), target: "/nope", status: 404},
		{name: "500", f: failing, target: "/v2/catalog", status: 500},
	}
	for _, tt := range tests {
		for _, given := range []bool{true, false} {
			name := tt.name + "/generated"
			opts := tt.opts
			want := generatedID
			if given {
				name = tt.name + "/given"
				opts = append([]reqOpt{withHeader("X-Broker-API-Request-Identity", testRequestID)}, opts...)
				want = testRequestID
			}
			t.Run(name, func(t *testing.T) {
				w := do(t, newHandler(t, tt.f), http.MethodGet, tt.target, "", opts...)
				if w.Code != tt.status {
					t.Errorf("status = %d, want %d", w.Code, tt.status)
				}
				if got := w.Header().Get("X-Broker-API-Request-Identity"); got != want {
					t.Errorf("X-Broker-API-Request-Identity = %q, want %q", got, want)
				}
			})
		}
	}
}

func TestDefaultRequestIDIsUUID(t *testing.T) {
	cfg := testConfig(nil)
	cfg.NewRequestID = nil
	h := osb.NewHandler(successBroker(), cfg)
	a := do(t, h, http.MethodGet, "/v2/catalog", "").Header().Get("X-Broker-API-Request-Identity")
	b := do(t, h, http.MethodGet, "/v2/catalog", "").Header().Get("X-Broker-API-Request-Identity")
	if len(a) != 36 || strings.Count(a, "-") != 4 || a == b {
		t.Errorf("generated ids %q, %q: want two distinct UUIDs", a, b)
	}
}

func TestLastOperationRetryAfter(t *testing.T) {
	tests := []struct {
		retryAfter time.Duration
		want       string
	}{
		{0, ""},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{30 * time.Second, "30"},
	}
	for _, tt := range tests {
		t.Run(tt.retryAfter.String(), func(t *testing.T) {
			f := &fakeBroker{LastOperationFn: func(context.Context, broker.LastOperationRequest) (broker.LastOperation, error) {
				return broker.LastOperation{State: broker.StateInProgress, RetryAfter: tt.retryAfter}, nil
			}}
			h := newHandler(t, f)
			for _, target := range []string{instanceLastOp, bindingLastOpPath} {
				w := do(t, h, http.MethodGet, target, "")
				assertResponse(t, w, http.StatusOK, `{"state":"in progress"}`)
				if got := w.Header().Get("Retry-After"); got != tt.want {
					t.Errorf("%s: Retry-After = %q, want %q", target, got, tt.want)
				}
			}
		})
	}
}

func TestEmptyResultsRenderAsObjects(t *testing.T) {
	h := newHandler(t, &fakeBroker{})
	tests := []struct {
		rt   routeCase
		want string
	}{
		{allRoutes[1], `{}`},
		{allRoutes[2], `{"service_id":"","plan_id":""}`},
		{allRoutes[3], `{}`},
		{allRoutes[4], `{}`},
		{allRoutes[6], `{"credentials":{}}`},
		{allRoutes[7], `{"credentials":{}}`},
		{allRoutes[8], `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.rt.name, func(t *testing.T) {
			w := do(t, h, tt.rt.method, tt.rt.target, tt.rt.body)
			if !bytes.Equal(bytes.TrimSpace(w.Body.Bytes()), []byte(tt.want)) {
				t.Errorf("body = %s, want %s", w.Body.Bytes(), tt.want)
			}
		})
	}
}

func TestLogging(t *testing.T) {
	var logs bytes.Buffer
	f := successBroker()
	f.UpdateFn = func(context.Context, broker.UpdateRequest) (broker.UpdateResult, error) {
		return broker.UpdateResult{}, errors.New("store: dial tcp 10.0.0.7:5432: connection refused")
	}
	h := osb.NewHandler(f, testConfig(&logs))
	cf := identityHeader(t, "cloudfoundry", map[string]any{"user_id": "user-7"})
	w := do(t, h, http.MethodPut, bindingPath+"?accepts_incomplete=true",
		`{"service_id":"svc-1","plan_id":"plan-1","parameters":{"token":"body-secret-value"}}`,
		withHeader("X-Broker-API-Request-Identity", testRequestID),
		withHeader("X-Broker-API-Originating-Identity", cf))
	if w.Code != http.StatusCreated {
		t.Fatalf("bind status = %d", w.Code)
	}
	w = do(t, h, http.MethodPatch, instancePath, updateJSON, withHeader("X-Broker-API-Request-Identity", "req-fail"))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("update status = %d", w.Code)
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want one per request:\n%s", len(lines), logs.String())
	}
	var bind, upd map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &bind); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &upd); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]any{bind, upd} {
		delete(m, "time")
		if _, ok := m["duration_ms"].(float64); !ok {
			t.Errorf("duration_ms missing in %v", m)
		}
		delete(m, "duration_ms")
	}
	wantBind := map[string]any{
		"level": "INFO", "msg": "osb request",
		"method": "PUT", "route": "/v2/service_instances/{instance_id}/service_bindings/{binding_id}",
		"status": 201.0, "request_id": testRequestID, "instance_id": "inst-1", "binding_id": "bind-1",
		"identity_platform": "cloudfoundry", "identity_user": "user-7", "api_version": "2.17",
	}
	if diff := cmp.Diff(wantBind, bind); diff != "" {
		t.Errorf("bind log line mismatch (-want +got):\n%s", diff)
	}
	wantUpdate := map[string]any{
		"level": "ERROR", "msg": "osb request",
		"method": "PATCH", "route": "/v2/service_instances/{instance_id}",
		"status": 500.0, "request_id": "req-fail", "instance_id": "inst-1", "binding_id": "",
		"identity_platform": "", "identity_user": "", "api_version": "2.17",
		"error": "store: dial tcp 10.0.0.7:5432: connection refused",
	}
	if diff := cmp.Diff(wantUpdate, upd); diff != "" {
		t.Errorf("update log line mismatch (-want +got):\n%s", diff)
	}
	for _, secret := range []string{testPassword, "Authorization", "Basic ", "body-secret-value", "db.example.com", "pw"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs.String())
		}
	}
}

func TestBrokerPanicIs500(t *testing.T) {
	var logs bytes.Buffer
	f := &fakeBroker{FetchInstanceFn: func(context.Context, broker.FetchInstanceRequest) (broker.InstanceDetails, error) {
		panic("nil map write in broker")
	}}
	h := osb.NewHandler(f, testConfig(&logs))
	w := do(t, h, http.MethodGet, instancePath, "", withHeader("X-Broker-API-Request-Identity", testRequestID))
	assertResponse(t, w, http.StatusInternalServerError, `{"description":"internal error, correlation id `+testRequestID+`"}`)
	if !strings.Contains(logs.String(), "nil map write in broker") {
		t.Errorf("the panic is not logged:\n%s", logs.String())
	}
}

func TestNewHandlerPanicsOnBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		b      osb.Broker
		change func(*osb.Config)
	}{
		{"nil broker", nil, func(*osb.Config) {}},
		{"empty password", &fakeBroker{}, func(c *osb.Config) { c.Credentials = []osb.Credential{{Username: "u"}} }},
		{"empty username", &fakeBroker{}, func(c *osb.Config) { c.Credentials = []osb.Credential{{Password: "p"}} }},
		{"min above max", &fakeBroker{}, func(c *osb.Config) {
			c.MinAPIVersion, c.MaxAPIVersion = osb.APIVersion{Major: 2, Minor: 17}, osb.APIVersion{Major: 2, Minor: 13}
		}},
		{"missing version status", &fakeBroker{}, func(c *osb.Config) { c.MissingVersionStatus = 418 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewHandler did not panic")
				}
			}()
			cfg := testConfig(nil)
			tt.change(&cfg)
			osb.NewHandler(tt.b, cfg)
		})
	}
}

func TestCredentialStringHidesPassword(t *testing.T) {
	cfg := testConfig(nil)
	for _, s := range []string{cfg.Credentials[0].String(), fmt.Sprintf("%+v %v", cfg, cfg)} {
		if strings.Contains(s, testPassword) {
			t.Errorf("%q shows the password", s)
		}
	}
}

func TestServedThroughHTTPServer(t *testing.T) {
	srv := httptest.NewServer(newHandler(t, successBroker()))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPut, srv.URL+instancePath+"?accepts_incomplete=true", strings.NewReader(provisionJSON))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Broker-API-Version", "2.14")
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(rotatedUser, rotatedPass)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("status = %d, want 202", resp.StatusCode)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body["operation"] != "op-provision-1" {
		t.Errorf("body = %v", body)
	}
}
