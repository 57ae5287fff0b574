package osb_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/osb"
	"github.com/google/go-cmp/cmp"
)

// TestPollLogging: a poll that repeats its resource's previous answer is logged at
// DEBUG; the first answer, a changed one (with the count of the repeats) and every
// error at INFO; mutating requests always at INFO; every line has its request id.
func TestPollLogging(t *testing.T) {
	var logs bytes.Buffer
	state := broker.StateInProgress
	desc := "installing"
	fail := false
	f := &fakeBroker{
		LastOperationFn: func(context.Context, broker.LastOperationRequest) (broker.LastOperation, error) {
			if fail {
				return broker.LastOperation{}, broker.Errorf(broker.ENotFound, "instance inst-1 does not exist")
			}
			return broker.LastOperation{State: state, Description: desc}, nil
		},
		CatalogFn: func(context.Context) (broker.Catalog, error) {
			return broker.Catalog{ETag: "etag-1", Services: []broker.Service{}}, nil
		},
	}
	cfg := testConfig(nil)
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := osb.NewHandler(f, cfg)
	poll := func(id string) {
		t.Helper()
		w := do(t, h, http.MethodGet, instancePath+"/last_operation", "", withHeader("X-Broker-API-Request-Identity", id))
		if w.Code != http.StatusOK && !fail {
			t.Fatalf("poll %s: status %d", id, w.Code)
		}
	}
	poll("p1")
	poll("p2")
	poll("p3")
	desc = "installing (2 of 3)"
	poll("p4")
	// Another instance's resource is remembered on its own.
	do(t, h, http.MethodGet, "/v2/service_instances/inst-2/last_operation", "", withHeader("X-Broker-API-Request-Identity", "q1"))
	do(t, h, http.MethodGet, "/v2/catalog", "", withHeader("X-Broker-API-Request-Identity", "c1"))
	do(t, h, http.MethodGet, "/v2/catalog", "", withHeader("X-Broker-API-Request-Identity", "c2"))
	do(t, h, http.MethodDelete, instancePath+"?service_id=svc-1&plan_id=plan-1&accepts_incomplete=true", "", withHeader("X-Broker-API-Request-Identity", "d1"))
	do(t, h, http.MethodDelete, instancePath+"?service_id=svc-1&plan_id=plan-1&accepts_incomplete=true", "", withHeader("X-Broker-API-Request-Identity", "d2"))
	fail = true
	poll("p5")
	poll("p6")
	fail = false
	poll("p7")

	type line struct {
		Level, RequestID string
		Unchanged        float64
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		u, _ := m["unchanged_polls"].(float64)
		got = append(got, line{Level: m["level"].(string), RequestID: m["request_id"].(string), Unchanged: u})
	}
	want := []line{
		{"INFO", "p1", 0}, {"DEBUG", "p2", 0}, {"DEBUG", "p3", 0}, {"INFO", "p4", 2},
		{"INFO", "q1", 0},
		{"INFO", "c1", 0}, {"DEBUG", "c2", 0},
		{"INFO", "d1", 0}, {"INFO", "d2", 0},
		{"INFO", "p5", 0}, {"INFO", "p6", 0},
		{"INFO", "p7", 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

// TestAuthorizationSpellings: the whole-header comparison accepts exactly what the
// field-by-field one accepts.
func TestAuthorizationSpellings(t *testing.T) {
	cfg := testConfig(nil)
	cfg.Credentials = append(cfg.Credentials, osb.Credential{Username: "col:on", Password: "pw"}, osb.Credential{Username: "plain", Password: "x:y"})
	h := osb.NewHandler(&fakeBroker{}, cfg)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tt := range []struct {
		header string
		ok     bool
	}{
		{"Basic " + b64(testUser+":"+testPassword), true},
		{"basic " + b64(testUser+":"+testPassword), true},
		{"BASIC " + b64(rotatedUser+":"+rotatedPass), true},
		{"Basic " + b64(testUser+":"+testPassword+"x"), false},
		{"Basic " + strings.TrimRight(b64(testUser+":"+testPassword+"ab"), "="), false},
		{"Basic " + b64("col:on:pw"), false}, // read as user "col", password "on:pw"
		{"Basic " + b64("plain:x:y"), true},
		{"Bearer " + b64(testUser+":"+testPassword), false},
	} {
		w := do(t, h, http.MethodGet, "/v2/catalog", "", withHeader("Authorization", tt.header))
		if got := w.Code != http.StatusUnauthorized; got != tt.ok {
			t.Errorf("Authorization %q: status %d, want accepted %v", tt.header, w.Code, tt.ok)
		}
	}
}
