package health_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/health"
)

func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

func TestReadyTransitions(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	storeErr := errors.New("database not open")
	catalogErr := errors.New("no catalog built yet (secret-ish detail)")
	mux := http.NewServeMux()
	health.Register(mux, log,
		health.Check{Name: "store", Func: func(context.Context) error { return storeErr }},
		health.Check{Name: "catalog", Func: func(context.Context) error { return catalogErr }},
	)

	steps := []struct {
		store, catalog error
		want           int
		body           string
	}{
		{storeErr, catalogErr, 503, "not ready\n"},
		{nil, catalogErr, 503, "not ready\n"},
		{nil, nil, 200, "ok\n"},
		{nil, nil, 200, "ok\n"},
		{storeErr, nil, 503, "not ready\n"},
	}
	for i, s := range steps {
		storeErr, catalogErr = s.store, s.catalog
		code, body := get(t, mux, "GET", "/readyz")
		if code != s.want || body != s.body {
			t.Errorf("step %d: /readyz = %d %q, want %d %q", i, code, body, s.want, s.body)
		}
		if strings.Contains(body, "secret") {
			t.Errorf("step %d: the body carries the check's error: %q", i, body)
		}
		// Liveness never depends on the checks.
		if code, body := get(t, mux, "GET", "/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("step %d: /healthz = %d %q, want 200 ok", i, code, body)
		}
	}
	// One line per change of readiness, naming the failing check: 4 changes above.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d log lines, want 4 (one per change):\n%s", len(lines), logs.String())
	}
	for i, want := range []string{"check=store", "check=catalog", "msg=ready", "check=store"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("log line %d = %q, want it to contain %q", i, lines[i], want)
		}
	}
}

func TestMethods(t *testing.T) {
	mux := http.NewServeMux()
	health.Register(mux, nil)
	if code, body := get(t, mux, "HEAD", "/readyz"); code != 200 || body != "" {
		t.Errorf("HEAD /readyz = %d %q, want 200 and no body", code, body)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("POST", "/healthz", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /healthz = %d, Allow %q; want 405, GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
}
