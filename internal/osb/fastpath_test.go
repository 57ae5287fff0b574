package osb

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// TestAppendLastOperation: the hand-written encoding is byte for byte json.Marshal's.
func TestAppendLastOperation(t *testing.T) {
	yes, no := true, false
	descriptions := []string{
		"", "installed", `quote " backslash \ slash /`, "<script>&amp;</script>", "tab\tnl\ncr\rbs\bff\f",
		"ctl \x00\x01\x1f\x7f", "ünïcödé → 日本", "sep \u2028 \u2029", "bad \xff\xfe utf8 \xe2\x82", "emoji 🎉",
	}
	for _, d := range descriptions {
		for _, resp := range []lastOperationResponse{
			{State: broker.StateInProgress, Description: d},
			{State: broker.StateFailed, Description: d, InstanceUsable: &yes, UpdateRepeatable: &yes},
			{State: broker.StateFailed, Description: d, InstanceUsable: &no},
		} {
			want, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendLastOperation(nil, resp); string(got) != string(want) {
				t.Errorf("appendLastOperation(%+v)\n got %s\nwant %s", resp, got, want)
			}
		}
	}
}

// TestLastOperationQuery: the fast reading of the query agrees with parseQuery, errors
// included.
func TestLastOperationQuery(t *testing.T) {
	for _, raw := range []string{
		"", "service_id=s&plan_id=p&operation=op-1", "operation=a&operation=b", "operation=", "operation",
		"x=1&&service_id=s", "=v&plan_id=p", "operation=a%2Fb", "operation=a+b", "operation=%zz", "a=1;b=2",
		"service_id=s1&service_id=s2&plan_id=p1",
	} {
		r := httptest.NewRequest("GET", "/v2/service_instances/i/last_operation?"+raw, nil)
		s, p, o, err := lastOperationQuery(r)
		q, werr := parseQuery(r)
		if (err != nil) != (werr != nil) || err != nil && err.Error() != werr.Error() {
			t.Errorf("%q: error %v, parseQuery's %v", raw, err, werr)
			continue
		}
		if err == nil && (s != q.get("service_id") || p != q.get("plan_id") || o != q.get("operation")) {
			t.Errorf("%q: got %q %q %q, parseQuery's %q %q %q", raw, s, p, o, q.get("service_id"), q.get("plan_id"), q.get("operation"))
		}
	}
}

// TestRetryAfterHeader: the shared values say what retryAfterSeconds says.
func TestRetryAfterHeader(t *testing.T) {
	for _, d := range []time.Duration{1, time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second,
		60 * time.Second, 120 * time.Second, 121 * time.Second, time.Hour} {
		if got, want := retryAfterHeader(d), retryAfterSeconds(d); len(got) != 1 || got[0] != want {
			t.Errorf("retryAfterHeader(%v) = %q, want [%q]", d, got, want)
		}
	}
}

// muxRoute routes target with an http.ServeMux holding the OSB patterns and "/", as
// the handler's routing did before match: the pattern it picks and the ids it holds.
func muxRoute(t testing.TB, target string) (pattern, instanceID, bindingID string, ok bool) {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://broker.example.com"+target, nil)
	if err != nil || !isCleanPath(r.URL.Path) {
		return "", "", "", false
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/", patternCatalog, patternInstance, patternInstanceLastOp, patternBinding, patternBindingLastOperation} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			pattern, instanceID, bindingID = r.Pattern, r.PathValue("instance_id"), r.PathValue("binding_id")
		})
	}
	mux.ServeHTTP(httptest.NewRecorder(), r)
	if pattern == "/" {
		pattern = ""
	}
	return pattern, instanceID, bindingID, true
}

// checkMatch: match routes target as http.ServeMux does.
func checkMatch(t *testing.T, h *handler, target string) {
	t.Helper()
	pattern, instanceID, bindingID, ok := muxRoute(t, target)
	if !ok {
		return
	}
	r, _ := http.NewRequest(http.MethodGet, "http://broker.example.com"+target, nil)
	rt, gotInstance, gotBinding := h.match(r.URL.EscapedPath())
	if rt.pattern != pattern || gotInstance != instanceID || gotBinding != bindingID {
		t.Errorf("%q: match gives %q (%q, %q), ServeMux %q (%q, %q)", target, rt.pattern, gotInstance, gotBinding, pattern, instanceID, bindingID)
	}
}

var matchTargets = []string{
	"/", "/v2", "/v2/", "/v2/catalog", "/v2/catalog/", "/v2/catalog/x", "/v3/catalog", "/v2/%63atalog", "/V2/catalog",
	"/v2/service_instances", "/v2/service_instances/", "/v2/service_instances/i", "/v2/service_instances/i/",
	"/v2/service_instances/last_operation", "/v2/service_instances/i/last_operation", "/v2/service_instances/i/last_operation/",
	"/v2/service_instances/i/last_operation/x", "/v2/service_instances/a%2Fb/last_operation", "/v2/service_instances/%zz/last_operation",
	"/v2/service_instances/a%20b", "/v2/service_instances/%E6%97%A5/service_bindings/b", "/v2/service_instances/i/service_bindings",
	"/v2/service_instances/i/service_bindings/", "/v2/service_instances/i/service_bindings/b", "/v2/service_instances/i/service_bindings/b/",
	"/v2/service_instances/i/service_bindings/last_operation", "/v2/service_instances/i/service_bindings/b/last_operation",
	"/v2/service_instances/i/service_bindings/b/last_operation/x", "/v2/service_instances/i/service_bindings/b/x",
	"/v2/service_instances/i/service_bindings%2Fb/last_operation", "/v2/service_instances/i/%6Cast_operation",
	"/v2/service_instances/./x", "/admin/v1/catalog", "/v2/service_instances/i/x/y/z/w/v/u",
}

// TestMatch: match agrees with http.ServeMux on the OSB patterns.
func TestMatch(t *testing.T) {
	h := NewHandler(nopBroker{}, Config{}).(*handler)
	for _, target := range matchTargets {
		checkMatch(t, h, target)
	}
}

// FuzzMatch: match agrees with http.ServeMux for any path.
func FuzzMatch(f *testing.F) {
	for _, target := range matchTargets {
		f.Add(target)
	}
	h := NewHandler(nopBroker{}, Config{}).(*handler)
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, "?#") {
			return
		}
		checkMatch(t, h, target)
	})
}

// nopBroker is a Broker that routing tests never call.
type nopBroker struct{ Broker }
