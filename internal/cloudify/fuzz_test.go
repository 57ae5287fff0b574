package cloudify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzAPIError: any status and body a manager, a proxy or a broken network hop can
// send gives an *APIError with a message, never a panic.
func FuzzAPIError(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 8192 {
			f.Add(400, b)
		}
	}
	f.Add(502, []byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
	f.Add(404, []byte(""))
	f.Add(503, []byte(`{"message": null, "error_code": 7}`))
	f.Add(500, []byte(`{"message": "x", "error_code": "internal_server_error", "server_traceback": ["a"]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		e := newAPIError("Fuzz", status, body)
		if e == nil || e.Status != status || e.Error() == "" {
			t.Fatalf("newAPIError(%d, %q) = %#v", status, body, e)
		}
		var ae *APIError
		if !errors.As(error(e), &ae) {
			t.Fatal("not an *APIError")
		}
		_ = IsTransient(e) || IsNotFound(e) || IsConflict(e) || IsInputError(e)
	})
}

// FuzzDecodeResources: the resource types decode whatever JSON a release sends without
// panicking, and a response the client reads through its request path never panics.
func FuzzDecodeResources(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16384 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"items":[{"id":1,"created_at":"not a time","workflows":{"a":1}}],"metadata":{"pagination":{"total":-1}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var (
			bp  Blueprint
			dep Deployment
			ex  Execution
			upd DeploymentUpdate
			ver VersionInfo
		)
		_ = json.Unmarshal(body, &bp)
		_ = json.Unmarshal(body, &dep)
		_ = json.Unmarshal(body, &ex)
		_ = json.Unmarshal(body, &upd)
		_ = json.Unmarshal(body, &ver)
		_ = ex.ErrorSummary()
		_, _ = dep.WorkflowAvailable("install")

		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if strings.Contains(r.URL.Path, "/executions") {
				w.WriteHeader(http.StatusOK)
			}
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c, err := New(srv.URL, WithManagerVersion("7.0.4"))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, _ = c.GetDeployment(ctx, "d")
		_, _ = c.ListExecutions(ctx, ListOptions{Limit: 3})
		_, _ = c.DeploymentOutputs(ctx, "d")
	})
}
