package workflow

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// benchPollingDurations are the simulated install durations of TestBenchPolling.
var benchPollingDurations = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	20 * time.Minute, 30 * time.Minute, 45 * time.Minute, 60 * time.Minute,
}

// benchPollingPolicies are the backoffs compared: the engine's own (as both shapes
// configure it: 2 s to 60 s, progress-aware) and plain fixed 10-second polling.
var benchPollingPolicies = []struct {
	name    string
	backoff Backoff
}{
	{"backoff", Backoff{Min: 2 * time.Second, Max: 60 * time.Second}},
	{"fixed-10s", Backoff{Min: 10 * time.Second, Max: 10 * time.Second, MaxWithProgress: 10 * time.Second}},
}

// benchPollingRun is one provision driven to its end; the JSON is read by
// internal/devtools/cmd/bench-report (internal/devtools/benchreport.PollingRun mirrors it).
type benchPollingRun struct {
	Policy         string `json:"policy"`
	InstallSeconds int    `json:"install_seconds"`
	Steps          int    `json:"steps"`
	// Outputs are the steps' answers in order: what the state machine's Choice and
	// Wait states see, so that the report counts state transitions from them.
	Outputs          []TaskOutput   `json:"outputs"`
	CloudifyRequests map[string]int `json:"cloudify_requests"`
	CloudifyTotal    int            `json:"cloudify_total"`
	// DetectionSeconds is from Cloudify ending the install to the operation being
	// recorded succeeded (what last_operation answers from then on).
	DetectionSeconds float64 `json:"detection_seconds"`
	// ElapsedSeconds is from the provision being recorded to Cloudify ending the install.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
}

// TestBenchPolling measures, on the simulator's manual clock (exact counts, no
// timing), the steps and detection delay of provisions whose install takes 1 to 60
// minutes, with the engine's backoff and with fixed 10-second polling. It checks only
// that every provision succeeds; with CFYBROKER_BENCH_DIR set (make bench) it writes
// the figures to $CFYBROKER_BENCH_DIR/polling.json for the benchmark report.
func TestBenchPolling(t *testing.T) {
	var runs []benchPollingRun
	for _, p := range benchPollingPolicies {
		for _, d := range benchPollingDurations {
			if testing.Short() && d > 10*time.Minute {
				continue
			}
			r := newRig(t, "7.0.4")
			r.engine.Backoff = p.backoff
			r.sim.SetDuration("mariadb", "install", d)
			op := r.recordProvision("bench", "mariadb", mariadbInputs)
			var outs []TaskOutput
			for len(outs) < 2000 {
				out, err := r.engine.Step(context.Background(), op.ID)
				if err != nil {
					t.Fatalf("%s, %s install: step fault on a fault-free simulator: %v", p.name, d, err)
				}
				outs = append(outs, out)
				if out.Done {
					break
				}
				r.clock.Advance(out.Wait())
			}
			got, err := r.store.GetOperation(context.Background(), op.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != broker.StateSucceeded || got.CloudifyEndedAt.IsZero() {
				t.Fatalf("%s, %s install: %s %q", p.name, d, got.State, got.Description)
			}
			st := r.sim.Stats()
			run := benchPollingRun{
				Policy: p.name, InstallSeconds: int(d / time.Second), Steps: len(outs), Outputs: outs,
				CloudifyRequests: st.Requests, CloudifyTotal: st.TotalRequests,
				DetectionSeconds: got.EndedAt.Sub(got.CloudifyEndedAt).Seconds(),
				ElapsedSeconds:   got.CloudifyEndedAt.Sub(got.CreatedAt).Seconds(),
			}
			t.Logf("%-9s install %5s: %3d steps, %3d Cloudify calls, detected %5.1fs after Cloudify finished",
				p.name, d, run.Steps, run.CloudifyTotal, run.DetectionSeconds)
			runs = append(runs, run)
		}
	}
	dir := os.Getenv("CFYBROKER_BENCH_DIR")
	if dir == "" {
		return
	}
	b, err := json.MarshalIndent(map[string]any{"runs": runs}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "polling.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
