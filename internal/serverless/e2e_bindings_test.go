package serverless_test

// The end-to-end test of bindings with credentials of their own in the AWS shape, on
// the stand-ins of TestEndToEndAWSShape (see e2e_test.go), with the Kubernetes
// project's OSB client. mariadb's blueprint declares osb_bind and osb_unbind: each
// binding gets a database user of its own, left by osb_bind in the Cloudify secret
// osb-<deployment>-<binding>, and bind and unbind are operations of the state machine.
// redis-cache declares neither: its bindings share the deployment's credentials and
// stay synchronous.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// e2eBindingsOverlay makes mariadb's bindings rotatable (an hour's validity, renewed
// ten minutes before) and gives its credentials a type and a URI.
const e2eBindingsOverlay = `version: 1
services:
  mariadb:
    credentials_type: mysql
    uri_template: "mysql://{username}:{password}@{host}:{port}/{database}"
    binding_rotation:
      maximum_validity_period: 3600
      overlap_period: 600
`

// TestEndToEndAWSBindings: two bindings of one mariadb instance get different
// credentials of their own; bind and unbind are asynchronous and followed through
// the binding's last_operation; an unbind revokes the binding's user and deletes its
// secret; a rotation makes a successor with other credentials; a failing bind
// workflow ends failed with Cloudify's reason and leaves no secret; shared plans bind
// as before; a deprovision with a binding never unbound leaves no secret. It also
// counts the DynamoDB requests of a binding last_operation poll.
func TestEndToEndAWSBindings(t *testing.T) {
	s := needStandIns(t)
	a := startAWSShape(t, s, awsShapeOptions{overlay: e2eBindingsOverlay})
	client, sim := a.client, a.sim

	// The catalog says which plans bind how.
	plans := a.plans(t)
	mariadb, redis := plans["mariadb"], plans["redis-cache"]
	if mariadb[0] == "" || redis[0] == "" {
		t.Fatalf("catalog has no mariadb or redis-cache: %v", plans)
	}
	meta := a.planMetadata(t)
	if got := meta[mariadb[1]][catalog.MetadataBindingCredentials]; got != catalog.BindingsPerBinding {
		t.Errorf("mariadb plan metadata %s = %v, want %s", catalog.MetadataBindingCredentials, got, catalog.BindingsPerBinding)
	}
	if got := meta[redis[1]][catalog.MetadataBindingCredentials]; got != catalog.BindingsShared {
		t.Errorf("redis-cache plan metadata %s = %v, want %s", catalog.MetadataBindingCredentials, got, catalog.BindingsShared)
	}
	if rot := a.rotatable(t); !rot[mariadb[1]] || rot[redis[1]] {
		t.Errorf("binding_rotatable: mariadb %v, redis-cache %v; want true (the overlay's binding_rotation), false", rot[mariadb[1]], rot[redis[1]])
	}

	const inst, adminPw = "bind-1", "Adm1n-e2e-pw"
	dep := broker.DeploymentID(inst)
	a.provisioned(t, inst, mariadb, map[string]any{"admin_password": adminPw})
	bindReq := func(bindingID string, async bool) *osbc.BindRequest {
		return &osbc.BindRequest{InstanceID: inst, BindingID: bindingID, ServiceID: mariadb[0], PlanID: mariadb[1], AcceptsIncomplete: async}
	}

	// Without accepts_incomplete: 422 AsyncRequired, nothing recorded.
	if _, err := client.Bind(bindReq("b-sync", false)); !osbc.IsAsyncRequiredError(err) {
		t.Fatalf("bind without accepts_incomplete: %v, want 422 AsyncRequired", err)
	}
	if _, err := a.table.GetBinding(t.Context(), inst, "b-sync"); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("binding refused with AsyncRequired: store read %v, want not found", err)
	}

	// Two bindings at once. The bind workflow is held running on the manager until the
	// in-progress answers are checked.
	sim.HangWorkflow(dep, "osb_bind", "started")
	ops := map[string]*osbc.OperationKey{}
	for _, id := range []string{"b-a", "b-b"} {
		resp, err := client.Bind(bindReq(id, true))
		if err != nil || !resp.Async || resp.OperationKey == nil || len(resp.Credentials) != 0 {
			t.Fatalf("bind %s = %+v, %v; want 202 with an operation and no credentials", id, resp, err)
		}
		ops[id] = resp.OperationKey
	}
	a.waitExecution(t, dep, "osb_bind", "b-a", "started")
	if r, err := client.PollBindingLastOperation(&osbc.BindingLastOperationRequest{InstanceID: inst, BindingID: "b-a", OperationKey: ops["b-a"]}); err != nil || r.State != osbc.StateInProgress {
		t.Fatalf("binding last_operation while osb_bind runs: %+v, %v; want in progress", r, err)
	}
	if _, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: inst, BindingID: "b-a"}); !isStatus(err, http.StatusNotFound) {
		t.Errorf("GET binding while it is being bound: %v, want 404", err)
	}
	if again, err := client.Bind(bindReq("b-a", true)); err != nil || !again.Async || again.OperationKey == nil || *again.OperationKey != *ops["b-a"] {
		t.Errorf("identical bind while it runs = %+v, %v; want 202 with operation %s", again, err, *ops["b-a"])
	}

	// The DynamoDB requests of a binding last_operation poll that names its operation,
	// in progress and (below) ended; and of one that does not.
	pollReads := a.countPollReads(t, inst, "b-a", ops["b-a"])
	sim.ReleaseWorkflow(dep, "osb_bind")

	creds := map[string]map[string]any{}
	for _, id := range []string{"b-a", "b-b"} {
		if r, err := a.pollBinding(t, inst, id, ops[id]); err != nil || r.State != osbc.StateSucceeded {
			t.Fatalf("bind %s ended %+v (%s), %v", id, r, description(r), err)
		}
		got, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: inst, BindingID: id})
		if err != nil {
			t.Fatalf("GET binding %s: %v", id, err)
		}
		creds[id] = got.Credentials
	}
	pollReads = append(pollReads, a.countPollReads(t, inst, "b-a", ops["b-a"])...)
	unnamed := a.countPollReads(t, inst, "b-a", nil)
	for _, r := range pollReads {
		if r.reads != 1 || r.others != 0 {
			t.Errorf("binding last_operation poll naming its operation (%s): %d reads and %d other DynamoDB requests (%v), want 1 read", r.state, r.reads, r.others, r.byOp)
		}
	}
	t.Logf("DynamoDB requests of a binding last_operation poll: with ?operation= %s; without %s", pollReads, unnamed)

	// Different credentials of their own, from the binding's secret, decorated.
	ua, ub := str(creds["b-a"]["username"]), str(creds["b-b"]["username"])
	pa, pb := str(creds["b-a"]["password"]), str(creds["b-b"]["password"])
	if ua == "" || ub == "" || ua == ub || pa == "" || pb == "" || pa == pb {
		t.Errorf("two bindings' credentials: usernames %q and %q, passwords equal %v (empty %v); want two different users", ua, ub, pa == pb, pa == "" || pb == "")
	}
	for id, c := range creds {
		if c["password"] == adminPw || c["username"] == "dbadmin" {
			t.Errorf("binding %s has the deployment's admin credentials", id)
		}
		for _, k := range []string{"host", "port", "database"} {
			if c[k] == nil {
				t.Errorf("binding %s: no %s in its credentials (keys %v)", id, k, keysOf(c))
			}
		}
		if c["type"] != "mysql" || str(c["provider"]) == "" {
			t.Errorf("binding %s: type %v, provider %v; want mysql (the overlay's credentials_type) and a provider", id, c["type"], c["provider"])
		}
		if uri := str(c["uri"]); !strings.HasPrefix(uri, "mysql://"+str(c["username"])+":") || !strings.HasSuffix(uri, fmt.Sprintf(":%v/%v", c["port"], c["database"])) {
			t.Errorf("binding %s: uri does not render the overlay's template with its own username (%d chars)", id, len(uri))
		}
	}
	users := a.bindingUsers(dep)
	for _, id := range []string{"b-a", "b-b"} {
		u, ok := users[id]
		if !ok || u.Username != str(creds[id]["username"]) || u.SecretKey != broker.BindingSecretKey(dep, id) {
			t.Errorf("manager's user of binding %s = %+v (found %v); want %s with secret %s", id, u, ok, creds[id]["username"], broker.BindingSecretKey(dep, id))
		}
	}
	if keys := a.bindingSecrets(dep); !slices.Equal(keys, []string{broker.BindingSecretKey(dep, "b-a"), broker.BindingSecretKey(dep, "b-b")}) {
		t.Errorf("binding secrets on the manager = %v, want those of b-a and b-b", keys)
	}
	// The binding's metadata bounds its validity by the overlay's rotation.
	if m := a.bindingMetadata(t, inst, "b-a"); m.renewBefore.IsZero() || m.expiresAt.Sub(m.renewBefore) != 600*time.Second || !m.expiresAt.After(time.Now().Add(50*time.Minute)) {
		t.Errorf("binding b-a metadata expires_at %v, renew_before %v; want an hour's validity renewed 600 s before", m.expiresAt, m.renewBefore)
	}

	// Rotation: b-c succeeds b-a, with credentials of its own; b-a stays until it is
	// unbound.
	if code, body := a.osb(t, http.MethodPut, "/v2/service_instances/"+inst+"/service_bindings/b-x?accepts_incomplete=true",
		map[string]any{"service_id": mariadb[0], "plan_id": mariadb[1], "predecessor_binding_id": "no-such-binding"}); code != http.StatusBadRequest {
		t.Errorf("rotation of an unknown binding: %d %s, want 400", code, body)
	}
	code, body := a.osb(t, http.MethodPut, "/v2/service_instances/"+inst+"/service_bindings/b-c?accepts_incomplete=true",
		map[string]any{"service_id": mariadb[0], "plan_id": mariadb[1], "predecessor_binding_id": "b-a"})
	rotOp := osbc.OperationKey(operation(body))
	if code != http.StatusAccepted || rotOp == "" {
		t.Fatalf("rotation of b-a: %d %s, want 202 with an operation", code, body)
	}
	if r, err := a.pollBinding(t, inst, "b-c", &rotOp); err != nil || r.State != osbc.StateSucceeded {
		t.Fatalf("rotation ended %+v (%s), %v", r, description(r), err)
	}
	rotated, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: inst, BindingID: "b-c"})
	if err != nil || str(rotated.Credentials["username"]) == "" || rotated.Credentials["username"] == ua || rotated.Credentials["password"] == pa {
		t.Fatalf("successor b-c: username %v (b-a's %q), same password %v, %v; want credentials of its own", rotated.Credentials["username"], ua, rotated != nil && rotated.Credentials["password"] == pa, err)
	}
	if p := a.executionParams(dep, "osb_bind", "b-c"); p["predecessor_binding_id"] != "b-a" || p["secret_key"] != broker.BindingSecretKey(dep, "b-c") {
		t.Errorf("osb_bind of b-c got predecessor_binding_id %v and secret_key %v; want b-a and %s", p["predecessor_binding_id"], p["secret_key"], broker.BindingSecretKey(dep, "b-c"))
	}
	if _, ok := a.bindingUsers(dep)["b-a"]; !ok {
		t.Errorf("the predecessor's user went with the rotation; it must stay until b-a is unbound")
	}

	// Unbind: 422 without accepts_incomplete; asynchronous, then 410 from the binding's
	// last_operation; the user and the secret are gone, the successor is untouched.
	unbindReq := func(id string, async bool) *osbc.UnbindRequest {
		return &osbc.UnbindRequest{InstanceID: inst, BindingID: id, ServiceID: mariadb[0], PlanID: mariadb[1], AcceptsIncomplete: async}
	}
	if _, err := client.Unbind(unbindReq("b-a", false)); !osbc.IsAsyncRequiredError(err) {
		t.Errorf("unbind without accepts_incomplete: %v, want 422 AsyncRequired", err)
	}
	for _, id := range []string{"b-a", "b-b"} {
		resp, err := client.Unbind(unbindReq(id, true))
		if err != nil || !resp.Async || resp.OperationKey == nil {
			t.Fatalf("unbind %s = %+v, %v; want 202 with an operation", id, resp, err)
		}
		if _, err := a.pollBinding(t, inst, id, resp.OperationKey); !osbc.IsGoneError(err) {
			t.Fatalf("binding %s last_operation after its unbind: %v, want 410 Gone", id, err)
		}
		if _, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: inst, BindingID: id}); !isStatus(err, http.StatusNotFound) {
			t.Errorf("GET binding %s after its unbind: %v, want 404", id, err)
		}
		if code, body := a.osb(t, http.MethodDelete, "/v2/service_instances/"+inst+"/service_bindings/"+id+"?accepts_incomplete=true&service_id="+mariadb[0]+"&plan_id="+mariadb[1], nil); code != http.StatusGone {
			t.Errorf("second unbind of %s: %d %s, want 410", id, code, body)
		}
	}
	if users := a.bindingUsers(dep); len(users) != 1 || users["b-c"].Username != str(rotated.Credentials["username"]) {
		t.Errorf("manager's binding users after unbinding b-a and b-b = %v, want b-c's alone", users)
	}
	if keys := a.bindingSecrets(dep); !slices.Equal(keys, []string{broker.BindingSecretKey(dep, "b-c")}) {
		t.Errorf("binding secrets after unbinding b-a and b-b = %v, want b-c's alone", keys)
	}
	if still, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: inst, BindingID: "b-c"}); err != nil || still.Credentials["username"] != rotated.Credentials["username"] {
		t.Errorf("successor after its predecessor's unbind: %v, %v; want its credentials unchanged", still, err)
	}

	// A bind workflow that wrote the secret, then failed: the bind ends failed with
	// Cloudify's reason, and neither the secret nor the binding stays.
	const why = "CREATE USER refused: too many connections"
	sim.HangWorkflow(dep, "osb_bind", "started")
	sim.FailWorkflow("mariadb", "osb_bind", "Traceback (most recent call last):\n  File \"scripts/osb_bind.py\", line 42, in <module>\nRuntimeError: "+why)
	defer sim.ReleaseWorkflow("mariadb", "osb_bind")
	failed, err := client.Bind(bindReq("b-fail", true))
	if err != nil || !failed.Async || failed.OperationKey == nil {
		t.Fatalf("bind b-fail = %+v, %v; want 202", failed, err)
	}
	a.waitExecution(t, dep, "osb_bind", "b-fail", "started")
	failKey := broker.BindingSecretKey(dep, "b-fail")
	sim.SetSecret(failKey, map[string]any{"username": "half-made", "password": "half-made-pw"})
	sim.ReleaseWorkflow(dep, "osb_bind")
	if r, err := a.pollBinding(t, inst, "b-fail", failed.OperationKey); err != nil || r.State != osbc.StateFailed || !strings.Contains(description(r), why) {
		t.Fatalf("failing bind ended %+v (%q), %v; want failed with %q", r, description(r), err, why)
	}
	if keys := a.bindingSecrets(dep); slices.Contains(keys, failKey) {
		t.Errorf("the failed bind left its secret %s", failKey)
	}
	if _, ok := a.bindingUsers(dep)["b-fail"]; ok {
		t.Errorf("the failed bind left a user on the manager")
	}
	if _, err := a.table.GetBinding(t.Context(), inst, "b-fail"); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("the failed bind's binding record: %v, want not found", err)
	}
	if _, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: inst, BindingID: "b-fail"}); !isStatus(err, http.StatusNotFound) {
		t.Errorf("GET of the failed binding: %v, want 404", err)
	}
	sim.ReleaseWorkflow("mariadb", "osb_bind")

	// Shared plans are unchanged: synchronous binds with the deployment's credentials,
	// the same for every binding, accepts_incomplete or not; no secret; a synchronous
	// unbind; and no rotation.
	const shared = "bind-redis"
	a.provisioned(t, shared, redis, map[string]any{"memory_mb": 256})
	secretsBefore := a.bindingSecrets("")
	var sharedCreds []map[string]any
	for i, async := range []bool{false, true} {
		id := fmt.Sprintf("r-%d", i)
		resp, err := client.Bind(&osbc.BindRequest{InstanceID: shared, BindingID: id, ServiceID: redis[0], PlanID: redis[1], AcceptsIncomplete: async})
		if err != nil || resp.Async || resp.Credentials["host"] == nil {
			t.Fatalf("shared bind %s (accepts_incomplete=%v) = %+v, %v; want 201 with credentials", id, async, resp, err)
		}
		sharedCreds = append(sharedCreds, resp.Credentials)
	}
	if fmt.Sprint(sharedCreds[0]) != fmt.Sprint(sharedCreds[1]) {
		t.Errorf("two bindings of a shared plan have different credentials")
	}
	if after := a.bindingSecrets(""); !slices.Equal(after, secretsBefore) {
		t.Errorf("shared binds changed the manager's binding secrets: %v, then %v", secretsBefore, after)
	}
	if code, body := a.osb(t, http.MethodPut, "/v2/service_instances/"+shared+"/service_bindings/r-rot?accepts_incomplete=true",
		map[string]any{"service_id": redis[0], "plan_id": redis[1], "predecessor_binding_id": "r-0"}); code != http.StatusUnprocessableEntity {
		t.Errorf("rotation of a shared binding: %d %s, want 422", code, body)
	}
	for _, id := range []string{"r-0", "r-1"} {
		if resp, err := client.Unbind(&osbc.UnbindRequest{InstanceID: shared, BindingID: id, ServiceID: redis[0], PlanID: redis[1]}); err != nil || resp.Async {
			t.Errorf("shared unbind %s = %+v, %v; want 200", id, resp, err)
		}
	}
	a.deprovisioned(t, shared, redis)

	// A deprovision with b-c never unbound: its secret and record go with the instance.
	a.deprovisioned(t, inst, mariadb)
	if keys := a.bindingSecrets(dep); len(keys) != 0 {
		t.Errorf("binding secrets left after the deprovision: %v", keys)
	}
	if left, err := a.table.ListBindings(t.Context(), inst); err != nil || len(left) != 0 {
		t.Errorf("binding records left after the deprovision: %d, %v", len(left), err)
	}
	if keys := a.bindingSecrets(""); len(keys) != 0 {
		t.Errorf("binding secrets on the manager at the end: %v", keys)
	}

	// No credential in any output.
	var passwords []string
	for _, c := range append([]map[string]any{rotated.Credentials}, creds["b-a"], creds["b-b"]) {
		passwords = append(passwords, str(c["password"]))
	}
	a.checkNoSecretsInOutput(t, append(passwords, adminPw)...)
}

// isStatus reports whether err is the OSB client's error for an HTTP status.
func isStatus(err error, code int) bool {
	he, ok := osbc.IsHTTPError(err)
	return ok && he.StatusCode == code
}

// str is v if it is a string, else "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// osb sends one OSB 2.17 request (what the Kubernetes project's client cannot:
// predecessor_binding_id, binding metadata) and returns its status and body.
func (a *awsShape) osb(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, a.gwURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Broker-API-Version", "2.17")
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testBrokerUser, testBrokerPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// planMetadata maps plan ids to their metadata.
func (a *awsShape) planMetadata(t *testing.T) map[string]map[string]any {
	t.Helper()
	resp, err := a.client.GetCatalog()
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	out := map[string]map[string]any{}
	for _, svc := range resp.Services {
		for _, p := range svc.Plans {
			out[p.ID] = p.Metadata
		}
	}
	return out
}

// rotatable maps plan ids to the catalog's binding_rotatable (OSB 2.17).
func (a *awsShape) rotatable(t *testing.T) map[string]bool {
	t.Helper()
	code, body := a.osb(t, http.MethodGet, "/v2/catalog", nil)
	var cat struct {
		Services []struct {
			Plans []struct {
				ID               string `json:"id"`
				BindingRotatable bool   `json:"binding_rotatable"`
			} `json:"plans"`
		} `json:"services"`
	}
	if err := json.Unmarshal(body, &cat); code != http.StatusOK || err != nil {
		t.Fatalf("catalog: %d, %v", code, err)
	}
	out := map[string]bool{}
	for _, s := range cat.Services {
		for _, p := range s.Plans {
			out[p.ID] = p.BindingRotatable
		}
	}
	return out
}

// e2eBindingMetadata is a binding's OSB metadata.
type e2eBindingMetadata struct{ expiresAt, renewBefore time.Time }

// bindingMetadata fetches a binding and returns its metadata.
func (a *awsShape) bindingMetadata(t *testing.T, instanceID, bindingID string) e2eBindingMetadata {
	t.Helper()
	code, body := a.osb(t, http.MethodGet, "/v2/service_instances/"+instanceID+"/service_bindings/"+bindingID, nil)
	var b struct {
		Metadata struct {
			ExpiresAt   string `json:"expires_at"`
			RenewBefore string `json:"renew_before"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &b); code != http.StatusOK || err != nil {
		t.Fatalf("GET binding %s: %d, %v", bindingID, code, err)
	}
	var m e2eBindingMetadata
	m.expiresAt, _ = time.Parse(time.RFC3339, b.Metadata.ExpiresAt)
	m.renewBefore, _ = time.Parse(time.RFC3339, b.Metadata.RenewBefore)
	return m
}

// bindingUsers maps binding ids to the users the bind workflows made on the deployment.
func (a *awsShape) bindingUsers(depID string) map[string]cloudifysim.BindingUser {
	out := map[string]cloudifysim.BindingUser{}
	if d, ok := a.sim.Deployment(depID); ok && d.Exists {
		for _, u := range d.BindingUsers {
			out[u.Binding] = u
		}
	}
	return out
}

// bindingSecrets lists the keys of the manager's binding secrets of the deployment
// ("" for every deployment), in creation order.
func (a *awsShape) bindingSecrets(depID string) []string {
	prefix := "osb-"
	if depID != "" {
		prefix = "osb-" + depID + "-"
	}
	var out []string
	for _, s := range a.sim.Secrets() {
		if strings.HasPrefix(s.Key, prefix) {
			out = append(out, s.Key)
		}
	}
	slices.Sort(out)
	return out
}

// executionParams returns the parameters of the newest run of the workflow for the
// binding.
func (a *awsShape) executionParams(depID, workflow, bindingID string) map[string]any {
	var out map[string]any
	for _, e := range a.sim.Executions(depID) {
		if e.WorkflowID == workflow && e.Parameters["binding_id"] == bindingID {
			out = e.Parameters
		}
	}
	return out
}

// waitExecution waits until the manager has a run of the workflow for the binding in
// the status.
func (a *awsShape) waitExecution(t *testing.T, depID, workflow, bindingID, status string) {
	t.Helper()
	for deadline := time.Now().Add(e2ePollLimit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, e := range a.sim.Executions(depID) {
			if e.WorkflowID == workflow && e.Parameters["binding_id"] == bindingID && e.Status == status {
				return
			}
		}
	}
	t.Fatalf("no %s execution of %s for binding %s on %s after %s", status, workflow, bindingID, depID, e2ePollLimit)
}

// pollCount is the DynamoDB requests of one last_operation poll.
type pollCount struct {
	state         string
	reads, others int
	byOp          map[string]int
}

func (p pollCount) String() string {
	return fmt.Sprintf("%s: %d read(s), %d other(s) %v", p.state, p.reads, p.others, p.byOp)
}

// countPollReads polls a binding's last_operation once (naming op, unless nil) and
// counts the api function's DynamoDB requests for it.
func (a *awsShape) countPollReads(t *testing.T, instanceID, bindingID string, op *osbc.OperationKey) []pollCount {
	t.Helper()
	before := a.apiDynamo.counts()
	r, err := a.client.PollBindingLastOperation(&osbc.BindingLastOperationRequest{InstanceID: instanceID, BindingID: bindingID, OperationKey: op})
	if err != nil {
		t.Fatalf("binding last_operation: %v", err)
	}
	c := pollCount{state: string(r.State)}
	if op == nil {
		c.state += " (no operation named)"
	}
	c.reads, c.others, c.byOp = a.apiDynamo.since(before)
	return []pollCount{c}
}
