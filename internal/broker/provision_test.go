package broker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/google/go-cmp/cmp"
)

// TestProvisionRecords: an accepted provision is answered 202 with its operation and
// the dashboard_url; the instance and the operation are written in one transaction,
// the parameters only sealed, and the operation is handed to the driver.
func TestProvisionRecords(t *testing.T) {
	e := newEnv(t)
	res := mustProvision(t, e, provisionRequest())

	wantRes := broker.ProvisionResult{Async: true, Operation: "provision-id-1", DashboardURL: "https://cfy.example/deployments/osb-inst-1"}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("result (-want +got)\n%s", diff)
	}
	commits := e.commits()
	if len(commits) != 1 || len(commits[0].Instances) != 1 || len(commits[0].Operations) != 1 {
		t.Fatalf("commits = %+v, want one with an instance and an operation", commits)
	}
	inst, op := commits[0].Instances[0], commits[0].Operations[0]

	wantParams := map[string]any{"name": "abc", "node_count": 3.0}
	if diff := cmp.Diff(wantParams, opened(t, op.Parameters)); diff != "" {
		t.Errorf("operation parameters (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(wantParams, opened(t, inst.Parameters)); diff != "" {
		t.Errorf("instance parameters (-want +got)\n%s", diff)
	}
	// The plan's fixed inputs are laid over the user's parameters.
	if diff := cmp.Diff(map[string]any{"name": "abc", "node_count": 3.0, "size": "small"}, opened(t, op.Inputs)); diff != "" {
		t.Errorf("operation inputs (-want +got)\n%s", diff)
	}
	if op.Fingerprint == "" || op.Fingerprint != inst.Fingerprint {
		t.Errorf("fingerprints: operation %q, instance %q; want the same, non-empty", op.Fingerprint, inst.Fingerprint)
	}
	op.Parameters, op.Inputs, op.Fingerprint = nil, nil, ""
	inst.Parameters, inst.Fingerprint = nil, ""

	wantOp := broker.Operation{
		ID: "provision-id-1", Type: broker.OpProvision, InstanceID: "inst-1", State: broker.StateInProgress,
		Description: "creating deployment osb-inst-1", DeploymentID: "osb-inst-1", BlueprintID: "bp-mysql",
		ServiceID: serviceID, PlanID: planSmall, MaintenanceVersion: "1.2.0",
		Labels:   map[string]string{broker.LabelInstanceID: "inst-1", broker.LabelServiceID: serviceID, broker.LabelPlanID: planSmall},
		Deadline: t0.Add(2 * time.Hour), NextCheck: t0, RequestID: "req-1", Identity: "cloudfoundry/u-1",
		CreatedAt: t0, UpdatedAt: t0,
	}
	if diff := cmp.Diff(wantOp, op); diff != "" {
		t.Errorf("operation (-want +got)\n%s", diff)
	}
	wantInst := broker.Instance{
		ID: "inst-1", ServiceID: serviceID, PlanID: planSmall, OrganizationGUID: "org-1", SpaceGUID: "space-1",
		Context: json.RawMessage(`{"platform":"cloudfoundry"}`), DeploymentID: "osb-inst-1", BlueprintID: "bp-mysql",
		MaintenanceVersion: "1.2.0", DashboardURL: "https://cfy.example/deployments/osb-inst-1",
		State: broker.InstanceProvisioning, OperationID: "provision-id-1", OperationType: broker.OpProvision,
		OperationState: broker.StateInProgress, CreatedAt: t0, UpdatedAt: t0,
	}
	if diff := cmp.Diff(wantInst, inst); diff != "" {
		t.Errorf("instance (-want +got)\n%s", diff)
	}
	if len(e.started) != 1 || e.started[0].ID != "provision-id-1" {
		t.Errorf("started %+v, want the provision", e.started)
	}
}

// TestProvisionPlanDefaults: without maintenance_info the plan's version is still
// recorded; no parameters seal nothing; a plan's maximum_polling_duration is the
// operation's deadline.
func TestProvisionPlanDefaults(t *testing.T) {
	e := newEnv(t)
	mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) {
		r.PlanID, r.MaintenanceInfo, r.Parameters = planLarge, nil, nil
	}))
	op := e.commits()[0].Operations[0]
	if op.MaintenanceVersion != "1.3.0" || op.Parameters != nil || op.BlueprintID != "bp-mysql-ha" || !op.Deadline.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("operation: maintenance %q, parameters %q, blueprint %q, deadline %s", op.MaintenanceVersion, op.Parameters, op.BlueprintID, op.Deadline)
	}
	if diff := cmp.Diff(map[string]any{"size": "large"}, opened(t, op.Inputs)); diff != "" {
		t.Errorf("inputs (-want +got)\n%s", diff)
	}

	mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) {
		r.InstanceID, r.PlanID, r.MaintenanceInfo, r.Parameters = "inst-2", planFixed, nil, json.RawMessage(`null`)
	}))
	op = e.commits()[1].Operations[0]
	if op.MaintenanceVersion != "" || op.Inputs != nil || op.Parameters != nil {
		t.Errorf("plan without maintenance_info or inputs: maintenance %q, inputs %q, parameters %q", op.MaintenanceVersion, op.Inputs, op.Parameters)
	}
}

// TestProvisionRefuses: every refused provision names its reason with the error code
// the OSB surface maps (400, 422 AsyncRequired, 422 MaintenanceInfoConflict) and
// leaves broker state unchanged.
func TestProvisionRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*broker.ProvisionRequest)
		code broker.Code
		msg  []string
	}{
		{"no instance_id", func(r *broker.ProvisionRequest) { r.InstanceID = "" }, broker.EInvalid, []string{"instance_id is missing"}},
		{"service_id with a slash", func(r *broker.ProvisionRequest) { r.ServiceID = "a/b" }, broker.EInvalid, []string{"service_id contains"}},
		{"no plan_id", func(r *broker.ProvisionRequest) { r.PlanID = "" }, broker.EInvalid, []string{"plan_id is missing"}},
		{"synchronous", func(r *broker.ProvisionRequest) { r.AcceptsIncomplete = false }, broker.EAsyncRequired, nil},
		{"unknown service", func(r *broker.ProvisionRequest) { r.ServiceID = "svc-x" }, broker.EInvalid, []string{`service_id "svc-x" is not in the catalog`}},
		{"unknown plan", func(r *broker.ProvisionRequest) { r.PlanID = "plan-x" }, broker.EInvalid, []string{`plan_id "plan-x" is not a plan of service "mysql"`}},
		{"old maintenance_info", func(r *broker.ProvisionRequest) { r.MaintenanceInfo.Version = "1.1.0" }, broker.EMaintenanceInfoConflict, []string{`"1.1.0"`, `"1.2.0"`, `"small"`}},
		{"maintenance_info on a plan without", func(r *broker.ProvisionRequest) { r.PlanID = planFixed }, broker.EMaintenanceInfoConflict, []string{`plan "fixed" has no maintenance_info`}},
		{"parameters not an object", func(r *broker.ProvisionRequest) { r.Parameters = json.RawMessage(`[1]`) }, broker.EInvalid, []string{"parameters must be a JSON object"}},
		{"parameter over its maximum", func(r *broker.ProvisionRequest) { r.Parameters = json.RawMessage(`{"node_count":12}`) }, broker.EInvalid, []string{"node_count: must be at most 9"}},
		{"unknown parameter", func(r *broker.ProvisionRequest) { r.Parameters = json.RawMessage(`{"colour":"red"}`) }, broker.EInvalid, []string{"unknown parameter colour"}},
		{"parameter off its pattern", func(r *broker.ProvisionRequest) { r.Parameters = json.RawMessage(`{"name":"A1"}`) }, broker.EInvalid, []string{`name: must match the pattern "^[a-z]+$"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.mark()
			_, err := e.uc.Provision(context.Background(), provisionRequest(tc.mod))
			wantCode(t, err, tc.code)
			wantMessage(t, err, tc.msg...)
			e.wantNoWrites(t, m)
		})
	}
}

// TestProvisionBeforeCatalogSync: before the first catalog sync no service exists.
func TestProvisionBeforeCatalogSync(t *testing.T) {
	e := newEnv(t)
	e.catalog.GetCatalogFn = nil
	_, err := e.uc.Provision(context.Background(), provisionRequest())
	wantCode(t, err, broker.EInvalid)
	wantMessage(t, err, "not in the catalog")
}

// TestProvisionRepeat: OSB idempotency. The same provision again is answered as the
// first was while it runs (202, the same operation), 200 once it succeeded; a
// provision with other attributes is a 409; nothing is written either way.
func TestProvisionRepeat(t *testing.T) {
	other := func(mod func(*broker.ProvisionRequest)) broker.ProvisionRequest { return provisionRequest(mod) }
	for _, tc := range []struct {
		name string
		// state is where the first provision is when the repeat arrives.
		state   broker.InstanceState
		req     broker.ProvisionRequest
		want    broker.ProvisionResult
		code    broker.Code
		message string
	}{
		{name: "identical, in progress", state: broker.InstanceProvisioning, req: provisionRequest(),
			want: broker.ProvisionResult{Async: true, Operation: "provision-id-1", DashboardURL: "https://cfy.example/deployments/osb-inst-1"}},
		{name: "same parameters in another order, in progress", state: broker.InstanceProvisioning,
			req:  other(func(r *broker.ProvisionRequest) { r.Parameters = json.RawMessage(`{ "node_count": 3, "name": "abc" }`) }),
			want: broker.ProvisionResult{Async: true, Operation: "provision-id-1", DashboardURL: "https://cfy.example/deployments/osb-inst-1"}},
		{name: "identical, succeeded", state: broker.InstanceReady, req: provisionRequest(),
			want: broker.ProvisionResult{DashboardURL: "https://cfy.example/deployments/osb-inst-1"}},
		{name: "other parameters, in progress", state: broker.InstanceProvisioning,
			req: other(func(r *broker.ProvisionRequest) { r.Parameters = json.RawMessage(`{"name":"abd","node_count":3}`) }), code: broker.EConflict, message: "exists with other attributes"},
		{name: "other plan, succeeded", state: broker.InstanceReady,
			req: other(func(r *broker.ProvisionRequest) { r.PlanID, r.MaintenanceInfo = planLarge, nil }), code: broker.EConflict, message: "exists with other attributes"},
		{name: "other space, succeeded", state: broker.InstanceReady,
			req: other(func(r *broker.ProvisionRequest) { r.SpaceGUID = "space-2" }), code: broker.EConflict, message: "exists with other attributes"},
		{name: "identical, failed", state: broker.InstanceFailed, req: provisionRequest(), code: broker.EConflict, message: "deprovision it first"},
		{name: "identical, deprovisioning", state: broker.InstanceDeprovisioning, req: provisionRequest(), code: broker.EConcurrency, message: "being deprovisioned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			mustProvision(t, e, provisionRequest())
			inst := e.instance(t, "inst-1")
			inst.State = tc.state
			if tc.state != broker.InstanceProvisioning {
				inst.OperationState = broker.StateSucceeded
			}
			e.put(inst)
			m := e.mark()
			res, err := e.uc.Provision(context.Background(), tc.req)
			e.wantNoWrites(t, m)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				wantMessage(t, err, tc.message)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestProvisionAfterDeprovision: a deprovisioned instance's tombstone is replaced in
// place by a new provision with the same id.
func TestProvisionAfterDeprovision(t *testing.T) {
	e := newEnv(t)
	e.put(broker.Instance{ID: "inst-1", ServiceID: serviceID, PlanID: planFixed, State: broker.InstanceGone,
		OperationID: "deprovision-old", OperationType: broker.OpDeprovision, OperationState: broker.StateSucceeded, Version: 7})
	res := mustProvision(t, e, provisionRequest())
	if !res.Async || res.Operation != "provision-id-1" {
		t.Errorf("result %+v, want a new provision", res)
	}
	if inst := e.commits()[0].Instances[0]; inst.Version != 7 || inst.State != broker.InstanceProvisioning || inst.PlanID != planSmall {
		t.Errorf("written instance: version %d, state %s, plan %s; want the tombstone's version 7, provisioning, %s", inst.Version, inst.State, inst.PlanID, planSmall)
	}
}

// TestProvisionConcurrentWriter: when another request records the instance between
// the read and the write, the provision is answered from what that one recorded.
func TestProvisionConcurrentWriter(t *testing.T) {
	for _, tc := range []struct {
		name string
		// theirs is the provision that wins the race.
		theirs broker.ProvisionRequest
		want   broker.ProvisionResult
		code   broker.Code
	}{
		{name: "identical", theirs: provisionRequest(),
			want: broker.ProvisionResult{Async: true, Operation: "provision-theirs", DashboardURL: "https://cfy.example/deployments/osb-inst-1"}},
		{name: "other attributes", theirs: provisionRequest(func(r *broker.ProvisionRequest) { r.OrganizationGUID = "org-2" }), code: broker.EConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rival := newEnv(t)
			mustProvision(t, rival, tc.theirs)
			theirs := rival.instance(t, "inst-1")
			theirs.OperationID = "provision-theirs"
			calls := 0
			e.store.CommitFn = func(ctx context.Context, tx broker.Tx) error {
				calls++
				if calls == 1 {
					e.put(theirs)
					return broker.ErrConflict
				}
				return e.mem.commit(ctx, tx)
			}
			res, err := e.uc.Provision(context.Background(), provisionRequest())
			if calls != 1 || len(e.started) != 0 {
				t.Errorf("%d commits and %d starts, want the one lost commit and no start", calls, len(e.started))
			}
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestProvisionConflictsExhausted: a write that keeps losing is tried four times in
// all, then the store's conflict is returned as it is (a fault, not a domain error).
func TestProvisionConflictsExhausted(t *testing.T) {
	e := newEnv(t)
	calls := 0
	e.store.CommitFn = func(context.Context, broker.Tx) error { calls++; return broker.ErrConflict }
	_, err := e.uc.Provision(context.Background(), provisionRequest())
	wantFault(t, err, broker.ErrConflict)
	if calls != 4 || len(e.started) != 0 {
		t.Errorf("%d commits and %d starts, want 4 and none", calls, len(e.started))
	}
}

// TestProvisionFaults: a fault of a dependency is returned matching its cause, with no
// domain code (the OSB surface answers 500), and nothing is started.
func TestProvisionFaults(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		break_ func(*env)
		// commits is how many Commit calls the fault allows (a fault is never retried).
		commits int
	}{
		{"instance read", func(e *env) {
			e.store.GetInstanceFn = func(context.Context, string) (broker.Instance, error) { return broker.Instance{}, boom }
		}, 0},
		{"catalog read", func(e *env) {
			e.catalog.GetCatalogFn = func(context.Context) (broker.Catalog, error) { return broker.Catalog{}, boom }
		}, 0},
		{"sealing", func(e *env) { e.sealer.SealFn = func([]byte) ([]byte, error) { return nil, boom } }, 0},
		{"commit", func(e *env) {}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.break_(e)
			calls := 0
			e.store.CommitFn = func(context.Context, broker.Tx) error {
				calls++
				return boom
			}
			_, err := e.uc.Provision(context.Background(), provisionRequest())
			wantFault(t, err, boom)
			if calls != tc.commits || len(e.started) != 0 {
				t.Errorf("%d commits and %d starts, want %d and none", calls, len(e.started), tc.commits)
			}
		})
	}
}

// TestProvisionStartFails: an operation that the driver does not take is still
// recorded and answered 202 (the driver's sweep resumes it); the failure is logged.
func TestProvisionStartFails(t *testing.T) {
	e := newEnv(t)
	e.starter.StartFn = func(context.Context, broker.Operation) error { return errors.New("driver down") }
	res := mustProvision(t, e, provisionRequest())
	if !res.Async || res.Operation != "provision-id-1" {
		t.Errorf("result %+v, want 202 with the operation", res)
	}
	if e.operation(t, "provision-id-1").State != broker.StateInProgress {
		t.Error("the operation is not recorded in progress")
	}
	if log := e.log.String(); !strings.Contains(log, "not started") || !strings.Contains(log, "driver down") {
		t.Errorf("log %q does not report the failed start", log)
	}
}

// TestProvisionBrokenSchema: a plan schema that cannot be compiled (here: an external
// reference, which is never fetched) is a fault of the broker, not of the request.
func TestProvisionBrokenSchema(t *testing.T) {
	e := newEnv(t)
	e.catalog.GetCatalogFn = func(context.Context) (broker.Catalog, error) {
		c := testCatalog()
		c.Services[0].Plans[0].CreateSchema = json.RawMessage(`{"$ref":"http://example.com/params.json"}`)
		return c, nil
	}
	m := e.mark()
	_, err := e.uc.Provision(context.Background(), provisionRequest())
	wantFault(t, err, err)
	if !strings.Contains(err.Error(), "plan schema") {
		t.Errorf("fault %q does not name the plan schema", err)
	}
	e.wantNoWrites(t, m)
}
