package cloudifysim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// t0 is the start time of every test clock.
var t0 = time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)

// tsim is a simulator behind an httptest server, driven by a manual clock.
type tsim struct {
	t     testing.TB
	sim   *Simulator
	clock *ManualClock
	srv   *httptest.Server
}

// newTestSim starts a simulator of the given release with the samples.
func newTestSim(t *testing.T, version string, mods ...func(*Config)) *tsim {
	t.Helper()
	clock := NewManualClock(t0)
	cfg := Config{Version: version, Clock: clock, LoadSamples: true, Seed: 42}
	for _, m := range mods {
		m(&cfg)
	}
	sim := New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &tsim{t: t, sim: sim, clock: clock, srv: srv}
}

// resp is a recorded HTTP answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r resp) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object (status %d): %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// reqOpt customises a request.
type reqOpt func(*http.Request)

// noAuth removes the default credentials.
func noAuth() reqOpt { return func(r *http.Request) { r.Header.Del("Authorization") } }

// withHeader sets a header ("" deletes it).
func withHeader(k, v string) reqOpt {
	return func(r *http.Request) {
		if v == "" {
			r.Header.Del(k)
			return
		}
		r.Header.Set(k, v)
	}
}

// withBasic sets Basic credentials.
func withBasic(u, p string) reqOpt { return func(r *http.Request) { r.SetBasicAuth(u, p) } }

// do sends a request with admin/admin, the default tenant and, when body is
// not nil, a JSON body with Content-Type application/json. A string body is
// sent verbatim.
func (ts *tsim) do(method, path string, body any, opts ...reqOpt) resp {
	ts.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				ts.t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
	}
	if !strings.HasPrefix(path, "/api/") {
		path = "/api/v3.1" + path
	}
	req, err := http.NewRequest(method, ts.srv.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.SetBasicAuth("admin", "admin")
	req.Header.Set("Tenant", "default_tenant")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := ts.srv.Client().Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// expectStatus fails unless r has the status.
func expectStatus(t testing.TB, r resp, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
}

// expectError checks status, error_code and (when set) a message substring.
func expectError(t testing.TB, r resp, status int, code, msgPart string) map[string]any {
	t.Helper()
	expectStatus(t, r, status)
	m := r.JSON(t)
	if m["error_code"] != code {
		t.Fatalf("error_code = %v, want %s; body: %s", m["error_code"], code, r.Body)
	}
	if msg, _ := m["message"].(string); !strings.Contains(msg, msgPart) {
		t.Fatalf("message %q does not contain %q", msg, msgPart)
	}
	return m
}

// mariadbInputs are valid inputs for the mariadb sample.
func mariadbInputs() map[string]any {
	return map[string]any{"admin_password": "s3cr3t-pass"}
}

// create creates a deployment and expects 201.
func (ts *tsim) create(id, bp string, inputs map[string]any, async bool) map[string]any {
	ts.t.Helper()
	path := "/deployments/" + id
	if async {
		path += "?async_create=true"
	}
	r := ts.do("PUT", path, map[string]any{"blueprint_id": bp, "inputs": inputs})
	expectStatus(ts.t, r, 201)
	return r.JSON(ts.t)
}

// start starts a workflow and returns the raw answer.
func (ts *tsim) start(dep, wf string, extra map[string]any) resp {
	ts.t.Helper()
	body := map[string]any{"deployment_id": dep, "workflow_id": wf}
	for k, v := range extra {
		body[k] = v
	}
	return ts.do("POST", "/executions", body)
}

// mustStart starts a workflow, expects 201 and returns the execution id.
func (ts *tsim) mustStart(dep, wf string, extra map[string]any) string {
	ts.t.Helper()
	r := ts.start(dep, wf, extra)
	expectStatus(ts.t, r, 201)
	return r.JSON(ts.t)["id"].(string)
}

// exec reads an execution.
func (ts *tsim) exec(id string) map[string]any {
	ts.t.Helper()
	r := ts.do("GET", "/executions/"+id, nil)
	expectStatus(ts.t, r, 200)
	return r.JSON(ts.t)
}

// dep reads a deployment.
func (ts *tsim) dep(id string) map[string]any {
	ts.t.Helper()
	r := ts.do("GET", "/deployments/"+id, nil)
	expectStatus(ts.t, r, 200)
	return r.JSON(ts.t)
}

// advance moves the clock.
func (ts *tsim) advance(d time.Duration) { ts.clock.Advance(d) }

// waitEnd advances the clock until the execution has an end state.
func (ts *tsim) waitEnd(id string) map[string]any {
	ts.t.Helper()
	for i := 0; i < 600; i++ {
		e := ts.exec(id)
		switch e["status"] {
		case "terminated", "failed", "cancelled":
			return e
		}
		ts.advance(100 * time.Millisecond)
	}
	ts.t.Fatalf("execution %s did not end", id)
	return nil
}

// install creates a mariadb deployment and installs it.
func (ts *tsim) installed(id string) {
	ts.t.Helper()
	ts.create(id, "mariadb", mariadbInputs(), false)
	e := ts.waitEnd(ts.mustStart(id, "install", nil))
	if e["status"] != "terminated" {
		ts.t.Fatalf("install ended %v: %v", e["status"], e["error"])
	}
}

// itemIDs returns the ids of a list answer.
func itemIDs(t testing.TB, r resp) []string {
	t.Helper()
	var ids []string
	for _, it := range r.JSON(t)["items"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

// writeFile writes a test fixture.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newServer serves sim for the test's lifetime.
func newServer(t *testing.T, sim *Simulator) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv
}
