package osb_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the benchmarks
// measure the handler rather than a recorder.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// benchmark serves one request b.N times; the body, if any, is replayed each time.
func benchmark(b *testing.B, method, target, body string, wantStatus int) {
	b.Helper()
	h := newHandler(b, successBroker())
	r := newRequest(b, method, target, body, withHeader("X-Broker-API-Request-Identity", testRequestID))
	rd := strings.NewReader(body)
	w := &discardWriter{header: make(http.Header, 4)}
	b.ReportAllocs()
	for b.Loop() {
		if body != "" {
			rd.Reset(body)
			r.Body = io.NopCloser(rd)
		}
		clear(w.header)
		h.ServeHTTP(w, r)
		if w.status != wantStatus {
			b.Fatalf("status = %d, want %d", w.status, wantStatus)
		}
	}
}

func BenchmarkCatalog(b *testing.B) {
	benchmark(b, http.MethodGet, "/v2/catalog", "", http.StatusOK)
}

func BenchmarkLastOperation(b *testing.B) {
	benchmark(b, http.MethodGet, instanceLastOp+"?service_id=svc-1&plan_id=plan-1&operation=op-provision-1", "", http.StatusOK)
}

func BenchmarkProvision(b *testing.B) {
	benchmark(b, http.MethodPut, instancePath+"?accepts_incomplete=true",
		`{"service_id":"svc-1","plan_id":"plan-1","organization_guid":"org-1","space_guid":"space-1",`+
			`"context":{"platform":"cloudfoundry","organization_guid":"org-1","space_guid":"space-1"},"parameters":{"size":"large"}}`,
		http.StatusAccepted)
}

func BenchmarkBind(b *testing.B) {
	benchmark(b, http.MethodPut, bindingPath, `{"service_id":"svc-1","plan_id":"plan-1","bind_resource":{"app_guid":"app-1"}}`,
		http.StatusCreated)
}
