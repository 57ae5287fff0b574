package main

// End-to-end tests of bindings with credentials of their own, through the Kubernetes
// project's OSB client against the embedded broker and the Cloudify simulator. The
// simulator's mariadb sample declares osb_bind and osb_unbind: osb_bind makes a
// database user for the binding and leaves its credentials in the secret the broker
// names, osb_unbind drops the user (the broker deletes the secret). redis-cache
// declares neither, so its bindings share the deployment's credentials.

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// provisionMariaDB provisions a mariadb instance and waits until it is ready; it
// returns the service and plan ids.
func (e *e2e) provisionMariaDB(instanceID string) (serviceID, planID string) {
	e.t.Helper()
	serviceID, planID = e.plan("mariadb")
	e.provisionReady(instanceID, serviceID, planID)
	return serviceID, planID
}

// fetchStatus is the status of GET binding: 200, or the broker's error status.
func (e *e2e) fetchStatus(instanceID, bindingID string) int {
	e.t.Helper()
	_, err := e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: instanceID, BindingID: bindingID})
	if err == nil {
		return http.StatusOK
	}
	if code := statusOf(err); code != 0 {
		return code
	}
	e.t.Fatalf("fetch binding %s: %v", bindingID, err)
	return 0
}

// storedBinding reports whether the broker's store still records the binding.
func (e *e2e) storedBinding(instanceID, bindingID string) bool {
	e.t.Helper()
	_, err := e.srv.store.GetBinding(context.Background(), instanceID, bindingID)
	switch {
	case err == nil:
		return true
	case errors.Is(err, broker.ErrNotFound):
		return false
	}
	e.t.Fatalf("read binding %s from the store: %v", bindingID, err)
	return false
}

// executionsOf are the simulator's executions of a workflow on a deployment.
func (e *e2e) executionsOf(deploymentID, workflowID string) []string {
	var out []string
	for _, ex := range e.sim.Executions(deploymentID) {
		if ex.WorkflowID == workflowID {
			out = append(out, ex.Status)
		}
	}
	return out
}

// TestBindingsOwnCredentials: two bindings of one mariadb instance get credentials of
// their own (a database user each, a secret each), bound and unbound asynchronously
// through the binding's last_operation; a binding whose bind runs is a 404 to fetch;
// after the unbind its user and secret are gone, the other binding still works, and a
// second unbind is a 410.
func TestBindingsOwnCredentials(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.provisionMariaDB("own-1")

	// The first bind is held on the manager: it can be seen in progress.
	e.sim.HangWorkflow("osb-own-1", "osb_bind", "started")
	bind, err := e.client.Bind(&osbc.BindRequest{InstanceID: "own-1", BindingID: "b1", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !bind.Async || bind.OperationKey == nil {
		t.Fatalf("bind b1 = %+v, %v; want 202 with an operation", bind, err)
	}
	lo, err := e.client.PollBindingLastOperation(&osbc.BindingLastOperationRequest{InstanceID: "own-1", BindingID: "b1", OperationKey: bind.OperationKey})
	if err != nil || lo.State != osbc.StateInProgress {
		t.Fatalf("binding last_operation while osb_bind hangs = %+v, %v; want in progress", lo, err)
	}
	if code := e.fetchStatus("own-1", "b1"); code != http.StatusNotFound {
		t.Fatalf("fetch of a binding being bound: %d, want 404", code)
	}
	e.sim.ReleaseWorkflow("osb-own-1", "osb_bind")
	lo, err = e.pollBinding("own-1", "b1", bind.OperationKey)
	mustSucceed(t, lo, err)
	b1, err := e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: "own-1", BindingID: "b1"})
	if err != nil {
		t.Fatalf("fetch b1: %v", err)
	}
	b2 := e.bindWait("own-1", "b2", svc, plan)

	// Two users, two secrets, two sets of credentials: each the binding's own.
	u1, ok1 := e.bindingUser("osb-own-1", "b1")
	u2, ok2 := e.bindingUser("osb-own-1", "b2")
	if !ok1 || !ok2 {
		t.Fatalf("simulator's binding users: b1 %v, b2 %v; want both", ok1, ok2)
	}
	for _, c := range []struct {
		creds map[string]any
		user  string
		pass  string
	}{{b1.Credentials, u1.Username, u1.Password}, {b2.Credentials, u2.Username, u2.Password}} {
		if c.creds["username"] != c.user || c.creds["password"] != c.pass || c.creds["host"] == nil || c.creds["provider"] != "cloudify" {
			t.Errorf("credentials %v, want user %s with its password, a host and provider cloudify", c.creds, c.user)
		}
	}
	if b1.Credentials["username"] == b2.Credentials["username"] || b1.Credentials["password"] == b2.Credentials["password"] {
		t.Fatalf("two bindings share credentials: %v and %v", b1.Credentials, b2.Credentials)
	}
	if b1.Credentials["host"] != b2.Credentials["host"] {
		t.Errorf("two bindings of one instance reach different hosts: %v and %v", b1.Credentials["host"], b2.Credentials["host"])
	}
	wantSecrets := []string{broker.BindingSecretKey("osb-own-1", "b1"), broker.BindingSecretKey("osb-own-1", "b2")}
	if diff := cmp.Diff(wantSecrets, e.bindingSecrets()); diff != "" {
		t.Fatalf("binding secrets (-want +got):\n%s", diff)
	}
	if u1.SecretKey != wantSecrets[0] || u2.SecretKey != wantSecrets[1] {
		t.Errorf("users' secrets %s, %s; want %v", u1.SecretKey, u2.SecretKey, wantSecrets)
	}

	// Unbind b1 through its last_operation: its user and secret go, b2 stays.
	un, err := e.client.Unbind(&osbc.UnbindRequest{InstanceID: "own-1", BindingID: "b1", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !un.Async || un.OperationKey == nil {
		t.Fatalf("unbind b1 = %+v, %v; want 202 with an operation", un, err)
	}
	if _, err := e.pollBinding("own-1", "b1", un.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("last_operation of the unbind: %v, want 410 Gone", err)
	}
	if _, ok := e.bindingUser("osb-own-1", "b1"); ok {
		t.Errorf("b1's database user outlived its unbind")
	}
	if diff := cmp.Diff(wantSecrets[1:], e.bindingSecrets()); diff != "" {
		t.Errorf("binding secrets after unbinding b1 (-want +got):\n%s", diff)
	}
	if got := e.executionsOf("osb-own-1", "osb_unbind"); !slices.Equal(got, []string{"terminated"}) {
		t.Errorf("osb_unbind executions %v, want one terminated", got)
	}
	if code := e.fetchStatus("own-1", "b1"); code != http.StatusNotFound {
		t.Errorf("fetch of the unbound b1: %d, want 404", code)
	}
	if code := e.rawStatus("DELETE", "/v2/service_instances/own-1/service_bindings/b1?accepts_incomplete=true&service_id="+svc+"&plan_id="+plan, ""); code != http.StatusGone {
		t.Errorf("second unbind of b1: %d, want 410", code)
	}
	again, err := e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: "own-1", BindingID: "b2"})
	if err != nil || again.Credentials["username"] != u2.Username || again.Credentials["password"] != u2.Password {
		t.Errorf("fetch b2 after unbinding b1 = %+v, %v; want its credentials unchanged", again, err)
	}

	e.unbindWait("own-1", "b2", svc, plan)
	if d, _ := e.sim.Deployment("osb-own-1"); len(d.BindingUsers) != 0 {
		t.Errorf("database users left after both unbinds: %+v", d.BindingUsers)
	}
	if left := e.bindingSecrets(); len(left) != 0 {
		t.Errorf("binding secrets left after both unbinds: %v", left)
	}
}

// TestBindingAsyncRequired: a platform that does not take asynchronous answers cannot
// bind (or unbind) a plan whose bindings are made by a workflow: 422 AsyncRequired,
// and nothing is recorded or started.
func TestBindingAsyncRequired(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.provisionMariaDB("sync-1")
	_, err := e.client.Bind(&osbc.BindRequest{InstanceID: "sync-1", BindingID: "b1", ServiceID: svc, PlanID: plan})
	if !osbc.IsAsyncRequiredError(err) {
		t.Fatalf("bind without accepts_incomplete: %v (%s), want 422 AsyncRequired", err, errorCodeOf(err))
	}
	if e.storedBinding("sync-1", "b1") || e.fetchStatus("sync-1", "b1") != http.StatusNotFound {
		t.Errorf("a refused bind left a binding")
	}
	if got := e.executionsOf("osb-sync-1", "osb_bind"); len(got) != 0 || len(e.bindingSecrets()) != 0 {
		t.Errorf("a refused bind started osb_bind %v or left secrets %v", got, e.bindingSecrets())
	}

	e.bindWait("sync-1", "b1", svc, plan)
	_, err = e.client.Unbind(&osbc.UnbindRequest{InstanceID: "sync-1", BindingID: "b1", ServiceID: svc, PlanID: plan})
	if !osbc.IsAsyncRequiredError(err) {
		t.Fatalf("unbind without accepts_incomplete: %v (%s), want 422 AsyncRequired", err, errorCodeOf(err))
	}
	if e.fetchStatus("sync-1", "b1") != http.StatusOK || len(e.executionsOf("osb-sync-1", "osb_unbind")) != 0 {
		t.Errorf("a refused unbind changed the binding or started osb_unbind")
	}
}

// rotationOverlay makes mariadb's bindings rotatable (an hour, renewed ten minutes
// before) and gives their credentials a type and a URI.
const rotationOverlay = `version: 1
services:
  mariadb:
    credentials_type: mysql
    uri_template: mysql://{username}:{password}@{host}:{port}/{database}
    binding_rotation: {maximum_validity_period: 3600, overlap_period: 600}
`

// bindingMeta reads GET binding as raw JSON: its credentials and its metadata times.
func (e *e2e) bindingMeta(path string, method string, body any) (code int, creds map[string]any, expires, renew time.Time) {
	e.t.Helper()
	code, out := e.osb(method, path, body)
	creds, _ = out["credentials"].(map[string]any)
	meta, _ := out["metadata"].(map[string]any)
	parse := func(key string) time.Time {
		s, _ := meta[key].(string)
		if s == "" {
			return time.Time{}
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			e.t.Fatalf("metadata.%s = %q: %v", key, s, err)
		}
		return v
	}
	return code, creds, parse("expires_at"), parse("renew_before")
}

// TestBindingRotation: with an overlay that makes mariadb's bindings rotatable, a bind
// naming a predecessor makes a new binding with new credentials; the predecessor keeps
// working until it is unbound. Bindings carry expires_at and renew_before (the bind's
// 200 and the fetch), renew_before no later than expires_at.
func TestBindingRotation(t *testing.T) {
	e := newCLIE2E(t)
	file := filepath.Join(t.TempDir(), "rotation.yaml")
	if err := os.WriteFile(file, []byte(rotationOverlay), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustCLI("catalog", "import", file)
	cat := e.catalogJSON()
	svc, plan := e.servicePlan(cat, "mariadb", "default")
	_, raw := e.osb("GET", "/v2/catalog", nil)
	rotatable := false
	for _, s := range raw["services"].([]any) {
		for _, p := range s.(map[string]any)["plans"].([]any) {
			if pm := p.(map[string]any); pm["id"] == plan {
				rotatable, _ = pm["binding_rotatable"].(bool)
			}
		}
	}
	if !rotatable {
		t.Fatalf("plan mariadb/default is not binding_rotatable after the import")
	}
	e.provisionReady("rot-1", svc, plan)

	before := time.Now()
	old := e.bindWait("rot-1", "gen-1", svc, plan)
	u1, _ := e.bindingUser("osb-rot-1", "gen-1")
	if old.Credentials["username"] != u1.Username || old.Credentials["type"] != "mysql" ||
		old.Credentials["uri"] != "mysql://"+u1.Username+":"+u1.Password+"@"+old.Credentials["host"].(string)+":3306/app" {
		t.Fatalf("credentials of gen-1 = %v, want user %s, type mysql and its URI", old.Credentials, u1.Username)
	}
	bindingPath := func(id string) string { return "/v2/service_instances/rot-1/service_bindings/" + id }
	code, _, expires, renew := e.bindingMeta(bindingPath("gen-1"), "GET", nil)
	if code != http.StatusOK || expires.IsZero() || renew.IsZero() {
		t.Fatalf("fetch gen-1: %d, expires_at %v, renew_before %v; want both", code, expires, renew)
	}
	if renew.After(expires) || expires.Sub(renew) != 600*time.Second {
		t.Errorf("renew_before %s, expires_at %s: want renew_before 600 s before expires_at", renew, expires)
	}
	// The broker's clock and the test's are the same machine's: the expiry is an hour
	// after the bind was asked for, so at least an hour after the test's clock read
	// before the bind (to the millisecond OSB's timestamps carry).
	if expires.Before(before.Truncate(time.Millisecond).Add(time.Hour)) {
		t.Errorf("expires_at %s is earlier than an hour after the bind (%s)", expires, before)
	}

	// Rotate: gen-2 names gen-1 as its predecessor.
	rotate := map[string]any{"service_id": svc, "plan_id": plan, "predecessor_binding_id": "gen-1"}
	code, out := e.osb("PUT", bindingPath("gen-2")+"?accepts_incomplete=true", rotate)
	op, _ := out["operation"].(string)
	if code != http.StatusAccepted || op == "" {
		t.Fatalf("rotating bind: %d %v, want 202 with an operation", code, out)
	}
	key := osbc.OperationKey(op)
	lo, err := e.pollBinding("rot-1", "gen-2", &key)
	mustSucceed(t, lo, err)
	var sawPredecessor bool
	for _, ex := range e.sim.Executions("osb-rot-1") {
		if ex.WorkflowID == "osb_bind" && ex.Parameters["binding_id"] == "gen-2" {
			sawPredecessor = ex.Parameters["predecessor_binding_id"] == "gen-1"
		}
	}
	if !sawPredecessor {
		t.Errorf("osb_bind of gen-2 was not given predecessor_binding_id gen-1")
	}
	// A repeat of the finished rotation: 200 with the credentials and the metadata.
	code, creds2, expires2, renew2 := e.bindingMeta(bindingPath("gen-2")+"?accepts_incomplete=true", "PUT", rotate)
	u2, _ := e.bindingUser("osb-rot-1", "gen-2")
	if code != http.StatusOK || creds2["username"] != u2.Username || creds2["password"] != u2.Password {
		t.Fatalf("repeat of the rotating bind: %d %v, want 200 with gen-2's own user %s", code, creds2, u2.Username)
	}
	if creds2["username"] == old.Credentials["username"] || creds2["password"] == old.Credentials["password"] {
		t.Fatalf("the rotated binding has its predecessor's credentials: %v", creds2)
	}
	if expires2.IsZero() || renew2.IsZero() || renew2.After(expires2) || expires2.Before(expires) {
		t.Errorf("gen-2: expires_at %v, renew_before %v; want both, renew_before first, expiring no earlier than gen-1 (%v)", expires2, renew2, expires)
	}
	// Both work until the predecessor is unbound.
	for _, id := range []string{"gen-1", "gen-2"} {
		if code := e.fetchStatus("rot-1", id); code != http.StatusOK {
			t.Errorf("fetch %s during the overlap: %d", id, code)
		}
	}
	if d, _ := e.sim.Deployment("osb-rot-1"); len(d.BindingUsers) != 2 {
		t.Errorf("database users during the overlap: %+v, want 2", d.BindingUsers)
	}
	e.unbindWait("rot-1", "gen-1", svc, plan)
	if _, ok := e.bindingUser("osb-rot-1", "gen-1"); ok {
		t.Errorf("gen-1's user outlived its unbind")
	}
	got, err := e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: "rot-1", BindingID: "gen-2"})
	if err != nil || got.Credentials["username"] != u2.Username {
		t.Errorf("fetch gen-2 after its predecessor's unbind = %+v, %v", got, err)
	}
	if diff := cmp.Diff([]string{broker.BindingSecretKey("osb-rot-1", "gen-2")}, e.bindingSecrets()); diff != "" {
		t.Errorf("binding secrets (-want +got):\n%s", diff)
	}

	// A predecessor that is gone, or the binding itself, is refused; nothing recorded.
	for _, tc := range []struct{ id, predecessor string }{{"gen-3", "gen-1"}, {"gen-3", "gen-3"}} {
		body := map[string]any{"service_id": svc, "plan_id": plan, "predecessor_binding_id": tc.predecessor}
		if code, out := e.osb("PUT", bindingPath(tc.id)+"?accepts_incomplete=true", body); code != http.StatusBadRequest {
			t.Errorf("rotation of %s with predecessor %s: %d %v, want 400", tc.id, tc.predecessor, code, out)
		}
	}
	if e.storedBinding("rot-1", "gen-3") {
		t.Errorf("a refused rotation recorded a binding")
	}
}

// TestBindingWorkflowFails: a bind whose osb_bind fails on the manager ends failed
// with Cloudify's reason, and leaves no secret and no binding (fetch 404, the binding
// id free to bind again); its last_operation, asked with the operation, still
// answers failed.
func TestBindingWorkflowFails(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.provisionMariaDB("fail-b")
	const reason = "ProgrammingError: CREATE USER refused by the database (1396)"
	e.sim.FailWorkflow("osb-fail-b", "osb_bind", "Traceback (most recent call last):\n  File \"osb_bind.py\", line 12\n"+reason)
	bind, err := e.client.Bind(&osbc.BindRequest{InstanceID: "fail-b", BindingID: "b1", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !bind.Async {
		t.Fatalf("bind = %+v, %v; want 202", bind, err)
	}
	lo, err := e.pollBinding("fail-b", "b1", bind.OperationKey)
	if err != nil || lo.State != osbc.StateFailed || !strings.Contains(deref(lo.Description), reason) {
		t.Fatalf("bind with a failing osb_bind ended %+v, %v; want failed with %q", lo, err, reason)
	}
	t.Logf("failure description: %s", deref(lo.Description))
	if got := e.executionsOf("osb-fail-b", "osb_bind"); !slices.Equal(got, []string{"failed"}) {
		t.Errorf("osb_bind executions %v, want one failed", got)
	}
	if e.fetchStatus("fail-b", "b1") != http.StatusNotFound || e.storedBinding("fail-b", "b1") {
		t.Errorf("a failed bind left its binding")
	}
	if left := e.bindingSecrets(); len(left) != 0 {
		t.Errorf("a failed bind left secrets %v", left)
	}
	if _, ok := e.bindingUser("osb-fail-b", "b1"); ok {
		t.Errorf("a failed bind left a database user")
	}
	again, err := e.client.PollBindingLastOperation(&osbc.BindingLastOperationRequest{InstanceID: "fail-b", BindingID: "b1", OperationKey: bind.OperationKey})
	if err != nil || again.State != osbc.StateFailed {
		t.Errorf("last_operation of the failed bind, asked again: %+v, %v; want failed", again, err)
	}
	// Nothing is left to conflict with: the same binding id binds once the manager works.
	e.sim.ReleaseWorkflow("osb-fail-b", "osb_bind")
	if b := e.bindWait("fail-b", "b1", svc, plan); b.Credentials["username"] == nil {
		t.Errorf("bind again after the failure: credentials %v", b.Credentials)
	}
}

// TestBindingUnbindHaltsBind: an unbind while osb_bind hangs halts the bind (its
// execution is cancelled and its last_operation ends failed), then ends 410, and
// nothing is left: no secret, no user, no binding.
func TestBindingUnbindHaltsBind(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.provisionMariaDB("halt-1")
	e.sim.HangWorkflow("osb-halt-1", "osb_bind", "started")
	defer e.sim.ReleaseWorkflow("osb-halt-1", "osb_bind")
	bind, err := e.client.Bind(&osbc.BindRequest{InstanceID: "halt-1", BindingID: "b1", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !bind.Async {
		t.Fatalf("bind = %+v, %v; want 202", bind, err)
	}
	// Wait until the broker has started osb_bind on the manager.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got := e.executionsOf("osb-halt-1", "osb_bind"); slices.Equal(got, []string{"started"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("osb_bind never started: %v", e.executionsOf("osb-halt-1", "osb_bind"))
		}
	}
	un, err := e.client.Unbind(&osbc.UnbindRequest{InstanceID: "halt-1", BindingID: "b1", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !un.Async || un.OperationKey == nil || *un.OperationKey == *bind.OperationKey {
		t.Fatalf("unbind during the bind = %+v, %v; want 202 with an operation of its own", un, err)
	}
	if _, err := e.pollBinding("halt-1", "b1", un.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("last_operation of the unbind: %v, want 410 Gone", err)
	}
	lo, err := e.client.PollBindingLastOperation(&osbc.BindingLastOperationRequest{InstanceID: "halt-1", BindingID: "b1", OperationKey: bind.OperationKey})
	if err != nil || lo.State != osbc.StateFailed || !strings.Contains(deref(lo.Description), "halted") {
		t.Errorf("last_operation of the halted bind = %+v, %v; want failed: halted", lo, err)
	}
	if got := e.executionsOf("osb-halt-1", "osb_bind"); !slices.Equal(got, []string{"cancelled"}) {
		t.Errorf("osb_bind executions %v, want the hung one cancelled", got)
	}
	if e.fetchStatus("halt-1", "b1") != http.StatusNotFound || e.storedBinding("halt-1", "b1") {
		t.Errorf("the halted binding is still there")
	}
	if left := e.bindingSecrets(); len(left) != 0 {
		t.Errorf("secrets left after the halted bind: %v", left)
	}
	if d, _ := e.sim.Deployment("osb-halt-1"); len(d.BindingUsers) != 0 {
		t.Errorf("database users left after the halted bind: %+v", d.BindingUsers)
	}
}

// TestBindingDeprovisionWithBindingsLeft: a platform that deprovisions without
// unbinding first leaves nothing behind: no secret, no database user, no binding.
func TestBindingDeprovisionWithBindingsLeft(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.provisionMariaDB("left-1")
	e.bindWait("left-1", "b1", svc, plan)
	e.bindWait("left-1", "b2", svc, plan)
	if n := len(e.bindingSecrets()); n != 2 {
		t.Fatalf("%d binding secrets before the deprovision, want 2", n)
	}
	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "left-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil || !dep.Async {
		t.Fatalf("deprovision = %+v, %v", dep, err)
	}
	if _, err := e.poll("left-1", dep.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("deprovision with bindings left: %v, want 410", err)
	}
	if left := e.bindingSecrets(); len(left) != 0 {
		t.Errorf("secrets left after the deprovision: %v", left)
	}
	for _, d := range e.sim.Deployments() {
		if d.ID == "osb-left-1" && (d.Exists || len(d.BindingUsers) != 0) {
			t.Errorf("deployment after the deprovision: exists %v, users %+v", d.Exists, d.BindingUsers)
		}
	}
	for _, id := range []string{"b1", "b2"} {
		if e.storedBinding("left-1", id) {
			t.Errorf("binding %s outlived its instance in the store", id)
		}
		if code := e.rawStatus("DELETE", "/v2/service_instances/left-1/service_bindings/"+id+"?accepts_incomplete=true&service_id="+svc+"&plan_id="+plan, ""); code != http.StatusGone {
			t.Errorf("unbind %s after the deprovision: %d, want 410", id, code)
		}
	}
}

// TestBindingSharedUnchanged: redis-cache declares no bind workflows: its bindings
// are made at once (201, with or without accepts_incomplete), share the deployment's
// credentials, leave no secret and start no workflow, and cannot be rotated.
func TestBindingSharedUnchanged(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.plan("redis-cache")
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "redis-1", AcceptsIncomplete: true,
		ServiceID: svc, PlanID: plan, OrganizationGUID: "o", SpaceGUID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.poll("redis-1", prov.OperationKey)
	mustSucceed(t, resp, err)

	var creds []map[string]any
	for i, async := range []bool{false, true} {
		id := []string{"r1", "r2"}[i]
		code, out := e.osb("PUT", "/v2/service_instances/redis-1/service_bindings/"+id+map[bool]string{true: "?accepts_incomplete=true"}[async],
			map[string]any{"service_id": svc, "plan_id": plan})
		c, _ := out["credentials"].(map[string]any)
		if code != http.StatusCreated || len(c) == 0 || out["operation"] != nil {
			t.Fatalf("bind %s (accepts_incomplete %v): %d %v, want 201 with credentials", id, async, code, out)
		}
		creds = append(creds, c)
	}
	if diff := cmp.Diff(creds[0], creds[1]); diff != "" {
		t.Errorf("two bindings of a shared plan differ (-r1 +r2):\n%s", diff)
	}
	if creds[0]["provider"] != "cloudify" || creds[0]["host"] == nil {
		t.Errorf("credentials %v, want a host and provider cloudify", creds[0])
	}
	fetched, err := e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: "redis-1", BindingID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(creds[0], fetched.Credentials); diff != "" {
		t.Errorf("fetch r1 (-bind +fetch):\n%s", diff)
	}
	if left := e.bindingSecrets(); len(left) != 0 {
		t.Errorf("shared bindings left secrets %v", left)
	}
	for _, ex := range e.sim.Executions("osb-redis-1") {
		if ex.WorkflowID != "install" && ex.WorkflowID != "create_deployment_environment" {
			t.Errorf("a shared binding ran %s on the manager", ex.WorkflowID)
		}
	}
	code, out := e.osb("PUT", "/v2/service_instances/redis-1/service_bindings/r3?accepts_incomplete=true",
		map[string]any{"service_id": svc, "plan_id": plan, "predecessor_binding_id": "r1"})
	if code != http.StatusUnprocessableEntity {
		t.Errorf("rotation of a shared binding: %d %v, want 422", code, out)
	}
	// Unbind is synchronous: 200, then 410.
	for _, want := range []int{http.StatusOK, http.StatusGone} {
		if code := e.rawStatus("DELETE", "/v2/service_instances/redis-1/service_bindings/r1?service_id="+svc+"&plan_id="+plan, ""); code != want {
			t.Errorf("unbind r1: %d, want %d", code, want)
		}
	}
	if code := e.fetchStatus("redis-1", "r2"); code != http.StatusOK {
		t.Errorf("fetch r2 after unbinding r1: %d", code)
	}
}

// TestBindingSameIDAgain: a binding id may be bound again after its unbind (a platform
// that reuses ids): the new bind runs osb_bind anew and gets a new database user, and
// the unbind after it runs osb_unbind anew and drops that user; neither takes the
// runs of the earlier binding of the same id for its own.
func TestBindingSameIDAgain(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.provisionMariaDB("again-1")
	first := e.bindWait("again-1", "b1", svc, plan)
	e.unbindWait("again-1", "b1", svc, plan)

	second := e.bindWait("again-1", "b1", svc, plan)
	u, ok := e.bindingUser("osb-again-1", "b1")
	if !ok || second.Credentials["username"] != u.Username || second.Credentials["password"] != u.Password {
		t.Fatalf("bound again: credentials %v, simulator's user %+v (%v)", second.Credentials, u, ok)
	}
	if second.Credentials["username"] == first.Credentials["username"] {
		t.Errorf("bound again with the dropped user %v", first.Credentials["username"])
	}
	if got := e.executionsOf("osb-again-1", "osb_bind"); !slices.Equal(got, []string{"terminated", "terminated"}) {
		t.Errorf("osb_bind executions %v, want two terminated", got)
	}

	e.unbindWait("again-1", "b1", svc, plan)
	if _, ok := e.bindingUser("osb-again-1", "b1"); ok {
		t.Errorf("the second unbind left the database user of the second bind")
	}
	if got := e.executionsOf("osb-again-1", "osb_unbind"); !slices.Equal(got, []string{"terminated", "terminated"}) {
		t.Errorf("osb_unbind executions %v, want two terminated", got)
	}
	if left := e.bindingSecrets(); len(left) != 0 {
		t.Errorf("secrets left: %v", left)
	}
}

// TestBindingTimedOutAfterItsWorkflow: a bind whose osb_bind made the user but whose
// end the broker could not see before its deadline (the manager's executions answered
// 500) fails "timed out"; the user it made must not outlive it: the binding stays,
// failed, until an unbind (the platform's orphan mitigation) runs osb_unbind, after
// which neither the user nor the secret is left.
func TestBindingTimedOutAfterItsWorkflow(t *testing.T) {
	e := newE2E(t, "7.0.4")
	e.stop()
	e.cfg.DefaultDeadline = 4 * time.Second
	e.start()
	svc, plan := e.provisionMariaDB("late-1")
	fault := e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultHTTPError, Match: cloudifysim.FaultMatch{Method: "GET", PathPrefix: "/executions/"}})
	bind, err := e.client.Bind(&osbc.BindRequest{InstanceID: "late-1", BindingID: "b1", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !bind.Async {
		t.Fatalf("bind = %+v, %v; want 202", bind, err)
	}
	op, err := e.srv.store.GetOperation(context.Background(), string(*bind.OperationKey))
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the workflow to have made the user, and for the bind's deadline to pass.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		_, made := e.bindingUser("osb-late-1", "b1")
		if made && time.Now().After(op.Deadline.Add(500*time.Millisecond)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("osb_bind made no user (executions %v)", e.executionsOf("osb-late-1", "osb_bind"))
		}
	}
	e.sim.RemoveFault(fault)
	lo, err := e.pollBinding("late-1", "b1", bind.OperationKey)
	if err != nil || lo.State != osbc.StateFailed || !strings.HasPrefix(deref(lo.Description), "timed out") {
		t.Fatalf("bind = %+v, %v; want failed: timed out", lo, err)
	}
	if e.fetchStatus("late-1", "b1") != http.StatusNotFound {
		t.Errorf("fetch of a failed binding: want 404")
	}
	if _, ok := e.bindingUser("osb-late-1", "b1"); ok && !e.storedBinding("late-1", "b1") {
		t.Fatalf("the timed-out bind left the database user it made, and no binding an unbind could revoke it by")
	}
	e.unbindWait("late-1", "b1", svc, plan)
	if _, ok := e.bindingUser("osb-late-1", "b1"); ok {
		t.Errorf("the database user outlived the unbind of the timed-out bind")
	}
	if left := e.bindingSecrets(); len(left) != 0 {
		t.Errorf("secrets left: %v", left)
	}
}
