package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// perBinding makes the small plan's bindings get their own credentials from the
// osb_bind and osb_unbind workflows, rotatable when rotation is set.
func perBinding(e *env, rotation *broker.BindingRotation) {
	e.catalog.GetCatalogFn = func(context.Context) (broker.Catalog, error) {
		c := testCatalog()
		p := &c.Services[0].Plans[0]
		p.BindWorkflows = &broker.BindWorkflows{Bind: "osb_bind", Unbind: "osb_unbind"}
		p.BindingRotation = rotation
		c.Services[0].CredentialsType = "mysql"
		return c, nil
	}
}

func asyncBindRequest(mods ...func(*broker.BindRequest)) broker.BindRequest {
	return bindRequest(append([]func(*broker.BindRequest){func(r *broker.BindRequest) { r.AcceptsIncomplete = true }}, mods...)...)
}

// TestAsyncBind: a binding with its own credentials needs accepts_incomplete; it is
// recorded with an operation that runs osb_bind with the broker's parameters and the
// user's; a repeat answers the same operation, a different request a 409; it cannot
// be fetched while it binds.
func TestAsyncBind(t *testing.T) {
	e := newEnv(t)
	perBinding(e, nil)
	readyInstance(t, e)
	m := e.mark()
	_, err := e.uc.Bind(context.Background(), bindRequest())
	wantCode(t, err, broker.EAsyncRequired)
	e.wantNoWrites(t, m)

	res := mustBind(t, e, asyncBindRequest())
	if !res.Async || res.Operation == "" || res.Credentials != nil {
		t.Fatalf("bind = %+v, want 202 with an operation", res)
	}
	if len(e.started) != 2 {
		t.Fatalf("started %d operations, want the provision and the bind", len(e.started))
	}
	op := e.started[1]
	key := broker.BindingSecretKey("osb-inst-1", "bind-1")
	if op.ID != res.Operation || op.Type != broker.OpBind || op.BindingID != "bind-1" || op.Workflow != "osb_bind" || op.SecretKey != key {
		t.Fatalf("bind operation = %+v", op)
	}
	wantParams := map[string]any{"binding_id": "bind-1", "secret_key": key, "app_guid": "app-1", "role": "reader"}
	if diff := cmp.Diff(wantParams, opened(t, op.Inputs)); diff != "" {
		t.Errorf("workflow parameters (-want +got)\n%s", diff)
	}
	b, err := e.store.GetBinding(context.Background(), "inst-1", "bind-1")
	if err != nil || b.State != broker.BindingBinding || b.OperationID != op.ID || b.SecretKey != key {
		t.Fatalf("binding = %+v, %v", b, err)
	}

	m = e.mark()
	again := mustBind(t, e, asyncBindRequest())
	if !again.Async || again.Operation != res.Operation {
		t.Fatalf("repeat = %+v, want the same operation %s", again, res.Operation)
	}
	e.wantNoWrites(t, m)
	_, err = e.uc.Bind(context.Background(), asyncBindRequest(func(r *broker.BindRequest) { r.AppGUID = "app-2" }))
	wantCode(t, err, broker.EConflict)
	_, err = e.uc.FetchBinding(context.Background(), broker.FetchBindingRequest{InstanceID: "inst-1", BindingID: "bind-1"})
	wantCode(t, err, broker.ENotFound)
}

// bound marks the binding's bind operation succeeded, as the engine does.
func bound(t *testing.T, e *env, bindingID string) {
	t.Helper()
	b, err := e.store.GetBinding(context.Background(), "inst-1", bindingID)
	if err != nil {
		t.Fatal(err)
	}
	op := e.operation(t, b.OperationID)
	op.State, op.Description = broker.StateSucceeded, "bound"
	op.Version++
	b.State, b.OperationState = broker.BindingReady, broker.StateSucceeded
	b.Version++
	e.put(op, b)
}

// TestAsyncBindCredentials: once bound, the binding's credentials are its secret's,
// with the service's type and the provider, read afresh at every fetch and repeat; a
// secret gone from the manager is said so.
func TestAsyncBindCredentials(t *testing.T) {
	e := newEnv(t)
	perBinding(e, nil)
	readyInstance(t, e)
	mustBind(t, e, asyncBindRequest())
	bound(t, e, "bind-1")
	reads := 0
	e.creds.BindingSecretFn = func(_ context.Context, key string) (map[string]any, error) {
		reads++
		if key != broker.BindingSecretKey("osb-inst-1", "bind-1") {
			t.Errorf("read secret %s", key)
		}
		return map[string]any{"username": "u-bind-1", "password": "p"}, nil
	}
	want := map[string]any{"username": "u-bind-1", "password": "p", "type": "mysql", "provider": "cloudify"}
	d, err := e.uc.FetchBinding(context.Background(), broker.FetchBindingRequest{InstanceID: "inst-1", BindingID: "bind-1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, d.Credentials); diff != "" {
		t.Errorf("fetched credentials (-want +got)\n%s", diff)
	}
	res := mustBind(t, e, asyncBindRequest())
	if res.Async || !res.Existing || cmp.Diff(want, res.Credentials) != "" {
		t.Errorf("repeat after the bind = %+v, want 200 with the credentials", res)
	}
	if reads != 2 {
		t.Errorf("%d secret reads, want one per answer", reads)
	}
	e.creds.BindingSecretFn = nil
	_, err = e.uc.FetchBinding(context.Background(), broker.FetchBindingRequest{InstanceID: "inst-1", BindingID: "bind-1"})
	wantCode(t, err, broker.EUnprocessable)
	wantMessage(t, err, "no longer on the Cloudify manager")
}

// TestBindingLastOperation: the named operation of the binding answers, even once
// the binding is gone; a finished unbind is a 410; an operation of another binding
// is a 400; an instance's last_operation does not answer a binding's operation.
func TestBindingLastOperation(t *testing.T) {
	e := newEnv(t)
	perBinding(e, nil)
	readyInstance(t, e)
	res := mustBind(t, e, asyncBindRequest())
	poll := func(binding, op string) (broker.LastOperation, error) {
		return e.uc.LastOperation(context.Background(), broker.LastOperationRequest{InstanceID: "inst-1", BindingID: binding, Operation: op})
	}
	lo, err := poll("bind-1", res.Operation)
	if err != nil || lo.State != broker.StateInProgress || lo.RetryAfter <= 0 {
		t.Fatalf("poll of the bind = %+v, %v", lo, err)
	}
	if lo, err := poll("bind-1", ""); err != nil || lo.State != broker.StateInProgress {
		t.Fatalf("poll without operation = %+v, %v", lo, err)
	}
	_, err = poll("bind-1", "bind-id-999")
	wantCode(t, err, broker.EInvalid)
	_, err = e.uc.LastOperation(context.Background(), broker.LastOperationRequest{InstanceID: "inst-1", Operation: res.Operation})
	wantCode(t, err, broker.EInvalid)

	bound(t, e, "bind-1")
	un, err := e.uc.Unbind(context.Background(), broker.UnbindRequest{InstanceID: "inst-1", BindingID: "bind-1", ServiceID: serviceID, PlanID: planSmall, AcceptsIncomplete: true})
	if err != nil || !un.Async {
		t.Fatalf("unbind = %+v, %v", un, err)
	}
	// The engine ends the unbind and forgets the binding.
	op := e.operation(t, un.Operation)
	op.State = broker.StateSucceeded
	op.Version++
	e.put(op)
	e.mem.mu.Lock()
	delete(e.mem.bindings, [2]string{"inst-1", "bind-1"})
	e.mem.mu.Unlock()
	_, err = poll("bind-1", un.Operation)
	wantCode(t, err, broker.EGone)
	if lo, err := poll("bind-1", res.Operation); err != nil || lo.State != broker.StateSucceeded {
		t.Fatalf("poll of the earlier bind = %+v, %v", lo, err)
	}
	_, err = poll("bind-1", "")
	wantCode(t, err, broker.ENotFound)
}

// TestAsyncUnbind: an unbind of a binding with its own credentials needs
// accepts_incomplete, runs osb_unbind and is repeated idempotently; one during the
// bind halts the bind.
func TestAsyncUnbind(t *testing.T) {
	e := newEnv(t)
	perBinding(e, nil)
	readyInstance(t, e)
	bind := mustBind(t, e, asyncBindRequest())
	req := broker.UnbindRequest{InstanceID: "inst-1", BindingID: "bind-1", ServiceID: serviceID, PlanID: planSmall}
	m := e.mark()
	_, err := e.uc.Unbind(context.Background(), req)
	wantCode(t, err, broker.EAsyncRequired)
	e.wantNoWrites(t, m)

	req.AcceptsIncomplete = true
	un, err := e.uc.Unbind(context.Background(), req)
	if err != nil || !un.Async {
		t.Fatalf("unbind = %+v, %v", un, err)
	}
	op := e.operation(t, un.Operation)
	halted := e.operation(t, bind.Operation)
	if op.Type != broker.OpUnbind || op.Workflow != "osb_unbind" || op.Halts != bind.Operation || halted.SupersededBy != op.ID {
		t.Fatalf("unbind %+v, halted bind %+v", op, halted)
	}
	if diff := cmp.Diff(map[string]any{"binding_id": "bind-1", "secret_key": op.SecretKey}, opened(t, op.Inputs)); diff != "" {
		t.Errorf("unbind parameters (-want +got)\n%s", diff)
	}
	m = e.mark()
	again, err := e.uc.Unbind(context.Background(), req)
	if err != nil || again.Operation != un.Operation {
		t.Fatalf("repeat unbind = %+v, %v", again, err)
	}
	e.wantNoWrites(t, m)
	_, err = e.uc.Bind(context.Background(), asyncBindRequest())
	wantCode(t, err, broker.EConcurrency)
}

// TestRotation: a rotatable plan's binding expires after the validity period and
// should be renewed an overlap before; a successor names a bound, unexpired
// predecessor of the instance; plans that share credentials, or do not rotate, refuse.
func TestRotation(t *testing.T) {
	e := newEnv(t)
	perBinding(e, &broker.BindingRotation{MaximumValidityPeriod: 2 * 86400, OverlapPeriod: 3600})
	readyInstance(t, e)
	mustBind(t, e, asyncBindRequest())
	b, _ := e.store.GetBinding(context.Background(), "inst-1", "bind-1")
	if !b.ExpiresAt.Equal(t0.Add(48*time.Hour)) || !b.RenewBefore.Equal(t0.Add(47*time.Hour)) {
		t.Fatalf("binding expires %s, renew before %s", b.ExpiresAt, b.RenewBefore)
	}
	successor := func(pred string) broker.BindRequest {
		return asyncBindRequest(func(r *broker.BindRequest) { r.BindingID, r.PredecessorBindingID = "bind-2", pred })
	}
	_, err := e.uc.Bind(context.Background(), successor("bind-1"))
	wantCode(t, err, broker.EInvalid) // still binding
	bound(t, e, "bind-1")
	e.creds.BindingSecretFn = func(context.Context, string) (map[string]any, error) { return map[string]any{"username": "u"}, nil }
	res := mustBind(t, e, asyncBindRequest())
	if res.Metadata.ExpiresAt != b.ExpiresAt || res.Metadata.RenewBefore != b.RenewBefore {
		t.Errorf("metadata = %+v", res.Metadata)
	}
	_, err = e.uc.Bind(context.Background(), successor("nope"))
	wantCode(t, err, broker.EInvalid)
	rot := mustBind(t, e, successor("bind-1"))
	if !rot.Async || opened(t, e.operation(t, rot.Operation).Inputs)["predecessor_binding_id"] != "bind-1" {
		t.Fatalf("rotation = %+v", rot)
	}
	if pred, _ := e.store.GetBinding(context.Background(), "inst-1", "bind-1"); !pred.Ready() {
		t.Fatalf("the predecessor is %s after the rotation, want it bound until unbound", pred.State)
	}
	e.now = t0.Add(49 * time.Hour)
	_, err = e.uc.Bind(context.Background(), asyncBindRequest(func(r *broker.BindRequest) { r.BindingID, r.PredecessorBindingID = "bind-3", "bind-1" }))
	wantCode(t, err, broker.EInvalid)
	wantMessage(t, err, "expired")

	norot := newEnv(t)
	perBinding(norot, nil)
	readyInstance(t, norot)
	mustBind(t, norot, asyncBindRequest())
	bound(t, norot, "bind-1")
	_, err = norot.uc.Bind(context.Background(), asyncBindRequest(func(r *broker.BindRequest) { r.BindingID, r.PredecessorBindingID = "bind-2", "bind-1" }))
	wantCode(t, err, broker.EUnprocessable)
	wantMessage(t, err, "not rotatable")
}
