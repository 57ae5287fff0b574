package admin_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// findingLines renders the findings as "kind instance binding secret repaired" lines.
func findingLines(rep admin.ReconcileReport) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, fmt.Sprintf("%s %s %s %s %t", f.Kind, f.InstanceID, f.BindingID, f.SecretKey, f.Repaired))
	}
	return out
}

// secretKeys returns the keys of the simulator's secrets, sorted.
func secretKeys(sim *cloudifysim.Simulator) []string {
	var out []string
	for _, s := range sim.Secrets() {
		out = append(out, s.Key)
	}
	slices.Sort(out)
	return out
}

// ownBinding returns a ready binding of the instance with credentials of its own.
func ownBinding(in broker.Instance, id string) broker.Binding {
	return broker.Binding{InstanceID: in.ID, ID: id, State: broker.BindingReady, SecretKey: broker.BindingSecretKey(in.DeploymentID, id),
		OperationID: "bind-" + id, OperationType: broker.OpBind, OperationState: broker.StateSucceeded, CreatedAt: t0}
}

// TestReconcileBindings: on the simulator, a bind in progress whose execution is lost
// is moved, a ready binding whose secret was deleted is reported, and binding secrets
// no binding claims are orphans (deleted on request), attributed to the instance with
// the longest deployment id they start with; secrets of an instance with a bind in
// progress, and secrets of deployments the broker does not know, are left alone.
func TestReconcileBindings(t *testing.T) {
	ctx := context.Background()
	db := mustStore(t)
	sim, mgr := mustSimManager(t)

	instance := func(id string, st broker.InstanceState) broker.Instance {
		return broker.Instance{ID: id, ServiceID: "svc", PlanID: "plan", DeploymentID: broker.DeploymentID(id), BlueprintID: "s3-bucket",
			State: st, OperationID: "provision-" + id, OperationType: broker.OpProvision, OperationState: broker.StateSucceeded, CreatedAt: t0, UpdatedAt: t0}
	}
	a, ab, busy, gone := instance("a", broker.InstanceReady), instance("a-b", broker.InstanceReady), instance("busy", broker.InstanceReady), instance("g", broker.InstanceGone)
	for _, in := range []broker.Instance{a, ab, busy} {
		if _, err := mgr.CreateDeployment(ctx, in.DeploymentID, cloudify.CreateDeploymentRequest{BlueprintID: "s3-bucket",
			Labels: []cloudify.Label{{Key: broker.LabelInstanceID, Value: in.ID}}, AsyncCreate: true}); err != nil {
			t.Fatal(err)
		}
	}
	// a's binding b-x has the key osb-osb-a-b-x, which also reads as binding x of a-b.
	aBX, aB1, abX2 := ownBinding(a, "b-x"), ownBinding(a, "b1"), ownBinding(ab, "x2")
	aShared := broker.Binding{InstanceID: a.ID, ID: "shared", CreatedAt: t0}
	aFailed := ownBinding(a, "failed")
	aFailed.State, aFailed.OperationState = broker.BindingFailed, broker.StateFailed
	bind := broker.Operation{ID: "bind-nb", Type: broker.OpBind, InstanceID: busy.ID, BindingID: "nb", State: broker.StateInProgress,
		Phase: "binding", DeploymentID: busy.DeploymentID, Workflow: "osb_bind", SecretKey: broker.BindingSecretKey(busy.DeploymentID, "nb"),
		ExecutionID: "exec-lost", Deadline: t0.Add(time.Hour), NextCheck: t0.Add(time.Minute), CreatedAt: t0, UpdatedAt: t0}
	busyNB := broker.Binding{InstanceID: busy.ID, ID: "nb", State: broker.BindingBinding, SecretKey: bind.SecretKey,
		OperationID: bind.ID, OperationType: broker.OpBind, OperationState: broker.StateInProgress, CreatedAt: t0}
	mustCommit(t, db, broker.Tx{Instances: []*broker.Instance{&a, &ab, &busy, &gone}, Operations: []*broker.Operation{&bind},
		Bindings: []*broker.Binding{&aBX, &aB1, &abX2, &aShared, &aFailed, &busyNB}})

	keys := map[string]string{
		"a's b-x":          aBX.SecretKey,
		"a's b1":           aB1.SecretKey,
		"a's failed bind":  aFailed.SecretKey,
		"a-b's x2":         abX2.SecretKey,
		"a-b's orphan":     broker.BindingSecretKey(ab.DeploymentID, "y"),
		"a's orphan":       broker.BindingSecretKey(a.DeploymentID, "z"),
		"gone's leftover":  broker.BindingSecretKey(gone.DeploymentID, "old"),
		"busy's stray":     broker.BindingSecretKey(busy.DeploymentID, "stray"),
		"unknown instance": broker.BindingSecretKey("osb-nobody", "b"),
		"not a binding's":  "smtp-password",
	}
	for _, key := range keys {
		if _, err := mgr.CreateSecret(ctx, key, cloudify.CreateSecretRequest{Value: `{"password":"pw"}`}); err != nil {
			t.Fatal(err)
		}
	}
	// A secret deleted by hand: b1's credentials are gone.
	if err := mgr.DeleteSecret(ctx, aB1.SecretKey); err != nil {
		t.Fatal(err)
	}

	var woken []string
	svc := admin.New(db, admin.Config{Manager: mgr, Now: func() time.Time { return t0 }, Wake: starterFunc(func(_ context.Context, op broker.Operation) error {
		woken = append(woken, op.ID)
		return nil
	})})
	all := secretKeys(sim)
	found := []string{
		"execution_lost busy nb  false",
		"binding_secret_missing a b1 osb-osb-a-b1 false",
		"orphan_secret a-b  osb-osb-a-b-y false",
		"orphan_secret a  osb-osb-a-z false",
		"orphan_secret g  osb-osb-g-old false",
	}

	rep, err := svc.Reconcile(ctx, admin.ReconcileRequest{DeleteOrphans: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(found, findingLines(rep)); diff != "" {
		t.Errorf("dry run: findings (-want +got):\n%s", diff)
	}
	// Counted: the bindings with credentials of their own of ready instances (not a's
	// shared one); the keys named for a known deployment (b1's is gone; not osb-nobody's).
	if rep.Instances != 3 || rep.Bindings != 5 || rep.Secrets != 7 || rep.Deployments != 3 || rep.Errors != 0 {
		t.Errorf("dry run: counts = %d instances, %d bindings, %d secrets, %d deployments, %d errors; want 3, 5, 7, 3, 0",
			rep.Instances, rep.Bindings, rep.Secrets, rep.Deployments, rep.Errors)
	}
	if len(woken) > 0 || !cmp.Equal(all, secretKeys(sim)) {
		t.Errorf("dry run changed something: woke %v, secrets %v", woken, secretKeys(sim))
	}
	for _, f := range rep.Findings {
		switch f.Kind {
		case admin.FindingOrphanSecret:
			if f.Action != "would delete it" {
				t.Errorf("dry run: %s action %q", f.SecretKey, f.Action)
			}
		case admin.FindingBindingSecretMissing:
			if !strings.Contains(f.Action, "unbind the binding and bind again") || f.DeploymentID != a.DeploymentID {
				t.Errorf("missing secret: %+v", f)
			}
		case admin.FindingExecutionLost:
			if f.OperationID != bind.ID || f.ExecutionID != "exec-lost" || !strings.Contains(f.Problem, "bind of binding nb") {
				t.Errorf("lost bind execution: %+v", f)
			}
		}
	}

	// Without --delete-orphans: the bind is moved, the orphans are reported only.
	rep, err = svc.Reconcile(ctx, admin.ReconcileRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found[0] = "execution_lost busy nb  true"
	if diff := cmp.Diff(found, findingLines(rep)); diff != "" {
		t.Errorf("reconcile: findings (-want +got):\n%s", diff)
	}
	if !cmp.Equal([]string{bind.ID}, woken) || !cmp.Equal(all, secretKeys(sim)) {
		t.Errorf("reconcile: woke %v, secrets %v", woken, secretKeys(sim))
	}
	if rep.Findings[2].Action != "left alone: run reconcile --delete-orphans to delete it" {
		t.Errorf("orphan without --delete-orphans: action %q", rep.Findings[2].Action)
	}

	rep, err = svc.Reconcile(ctx, admin.ReconcileRequest{DeleteOrphans: true})
	if err != nil {
		t.Fatal(err)
	}
	found = []string{
		"execution_lost busy nb  true",
		"binding_secret_missing a b1 osb-osb-a-b1 false",
		"orphan_secret a-b  osb-osb-a-b-y true",
		"orphan_secret a  osb-osb-a-z true",
		"orphan_secret g  osb-osb-g-old true",
	}
	if diff := cmp.Diff(found, findingLines(rep)); diff != "" {
		t.Errorf("--delete-orphans: findings (-want +got):\n%s", diff)
	}
	left := []string{keys["a's b-x"], keys["a's failed bind"], keys["a-b's x2"], keys["busy's stray"], keys["unknown instance"], keys["not a binding's"]}
	slices.Sort(left)
	if diff := cmp.Diff(left, secretKeys(sim)); diff != "" {
		t.Errorf("secrets left (-want +got):\n%s", diff)
	}

	// Once the bind has ended, busy's stray secret is an orphan too.
	bind.State, bind.EndedAt = broker.StateFailed, t0
	busyNB.State, busyNB.OperationState = broker.BindingFailed, broker.StateFailed
	mustCommit(t, db, broker.Tx{Operations: []*broker.Operation{&bind}, Bindings: []*broker.Binding{&busyNB}})
	rep, err = svc.Reconcile(ctx, admin.ReconcileRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found = []string{
		"binding_secret_missing a b1 osb-osb-a-b1 false",
		"orphan_secret busy  osb-osb-busy-stray false",
	}
	if diff := cmp.Diff(found, findingLines(rep)); diff != "" {
		t.Errorf("after the bind: findings (-want +got):\n%s", diff)
	}
}

// TestReconcileSecretChecks: a secret missing from the listing but found when asked for
// by key (bound meanwhile) is no finding; the secrets are listed without values; a
// failed listing is an error finding; a secret deleted meanwhile is "gone already".
func TestReconcileSecretChecks(t *testing.T) {
	ctx := context.Background()
	db := mustStore(t)
	in := broker.Instance{ID: "i-1", DeploymentID: "osb-i-1", State: broker.InstanceReady, CreatedAt: t0, UpdatedAt: t0}
	late, orphan := ownBinding(in, "late"), broker.BindingSecretKey(in.DeploymentID, "old")
	mustCommit(t, db, broker.Tx{Instances: []*broker.Instance{&in}, Bindings: []*broker.Binding{&late}})
	var lists []string
	mgr := &fakeManager{
		listDeployments: func() ([]cloudify.Deployment, error) { return []cloudify.Deployment{{ID: in.DeploymentID}}, nil },
		listSecrets: func(opts cloudify.ListOptions) ([]cloudify.Secret, error) {
			lists = append(lists, fmt.Sprintf("%v %v", opts.Include, opts.Filters))
			if len(opts.Filters) == 0 {
				return []cloudify.Secret{{Key: orphan}}, nil
			}
			return []cloudify.Secret{{Key: late.SecretKey}}, nil
		},
		deleteSecret: func(string) error { return notFound },
	}
	rep, err := admin.New(db, admin.Config{Manager: mgr}).Reconcile(ctx, admin.ReconcileRequest{DeleteOrphans: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"orphan_secret i-1  osb-osb-i-1-old false"}, findingLines(rep)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if rep.Findings[0].Action != "it is gone already" || rep.Errors != 0 {
		t.Errorf("orphan deleted meanwhile: %+v", rep.Findings[0])
	}
	want := []string{"[key] map[]", "[key] map[key:[osb-osb-i-1-late]]"}
	if diff := cmp.Diff(want, lists); diff != "" {
		t.Errorf("secret listings (-want +got):\n%s", diff)
	}

	mgr.listSecrets = func(cloudify.ListOptions) ([]cloudify.Secret, error) { return nil, errors.New("connection refused") }
	rep, err = admin.New(db, admin.Config{Manager: mgr}).Reconcile(ctx, admin.ReconcileRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != admin.FindingError || rep.Errors != 1 || !strings.Contains(rep.Findings[0].Problem, "secrets") {
		t.Errorf("failed listing: %+v", rep)
	}
}
