package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/google/go-cmp/cmp"
)

// deprovisionRequest is an asynchronous deprovision of inst-1; mods change it.
func deprovisionRequest(mods ...func(*broker.DeprovisionRequest)) broker.DeprovisionRequest {
	req := broker.DeprovisionRequest{
		RequestInfo: broker.RequestInfo{RequestID: "req-2", Identity: broker.Identity{Platform: "kubernetes", User: "admin"}},
		InstanceID:  "inst-1", ServiceID: serviceID, PlanID: planSmall, AcceptsIncomplete: true,
	}
	for _, m := range mods {
		m(&req)
	}
	return req
}

// mustDeprovision deprovisions and fails the test on an error.
func mustDeprovision(t *testing.T, e *env, req broker.DeprovisionRequest) broker.DeprovisionResult {
	t.Helper()
	res, err := e.uc.Deprovision(context.Background(), req)
	if err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	return res
}

// TestDeprovisionRecords: a deprovision of a ready instance is answered 202 with its
// operation; the instance moves to deprovisioning with the operation in one
// transaction, and the operation is handed to the driver.
func TestDeprovisionRecords(t *testing.T) {
	e := newEnv(t)
	inst := readyInstance(t, e)
	m := e.mark()
	res := mustDeprovision(t, e, deprovisionRequest())

	if diff := cmp.Diff(broker.DeprovisionResult{Async: true, Operation: "deprovision-id-2"}, res); diff != "" {
		t.Errorf("result (-want +got)\n%s", diff)
	}
	commits := e.commits()[m.commits:]
	if len(commits) != 1 || len(commits[0].Instances) != 1 || len(commits[0].Operations) != 1 {
		t.Fatalf("commits = %+v, want one with the instance and the operation", commits)
	}
	wantOp := broker.Operation{
		ID: "deprovision-id-2", Type: broker.OpDeprovision, InstanceID: "inst-1", State: broker.StateInProgress,
		Description: "deleting deployment osb-inst-1", DeploymentID: "osb-inst-1", BlueprintID: "bp-mysql",
		ServiceID: serviceID, PlanID: planSmall, Deadline: t0.Add(2 * time.Hour), NextCheck: t0,
		RequestID: "req-2", Identity: "kubernetes/admin", CreatedAt: t0, UpdatedAt: t0,
	}
	if diff := cmp.Diff(wantOp, commits[0].Operations[0]); diff != "" {
		t.Errorf("operation (-want +got)\n%s", diff)
	}
	wantInst := inst
	wantInst.State = broker.InstanceDeprovisioning
	wantInst.OperationID, wantInst.OperationType, wantInst.OperationState = "deprovision-id-2", broker.OpDeprovision, broker.StateInProgress
	if diff := cmp.Diff(wantInst, commits[0].Instances[0]); diff != "" {
		t.Errorf("instance (-want +got)\n%s", diff)
	}
	if len(e.started) != 2 || e.started[1].ID != "deprovision-id-2" {
		t.Errorf("started %d operations, want the provision and then the deprovision", len(e.started))
	}
}

// TestDeprovisionDeadline: the operation's deadline is the plan's
// maximum_polling_duration, or the default when the plan left the catalog.
func TestDeprovisionDeadline(t *testing.T) {
	for _, tc := range []struct {
		plan string
		want time.Duration
	}{
		{planLarge, 10 * time.Minute},
		{"plan-removed", 2 * time.Hour},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			e := newEnv(t)
			e.put(broker.Instance{ID: "inst-1", ServiceID: serviceID, PlanID: tc.plan, DeploymentID: "osb-inst-1", State: broker.InstanceReady,
				OperationID: "provision-0", OperationType: broker.OpProvision, OperationState: broker.StateSucceeded, Version: 2})
			mustDeprovision(t, e, deprovisionRequest(func(r *broker.DeprovisionRequest) { r.PlanID = tc.plan }))
			if got := e.commits()[0].Operations[0].Deadline.Sub(t0); got != tc.want {
				t.Errorf("deadline in %s, want %s", got, tc.want)
			}
		})
	}
}

// TestDeprovisionRefuses: 410 for an instance that does not exist (never did, or is
// deprovisioned) whatever the ids, 400 for another service or a plan that is not the
// instance's (during a plan change, the old and the new plan both are), 422 AsyncRequired without
// accepts_incomplete, 422 ConcurrencyError during an update; nothing is written.
func TestDeprovisionRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *env)
		mod   func(*broker.DeprovisionRequest)
		code  broker.Code
		msg   string
	}{
		{name: "no instance_id", mod: func(r *broker.DeprovisionRequest) { r.InstanceID = "" }, code: broker.EInvalid, msg: "instance_id is missing"},
		{name: "unknown instance", code: broker.EGone, msg: "instance inst-1 does not exist"},
		{name: "deprovisioned instance", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustDeprovision(t, e, deprovisionRequest())
			finish(t, e, "inst-1", broker.StateSucceeded)
		}, code: broker.EGone},
		{name: "other service", setup: func(t *testing.T, e *env) { readyInstance(t, e) },
			mod: func(r *broker.DeprovisionRequest) { r.ServiceID = "svc-other" }, code: broker.EInvalid, msg: `service_id "svc-other" is not the instance's service`},
		{name: "made-up plan", setup: func(t *testing.T, e *env) { readyInstance(t, e) },
			mod: func(r *broker.DeprovisionRequest) { r.PlanID = "plan-made-up" }, code: broker.EInvalid, msg: `plan_id "plan-made-up" is not the plan of instance inst-1`},
		{name: "another plan of the service", setup: func(t *testing.T, e *env) { readyInstance(t, e) },
			mod: func(r *broker.DeprovisionRequest) { r.PlanID = planLarge }, code: broker.EInvalid, msg: `plan_id "plan-large" is not the plan of instance inst-1`},
		{name: "made-up plan while deprovisioning", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustDeprovision(t, e, deprovisionRequest())
		}, mod: func(r *broker.DeprovisionRequest) { r.PlanID = "plan-made-up" }, code: broker.EInvalid, msg: `plan_id "plan-made-up"`},
		{name: "unknown instance, made-up ids", mod: func(r *broker.DeprovisionRequest) { r.ServiceID, r.PlanID = "svc-x", "plan-x" },
			code: broker.EGone, msg: "instance inst-1 does not exist"},
		{name: "made-up plan during a plan change", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, planChange())
		}, mod: func(r *broker.DeprovisionRequest) { r.PlanID = "plan-made-up" }, code: broker.EInvalid, msg: `plan_id "plan-made-up"`},
		{name: "old plan during a plan change", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, planChange())
		}, code: broker.EConcurrency, msg: "update is in progress"},
		{name: "new plan during a plan change", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, planChange())
		}, mod: func(r *broker.DeprovisionRequest) { r.PlanID = planLarge }, code: broker.EConcurrency, msg: "update is in progress"},
		{name: "synchronous", setup: func(t *testing.T, e *env) { readyInstance(t, e) },
			mod: func(r *broker.DeprovisionRequest) { r.AcceptsIncomplete = false }, code: broker.EAsyncRequired},
		{name: "update in progress", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest())
		}, code: broker.EConcurrency, msg: "update is in progress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			m := e.mark()
			var mods []func(*broker.DeprovisionRequest)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			_, err := e.uc.Deprovision(context.Background(), deprovisionRequest(mods...))
			wantCode(t, err, tc.code)
			wantMessage(t, err, tc.msg)
			e.wantNoWrites(t, m)
		})
	}
}

// TestDeprovisionRepeat: a deprovision sent again while the first runs is answered
// 202 with the same operation, even without accepts_incomplete or service_id.
func TestDeprovisionRepeat(t *testing.T) {
	e := newEnv(t)
	readyInstance(t, e)
	first := mustDeprovision(t, e, deprovisionRequest())
	m := e.mark()
	again := mustDeprovision(t, e, deprovisionRequest(func(r *broker.DeprovisionRequest) {
		r.AcceptsIncomplete, r.ServiceID, r.PlanID = false, "", ""
	}))
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("repeat (-first +again)\n%s", diff)
	}
	e.wantNoWrites(t, m)
}

// TestDeprovisionAfterFailedProvision: an instance whose provision failed can be
// deprovisioned (the platform's orphan mitigation).
func TestDeprovisionAfterFailedProvision(t *testing.T) {
	e := newEnv(t)
	mustProvision(t, e, provisionRequest())
	finish(t, e, "inst-1", broker.StateFailed)
	res := mustDeprovision(t, e, deprovisionRequest())
	if !res.Async || res.Operation != "deprovision-id-2" {
		t.Errorf("result %+v, want 202 with a deprovision", res)
	}
}

// TestDeprovisionHaltsProvision: a deprovision received while the provision runs
// halts it. Both operations are written together, each naming the other; the halted
// provision is handed to the driver first, so that it sees it is halted.
func TestDeprovisionHaltsProvision(t *testing.T) {
	e := newEnv(t)
	mustProvision(t, e, provisionRequest())
	e.now = t0.Add(time.Minute)
	m := e.mark()
	res := mustDeprovision(t, e, deprovisionRequest())
	if res.Operation != "deprovision-id-2" {
		t.Fatalf("result %+v", res)
	}
	ops := e.commits()[m.commits].Operations
	if len(ops) != 2 {
		t.Fatalf("%d operations written, want the halted provision and the deprovision", len(ops))
	}
	prov, dep := ops[0], ops[1]
	if prov.ID != "provision-id-1" || prov.SupersededBy != "deprovision-id-2" || !prov.UpdatedAt.Equal(e.now) || prov.State != broker.StateInProgress {
		t.Errorf("provision: id %s, superseded by %q, updated %s, state %s", prov.ID, prov.SupersededBy, prov.UpdatedAt, prov.State)
	}
	if dep.Halts != "provision-id-1" {
		t.Errorf("deprovision halts %q, want the provision", dep.Halts)
	}
	var started []string
	for _, op := range e.started[m.started:] {
		started = append(started, op.ID)
	}
	if diff := cmp.Diff([]string{"provision-id-1", "deprovision-id-2"}, started); diff != "" {
		t.Errorf("started (-want +got)\n%s", diff)
	}
	if inst := e.instance(t, "inst-1"); inst.State != broker.InstanceDeprovisioning || inst.OperationID != "deprovision-id-2" {
		t.Errorf("instance %s with operation %s", inst.State, inst.OperationID)
	}
}

// TestDeprovisionProvisionJustEnded: when the instance still says provisioning but
// its provision has ended, there is nothing to halt.
func TestDeprovisionProvisionJustEnded(t *testing.T) {
	e := newEnv(t)
	mustProvision(t, e, provisionRequest())
	op := e.operation(t, "provision-id-1")
	op.State = broker.StateSucceeded
	e.put(op)
	m := e.mark()
	mustDeprovision(t, e, deprovisionRequest())
	ops := e.commits()[m.commits].Operations
	if len(ops) != 1 || ops[0].Halts != "" {
		t.Errorf("operations written: %+v, want the deprovision alone, halting nothing", ops)
	}
}

// TestDeprovisionConcurrentWriter: when another deprovision is recorded between the
// read and the write, this one is answered with the other's operation.
func TestDeprovisionConcurrentWriter(t *testing.T) {
	e := newEnv(t)
	readyInstance(t, e)
	calls := 0
	e.store.CommitFn = func(ctx context.Context, tx broker.Tx) error {
		calls++
		if calls == 1 {
			inst := e.instance(t, "inst-1")
			inst.State, inst.OperationID, inst.OperationType, inst.OperationState = broker.InstanceDeprovisioning, "deprovision-theirs", broker.OpDeprovision, broker.StateInProgress
			inst.Version++
			e.put(inst)
			return broker.ErrConflict
		}
		return e.mem.commit(ctx, tx)
	}
	m := e.mark()
	res := mustDeprovision(t, e, deprovisionRequest())
	if diff := cmp.Diff(broker.DeprovisionResult{Async: true, Operation: "deprovision-theirs"}, res); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if calls != 1 {
		t.Errorf("%d commits, want only the lost one", calls)
	}
	e.wantNoWrites(t, m)
}

// TestDeprovisionFaults: faults are returned matching their cause, with no domain
// code; a failed commit is not retried and starts nothing; four lost commits give up
// with the store's conflict.
func TestDeprovisionFaults(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name         string
		provisioning bool
		break_       func(*env)
		commit       error
		want         error
		commits      int
	}{
		{name: "instance read", break_: func(e *env) {
			e.store.GetInstanceFn = func(context.Context, string) (broker.Instance, error) { return broker.Instance{}, boom }
		}, want: boom},
		{name: "provision read", provisioning: true, break_: func(e *env) {
			e.store.GetOperationFn = func(context.Context, string) (broker.Operation, error) { return broker.Operation{}, boom }
		}, want: boom},
		{name: "commit", commit: boom, want: boom, commits: 1},
		{name: "conflicts exhausted", commit: broker.ErrConflict, want: broker.ErrConflict, commits: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			mustProvision(t, e, provisionRequest())
			if !tc.provisioning {
				finish(t, e, "inst-1", broker.StateSucceeded)
			}
			if tc.break_ != nil {
				tc.break_(e)
			}
			calls := 0
			e.store.CommitFn = func(context.Context, broker.Tx) error { calls++; return tc.commit }
			m := e.mark()
			_, err := e.uc.Deprovision(context.Background(), deprovisionRequest())
			wantFault(t, err, tc.want)
			if calls != tc.commits {
				t.Errorf("%d commits, want %d", calls, tc.commits)
			}
			e.wantNoWrites(t, m)
		})
	}
}
