package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// get answers a GET without credentials: status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestProbesAndMetrics: /readyz answers 503 until a catalog is built (the manager
// is in maintenance at start), 200 once it is, 503 again when the store is closed;
// /healthz answers 200 throughout; neither asks for credentials. The metrics
// listener counts the OSB requests by route template, the operation, its steps and
// the manager's error answers by error_code, and shows no id, password or parameter.
func TestProbesAndMetrics(t *testing.T) {
	sim := cloudifysim.New(cloudifysim.Config{
		Version: "7.0.4", Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true, Clock: newSpeedClock(10),
	})
	var maintenance atomic.Bool
	maintenance.Store(true)
	manager := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if maintenance.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"message": "Your request was rejected since Cloudify manager is currently under maintenance mode", "error_code": "maintenance_mode_active"}`)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(manager.Close)

	e := &e2e{t: t, sim: sim, simURL: manager.URL, cfg: serveConfig{
		Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", Username: testUser, Password: testPass,
		AdminUsername: testAdminUser, AdminPassword: testAdminPass,
		CloudifyURL: manager.URL, CloudifyTenant: "default_tenant", CloudifyUsername: "admin", CloudifyPassword: "cfy-pw",
		DataDir: t.TempDir(), DashboardTemplate: "{manager}/console/deployments/{deployment_id}",
		DefaultDeadline: time.Minute, Concurrency: 4, PollMin: 100 * time.Millisecond,
	}}
	e.start()
	t.Cleanup(e.stop)
	metricsURL := "http://" + e.srv.MetricsAddr()
	if e.srv.MetricsAddr() == "" {
		t.Fatal("--metrics-listen set, but no metrics listener")
	}

	for _, base := range []string{e.url, metricsURL} {
		if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready\n" {
			t.Errorf("%s/readyz before any catalog = %d %q, want 503 not ready", base, code, body)
		}
		if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s/healthz = %d %q, want 200 ok", base, code, body)
		}
	}
	// The OSB routes still want credentials: the probes opened nothing else.
	if code, _ := get(t, e.url+"/v2/catalog"); code != http.StatusPreconditionFailed && code != http.StatusUnauthorized {
		t.Errorf("GET /v2/catalog without version and credentials = %d, want 412 or 401", code)
	}

	maintenance.Store(false)
	e.srv.syncCatalog(context.Background())
	for _, base := range []string{e.url, metricsURL} {
		if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s/readyz after the catalog sync = %d %q, want 200 ok", base, code, body)
		}
	}

	// One provision through the OSB API, with a secret parameter.
	svc, plan := e.plan("mariadb")
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{
		InstanceID: "probe-inst-7", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "org", SpaceGUID: "space", Parameters: map[string]any{"admin_password": "Metr1cs-secret"},
	})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	resp, err := e.poll("probe-inst-7", prov.OperationKey)
	mustSucceed(t, resp, err)

	_, text := get(t, metricsURL+"/metrics")
	for _, want := range []string{
		`cfybroker_http_requests_total{code="200",route="GET /v2/catalog"} 1`,
		`cfybroker_http_requests_total{code="202",route="PUT /v2/service_instances/:instance_id"} 1`,
		`cfybroker_http_requests_total{code="503",route="GET /readyz"} 1`,
		`cfybroker_http_requests_total{code="200",route="GET /healthz"} 1`,
		`cfybroker_operations_started_total{type="provision"} 1`,
		`cfybroker_operations_finished_total{state="succeeded",type="provision"} 1`,
		`cfybroker_workflow_steps_total{result="ended",type="provision"} 1`,
		`cfybroker_operations_in_progress{type="provision"} 0`,
		`cfybroker_cloudify_errors_total{error_code="maintenance_mode_active"} `,
		`cfybroker_workflow_steps_total{result="waiting",type="provision"} `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(text, `cfybroker_http_requests_total{code="200",route="GET /v2/service_instances/:instance_id/last_operation"}`) {
		t.Errorf("/metrics lacks the last_operation polls")
	}
	for _, leak := range []string{"probe-inst-7", "Metr1cs-secret", testPass, "cfy-pw", "osb-probe"} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics contains %q", leak)
		}
	}

	// A closed store is not ready.
	if err := e.srv.store.Close(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, e.url+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed = %d, want 503", code)
	}
}
