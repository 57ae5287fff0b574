package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/basicauth"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustStore(t *testing.T) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "broker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustSimManager starts a simulator with the sample blueprints and returns a client.
func mustSimManager(t *testing.T) (*cloudifysim.Simulator, *cloudify.Client) {
	t.Helper()
	sim := cloudifysim.New(cloudifysim.Config{Version: "7.0.4", Users: map[string]string{"admin": "pw"}, LoadSamples: true})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	c, err := cloudify.New(ts.URL, cloudify.WithBasicAuth("admin", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func mustCommit(t *testing.T, db *boltstore.DB, tx broker.Tx) {
	t.Helper()
	if err := db.Commit(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
}

// seed records an instance and its operation.
func seed(t *testing.T, db *boltstore.DB, st broker.InstanceState, typ broker.OperationType, opState broker.OperationState) (broker.Instance, broker.Operation) {
	t.Helper()
	op := broker.Operation{ID: string(typ) + "-1", Type: typ, InstanceID: "i-1", State: opState, DeploymentID: "osb-i-1",
		BlueprintID: "mariadb", ServiceID: "svc", PlanID: "plan", Phase: "installing", ExecutionID: "exec-1",
		Inputs: []byte("sealed"), Fingerprint: "fp", Deadline: t0.Add(time.Hour), NextCheck: t0, CreatedAt: t0, UpdatedAt: t0}
	if opState != broker.StateInProgress {
		op.EndedAt, op.Description = t0, "it broke"
	}
	in := broker.Instance{ID: "i-1", ServiceID: "svc", PlanID: "plan", DeploymentID: "osb-i-1", BlueprintID: "mariadb",
		State: st, OperationID: op.ID, OperationType: typ, OperationState: opState, CreatedAt: t0, UpdatedAt: t0}
	mustCommit(t, db, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}})
	return in, op
}

// fakeManager is a Manager of function fields; a nil field fails the test's call.
type fakeManager struct {
	admin.Manager
	getDeployment    func(id string) (cloudify.Deployment, error)
	listDeployments  func() ([]cloudify.Deployment, error)
	deleteDeployment func(id string) error
	getExecution     func(id string) (cloudify.Execution, error)
	listExecutions   func(opts cloudify.ListOptions) ([]cloudify.Execution, error)
	startExecution   func(req cloudify.StartExecutionRequest) (cloudify.Execution, error)
	listSecrets      func(opts cloudify.ListOptions) ([]cloudify.Secret, error)
	deleteSecret     func(key string) error
}

func (f *fakeManager) GetDeployment(_ context.Context, id string, _ ...string) (cloudify.Deployment, error) {
	return f.getDeployment(id)
}
func (f *fakeManager) ListDeployments(context.Context, cloudify.ListOptions) ([]cloudify.Deployment, error) {
	return f.listDeployments()
}
func (f *fakeManager) DeleteDeployment(_ context.Context, id string, _ cloudify.DeleteDeploymentOptions) error {
	return f.deleteDeployment(id)
}
func (f *fakeManager) GetExecution(_ context.Context, id string, _ ...string) (cloudify.Execution, error) {
	return f.getExecution(id)
}
func (f *fakeManager) ListExecutions(_ context.Context, opts cloudify.ListOptions) ([]cloudify.Execution, error) {
	return f.listExecutions(opts)
}
func (f *fakeManager) StartExecution(_ context.Context, req cloudify.StartExecutionRequest) (cloudify.Execution, error) {
	return f.startExecution(req)
}
func (f *fakeManager) ListSecrets(_ context.Context, opts cloudify.ListOptions) ([]cloudify.Secret, error) {
	return f.listSecrets(opts)
}
func (f *fakeManager) DeleteSecret(_ context.Context, key string) error {
	return f.deleteSecret(key)
}

// noSecrets is a listSecrets of a manager without secrets.
func noSecrets(cloudify.ListOptions) ([]cloudify.Secret, error) { return nil, nil }

var (
	notFound  = &cloudify.APIError{Status: http.StatusNotFound, Code: "not_found_error", Message: "not found"}
	dependent = &cloudify.APIError{Status: http.StatusBadRequest, Code: "dependent_exists_error", Message: "live nodes"}
)

// stepperFunc and starterFunc adapt functions to workflow.Stepper and broker.Starter.
type stepperFunc func(ctx context.Context, id string) (workflow.TaskOutput, error)

func (f stepperFunc) Step(ctx context.Context, id string) (workflow.TaskOutput, error) {
	return f(ctx, id)
}

type starterFunc func(ctx context.Context, op broker.Operation) error

func (f starterFunc) Start(ctx context.Context, op broker.Operation) error { return f(ctx, op) }

func TestRetryOperation(t *testing.T) {
	deploymentExists := &fakeManager{getDeployment: func(string) (cloudify.Deployment, error) { return cloudify.Deployment{ID: "osb-i-1"}, nil }}
	deploymentGone := &fakeManager{getDeployment: func(string) (cloudify.Deployment, error) { return cloudify.Deployment{}, notFound }}
	for _, tc := range []struct {
		name      string
		state     broker.InstanceState
		typ       broker.OperationType
		opState   broker.OperationState
		manager   admin.Manager
		stepper   bool
		wake      bool
		driver    bool
		action    string
		code      admin.Code
		wantState broker.InstanceState // the instance after a restart
	}{
		{name: "in progress with a stepper", state: broker.InstanceProvisioning, typ: broker.OpProvision, opState: broker.StateInProgress, stepper: true, driver: true, action: admin.ActionStepped},
		{name: "in progress with a wake", state: broker.InstanceProvisioning, typ: broker.OpProvision, opState: broker.StateInProgress, wake: true, action: admin.ActionRescheduled},
		{name: "in progress with only a driver", state: broker.InstanceProvisioning, typ: broker.OpProvision, opState: broker.StateInProgress, driver: true, code: admin.EUnavailable},
		{name: "succeeded", state: broker.InstanceReady, typ: broker.OpProvision, opState: broker.StateSucceeded, driver: true, code: admin.EConflict},
		{name: "failed update", state: broker.InstanceReady, typ: broker.OpUpdate, opState: broker.StateFailed, driver: true, action: admin.ActionRestarted, wantState: broker.InstanceReady},
		{name: "failed deprovision", state: broker.InstanceFailed, typ: broker.OpDeprovision, opState: broker.StateFailed, driver: true, action: admin.ActionRestarted, wantState: broker.InstanceDeprovisioning},
		{name: "failed deprovision without a driver", state: broker.InstanceFailed, typ: broker.OpDeprovision, opState: broker.StateFailed, action: admin.ActionRestarted, wantState: broker.InstanceDeprovisioning},
		{name: "failed provision, deployment gone", state: broker.InstanceFailed, typ: broker.OpProvision, opState: broker.StateFailed, manager: deploymentGone, driver: true, action: admin.ActionRestarted, wantState: broker.InstanceProvisioning},
		{name: "failed provision, deployment there", state: broker.InstanceFailed, typ: broker.OpProvision, opState: broker.StateFailed, manager: deploymentExists, driver: true, code: admin.EConflict},
		{name: "failed provision, no manager", state: broker.InstanceFailed, typ: broker.OpProvision, opState: broker.StateFailed, driver: true, code: admin.EUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := mustStore(t)
			_, op := seed(t, db, tc.state, tc.typ, tc.opState)
			var stepped, started []string
			cfg := admin.Config{Manager: tc.manager, Now: func() time.Time { return t0.Add(time.Minute) }, NewID: func() string { return "new" }}
			if tc.stepper {
				cfg.Stepper = stepperFunc(func(_ context.Context, id string) (workflow.TaskOutput, error) {
					stepped = append(stepped, id)
					return workflow.TaskOutput{OperationID: id}, nil
				})
			}
			record := starterFunc(func(_ context.Context, op broker.Operation) error {
				started = append(started, op.ID)
				return nil
			})
			if tc.driver {
				cfg.Driver = record
			}
			if tc.wake {
				cfg.Wake = record
			}
			res, err := admin.New(db, cfg).RetryOperation(context.Background(), op.ID)
			if got := admin.ErrorCode(err); got != tc.code || (err != nil) != (tc.code != "") {
				t.Fatalf("error %v (code %q), want code %q", err, got, tc.code)
			}
			if err != nil {
				return
			}
			if res.Action != tc.action || res.Retried != op.ID {
				t.Errorf("result = %+v, want action %s", res, tc.action)
			}
			switch tc.action {
			case admin.ActionStepped:
				if diff := cmp.Diff([]string{op.ID}, stepped); diff != "" || len(started) > 0 {
					t.Errorf("stepped %v, started %v", stepped, started)
				}
			case admin.ActionRescheduled:
				if diff := cmp.Diff([]string{op.ID}, started); diff != "" {
					t.Errorf("started (-want +got):\n%s", diff)
				}
			case admin.ActionRestarted:
				newID := string(tc.typ) + "-new"
				if res.Operation.ID != newID || res.Operation.State != broker.StateInProgress || res.Operation.Type != tc.typ {
					t.Errorf("new operation = %+v", res.Operation)
				}
				if tc.driver && !cmp.Equal([]string{newID}, started) {
					t.Errorf("driver started %v, want %s", started, newID)
				}
				stored, err := db.GetOperation(context.Background(), newID)
				if err != nil || string(stored.Inputs) != "sealed" || stored.Fingerprint != "fp" || stored.Deadline != t0.Add(time.Minute+time.Hour) {
					t.Errorf("stored operation = %+v, %v; want the inputs, fingerprint and time budget of the failed one", stored, err)
				}
				inst, _ := db.GetInstance(context.Background(), "i-1")
				if inst.State != tc.wantState || inst.OperationID != newID || inst.OperationState != broker.StateInProgress {
					t.Errorf("instance = %s %s %s, want %s %s in progress", inst.State, inst.OperationID, inst.OperationState, tc.wantState, newID)
				}
			}
		})
	}
}

func TestRetryNotLastOperation(t *testing.T) {
	db := mustStore(t)
	in, op := seed(t, db, broker.InstanceReady, broker.OpUpdate, broker.StateFailed)
	in.OperationID = "update-2"
	mustCommit(t, db, broker.Tx{Instances: []*broker.Instance{&in}})
	_, err := admin.New(db, admin.Config{}).RetryOperation(context.Background(), op.ID)
	if admin.ErrorCode(err) != admin.EConflict || !strings.Contains(err.Error(), "update-2") {
		t.Errorf("retry of an older operation: %v, want a conflict naming update-2", err)
	}
	if _, err := admin.New(db, admin.Config{}).RetryOperation(context.Background(), "nope"); admin.ErrorCode(err) != admin.ENotFound {
		t.Errorf("retry of an unknown operation: %v", err)
	}
}

func TestAbandonOperation(t *testing.T) {
	ctx := context.Background()
	db := mustStore(t)
	_, op := seed(t, db, broker.InstanceProvisioning, broker.OpProvision, broker.StateInProgress)
	svc := admin.New(db, admin.Config{Now: func() time.Time { return t0.Add(time.Minute) }})
	got, err := svc.AbandonOperation(ctx, op.ID, "manager rebuilt")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != broker.StateFailed || got.Description != "abandoned by an operator: manager rebuilt" || got.EndedAt != t0.Add(time.Minute) {
		t.Errorf("abandoned = %+v", got)
	}
	inst, _ := db.GetInstance(ctx, "i-1")
	if inst.State != broker.InstanceFailed || inst.OperationState != broker.StateFailed {
		t.Errorf("instance = %s / %s, want failed / failed", inst.State, inst.OperationState)
	}
	if _, err := svc.AbandonOperation(ctx, op.ID, ""); admin.ErrorCode(err) != admin.EConflict {
		t.Errorf("abandon of an ended operation: %v, want EConflict", err)
	}
	if _, err := svc.AbandonOperation(ctx, "nope", ""); admin.ErrorCode(err) != admin.ENotFound {
		t.Errorf("abandon of an unknown operation: %v, want ENotFound", err)
	}
	ops, err := svc.Operations(ctx, admin.OperationFilter{FailedSince: time.Hour})
	if err != nil || len(ops) != 1 || ops[0].ID != op.ID {
		t.Errorf("operations = %+v, %v; want the failed provision", ops, err)
	}
	if ops, _ := svc.Operations(ctx, admin.OperationFilter{}); len(ops) != 0 {
		t.Errorf("operations in progress = %+v, want none", ops)
	}
}

func TestReconcileOrphans(t *testing.T) {
	ctx := context.Background()
	db := mustStore(t)
	gone := broker.Instance{ID: "gone-1", DeploymentID: "osb-gone-1", State: broker.InstanceGone, CreatedAt: t0, UpdatedAt: t0}
	mustCommit(t, db, broker.Tx{Instances: []*broker.Instance{&gone}})
	labelled := func(id, instance string) cloudify.Deployment {
		return cloudify.Deployment{ID: id, Labels: []cloudify.Label{{Key: broker.LabelInstanceID, Value: instance}}}
	}
	var deleted, uninstalled []string
	mgr := &fakeManager{
		listDeployments: func() ([]cloudify.Deployment, error) {
			return []cloudify.Deployment{labelled("osb-ghost", "ghost"), labelled("osb-gone-1", "gone-1"), {ID: "unrelated"}}, nil
		},
		listExecutions: func(cloudify.ListOptions) ([]cloudify.Execution, error) { return nil, nil },
		deleteDeployment: func(id string) error {
			if id == "osb-gone-1" {
				return dependent
			}
			deleted = append(deleted, id)
			return nil
		},
		startExecution: func(req cloudify.StartExecutionRequest) (cloudify.Execution, error) {
			uninstalled = append(uninstalled, req.DeploymentID+"/"+req.WorkflowID)
			return cloudify.Execution{ID: "exec-u"}, nil
		},
		listSecrets: noSecrets,
	}
	svc := admin.New(db, admin.Config{Manager: mgr})

	rep, err := svc.Reconcile(ctx, admin.ReconcileRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Deployments != 2 || len(rep.Findings) != 2 || rep.Repaired != 0 || len(deleted) > 0 {
		t.Fatalf("report without --delete-orphans = %+v (deleted %v)", rep, deleted)
	}
	rep, err = svc.Reconcile(ctx, admin.ReconcileRequest{DeleteOrphans: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repaired != 2 || rep.Errors != 0 {
		t.Errorf("report = %+v", rep)
	}
	if diff := cmp.Diff([]string{"osb-ghost"}, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"osb-gone-1/uninstall"}, uninstalled); diff != "" {
		t.Errorf("uninstalled (-want +got):\n%s", diff)
	}
	if rep.Findings[1].ExecutionID != "exec-u" || !strings.Contains(rep.Findings[1].Action, "uninstall started") {
		t.Errorf("finding of a live orphan = %+v", rep.Findings[1])
	}
}

func TestReconcileLostExecution(t *testing.T) {
	ctx := context.Background()
	db := mustStore(t)
	_, op := seed(t, db, broker.InstanceProvisioning, broker.OpProvision, broker.StateInProgress)
	mgr := &fakeManager{
		listDeployments: func() ([]cloudify.Deployment, error) { return nil, nil },
		getExecution:    func(string) (cloudify.Execution, error) { return cloudify.Execution{}, notFound },
		listSecrets:     noSecrets,
	}
	var started []string
	svc := admin.New(db, admin.Config{Manager: mgr, Now: func() time.Time { return t0 }, Wake: starterFunc(func(_ context.Context, op broker.Operation) error {
		started = append(started, op.ID)
		return nil
	})})
	rep, err := svc.Reconcile(ctx, admin.ReconcileRequest{DryRun: true})
	if err != nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != admin.FindingExecutionLost || rep.Findings[0].Repaired || len(started) > 0 {
		t.Fatalf("dry run = %+v, %v (started %v)", rep, err, started)
	}
	rep, err = svc.Reconcile(ctx, admin.ReconcileRequest{})
	if err != nil || rep.Repaired != 1 || !cmp.Equal([]string{op.ID}, started) {
		t.Fatalf("reconcile = %+v, %v (started %v)", rep, err, started)
	}
}

// newAPI serves svc's admin API with one credential and returns a client of it.
func newAPI(t *testing.T, svc *admin.Service, password string) *admin.Client {
	t.Helper()
	ts := httptest.NewServer(admin.NewHandler(svc, admin.HandlerConfig{Credentials: []basicauth.Credential{{Username: "op", Password: "secret"}}}))
	t.Cleanup(ts.Close)
	c, err := admin.NewClient(ts.URL, "op", password, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHTTPAPI(t *testing.T) {
	ctx := context.Background()
	db := mustStore(t)
	_, mgr := mustSimManager(t)
	svc := admin.New(db, admin.Config{Manager: mgr, Catalog: catalog.BuildOptions{ManagerURL: "https://mgr"}})
	c := newAPI(t, svc, "secret")

	if _, err := c.Catalog(ctx); admin.ErrorCode(err) != admin.ENotFound {
		t.Errorf("catalog before a sync: %v, want ENotFound", err)
	}
	var reports []admin.Progress
	res, err := c.Rebuild(ctx, admin.RebuildRequest{}, func(p admin.Progress) { reports = append(reports, p) })
	if err != nil || !res.Applied || res.Services == 0 {
		t.Fatalf("rebuild = %+v, %v", res, err)
	}
	if len(reports) < 3 || reports[0].Phase != admin.PhaseBlueprints || reports[len(reports)-1] != (admin.Progress{Phase: admin.PhaseServices, Done: res.Services, Total: res.Services}) {
		t.Errorf("progress = %+v", reports)
	}
	// Over HTTP and in process: the same answers.
	for name, b := range map[string]interface {
		Catalog(context.Context) (broker.Catalog, error)
	}{"client": c, "service": svc} {
		cat, err := b.Catalog(ctx)
		if err != nil || len(cat.Services) != res.Services || cat.ETag != res.ETag {
			t.Errorf("%s: catalog = %d services %s, %v", name, len(cat.Services), cat.ETag, err)
		}
	}
	raw, err := c.OSBCatalog(ctx)
	if err != nil || !strings.HasPrefix(string(raw), `{"services":[`) || strings.Contains(string(raw), "blueprint_id") {
		t.Errorf("OSB catalog = %.100s, %v", raw, err)
	}

	doc, err := c.Overlay(ctx)
	if err != nil || doc.Stored {
		t.Fatalf("overlay = %+v, %v", doc, err)
	}
	bad := "version: 1\nservices:\n  mariadb:\n    plans:\n      - name: small\n        inputs: {nope: 1}\n"
	_, err = c.Rebuild(ctx, admin.RebuildRequest{Overlay: &bad}, func(admin.Progress) {})
	if admin.ErrorCode(err) != admin.EInvalid || !strings.Contains(err.Error(), "overlay.yaml:6:") {
		t.Errorf("bad overlay: %v, want EInvalid naming line 6", err)
	}
	var ae *admin.Error
	wantProblems := []admin.Problem{{InOverlay: true, Line: 6, Path: "services.mariadb.plans[0].inputs", Message: `unknown input "nope" of blueprint mariadb`}}
	if !errors.As(err, &ae) {
		t.Errorf("bad overlay: %T, want an *admin.Error", err)
	} else if diff := cmp.Diff(wantProblems, ae.Problems); diff != "" {
		t.Errorf("bad overlay: problems (-want +got):\n%s", diff)
	}
	good := "version: 1\nhidden: [redis-cache]\n"
	if _, err := c.Rebuild(ctx, admin.RebuildRequest{Overlay: &good, BaseHash: "stale"}, nil); admin.ErrorCode(err) != admin.EConflict {
		t.Errorf("stale base hash: %v, want EConflict", err)
	}
	res, err = c.Rebuild(ctx, admin.RebuildRequest{Overlay: &good, BaseHash: doc.Hash}, nil)
	if err != nil || !res.OverlayChanged || len(res.Changes) != 1 || res.Changes[0].Text != "- service redis-cache" {
		t.Errorf("import = %+v, %v", res, err)
	}
	if doc, err := c.Overlay(ctx); err != nil || doc.Document != good || !doc.Stored {
		t.Errorf("stored overlay = %+v, %v", doc, err)
	}

	if _, err := c.Instance(ctx, "nope"); admin.ErrorCode(err) != admin.ENotFound {
		t.Errorf("unknown instance: %v", err)
	}
	if list, err := c.Instances(ctx, admin.InstanceFilter{All: true}); err != nil || len(list) != 0 {
		t.Errorf("instances = %v, %v", list, err)
	}
	if _, err := c.AbandonOperation(ctx, "nope", "why"); admin.ErrorCode(err) != admin.ENotFound {
		t.Errorf("abandon of an unknown operation: %v", err)
	}

	wrong := newAPI(t, svc, "wrong")
	if _, err := wrong.Operations(ctx, admin.OperationFilter{}); err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestRebuildWithoutManager(t *testing.T) {
	svc := admin.New(mustStore(t), admin.Config{})
	_, err := svc.Rebuild(context.Background(), admin.RebuildRequest{}, nil)
	var e *admin.Error
	if !errors.As(err, &e) || e.Code != admin.EUnavailable || !strings.Contains(e.Message, "CLOUDIFY_URL") {
		t.Errorf("rebuild without a manager: %v", err)
	}
}

// TestReconcileOldManager: a manager without deployment labels is reconciled without
// orphans, and says so in a note rather than an error.
func TestReconcileOldManager(t *testing.T) {
	for version, notes := range map[string]int{"4.6": 1, "5.0.5": 1, "7.0.4": 0} {
		t.Run(version, func(t *testing.T) {
			sim := cloudifysim.New(cloudifysim.Config{Version: version, Users: map[string]string{"admin": "pw"}, LoadSamples: true})
			ts := httptest.NewServer(sim)
			t.Cleanup(ts.Close)
			c, err := cloudify.New(ts.URL, cloudify.WithBasicAuth("admin", "pw"))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := admin.New(mustStore(t), admin.Config{Manager: c}).Reconcile(context.Background(), admin.ReconcileRequest{})
			if err != nil || rep.Errors != 0 || len(rep.Findings) != 0 {
				t.Fatalf("reconcile = %+v, %v", rep, err)
			}
			if len(rep.Notes) != notes {
				t.Errorf("notes = %q, want %d", rep.Notes, notes)
			}
		})
	}
}

// TestHTTPAPIOff: without operator credentials the API is off: every request, with any
// credentials, is answered 404 admin_off, and the client's error says how to turn it on.
func TestHTTPAPIOff(t *testing.T) {
	db := mustStore(t)
	svc := admin.New(db, admin.Config{})
	ts := httptest.NewServer(admin.NewHandler(svc, admin.HandlerConfig{}))
	t.Cleanup(ts.Close)
	c, err := admin.NewClient(ts.URL, "platform", "platform-pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Instances(context.Background(), admin.InstanceFilter{})
	if err == nil || !strings.Contains(err.Error(), "admin API is off") || !strings.Contains(err.Error(), "CFYBROKER_ADMIN_PASSWORD") {
		t.Errorf("instances on an API that is off: %v", err)
	}
}

func TestOverlayProblems(t *testing.T) {
	_, err := catalog.ParseOverlay([]byte("version: 1\nservices:\n  mariadb:\n    tagz: [a]\n"))
	if err == nil {
		t.Fatal("ParseOverlay succeeded, want errors")
	}
	wrapped := fmt.Errorf("catalog: sync: %w", errors.Join(err, errors.New("catalog: blueprint b, plan p: bad schema")))
	got := admin.OverlayProblems(wrapped)
	var texts []string
	for _, p := range got {
		texts = append(texts, p.Text("f.yaml"))
	}
	want := []string{
		`f.yaml:4: services.mariadb: unknown field "tagz" (did you mean "tags"?)`,
		"catalog: blueprint b, plan p: bad schema",
	}
	if diff := cmp.Diff(want, texts); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if got[0].Text("") != `services.mariadb: unknown field "tagz" (did you mean "tags"?)` {
		t.Errorf("Text(\"\") = %q", got[0].Text(""))
	}
	if ps := admin.OverlayProblems(fmt.Errorf("catalog: sync: %w", errors.New("plain"))); ps != nil {
		t.Errorf("problems of an error without an overlay error = %v, want nil", ps)
	}
}
