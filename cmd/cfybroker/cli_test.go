package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// newCLIE2E starts a broker whose OSB API reads the catalog from the store at every
// request, so that a test sees an operator's catalog change at once (a running broker
// reuses it for 5 s).
func newCLIE2E(t *testing.T) *e2e {
	t.Helper()
	e := newE2E(t, "7.0.4")
	e.stop()
	e.cfg.CatalogTTL = time.Nanosecond
	e.start()
	return e
}

// cliRun is one run of the CLI.
type cliRun struct {
	stdout, stderr string
	code           int
}

// runCLI runs the root command as the binary would, with args, and returns its output
// and exit code.
func runCLI(t *testing.T, args ...string) cliRun {
	t.Helper()
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	if err != nil && err.Error() != "" {
		errOut.WriteString("cfybroker: " + err.Error() + "\n")
	}
	r := cliRun{stdout: out.String(), stderr: errOut.String(), code: exitCode(err)}
	t.Logf("$ cfybroker %s\n%s%s(exit %d)", strings.Join(args, " "), r.stdout, r.stderr, r.code)
	return r
}

// cli runs the CLI against the running broker (--url).
func (e *e2e) cli(args ...string) cliRun {
	e.t.Helper()
	return runCLI(e.t, append(args, "--url", e.url, "--username", testAdminUser, "--password", testAdminPass)...)
}

// mustCLI runs the CLI against the running broker and fails the test unless it exits 0.
func (e *e2e) mustCLI(args ...string) string {
	e.t.Helper()
	r := e.cli(args...)
	if r.code != 0 {
		e.t.Fatalf("cfybroker %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func mustDecode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// osbCatalog is the part of GET /v2/catalog the tests look at.
type osbCatalog struct {
	Services []struct {
		ID    string   `json:"id"`
		Name  string   `json:"name"`
		Tags  []string `json:"tags"`
		Plans []struct {
			ID              string         `json:"id"`
			Name            string         `json:"name"`
			Free            bool           `json:"free"`
			Metadata        map[string]any `json:"metadata"`
			MaintenanceInfo *struct {
				Version string `json:"version"`
			} `json:"maintenance_info"`
			Schemas struct {
				ServiceInstance struct {
					Create struct {
						Parameters struct {
							Properties map[string]any `json:"properties"`
						} `json:"parameters"`
					} `json:"create"`
				} `json:"service_instance"`
			} `json:"schemas"`
		} `json:"plans"`
	} `json:"services"`
}

// osb sends an OSB request with the platform's credentials and decodes the answer.
func (e *e2e) osb(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("X-Broker-API-Version", "2.17")
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testUser, testPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func (e *e2e) catalogJSON() osbCatalog {
	e.t.Helper()
	code, raw := e.osb("GET", "/v2/catalog", nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET /v2/catalog: %d", code)
	}
	b, _ := json.Marshal(raw)
	return mustDecode[osbCatalog](e.t, string(b))
}

// ids returns every service and plan id of the OSB catalog by name.
func (c osbCatalog) ids() map[string]string {
	out := map[string]string{}
	for _, s := range c.Services {
		out[s.Name] = s.ID
		for _, p := range s.Plans {
			out[s.Name+"/"+p.Name] = p.ID
		}
	}
	return out
}

func (e *e2e) servicePlan(c osbCatalog, service, plan string) (serviceID, planID string) {
	e.t.Helper()
	for _, s := range c.Services {
		for _, p := range s.Plans {
			if s.Name == service && p.Name == plan {
				return s.ID, p.ID
			}
		}
	}
	e.t.Fatalf("no plan %s/%s in the catalog", service, plan)
	return "", ""
}

// provisionReady provisions an instance and waits until it is ready.
func (e *e2e) provisionReady(instanceID, serviceID, planID string) {
	e.t.Helper()
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: instanceID, AcceptsIncomplete: true,
		ServiceID: serviceID, PlanID: planID, OrganizationGUID: "org", SpaceGUID: "space",
		Parameters: map[string]any{"admin_password": "Passw0rd-ok"}})
	if err != nil {
		e.t.Fatalf("provision %s: %v", instanceID, err)
	}
	resp, err := e.poll(instanceID, prov.OperationKey)
	mustSucceed(e.t, resp, err)
}

const testOverlay = `# the test's overlay
version: 1
hidden: [redis-cache]
services:
  mariadb:
    description: Clustered MariaDB
    tags: [sql, mariadb]
    credentials:
      - {key: db_host, from: capability, name: host}
      - {key: db_password, from: capability, name: password, secret: true}
    bindings: shared
    plans:
      - name: small
        description: One node
        free: false
        metadata:
          costs: [{amount: {usd: 10}, unit: MONTHLY}]
        inputs: {node_count: 1}
      - name: large
        description: Five nodes
        free: false
        metadata:
          costs: [{amount: {usd: 45.5}, unit: MONTHLY}]
        inputs: {node_count: 5, flavor: large}
`

// TestCLICatalogOverlay: import an overlay with the CLI, and the running broker's
// /v2/catalog shows its tags, plans (costs, schemas without the fixed inputs), bindings
// use its credentials mapping, a hidden blueprint disappears, and ids stay the same
// across syncs and restarts.
func TestCLICatalogOverlay(t *testing.T) {
	e := newCLIE2E(t)
	before := e.catalogJSON().ids()
	dir := t.TempDir()
	file := filepath.Join(dir, "overlay.yaml")
	if err := os.WriteFile(file, []byte(testOverlay), 0o600); err != nil {
		t.Fatal(err)
	}

	// diff -f shows what the import will change, and stores nothing.
	diff := mustDecode[admin.RebuildResult](t, e.mustCLI("catalog", "diff", "-f", file, "-o", "json"))
	var texts []string
	for _, c := range diff.Changes {
		texts = append(texts, c.Text)
	}
	for _, want := range []string{"+ plan mariadb/small", "+ plan mariadb/large", "- plan mariadb/default", "- service redis-cache"} {
		if !slices.Contains(texts, want) {
			t.Errorf("diff lacks %q: %q", want, texts)
		}
	}
	if diff.Applied {
		t.Errorf("diff applied the overlay")
	}
	if r := e.cli("catalog", "diff", "-f", file, "--exit-code"); r.code != exitFound {
		t.Errorf("diff --exit-code with changes: exit %d, want %d", r.code, exitFound)
	}

	res := mustDecode[admin.RebuildResult](t, e.mustCLI("catalog", "import", file, "-o", "json"))
	if !res.Applied || !res.OverlayChanged {
		t.Fatalf("import result = %+v", res)
	}
	if got := e.mustCLI("catalog", "export"); got != testOverlay {
		t.Errorf("export after import differs from the file (-want +got):\n%s", cmp.Diff(testOverlay, got))
	}

	cat := e.catalogJSON()
	var sawMariaDB bool
	for _, s := range cat.Services {
		if s.Name == "redis-cache" {
			t.Errorf("hidden blueprint redis-cache is in the catalog")
		}
		if s.Name != "mariadb" {
			continue
		}
		sawMariaDB = true
		if diff := cmp.Diff([]string{"sql", "mariadb"}, s.Tags); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
		var names []string
		for _, p := range s.Plans {
			names = append(names, p.Name)
			props := p.Schemas.ServiceInstance.Create.Parameters.Properties
			if props["admin_password"] == nil || props["db_name"] == nil {
				t.Errorf("plan %s: create schema lacks the user's inputs: %v", p.Name, props)
			}
			if _, ok := props["node_count"]; ok {
				t.Errorf("plan %s: the fixed input node_count is in the schema", p.Name)
			}
			if p.Free || p.Metadata["costs"] == nil {
				t.Errorf("plan %s: free=%v costs=%v, want a priced plan", p.Name, p.Free, p.Metadata["costs"])
			}
		}
		if diff := cmp.Diff([]string{"small", "large"}, names); diff != "" {
			t.Errorf("plans (-want +got):\n%s", diff)
		}
	}
	if !sawMariaDB {
		t.Fatal("mariadb is not in the catalog")
	}

	// The credentials mapping: with bindings: shared, mariadb's bind workflows are left
	// unused and a binding gets the deployment's values under the renamed keys, at once.
	for _, s := range cat.Services {
		for _, p := range s.Plans {
			if s.Name == "mariadb" && p.Metadata["bindingCredentials"] != "shared" {
				t.Errorf("plan mariadb/%s: metadata bindingCredentials = %v, want shared", p.Name, p.Metadata["bindingCredentials"])
			}
		}
	}
	svc, small := e.servicePlan(cat, "mariadb", "small")
	e.provisionReady("cli-1", svc, small)
	bind, err := e.client.Bind(&osbc.BindRequest{InstanceID: "cli-1", BindingID: "b-1", ServiceID: svc, PlanID: small, AcceptsIncomplete: true})
	if err != nil || bind.Async {
		t.Fatalf("bind = %+v, %v; want 201 with credentials", bind, err)
	}
	// Besides the mapped keys, every binding carries its type (the first tag, as the
	// overlay sets no credentials_type) and its provider.
	if bind.Credentials["db_host"] == nil || bind.Credentials["db_password"] != "Passw0rd-ok" ||
		bind.Credentials["type"] != "sql" || bind.Credentials["provider"] != "cloudify" || len(bind.Credentials) != 4 {
		t.Errorf("credentials = %v, want exactly db_host, db_password, type sql and provider cloudify", bind.Credentials)
	}
	if d, ok := e.sim.Deployment("osb-cli-1"); !ok || fmt.Sprint(d.Inputs["node_count"]) != "1" {
		t.Errorf("deployment inputs = %v, want the plan's node_count 1", d.Inputs)
	}

	// hide: the service disappears; unhide: it is back with its id.
	e.mustCLI("catalog", "hide", "s3-bucket")
	if _, ok := e.catalogJSON().ids()["s3-bucket"]; ok {
		t.Errorf("s3-bucket is still in the catalog after hide")
	}
	e.mustCLI("catalog", "unhide", "s3-bucket")
	if got := e.catalogJSON().ids()["s3-bucket"]; got != before["s3-bucket"] {
		t.Errorf("s3-bucket id after unhide = %q, want %q", got, before["s3-bucket"])
	}

	// Ids: the same across a sync and a restart, and as before the import for what the
	// import did not change.
	ids := e.catalogJSON().ids()
	for _, k := range []string{"mariadb", "mariadb-v2", "s3-bucket", "mariadb-v2/default"} {
		if ids[k] == "" || ids[k] != before[k] {
			t.Errorf("id of %s = %q after the import, want %q", k, ids[k], before[k])
		}
	}
	if out := e.mustCLI("catalog", "sync"); !strings.Contains(out, "no changes") {
		t.Errorf("sync right after the import changed something:\n%s", out)
	}
	if diff := cmp.Diff(ids, e.catalogJSON().ids()); diff != "" {
		t.Errorf("ids changed across a sync (-before +after):\n%s", diff)
	}
	e.stop()
	e.start()
	if diff := cmp.Diff(ids, e.catalogJSON().ids()); diff != "" {
		t.Errorf("ids changed across a restart (-before +after):\n%s", diff)
	}

	// catalog list and show read the same catalog.
	rows := mustDecode[[]serviceRow](t, e.mustCLI("catalog", "list", "-o", "json"))
	for _, r := range rows {
		if r.Name == "mariadb" && (len(r.Credentials) != 2 || !r.Credentials[1].Secret || r.Credentials[0].Name != "host") {
			t.Errorf("catalog list credentials = %+v", r.Credentials)
		}
	}
	shown := mustDecode[map[string]any](t, e.mustCLI("catalog", "show", "mariadb"))
	if shown["id"] != ids["mariadb"] || shown["blueprint_id"] != nil {
		t.Errorf("catalog show = %v, want the OSB JSON of mariadb without broker fields", shown)
	}
}

// TestCLIOverlayErrors: a bad overlay is refused with its file and line, and changes
// nothing; edits that do not build are refused too.
func TestCLIOverlayErrors(t *testing.T) {
	e := newCLIE2E(t)
	before := e.mustCLI("catalog", "list", "--plans")
	dir := t.TempDir()
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown field", "version: 1\nservices:\n  mariadb:\n    tagz: [a]\n", "bad.yaml:4: services.mariadb: unknown field \"tagz\""},
		{"unknown input", "version: 1\nservices:\n  mariadb:\n    plans:\n      - name: small\n        inputs: {foo: 1}\n", "bad.yaml:6: services.mariadb.plans[0].inputs: unknown input \"foo\""},
		{"bad version", "version: 1\nservices:\n  mariadb:\n    plans:\n      - name: small\n        maintenance_info: {version: two}\n", "bad.yaml:6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(file, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			r := e.cli("catalog", "import", file)
			if r.code != exitFailure || !strings.Contains(r.stderr, strings.Replace(tc.want, "bad.yaml", file, 1)) {
				t.Errorf("import: exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
	r := e.cli("catalog", "plan", "add", "mariadb", "tiny", "--input", "nope=1")
	if r.code != exitFailure || !strings.Contains(r.stderr, `unknown input "nope"`) {
		t.Errorf("plan add with an unknown input: exit %d, %q", r.code, r.stderr)
	}
	if after := e.mustCLI("catalog", "list", "--plans"); after != before {
		t.Errorf("refused changes changed the catalog:\n%s", cmp.Diff(before, after))
	}
	if r := e.cli("catalog", "plan", "remove", "mariadb", "nope"); r.code != exitFailure {
		t.Errorf("plan remove of a missing plan: exit %d", r.code)
	}
}

// TestCLIUpgrade: a plan moved to a new blueprint with a new maintenance_info version
// is offered to instances; the update with it runs a deployment update to the new
// blueprint, and the instance then has the new version.
func TestCLIUpgrade(t *testing.T) {
	e := newCLIE2E(t)
	svc, plan := e.servicePlan(e.catalogJSON(), "mariadb", "default")
	e.provisionReady("up-1", svc, plan)

	res := mustDecode[admin.RebuildResult](t, e.mustCLI("catalog", "plan", "set", "mariadb", "default",
		"--blueprint", "mariadb-v2", "--maintenance-version", "2.0.0", "--maintenance-description", "MariaDB 11", "-o", "json"))
	var kinds []string
	for _, c := range res.Changes {
		kinds = append(kinds, c.Kind)
	}
	if !slices.Contains(kinds, "maintenance_info changed") || !slices.Contains(kinds, "plan blueprint changed") {
		t.Errorf("changes = %+v", res.Changes)
	}
	cat := e.catalogJSON()
	if _, id := e.servicePlan(cat, "mariadb", "default"); id != plan {
		t.Fatalf("plan id changed: %s -> %s", plan, id)
	}
	for _, s := range cat.Services {
		for _, p := range s.Plans {
			if s.Name == "mariadb" && (p.MaintenanceInfo == nil || p.MaintenanceInfo.Version != "2.0.0") {
				t.Errorf("catalog maintenance_info = %+v, want 2.0.0", p.MaintenanceInfo)
			}
		}
	}

	path := "/v2/service_instances/up-1?accepts_incomplete=true"
	code, body := e.osb("PATCH", path, map[string]any{"service_id": svc, "plan_id": plan, "maintenance_info": map[string]any{"version": "1.0.0"}})
	if code != http.StatusUnprocessableEntity || body["error"] != "MaintenanceInfoConflict" {
		t.Errorf("update with a stale maintenance_info: %d %v, want 422 MaintenanceInfoConflict", code, body)
	}
	code, body = e.osb("PATCH", path, map[string]any{"service_id": svc, "plan_id": plan, "maintenance_info": map[string]any{"version": "2.0.0"}})
	if code != http.StatusAccepted {
		t.Fatalf("upgrade: %d %v", code, body)
	}
	op := osbc.OperationKey(body["operation"].(string))
	resp, err := e.poll("up-1", &op)
	mustSucceed(t, resp, err)

	if d, ok := e.sim.Deployment("osb-up-1"); !ok || d.BlueprintID != "mariadb-v2" {
		t.Errorf("simulator deployment = %+v, want blueprint mariadb-v2", d)
	}
	code, body = e.osb("GET", "/v2/service_instances/up-1", nil)
	mi, _ := body["maintenance_info"].(map[string]any)
	if code != http.StatusOK || mi["version"] != "2.0.0" {
		t.Errorf("fetch instance: %d %v, want maintenance_info 2.0.0", code, body)
	}
	show := mustDecode[admin.InstanceDetail](t, e.mustCLI("instances", "show", "up-1", "-o", "json"))
	if show.MaintenanceVersion != "2.0.0" || show.BlueprintID != "mariadb-v2" || show.Deployment == nil || show.Deployment.BlueprintID != "mariadb-v2" {
		t.Errorf("instances show = %+v", show)
	}
}

// waitOperation polls ops list until the instance's operation satisfies ok.
func (e *e2e) waitOperation(instanceID string, ok func(admin.OperationView) bool) admin.OperationView {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, op := range mustDecode[[]admin.OperationView](e.t, e.mustCLI("ops", "list", "-o", "json")) {
			if op.InstanceID == instanceID && ok(op) {
				return op
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("no operation of %s reached the expected state", instanceID)
	return admin.OperationView{}
}

// TestCLIOpsHungInstall: ops list shows a hung install; ops retry runs its step now;
// ops abandon fails it for the platform; a failed deprovision is retried as a new one.
func TestCLIOpsHungInstall(t *testing.T) {
	e := newCLIE2E(t)
	svc, plan := e.servicePlan(e.catalogJSON(), "mariadb", "default")
	e.sim.HangWorkflow("", "install", "")
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "hung-1", AcceptsIncomplete: true,
		ServiceID: svc, PlanID: plan, OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": "Passw0rd-ok"}})
	if err != nil {
		t.Fatal(err)
	}
	op := e.waitOperation("hung-1", func(op admin.OperationView) bool { return op.Phase == "installing" })
	if op.ID != string(*prov.OperationKey) || op.State != "in progress" || op.ExecutionID == "" {
		t.Fatalf("ops list = %+v", op)
	}
	table := e.mustCLI("ops", "list")
	if !strings.Contains(table, op.ID) || !strings.Contains(table, "installing") {
		t.Errorf("ops list table lacks the operation:\n%s", table)
	}

	retried := mustDecode[admin.RetryResult](t, e.mustCLI("ops", "retry", op.ID, "-o", "json"))
	if retried.Action != admin.ActionStepped || retried.Operation.Steps <= op.Steps || retried.Operation.State != "in progress" {
		t.Errorf("retry = %+v (steps before: %d)", retried, op.Steps)
	}

	abandoned := mustDecode[admin.OperationView](t, e.mustCLI("ops", "abandon", op.ID, "--reason", "install hung", "-o", "json"))
	if abandoned.State != "failed" || abandoned.Description != "abandoned by an operator: install hung" {
		t.Errorf("abandon = %+v", abandoned)
	}
	last, err := e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: "hung-1", OperationKey: prov.OperationKey})
	if err != nil || last.State != osbc.StateFailed || last.Description == nil || !strings.Contains(*last.Description, "abandoned by an operator") {
		t.Errorf("last_operation after abandon = %+v, %v", last, err)
	}
	inst := mustDecode[admin.InstanceDetail](t, e.mustCLI("instances", "show", "hung-1", "-o", "json"))
	if inst.State != "failed" || !strings.Contains(inst.LastError, "abandoned") {
		t.Errorf("instance after abandon = %+v", inst.InstanceView)
	}
	list := mustDecode[[]admin.InstanceView](t, e.mustCLI("instances", "list", "-o", "json"))
	if len(list) != 1 || list[0].LastError != abandoned.Description {
		t.Errorf("instances list = %+v", list)
	}
	if r := e.cli("ops", "abandon", op.ID); r.code != exitFailure || !strings.Contains(r.stderr, "already ended") {
		t.Errorf("second abandon: exit %d %q", r.code, r.stderr)
	}
	if r := e.cli("ops", "retry", op.ID); r.code != exitFailure || !strings.Contains(r.stderr, "is on the manager") {
		t.Errorf("retry of a failed provision whose deployment exists: exit %d %q", r.code, r.stderr)
	}
	failedOps := mustDecode[[]admin.OperationView](t, e.mustCLI("ops", "list", "-o", "json"))
	if len(failedOps) != 1 || failedOps[0].ID != op.ID || failedOps[0].State != "failed" {
		t.Errorf("ops list after abandon = %+v, want the failed provision", failedOps)
	}

	// A failed deprovision, retried: a new deprovision removes the instance.
	e.sim.ReleaseWorkflow("", "install")
	e.sim.FailWorkflow("osb-hung-1", "uninstall", "")
	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "hung-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.poll("hung-1", dep.OperationKey)
	if err != nil || resp.State != osbc.StateFailed {
		t.Fatalf("deprovision with a failing uninstall: %+v, %v", resp, err)
	}
	e.sim.ClearFaults()
	restarted := mustDecode[admin.RetryResult](t, e.mustCLI("ops", "retry", string(*dep.OperationKey), "-o", "json"))
	if restarted.Action != admin.ActionRestarted || restarted.Operation.ID == string(*dep.OperationKey) || restarted.Operation.Type != "deprovision" {
		t.Fatalf("retry of a failed deprovision = %+v", restarted)
	}
	next := osbc.OperationKey(restarted.Operation.ID)
	if _, err := e.poll("hung-1", &next); !osbc.IsGoneError(err) {
		t.Fatalf("the retried deprovision ended with %v, want 410 Gone", err)
	}
	if n := len(e.liveDeployments()); n != 0 {
		t.Errorf("%d deployments left", n)
	}
}

// TestCLIReconcile: a deployment deleted by hand marks its instance failed (exit 3, then
// 0), and a labelled deployment without an instance is an orphan, deleted on request.
func TestCLIReconcile(t *testing.T) {
	e := newCLIE2E(t)
	svc, plan := e.servicePlan(e.catalogJSON(), "mariadb", "default")
	e.provisionReady("rec-1", svc, plan)
	if r := e.cli("reconcile"); r.code != exitOK || !strings.Contains(r.stdout, "0 findings") {
		t.Fatalf("reconcile of a healthy broker: exit %d\n%s", r.code, r.stdout)
	}

	if !e.sim.DeleteDeploymentNow("osb-rec-1") {
		t.Fatal("no deployment to delete")
	}
	r := e.cli("reconcile", "-o", "json")
	rep := mustDecode[admin.ReconcileReport](t, r.stdout)
	if r.code != exitFound || len(rep.Findings) != 1 || rep.Findings[0].Kind != admin.FindingDeploymentMissing ||
		!rep.Findings[0].Repaired || !strings.Contains(rep.Findings[0].Problem, "deployment deleted by hand") {
		t.Fatalf("reconcile after a deletion by hand: exit %d, %+v", r.code, rep)
	}
	if inst := mustDecode[admin.InstanceDetail](t, e.mustCLI("instances", "show", "rec-1", "-o", "json")); inst.State != "failed" || inst.Deployment == nil || inst.Deployment.Exists {
		t.Errorf("instance after reconcile = %+v", inst)
	}
	if r := e.cli("reconcile"); r.code != exitOK {
		t.Errorf("second reconcile: exit %d, want 0", r.code)
	}
	// The platform can deprovision the failed instance at once.
	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "rec-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.poll("rec-1", dep.OperationKey); !osbc.IsGoneError(err) {
		t.Errorf("deprovision after reconcile: %v, want 410", err)
	}

	// An orphan: a deployment labelled for an instance the broker does not have.
	c, err := cloudify.New(e.simURL, cloudify.WithBasicAuth("admin", "cfy-pw"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateDeployment(ctx, "osb-ghost", cloudify.CreateDeploymentRequest{BlueprintID: "s3-bucket",
		Labels: []cloudify.Label{{Key: "osb-instance-id", Value: "ghost"}}, AsyncCreate: true}); err != nil {
		t.Fatal(err)
	}
	r = e.cli("reconcile", "-o", "json")
	rep = mustDecode[admin.ReconcileReport](t, r.stdout)
	if r.code != exitFound || len(rep.Findings) != 1 || rep.Findings[0].Kind != admin.FindingOrphan || rep.Findings[0].Repaired {
		t.Fatalf("reconcile with an orphan: exit %d, %+v", r.code, rep)
	}
	if _, ok := e.sim.Deployment("osb-ghost"); !ok {
		t.Fatal("reconcile without --delete-orphans deleted the orphan")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = e.cli("reconcile", "--delete-orphans", "-o", "json")
		rep = mustDecode[admin.ReconcileReport](t, r.stdout)
		if r.code == exitOK {
			break
		}
		if r.code != exitFound || time.Now().After(deadline) {
			t.Fatalf("reconcile --delete-orphans: exit %d, %+v", r.code, rep)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, ok := e.sim.Deployment("osb-ghost"); ok {
		t.Error("the orphan is still on the manager")
	}

	// An orphan secret: a binding secret of the deprovisioned rec-1 that no binding holds.
	const key = "osb-osb-rec-1-leftover"
	if _, err := c.CreateSecret(ctx, key, cloudify.CreateSecretRequest{Value: `{"password":"pw"}`}); err != nil {
		t.Fatal(err)
	}
	r = e.cli("reconcile")
	if r.code != exitFound || !strings.Contains(r.stdout, "orphan_secret") || !strings.Contains(r.stdout, "secret "+key+" is named for a binding of instance rec-1, which was deprovisioned") ||
		!strings.Contains(r.stdout, "1 binding secrets: 1 findings, 0 repaired") {
		t.Fatalf("reconcile with an orphan secret: exit %d\n%s", r.code, r.stdout)
	}
	r = e.cli("reconcile", "--delete-orphans", "-o", "json")
	rep = mustDecode[admin.ReconcileReport](t, r.stdout)
	if r.code != exitFound || len(rep.Findings) != 1 || rep.Findings[0].Kind != admin.FindingOrphanSecret || rep.Findings[0].InstanceID != "rec-1" ||
		rep.Findings[0].SecretKey != key || !rep.Findings[0].Repaired {
		t.Fatalf("reconcile --delete-orphans with an orphan secret: exit %d, %+v", r.code, rep)
	}
	for _, s := range e.sim.Secrets() {
		if s.Key == key {
			t.Error("the orphan secret is still on the manager")
		}
	}
	if r := e.cli("reconcile"); r.code != exitOK || !strings.Contains(r.stdout, "0 binding secrets: 0 findings") {
		t.Errorf("reconcile after the orphan secret's deletion: exit %d\n%s", r.code, r.stdout)
	}
}

// TestCLIDataDir: the data-directory backend refuses a directory the broker holds,
// and on a stopped broker's directory lists operations, finds a lost execution and
// settles it with its own engine, and syncs the catalog with the same ids.
func TestCLIDataDir(t *testing.T) {
	e := newCLIE2E(t)
	dir := e.cfg.DataDir
	if r := runCLI(t, "instances", "list", "--data-dir", dir); r.code != exitFailure || !strings.Contains(r.stderr, "the broker is running on "+dir+"; use --url") {
		t.Errorf("data dir held by the broker: exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, "instances", "list", "--data-dir", t.TempDir()); r.code != exitFailure || !strings.Contains(r.stderr, "no broker state") {
		t.Errorf("empty data dir: exit %d %q", r.code, r.stderr)
	}
	ids := e.catalogJSON().ids()
	svc, plan := e.servicePlan(e.catalogJSON(), "mariadb", "default")
	e.sim.HangWorkflow("", "install", "")
	if _, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "dd-1", AcceptsIncomplete: true,
		ServiceID: svc, PlanID: plan, OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": "Passw0rd-ok"}}); err != nil {
		t.Fatal(err)
	}
	op := e.waitOperation("dd-1", func(op admin.OperationView) bool { return op.Phase == "installing" })
	e.stop()

	t.Setenv("CLOUDIFY_URL", e.simURL)
	t.Setenv("CLOUDIFY_USERNAME", "admin")
	t.Setenv("CLOUDIFY_PASSWORD", "cfy-pw")
	ops := mustDecode[[]admin.OperationView](t, runCLI(t, "ops", "list", "--data-dir", dir, "-o", "json").stdout)
	if len(ops) != 1 || ops[0].ID != op.ID {
		t.Fatalf("ops list on the data dir = %+v", ops)
	}
	e.sim.DeleteDeploymentNow("osb-dd-1")
	r := runCLI(t, "reconcile", "--data-dir", dir, "-o", "json")
	rep := mustDecode[admin.ReconcileReport](t, r.stdout)
	if r.code != exitFound || len(rep.Findings) != 1 || rep.Findings[0].Kind != admin.FindingExecutionLost || !rep.Findings[0].Repaired {
		t.Fatalf("reconcile of a lost execution: exit %d, %+v", r.code, rep)
	}
	inst := mustDecode[admin.InstanceDetail](t, runCLI(t, "instances", "show", "dd-1", "--data-dir", dir, "-o", "json").stdout)
	if inst.State != "failed" || !strings.Contains(inst.LastError, "disappeared") {
		t.Errorf("instance after reconcile = %+v", inst.InstanceView)
	}
	if r := runCLI(t, "catalog", "sync", "--data-dir", dir); r.code != exitOK || !strings.Contains(r.stdout, "no changes") {
		t.Errorf("catalog sync on the data dir: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	e.start()
	if diff := cmp.Diff(ids, e.catalogJSON().ids()); diff != "" {
		t.Errorf("ids changed (-before +after):\n%s", diff)
	}
}

// TestCLIUsage: exit codes of usage errors, the documented exit codes in the help, and
// shell completion.
func TestCLIUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, exitOK, "Exit status:"},
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"catalog", "bogus"}, exitUsage, `unknown command "bogus" for "cfybroker catalog"`},
		{[]string{"catalog", "show"}, exitUsage, "accepts 1 arg(s)"},
		{[]string{"catalog", "list", "-o", "xml"}, exitUsage, `-o "xml"`},
		{[]string{"catalog", "list", "--bogus"}, exitUsage, "unknown flag"},
		{[]string{"ops", "list", "--url", "http://x", "--data-dir", "d"}, exitUsage, "give only one of"},
		{[]string{"ops", "list", "--url", "http://127.0.0.1:1"}, exitUsage, "needs the operator's admin API password"},
		{[]string{"catalog", "annotate", "mariadb", "--url", "http://127.0.0.1:1", "--password", "p"}, exitUsage, "nothing to change"},
		{[]string{"completion", "bash"}, exitOK, "bash completion"},
	} {
		r := runCLI(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("cfybroker %s: exit %d, output %.200q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stdout+r.stderr, tc.code, tc.want)
		}
	}
}

// TestCLICompletion: SERVICE arguments complete with the running broker's services.
func TestCLICompletion(t *testing.T) {
	e := newCLIE2E(t)
	r := runCLI(t, "__complete", "catalog", "show", "--url", e.url, "--username", testAdminUser, "--password", testAdminPass, "")
	if r.code != exitOK || !strings.Contains(r.stdout, "mariadb\n") || !strings.Contains(r.stdout, "s3-bucket\n") {
		t.Errorf("completion: exit %d\n%s", r.code, r.stdout)
	}
}

// TestCLIAdminAuth: the admin API takes the operator's credentials (any pair of a
// rotation) and no others: the platform's get 401 there, as the operator's do on the
// OSB API; without operator credentials the API is off and the CLI says how to turn it
// on; a pair shared by both roles is refused at start.
func TestCLIAdminAuth(t *testing.T) {
	e := newCLIE2E(t)
	e.stop()
	e.cfg.AdminExtraCredentials = "operator2:rotated-operator-pw"
	e.start()
	status := func(path, user, pass string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+path, nil)
		req.Header.Set("X-Broker-API-Version", "2.17")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path, user, pass string
		want             int
	}{
		{admin.Prefix + "instances", "", "", http.StatusUnauthorized},
		{admin.Prefix + "instances", testUser, testPass, http.StatusUnauthorized},
		{admin.Prefix + "instances", testAdminUser, testAdminPass, http.StatusOK},
		{admin.Prefix + "instances", "operator2", "rotated-operator-pw", http.StatusOK},
		{"/v2/catalog", testAdminUser, testAdminPass, http.StatusUnauthorized},
		{"/v2/catalog", "operator2", "rotated-operator-pw", http.StatusUnauthorized},
		{"/v2/catalog", testUser, testPass, http.StatusOK},
	} {
		if got := status(tc.path, tc.user, tc.pass); got != tc.want {
			t.Errorf("GET %s as %q: %d, want %d", tc.path, tc.user, got, tc.want)
		}
	}
	r := runCLI(t, "instances", "list", "--url", e.url, "--username", testUser, "--password", testPass)
	if r.code != exitFailure || !strings.Contains(r.stderr, "refused the credentials") || !strings.Contains(r.stderr, "CFYBROKER_ADMIN_PASSWORD") {
		t.Errorf("platform credentials: exit %d %q", r.code, r.stderr)
	}
	t.Setenv("CFYBROKER_ADMIN_USERNAME", "")
	t.Setenv("CFYBROKER_ADMIN_PASSWORD", testAdminPass)
	if r := runCLI(t, "instances", "list", "--url", e.url); r.code != 0 {
		t.Errorf("CFYBROKER_ADMIN_PASSWORD with the default username: exit %d %q", r.code, r.stderr)
	}

	// Off without operator credentials.
	e.stop()
	e.cfg.AdminUsername, e.cfg.AdminPassword, e.cfg.AdminExtraCredentials = "", "", ""
	e.start()
	if got := status(admin.Prefix+"instances", testUser, testPass); got != http.StatusNotFound {
		t.Errorf("admin API off, platform credentials: %d, want 404", got)
	}
	r = runCLI(t, "instances", "list", "--url", e.url, "--username", testUser, "--password", testPass)
	if r.code != exitFailure || !strings.Contains(r.stderr, "admin API is off") || !strings.Contains(r.stderr, "--admin-password") {
		t.Errorf("admin API off: exit %d %q", r.code, r.stderr)
	}

	// One pair for both roles.
	e.stop()
	cfg := e.cfg
	cfg.AdminUsername, cfg.AdminPassword = testUser, testPass
	if srv, err := startServer(context.Background(), cfg, testLogger(t)); err == nil || exitCode(err) != exitUsage {
		if srv != nil {
			_ = srv.Shutdown(context.Background())
		}
		t.Errorf("admin credential = OSB credential: %v, want a usage error", err)
	}
}
