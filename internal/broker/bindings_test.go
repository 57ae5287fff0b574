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

// bindRequest is a binding bind-1 of inst-1 for app app-1 with role reader; mods
// change it.
func bindRequest(mods ...func(*broker.BindRequest)) broker.BindRequest {
	req := broker.BindRequest{
		RequestInfo: broker.RequestInfo{RequestID: "req-4"},
		InstanceID:  "inst-1", BindingID: "bind-1", ServiceID: serviceID, PlanID: planSmall,
		AppGUID: "app-1", Context: json.RawMessage(`{"platform":"cloudfoundry"}`),
		Parameters: json.RawMessage(`{"role":"reader"}`),
	}
	for _, m := range mods {
		m(&req)
	}
	return req
}

// mustBind binds and fails the test on an error.
func mustBind(t *testing.T, e *env, req broker.BindRequest) broker.BindResult {
	t.Helper()
	res, err := e.uc.Bind(context.Background(), req)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return res
}

// deploymentValues answers the capabilities and outputs of osb-inst-1.
func deploymentValues(_ context.Context, dep string) (map[string]any, map[string]any, error) {
	if dep != "osb-inst-1" {
		return nil, nil, errors.New("unknown deployment " + dep)
	}
	return map[string]any{"host": "10.0.0.7", "port": 3306.0}, map[string]any{"password": "pw"}, nil
}

// TestBind: a new binding is answered 201 with the credentials mapped from the
// deployment (never stored); the binding and the instance are written together. The
// same binding again is a 200 with fresh credentials; another one with the same id a
// 409.
func TestBind(t *testing.T) {
	e := newEnv(t)
	e.creds.DeploymentValuesFn = deploymentValues
	inst := readyInstance(t, e)
	e.now = t0.Add(time.Minute)
	m := e.mark()
	res := mustBind(t, e, bindRequest())
	wantCreds := map[string]any{"host": "10.0.0.7", "password": "pw", "provider": "cloudify"}
	if diff := cmp.Diff(broker.BindResult{Credentials: wantCreds}, res); diff != "" {
		t.Errorf("result (-want +got)\n%s", diff)
	}
	commits := e.commits()[m.commits:]
	if len(commits) != 1 || len(commits[0].Bindings) != 1 || len(commits[0].Instances) != 1 {
		t.Fatalf("written %+v, want the binding with the instance", commits)
	}
	b := commits[0].Bindings[0]
	if diff := cmp.Diff(map[string]any{"role": "reader"}, opened(t, b.Parameters)); diff != "" {
		t.Errorf("parameters (-want +got)\n%s", diff)
	}
	if b.Fingerprint == "" {
		t.Error("no fingerprint")
	}
	b.Parameters, b.Fingerprint = nil, ""
	want := broker.Binding{InstanceID: "inst-1", ID: "bind-1", ServiceID: serviceID, PlanID: planSmall, AppGUID: "app-1",
		Context: json.RawMessage(`{"platform":"cloudfoundry"}`), CreatedAt: e.now}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("binding (-want +got)\n%s", diff)
	}
	if got := commits[0].Instances[0]; got.Version != inst.Version || !got.UpdatedAt.Equal(e.now) {
		t.Errorf("instance written at version %d, updated %s; want its version %d, now", got.Version, got.UpdatedAt, inst.Version)
	}
	if len(e.started) != m.started {
		t.Error("binding started an operation")
	}

	m = e.mark()
	again := mustBind(t, e, bindRequest(func(r *broker.BindRequest) {
		r.AppGUID, r.BindResource = "", map[string]any{"app_guid": "app-1"}
		r.Parameters = json.RawMessage(` {"role": "reader"} `)
	}))
	if diff := cmp.Diff(broker.BindResult{Existing: true, Credentials: wantCreds}, again); diff != "" {
		t.Errorf("identical repeat (-want +got)\n%s", diff)
	}
	e.wantNoWrites(t, m)

	_, err := e.uc.Bind(context.Background(), bindRequest(func(r *broker.BindRequest) { r.AppGUID = "app-2" }))
	wantCode(t, err, broker.EConflict)
	wantMessage(t, err, "binding bind-1 exists with other attributes")
	e.wantNoWrites(t, m)
}

// TestBindRefuses: every refused bind names its reason with the code the OSB surface
// maps, and writes nothing.
func TestBindRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *env)
		mod   func(*broker.BindRequest)
		code  broker.Code
		msg   string
	}{
		{name: "no binding_id", mod: func(r *broker.BindRequest) { r.BindingID = "" }, code: broker.EInvalid, msg: "binding_id is missing"},
		{name: "rotation", mod: func(r *broker.BindRequest) { r.PredecessorBindingID = "bind-0" }, code: broker.EUnprocessable, msg: "rotation"},
		{name: "unknown instance", setup: func(*testing.T, *env) {}, code: broker.ENotFound, msg: "instance inst-1 does not exist"},
		{name: "deprovisioned instance", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustDeprovision(t, e, deprovisionRequest())
			finish(t, e, "inst-1", broker.StateSucceeded)
		}, code: broker.ENotFound},
		{name: "other service", mod: func(r *broker.BindRequest) { r.ServiceID = "svc-other" }, code: broker.EInvalid, msg: `service_id "svc-other" is not the instance's service`},
		{name: "made-up plan", mod: func(r *broker.BindRequest) { r.PlanID = "plan-made-up" }, code: broker.EInvalid,
			msg: `plan_id "plan-made-up" is not the plan of instance inst-1`},
		{name: "another plan of the service", mod: func(r *broker.BindRequest) { r.PlanID = planLarge }, code: broker.EInvalid,
			msg: `plan_id "plan-large" is not the plan of instance inst-1`},
		{name: "made-up plan during a plan change", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, planChange())
		}, mod: func(r *broker.BindRequest) { r.PlanID = "plan-made-up" }, code: broker.EInvalid, msg: `plan_id "plan-made-up"`},
		{name: "new plan during a plan change", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, planChange())
		}, mod: func(r *broker.BindRequest) { r.PlanID = planLarge }, code: broker.EConcurrency, msg: "update is in progress"},
		{name: "provision in progress", setup: func(t *testing.T, e *env) { mustProvision(t, e, provisionRequest()) }, code: broker.EConcurrency},
		{name: "update in progress", setup: func(t *testing.T, e *env) {
			readyInstance(t, e)
			mustUpdate(t, e, updateRequest())
		}, code: broker.EConcurrency, msg: "update is in progress"},
		{name: "failed instance", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest())
			finish(t, e, "inst-1", broker.StateFailed)
		}, code: broker.EUnprocessable, msg: "is failed and cannot be bound"},
		{name: "plan left the catalog", setup: func(t *testing.T, e *env) {
			e.put(broker.Instance{ID: "inst-1", ServiceID: serviceID, PlanID: "plan-removed", State: broker.InstanceReady, Version: 1})
		}, mod: func(r *broker.BindRequest) { r.PlanID = "plan-removed" }, code: broker.EUnprocessable, msg: "no longer in the catalog"},
		{name: "plan not bindable", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) { r.PlanID, r.MaintenanceInfo, r.Parameters = planFixed, nil, nil }))
			finish(t, e, "inst-1", broker.StateSucceeded)
		}, mod: func(r *broker.BindRequest) { r.PlanID = planFixed }, code: broker.EUnprocessable, msg: `plan "fixed" of service "mysql" is not bindable`},
		{name: "parameters for a plan without a binding schema", setup: func(t *testing.T, e *env) {
			mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) { r.PlanID, r.MaintenanceInfo, r.Parameters = planLarge, nil, nil }))
			finish(t, e, "inst-1", broker.StateSucceeded)
		}, mod: func(r *broker.BindRequest) { r.PlanID = planLarge }, code: broker.EInvalid, msg: `plan "large" takes no binding parameters`},
		{name: "parameter against the binding schema", mod: func(r *broker.BindRequest) { r.Parameters = json.RawMessage(`{"role":"owner"}`) },
			code: broker.EInvalid, msg: `role: must be one of ["reader","writer"]`},
		{name: "parameters not an object", mod: func(r *broker.BindRequest) { r.Parameters = json.RawMessage(`true`) }, code: broker.EInvalid, msg: "parameters must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			setup := tc.setup
			if setup == nil {
				setup = func(t *testing.T, e *env) { readyInstance(t, e) }
			}
			setup(t, e)
			var mods []func(*broker.BindRequest)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			m := e.mark()
			_, err := e.uc.Bind(context.Background(), bindRequest(mods...))
			wantCode(t, err, tc.code)
			wantMessage(t, err, tc.msg)
			e.wantNoWrites(t, m)
		})
	}
}

// TestBindPlanWithoutSchema: a plan with no binding schema takes a bind without
// parameters, and the credentials default to every capability.
func TestBindPlanWithoutSchema(t *testing.T) {
	e := newEnv(t)
	e.creds.DeploymentValuesFn = deploymentValues
	mustProvision(t, e, provisionRequest(func(r *broker.ProvisionRequest) { r.PlanID, r.MaintenanceInfo, r.Parameters = planLarge, nil, nil }))
	finish(t, e, "inst-1", broker.StateSucceeded)
	res := mustBind(t, e, bindRequest(func(r *broker.BindRequest) { r.PlanID, r.Parameters = planLarge, nil }))
	if diff := cmp.Diff(map[string]any{"host": "10.0.0.7", "password": "pw", "provider": "cloudify"}, res.Credentials); diff != "" {
		t.Errorf("credentials (-want +got)\n%s", diff)
	}
}

// TestBindConcurrentWriter: when the write loses, the binding written meanwhile
// decides: the same binding is a 200, another a 409; when none was written (the
// instance changed) it is a 422 ConcurrencyError.
func TestBindConcurrentWriter(t *testing.T) {
	for _, tc := range []struct {
		name string
		// theirs is the binding written meanwhile (nil: none).
		theirs *broker.BindRequest
		want   broker.BindResult
		code   broker.Code
	}{
		{name: "same binding", theirs: ptr(bindRequest()), want: broker.BindResult{Existing: true, Credentials: map[string]any{"host": "10.0.0.7", "password": "pw", "provider": "cloudify"}}},
		{name: "other binding", theirs: ptr(bindRequest(func(r *broker.BindRequest) { r.AppGUID = "app-9" })), code: broker.EConflict},
		{name: "instance changed", code: broker.EConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.creds.DeploymentValuesFn = deploymentValues
			readyInstance(t, e)
			var theirs *broker.Binding
			if tc.theirs != nil {
				rival := newEnv(t)
				readyInstance(t, rival)
				mustBind(t, rival, *tc.theirs)
				b, err := rival.store.GetBinding(context.Background(), "inst-1", "bind-1")
				if err != nil {
					t.Fatal(err)
				}
				theirs = &b
			}
			calls := 0
			e.store.CommitFn = func(context.Context, broker.Tx) error {
				calls++
				if theirs != nil {
					e.put(*theirs)
				}
				return broker.ErrConflict
			}
			res, err := e.uc.Bind(context.Background(), bindRequest())
			// A lost write is retried with what was written meanwhile: an identical
			// or a different binding decides at once; a changed instance is retried
			// until the rounds run out.
			if want := map[bool]int{true: 1, false: 4}[theirs != nil]; calls != want {
				t.Errorf("%d commits, want %d", calls, want)
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

// TestBindCredentialFaults: a domain error from the credentials reader (the manager
// unavailable: 503) is returned as it is; another fault matching its cause with no
// domain code; nothing is written.
func TestBindCredentialFaults(t *testing.T) {
	unavailable := broker.Errorf(broker.EUnavailable, "the manager cannot be reached")
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		existing bool
		err      error
		code     broker.Code
	}{
		{"unavailable, new binding", false, unavailable, broker.EUnavailable},
		{"unavailable, existing binding", true, unavailable, broker.EUnavailable},
		{"fault", false, boom, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			readyInstance(t, e)
			if tc.existing {
				mustBind(t, e, bindRequest())
			}
			e.creds.DeploymentValuesFn = func(context.Context, string) (map[string]any, map[string]any, error) { return nil, nil, tc.err }
			m := e.mark()
			_, err := e.uc.Bind(context.Background(), bindRequest())
			if tc.code == "" {
				wantFault(t, err, tc.err)
			} else if err != tc.err {
				t.Errorf("error %v, want the reader's own %v", err, tc.err)
			}
			e.wantNoWrites(t, m)
		})
	}
}

// TestBindFaults: store and sealer faults are returned matching their cause, with no
// domain code.
func TestBindFaults(t *testing.T) {
	boom := errors.New("boom")
	for name, breakIt := range map[string]func(*env){
		"instance read": func(e *env) {
			e.store.GetInstanceFn = func(context.Context, string) (broker.Instance, error) { return broker.Instance{}, boom }
		},
		"binding read": func(e *env) {
			e.store.GetBindingFn = func(context.Context, string, string) (broker.Binding, error) { return broker.Binding{}, boom }
		},
		"sealing": func(e *env) { e.sealer.SealFn = func([]byte) ([]byte, error) { return nil, boom } },
		"commit":  func(e *env) { e.store.CommitFn = func(context.Context, broker.Tx) error { return boom } },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			readyInstance(t, e)
			breakIt(e)
			_, err := e.uc.Bind(context.Background(), bindRequest())
			wantFault(t, err, boom)
		})
	}
}

// TestFetchBinding: a binding is returned with credentials read afresh and its
// parameters; an unknown one is a 404.
func TestFetchBinding(t *testing.T) {
	e := newEnv(t)
	readyInstance(t, e)
	mustBind(t, e, bindRequest())
	e.creds.DeploymentValuesFn = deploymentValues
	fetch := func(id string) (broker.BindingDetails, error) {
		return e.uc.FetchBinding(context.Background(), broker.FetchBindingRequest{InstanceID: "inst-1", BindingID: id})
	}
	got, err := fetch("bind-1")
	if err != nil {
		t.Fatal(err)
	}
	want := broker.BindingDetails{Credentials: map[string]any{"host": "10.0.0.7", "password": "pw", "provider": "cloudify"}, Parameters: map[string]any{"role": "reader"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	_, err = fetch("bind-2")
	wantCode(t, err, broker.ENotFound)

	boom := errors.New("boom")
	for name, breakIt := range map[string]func(*env){
		"binding read": func(e *env) {
			e.store.GetBindingFn = func(context.Context, string, string) (broker.Binding, error) { return broker.Binding{}, boom }
		},
		"instance read": func(e *env) {
			e.store.GetInstanceFn = func(context.Context, string) (broker.Instance, error) { return broker.Instance{}, boom }
		},
		"credentials": func(e *env) {
			e.creds.DeploymentValuesFn = func(context.Context, string) (map[string]any, map[string]any, error) { return nil, nil, boom }
		},
		"unseal": func(e *env) { e.sealer.OpenFn = func([]byte) ([]byte, error) { return nil, boom } },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			readyInstance(t, e)
			mustBind(t, e, bindRequest())
			breakIt(e)
			_, err := e.uc.FetchBinding(context.Background(), broker.FetchBindingRequest{InstanceID: "inst-1", BindingID: "bind-1"})
			wantFault(t, err, boom)
		})
	}
}

// TestUnbind: a binding is deleted (200); an unknown one, or one deleted meanwhile, is
// a 410.
func TestUnbind(t *testing.T) {
	e := newEnv(t)
	readyInstance(t, e)
	mustBind(t, e, bindRequest())
	m := e.mark()
	unbind := func() error {
		_, err := e.uc.Unbind(context.Background(), broker.UnbindRequest{InstanceID: "inst-1", BindingID: "bind-1", ServiceID: serviceID, PlanID: planSmall})
		return err
	}
	if err := unbind(); err != nil {
		t.Fatal(err)
	}
	commits := e.commits()[m.commits:]
	if len(commits) != 1 || len(commits[0].DeleteBindings) != 1 || commits[0].DeleteBindings[0].ID != "bind-1" {
		t.Fatalf("written %+v, want the binding's deletion", commits)
	}
	wantCode(t, unbind(), broker.EGone)

	mustBind(t, e, bindRequest())
	e.store.CommitFn = func(context.Context, broker.Tx) error { return broker.ErrConflict }
	wantCode(t, unbind(), broker.EConcurrency)

	boom := errors.New("boom")
	e.store.CommitFn = func(context.Context, broker.Tx) error { return boom }
	wantFault(t, unbind(), boom)
	e.store.GetBindingFn = func(context.Context, string, string) (broker.Binding, error) { return broker.Binding{}, boom }
	wantFault(t, unbind(), boom)
}

// TestUnbindChecksIDs: an unbind that names another service or plan than the
// instance's is a 400 and the binding stays; during an update that changes the plan,
// the old and the new plan are both the instance's; an unknown binding is a 410
// whatever the ids.
func TestUnbindChecksIDs(t *testing.T) {
	unbind := func(e *env, mod func(*broker.UnbindRequest)) error {
		req := broker.UnbindRequest{InstanceID: "inst-1", BindingID: "bind-1", ServiceID: serviceID, PlanID: planSmall}
		if mod != nil {
			mod(&req)
		}
		_, err := e.uc.Unbind(context.Background(), req)
		return err
	}
	bound := func(t *testing.T) *env {
		e := newEnv(t)
		readyInstance(t, e)
		mustBind(t, e, bindRequest())
		return e
	}
	for _, tc := range []struct {
		name string
		mod  func(*broker.UnbindRequest)
		msg  string
	}{
		{"made-up plan", func(r *broker.UnbindRequest) { r.PlanID = "plan-made-up" }, `plan_id "plan-made-up" is not the plan of instance inst-1`},
		{"another plan of the service", func(r *broker.UnbindRequest) { r.PlanID = planLarge }, `plan_id "plan-large" is not the plan of instance inst-1`},
		{"other service", func(r *broker.UnbindRequest) { r.ServiceID = "svc-other" }, `service_id "svc-other" is not the instance's service`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := bound(t)
			m := e.mark()
			err := unbind(e, tc.mod)
			wantCode(t, err, broker.EInvalid)
			wantMessage(t, err, tc.msg)
			e.wantNoWrites(t, m)
			if _, err := e.store.GetBinding(context.Background(), "inst-1", "bind-1"); err != nil {
				t.Errorf("the binding is gone after a refused unbind: %v", err)
			}
		})
	}
	t.Run("unknown binding, made-up ids", func(t *testing.T) {
		e := bound(t)
		err := unbind(e, func(r *broker.UnbindRequest) { r.BindingID, r.ServiceID, r.PlanID = "bind-nope", "svc-x", "plan-x" })
		wantCode(t, err, broker.EGone)
	})
	for name, plan := range map[string]string{"old plan": planSmall, "new plan": planLarge} {
		t.Run(name+" during a plan change", func(t *testing.T) {
			e := bound(t)
			mustUpdate(t, e, planChange())
			if err := unbind(e, func(r *broker.UnbindRequest) { r.PlanID = plan }); err != nil {
				t.Fatalf("Unbind: %v", err)
			}
		})
	}
	t.Run("after the plan change", func(t *testing.T) {
		e := bound(t)
		mustUpdate(t, e, planChange())
		finish(t, e, "inst-1", broker.StateSucceeded)
		wantCode(t, unbind(e, nil), broker.EInvalid)
		if err := unbind(e, func(r *broker.UnbindRequest) { r.PlanID = planLarge }); err != nil {
			t.Fatalf("Unbind with the new plan: %v", err)
		}
	})
	boom := errors.New("boom")
	t.Run("instance read fault", func(t *testing.T) {
		e := bound(t)
		e.store.GetInstanceFn = func(context.Context, string) (broker.Instance, error) { return broker.Instance{}, boom }
		wantFault(t, unbind(e, nil), boom)
	})
	t.Run("update read fault", func(t *testing.T) {
		e := bound(t)
		mustUpdate(t, e, planChange())
		e.store.GetOperationFn = func(context.Context, string) (broker.Operation, error) { return broker.Operation{}, boom }
		wantFault(t, unbind(e, func(r *broker.UnbindRequest) { r.PlanID = planLarge }), boom)
	})
}

func ptr[T any](v T) *T { return &v }
