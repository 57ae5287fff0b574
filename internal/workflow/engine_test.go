package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/seal"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// rig is an engine over a simulator whose clock the test moves; nothing sleeps.
type rig struct {
	t      *testing.T
	clock  *cloudifysim.ManualClock
	sim    *cloudifysim.Simulator
	client *cloudify.Client
	store  *flakyStore
	engine *Engine
}

func newRig(t *testing.T, version string) *rig {
	t.Helper()
	clock := cloudifysim.NewManualClock(t0)
	sim := cloudifysim.New(cloudifysim.Config{Version: version, Clock: clock, LoadSamples: true})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	client, err := cloudify.New(ts.URL, cloudify.WithBasicAuth("admin", "admin"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	fs := &flakyStore{DB: db}
	return &rig{t: t, clock: clock, sim: sim, client: client, store: fs,
		engine: &Engine{Store: fs, Cloudify: client, Sealer: sealer, Now: clock.Now}}
}

// flakyStore fails chosen Commit calls, as a crash between a Cloudify call and the
// write that records it would.
type flakyStore struct {
	*boltstore.DB
	mu      sync.Mutex
	commits int
	failAt  map[int]bool
}

func (f *flakyStore) Commit(ctx context.Context, tx broker.Tx) error {
	f.mu.Lock()
	f.commits++
	fail := f.failAt[f.commits]
	f.mu.Unlock()
	if fail {
		return errors.New("injected: lost write")
	}
	return f.DB.Commit(ctx, tx)
}

func (r *rig) seal(v map[string]any) []byte {
	r.t.Helper()
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	out, err := r.engine.Sealer.Seal(b)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// recordProvision stores an instance and its provision operation as the broker does.
func (r *rig) recordProvision(instanceID, blueprint string, inputs map[string]any) broker.Operation {
	r.t.Helper()
	now := r.clock.Now()
	op := broker.Operation{ID: "provision-" + instanceID, Type: broker.OpProvision, InstanceID: instanceID,
		State: broker.StateInProgress, DeploymentID: broker.DeploymentID(instanceID), BlueprintID: blueprint,
		ServiceID: "svc", PlanID: "plan", Inputs: r.seal(inputs), Labels: map[string]string{broker.LabelInstanceID: instanceID},
		Deadline: now.Add(2 * time.Hour), CreatedAt: now, UpdatedAt: now}
	inst := broker.Instance{ID: instanceID, ServiceID: "svc", PlanID: "plan", DeploymentID: op.DeploymentID, BlueprintID: blueprint,
		State: broker.InstanceProvisioning, OperationID: op.ID, OperationType: broker.OpProvision, OperationState: broker.StateInProgress,
		CreatedAt: now, UpdatedAt: now}
	if err := r.store.DB.Commit(context.Background(), broker.Tx{Instances: []*broker.Instance{&inst}, Operations: []*broker.Operation{&op}}); err != nil {
		r.t.Fatal(err)
	}
	return op
}

// recordNext stores a follow-up operation (update, deprovision) on an instance.
func (r *rig) recordNext(instanceID string, typ broker.OperationType, mutate func(*broker.Operation)) broker.Operation {
	r.t.Helper()
	ctx := context.Background()
	inst, err := r.store.GetInstance(ctx, instanceID)
	if err != nil {
		r.t.Fatal(err)
	}
	now := r.clock.Now()
	op := broker.Operation{ID: string(typ) + "-" + instanceID + "-" + now.Format("150405.000"), Type: typ, InstanceID: instanceID,
		State: broker.StateInProgress, DeploymentID: inst.DeploymentID, ServiceID: inst.ServiceID, PlanID: inst.PlanID,
		Deadline: now.Add(2 * time.Hour), CreatedAt: now, UpdatedAt: now}
	if mutate != nil {
		mutate(&op)
	}
	inst.OperationID, inst.OperationType, inst.OperationState = op.ID, typ, broker.StateInProgress
	if typ == broker.OpDeprovision {
		inst.State = broker.InstanceDeprovisioning
	}
	if err := r.store.DB.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&inst}, Operations: []*broker.Operation{&op}}); err != nil {
		r.t.Fatal(err)
	}
	return op
}

// drive steps an operation to its end, moving the clock by each answered wait.
// Step errors (faults) are retried after a second. It returns the steps taken.
func (r *rig) drive(opID string) (broker.Operation, int) {
	r.t.Helper()
	for steps := 1; steps < 1000; steps++ {
		out, err := r.engine.Step(context.Background(), opID)
		if err != nil {
			r.clock.Advance(time.Second)
			continue
		}
		if out.Done {
			op, err := r.store.GetOperation(context.Background(), opID)
			if err != nil {
				r.t.Fatal(err)
			}
			return op, steps
		}
		r.clock.Advance(out.Wait())
	}
	r.t.Fatalf("operation %s did not end in 1000 steps", opID)
	return broker.Operation{}, 0
}

func (r *rig) live() []cloudifysim.DeploymentInfo {
	var out []cloudifysim.DeploymentInfo
	for _, d := range r.sim.Deployments() {
		if d.Exists {
			out = append(out, d)
		}
	}
	return out
}

func (r *rig) instance(id string) broker.Instance {
	r.t.Helper()
	inst, err := r.store.GetInstance(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return inst
}

var mariadbInputs = map[string]any{"admin_password": "Passw0rd-x"}

func TestLifecyclePerManagerVersion(t *testing.T) {
	for _, version := range []string{"5.1.1", "6.2", "6.4", "7.0.4"} {
		t.Run(version, func(t *testing.T) {
			r := newRig(t, version)
			op := r.recordProvision("i1", "mariadb", mariadbInputs)
			got, steps := r.drive(op.ID)
			if got.State != broker.StateSucceeded {
				t.Fatalf("provision ended %s: %s", got.State, got.Description)
			}
			if inst := r.instance("i1"); inst.State != broker.InstanceReady || inst.OperationState != broker.StateSucceeded {
				t.Fatalf("instance after provision: %s / %s", inst.State, inst.OperationState)
			}
			live := r.live()
			if len(live) != 1 || live[0].InstallationStatus != "active" {
				t.Fatalf("deployments after provision: %+v", live)
			}
			t.Logf("%s: provision took %d steps", version, steps)

			upd := r.recordNext("i1", broker.OpUpdate, func(o *broker.Operation) {
				o.Inputs = r.seal(map[string]any{"db_name": "orders"})
				o.Parameters = o.Inputs
				o.PlanID = "plan-2"
			})
			if got, _ := r.drive(upd.ID); got.State != broker.StateSucceeded {
				t.Fatalf("update ended %s: %s", got.State, got.Description)
			}
			if d, ok := r.sim.Deployment(broker.DeploymentID("i1")); !ok || d.Inputs["db_name"] != "orders" {
				t.Fatalf("inputs after update: %+v", d.Inputs)
			}
			if inst := r.instance("i1"); inst.PlanID != "plan-2" {
				t.Fatalf("instance plan after update = %s", inst.PlanID)
			}

			dep := r.recordNext("i1", broker.OpDeprovision, nil)
			if got, _ := r.drive(dep.ID); got.State != broker.StateSucceeded {
				t.Fatalf("deprovision ended %s: %s", got.State, got.Description)
			}
			if n := len(r.live()); n != 0 {
				t.Fatalf("%d deployments after deprovision", n)
			}
			if inst := r.instance("i1"); inst.State != broker.InstanceGone {
				t.Fatalf("instance after deprovision: %s", inst.State)
			}
		})
	}
}

func TestFailedInstallIsExplainedAndCleanedUp(t *testing.T) {
	r := newRig(t, "7.0.4")
	op := r.recordProvision("f1", "failing-install", nil)
	got, _ := r.drive(op.ID)
	execs := r.sim.Executions(broker.DeploymentID("f1"))
	var cfyErr string
	for _, e := range execs {
		if e.WorkflowID == "install" {
			cfyErr = e.Error
		}
	}
	lines := strings.Split(strings.TrimSpace(cfyErr), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if got.State != broker.StateFailed || last == "" || !strings.Contains(got.Description, last) {
		t.Fatalf("failed install described as %q (state %s); Cloudify's last error line is %q", got.Description, got.State, last)
	}
	if inst := r.instance("f1"); inst.State != broker.InstanceFailed {
		t.Fatalf("instance after failed install: %s", inst.State)
	}
	dep := r.recordNext("f1", broker.OpDeprovision, nil)
	if got, _ := r.drive(dep.ID); got.State != broker.StateSucceeded {
		t.Fatalf("deprovision after failed install: %s: %s", got.State, got.Description)
	}
	if n := len(r.live()); n != 0 {
		t.Fatalf("%d deployments left", n)
	}
}

// TestLostWrites loses the write of each step in turn (as a crash right after a
// Cloudify call would) and checks that repeating the step adopts what was done:
// one deployment, one install, one uninstall.
func TestLostWrites(t *testing.T) {
	for n := 1; n <= 12; n++ {
		r := newRig(t, "7.0.4")
		r.store.failAt = map[int]bool{n: true}
		op := r.recordProvision("lw", "mariadb", mariadbInputs)
		got, _ := r.drive(op.ID)
		if got.State != broker.StateSucceeded {
			t.Fatalf("lost write %d: provision %s: %s", n, got.State, got.Description)
		}
		counts := map[string]int{}
		for _, e := range r.sim.Executions(broker.DeploymentID("lw")) {
			counts[e.WorkflowID]++
		}
		if counts["install"] != 1 || len(r.live()) != 1 {
			t.Fatalf("lost write %d: executions %v, live deployments %d", n, counts, len(r.live()))
		}
		dep := r.recordNext("lw", broker.OpDeprovision, nil)
		if got, _ := r.drive(dep.ID); got.State != broker.StateSucceeded {
			t.Fatalf("lost write %d: deprovision %s: %s", n, got.State, got.Description)
		}
		// Executions go with the deployment: count the calls that start them instead.
		stats := r.sim.Stats()
		if starts := stats.Requests["POST /executions"]; starts != 2 || len(r.live()) != 0 {
			t.Fatalf("lost write %d: %d executions started (want install + uninstall), %d live deployments; requests %v",
				n, starts, len(r.live()), stats.Requests)
		}
	}
}

func TestTransientFaultsAreRetried(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance, Count: 3})
	r.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultBadGateway, Count: 2})
	op := r.recordProvision("tf", "mariadb", mariadbInputs)
	var faults int
	for i := 0; i < 200; i++ {
		out, err := r.engine.Step(context.Background(), op.ID)
		if err != nil {
			if !cloudify.IsTransient(err) {
				t.Fatalf("step error is not transient: %v", err)
			}
			faults++
			r.clock.Advance(time.Second)
			continue
		}
		if out.Done {
			if out.State != broker.StateSucceeded {
				t.Fatalf("ended %s", out.State)
			}
			if faults != 5 {
				t.Fatalf("saw %d faults, want 5", faults)
			}
			return
		}
		r.clock.Advance(out.Wait())
	}
	t.Fatal("did not end")
}

func TestDeadline(t *testing.T) {
	r := newRig(t, "7.0.4")
	r.sim.HangWorkflow("mariadb", "install", "started")
	op := r.recordProvision("hang", "mariadb", mariadbInputs)
	got, _ := r.drive(op.ID)
	if got.State != broker.StateFailed || !strings.Contains(got.Description, "timed out") {
		t.Fatalf("hung install ended %s: %q", got.State, got.Description)
	}
	if elapsed := got.EndedAt.Sub(op.CreatedAt); elapsed < 2*time.Hour || elapsed > 2*time.Hour+2*time.Minute {
		t.Fatalf("timed out after %s, deadline was 2h", elapsed)
	}
}

// TestHaltedProvision: a deprovision recorded while the provision's create is in
// flight waits for the provision to end itself, then removes what it created.
func TestHaltedProvision(t *testing.T) {
	r := newRig(t, "7.0.4")
	prov := r.recordProvision("h1", "mariadb", mariadbInputs)
	if _, err := r.engine.Step(context.Background(), prov.ID); err != nil { // creates the deployment
		t.Fatal(err)
	}
	dep := r.recordNext("h1", broker.OpDeprovision, func(o *broker.Operation) { o.Halts = prov.ID })
	p, _ := r.store.GetOperation(context.Background(), prov.ID)
	p.SupersededBy = dep.ID
	if err := r.store.DB.Commit(context.Background(), broker.Tx{Operations: []*broker.Operation{&p}}); err != nil {
		t.Fatal(err)
	}
	// The deprovision waits while the provision has not ended.
	out, err := r.engine.Step(context.Background(), dep.ID)
	if err != nil || out.Done {
		t.Fatalf("deprovision step before the provision ended: %+v, %v", out, err)
	}
	if got, _ := r.drive(prov.ID); got.State != broker.StateFailed || !strings.Contains(got.Description, "halted") {
		t.Fatalf("halted provision ended %s: %q", got.State, got.Description)
	}
	if got, _ := r.drive(dep.ID); got.State != broker.StateSucceeded {
		t.Fatalf("deprovision ended %s: %q", got.State, got.Description)
	}
	if n := len(r.live()); n != 0 {
		t.Fatalf("%d deployments left", n)
	}
	if inst := r.instance("h1"); inst.State != broker.InstanceGone {
		t.Fatalf("instance: %s", inst.State)
	}
}

// TestPollingOfLongInstalls checks the step counts and detection delays of the
// backoff for installs of 1, 10 and 60 minutes (counts, not timings: the clock is
// simulated).
func TestPollingOfLongInstalls(t *testing.T) {
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute, 60 * time.Minute} {
		r := newRig(t, "7.0.4")
		r.sim.SetDuration("mariadb", "install", d)
		op := r.recordProvision("long", "mariadb", mariadbInputs)
		got, steps := r.drive(op.ID)
		if got.State != broker.StateSucceeded || got.CloudifyEndedAt.IsZero() {
			t.Fatalf("%s install: %s %q", d, got.State, got.Description)
		}
		delay := got.EndedAt.Sub(got.CloudifyEndedAt)
		t.Logf("install %s: %d steps, detected %s after Cloudify finished", d, steps, delay)
		if d == 10*time.Minute && steps > 15 {
			t.Errorf("10-minute install: %d steps, want at most 15", steps)
		}
		// The simulator reports progress, so the delay stays within a tenth of the run.
		if elapsed := got.EndedAt.Sub(op.CreatedAt); delay > elapsed/10+2*time.Second {
			t.Errorf("%s install: detected %s after the end, over a tenth of %s", d, delay, elapsed)
		}
	}
}

func TestBackoffNeverZero(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond}
	for _, elapsed := range []time.Duration{0, 10 * time.Millisecond, 300 * time.Millisecond, 2 * time.Second} {
		if w := b.Next(elapsed, nil); w < b.Min {
			t.Errorf("Next(%s) = %s, below Min %s", elapsed, w, b.Min)
		}
	}
	if w := (Backoff{}).Next(10*time.Minute, nil); w != time.Minute {
		t.Errorf("default Next(10m) = %s, want the 60 s cap", w)
	}
}

// TestLicenseRefusalExplained: a manager without a valid licence refuses everything;
// the failed operation's description names the licence code and says so.
func TestLicenseRefusalExplained(t *testing.T) {
	for _, code := range []string{cloudify.CodeMissingCloudifyLicense, cloudify.CodeExpiredCloudifyLicense} {
		t.Run(code, func(t *testing.T) {
			r := newRig(t, "7.0.4")
			r.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultHTTPError, Status: 400, Code: code, Message: "Cloudify license is not valid"})
			op := r.recordProvision("lic", "mariadb", mariadbInputs)
			got, _ := r.drive(op.ID)
			if got.State != broker.StateFailed || !strings.Contains(got.Description, code) || !strings.Contains(got.Description, "no valid licence") {
				t.Fatalf("provision against an unlicensed manager: %s %q", got.State, got.Description)
			}
		})
	}
}
