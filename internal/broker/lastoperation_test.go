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

// lastOpEnvs returns an env per way of reading an operation's status: a store
// without broker.StatusReader (GetOperation, GetInstance) and one with it (answered
// from the same state), so that both paths are held to the same rules.
func lastOpEnvs(t *testing.T) map[string]*env {
	t.Helper()
	plain := newEnv(t)
	var withStatus *env
	withStatus = newEnv(t, withStatusReader(func(_ context.Context, instanceID, operationID string) (broker.OperationStatus, error) {
		withStatus.mem.mu.Lock()
		defer withStatus.mem.mu.Unlock()
		if op, ok := withStatus.mem.operations[operationID]; ok && op.InstanceID == instanceID {
			return op.Status(), nil
		}
		inst, ok := withStatus.mem.instances[instanceID]
		if !ok {
			return broker.OperationStatus{}, broker.ErrNotFound
		}
		op, ok := withStatus.mem.operations[inst.OperationID]
		if !ok {
			return broker.OperationStatus{}, broker.ErrNotFound
		}
		return op.Status(), nil
	}))
	return map[string]*env{"GetOperation": plain, "StatusReader": withStatus}
}

// TestLastOperation: the state and description of the named operation (an earlier,
// finished one too), else of the instance's current one; 400 for a named operation
// the instance never had, 404 for an unknown instance whatever the name; Retry-After while in progress; instance_usable and
// update_repeatable on failed updates and deprovisions; 410 once a deprovision
// succeeded (and only then).
func TestLastOperation(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		// setup leaves inst-1 in the state to poll.
		setup     func(*testing.T, *env)
		operation string
		want      broker.LastOperation
		code      broker.Code
		msg       string
	}{
		{name: "provision in progress, next check in 30 s", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest())
			op := e.operation(t, "provision-id-1")
			op.NextCheck = t0.Add(30 * time.Second)
			e.put(op)
		}, operation: "provision-id-1", want: broker.LastOperation{State: broker.StateInProgress, Description: "creating deployment osb-inst-1", RetryAfter: 30 * time.Second}},
		{name: "Retry-After at least 2 s", setup: func(t *testing.T, e *env) { mustProvision(t, e, provisionRequest()) },
			want: broker.LastOperation{State: broker.StateInProgress, Description: "creating deployment osb-inst-1", RetryAfter: 2 * time.Second}},
		{name: "Retry-After at most 60 s", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest())
			op := e.operation(t, "provision-id-1")
			op.NextCheck = t0.Add(10 * time.Minute)
			e.put(op)
		}, want: broker.LastOperation{State: broker.StateInProgress, Description: "creating deployment osb-inst-1", RetryAfter: 60 * time.Second}},
		{name: "provision succeeded", setup: func(t *testing.T, e *env) { readyInstance(t, e) },
			operation: "provision-id-1", want: broker.LastOperation{State: broker.StateSucceeded, Description: "creating deployment osb-inst-1"}},
		{name: "provision failed: no flags", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest())
			finish(t, e, "inst-1", broker.StateFailed)
		}, want: broker.LastOperation{State: broker.StateFailed, Description: "creating deployment osb-inst-1"}},
		{name: "update failed: usable and repeatable", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest())
			finish(t, e, "inst-1", broker.StateFailed)
		}, want: broker.LastOperation{State: broker.StateFailed, Description: "updating deployment osb-inst-1", InstanceUsable: &yes, UpdateRepeatable: &yes}},
		{name: "deprovision failed: not usable", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustDeprovision(t, e, deprovisionRequest())
			finish(t, e, "inst-1", broker.StateFailed)
		}, want: broker.LastOperation{State: broker.StateFailed, Description: "deleting deployment osb-inst-1", InstanceUsable: &no}},
		{name: "deprovision succeeded: gone", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustDeprovision(t, e, deprovisionRequest())
			finish(t, e, "inst-1", broker.StateSucceeded)
		}, code: broker.EGone},
		{name: "halted provision: the deprovision is reported", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest())
			mustDeprovision(t, e, deprovisionRequest())
		}, want: broker.LastOperation{State: broker.StateInProgress, Description: "deleting deployment osb-inst-1", RetryAfter: 2 * time.Second}},
		{name: "named earlier operation", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest())
		}, operation: "provision-id-1", want: broker.LastOperation{State: broker.StateSucceeded, Description: "creating deployment osb-inst-1"}},
		{name: "named earlier operation, failed", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest())
			finish(t, e, "inst-1", broker.StateFailed)
			mustUpdate(t, e, updateRequest(func(r *broker.UpdateRequest) { r.Parameters = json.RawMessage(`{"node_count":2}`) }))
		}, operation: "update-id-2", want: broker.LastOperation{State: broker.StateFailed, Description: "updating deployment osb-inst-1", InstanceUsable: &yes, UpdateRepeatable: &yes}},
		{name: "named current operation", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest())
		}, operation: "update-id-2", want: broker.LastOperation{State: broker.StateInProgress, Description: "updating deployment osb-inst-1", RetryAfter: 2 * time.Second}},
		{name: "named operation of another instance", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) { r.InstanceID = "inst-2" }))
		}, operation: "provision-id-2", code: broker.EInvalid, msg: `operation "provision-id-2" is not an operation of instance inst-1`},
		{name: "unknown named operation", setup: func(t *testing.T, e *env) { readyInstance(t, e) },
			operation: "provision-nope", code: broker.EInvalid, msg: `operation "provision-nope" is not an operation of instance inst-1`},
		{name: "overlong operation name", setup: func(t *testing.T, e *env) { readyInstance(t, e) },
			operation: strings.Repeat("x", broker.MaxIDLength+33), code: broker.EInvalid, msg: "is not an operation of instance inst-1"},
		{name: "unknown operation of an unknown instance", operation: "provision-nope", code: broker.ENotFound},
		{name: "unknown instance", code: broker.ENotFound},
		{name: "instance without its operation", setup: func(t *testing.T, e *env) {
			e.put(broker.Instance{ID: "inst-1", State: broker.InstanceReady, OperationID: "lost", Version: 1})
		}, code: broker.ENotFound},
	} {
		for path, e := range lastOpEnvs(t) {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				if tc.setup != nil {
					tc.setup(t, e)
				}
				got, err := e.uc.LastOperation(context.Background(), broker.LastOperationRequest{InstanceID: "inst-1", Operation: tc.operation})
				if tc.code != "" {
					wantCode(t, err, tc.code)
					wantMessage(t, err, tc.msg)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("(-want +got)\n%s", diff)
				}
			})
		}
	}
}

// TestLastOperationOneRead: with a StatusReader store, a poll is one read of it and
// nothing else, whether it names the current operation, an earlier one, an unknown
// one, or none.
func TestLastOperationOneRead(t *testing.T) {
	for _, tc := range []struct {
		name, operation string
		code            broker.Code
	}{
		{name: "unnamed"},
		{name: "current", operation: "update-id-2"},
		{name: "earlier", operation: "provision-id-1"},
		{name: "unknown", operation: "update-nope", code: broker.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			envs := lastOpEnvs(t)
			e := envs["StatusReader"]
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest())
			reads := 0
			inner := e.statusFn
			e.uc = broker.New(&statusStore{
				fakeStore: &fakeStore{
					GetInstanceFn: func(context.Context, string) (broker.Instance, error) {
						t.Error("GetInstance on a poll")
						return broker.Instance{}, broker.ErrNotFound
					},
					GetOperationFn: func(context.Context, string) (broker.Operation, error) {
						t.Error("GetOperation on a poll")
						return broker.Operation{}, broker.ErrNotFound
					},
				},
				OperationStatusFn: func(ctx context.Context, instanceID, operationID string) (broker.OperationStatus, error) {
					reads++
					return inner(ctx, instanceID, operationID)
				},
			}, e.catalog, e.starter, e.creds, e.sealer, broker.Config{Now: func() time.Time { return e.now }})
			_, err := e.uc.LastOperation(context.Background(), broker.LastOperationRequest{InstanceID: "inst-1", Operation: tc.operation})
			if tc.code != "" {
				wantCode(t, err, tc.code)
			} else if err != nil {
				t.Fatal(err)
			}
			if reads != 1 {
				t.Errorf("%d status reads, want 1", reads)
			}
		})
	}
}

// TestLastOperationFaults: read faults are returned matching their cause, with no
// domain code.
func TestLastOperationFaults(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		operation string
		env       func(*testing.T) *env
	}{
		{"status read", "", func(t *testing.T) *env {
			return newEnv(t, withStatusReader(func(context.Context, string, string) (broker.OperationStatus, error) {
				return broker.OperationStatus{}, boom
			}))
		}},
		{"named operation read", "provision-id-1", func(t *testing.T) *env {
			e := newEnv(t)
			e.store.GetOperationFn = func(context.Context, string) (broker.Operation, error) { return broker.Operation{}, boom }
			return e
		}},
		{"instance read", "", func(t *testing.T) *env {
			e := newEnv(t)
			e.store.GetInstanceFn = func(context.Context, string) (broker.Instance, error) { return broker.Instance{}, boom }
			return e
		}},
		{"current operation read", "", func(t *testing.T) *env {
			e := newEnv(t)
			e.put(broker.Instance{ID: "inst-1", OperationID: "op-1", Version: 1})
			e.store.GetOperationFn = func(context.Context, string) (broker.Operation, error) { return broker.Operation{}, boom }
			return e
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.env(t)
			_, err := e.uc.LastOperation(context.Background(), broker.LastOperationRequest{InstanceID: "inst-1", Operation: tc.operation})
			wantFault(t, err, boom)
		})
	}
}

// TestSharedBindingLastOperation: bindings with shared credentials are made synchronously, so one that exists has
// succeeded; an unknown one is a 404.
func TestSharedBindingLastOperation(t *testing.T) {
	e := newEnv(t)
	readyInstance(t, e)
	mustBind(t, e, bindRequest())
	got, err := e.uc.LastOperation(context.Background(), broker.LastOperationRequest{InstanceID: "inst-1", BindingID: "bind-1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(broker.LastOperation{State: broker.StateSucceeded, Description: "bound"}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	_, err = e.uc.LastOperation(context.Background(), broker.LastOperationRequest{InstanceID: "inst-1", BindingID: "bind-2"})
	wantCode(t, err, broker.ENotFound)

	boom := errors.New("boom")
	e.store.GetBindingFn = func(context.Context, string, string) (broker.Binding, error) { return broker.Binding{}, boom }
	if _, err := e.uc.LastOperation(context.Background(), broker.LastOperationRequest{InstanceID: "inst-1", BindingID: "bind-1"}); !errors.Is(err, boom) {
		t.Errorf("error %v, want the read fault", err)
	}
}

// TestFetchInstance: a provisioned instance is returned with its plan, dashboard,
// maintenance_info and parameters, less those whose names suggest secrets; an
// instance being provisioned or gone is a 404, one being updated a 422
// ConcurrencyError.
func TestFetchInstance(t *testing.T) {
	fetch := func(e *env) (broker.InstanceDetails, error) {
		return e.uc.FetchInstance(context.Background(), broker.FetchInstanceRequest{InstanceID: "inst-1"})
	}
	t.Run("ready", func(t *testing.T) {
		e := newEnv(t)
		inst := readyInstance(t, e)
		inst.Parameters = []byte(sealPrefix + `{"name":"abc","db_password":"pw","API_Token":"t","node_count":3}`)
		e.put(inst)
		got, err := fetch(e)
		if err != nil {
			t.Fatal(err)
		}
		want := broker.InstanceDetails{
			ServiceID: serviceID, PlanID: planSmall, DashboardURL: "https://cfy.example/deployments/osb-inst-1",
			Parameters:      map[string]any{"name": "abc", "node_count": 3.0},
			MaintenanceInfo: &broker.MaintenanceInfo{Version: "1.2.0"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
	})
	t.Run("ready, no parameters or maintenance_info", func(t *testing.T) {
		e := newEnv(t)
		mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) { r.PlanID, r.MaintenanceInfo, r.Parameters = planFixed, nil, nil }))
		finish(t, e, "inst-1", broker.StateSucceeded)
		got, err := fetch(e)
		if err != nil {
			t.Fatal(err)
		}
		if got.Parameters != nil || got.MaintenanceInfo != nil || got.PlanID != planFixed {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("update in progress", func(t *testing.T) {
		e := newEnv(t)
		readyInstance(t, e)
		mustUpdate(t, e, updateRequest())
		_, err := fetch(e)
		wantCode(t, err, broker.EConcurrency)
	})
	for name, setup := range map[string]func(*testing.T, *env){
		"unknown":      func(*testing.T, *env) {},
		"provisioning": func(t *testing.T, e *env) { mustProvision(t, e, provisionRequest()) },
		"deprovisioned": func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustDeprovision(t, e, deprovisionRequest())
			finish(t, e, "inst-1", broker.StateSucceeded)
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			setup(t, e)
			_, err := fetch(e)
			wantCode(t, err, broker.ENotFound)
		})
	}
	boom := errors.New("boom")
	for name, setup := range map[string]func(*env){
		"read": func(e *env) {
			e.store.GetInstanceFn = func(context.Context, string) (broker.Instance, error) { return broker.Instance{}, boom }
		},
		"unseal": func(e *env) { e.sealer.OpenFn = func([]byte) ([]byte, error) { return nil, boom } },
	} {
		t.Run(name+" fault", func(t *testing.T) {
			e := newEnv(t)
			readyInstance(t, e)
			setup(e)
			_, err := fetch(e)
			wantFault(t, err, boom)
		})
	}
	t.Run("parameters not an object", func(t *testing.T) {
		e := newEnv(t)
		inst := readyInstance(t, e)
		inst.Parameters = []byte(sealPrefix + `[1]`)
		e.put(inst)
		var syntax *json.UnmarshalTypeError
		_, err := fetch(e)
		if !errors.As(err, &syntax) {
			t.Fatalf("error %v, want the decoding fault", err)
		}
		wantFault(t, err, err)
	})
}
