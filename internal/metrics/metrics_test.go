package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/metrics"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

// value returns the value of the series of family name whose labels include want,
// or -1 when there is none.
func value(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

// labelValues returns every value label takes in family name.
func labelValues(t *testing.T, g prometheus.Gatherer, name, label string) []string {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []string
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	return out
}

func TestRoute(t *testing.T) {
	tests := []struct{ method, path, want string }{
		{"GET", "/v2/catalog", "GET /v2/catalog"},
		{"PUT", "/v2/service_instances/3f1c-a9", "PUT /v2/service_instances/:instance_id"},
		{"DELETE", "/v2/service_instances/db1", "DELETE /v2/service_instances/:instance_id"},
		{"GET", "/v2/service_instances/db1/last_operation", "GET /v2/service_instances/:instance_id/last_operation"},
		{"PUT", "/v2/service_instances/db1/service_bindings/b-7", "PUT /v2/service_instances/:instance_id/service_bindings/:binding_id"},
		{"GET", "/v2/service_instances/db1/service_bindings/b-7/last_operation", "GET /v2/service_instances/:instance_id/service_bindings/:binding_id/last_operation"},
		{"POST", "/admin/v1/operations/provision-123/retry", "POST /admin/v1/operations/:id/retry"},
		{"GET", "/admin/v1/instances/db1", "GET /admin/v1/instances/:id"},
		{"GET", "/healthz", "GET /healthz"},
		{"GET", "/readyz", "GET /readyz"},
		// Shapes that are not routes: never the raw path.
		{"GET", "/v2/service_instances//last_operation", "GET unmatched"},
		{"GET", "/v2/service_instances/../v2/catalog", "GET unmatched"},
		{"GET", "/v2/service_instances/db1/service_bindings", "GET unmatched"},
		{"GET", "/wp-admin/secret-id-42", "GET unmatched"},
		{"GET", "/", "GET unmatched"},
		{"BREW", "/v2/catalog", "OTHER /v2/catalog"},
	}
	for _, tt := range tests {
		if got := metrics.Route(tt.method, tt.path); got != tt.want {
			t.Errorf("Route(%s, %s) = %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestMiddleware(t *testing.T) {
	m := metrics.New(metrics.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v2/service_instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"operation":"x"}`)
	})
	mux.HandleFunc("GET /v2/catalog", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"services":[]}`) // implicit 200
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {}) // nothing written
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()

	do := func(method, path string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i := range 3 {
		do("PUT", fmt.Sprintf("/v2/service_instances/inst-%d", i))
	}
	do("GET", "/v2/catalog")
	do("GET", "/readyz")
	do("GET", "/v2/nothing-here")

	g := m.Gatherer()
	for _, tt := range []struct {
		route, code string
		want        float64
	}{
		{"PUT /v2/service_instances/:instance_id", "202", 3},
		{"GET /v2/catalog", "200", 1},
		{"GET /readyz", "200", 1},
		{"GET unmatched", "404", 1},
	} {
		if got := value(t, g, "cfybroker_http_requests_total", map[string]string{"route": tt.route, "code": tt.code}); got != tt.want {
			t.Errorf("requests{route=%q, code=%s} = %v, want %v", tt.route, tt.code, got, tt.want)
		}
	}
	if got := value(t, g, "cfybroker_http_request_duration_seconds", map[string]string{"route": "PUT /v2/service_instances/:instance_id"}); got != 3 {
		t.Errorf("duration samples of PUT = %v, want 3", got)
	}
	for _, r := range labelValues(t, g, "cfybroker_http_requests_total", "route") {
		if strings.Contains(r, "inst-") {
			t.Errorf("a raw id reached a label: %q", r)
		}
	}
}

// TestMiddlewareConcurrent: requests of several routes and statuses at once, the
// first of each making its series, are all counted (run with -race).
func TestMiddlewareConcurrent(t *testing.T) {
	m := metrics.New(metrics.Config{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("status") == "404" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				path := "/v2/service_instances/i/last_operation"
				if (i+j)%2 == 0 {
					path = "/v2/catalog"
				}
				status := "200"
				if j%3 == 0 {
					status = "404"
				}
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path+"?status="+status, nil))
			}
		}()
	}
	wg.Wait()
	var total float64
	for _, route := range []string{"GET /v2/catalog", "GET /v2/service_instances/:instance_id/last_operation"} {
		for _, code := range []string{"200", "404"} {
			total += value(t, m.Gatherer(), "cfybroker_http_requests_total", map[string]string{"route": route, "code": code})
		}
	}
	if total != workers*each {
		t.Errorf("counted %v requests, want %d", total, workers*each)
	}
}

// BenchmarkMiddleware is the middleware's own cost per request, around a handler
// that writes nothing.
func BenchmarkMiddleware(b *testing.B) {
	m := metrics.New(metrics.Config{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	r := httptest.NewRequest(http.MethodGet, "/v2/service_instances/i/last_operation", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// TestMiddlewareUnwrap: handlers that set deadlines through http.ResponseController
// (the admin API's reconcile) still reach the connection.
func TestMiddlewareUnwrap(t *testing.T) {
	m := metrics.New(metrics.Config{})
	var rcErr error
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rcErr = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/admin/v1/reconcile")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if rcErr != nil {
		t.Errorf("SetWriteDeadline through the middleware: %v", rcErr)
	}
}

func TestObserveStep(t *testing.T) {
	m := metrics.New(metrics.Config{})
	ctx := context.Background()
	// A provision: first step, two waits, the end; an update that faults once and fails.
	for _, r := range []workflow.StepReport{
		{Type: broker.OpProvision, First: true, State: broker.StateInProgress},
		{Type: broker.OpProvision, State: broker.StateInProgress},
		{Type: broker.OpProvision, State: broker.StateSucceeded, Ended: true},
		{Type: broker.OpUpdate, First: true, State: broker.StateInProgress, Fault: true},
		{Type: broker.OpUpdate, First: true, State: broker.StateFailed, Ended: true},
		{Type: "made-up", First: true, State: "weird", Ended: true},
	} {
		m.ObserveStep(ctx, r)
	}
	g := m.Gatherer()
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cfybroker_operations_started_total", map[string]string{"type": "provision"}, 1},
		{"cfybroker_operations_started_total", map[string]string{"type": "update"}, 1}, // the faulted attempt is not a start
		{"cfybroker_operations_finished_total", map[string]string{"type": "provision", "state": "succeeded"}, 1},
		{"cfybroker_operations_finished_total", map[string]string{"type": "update", "state": "failed"}, 1},
		{"cfybroker_operations_finished_total", map[string]string{"type": "other", "state": "other"}, 1},
		{"cfybroker_workflow_steps_total", map[string]string{"type": "provision", "result": "waiting"}, 2},
		{"cfybroker_workflow_steps_total", map[string]string{"type": "provision", "result": "ended"}, 1},
		{"cfybroker_workflow_steps_total", map[string]string{"type": "update", "result": "fault"}, 1},
		{"cfybroker_workflow_steps_total", map[string]string{"type": "update", "result": "waiting"}, -1},
	} {
		if got := value(t, g, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

func TestCloudifyErrorLabelsBounded(t *testing.T) {
	m := metrics.New(metrics.Config{})
	m.CloudifyError(&cloudify.APIError{Status: 404, Code: "not_found_error", Message: "Requested deployment osb-db1 not found"})
	m.CloudifyError(&cloudify.APIError{Status: 404, Code: "not_found_error"})
	m.CloudifyError(&cloudify.APIError{Status: 502, Message: "502 Bad Gateway: <html>"})
	m.CloudifyError(&cloudify.APIError{Status: 400, Code: "password=hunter2 in input"})
	m.CloudifyError(nil)
	for i := range metrics.MaxErrorCodes + 10 {
		m.CloudifyError(&cloudify.APIError{Status: 400, Code: fmt.Sprintf("code_%d", i)})
	}
	g := m.Gatherer()
	if got := value(t, g, "cfybroker_cloudify_errors_total", map[string]string{"error_code": "not_found_error"}); got != 2 {
		t.Errorf("not_found_error = %v, want 2", got)
	}
	if got := value(t, g, "cfybroker_cloudify_errors_total", map[string]string{"error_code": "none"}); got != 1 {
		t.Errorf("none (non-JSON body) = %v, want 1", got)
	}
	codes := labelValues(t, g, "cfybroker_cloudify_errors_total", "error_code")
	// not_found_error and the first 63 code_N fill the 64 slots; none and other are extra.
	if len(codes) != metrics.MaxErrorCodes+2 {
		t.Errorf("%d distinct error_code values, want %d", len(codes), metrics.MaxErrorCodes+2)
	}
	// "password=…" and the 11 codes past the limit.
	if got := value(t, g, "cfybroker_cloudify_errors_total", map[string]string{"error_code": "other"}); got != 12 {
		t.Errorf("other = %v, want 12", got)
	}
	for _, c := range codes {
		if strings.Contains(c, "hunter2") {
			t.Errorf("an error text reached a label: %q", c)
		}
	}
}

// lister is a function-field fake of broker.OperationLister.
type lister func(ctx context.Context) ([]broker.Operation, error)

func (f lister) ActiveOperations(ctx context.Context) ([]broker.Operation, error) { return f(ctx) }

func TestInProgressFromStore(t *testing.T) {
	ops := []broker.Operation{{ID: "a", Type: broker.OpProvision}, {ID: "b", Type: broker.OpProvision}, {ID: "c", Type: broker.OpDeprovision}}
	var fail error
	m := metrics.New(metrics.Config{Operations: lister(func(context.Context) ([]broker.Operation, error) { return ops, fail })})
	g := m.Gatherer()
	for typ, want := range map[string]float64{"provision": 2, "update": 0, "deprovision": 1} {
		if got := value(t, g, "cfybroker_operations_in_progress", map[string]string{"type": typ}); got != want {
			t.Errorf("in_progress{type=%s} = %v, want %v", typ, got, want)
		}
	}
	// Read at every scrape: a finished operation leaves the gauge.
	ops = ops[:1]
	if got := value(t, g, "cfybroker_operations_in_progress", map[string]string{"type": "provision"}); got != 1 {
		t.Errorf("after one provision ended: %v, want 1", got)
	}
	// A store that fails leaves the family out rather than reporting zero.
	fail = errors.New("store closed")
	if got := value(t, g, "cfybroker_operations_in_progress", map[string]string{"type": "provision"}); got != -1 {
		t.Errorf("with a failing store: %v, want the family absent", got)
	}
}

func TestHandlerServesText(t *testing.T) {
	m := metrics.New(metrics.Config{})
	m.CloudifyError(&cloudify.APIError{Code: "maintenance_mode_active"})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`cfybroker_cloudify_errors_total{error_code="maintenance_mode_active"} 1`,
		"# TYPE cfybroker_cloudify_errors_total counter",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
