package broker_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/google/go-cmp/cmp"
)

// updateRequest is an asynchronous parameter update of inst-1 (node_count 4, plan
// kept); mods change it.
func updateRequest(mods ...func(*broker.UpdateRequest)) broker.UpdateRequest {
	req := broker.UpdateRequest{
		RequestInfo: broker.RequestInfo{RequestID: "req-3"},
		InstanceID:  "inst-1", ServiceID: serviceID,
		Parameters:        json.RawMessage(`{"node_count":4}`),
		AcceptsIncomplete: true,
	}
	for _, m := range mods {
		m(&req)
	}
	return req
}

// planChange is an update of inst-1 from the small plan to the large one, with no
// parameters.
func planChange() broker.UpdateRequest {
	return updateRequest(func(r *broker.UpdateRequest) { r.PlanID, r.Parameters = planLarge, nil })
}

// mustUpdate updates and fails the test on an error.
func mustUpdate(t *testing.T, e *env, req broker.UpdateRequest) broker.UpdateResult {
	t.Helper()
	res, err := e.uc.Update(context.Background(), req)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return res
}

// TestUpdateRecords: an update that changes something on Cloudify is answered 202;
// the operation carries what the deployment update needs and the instance points to
// it, in one transaction, and the driver gets it.
func TestUpdateRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		// inst changes the ready instance before the update.
		inst func(*broker.Instance)
		mod  func(*broker.UpdateRequest)
		// want is the operation written, without Inputs and Parameters.
		want        broker.Operation
		inputs      map[string]any
		params      map[string]any
		wantContext string
	}{
		{
			name:   "parameters: the plan's inputs are not sent again",
			mod:    func(*broker.UpdateRequest) {},
			want:   broker.Operation{PlanID: planSmall, PreviousPlanID: planSmall, MaintenanceVersion: "1.2.0", Deadline: t0.Add(2 * time.Hour)},
			inputs: map[string]any{"node_count": 4.0}, params: map[string]any{"node_count": 4.0},
			wantContext: `{"platform":"cloudfoundry"}`,
		},
		{
			name: "plan change: the target's blueprint, inputs, maintenance version and deadline",
			mod: func(r *broker.UpdateRequest) {
				r.PlanID = planLarge
				r.Context = json.RawMessage(`{"platform":"cloudfoundry","instance_name":"db2"}`)
			},
			want:   broker.Operation{PlanID: planLarge, PreviousPlanID: planSmall, BlueprintID: "bp-mysql-ha", MaintenanceVersion: "1.3.0", Deadline: t0.Add(10 * time.Minute)},
			inputs: map[string]any{"node_count": 4.0, "size": "large"}, params: map[string]any{"node_count": 4.0},
			wantContext: `{"platform":"cloudfoundry","instance_name":"db2"}`,
		},
		{
			name:        "plan change without parameters",
			mod:         func(r *broker.UpdateRequest) { r.PlanID, r.Parameters = planLarge, nil },
			want:        broker.Operation{PlanID: planLarge, PreviousPlanID: planSmall, BlueprintID: "bp-mysql-ha", MaintenanceVersion: "1.3.0", Deadline: t0.Add(10 * time.Minute)},
			inputs:      map[string]any{"size": "large"},
			wantContext: `{"platform":"cloudfoundry"}`,
		},
		{
			name: "maintenance_info upgrade alone",
			inst: func(i *broker.Instance) { i.MaintenanceVersion = "1.1.0" },
			mod: func(r *broker.UpdateRequest) {
				r.Parameters = nil
				r.MaintenanceInfo = &broker.MaintenanceInfo{Version: "1.2.0"}
			},
			want:        broker.Operation{PlanID: planSmall, PreviousPlanID: planSmall, MaintenanceVersion: "1.2.0", Deadline: t0.Add(2 * time.Hour)},
			wantContext: `{"platform":"cloudfoundry"}`,
		},
		{
			name:        "a blueprint the plan moved to",
			inst:        func(i *broker.Instance) { i.BlueprintID = "bp-mysql-old" },
			mod:         func(r *broker.UpdateRequest) { r.Parameters = json.RawMessage(`{}`) },
			want:        broker.Operation{PlanID: planSmall, PreviousPlanID: planSmall, BlueprintID: "bp-mysql", MaintenanceVersion: "1.2.0", Deadline: t0.Add(2 * time.Hour)},
			wantContext: `{"platform":"cloudfoundry"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			inst := readyInstance(t, e)
			if tc.inst != nil {
				tc.inst(&inst)
				e.put(inst)
			}
			m := e.mark()
			res := mustUpdate(t, e, updateRequest(tc.mod))
			if diff := cmp.Diff(broker.UpdateResult{Async: true, Operation: "update-id-2"}, res); diff != "" {
				t.Errorf("result (-want +got)\n%s", diff)
			}
			commits := e.commits()[m.commits:]
			if len(commits) != 1 || len(commits[0].Instances) != 1 || len(commits[0].Operations) != 1 {
				t.Fatalf("commits = %+v, want one with the instance and the operation", commits)
			}
			op := commits[0].Operations[0]
			if diff := cmp.Diff(tc.inputs, opened(t, op.Inputs)); diff != "" {
				t.Errorf("inputs (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.params, opened(t, op.Parameters)); diff != "" {
				t.Errorf("parameters (-want +got)\n%s", diff)
			}
			if op.Fingerprint == "" {
				t.Error("the operation has no fingerprint")
			}
			want := tc.want
			want.ID, want.Type, want.InstanceID, want.State = "update-id-2", broker.OpUpdate, "inst-1", broker.StateInProgress
			want.Description, want.DeploymentID, want.ServiceID = "updating deployment osb-inst-1", "osb-inst-1", serviceID
			want.NextCheck, want.RequestID, want.CreatedAt, want.UpdatedAt = t0, "req-3", t0, t0
			op.Inputs, op.Parameters, op.Fingerprint = nil, nil, ""
			if diff := cmp.Diff(want, op); diff != "" {
				t.Errorf("operation (-want +got)\n%s", diff)
			}
			wantInst := inst
			wantInst.OperationID, wantInst.OperationType, wantInst.OperationState = "update-id-2", broker.OpUpdate, broker.StateInProgress
			wantInst.Context = json.RawMessage(tc.wantContext)
			if diff := cmp.Diff(wantInst, commits[0].Instances[0]); diff != "" {
				t.Errorf("instance (-want +got)\n%s", diff)
			}
			if got := e.started[m.started:]; len(got) != 1 || got[0].ID != "update-id-2" {
				t.Errorf("started %+v, want the update", got)
			}
		})
	}
}

// TestUpdateWithoutChange: an update that changes nothing on Cloudify is answered 200
// at once, with or without accepts_incomplete; a new context is recorded on the
// instance alone; no operation is made.
func TestUpdateWithoutChange(t *testing.T) {
	newContext := json.RawMessage(`{"platform":"cloudfoundry","instance_name":"renamed"}`)
	for _, tc := range []struct {
		name string
		mod  func(*broker.UpdateRequest)
		// wantContext, when set, is the context written; else nothing is written.
		wantContext json.RawMessage
	}{
		{name: "empty", mod: func(r *broker.UpdateRequest) { r.Parameters = nil }},
		{name: "empty parameters object", mod: func(r *broker.UpdateRequest) { r.Parameters = json.RawMessage(`{}`) }},
		{name: "the instance's plan and maintenance_info", mod: func(r *broker.UpdateRequest) {
			r.Parameters, r.PlanID, r.MaintenanceInfo = nil, planSmall, &broker.MaintenanceInfo{Version: "1.2.0"}
		}},
		{name: "the same context", mod: func(r *broker.UpdateRequest) {
			r.Parameters, r.Context = nil, json.RawMessage(`{"platform":"cloudfoundry"}`)
		}},
		{name: "a new context, synchronously", mod: func(r *broker.UpdateRequest) {
			r.Parameters, r.Context, r.AcceptsIncomplete = nil, newContext, false
		}, wantContext: newContext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.now = t0.Add(time.Hour)
			inst := readyInstance(t, e)
			m := e.mark()
			res := mustUpdate(t, e, updateRequest(tc.mod))
			if diff := cmp.Diff(broker.UpdateResult{}, res); diff != "" {
				t.Errorf("result (-want +got)\n%s", diff)
			}
			if len(e.started) != m.started {
				t.Error("an operation was started")
			}
			commits := e.commits()[m.commits:]
			if tc.wantContext == nil {
				if len(commits) != 0 {
					t.Errorf("written %+v, want nothing", commits)
				}
				return
			}
			want := inst
			want.Context, want.UpdatedAt = tc.wantContext, e.now
			if len(commits) != 1 || len(commits[0].Operations) != 0 || len(commits[0].Instances) != 1 {
				t.Fatalf("written %+v, want the instance alone", commits)
			}
			if diff := cmp.Diff(want, commits[0].Instances[0]); diff != "" {
				t.Errorf("instance (-want +got)\n%s", diff)
			}
		})
	}
}

// TestUpdateRefuses: every refused update names its reason with the code the OSB
// surface maps, and leaves broker state unchanged.
func TestUpdateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *env)
		mod   func(*broker.UpdateRequest)
		code  broker.Code
		msg   string
	}{
		{name: "no instance_id", mod: func(r *broker.UpdateRequest) { r.InstanceID = "" }, code: broker.EInvalid, msg: "instance_id is missing"},
		{name: "no service_id", mod: func(r *broker.UpdateRequest) { r.ServiceID = "" }, code: broker.EInvalid, msg: "service_id is missing"},
		{name: "plan_id with a space", mod: func(r *broker.UpdateRequest) { r.PlanID = "a b" }, code: broker.EInvalid, msg: "plan_id contains"},
		{name: "unknown instance", mod: func(*broker.UpdateRequest) {}, code: broker.ENotFound, msg: "instance inst-1 does not exist"},
		{name: "deprovisioned instance", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustDeprovision(t, e, deprovisionRequest())
			finish(t, e, "inst-1", broker.StateSucceeded)
		}, code: broker.ENotFound},
		{name: "other service", mod: func(r *broker.UpdateRequest) { r.ServiceID = "svc-other" }, code: broker.EInvalid, msg: `service_id "svc-other" is not the instance's service`},
		{name: "synchronous", mod: func(r *broker.UpdateRequest) { r.AcceptsIncomplete = false }, code: broker.EAsyncRequired},
		{name: "plan not updateable (service default)", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) { r.PlanID, r.MaintenanceInfo, r.Parameters = planLarge, nil, nil }))
			finish(t, e, "inst-1", broker.StateSucceeded)
		}, mod: func(r *broker.UpdateRequest) { r.PlanID = planSmall }, code: broker.EUnprocessable, msg: `plan "large" cannot be changed`},
		{name: "plan not updateable (plan says so)", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) { r.PlanID, r.MaintenanceInfo, r.Parameters = planFixed, nil, nil }))
			finish(t, e, "inst-1", broker.StateSucceeded)
		}, mod: func(r *broker.UpdateRequest) { r.PlanID = planSmall }, code: broker.EUnprocessable, msg: `plan "fixed" cannot be changed`},
		{name: "unknown target plan", mod: func(r *broker.UpdateRequest) { r.PlanID = "plan-x" }, code: broker.EInvalid, msg: `plan_id "plan-x" is not a plan of service "mysql"`},
		{name: "instance's plan left the catalog", setup: func(t *testing.T, e *env) {
			e.put(broker.Instance{ID: "inst-1", ServiceID: serviceID, PlanID: "plan-removed", State: broker.InstanceReady, Version: 1})
		}, code: broker.EUnprocessable, msg: `plan "plan-removed" is no longer in the catalog`},
		{name: "old maintenance_info", mod: func(r *broker.UpdateRequest) { r.MaintenanceInfo = &broker.MaintenanceInfo{Version: "1.0.0"} },
			code: broker.EMaintenanceInfoConflict, msg: `"1.0.0"`},
		{name: "maintenance_info of the old plan on a plan change", mod: func(r *broker.UpdateRequest) {
			r.PlanID, r.MaintenanceInfo = planLarge, &broker.MaintenanceInfo{Version: "1.2.0"}
		}, code: broker.EMaintenanceInfoConflict, msg: `"1.3.0"`},
		{name: "parameters not an object", mod: func(r *broker.UpdateRequest) { r.Parameters = json.RawMessage(`"x"`) }, code: broker.EInvalid, msg: "parameters must be a JSON object"},
		{name: "parameter against the update schema", mod: func(r *broker.UpdateRequest) { r.Parameters = json.RawMessage(`{"node_count":7}`) },
			code: broker.EInvalid, msg: "node_count: must be at most 5"},
		{name: "create-only parameter", mod: func(r *broker.UpdateRequest) { r.Parameters = json.RawMessage(`{"name":"abc"}`) },
			code: broker.EInvalid, msg: "unknown parameter name"},
		{name: "provision in progress", setup: func(t *testing.T, e *env) { mustProvision(t, e, provisionRequest()) },
			code: broker.EConcurrency, msg: "provision is in progress"},
		{name: "deprovision in progress", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustDeprovision(t, e, deprovisionRequest())
		}, code: broker.EConcurrency, msg: "deprovision is in progress"},
		{name: "another update in progress", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest(func(r *broker.UpdateRequest) { r.Parameters = json.RawMessage(`{"node_count":2}`) }))
		}, code: broker.EConcurrency, msg: "update is in progress"},
		{name: "the same update, ended but not yet on the instance", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest())
			op := e.operation(t, "update-id-2")
			op.State = broker.StateSucceeded
			e.put(op)
		}, code: broker.EConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			setup := tc.setup
			if setup == nil && tc.code != broker.ENotFound {
				setup = func(t *testing.T, e *env) { readyInstance(t, e) }
			}
			if setup != nil {
				setup(t, e)
			}
			var mods []func(*broker.UpdateRequest)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			m := e.mark()
			_, err := e.uc.Update(context.Background(), updateRequest(mods...))
			wantCode(t, err, tc.code)
			wantMessage(t, err, tc.msg)
			e.wantNoWrites(t, m)
		})
	}
}

// TestUpdateFailedInstance: an instance whose provision failed cannot be updated; the
// error says it is not usable and the update not repeatable.
func TestUpdateFailedInstance(t *testing.T) {
	e := newEnv(t)
	mustProvision(t, e, provisionRequest())
	finish(t, e, "inst-1", broker.StateFailed)
	_, err := e.uc.Update(context.Background(), updateRequest())
	wantCode(t, err, broker.EUnprocessable)
	var be *broker.Error
	if !errors.As(err, &be) || be.InstanceUsable == nil || *be.InstanceUsable || be.UpdateRepeatable == nil || *be.UpdateRepeatable {
		t.Errorf("error %#v, want instance_usable and update_repeatable false", be)
	}
}

// TestUpdateRepeat: the same update sent again while it runs is answered 202 with the
// same operation and writes nothing.
func TestUpdateRepeat(t *testing.T) {
	e := newEnv(t)
	readyInstance(t, e)
	first := mustUpdate(t, e, updateRequest())
	m := e.mark()
	again := mustUpdate(t, e, updateRequest(func(r *broker.UpdateRequest) { r.Parameters = json.RawMessage(` { "node_count" : 4 } `) }))
	if diff := cmp.Diff(first, again); diff != "" || !again.Async {
		t.Errorf("repeat (-first +again)\n%s", diff)
	}
	e.wantNoWrites(t, m)
}

// TestUpdateConcurrentWriter: when another request records the same update between
// the read and the write, this one is answered with the other's operation; a lost
// context-only write is done again on the fresh instance.
func TestUpdateConcurrentWriter(t *testing.T) {
	t.Run("same update", func(t *testing.T) {
		e := newEnv(t)
		readyInstance(t, e)
		calls := 0
		e.store.CommitFn = func(ctx context.Context, tx broker.Tx) error {
			calls++
			if calls == 1 {
				inst, op := *tx.Instances[0], *tx.Operations[0]
				op.ID, inst.OperationID = "update-theirs", "update-theirs"
				if err := e.mem.commit(ctx, broker.Tx{Instances: []*broker.Instance{&inst}, Operations: []*broker.Operation{&op}}); err != nil {
					t.Fatal(err)
				}
				return broker.ErrConflict
			}
			return e.mem.commit(ctx, tx)
		}
		res := mustUpdate(t, e, updateRequest())
		if diff := cmp.Diff(broker.UpdateResult{Async: true, Operation: "update-theirs"}, res); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
		if calls != 1 || len(e.started) != 1 {
			t.Errorf("%d commits, %d starts; want the lost commit and the provision's start only", calls, len(e.started))
		}
	})
	t.Run("context", func(t *testing.T) {
		e := newEnv(t)
		readyInstance(t, e)
		var versions []int64
		e.store.CommitFn = func(ctx context.Context, tx broker.Tx) error {
			versions = append(versions, tx.Instances[0].Version)
			if len(versions) == 1 {
				inst := e.instance(t, "inst-1")
				inst.Version++
				e.put(inst)
			}
			return e.mem.commit(ctx, tx)
		}
		ctxJSON := json.RawMessage(`{"platform":"kubernetes"}`)
		mustUpdate(t, e, updateRequest(func(r *broker.UpdateRequest) { r.Parameters, r.Context = nil, ctxJSON }))
		if diff := cmp.Diff([]int64{2, 3}, versions); diff != "" {
			t.Errorf("versions written (-want +got)\n%s", diff)
		}
		if got := e.instance(t, "inst-1").Context; string(got) != string(ctxJSON) {
			t.Errorf("context %s, want %s", got, ctxJSON)
		}
	})
}

// TestUpdateFaults: faults are returned matching their cause, with no domain code; a
// failed commit is not retried; four lost commits give up with the store's conflict.
func TestUpdateFaults(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		mod     func(*broker.UpdateRequest)
		break_  func(*env)
		commit  error
		want    error
		commits int
	}{
		{name: "instance read", break_: func(e *env) {
			e.store.GetInstanceFn = func(context.Context, string) (broker.Instance, error) { return broker.Instance{}, boom }
		}, want: boom},
		{name: "sealing", break_: func(e *env) { e.sealer.SealFn = func([]byte) ([]byte, error) { return nil, boom } }, want: boom},
		{name: "commit", commit: boom, want: boom, commits: 1},
		{name: "context commit", mod: func(r *broker.UpdateRequest) { r.Parameters, r.Context = nil, json.RawMessage(`{"a":1}`) },
			commit: boom, want: boom, commits: 1},
		{name: "conflicts exhausted", commit: broker.ErrConflict, want: broker.ErrConflict, commits: 4},
		{name: "context conflicts exhausted", mod: func(r *broker.UpdateRequest) { r.Parameters, r.Context = nil, json.RawMessage(`{"a":1}`) },
			commit: broker.ErrConflict, want: broker.ErrConflict, commits: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			readyInstance(t, e)
			if tc.break_ != nil {
				tc.break_(e)
			}
			calls := 0
			e.store.CommitFn = func(context.Context, broker.Tx) error { calls++; return tc.commit }
			var mods []func(*broker.UpdateRequest)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			m := e.mark()
			_, err := e.uc.Update(context.Background(), updateRequest(mods...))
			wantFault(t, err, tc.want)
			if calls != tc.commits {
				t.Errorf("%d commits, want %d", calls, tc.commits)
			}
			e.wantNoWrites(t, m)
		})
	}
}
