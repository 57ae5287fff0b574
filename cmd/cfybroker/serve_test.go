package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/seal"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/testenv"
)

// TestServeNeedsAManager: serve without a Cloudify URL and without --cloudify-sim
// refuses to start (exit 2) and names both ways out; both at once are refused too.
func TestServeNeedsAManager(t *testing.T) {
	t.Setenv("CLOUDIFY_URL", "")
	t.Setenv("CFYBROKER_CLOUDIFY_SIM", "")
	t.Setenv("CFYBROKER_PASSWORD", "serve-test-pw")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"neither", nil},
		{"both", []string{"--cloudify-url", "http://127.0.0.1:1", "--cloudify-sim"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
			r := runCLI(t, args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d", r.code, exitUsage)
			}
			for _, want := range []string{"--cloudify-url", "--cloudify-sim"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not name %s", r.stderr, want)
				}
			}
		})
	}
}

// TestServeWithSimulator: --cloudify-sim starts the built-in simulator, whose sample
// blueprints make the catalog.
func TestServeWithSimulator(t *testing.T) {
	srv, err := startServer(context.Background(), serveConfig{
		Listen: "127.0.0.1:0", Username: testUser, Password: testPass, CloudifySim: true,
		CloudifyTenant: "default_tenant", DataDir: t.TempDir(), SimVersion: "7.0.4", SimSpeed: 10,
		DefaultDeadline: time.Minute, Concurrency: 2, PollMin: 100 * time.Millisecond,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+"/v2/catalog", nil)
	req.Header.Set("X-Broker-API-Version", "2.17")
	req.SetBasicAuth(testUser, testPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cat osbCatalog
	if err := json.NewDecoder(resp.Body).Decode(&cat); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("catalog: %d %v", resp.StatusCode, err)
	}
	if len(cat.Services) == 0 {
		t.Error("the built-in simulator's sample blueprints made no service")
	}
}

// startDemo starts serve --cloudify-sim on dataDir and returns an OSB client of it.
func startDemo(t *testing.T, dataDir string) osbc.Client {
	t.Helper()
	srv, err := startServer(context.Background(), serveConfig{
		Listen: "127.0.0.1:0", Username: testUser, Password: testPass, CloudifySim: true,
		CloudifyTenant: "default_tenant", DataDir: dataDir, SimVersion: "7.0.4", SimSpeed: 20,
		DefaultDeadline: time.Minute, Concurrency: 2, PollMin: 50 * time.Millisecond,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	cfg := osbc.DefaultClientConfiguration()
	cfg.URL = "http://" + srv.Addr()
	cfg.APIVersion = osbc.LatestAPIVersion()
	cfg.AuthConfig = &osbc.AuthConfig{BasicAuthConfig: &osbc.BasicAuthConfig{Username: testUser, Password: testPass}}
	client, err := osbc.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestServeDemoCatalog: the demo (--cloudify-sim) publishes the realistic samples
// only: the test fixtures failing-install and required-input are hidden by the
// overlay it stores at its first start. A platform that takes the first bindable
// service and fills its required parameters gets an instance that provisions and
// binds. An overlay already stored is left alone: with an empty one, the fixtures
// are published.
func TestServeDemoCatalog(t *testing.T) {
	fixtures := []string{"failing-install", "required-input"}
	names := func(cat *osbc.CatalogResponse) map[string]bool {
		m := map[string]bool{}
		for _, s := range cat.Services {
			m[s.Name] = true
		}
		return m
	}
	client := startDemo(t, t.TempDir())
	cat, err := client.GetCatalog()
	if err != nil {
		t.Fatal(err)
	}
	got := names(cat)
	for _, f := range fixtures {
		if got[f] {
			t.Errorf("the demo catalog publishes the test fixture %s", f)
		}
	}
	for _, want := range []string{"mariadb", "redis-cache", "s3-bucket"} {
		if !got[want] {
			t.Errorf("the demo catalog lacks the sample %s: %v", want, got)
		}
	}

	// The first bindable service, as a checker picks it, with its required parameters.
	var svc *osbc.Service
	for i := range cat.Services {
		if cat.Services[i].Bindable {
			svc = &cat.Services[i]
			break
		}
	}
	if svc == nil {
		t.Fatal("the demo catalog has no bindable service")
	}
	plan := svc.Plans[0]
	params := map[string]any{}
	if plan.Schemas != nil && plan.Schemas.ServiceInstance != nil && plan.Schemas.ServiceInstance.Create != nil {
		schema, _ := plan.Schemas.ServiceInstance.Create.Parameters.(map[string]any)
		required, _ := schema["required"].([]any)
		for _, name := range required {
			params[name.(string)] = "Demo-passw0rd-1"
		}
	}
	prov, err := client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "demo-1", AcceptsIncomplete: true,
		ServiceID: svc.ID, PlanID: plan.ID, OrganizationGUID: "o", SpaceGUID: "s", Parameters: params})
	if err != nil {
		t.Fatalf("provision of %s: %v", svc.Name, err)
	}
	for {
		lo, err := client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: "demo-1", ServiceID: &svc.ID, PlanID: &plan.ID,
			OperationKey: prov.OperationKey})
		if err != nil {
			t.Fatalf("last_operation: %v", err)
		}
		if lo.State == osbc.StateFailed {
			t.Fatalf("the provision of %s, the first bindable service, failed: %v", svc.Name, *lo.Description)
		}
		if lo.State == osbc.StateSucceeded {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A platform that takes asynchronous bindings: the sample gives every binding a
	// database user of its own, made by a workflow (202, then the binding's
	// last_operation, then fetch).
	bind, err := client.Bind(&osbc.BindRequest{InstanceID: "demo-1", BindingID: "demo-b1", ServiceID: svc.ID, PlanID: plan.ID, AcceptsIncomplete: true})
	if err != nil {
		t.Fatalf("bind of %s: %v", svc.Name, err)
	}
	creds := bind.Credentials
	if bind.Async {
		lo, err := pollBinding(t, client, "demo-1", "demo-b1", bind.OperationKey)
		mustSucceed(t, lo, err)
		got, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: "demo-1", BindingID: "demo-b1"})
		if err != nil {
			t.Fatalf("fetch binding of %s: %v", svc.Name, err)
		}
		creds = got.Credentials
	}
	if creds["username"] == nil || creds["password"] == nil {
		t.Fatalf("bind of %s (async %v): credentials %v; want a username and a password", svc.Name, bind.Async, creds)
	}
	// The demo's overlay gives every sample a credentials type.
	if typ, _ := creds["type"].(string); typ == "" || creds["provider"] != "cloudify" {
		t.Errorf("bind of %s: credentials type %v, provider %v; want the demo overlay's type and provider cloudify", svc.Name, creds["type"], creds["provider"])
	}

	// An overlay the operator stored is kept, even an empty one.
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutOverlay(context.Background(), []byte("version: 1\n")); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cat, err = startDemo(t, dir).GetCatalog()
	if err != nil {
		t.Fatal(err)
	}
	got = names(cat)
	for _, f := range fixtures {
		if !got[f] {
			t.Errorf("with an empty overlay stored, the demo catalog lacks %s: %v", f, got)
		}
	}
}

// TestServeRefusesOpenSealKey: a seal.key that the group or others may read stops
// serve at start, with a message that says how to fix it.
func TestServeRefusesOpenSealKey(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "seal.key")
	if _, err := seal.LoadOrCreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(context.Background(), serveConfig{
		Listen: "127.0.0.1:0", Username: testUser, Password: testPass, CloudifySim: true,
		CloudifyTenant: "default_tenant", DataDir: dir, SimVersion: "7.0.4", SimSpeed: 10,
		DefaultDeadline: time.Minute, Concurrency: 2, PollMin: 100 * time.Millisecond,
	}, testLogger(t))
	if err == nil {
		_ = srv.Shutdown(context.Background())
	}
	if !errors.Is(err, seal.ErrKeyFileMode) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("start with a seal.key of mode 0644: %v, want ErrKeyFileMode naming chmod 600", err)
	}
}

// TestServeWarnsSecretFlags: a secret given as a flag (visible in ps) is warned about,
// naming the flag and its environment variable, never the value.
func TestServeWarnsSecretFlags(t *testing.T) {
	t.Setenv("CLOUDIFY_URL", "")
	// --cloudify-url with --cloudify-sim stops serve right after the warnings.
	r := runCLI(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--cloudify-url", "http://127.0.0.1:1", "--cloudify-sim",
		"--password", "Cmdline-Broker-Pw-1", "--admin-password", "Cmdline-Admin-Pw-2")
	for _, want := range []string{"flag=--password variable=CFYBROKER_PASSWORD", "flag=--admin-password variable=CFYBROKER_ADMIN_PASSWORD"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not warn %q:\n%s", want, r.stderr)
		}
	}
	for _, secret := range []string{"Cmdline-Broker-Pw-1", "Cmdline-Admin-Pw-2"} {
		if strings.Contains(r.stderr, secret) {
			t.Errorf("stderr holds a secret given on the command line")
		}
	}
	if strings.Contains(r.stderr, "flag=--cloudify-password") {
		t.Errorf("warned about a flag that was not given:\n%s", r.stderr)
	}
}

// TestUncleanPaths: paths that are not clean ("//", "/./", "/../", a trailing "/.",
// "/admin/v1" without its slash) are never redirected: on the OSB listener they go
// through the version and credential checks like any path, then get a JSON 404; on
// the metrics listener, a JSON 404.
func TestUncleanPaths(t *testing.T) {
	e := newE2E(t, "7.0.4")
	e.stop()
	e.cfg.MetricsListen = "127.0.0.1:0"
	e.start()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string, header http.Header, user, pass string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Content-Type")
	}
	version := http.Header{"X-Broker-Api-Version": {"2.17"}}
	for _, p := range []string{
		"//v2/catalog", "/v2/./catalog", "/v2/../v2/catalog", "/v2/catalog/.", "/v2/catalog/..",
		"/admin/v1", "/admin/v1/.", "/admin/v1//instances", "/admin/v1/./instances", "/admin/v1/../v2/catalog",
		"//healthz", "/healthz/.", "/./readyz",
	} {
		for _, tc := range []struct {
			name       string
			header     http.Header
			user, pass string
			want       int
		}{
			{"no version", http.Header{}, testUser, testPass, http.StatusPreconditionFailed},
			{"no credentials", version, "", "", http.StatusUnauthorized},
			{"operator credentials", version, testAdminUser, testAdminPass, http.StatusUnauthorized},
			{"platform credentials", version, testUser, testPass, http.StatusNotFound},
		} {
			code, ctype := get(e.url+p, tc.header.Clone(), tc.user, tc.pass)
			if code != tc.want || !strings.HasPrefix(ctype, "application/json") {
				t.Errorf("GET %s, %s: %d %q, want %d JSON", p, tc.name, code, ctype, tc.want)
			}
		}
	}
	metricsURL := "http://" + e.srv.MetricsAddr()
	for _, p := range []string{"//metrics", "/metrics/.", "/./metrics", "//healthz", "/readyz/..", "/x/../metrics"} {
		if code, ctype := get(metricsURL+p, http.Header{}, "", ""); code != http.StatusNotFound || !strings.HasPrefix(ctype, "application/json") {
			t.Errorf("metrics listener GET %s: %d %q, want a JSON 404", p, code, ctype)
		}
	}
	for _, p := range []string{"/metrics", "/healthz"} {
		if code, _ := get(metricsURL+p, http.Header{}, "", ""); code != http.StatusOK {
			t.Errorf("metrics listener GET %s: %d, want 200", p, code)
		}
	}
	if code, _ := get(e.url+"/healthz", http.Header{}, "", ""); code != http.StatusOK {
		t.Errorf("GET /healthz: %d, want 200", code)
	}
	if code, _ := get(e.url+admin.Prefix+"instances", version, testAdminUser, testAdminPass); code != http.StatusOK {
		t.Errorf("GET %sinstances as the operator: %d, want 200", admin.Prefix, code)
	}
}

// TestServeDeadlineBounded: a --default-deadline past what an operation may run, or
// not positive, stops serve at start (exit 2) naming the flag.
func TestServeDeadlineBounded(t *testing.T) {
	t.Setenv("CLOUDIFY_URL", "")
	t.Setenv("CFYBROKER_PASSWORD", "serve-test-pw")
	for _, d := range []string{"25h", "100h", "0s", "-1h"} {
		r := runCLI(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--cloudify-sim", "--default-deadline", d)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--default-deadline") {
			t.Errorf("--default-deadline %s: exit %d %q, want exit 2 naming the flag", d, r.code, r.stderr)
		}
	}
}

// TestServeHungManager: a manager that accepts requests and never answers them holds
// up no step past the call timeout: each call ends with a clean, retried fault, the
// operation stays in progress (not failed), and it succeeds once the manager answers.
func TestServeHungManager(t *testing.T) {
	var logs testenv.SyncBuffer
	e := newE2E(t, "7.0.4")
	e.stop()
	e.cfg.CloudifyCallTimeout = 200 * time.Millisecond
	e.logTo = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.start()
	svc, plan := e.plan("mariadb")
	hang := e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultLatency, Latency: time.Hour, Match: cloudifysim.FaultMatch{PathPrefix: "/executions", Method: http.MethodGet}})
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "hung-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": "Passw0rd-ok"}})
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(logs.String(), "no answer in time") {
		resp, err := e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: "hung-1", OperationKey: prov.OperationKey})
		if err != nil || resp.State != osbc.StateInProgress {
			t.Fatalf("while the manager hangs: %+v, %v; want in progress", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.sim.RemoveFault(hang)
	resp, err := e.poll("hung-1", prov.OperationKey)
	mustSucceed(t, resp, err)
}
