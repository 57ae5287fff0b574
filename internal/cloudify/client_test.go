package cloudify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewBaseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "https://mgr", want: "https://mgr/api/v3.1"},
		{in: "https://mgr/", want: "https://mgr/api/v3.1"},
		{in: "https://mgr/api/v3.1", want: "https://mgr/api/v3.1"},
		{in: "https://mgr/api/v3.1/", want: "https://mgr/api/v3.1"},
		{in: " http://10.0.0.5:8080/cfy/api/v3.1 ", want: "http://10.0.0.5:8080/cfy/api/v3.1"},
		{in: "http://mgr/cfy", want: "http://mgr/cfy/api/v3.1"},
		{in: "", wantErr: true},
		{in: "mgr.example.com", wantErr: true},
		{in: "ftp://mgr", wantErr: true},
		{in: "https://", wantErr: true},
		{in: "https://admin:hunter2@mgr", wantErr: true},
		{in: "https://mgr?tenant=x", wantErr: true},
		{in: "https://mgr#x", wantErr: true},
		{in: "http://admin:hunter2@[::1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := New(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q leaks the password", err)
				}
				return
			}
			if got := c.BaseURL(); got != tt.want {
				t.Errorf("BaseURL() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBaseURLSuffixReachesServer(t *testing.T) {
	for _, suffix := range []string{"", "/", "/api/v3.1", "/api/v3.1/"} {
		t.Run(suffix, func(t *testing.T) {
			fm := newFakeManager(t, always(200, `{"status": "running"}`))
			c, err := New(fm.srv.URL+suffix, WithBasicAuth(testUser, testPassword), WithTenant(testTenant))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Status(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			checkRequest(t, fm.requests()[0], wantRequest{Method: "GET", Path: "/api/v3.1/status"})
		})
	}
}

func TestAuthAndHeaders(t *testing.T) {
	tests := []struct {
		name       string
		opts       []Option
		wantTenant string
		wantToken  string
		wantBasic  bool
		wantUA     string
	}{
		{"basic auth, default tenant", []Option{WithBasicAuth("admin", "pw")}, DefaultTenant, "", true, DefaultUserAgent},
		{"token auth", []Option{WithToken("ctok-Ab-xyz"), WithTenant("t2")}, "t2", "ctok-Ab-xyz", false, DefaultUserAgent},
		{"token wins over basic", []Option{WithBasicAuth("admin", "pw"), WithToken("tok")}, DefaultTenant, "tok", false, DefaultUserAgent},
		{"no credentials", nil, DefaultTenant, "", false, DefaultUserAgent},
		{"user agent", []Option{WithUserAgent("cfybroker/1.0")}, DefaultTenant, "", false, "cfybroker/1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := newFakeManager(t, always(200, `{"id": "e1"}`))
			c, err := New(fm.srv.URL, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CancelExecution(testCtx(t), "e1", Kill); err != nil {
				t.Fatal(err)
			}
			h := fm.requests()[0].Header
			if got := h.Get("Tenant"); got != tt.wantTenant {
				t.Errorf("Tenant = %q, want %q", got, tt.wantTenant)
			}
			if got := h.Get("Authentication-Token"); got != tt.wantToken {
				t.Errorf("Authentication-Token = %q, want %q", got, tt.wantToken)
			}
			if _, _, ok := basicAuth(h); ok != tt.wantBasic {
				t.Errorf("basic auth present = %v, want %v", ok, tt.wantBasic)
			}
			if got := h.Get("User-Agent"); got != tt.wantUA {
				t.Errorf("User-Agent = %q, want %q", got, tt.wantUA)
			}
			if got := h.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
				t.Errorf("Content-Type = %q, want exactly application/json", got)
			}
		})
	}
}

func TestDefaultHTTPClientTimeouts(t *testing.T) {
	c, err := New("https://mgr")
	if err != nil {
		t.Fatal(err)
	}
	const minRead = 150e9 // 150 s in nanoseconds
	if c.hc.Timeout != 0 && c.hc.Timeout <= minRead {
		t.Errorf("http.Client.Timeout = %v, want > 150s", c.hc.Timeout)
	}
	tr, ok := c.hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T", c.hc.Transport)
	}
	if tr.ResponseHeaderTimeout != 0 && tr.ResponseHeaderTimeout <= minRead {
		t.Errorf("ResponseHeaderTimeout = %v, want > 150s", tr.ResponseHeaderTimeout)
	}
	custom := &http.Client{}
	c2, _ := New("https://mgr", WithHTTPClient(custom), WithHTTPClient(nil))
	if c2.hc != custom {
		t.Error("WithHTTPClient did not replace the client (or nil replaced it)")
	}
}

// page builds a list answer with the given ids and total; size is always 0 to
// show that the client does not read metadata.size.
func page(total int, ids ...string) string {
	items := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		items = append(items, map[string]string{"id": id})
	}
	b, _ := json.Marshal(map[string]any{
		"items":    items,
		"metadata": map[string]any{"pagination": map[string]int{"total": total, "size": 0, "offset": 0}},
	})
	return string(b)
}

func TestPagination(t *testing.T) {
	ids := []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7"}
	// paged serves ids honouring _offset/_size, with the given total.
	paged := func(total int, pool []string) func(recorded) reply {
		return func(r recorded) reply {
			off, _ := strconv.Atoi(r.Query.Get("_offset"))
			size, _ := strconv.Atoi(r.Query.Get("_size"))
			end := off + size
			if off > len(pool) {
				off = len(pool)
			}
			if end > len(pool) {
				end = len(pool)
			}
			return reply{body: page(total, pool[off:end]...)}
		}
	}
	tests := []struct {
		name      string
		answer    func(recorded) reply
		opts      ListOptions
		want      []string
		wantPages [][2]string // _offset, _size per request
	}{
		{
			name: "three pages until total", answer: paged(7, ids), opts: ListOptions{PageSize: 3},
			want: ids, wantPages: [][2]string{{"0", "3"}, {"3", "3"}, {"6", "3"}},
		},
		{
			name: "stop on an empty page even if total says more", answer: paged(100, ids[:4]), opts: ListOptions{PageSize: 2},
			want: ids[:4], wantPages: [][2]string{{"0", "2"}, {"2", "2"}, {"4", "2"}},
		},
		{
			name: "limit across pages", answer: paged(7, ids), opts: ListOptions{PageSize: 3, Limit: 5},
			want: ids[:5], wantPages: [][2]string{{"0", "3"}, {"3", "2"}},
		},
		{
			name: "limit smaller than the page", answer: paged(7, ids), opts: ListOptions{Limit: 2},
			want: ids[:2], wantPages: [][2]string{{"0", "2"}},
		},
		{
			name: "server ignoring _size (4.3, size 0)", answer: always(200, page(7, ids...)), opts: ListOptions{PageSize: 3},
			want: ids, wantPages: [][2]string{{"0", "3"}},
		},
		{
			name: "server returning more than the limit", answer: always(200, page(7, ids...)), opts: ListOptions{Limit: 4},
			want: ids[:4], wantPages: [][2]string{{"0", "4"}},
		},
		{
			name: "no metadata means one page", answer: always(200, `{"items": [{"id": "d1"}]}`), opts: ListOptions{},
			want: []string{"d1"}, wantPages: [][2]string{{"0", "1000"}},
		},
		{
			name: "empty list", answer: paged(0, nil), opts: ListOptions{},
			want: nil, wantPages: [][2]string{{"0", "1000"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := newFakeManager(t, tt.answer)
			tt.opts.Sort = []string{"id"}
			got, err := fm.client(t).ListDeployments(testCtx(t), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, d := range got {
				gotIDs = append(gotIDs, d.ID)
			}
			if diff := cmp.Diff(tt.want, gotIDs); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			var pages [][2]string
			for _, r := range fm.requests() {
				pages = append(pages, [2]string{r.Query.Get("_offset"), r.Query.Get("_size")})
				if diff := cmp.Diff([]string{"id"}, r.Query["_sort"]); diff != "" {
					t.Errorf("_sort not repeated on every page (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.wantPages, pages); diff != "" {
				t.Errorf("pages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPaginationSearchRepeatsBodyAndFailsWhole(t *testing.T) {
	calls := 0
	fm := newFakeManager(t, func(r recorded) reply {
		calls++
		switch calls {
		case 1:
			return reply{body: page(3, "a", "b")}
		default:
			return reply{status: 502, body: "<html>bad gateway</html>", ctype: "text/html"}
		}
	})
	rules := []FilterRule{{Key: "osb", Values: []string{"x"}, Operator: FilterAnyOf, Type: FilterTypeLabel}}
	got, err := fm.client(t).SearchDeployments(testCtx(t), rules, ListOptions{PageSize: 2})
	if !IsTransient(err) || got != nil {
		t.Fatalf("got %v, %v; want no result and a transient error", got, err)
	}
	reqs := fm.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		checkRequest(t, r, wantRequest{Method: "POST", Path: "/api/v3.1/searches/deployments",
			Query: q("_offset", strconv.Itoa(2*i), "_size", "2"),
			Body:  `{"filter_rules": [{"key": "osb", "values": ["x"], "operator": "any_of", "type": "label"}]}`})
	}
}

func TestNegativePaging(t *testing.T) {
	fm := newFakeManager(t, always(200, page(0)))
	c := fm.client(t)
	if _, err := c.ListBlueprints(testCtx(t), ListOptions{PageSize: -1}); err == nil {
		t.Error("negative PageSize accepted")
	}
	if _, err := c.ListExecutions(testCtx(t), ListOptions{Limit: -1}); err == nil {
		t.Error("negative Limit accepted")
	}
}

// versioned answers GET /version with version (or with the status and body
// given in versionReply) and every other request with other.
func versioned(versionReply reply, other func(recorded) reply) func(recorded) reply {
	return func(r recorded) reply {
		if r.Path == "/api/v3.1/version" {
			return versionReply
		}
		return other(r)
	}
}

func versionBody(v string) reply {
	return reply{body: fmt.Sprintf(`{"edition": "premium", "version": %q, "build": null}`, v)}
}

// summary lists "METHOD path?query" per request.
func summary(reqs []recorded) []string {
	var out []string
	for _, r := range reqs {
		s := r.Method + " " + strings.TrimPrefix(r.Path, "/api/v3.1")
		if len(r.Query) > 0 {
			s += "?" + r.Query.Encode()
		}
		out = append(out, s)
	}
	return out
}

func TestUpdateInitiateMethodByVersion(t *testing.T) {
	upd := golden(t, "deployment_update_7.0.json")
	ok := func(recorded) reply { return reply{body: upd} }
	postOnly := func(r recorded) reply {
		if r.Method == http.MethodPost {
			return reply{body: upd}
		}
		return reply{status: 405, body: `{"message": "The method is not allowed for the requested URL.", "error_code": "method_not_allowed_error"}`}
	}
	putOnly := func(r recorded) reply {
		if r.Method == http.MethodPut {
			return reply{body: upd}
		}
		return reply{status: 405, body: "<!doctype html>\n<title>405 Method Not Allowed</title>", ctype: "text/html"}
	}
	const path = "/deployment-updates/osb-1/update/initiate"
	tests := []struct {
		name    string
		fixed   string // WithManagerVersion
		answer  func(recorded) reply
		want    []string
		wantErr bool
	}{
		{name: "6.3 from /version uses PUT", answer: versioned(versionBody("6.3.0"), ok), want: []string{"GET /version", "PUT " + path}},
		{name: "6.4 from /version uses POST", answer: versioned(versionBody("6.4.0"), ok), want: []string{"GET /version", "POST " + path}},
		{name: "7.0 from /version uses POST", answer: versioned(versionBody("7.0.4"), ok), want: []string{"GET /version", "POST " + path}},
		{name: "4.4 fixed uses PUT", fixed: "4.4", answer: ok, want: []string{"PUT " + path}},
		{name: "6.4 fixed uses POST", fixed: "6.4", answer: ok, want: []string{"POST " + path}},
		{name: "7.0 fixed, PUT-only server: no fallback", fixed: "7.0", answer: putOnly, want: []string{"POST " + path}, wantErr: true},
		{
			name:   "unknown version string: PUT then POST on 405",
			answer: versioned(versionBody("master"), postOnly),
			want:   []string{"GET /version", "PUT " + path, "POST " + path},
		},
		{
			name:   "version endpoint refused: PUT then POST on 405",
			answer: versioned(reply{status: 403, body: golden(t, "errors/403_forbidden.json")}, postOnly),
			want:   []string{"GET /version", "PUT " + path, "POST " + path},
		},
		{
			name:   "unknown fixed version: PUT accepted",
			fixed:  "dev",
			answer: putOnly,
			want:   []string{"PUT " + path},
		},
		{
			name:    "version endpoint 503: error, no initiate",
			answer:  versioned(reply{status: 503, body: golden(t, "errors/503_maintenance_mode_active.json")}, ok),
			want:    []string{"GET /version"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := newFakeManager(t, tt.answer)
			var opts []Option
			if tt.fixed != "" {
				opts = append(opts, WithManagerVersion(tt.fixed))
			}
			u, err := fm.client(t, opts...).UpdateDeployment(testCtx(t), "osb-1", UpdateDeploymentRequest{Inputs: map[string]any{"a": 1}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && u.ID != "osb-5d7c-3f1b2c4d" {
				t.Errorf("update id = %q", u.ID)
			}
			reqs := fm.requests()
			if diff := cmp.Diff(tt.want, summary(reqs)); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			for _, r := range reqs[len(reqs)-1:] {
				if r.Path != "/api/v3.1/version" {
					checkRequest(t, r, wantRequest{Method: r.Method, Path: "/api/v3.1" + path, Body: `{"inputs": {"a": 1},
						"skip_install": false, "skip_uninstall": false, "skip_reinstall": false, "force": false,
						"ignore_failure": false, "install_first": false}`})
				}
			}
		})
	}
}

func TestAsyncCreateByVersion(t *testing.T) {
	dep := func(recorded) reply { return reply{status: 201, body: `{"id": "osb-1"}`} }
	tests := []struct {
		name   string
		answer func(recorded) reply
		fixed  string
		async  bool
		want   []string
	}{
		{name: "5.2 never gets async_create", answer: versioned(versionBody("5.2"), dep), async: true, want: []string{"GET /version", "PUT /deployments/osb-1"}},
		{name: "6.0 gets async_create", answer: versioned(versionBody("6.0.0"), dep), async: true, want: []string{"GET /version", "PUT /deployments/osb-1?async_create=true"}},
		{name: "7.0 fixed gets async_create", fixed: "7.0.4", answer: dep, async: true, want: []string{"PUT /deployments/osb-1?async_create=true"}},
		{name: "4.3 fixed never gets it", fixed: "4.3", answer: dep, async: true, want: []string{"PUT /deployments/osb-1"}},
		{name: "unknown version does not get it", answer: versioned(versionBody(""), dep), async: true, want: []string{"GET /version", "PUT /deployments/osb-1"}},
		{name: "not requested: no version lookup", answer: dep, async: false, want: []string{"PUT /deployments/osb-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := newFakeManager(t, tt.answer)
			var opts []Option
			if tt.fixed != "" {
				opts = append(opts, WithManagerVersion(tt.fixed))
			}
			_, err := fm.client(t, opts...).CreateDeployment(testCtx(t), "osb-1", CreateDeploymentRequest{BlueprintID: "bp", AsyncCreate: tt.async})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summary(fm.requests())); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokensByVersion(t *testing.T) {
	tok := func(r recorded) reply {
		if r.Method == http.MethodGet {
			return reply{body: golden(t, "token_6.3.json")}
		}
		return reply{body: golden(t, "token_7.0.json")}
	}
	tests := []struct {
		name      string
		version   reply
		want      []string
		wantValue string
	}{
		{"4.3 GET", versionBody("4.3"), []string{"GET /version", "GET /tokens"}, "WyIwIiwiMzk1YTE2ZmI3ZDZiNGIxMmE4ZTNhMzU4NDBjYWQ4ZmIiXQ.ZCm4ZQ.R1U1d2lU"},
		{"6.3 GET", versionBody("6.3.0"), []string{"GET /version", "GET /tokens"}, "WyIwIiwiMzk1YTE2ZmI3ZDZiNGIxMmE4ZTNhMzU4NDBjYWQ4ZmIiXQ.ZCm4ZQ.R1U1d2lU"},
		{"6.4 POST", versionBody("6.4.0"), []string{"GET /version", "POST /tokens"}, "ctok-Ab12Cd34Ef-s3cretS3cretS3cret"},
		{"7.0 POST", versionBody("7.0.4"), []string{"GET /version", "POST /tokens"}, "ctok-Ab12Cd34Ef-s3cretS3cretS3cret"},
		{"unknown POST", reply{status: 404, body: golden(t, "errors/404_flask.html"), ctype: "text/html"}, []string{"GET /version", "POST /tokens"}, "ctok-Ab12Cd34Ef-s3cretS3cretS3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := newFakeManager(t, versioned(tt.version, tok))
			got, err := fm.client(t).NewToken(testCtx(t), "osb", mustTime(t, "2030-01-01T00:00:00.000Z").Time)
			if err != nil {
				t.Fatal(err)
			}
			if got.Value != tt.wantValue {
				t.Errorf("Value = %q, want %q", got.Value, tt.wantValue)
			}
			if strings.Contains(got.String(), got.Value) {
				t.Errorf("Token.String() %q shows the secret", got.String())
			}
			reqs := fm.requests()
			if diff := cmp.Diff(tt.want, summary(reqs)); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			last := reqs[len(reqs)-1]
			if last.Method == http.MethodPost {
				checkRequest(t, last, wantRequest{Method: "POST", Path: "/api/v3.1/tokens", Body: `{"description": "osb", "expiration_date": "2030-01-01T00:00:00.000Z"}`})
			} else {
				checkRequest(t, last, wantRequest{Method: "GET", Path: "/api/v3.1/tokens"})
			}
		})
	}
}

func TestDeleteDeploymentByVersion(t *testing.T) {
	tests := []struct {
		version string
		opts    DeleteDeploymentOptions
		reply   reply
		want    string
	}{
		{"4.3", DeleteDeploymentOptions{Force: true, DeleteLogs: true}, reply{status: 200, body: golden(t, "deployment_4.5.json")}, "ignore_live_nodes=true"},
		{"4.4", DeleteDeploymentOptions{Force: true, DeleteLogs: true}, reply{status: 200, body: golden(t, "deployment_4.5.json")}, "ignore_live_nodes=true"},
		{"5.0.5", DeleteDeploymentOptions{Force: false, DeleteLogs: true}, reply{status: 200, body: golden(t, "deployment_4.5.json")}, "delete_logs=true&ignore_live_nodes=false"},
		{"5.1", DeleteDeploymentOptions{Force: true}, reply{status: 204}, "delete_logs=false&force=true"},
		{"7.0.4", DeleteDeploymentOptions{DeleteLogs: true}, reply{status: 204}, "delete_logs=true&force=false"},
		{"unknown", DeleteDeploymentOptions{Force: true, DeleteLogs: true}, reply{status: 204}, "delete_logs=true&force=true"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			fm := newFakeManager(t, versioned(versionBody(tt.version), func(recorded) reply { return tt.reply }))
			if err := fm.client(t).DeleteDeployment(testCtx(t), "osb-1", tt.opts); err != nil {
				t.Fatal(err)
			}
			want := []string{"GET /version", "DELETE /deployments/osb-1?" + tt.want}
			if diff := cmp.Diff(want, summary(fm.requests())); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			r := fm.requests()[1]
			checkRequest(t, r, wantRequest{Method: "DELETE", Path: "/api/v3.1/deployments/osb-1", Query: r.Query})
		})
	}
}

func TestDeleteDeploymentErrors(t *testing.T) {
	fm := newFakeManager(t, always(400, golden(t, "errors/400_dependent_exists.json")))
	err := fm.client(t, WithManagerVersion("7.0")).DeleteDeployment(testCtx(t), "osb-a", DeleteDeploymentOptions{})
	if !IsDependentExists(err) {
		t.Errorf("error %v: want IsDependentExists", err)
	}
}

func TestVersionCaching(t *testing.T) {
	calls := 0
	fm := newFakeManager(t, func(r recorded) reply {
		calls++
		if calls == 1 {
			return reply{status: 502, body: "<html>502</html>", ctype: "text/html"}
		}
		return versionBody("6.3.0")
	})
	c := fm.client(t)
	ctx := testCtx(t)
	if _, err := c.Version(ctx); !IsTransient(err) {
		t.Fatalf("first call: %v, want a transient error", err)
	}
	for i := 0; i < 3; i++ {
		v, err := c.Version(ctx)
		if err != nil || v.Version != "6.3.0" {
			t.Fatalf("call %d: %+v, %v", i, v, err)
		}
	}
	if calls != 2 {
		t.Errorf("GET /version sent %d times, want 2 (failure not cached, success cached)", calls)
	}
}

func TestVersionLookupSharedByBehaviours(t *testing.T) {
	fm := newFakeManager(t, versioned(versionBody("6.3.0"), func(r recorded) reply {
		switch {
		case strings.HasPrefix(r.Path, "/api/v3.1/tokens"):
			return reply{body: golden(t, "token_6.3.json")}
		case r.Method == http.MethodDelete:
			return reply{status: 204}
		}
		return reply{body: golden(t, "deployment_update_4.5.json")}
	}))
	c := fm.client(t)
	ctx := testCtx(t)
	if _, err := c.NewToken(ctx, "", mustTime(t, "").Time); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateDeployment(ctx, "osb-1", UpdateDeploymentRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteDeployment(ctx, "osb-1", DeleteDeploymentOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /version", "GET /tokens", "PUT /deployment-updates/osb-1/update/initiate", "DELETE /deployments/osb-1?delete_logs=false&force=false"}
	if diff := cmp.Diff(want, summary(fm.requests())); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestWithManagerVersionSkipsLookup(t *testing.T) {
	fm := newFakeManager(t, always(204, ""))
	c := fm.client(t, WithManagerVersion("5.0"))
	if err := c.DeleteDeployment(testCtx(t), "osb-1", DeleteDeploymentOptions{DeleteLogs: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"DELETE /deployments/osb-1?delete_logs=true&ignore_live_nodes=false"}
	if diff := cmp.Diff(want, summary(fm.requests())); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestAPIErrorFromMethodsIsUnwrapped(t *testing.T) {
	fm := newFakeManager(t, always(409, golden(t, "errors/409_conflict.json")))
	_, err := fm.client(t).CreateDeployment(testCtx(t), "osb-a", CreateDeploymentRequest{BlueprintID: "bp"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Op != "CreateDeployment" || !IsConflict(err) {
		t.Fatalf("error %v: want a conflict *APIError from CreateDeployment", err)
	}
}

func TestAPIErrorHook(t *testing.T) {
	var seen []*APIError
	hook := WithAPIErrorHook(func(e *APIError) { seen = append(seen, e) })

	fm := newFakeManager(t, always(404, `{"message": "Requested deployment d1 not found", "error_code": "not_found_error"}`))
	_, err := fm.client(t, hook).GetDeployment(testCtx(t), "d1")
	if err == nil {
		t.Fatal("GetDeployment of a 404: no error")
	}
	if len(seen) != 1 {
		t.Fatalf("hook called %d times, want 1", len(seen))
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae != seen[0] {
		t.Errorf("returned error %v is not the hooked one", err)
	}
	if seen[0].Code != "not_found_error" || seen[0].Op != "GetDeployment" || seen[0].Status != 404 {
		t.Errorf("hooked %+v, want not_found_error from GetDeployment, 404", *seen[0])
	}

	// A success calls no hook.
	ok := newFakeManager(t, always(200, `{"status": "running"}`))
	if _, err := ok.client(t, hook).Status(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 {
		t.Errorf("hook called on a 200: %d calls", len(seen))
	}
}
