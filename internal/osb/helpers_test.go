package osb_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/osb"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fakeBroker is a function-field fake of osb.Broker. A nil field answers the zero
// result and no error.
type fakeBroker struct {
	CatalogFn       func(ctx context.Context) (broker.Catalog, error)
	ProvisionFn     func(ctx context.Context, req broker.ProvisionRequest) (broker.ProvisionResult, error)
	UpdateFn        func(ctx context.Context, req broker.UpdateRequest) (broker.UpdateResult, error)
	DeprovisionFn   func(ctx context.Context, req broker.DeprovisionRequest) (broker.DeprovisionResult, error)
	LastOperationFn func(ctx context.Context, req broker.LastOperationRequest) (broker.LastOperation, error)
	FetchInstanceFn func(ctx context.Context, req broker.FetchInstanceRequest) (broker.InstanceDetails, error)
	BindFn          func(ctx context.Context, req broker.BindRequest) (broker.BindResult, error)
	FetchBindingFn  func(ctx context.Context, req broker.FetchBindingRequest) (broker.BindingDetails, error)
	UnbindFn        func(ctx context.Context, req broker.UnbindRequest) (broker.UnbindResult, error)
}

var _ osb.Broker = (*fakeBroker)(nil)

func (f *fakeBroker) Catalog(ctx context.Context) (broker.Catalog, error) {
	if f.CatalogFn == nil {
		return broker.Catalog{}, nil
	}
	return f.CatalogFn(ctx)
}

func (f *fakeBroker) Provision(ctx context.Context, req broker.ProvisionRequest) (broker.ProvisionResult, error) {
	if f.ProvisionFn == nil {
		return broker.ProvisionResult{}, nil
	}
	return f.ProvisionFn(ctx, req)
}

func (f *fakeBroker) Update(ctx context.Context, req broker.UpdateRequest) (broker.UpdateResult, error) {
	if f.UpdateFn == nil {
		return broker.UpdateResult{}, nil
	}
	return f.UpdateFn(ctx, req)
}

func (f *fakeBroker) Deprovision(ctx context.Context, req broker.DeprovisionRequest) (broker.DeprovisionResult, error) {
	if f.DeprovisionFn == nil {
		return broker.DeprovisionResult{}, nil
	}
	return f.DeprovisionFn(ctx, req)
}

func (f *fakeBroker) LastOperation(ctx context.Context, req broker.LastOperationRequest) (broker.LastOperation, error) {
	if f.LastOperationFn == nil {
		return broker.LastOperation{State: broker.StateInProgress}, nil
	}
	return f.LastOperationFn(ctx, req)
}

func (f *fakeBroker) FetchInstance(ctx context.Context, req broker.FetchInstanceRequest) (broker.InstanceDetails, error) {
	if f.FetchInstanceFn == nil {
		return broker.InstanceDetails{}, nil
	}
	return f.FetchInstanceFn(ctx, req)
}

func (f *fakeBroker) Bind(ctx context.Context, req broker.BindRequest) (broker.BindResult, error) {
	if f.BindFn == nil {
		return broker.BindResult{}, nil
	}
	return f.BindFn(ctx, req)
}

func (f *fakeBroker) FetchBinding(ctx context.Context, req broker.FetchBindingRequest) (broker.BindingDetails, error) {
	if f.FetchBindingFn == nil {
		return broker.BindingDetails{}, nil
	}
	return f.FetchBindingFn(ctx, req)
}

func (f *fakeBroker) Unbind(ctx context.Context, req broker.UnbindRequest) (broker.UnbindResult, error) {
	if f.UnbindFn == nil {
		return broker.UnbindResult{}, nil
	}
	return f.UnbindFn(ctx, req)
}

// Test credentials: the current pair and a rotated one, both valid.
const (
	testUser      = "broker-admin"
	testPassword  = "s3cret-password"
	rotatedUser   = "broker-admin-2"
	rotatedPass   = "n3w-s3cret"
	generatedID   = "generated-request-id"
	testRequestID = "req-4711"
)

// testConfig is the Config of the tests; log receives the log lines when not nil.
func testConfig(log io.Writer) osb.Config {
	cfg := osb.Config{
		Credentials: []osb.Credential{
			{Username: testUser, Password: testPassword},
			{Username: rotatedUser, Password: rotatedPass},
		},
		NewRequestID: func() string { return generatedID },
		Now:          func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
	if log != nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(log, nil))
	}
	return cfg
}

// newHandler returns the handler over f with testConfig.
func newHandler(t testing.TB, f *fakeBroker) http.Handler {
	t.Helper()
	return osb.NewHandler(f, testConfig(nil))
}

// reqOpt changes a test request.
type reqOpt func(*http.Request)

func withHeader(key, value string) reqOpt {
	return func(r *http.Request) { r.Header.Set(key, value) }
}

func withoutHeader(key string) reqOpt {
	return func(r *http.Request) { r.Header.Del(key) }
}

func withAuth(user, pass string) reqOpt {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

// newRequest returns an authenticated OSB 2.17 request; a non-empty body is sent as
// application/json.
func newRequest(t testing.TB, method, target, body string, opts ...reqOpt) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.Header.Set("X-Broker-API-Version", "2.17")
	r.SetBasicAuth(testUser, testPassword)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// do serves one request.
func do(t testing.TB, h http.Handler, method, target, body string, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newRequest(t, method, target, body, opts...))
	return w
}

// mustJSON decodes a response body into a generic value.
func mustJSON(t testing.TB, body []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("response body %q is not JSON: %v", body, err)
	}
	return v
}

// assertResponse checks the status, that the body is JSON and equals wantBody
// (compared as JSON values).
func assertResponse(t testing.TB, w *httptest.ResponseRecorder, wantStatus int, wantBody string) {
	t.Helper()
	if w.Code != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", w.Code, wantStatus, w.Body.Bytes())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if diff := cmp.Diff(mustJSON(t, []byte(wantBody)), mustJSON(t, w.Body.Bytes())); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

// description returns the description of an OSB error body.
func description(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b struct {
		Description string `json:"description"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q is not JSON: %v", w.Body.Bytes(), err)
	}
	return b.Description
}

// assertGolden compares body, indented, with testdata/golden/name.json; -update
// rewrites the file.
func assertGolden(t testing.TB, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// identityHeader renders an X-Broker-API-Originating-Identity value.
func identityHeader(t testing.TB, platform string, value any) string {
	t.Helper()
	b, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return platform + " " + base64.StdEncoding.EncodeToString(b)
}

func ptr[T any](v T) *T { return &v }

// Paths and bodies of the routes, valid as they are.
const (
	instancePath      = "/v2/service_instances/inst-1"
	instanceLastOp    = "/v2/service_instances/inst-1/last_operation"
	bindingPath       = "/v2/service_instances/inst-1/service_bindings/bind-1"
	bindingLastOpPath = "/v2/service_instances/inst-1/service_bindings/bind-1/last_operation"
	provisionJSON     = `{"service_id":"svc-1","plan_id":"plan-1","organization_guid":"org-1","space_guid":"space-1"}`
	updateJSON        = `{"service_id":"svc-1"}`
	bindJSON          = `{"service_id":"svc-1","plan_id":"plan-1"}`
)

// routeCase is one route and method with a valid request.
type routeCase struct {
	name   string
	method string
	target string
	body   string
}

// allRoutes lists a valid request for every route and method.
var allRoutes = []routeCase{
	{"catalog", http.MethodGet, "/v2/catalog", ""},
	{"provision", http.MethodPut, instancePath + "?accepts_incomplete=true", provisionJSON},
	{"fetch instance", http.MethodGet, instancePath, ""},
	{"update", http.MethodPatch, instancePath + "?accepts_incomplete=true", updateJSON},
	{"deprovision", http.MethodDelete, instancePath + "?service_id=svc-1&plan_id=plan-1&accepts_incomplete=true", ""},
	{"instance last_operation", http.MethodGet, instanceLastOp, ""},
	{"bind", http.MethodPut, bindingPath, bindJSON},
	{"fetch binding", http.MethodGet, bindingPath, ""},
	{"unbind", http.MethodDelete, bindingPath + "?service_id=svc-1&plan_id=plan-1", ""},
	{"binding last_operation", http.MethodGet, bindingLastOpPath, ""},
}
