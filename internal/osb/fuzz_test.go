package osb_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary methods, paths, headers and bodies to the handler over
// a broker that never fails: the handler must neither panic nor answer 5xx.
func FuzzHandler(f *testing.F) {
	k8s := identityHeader(f, "kubernetes", map[string]any{"username": "alice"})
	seeds := []struct {
		method, target, version, auth, contentType, identity, body string
	}{
		{"GET", "/v2/catalog", "2.17", "ok", "", "", ""},
		{"PUT", "/v2/service_instances/i?accepts_incomplete=true", "2.17", "ok", "application/json", k8s,
			`{"service_id":"s","plan_id":"p","context":{"platform":"kubernetes"},"parameters":{"a":1}}`},
		{"PATCH", "/v2/service_instances/i", "2.14", "ok", "application/json", "", `{"service_id":"s","previous_values":{"plan_id":"p"}}`},
		{"DELETE", "/v2/service_instances/i?service_id=s&plan_id=p", "2.13", "ok", "", "", ""},
		{"GET", "/v2/service_instances/i/last_operation?operation=x%20y", "2.17", "ok", "", "", ""},
		{"PUT", "/v2/service_instances/i/service_bindings/b", "2.17", "rotated", "application/json", "cloudfoundry e30=",
			`{"service_id":"s","plan_id":"p","bind_resource":{"app_guid":"a"}}`},
		{"GET", "/v2/service_instances/i/service_bindings/b", "2.17", "ok", "", "", ""},
		{"DELETE", "/v2/service_instances/i/service_bindings/b?service_id=s", "2.17", "ok", "", "", ""},
		{"GET", "/v2/service_instances/i/service_bindings/b/last_operation", "2.17", "ok", "", "", ""},
		{"POST", "/v2/catalog", "2.17", "ok", "", "", ""},
		{"GET", "/v2//catalog/../x", "2.17", "ok", "", "", ""},
		{"PUT", "/v2/service_instances/i", "2.18", "bad", "text/plain", "x", "{"},
		{"PUT", "/v2/service_instances/i", "2.17", "ok", "application/json", "", `{"service_id":1,"parameters":[]}{}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.version, s.auth, s.contentType, s.identity, s.body)
	}
	h := newHandler(f, successBroker())
	f.Fuzz(func(t *testing.T, method, target, version, auth, contentType, identity, body string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		r, err := http.NewRequest(method, "http://broker.example.com"+target, strings.NewReader(body))
		if err != nil {
			return // not a request a server would hand over
		}
		r.Header.Set("X-Broker-API-Version", version)
		switch auth {
		case "ok":
			r.SetBasicAuth(testUser, testPassword)
		case "rotated":
			r.SetBasicAuth(rotatedUser, rotatedPass)
		default:
			r.Header.Set("Authorization", auth)
		}
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-Broker-API-Originating-Identity", identity)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s: status %d, body %s", method, target, w.Code, w.Body.Bytes())
		}
		if w.Code != http.StatusNotModified && w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type %q", method, target, w.Header().Get("Content-Type"))
		}
		if w.Header().Get("X-Broker-API-Request-Identity") == "" {
			t.Errorf("%s %s: no request id", method, target)
		}
	})
}
