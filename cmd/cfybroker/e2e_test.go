package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

const (
	testUser = "platform"
	testPass = "e2e-secret-pw"
	// testAdminUser and testAdminPass are the operator's credentials (the admin API).
	testAdminUser = "operator"
	testAdminPass = "e2e-operator-pw"
)

// e2e is one broker under test, listening on loopback, against a simulator.
type e2e struct {
	t      *testing.T
	sim    *cloudifysim.Simulator
	simURL string
	cfg    serveConfig
	srv    *server
	client osbc.Client
	url    string
	// logTo, when set, receives the broker's logs (else the test log in -v mode).
	logTo *slog.Logger
}

// newE2E starts a simulator (time runs 10× faster) and a broker in front of it.
func newE2E(t *testing.T, version string) *e2e {
	t.Helper()
	sim := cloudifysim.New(cloudifysim.Config{
		Version: version, Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true,
		Clock: newSpeedClock(10),
	})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	e := &e2e{t: t, sim: sim, simURL: ts.URL, cfg: serveConfig{
		Listen: "127.0.0.1:0", Username: testUser, Password: testPass,
		AdminUsername: testAdminUser, AdminPassword: testAdminPass,
		CloudifyURL: ts.URL, CloudifyTenant: "default_tenant", CloudifyUsername: "admin", CloudifyPassword: "cfy-pw",
		DataDir: t.TempDir(), DashboardTemplate: "{manager}/console/deployments/{deployment_id}",
		DefaultDeadline: time.Minute, Concurrency: 8, PollMin: 100 * time.Millisecond,
	}}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

func readFileBytes(path string) ([]byte, error) { return os.ReadFile(path) }

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *e2e) start() {
	e.t.Helper()
	log := e.logTo
	if log == nil {
		log = testLogger(e.t)
	}
	srv, err := startServer(context.Background(), e.cfg, log)
	if err != nil {
		e.t.Fatalf("start broker: %v", err)
	}
	e.srv = srv
	e.url = "http://" + srv.Addr()
	cfg := osbc.DefaultClientConfiguration()
	cfg.URL = e.url
	cfg.AuthConfig = &osbc.AuthConfig{BasicAuthConfig: &osbc.BasicAuthConfig{Username: testUser, Password: testPass}}
	// A platform that binds asynchronously (the Kubernetes service catalog gates that
	// behind its alpha features); the library itself needs API version 2.14.
	cfg.EnableAlphaFeatures = true
	c, err := osbc.NewClient(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.client = c
}

func (e *e2e) stop() {
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.srv.Shutdown(ctx)
		e.srv = nil
	}
}

// liveDeployments are the simulator's deployments that exist now.
func (e *e2e) liveDeployments() []cloudifysim.DeploymentInfo {
	var out []cloudifysim.DeploymentInfo
	for _, d := range e.sim.Deployments() {
		if d.Exists {
			out = append(out, d)
		}
	}
	return out
}

// rawStatus sends an OSB request with the broker's credentials and returns the status.
func (e *e2e) rawStatus(method, path, body string) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("X-Broker-API-Version", "2.17")
	req.SetBasicAuth(testUser, testPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// plan finds a service by blueprint-derived name and its first plan.
func (e *e2e) plan(serviceName string) (serviceID, planID string) {
	e.t.Helper()
	cat, err := e.client.GetCatalog()
	if err != nil {
		e.t.Fatalf("catalog: %v", err)
	}
	for _, s := range cat.Services {
		if s.Name == serviceName {
			return s.ID, s.Plans[0].ID
		}
	}
	e.t.Fatalf("service %q not in the catalog", serviceName)
	return "", ""
}

// poll follows last_operation until it leaves "in progress".
func (e *e2e) poll(instanceID string, op *osbc.OperationKey) (*osbc.LastOperationResponse, error) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: instanceID, OperationKey: op})
		if err != nil {
			return nil, err
		}
		if resp.State != osbc.StateInProgress {
			return resp, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("instance %s: operation still in progress after 60 s", instanceID)
	return nil, nil
}

// pollBinding follows a binding's last_operation until it leaves "in progress".
func (e *e2e) pollBinding(instanceID, bindingID string, op *osbc.OperationKey) (*osbc.LastOperationResponse, error) {
	e.t.Helper()
	return pollBinding(e.t, e.client, instanceID, bindingID, op)
}

// pollBinding follows a binding's last_operation on c until it leaves "in progress".
func pollBinding(t *testing.T, c osbc.Client, instanceID, bindingID string, op *osbc.OperationKey) (*osbc.LastOperationResponse, error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.PollBindingLastOperation(&osbc.BindingLastOperationRequest{InstanceID: instanceID, BindingID: bindingID, OperationKey: op})
		if err != nil {
			return nil, err
		}
		if resp.State != osbc.StateInProgress {
			return resp, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("binding %s/%s: operation still in progress after 60 s", instanceID, bindingID)
	return nil, nil
}

// bindWait binds with accepts_incomplete on a plan whose bindings have credentials of
// their own: the bind must answer 202 with an operation and no credentials, and end
// succeeded. It returns the fetched binding.
func bindWait(t *testing.T, c osbc.Client, req osbc.BindRequest) *osbc.GetBindingResponse {
	t.Helper()
	req.AcceptsIncomplete = true
	bind, err := c.Bind(&req)
	if err != nil {
		t.Fatalf("bind %s: %v", req.BindingID, err)
	}
	if !bind.Async || bind.OperationKey == nil || len(bind.Credentials) != 0 {
		t.Fatalf("bind %s = %+v, want 202 with an operation and no credentials", req.BindingID, bind)
	}
	resp, err := pollBinding(t, c, req.InstanceID, req.BindingID, bind.OperationKey)
	mustSucceed(t, resp, err)
	got, err := c.GetBinding(&osbc.GetBindingRequest{InstanceID: req.InstanceID, BindingID: req.BindingID})
	if err != nil {
		t.Fatalf("fetch binding %s after its bind succeeded: %v", req.BindingID, err)
	}
	return got
}

// bindWait binds on the broker under test (see bindWait).
func (e *e2e) bindWait(instanceID, bindingID, serviceID, planID string) *osbc.GetBindingResponse {
	e.t.Helper()
	return bindWait(e.t, e.client, osbc.BindRequest{InstanceID: instanceID, BindingID: bindingID, ServiceID: serviceID, PlanID: planID})
}

// unbindWait unbinds a binding with credentials of its own: the unbind must answer 202
// with an operation, and its last_operation end in 410 Gone.
func (e *e2e) unbindWait(instanceID, bindingID, serviceID, planID string) {
	e.t.Helper()
	un, err := e.client.Unbind(&osbc.UnbindRequest{InstanceID: instanceID, BindingID: bindingID, ServiceID: serviceID, PlanID: planID, AcceptsIncomplete: true})
	if err != nil || !un.Async || un.OperationKey == nil {
		e.t.Fatalf("unbind %s = %+v, %v; want 202 with an operation", bindingID, un, err)
	}
	if _, err := e.pollBinding(instanceID, bindingID, un.OperationKey); !osbc.IsGoneError(err) {
		e.t.Fatalf("last_operation of the unbind of %s: %v, want 410 Gone", bindingID, err)
	}
}

// bindingUser is the simulator's database user of a binding of the deployment, if any.
func (e *e2e) bindingUser(deploymentID, bindingID string) (cloudifysim.BindingUser, bool) {
	d, ok := e.sim.Deployment(deploymentID)
	if !ok {
		return cloudifysim.BindingUser{}, false
	}
	for _, u := range d.BindingUsers {
		if u.Binding == bindingID {
			return u, true
		}
	}
	return cloudifysim.BindingUser{}, false
}

// bindingSecrets are the keys of the simulator's secrets that hold binding credentials.
func (e *e2e) bindingSecrets() []string {
	var keys []string
	for _, s := range e.sim.Secrets() {
		if strings.HasPrefix(s.Key, "osb-") {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

func mustSucceed(t *testing.T, resp *osbc.LastOperationResponse, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("last_operation: %v", err)
	}
	if resp.State != osbc.StateSucceeded {
		desc := ""
		if resp.Description != nil {
			desc = *resp.Description
		}
		t.Fatalf("state = %s (%s), want succeeded", resp.State, desc)
	}
}

func statusOf(err error) int {
	if h, ok := osbc.IsHTTPError(err); ok {
		return h.StatusCode
	}
	return 0
}

func errorCodeOf(err error) string {
	if h, ok := osbc.IsHTTPError(err); ok && h.ErrorMessage != nil {
		return *h.ErrorMessage
	}
	return ""
}

func TestEndToEndLifecycle(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.plan("mariadb")
	params := map[string]any{"admin_password": "Sup3r-secret"}

	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{
		InstanceID: "inst-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "org", SpaceGUID: "space", Parameters: params,
	})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	if !prov.Async || prov.OperationKey == nil || prov.DashboardURL == nil || !strings.Contains(*prov.DashboardURL, "osb-inst-1") {
		t.Fatalf("provision response = %+v", prov)
	}
	// An identical repeat while running gets the same operation.
	again, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{
		InstanceID: "inst-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "org", SpaceGUID: "space", Parameters: params,
	})
	if err != nil || !again.Async || *again.OperationKey != *prov.OperationKey {
		t.Fatalf("repeat provision = %+v, %v", again, err)
	}
	// Something else on the instance while it provisions: 422 ConcurrencyError.
	_, err = e.client.UpdateInstance(&osbc.UpdateInstanceRequest{InstanceID: "inst-1", AcceptsIncomplete: true, ServiceID: svc,
		Parameters: map[string]any{"db_name": "other"}})
	if !osbc.IsConcurrencyError(err) {
		t.Fatalf("update during provision: %v, want ConcurrencyError", err)
	}
	resp, err := e.poll("inst-1", prov.OperationKey)
	mustSucceed(t, resp, err)

	// The simulator's truth: one deployment, labelled with the instance id.
	deps := e.liveDeployments()
	if len(deps) != 1 || deps[0].ID != "osb-inst-1" || deps[0].Inputs["admin_password"] != "Sup3r-secret" {
		t.Fatalf("simulator deployments = %+v", deps)
	}

	got, err := e.client.GetInstance(&osbc.GetInstanceRequest{InstanceID: "inst-1"})
	if err != nil || got.PlanID != plan || got.ServiceID != svc {
		t.Fatalf("fetch instance = %+v, %v", got, err)
	}
	if _, leaked := got.Parameters["admin_password"]; leaked {
		t.Fatalf("fetch instance returns the password parameter")
	}
	// Identical repeat after success: 200.
	done, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{
		InstanceID: "inst-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "org", SpaceGUID: "space", Parameters: params,
	})
	if err != nil || done.Async {
		t.Fatalf("repeat after success = %+v, %v; want 200", done, err)
	}
	// Different attributes: 409.
	_, err = e.client.ProvisionInstance(&osbc.ProvisionRequest{
		InstanceID: "inst-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "org", SpaceGUID: "space", Parameters: map[string]any{"admin_password": "other-Passw0rd"},
	})
	if statusOf(err) != http.StatusConflict {
		t.Fatalf("conflicting provision: %v, want 409", err)
	}

	// mariadb's blueprint has bind workflows: the binding gets a database user of its
	// own, made asynchronously.
	bindReq := osbc.BindRequest{InstanceID: "inst-1", BindingID: "bind-1", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true}
	bind, err := e.client.Bind(&bindReq)
	if err != nil || !bind.Async || bind.OperationKey == nil {
		t.Fatalf("bind = %+v, %v; want 202 with an operation", bind, err)
	}
	// An identical repeat: the same operation while it runs, the credentials once bound.
	repeat, err := e.client.Bind(&bindReq)
	switch {
	case err != nil:
		t.Fatalf("repeat bind: %v", err)
	case repeat.Async && (repeat.OperationKey == nil || *repeat.OperationKey != *bind.OperationKey):
		t.Fatalf("repeat bind while binding = %+v, want operation %s", repeat, *bind.OperationKey)
	case !repeat.Async && repeat.Credentials["username"] == nil:
		t.Fatalf("repeat bind once bound = %+v, want the credentials", repeat)
	}
	resp, err = e.pollBinding("inst-1", "bind-1", bind.OperationKey)
	mustSucceed(t, resp, err)
	fetched, err := e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: "inst-1", BindingID: "bind-1"})
	if err != nil {
		t.Fatalf("fetch binding: %v", err)
	}
	user, ok := e.bindingUser("osb-inst-1", "bind-1")
	if !ok {
		t.Fatalf("the simulator has no database user for bind-1: %+v", e.liveDeployments())
	}
	creds := fetched.Credentials
	if creds["username"] != user.Username || creds["password"] != user.Password || creds["password"] == "Sup3r-secret" ||
		creds["host"] == nil || creds["port"] == nil || creds["provider"] != "cloudify" {
		t.Fatalf("credentials = %v, want the binding's own user %s, host, port and provider cloudify", creds, user.Username)
	}
	if user.SecretKey != "osb-osb-inst-1-bind-1" || !slices.Contains(e.bindingSecrets(), user.SecretKey) {
		t.Fatalf("binding user's secret %q; secrets %v", user.SecretKey, e.bindingSecrets())
	}

	upd, err := e.client.UpdateInstance(&osbc.UpdateInstanceRequest{InstanceID: "inst-1", AcceptsIncomplete: true, ServiceID: svc,
		Parameters: map[string]any{"db_name": "orders"}})
	if err != nil || !upd.Async {
		t.Fatalf("update = %+v, %v", upd, err)
	}
	resp, err = e.poll("inst-1", upd.OperationKey)
	mustSucceed(t, resp, err)
	for _, d := range e.liveDeployments() {
		if d.ID == "osb-inst-1" && d.Inputs["db_name"] != "orders" {
			t.Fatalf("deployment inputs after update = %v", d.Inputs)
		}
	}

	// The binding keeps its credentials across the update.
	if again, err := e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: "inst-1", BindingID: "bind-1"}); err != nil || again.Credentials["username"] != user.Username {
		t.Fatalf("fetch binding after the update = %+v, %v", again, err)
	}

	e.unbindWait("inst-1", "bind-1", svc, plan)
	if _, ok := e.bindingUser("osb-inst-1", "bind-1"); ok {
		t.Fatalf("the database user of bind-1 outlived the unbind")
	}
	if left := e.bindingSecrets(); len(left) != 0 {
		t.Fatalf("secrets left after the unbind: %v", left)
	}
	// The Kubernetes client takes 410 as success on unbind and deprovision; check the status itself.
	if code := e.rawStatus("DELETE", "/v2/service_instances/inst-1/service_bindings/bind-1?service_id="+svc+"&plan_id="+plan, ""); code != http.StatusGone {
		t.Fatalf("second unbind: %d, want 410", code)
	}

	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "inst-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil || !dep.Async {
		t.Fatalf("deprovision = %+v, %v", dep, err)
	}
	_, err = e.poll("inst-1", dep.OperationKey)
	if !osbc.IsGoneError(err) {
		t.Fatalf("last_operation after deprovision: %v, want 410 Gone", err)
	}
	for _, d := range e.liveDeployments() {
		if d.ID == "osb-inst-1" {
			t.Fatalf("deployment still on the manager after deprovision: %+v", d)
		}
	}
	if code := e.rawStatus("DELETE", "/v2/service_instances/inst-1?accepts_incomplete=true&service_id="+svc+"&plan_id="+plan, ""); code != http.StatusGone {
		t.Fatalf("second deprovision: %d, want 410", code)
	}
}

func TestEndToEndErrors(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.plan("mariadb")

	raw := func(method, path, version, user, pass, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
		if version != "" {
			req.Header.Set("X-Broker-API-Version", version)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := raw("GET", "/v2/catalog", "", testUser, testPass, ""); code != http.StatusPreconditionFailed {
		t.Errorf("missing version: %d, want 412", code)
	}
	if code, _ := raw("GET", "/v2/catalog", "2.17", testUser, "wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("bad auth: %d, want 401", code)
	}
	if code, body := raw("PUT", "/v2/service_instances/x1?accepts_incomplete=true", "2.17", testUser, testPass, `{"service_id":`); code != http.StatusBadRequest {
		t.Errorf("malformed body: %d %s, want 400", code, body)
	}

	base := osbc.ProvisionRequest{InstanceID: "bad-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": "Passw0rd-ok"}}
	unknownPlan := base
	unknownPlan.PlanID = "no-such-plan"
	if _, err := e.client.ProvisionInstance(&unknownPlan); statusOf(err) != http.StatusBadRequest {
		t.Errorf("unknown plan: %v, want 400", err)
	}
	badParams := base
	badParams.Parameters = map[string]any{"admin_password": "Passw0rd-ok", "node_count": 99}
	_, err := e.client.ProvisionInstance(&badParams)
	if h, ok := osbc.IsHTTPError(err); !ok || h.StatusCode != http.StatusBadRequest || h.Description == nil || !strings.Contains(*h.Description, "node_count") {
		t.Errorf("bad parameters: %v, want 400 naming node_count", err)
	}
	sync := base
	sync.AcceptsIncomplete = false
	if _, err := e.client.ProvisionInstance(&sync); !osbc.IsAsyncRequiredError(err) {
		t.Errorf("sync provision: %v (%s), want 422 AsyncRequired", err, errorCodeOf(err))
	}
	// Nothing was written by any of these.
	if _, err := e.client.GetInstance(&osbc.GetInstanceRequest{InstanceID: "bad-1"}); statusOf(err) != http.StatusNotFound {
		t.Errorf("fetch after refused provisions: %v, want 404", err)
	}
	if n := len(e.liveDeployments()); n != 0 {
		t.Errorf("refused provisions created %d deployments", n)
	}
	// Deprovision while provisioning halts the provision and deletes the deployment.
	if _, err := e.client.ProvisionInstance(&base); err != nil {
		t.Fatal(err)
	}
	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "bad-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil {
		t.Fatalf("deprovision during provision: %v", err)
	}
	if _, err := e.poll("bad-1", dep.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("deprovision during provision ended with %v, want 410", err)
	}
	if n := len(e.liveDeployments()); n != 0 {
		t.Errorf("%d deployments left after halting a provision", n)
	}
}

func TestEndToEndFailedInstall(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.plan("failing-install")
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "fail-1", AcceptsIncomplete: true,
		ServiceID: svc, PlanID: plan, OrganizationGUID: "o", SpaceGUID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.poll("fail-1", prov.OperationKey)
	if err != nil || resp.State != osbc.StateFailed || resp.Description == nil || !strings.Contains(*resp.Description, "install") {
		t.Fatalf("failed install reported as %+v, %v", resp, err)
	}
	t.Logf("failure description: %s", *resp.Description)
	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "fail-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.poll("fail-1", dep.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("deprovision of a failed instance: %v, want 410", err)
	}
	if n := len(e.liveDeployments()); n != 0 {
		t.Fatalf("%d deployments left", n)
	}
}

func TestEndToEndRestart(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.plan("mariadb")
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "restart-1", AcceptsIncomplete: true,
		ServiceID: svc, PlanID: plan, OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": "Passw0rd-ok"}})
	if err != nil {
		t.Fatal(err)
	}
	// Stop the broker while the install runs, then start it again on the same data.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: "restart-1", OperationKey: prov.OperationKey})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Description != nil && strings.Contains(*resp.Description, "install") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.stop()
	e.start()
	resp, err := e.poll("restart-1", prov.OperationKey)
	mustSucceed(t, resp, err)
	if n := len(e.liveDeployments()); n != 1 {
		t.Fatalf("%d deployments after restart, want 1", n)
	}
}

// newSpeedClock is the simulator's clock run factor times faster than real time.
func newSpeedClock(factor float64) cloudifysim.Clock { return cloudifysim.NewSpeedClock(factor) }
