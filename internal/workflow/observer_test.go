package workflow

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// recorder is an Observer that keeps every report.
type recorder struct {
	mu      sync.Mutex
	reports []StepReport
}

func (r *recorder) ObserveStep(_ context.Context, s StepReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, s)
}

// TestObserver: one report per step, the first marked First, faults marked Fault,
// the last marked Ended with the final state; none for a step on a finished operation.
func TestObserver(t *testing.T) {
	r := newRig(t, "7.0.4")
	rec := &recorder{}
	r.engine.Observer = rec
	r.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance, Count: 2})
	op := r.recordProvision("obs", "mariadb", mariadbInputs)
	final, steps := r.drive(op.ID)
	if final.State != broker.StateSucceeded {
		t.Fatalf("provision ended %s", final.State)
	}
	if _, err := r.engine.Step(context.Background(), op.ID); err != nil {
		t.Fatal(err)
	}

	if len(rec.reports) != steps {
		t.Fatalf("%d reports for %d steps (plus one on the finished operation, which must not report)", len(rec.reports), steps)
	}
	var faults, firsts int
	for i, s := range rec.reports[:len(rec.reports)-1] {
		if s.Type != broker.OpProvision || s.Ended || s.State != broker.StateInProgress {
			t.Errorf("report %d = %+v, want a provision step in progress", i, s)
		}
		if s.Fault {
			faults++
		}
		if s.First {
			firsts++
		}
	}
	// The faults come first: the operation's first step is attempted (and reported
	// First) until it commits.
	if faults != 2 || firsts != 3 || !rec.reports[0].First || !rec.reports[0].Fault {
		t.Errorf("faults %d, firsts %d, reports[0] %+v; want 2 faults, 3 first attempts starting with a fault", faults, firsts, rec.reports[0])
	}
	want := StepReport{Type: broker.OpProvision, State: broker.StateSucceeded, Ended: true}
	if diff := cmp.Diff(want, rec.reports[len(rec.reports)-1]); diff != "" {
		t.Errorf("last report (-want +got):\n%s", diff)
	}
}
