package osb_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/osb"
	"github.com/google/go-cmp/cmp"
)

// bodyRoutes are the routes that take a body, with a valid one.
var bodyRoutes = []routeCase{allRoutes[1], allRoutes[3], allRoutes[6]}

func TestMalformedBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
		// wantDesc must appear in the description.
		wantDesc string
	}{
		{"malformed JSON", `{"service_id":`, "not valid JSON"},
		{"bad token", `{"service_id" "svc-1"}`, "not valid JSON"},
		{"service_id a number", `{"service_id":1,"plan_id":"plan-1"}`, "field service_id must be a string, not number"},
		{"plan_id an object", `{"service_id":"svc-1","plan_id":{}}`, "field plan_id must be a string, not object"},
		{"parameters an array", `{"service_id":"svc-1","plan_id":"plan-1","parameters":[]}`, "field parameters must be an object"},
		{"parameters a string", `{"service_id":"svc-1","plan_id":"plan-1","parameters":"x"}`, "field parameters must be an object"},
		{"context a string", `{"service_id":"svc-1","plan_id":"plan-1","context":"x"}`, "field context must be an object"},
		{"context an array", `{"service_id":"svc-1","plan_id":"plan-1","context":[1]}`, "field context must be an object"},
		{"trailing garbage", `{"service_id":"svc-1","plan_id":"plan-1"} garbage`, "data after the JSON object"},
		{"two objects", `{"service_id":"svc-1","plan_id":"plan-1"}{}`, "data after the JSON object"},
		{"top-level array", `[{"service_id":"svc-1"}]`, "must be a JSON object"},
		{"top-level string", `"svc-1"`, "must be a JSON object"},
		{"top-level null", `null`, "must be a JSON object"},
		{"whitespace only", "  \n ", "request body is required"},
	}
	h := newHandler(t, successBroker())
	for _, rt := range bodyRoutes {
		for _, tt := range tests {
			t.Run(rt.name+"/"+tt.name, func(t *testing.T) {
				w := do(t, h, rt.method, rt.target, tt.body)
				if w.Code != http.StatusBadRequest {
					t.Fatalf("status = %d, want 400 (body %s)", w.Code, w.Body.Bytes())
				}
				if d := description(t, w); !strings.Contains(d, tt.wantDesc) {
					t.Errorf("description = %q, want it to contain %q", d, tt.wantDesc)
				}
			})
		}
	}
}

func TestBodyFieldRules(t *testing.T) {
	tests := []struct {
		name       string
		rt         routeCase
		body       string
		wantStatus int
		wantDesc   string
	}{
		{"provision without service_id", allRoutes[1], `{"plan_id":"p","organization_guid":"o","space_guid":"s"}`, 400, "field service_id is required"},
		{"provision without plan_id", allRoutes[1], `{"service_id":"s","organization_guid":"o","space_guid":"s"}`, 400, "field plan_id is required"},
		{"provision without both ids", allRoutes[1], `{"organization_guid":"o","space_guid":"s"}`, 400, "fields service_id and plan_id are required"},
		{"provision with null service_id", allRoutes[1], `{"service_id":null,"plan_id":"p","organization_guid":"o","space_guid":"s"}`, 400, "field service_id is required"},
		{"provision without org or context", allRoutes[1], `{"service_id":"s","plan_id":"p","space_guid":"s"}`, 400,
			"field organization_guid is required when context is absent"},
		{"provision without space or context", allRoutes[1], `{"service_id":"s","plan_id":"p","organization_guid":"o"}`, 400,
			"field space_guid is required when context is absent"},
		{"provision without org, space or context", allRoutes[1], `{"service_id":"s","plan_id":"p"}`, 400,
			"fields organization_guid and space_guid are required when context is absent"},
		{"provision with null context", allRoutes[1], `{"service_id":"s","plan_id":"p","context":null}`, 400,
			"required when context is absent"},
		{"provision with context only", allRoutes[1], `{"service_id":"s","plan_id":"p","context":{"platform":"kubernetes","namespace":"ns"}}`, 202, ""},
		{"provision with maintenance_info without version", allRoutes[1],
			`{"service_id":"s","plan_id":"p","context":{},"maintenance_info":{"description":"d"}}`, 400, "field maintenance_info.version is required"},
		{"provision with empty maintenance_info.version", allRoutes[1],
			`{"service_id":"s","plan_id":"p","context":{},"maintenance_info":{"version":""}}`, 400, "field maintenance_info.version must not be empty"},
		{"provision with numeric maintenance_info.version", allRoutes[1],
			`{"service_id":"s","plan_id":"p","context":{},"maintenance_info":{"version":1}}`, 400,
			"field maintenance_info.version must be a string, not number"},
		{"provision with maintenance_info a string", allRoutes[1],
			`{"service_id":"s","plan_id":"p","context":{},"maintenance_info":"1.0.0"}`, 400, "field maintenance_info must be an object"},
		{"provision with unknown fields", allRoutes[1],
			`{"service_id":"s","plan_id":"p","context":{},"x_vendor":{"a":[1,{"b":null}]},"dashboard_client":"x"}`, 202, ""},
		{"provision with null parameters", allRoutes[1], `{"service_id":"s","plan_id":"p","context":{},"parameters":null}`, 202, ""},
		{"update without service_id", allRoutes[3], `{"plan_id":"p"}`, 400, "field service_id is required"},
		{"update with plan only changes", allRoutes[3], `{"service_id":"s","plan_id":"p2"}`, 202, ""},
		{"update with previous_values a string", allRoutes[3], `{"service_id":"s","previous_values":"x"}`, 400,
			"field previous_values must be an object"},
		{"update with numeric maintenance_info.version", allRoutes[3], `{"service_id":"s","maintenance_info":{"version":2}}`, 400,
			"field maintenance_info.version must be a string"},
		{"update with previous maintenance_info without version", allRoutes[3],
			`{"service_id":"s","previous_values":{"maintenance_info":{}}}`, 202, ""},
		{"bind without service_id", allRoutes[6], `{"plan_id":"p"}`, 400, "field service_id is required"},
		{"bind without plan_id", allRoutes[6], `{"service_id":"s"}`, 400, "field plan_id is required"},
		{"bind with bind_resource an array", allRoutes[6], `{"service_id":"s","plan_id":"p","bind_resource":[]}`, 400,
			"field bind_resource must be an object"},
		{"bind with numeric app_guid", allRoutes[6], `{"service_id":"s","plan_id":"p","app_guid":7}`, 400,
			"field app_guid must be a string"},
		{"bind without org or space", allRoutes[6], `{"service_id":"s","plan_id":"p","unknown":true}`, 201, ""},
	}
	h := newHandler(t, successBroker())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, h, tt.rt.method, tt.rt.target, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", w.Code, tt.wantStatus, w.Body.Bytes())
			}
			if tt.wantDesc == "" {
				return
			}
			if d := description(t, w); !strings.Contains(d, tt.wantDesc) {
				t.Errorf("description = %q, want it to contain %q", d, tt.wantDesc)
			}
		})
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		contentType string
		ok          bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON", true},
		{"application/vnd.osb+json", true},
		{"", true},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"application/xml", false},
		{"not a media type;;", false},
	}
	h := newHandler(t, successBroker())
	for _, rt := range bodyRoutes {
		for _, tt := range tests {
			t.Run(rt.name+"/"+tt.contentType, func(t *testing.T) {
				w := do(t, h, rt.method, rt.target, rt.body, withHeader("Content-Type", tt.contentType))
				if tt.ok {
					if w.Code >= 300 {
						t.Errorf("status = %d, want success (body %s)", w.Code, w.Body.Bytes())
					}
					return
				}
				if w.Code != http.StatusBadRequest {
					t.Fatalf("status = %d, want 400", w.Code)
				}
				if d := description(t, w); !strings.Contains(d, "Content-Type") {
					t.Errorf("description = %q, want it to name Content-Type", d)
				}
			})
		}
	}
}

func TestOversizedBody(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MaxBodyBytes = 128
	h := osb.NewHandler(successBroker(), cfg)
	big := `{"service_id":"svc-1","plan_id":"plan-1","parameters":{"blob":"` + strings.Repeat("x", 200) + `"}}`
	trailing := `{"service_id":"svc-1","plan_id":"plan-1"}` + strings.Repeat(" ", 200)
	for _, rt := range bodyRoutes {
		for _, body := range []string{big, trailing} {
			for _, chunked := range []bool{false, true} {
				name := rt.name
				if chunked {
					name += "/chunked"
				}
				t.Run(name, func(t *testing.T) {
					r := newRequest(t, rt.method, rt.target, body)
					if chunked {
						// An unknown length: the limit is enforced while reading.
						r.ContentLength = -1
						r.Body = io.NopCloser(strings.NewReader(body))
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					assertResponse(t, w, http.StatusBadRequest, `{"description":"request body is larger than 128 bytes"}`)
				})
			}
		}
	}
	// Just under the limit is fine.
	w := do(t, h, http.MethodPut, bindingPath, bindJSON)
	if w.Code != http.StatusCreated {
		t.Errorf("small body: status = %d, want 201", w.Code)
	}
}

func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	h := newHandler(t, successBroker())
	pad := strings.Repeat("x", 1<<20)
	w := do(t, h, http.MethodPut, bindingPath, `{"service_id":"s","plan_id":"p","pad":"`+pad+`"}`)
	if w.Code != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", w.Code)
	}
	w = do(t, h, http.MethodPut, bindingPath, `{"service_id":"s","plan_id":"p","pad":"`+pad[:1<<19]+`"}`)
	if w.Code != http.StatusCreated {
		t.Errorf("status = %d, want 201", w.Code)
	}
}

func TestQueryParameters(t *testing.T) {
	type tc struct {
		name       string
		rt         routeCase
		target     string
		wantStatus int
		wantDesc   string
	}
	var tests []tc
	// accepts_incomplete on every route that takes it.
	for _, rt := range []routeCase{allRoutes[1], allRoutes[3], allRoutes[4], allRoutes[6], allRoutes[8]} {
		base := strings.Split(rt.target, "?")[0] + "?"
		if rt.method == http.MethodDelete {
			base += "service_id=svc-1&plan_id=plan-1&"
		}
		for _, v := range []string{"yes", "1", "TRUE", "True", "", "t"} {
			tests = append(tests, tc{rt.name + "/accepts_incomplete=" + v, rt, base + "accepts_incomplete=" + v, 400,
				"query parameter accepts_incomplete must be \"true\" or \"false\""})
		}
		for _, v := range []string{"true", "false"} {
			tests = append(tests, tc{rt.name + "/accepts_incomplete=" + v, rt, base + "accepts_incomplete=" + v, 0, ""})
		}
		tests = append(tests, tc{rt.name + "/malformed query", rt, base + "a=%zz", 400, "malformed query string"})
	}
	for _, rt := range []routeCase{allRoutes[4], allRoutes[8]} {
		path := strings.Split(rt.target, "?")[0]
		tests = append(tests,
			tc{rt.name + "/no service_id", rt, path + "?plan_id=plan-1", 400, "query parameter service_id is required"},
			tc{rt.name + "/empty service_id", rt, path + "?service_id=&plan_id=plan-1", 400, "query parameter service_id is required"},
			tc{rt.name + "/no plan_id", rt, path + "?service_id=svc-1", 400, "query parameter plan_id is required"},
			tc{rt.name + "/no query", rt, path, 400, "query parameters service_id and plan_id are required"},
		)
	}
	// GET routes: nothing is required; operation may hold anything.
	for _, rt := range []routeCase{allRoutes[0], allRoutes[2], allRoutes[5], allRoutes[7], allRoutes[9]} {
		tests = append(tests, tc{rt.name + "/odd query", rt, rt.target + "?operation=%E2%9C%93%20%2F%3F&accepts_incomplete=maybe", 0, ""})
	}
	h := newHandler(t, successBroker())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, h, tt.rt.method, tt.target, tt.rt.body)
			if tt.wantStatus == 0 {
				if w.Code >= 300 {
					t.Errorf("status = %d, want success (body %s)", w.Code, w.Body.Bytes())
				}
				return
			}
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", w.Code, tt.wantStatus, w.Body.Bytes())
			}
			if d := description(t, w); !strings.Contains(d, tt.wantDesc) {
				t.Errorf("description = %q, want it to contain %q", d, tt.wantDesc)
			}
		})
	}
}

func TestOriginatingIdentity(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		header string
		// body is a provision body ("" for provisionJSON).
		body     string
		want     broker.Identity
		wantDesc string // non-empty: 400 with this in the description
	}{
		{name: "absent", header: ""},
		{
			name:   "kubernetes",
			header: identityHeader(t, "kubernetes", map[string]any{"username": "alice", "uid": "u-1", "groups": []any{"admins"}, "extra": map[string]any{"k": []any{"v"}}}),
			want: broker.Identity{Platform: "kubernetes", User: "alice", Value: map[string]any{
				"username": "alice", "uid": "u-1", "groups": []any{"admins"}, "extra": map[string]any{"k": []any{"v"}}}},
		},
		{
			name:   "cloudfoundry",
			header: identityHeader(t, "cloudfoundry", map[string]any{"user_id": "683ea748-3092-4ff4-b656-39cacc4d5360"}),
			want: broker.Identity{Platform: "cloudfoundry", User: "683ea748-3092-4ff4-b656-39cacc4d5360",
				Value: map[string]any{"user_id": "683ea748-3092-4ff4-b656-39cacc4d5360"}},
		},
		{
			name:   "other platform",
			header: identityHeader(t, "smp", map[string]any{"user_id": "u", "username": "n"}),
			want:   broker.Identity{Platform: "smp", Value: map[string]any{"user_id": "u", "username": "n"}},
		},
		{
			name:   "kubernetes without username",
			header: identityHeader(t, "kubernetes", map[string]any{"uid": "u-1"}),
			want:   broker.Identity{Platform: "kubernetes", Value: map[string]any{"uid": "u-1"}},
		},
		{
			name:   "unpadded base64",
			header: "cloudfoundry " + base64.RawStdEncoding.EncodeToString([]byte(`{"user_id":"ab"}`)),
			want:   broker.Identity{Platform: "cloudfoundry", User: "ab", Value: map[string]any{"user_id": "ab"}},
		},
		{
			name:   "matches context.platform",
			header: identityHeader(t, "cloudfoundry", map[string]any{"user_id": "u"}),
			body:   `{"service_id":"s","plan_id":"p","context":{"platform":"cloudfoundry","organization_guid":"o"}}`,
			want:   broker.Identity{Platform: "cloudfoundry", User: "u", Value: map[string]any{"user_id": "u"}},
		},
		{
			name:   "context without platform",
			header: identityHeader(t, "cloudfoundry", map[string]any{"user_id": "u"}),
			body:   `{"service_id":"s","plan_id":"p","context":{"organization_guid":"o"}}`,
			want:   broker.Identity{Platform: "cloudfoundry", User: "u", Value: map[string]any{"user_id": "u"}},
		},
		{name: "platform only", header: "kubernetes", wantDesc: "must be \"<platform> <base64-encoded JSON object>\""},
		{name: "platform and space", header: "kubernetes  ", wantDesc: "must be \"<platform> <base64-encoded JSON object>\""},
		{name: "no platform", header: " " + b64(`{"username":"a"}`), wantDesc: "must be \"<platform>"},
		{name: "bad base64", header: "kubernetes !!!not-base64!!!", wantDesc: "not valid base64"},
		{name: "not JSON", header: "kubernetes " + b64("alice"), wantDesc: "not a JSON object"},
		{name: "JSON array", header: "kubernetes " + b64(`["alice"]`), wantDesc: "not a JSON object"},
		{name: "JSON null", header: "kubernetes " + b64(`null`), wantDesc: "not a JSON object"},
		{name: "trailing JSON", header: "kubernetes " + b64(`{"username":"a"} x`), wantDesc: "not a JSON object"},
		{name: "numeric username", header: identityHeader(t, "kubernetes", map[string]any{"username": 7}), wantDesc: "kubernetes username must be a string"},
		{name: "numeric user_id", header: identityHeader(t, "cloudfoundry", map[string]any{"user_id": true}), wantDesc: "cloudfoundry user_id must be a string"},
		{
			name:     "differs from context.platform",
			header:   identityHeader(t, "kubernetes", map[string]any{"username": "alice"}),
			body:     `{"service_id":"s","plan_id":"p","context":{"platform":"cloudfoundry"}}`,
			wantDesc: `platform "kubernetes" does not match context.platform "cloudfoundry"`,
		},
		{
			name:     "context.platform not a string",
			header:   identityHeader(t, "kubernetes", map[string]any{"username": "alice"}),
			body:     `{"service_id":"s","plan_id":"p","context":{"platform":1}}`,
			wantDesc: "field context.platform must be a string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *broker.Identity
			f := &fakeBroker{ProvisionFn: func(_ context.Context, req broker.ProvisionRequest) (broker.ProvisionResult, error) {
				got = &req.Identity
				return broker.ProvisionResult{}, nil
			}}
			body := tt.body
			if body == "" {
				body = provisionJSON
			}
			var opts []reqOpt
			if tt.header != "" {
				opts = append(opts, withHeader("X-Broker-API-Originating-Identity", tt.header))
			}
			w := do(t, newHandler(t, f), http.MethodPut, instancePath, body, opts...)
			if tt.wantDesc != "" {
				if w.Code != http.StatusBadRequest {
					t.Fatalf("status = %d, want 400 (body %s)", w.Code, w.Body.Bytes())
				}
				if d := description(t, w); !strings.Contains(d, tt.wantDesc) {
					t.Errorf("description = %q, want it to contain %q", d, tt.wantDesc)
				}
				if got != nil {
					t.Error("the broker was called")
				}
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", w.Code, w.Body.Bytes())
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("identity mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIdentityMismatchOnEveryBodyRoute checks update and bind as well as provision.
func TestIdentityMismatchOnEveryBodyRoute(t *testing.T) {
	h := newHandler(t, successBroker())
	k8s := withHeader("X-Broker-API-Originating-Identity", identityHeader(t, "kubernetes", map[string]any{"username": "a"}))
	bodies := map[string]string{
		"provision": `{"service_id":"s","plan_id":"p","context":{"platform":"cloudfoundry"}}`,
		"update":    `{"service_id":"s","context":{"platform":"cloudfoundry"}}`,
		"bind":      `{"service_id":"s","plan_id":"p","context":{"platform":"cloudfoundry"}}`,
	}
	for _, rt := range bodyRoutes {
		t.Run(rt.name, func(t *testing.T) {
			w := do(t, h, rt.method, rt.target, bodies[rt.name], k8s)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", w.Code)
			}
			if d := description(t, w); !strings.Contains(d, "does not match context.platform") {
				t.Errorf("description = %q", d)
			}
		})
	}
}
