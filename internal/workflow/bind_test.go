package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// provisioned provisions a mariadb instance and returns its id.
func (r *rig) provisioned(instanceID string) string {
	r.t.Helper()
	op := r.recordProvision(instanceID, "mariadb", mariadbInputs)
	if got, _ := r.drive(op.ID); got.State != broker.StateSucceeded {
		r.t.Fatalf("provision ended %s: %s", got.State, got.Description)
	}
	return instanceID
}

// recordBind stores a binding and its bind operation as the broker does.
func (r *rig) recordBind(instanceID, bindingID string) broker.Operation {
	r.t.Helper()
	ctx := context.Background()
	inst := r.instance(instanceID)
	now := r.clock.Now()
	key := broker.BindingSecretKey(inst.DeploymentID, bindingID)
	op := broker.Operation{ID: "bind-" + bindingID, Type: broker.OpBind, InstanceID: instanceID, BindingID: bindingID,
		State: broker.StateInProgress, DeploymentID: inst.DeploymentID, Workflow: "osb_bind", SecretKey: key,
		Inputs:   r.seal(map[string]any{broker.ParamBindingID: bindingID, broker.ParamSecretKey: key, "privileges": "read_only"}),
		Deadline: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	b := broker.Binding{InstanceID: instanceID, ID: bindingID, State: broker.BindingBinding, SecretKey: key,
		OperationID: op.ID, OperationType: broker.OpBind, OperationState: broker.StateInProgress, CreatedAt: now}
	if err := r.store.DB.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&inst}, Bindings: []*broker.Binding{&b}, Operations: []*broker.Operation{&op}}); err != nil {
		r.t.Fatal(err)
	}
	return op
}

// recordUnbind stores an unbind of a binding as the broker does, halting its bind
// when one runs.
func (r *rig) recordUnbind(instanceID, bindingID string) broker.Operation {
	r.t.Helper()
	ctx := context.Background()
	b, err := r.store.GetBinding(ctx, instanceID, bindingID)
	if err != nil {
		r.t.Fatal(err)
	}
	now := r.clock.Now()
	op := broker.Operation{ID: "unbind-" + bindingID, Type: broker.OpUnbind, InstanceID: instanceID, BindingID: bindingID,
		State: broker.StateInProgress, DeploymentID: broker.DeploymentID(instanceID), Workflow: "osb_unbind", SecretKey: b.SecretKey,
		Inputs:   r.seal(map[string]any{broker.ParamBindingID: bindingID, broker.ParamSecretKey: b.SecretKey}),
		Deadline: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	tx := broker.Tx{}
	if b.Busy() && b.OperationType == broker.OpBind {
		bind, err := r.store.GetOperation(ctx, b.OperationID)
		if err != nil {
			r.t.Fatal(err)
		}
		bind.SupersededBy, op.Halts = op.ID, bind.ID
		tx.Operations = append(tx.Operations, &bind)
	}
	b.State, b.OperationID, b.OperationType, b.OperationState = broker.BindingUnbinding, op.ID, broker.OpUnbind, broker.StateInProgress
	tx.Bindings = []*broker.Binding{&b}
	tx.Operations = append(tx.Operations, &op)
	if err := r.store.DB.Commit(ctx, tx); err != nil {
		r.t.Fatal(err)
	}
	return op
}

// secrets are the simulator's binding secrets, by key.
func (r *rig) secrets() map[string]string {
	out := map[string]string{}
	for _, s := range r.sim.Secrets() {
		if strings.HasPrefix(s.Key, "osb-") {
			out[s.Key] = s.Value
		}
	}
	return out
}

// users are the simulator's binding users of an instance's deployment, by binding.
func (r *rig) users(instanceID string) map[string]string {
	out := map[string]string{}
	if d, ok := r.sim.Deployment(broker.DeploymentID(instanceID)); ok {
		for _, u := range d.BindingUsers {
			out[u.Binding] = u.Username
		}
	}
	return out
}

func (r *rig) binding(instanceID, bindingID string) (broker.Binding, bool) {
	r.t.Helper()
	b, err := r.store.GetBinding(context.Background(), instanceID, bindingID)
	if errors.Is(err, broker.ErrNotFound) {
		return broker.Binding{}, false
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return b, true
}

// TestBindAndUnbind: two bindings of one instance get a user and a secret each, with
// different credentials; an unbind revokes the user, deletes the secret and forgets
// the binding, and leaves the other binding alone.
func TestBindAndUnbind(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.provisioned("i1")
	for _, id := range []string{"b1", "b2"} {
		got, _ := r.drive(r.recordBind("i1", id).ID)
		if got.State != broker.StateSucceeded {
			t.Fatalf("bind %s ended %s: %s", id, got.State, got.Description)
		}
		if b, ok := r.binding("i1", id); !ok || b.State != broker.BindingReady || b.OperationState != broker.StateSucceeded {
			t.Fatalf("binding %s after bind: %+v (found %v)", id, b, ok)
		}
	}
	secrets := r.secrets()
	k1, k2 := broker.BindingSecretKey("osb-i1", "b1"), broker.BindingSecretKey("osb-i1", "b2")
	var c1, c2 map[string]any
	if json.Unmarshal([]byte(secrets[k1]), &c1) != nil || json.Unmarshal([]byte(secrets[k2]), &c2) != nil {
		t.Fatalf("secrets %v do not hold JSON credentials", secrets)
	}
	if c1["username"] == nil || c1["username"] == c2["username"] || c1["password"] == c2["password"] {
		t.Fatalf("two bindings share credentials: %v and %v", c1, c2)
	}
	if users := r.users("i1"); len(users) != 2 {
		t.Fatalf("binding users %v, want two", users)
	}

	got, _ := r.drive(r.recordUnbind("i1", "b1").ID)
	if got.State != broker.StateSucceeded {
		t.Fatalf("unbind ended %s: %s", got.State, got.Description)
	}
	if _, ok := r.binding("i1", "b1"); ok {
		t.Fatalf("binding b1 still recorded after unbind")
	}
	if _, ok := r.secrets()[k1]; ok {
		t.Fatalf("secret %s left after unbind", k1)
	}
	if users := r.users("i1"); users["b1"] != "" || users["b2"] == "" {
		t.Fatalf("binding users after unbinding b1: %v", users)
	}
}

// TestBindLostWrites loses each write of a bind and of its unbind in turn (a crash
// right after a Cloudify call) and checks that repeating the step adopts what was
// done: one bind run and one unbind run, no secret left.
func TestBindLostWrites(t *testing.T) {
	for n := 1; n <= 8; n++ {
		r := newRig(t, "7.0.4")
		r.provisioned("lw")
		before := r.sim.Stats().Requests["POST /executions"]
		r.store.mu.Lock()
		r.store.failAt = map[int]bool{r.store.commits + n: true}
		r.store.mu.Unlock()
		if got, _ := r.drive(r.recordBind("lw", "b").ID); got.State != broker.StateSucceeded {
			t.Fatalf("lost write %d: bind %s: %s", n, got.State, got.Description)
		}
		if got, _ := r.drive(r.recordUnbind("lw", "b").ID); got.State != broker.StateSucceeded {
			t.Fatalf("lost write %d: unbind %s: %s", n, got.State, got.Description)
		}
		if starts := r.sim.Stats().Requests["POST /executions"] - before; starts != 2 {
			t.Fatalf("lost write %d: %d executions started, want osb_bind and osb_unbind once each", n, starts)
		}
		if s := r.secrets(); len(s) != 0 {
			t.Fatalf("lost write %d: secrets left %v", n, s)
		}
		if _, ok := r.binding("lw", "b"); ok {
			t.Fatalf("lost write %d: binding still recorded", n)
		}
	}
}

// TestFailedBind: a bind workflow that fails ends the bind failed with Cloudify's
// reason, and leaves neither a secret nor the binding.
func TestFailedBind(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.provisioned("f1")
	r.sim.FailWorkflow("", "osb_bind", "Traceback (most recent call last):\nRuntimeError: GRANT refused: user quota exceeded")
	op := r.recordBind("f1", "b")
	// A workflow that fails half-way may have written the secret already.
	if _, err := r.client.CreateSecret(context.Background(), op.SecretKey, cloudify.CreateSecretRequest{Value: `{"username":"half"}`}); err != nil {
		t.Fatal(err)
	}
	got, _ := r.drive(op.ID)
	if got.State != broker.StateFailed || !strings.Contains(got.Description, "GRANT refused: user quota exceeded") {
		t.Fatalf("failed bind ended %s: %q", got.State, got.Description)
	}
	if s := r.secrets(); len(s) != 0 {
		t.Fatalf("secrets left after a failed bind: %v", s)
	}
	if _, ok := r.binding("f1", "b"); ok {
		t.Fatalf("binding still recorded after a failed bind")
	}
}

// TestBindDeadline: a bind workflow that hangs is cancelled at the deadline, then the
// bind fails as timed out with no secret and no binding left.
func TestBindDeadline(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.provisioned("d1")
	r.sim.HangWorkflow("", "osb_bind", "started")
	op := r.recordBind("d1", "b")
	got, _ := r.drive(op.ID)
	if got.State != broker.StateFailed || !strings.Contains(got.Description, "timed out") {
		t.Fatalf("hung bind ended %s: %q", got.State, got.Description)
	}
	var cancelled bool
	for _, e := range r.sim.Executions(broker.DeploymentID("d1")) {
		if e.WorkflowID == "osb_bind" {
			cancelled = e.Status == "cancelled"
		}
	}
	if !cancelled {
		t.Fatalf("the hung osb_bind run was not cancelled: %+v", r.sim.Executions(broker.DeploymentID("d1")))
	}
	if _, ok := r.binding("d1", "b"); ok || len(r.secrets()) != 0 {
		t.Fatalf("after a timed-out bind: binding recorded %v, secrets %v", ok, r.secrets())
	}
}

// TestUnbindHaltsBind: an unbind recorded while the bind workflow runs halts the bind
// (its run is cancelled, it ends failed), then revokes; nothing is left.
func TestUnbindHaltsBind(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.provisioned("h1")
	r.sim.HangWorkflow("", "osb_bind", "started")
	bind := r.recordBind("h1", "b")
	for i := 0; i < 3; i++ { // start the run and look at it
		out, err := r.engine.Step(context.Background(), bind.ID)
		if err != nil || out.Done {
			t.Fatalf("bind step %d: %+v, %v", i, out, err)
		}
		r.clock.Advance(out.Wait())
	}
	unbind := r.recordUnbind("h1", "b")
	if got, _ := r.drive(bind.ID); got.State != broker.StateFailed || !strings.Contains(got.Description, "halted") {
		t.Fatalf("halted bind ended %s: %q", got.State, got.Description)
	}
	if b, ok := r.binding("h1", "b"); !ok || b.OperationID != unbind.ID {
		t.Fatalf("the halted bind's end touched the binding the unbind owns: %+v (found %v)", b, ok)
	}
	if got, _ := r.drive(unbind.ID); got.State != broker.StateSucceeded {
		t.Fatalf("unbind ended %s: %s", got.State, got.Description)
	}
	if _, ok := r.binding("h1", "b"); ok || len(r.secrets()) != 0 || len(r.users("h1")) != 0 {
		t.Fatalf("after halt and unbind: binding %v, secrets %v, users %v", ok, r.secrets(), r.users("h1"))
	}
}

// TestDeprovisionRemovesBindings: bindings the platform never unbound go with their
// instance: their secrets are deleted and their records removed.
func TestDeprovisionRemovesBindings(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.provisioned("p1")
	for _, id := range []string{"b1", "b2"} {
		if got, _ := r.drive(r.recordBind("p1", id).ID); got.State != broker.StateSucceeded {
			t.Fatalf("bind %s: %s", id, got.Description)
		}
	}
	if len(r.secrets()) != 2 {
		t.Fatalf("secrets before deprovision: %v", r.secrets())
	}
	dep := r.recordNext("p1", broker.OpDeprovision, nil)
	if got, _ := r.drive(dep.ID); got.State != broker.StateSucceeded {
		t.Fatalf("deprovision ended %s: %s", got.State, got.Description)
	}
	list, err := r.store.ListBindings(context.Background(), "p1")
	if err != nil || len(list) != 0 || len(r.secrets()) != 0 {
		t.Fatalf("after deprovision: bindings %v (%v), secrets %v", list, err, r.secrets())
	}
}

// TestFailedFromOutside: a bind ended by Fail (an operator abandoning it, a driver
// giving up) cannot clean up on the manager, so its binding stays, failed; an unbind
// then revokes what the bind made.
func TestFailedFromOutside(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.provisioned("o1")
	op := r.recordBind("o1", "b")
	// The bind workflow starts, and ends on the manager before the engine looks again.
	if out, err := r.engine.Step(context.Background(), op.ID); err != nil || out.Done {
		t.Fatalf("first bind step: %+v, %v", out, err)
	}
	r.clock.Advance(10 * time.Minute)
	if len(r.secrets()) != 1 {
		t.Fatalf("the bind workflow left no secret: %v", r.secrets())
	}
	if err := r.engine.Fail(context.Background(), op.ID, "abandoned by an operator"); err != nil {
		t.Fatal(err)
	}
	b, ok := r.binding("o1", "b")
	if got, _ := r.store.GetOperation(context.Background(), op.ID); !ok || b.State != broker.BindingFailed || got.State != broker.StateFailed {
		t.Fatalf("after Fail: binding %+v (found %v), operation %s", b, ok, got.State)
	}
	if got, _ := r.drive(r.recordUnbind("o1", "b").ID); got.State != broker.StateSucceeded {
		t.Fatalf("unbind after a failed bind ended %s: %s", got.State, got.Description)
	}
	if _, ok := r.binding("o1", "b"); ok || len(r.secrets()) != 0 || len(r.users("o1")) != 0 {
		t.Fatalf("after unbind: binding %v, secrets %v, users %v", ok, r.secrets(), r.users("o1"))
	}
}

// TestBindSucceededPastDeadline: a bind workflow that succeeded, seen only after the
// deadline, has made a user that its secret's deletion does not revoke: the bind
// fails as timed out and leaves its binding failed, and the unbind revokes the user.
func TestBindSucceededPastDeadline(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.provisioned("p1")
	op := r.recordBind("p1", "b")
	if out, err := r.engine.Step(context.Background(), op.ID); err != nil || out.Done { // starts osb_bind
		t.Fatalf("first bind step: %+v, %v", out, err)
	}
	r.clock.Advance(2 * time.Hour) // the run succeeds; the next step is past the deadline
	if got, _ := r.drive(op.ID); got.State != broker.StateFailed || !strings.Contains(got.Description, "timed out") {
		t.Fatalf("bind ended %s: %q, want failed: timed out", got.State, got.Description)
	}
	if b, ok := r.binding("p1", "b"); !ok || b.State != broker.BindingFailed {
		t.Fatalf("binding after the bind's failure: %+v (found %v), want it failed, for the unbind", b, ok)
	}
	if len(r.secrets()) != 0 || len(r.users("p1")) != 1 {
		t.Fatalf("after the failed bind: secrets %v, users %v; want no secret and the run's user", r.secrets(), r.users("p1"))
	}
	if got, _ := r.drive(r.recordUnbind("p1", "b").ID); got.State != broker.StateSucceeded {
		t.Fatalf("unbind ended %s: %s", got.State, got.Description)
	}
	if _, ok := r.binding("p1", "b"); ok || len(r.secrets()) != 0 || len(r.users("p1")) != 0 {
		t.Fatalf("after the unbind: binding %v, secrets %v, users %v", ok, r.secrets(), r.users("p1"))
	}
}
