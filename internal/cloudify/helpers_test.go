package cloudify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testUser     = "admin"
	testPassword = "s3cr3t-Pa55"
	testTenant   = "t1"
)

// recorded is one request as the fake manager saw it.
type recorded struct {
	Method string
	Path   string // URL path, unescaped
	Raw    string // escaped path
	Query  url.Values
	Header http.Header
	Body   []byte
}

// reply is what the fake manager answers.
type reply struct {
	status int
	body   string
	ctype  string // Content-Type of the answer; default application/json
}

// fakeManager is an httptest server that records every request and answers
// with the function given to newFakeManager.
type fakeManager struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	answer func(r recorded) reply
}

func newFakeManager(t *testing.T, answer func(r recorded) reply) *fakeManager {
	t.Helper()
	fm := &fakeManager{answer: answer}
	fm.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r := recorded{
			Method: req.Method,
			Path:   req.URL.Path,
			Raw:    req.URL.EscapedPath(),
			Query:  req.URL.Query(),
			Header: req.Header.Clone(),
			Body:   body,
		}
		fm.mu.Lock()
		fm.reqs = append(fm.reqs, r)
		fm.mu.Unlock()
		rep := fm.answer(r)
		if rep.status == 0 {
			rep.status = http.StatusOK
		}
		ct := rep.ctype
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(fm.srv.Close)
	return fm
}

// requests returns the recorded requests so far.
func (fm *fakeManager) requests() []recorded {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return append([]recorded(nil), fm.reqs...)
}

// client returns a client for fm with Basic auth and tenant t1, plus opts.
func (fm *fakeManager) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithBasicAuth(testUser, testPassword), WithTenant(testTenant)}
	c, err := New(fm.srv.URL, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// always answers every request with the same reply.
func always(status int, body string) func(recorded) reply {
	return func(recorded) reply { return reply{status: status, body: body} }
}

// golden reads testdata/name.
func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading golden: %v", err)
	}
	return string(b)
}

// decodeGolden decodes testdata/name into a value of type T.
func decodeGolden[T any](t *testing.T, name string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(golden(t, name)), &v); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return v
}

// wantRequest is what a test expects the client to send.
type wantRequest struct {
	Method string
	Path   string     // unescaped path, including /api/v3.1
	Query  url.Values // nil means no query
	Body   string     // expected JSON body; "" means no body
}

// checkRequest compares r with want and checks the common headers: Tenant,
// Basic auth, Accept, and Content-Type exactly application/json with a body
// and absent without one.
func checkRequest(t *testing.T, r recorded, want wantRequest) {
	t.Helper()
	if r.Method != want.Method {
		t.Errorf("method = %q, want %q", r.Method, want.Method)
	}
	if r.Path != want.Path {
		t.Errorf("path = %q, want %q", r.Path, want.Path)
	}
	wq := want.Query
	if wq == nil {
		wq = url.Values{}
	}
	if diff := cmp.Diff(wq, r.Query); diff != "" {
		t.Errorf("%s %s query mismatch (-want +got):\n%s", want.Method, want.Path, diff)
	}
	if got := r.Header.Get("Tenant"); got != testTenant {
		t.Errorf("Tenant header = %q, want %q", got, testTenant)
	}
	if u, p, ok := basicAuth(r.Header); !ok || u != testUser || p != testPassword {
		t.Errorf("basic auth = %q/%q/%v, want %q/%q", u, p, ok, testUser, testPassword)
	}
	if got := r.Header.Get("Authentication-Token"); got != "" {
		t.Errorf("Authentication-Token = %q, want none with Basic auth", got)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q, want application/json", got)
	}
	ct := r.Header.Values("Content-Type")
	if want.Body == "" {
		if len(ct) != 0 {
			t.Errorf("Content-Type = %q, want none for a request without body", ct)
		}
		if len(r.Body) != 0 {
			t.Errorf("body = %q, want none", r.Body)
		}
		return
	}
	if len(ct) != 1 || ct[0] != "application/json" {
		t.Errorf("Content-Type = %q, want exactly [application/json]", ct)
	}
	checkJSON(t, want.Body, r.Body)
}

// checkJSON compares two JSON documents semantically, and checks that got is
// valid JSON.
func checkJSON(t *testing.T, want string, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expected JSON %q: %v", want, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("request body %q is not JSON: %v", got, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("JSON body mismatch (-want +got):\n%s", diff)
	}
}

func basicAuth(h http.Header) (user, pass string, ok bool) {
	r := &http.Request{Header: h}
	return r.BasicAuth()
}

// mustTime parses a manager timestamp or fails the test.
func mustTime(t *testing.T, s string) Time {
	t.Helper()
	tm, err := ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func ptr[T any](v T) *T { return &v }

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// compact returns the compact form of a JSON document, for comparing raw
// messages.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact %q: %v", s, err)
	}
	return b.String()
}
