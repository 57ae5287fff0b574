package osbclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorded is what the test server saw of one request.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                map[string]any
}

// server answers every request with the status, headers and body of reply, and
// records the requests.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []recorded
	reply func(r *http.Request) (int, http.Header, string)
}

func newServer(t *testing.T, reply func(r *http.Request) (int, http.Header, string)) *server {
	t.Helper()
	s := &server{reply: reply}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone()}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &rec.Body); err != nil {
				t.Errorf("request body is not a JSON object: %v", err)
			}
		}
		s.mu.Lock()
		s.seen = append(s.seen, rec)
		s.mu.Unlock()
		code, hdr, body := s.reply(r)
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) last(t *testing.T) recorded {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("the server saw no request")
	}
	return s.seen[len(s.seen)-1]
}

func mustNew(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHeadersOfEveryRequest(t *testing.T) {
	s := newServer(t, func(*http.Request) (int, http.Header, string) { return 202, nil, `{"operation":"op-1"}` })
	c := mustNew(t, Config{URL: s.URL + "/", Username: "broker", Password: "pw"})
	id := &Identity{Username: "alice", UID: "u-1", Groups: []string{"dev"}}
	resp, err := c.Provision(context.Background(), "inst/1", &ProvisionRequest{ServiceID: "s", PlanID: "p", OrganizationGUID: "o", SpaceGUID: "sp",
		Context: map[string]any{"platform": "kubernetes"}, Parameters: map[string]any{"size": 3.0}}, id)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Async || resp.Operation != "op-1" {
		t.Errorf("response = %+v, want async with operation op-1", resp)
	}
	got := s.last(t)
	if got.Method != http.MethodPut || got.Path != "/v2/service_instances/inst%2F1" || got.Query != "accepts_incomplete=true" {
		t.Errorf("request = %s %s?%s", got.Method, got.Path, got.Query)
	}
	if v := got.Header.Get("X-Broker-API-Version"); v != "2.17" {
		t.Errorf("X-Broker-API-Version = %q", v)
	}
	if v := got.Header.Get("X-Broker-API-Request-Identity"); !uuidRE.MatchString(v) {
		t.Errorf("X-Broker-API-Request-Identity = %q, want a UUID", v)
	}
	if u, p, ok := (&http.Request{Header: got.Header}).BasicAuth(); !ok || u != "broker" || p != "pw" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
	platform, value, _ := strings.Cut(got.Header.Get("X-Broker-API-Originating-Identity"), " ")
	raw, err := base64.StdEncoding.DecodeString(value)
	if platform != "kubernetes" || err != nil {
		t.Fatalf("originating identity = %q %q (%v)", platform, value, err)
	}
	var oi map[string]any
	if err := json.Unmarshal(raw, &oi); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"username": "alice", "uid": "u-1", "groups": []any{"dev"}}, oi); diff != "" {
		t.Errorf("originating identity (-want +got):\n%s", diff)
	}
	want := map[string]any{"service_id": "s", "plan_id": "p", "organization_guid": "o", "space_guid": "sp",
		"context": map[string]any{"platform": "kubernetes"}, "parameters": map[string]any{"size": 3.0}}
	if diff := cmp.Diff(want, got.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	// Two requests never share a request identity; without an identity, no header.
	if _, err := c.Deprovision(context.Background(), "i", "s", "p", nil); err != nil {
		t.Fatal(err)
	}
	second := s.last(t)
	if second.Header.Get("X-Broker-API-Request-Identity") == got.Header.Get("X-Broker-API-Request-Identity") {
		t.Error("two requests carried the same request identity")
	}
	if v := second.Header.Get("X-Broker-API-Originating-Identity"); v != "" {
		t.Errorf("originating identity without a user = %q", v)
	}
	if second.Query != "accepts_incomplete=true&plan_id=p&service_id=s" {
		t.Errorf("deprovision query = %q", second.Query)
	}
}

func TestBearerToken(t *testing.T) {
	s := newServer(t, func(*http.Request) (int, http.Header, string) { return 200, nil, `{"services":[]}` })
	c := mustNew(t, Config{URL: s.URL, Token: "tok"})
	if _, err := c.Catalog(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := s.last(t).Header.Get("Authorization"); v != "Bearer tok" {
		t.Errorf("Authorization = %q", v)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name                        string
		code                        int
		body                        string
		gone, concurrency, server5x bool
		wantText                    string
	}{
		{"gone", 410, `{}`, true, false, false, "with 410"},
		{"concurrency", 422, `{"error":"ConcurrencyError","description":"another operation runs"}`, false, true, false, "422 ConcurrencyError: another operation runs"},
		{"other 422", 422, `{"error":"MaintenanceInfoConflict","description":"stale"}`, false, false, false, "MaintenanceInfoConflict"},
		{"conflict", 409, `{"description":"exists with other attributes"}`, false, false, false, "409: exists with other attributes"},
		{"server error, not JSON", 502, `<html>bad gateway</html>`, false, false, true, "with 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, func(*http.Request) (int, http.Header, string) { return tt.code, nil, tt.body })
			c := mustNew(t, Config{URL: s.URL})
			_, err := c.Deprovision(context.Background(), "i", "s", "p", nil)
			if err == nil {
				t.Fatal("no error")
			}
			if IsGone(err) != tt.gone || IsConcurrencyError(err) != tt.concurrency || IsServerError(err) != tt.server5x || Unreached(err) {
				t.Errorf("IsGone %v IsConcurrencyError %v IsServerError %v Unreached %v for %v", IsGone(err), IsConcurrencyError(err), IsServerError(err), Unreached(err), err)
			}
			if StatusOf(err) != tt.code {
				t.Errorf("StatusOf = %d", StatusOf(err))
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q lacks %q", err, tt.wantText)
			}
		})
	}
}

func TestUnreachedAndTimeouts(t *testing.T) {
	// A closed port: the request never left.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := mustNew(t, Config{URL: "http://" + addr})
	_, err = c.Provision(context.Background(), "i", &ProvisionRequest{}, nil)
	if !Unreached(err) {
		t.Errorf("Unreached(%v) = false for a refused connection", err)
	}

	// A broker that answers too late: sent, outcome unknown.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	c = mustNew(t, Config{URL: slow.URL, Timeout: 50 * time.Millisecond})
	_, err = c.Provision(context.Background(), "i", &ProvisionRequest{}, nil)
	if err == nil || Unreached(err) || StatusOf(err) != 0 {
		t.Errorf("a timeout gave %v (Unreached %v): want an error that is neither unreached nor an HTTP status", err, Unreached(err))
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("a timeout is not a net.Error timeout: %v", err)
	}
}

func TestLastOperation(t *testing.T) {
	tests := []struct {
		name       string
		header     http.Header
		body       string
		want       LastOperation
		wantErrSub string
	}{
		{"seconds", http.Header{"Retry-After": {"7"}}, `{"state":"in progress","description":"4 of 12"}`,
			LastOperation{State: StateInProgress, Description: "4 of 12", RetryAfter: 7 * time.Second}, ""},
		{"no header", nil, `{"state":"failed","description":"install failed: boom","instance_usable":false}`,
			LastOperation{State: StateFailed, Description: "install failed: boom", InstanceUsable: new(bool)}, ""},
		{"garbage header", http.Header{"Retry-After": {"soon"}}, `{"state":"succeeded"}`, LastOperation{State: StateSucceeded}, ""},
		{"unknown state", nil, `{"state":"done"}`, LastOperation{}, `state "done"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, func(*http.Request) (int, http.Header, string) { return 200, tt.header, tt.body })
			c := mustNew(t, Config{URL: s.URL})
			got, err := c.InstanceLastOperation(context.Background(), "i", LastOperationRequest{ServiceID: "s", PlanID: "p", Operation: "op 1"})
			if tt.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
					t.Fatalf("error = %v, want one with %q", err, tt.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("last operation (-want +got):\n%s", diff)
			}
			if q := s.last(t).Query; q != "operation=op+1&plan_id=p&service_id=s" {
				t.Errorf("query = %q", q)
			}
		})
	}
	// An HTTP date in the future is a wait too.
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if d := parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); d != 90*time.Second {
		t.Errorf("parseRetryAfter(date) = %s, want 1m30s", d)
	}
}

func TestCatalogIsChecked(t *testing.T) {
	for name, body := range map[string]string{
		"no plans":    `{"services":[{"id":"a","name":"x","plans":[]}]}`,
		"no plan id":  `{"services":[{"id":"a","name":"x","plans":[{"name":"p"}]}]}`,
		"not JSON":    `<html>`,
		"no services": `{"services":[{"name":"x","plans":[{"id":"p","name":"p"}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, func(*http.Request) (int, http.Header, string) { return 200, nil, body })
			if _, err := mustNew(t, Config{URL: s.URL}).Catalog(context.Background()); err == nil {
				t.Error("no error for a malformed catalog")
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{{URL: "ftp://x"}, {URL: "no-scheme"}, {URL: "https://x", CABundle: []byte("not pem")}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}
