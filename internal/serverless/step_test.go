package serverless_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/workflow"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// loopRig is a provision driven by the step function on the simulator's manual
// clock, as the state machine would: an invocation, then (when not done) the answered
// wait, then the next invocation. Deps.Sleep advances the clock.
type loopRig struct {
	t     *testing.T
	e     *env
	clock *cloudifysim.ManualClock
	step  serverless.StepHandler
	id    string
	// sleeps are every Deps.Sleep call, in order; onSleep runs before each one
	// advances the clock (n counts from 1) and may fail it.
	sleeps  []time.Duration
	onSleep func(n int) error
}

// loopInvocation is what one invocation did.
type loopInvocation struct {
	out    workflow.TaskOutput
	err    error
	steps  int             // the operation's Steps it added
	sleeps []time.Duration // its Deps.Sleep calls
	log    stepLog         // its "step invocation" record
}

// stepLog is the step function's "step invocation" log record.
type stepLog struct {
	Steps   int    `json:"steps"`
	SleptS  int    `json:"slept_s"`
	Stopped string `json:"stopped"`
	Done    bool   `json:"done"`
	WaitS   int    `json:"wait_s"`
}

// newLoopRig records a provision of mariadb, whose install takes install, and builds
// the step function with the inline settings given and the production backoff
// (2 s to 60 s).
func newLoopRig(t *testing.T, inlineWait, budget, install time.Duration) *loopRig {
	t.Helper()
	clock := cloudifysim.NewManualClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	r := &loopRig{t: t, e: newEnvOn(t, clock), clock: clock}
	r.e.sim.SetDuration("mariadb", "install", install)
	r.e.cfg.PollMin, r.e.cfg.PollMax = 2*time.Second, 60*time.Second
	r.e.cfg.StepInlineWait, r.e.cfg.StepInlineBudget = inlineWait, budget
	r.e.deps.Sleep = func(ctx context.Context, d time.Duration) error {
		if d <= 0 {
			t.Errorf("Sleep(%v): the handler sleeps only positive waits", d)
		}
		r.sleeps = append(r.sleeps, d)
		if r.onSleep != nil {
			if err := r.onSleep(len(r.sleeps)); err != nil {
				return err
			}
		}
		r.clock.Advance(d)
		return nil
	}
	r.id = provisionDirect(t, r.e, "i-loop")
	var err error
	if r.step, err = serverless.NewStepHandler(context.Background(), r.e.cfg, r.e.deps); err != nil {
		t.Fatal(err)
	}
	return r
}

// invoke runs one invocation.
func (r *loopRig) invoke(ctx context.Context) loopInvocation {
	r.t.Helper()
	before, logsBefore, sleepsBefore := r.opSteps(), len(r.e.logs.String()), len(r.sleeps)
	out, err := r.step(ctx, sfn.Input{TaskInput: workflow.TaskInput{OperationID: r.id}, ExecutionID: "exec-" + r.id})
	inv := loopInvocation{out: out, err: err, steps: r.opSteps() - before, sleeps: append([]time.Duration(nil), r.sleeps[sleepsBefore:]...)}
	var found int
	for _, line := range strings.Split(r.e.logs.String()[logsBefore:], "\n") {
		if strings.Contains(line, `"msg":"step invocation"`) {
			found++
			if err := json.Unmarshal([]byte(line), &inv.log); err != nil {
				r.t.Fatalf("log record %s: %v", line, err)
			}
		}
	}
	if found != 1 {
		r.t.Errorf("the invocation wrote %d step invocation records, want 1", found)
	}
	return inv
}

// run drives the operation to its end, advancing the clock by every answered wait.
func (r *loopRig) run() []loopInvocation {
	r.t.Helper()
	var invs []loopInvocation
	for range 200 {
		inv := r.invoke(context.Background())
		if inv.err != nil {
			r.t.Fatalf("invocation %d: %v", len(invs)+1, inv.err)
		}
		invs = append(invs, inv)
		if inv.out.Done {
			return invs
		}
		r.clock.Advance(inv.out.Wait())
	}
	r.t.Fatal("the operation did not end in 200 invocations")
	return nil
}

func (r *loopRig) opSteps() int {
	r.t.Helper()
	op, err := r.e.deps.Store.GetOperation(context.Background(), r.id)
	if err != nil {
		r.t.Fatal(err)
	}
	return op.Steps
}

// fold groups single-step answers as the inline loop should: after a step that is
// not done, the invocation goes on while the wait is at most limit and its sleeps
// stay within budget. It returns, per invocation, the steps and the sleeps.
func fold(waits []int, done []bool, limit, budget time.Duration) (steps []int, sleeps [][]time.Duration) {
	n, slept := 0, time.Duration(0)
	var cur []time.Duration
	for i, w := range waits {
		n++
		d := time.Duration(w) * time.Second
		if !done[i] && limit > 0 && budget > 0 && d <= limit && slept+d <= budget {
			if d > 0 {
				cur = append(cur, d)
				slept += d
			}
			continue
		}
		steps, sleeps = append(steps, n), append(sleeps, cur)
		n, slept, cur = 0, 0, nil
	}
	return steps, sleeps
}

// TestStepInlineLoop drives the same provision with the loop off and with several
// limits and budgets: each invocation must run the steps the single-step answers say
// it may (a wait within the limit and the budget is slept and followed by another
// step; a wait of 0 is followed at once), and the operation must end the same way.
func TestStepInlineLoop(t *testing.T) {
	const install = 10 * time.Minute
	base := newLoopRig(t, 0, 0, install).run()
	var waits []int
	var done []bool
	for i, inv := range base {
		if inv.steps != 1 || len(inv.sleeps) != 0 || inv.log.Stopped != map[bool]string{true: "done", false: "inline_off"}[inv.out.Done] {
			t.Fatalf("loop off, invocation %d: %d steps, sleeps %v, log %+v; want one step and no sleep", i+1, inv.steps, inv.sleeps, inv.log)
		}
		waits, done = append(waits, inv.out.WaitSeconds), append(done, inv.out.Done)
	}
	if len(base) < 8 {
		t.Fatalf("the provision took %d steps; the test needs a longer one", len(base))
	}
	t.Logf("loop off: %d invocations, waits %v", len(base), waits)

	for _, c := range []struct{ limit, budget time.Duration }{
		{30 * time.Second, 40 * time.Second}, // the defaults
		{30 * time.Second, 10 * time.Second}, // the budget binds
		{5 * time.Second, 40 * time.Second},  // the limit binds
		{0, 40 * time.Second},                // off
		{30 * time.Second, 0},                // off
		{10 * time.Minute, 10 * time.Minute}, // everything in one invocation
	} {
		t.Run(fmt.Sprintf("limit %v budget %v", c.limit, c.budget), func(t *testing.T) {
			rig := newLoopRig(t, c.limit, c.budget, install)
			invs := rig.run()
			wantSteps, wantSleeps := fold(waits, done, c.limit, c.budget)
			var gotSteps []int
			for i, inv := range invs {
				gotSteps = append(gotSteps, inv.steps)
				if i < len(wantSleeps) && fmt.Sprint(inv.sleeps) != fmt.Sprint(wantSleeps[i]) {
					t.Errorf("invocation %d slept %v, want %v", i+1, inv.sleeps, wantSleeps[i])
				}
				var slept time.Duration
				for _, d := range inv.sleeps {
					slept += d
					if d > c.limit {
						t.Errorf("invocation %d slept %v, over the limit", i+1, d)
					}
				}
				if slept > c.budget {
					t.Errorf("invocation %d slept %v in all, over the budget", i+1, slept)
				}
				if inv.log.Steps != inv.steps || inv.log.SleptS != int(slept/time.Second) || inv.log.Done != inv.out.Done || inv.log.WaitS != inv.out.WaitSeconds {
					t.Errorf("invocation %d: log %+v, but %d steps, slept %v, answered %+v", i+1, inv.log, inv.steps, slept, inv.out)
				}
				if !inv.out.Done {
					w := inv.out.Wait()
					want := "budget"
					switch {
					case c.limit == 0 || c.budget == 0:
						want = "inline_off"
					case w > c.limit:
						want = "wait_over_limit"
					}
					if inv.log.Stopped != want {
						t.Errorf("invocation %d answered %v after sleeping %v: stopped %q, want %q", i+1, w, slept, inv.log.Stopped, want)
					}
				} else if inv.log.Stopped != "done" {
					t.Errorf("last invocation stopped %q, want done", inv.log.Stopped)
				}
			}
			if fmt.Sprint(gotSteps) != fmt.Sprint(wantSteps) {
				t.Errorf("steps per invocation %v, want %v", gotSteps, wantSteps)
			}
			last := invs[len(invs)-1].out
			if last.State != broker.StateSucceeded || !last.Done {
				t.Errorf("the provision ended %+v", last)
			}
			if n, want := strings.Count(rig.e.metrics.String(), `"StepDuration":`), len(base); n != want {
				t.Errorf("%d StepDuration metrics, want one per step, %d", n, want)
			}
			t.Logf("%d invocations, steps %v", len(invs), gotSteps)
		})
	}
}

// TestStepInlineRemainingTime checks the margin: the invocation sleeps a wait only
// while its remaining time is at least 15 s more than the wait.
func TestStepInlineRemainingTime(t *testing.T) {
	r := newLoopRig(t, 30*time.Second, 40*time.Second, 10*time.Minute)
	const timeout = 25 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	inv := r.invoke(ctx)
	if inv.err != nil || inv.out.Done {
		t.Fatalf("invocation: %+v, %v", inv.out, inv.err)
	}
	if inv.log.Stopped != "remaining_time" {
		t.Errorf("stopped %q, want remaining_time (sleeps %v, answered %ds)", inv.log.Stopped, inv.sleeps, inv.out.WaitSeconds)
	}
	var slept time.Duration
	for _, d := range inv.sleeps {
		if timeout-slept < 15*time.Second+d {
			t.Errorf("slept %v with %v left", d, timeout-slept)
		}
		slept += d
	}
	if left := timeout - slept; left >= 15*time.Second+inv.out.Wait() {
		t.Errorf("answered %v with %v left: it could have slept it", inv.out.Wait(), left)
	}
	if len(inv.sleeps) == 0 || inv.steps < 2 {
		t.Errorf("%d steps, sleeps %v: the margin left room for some", inv.steps, inv.sleeps)
	}

	// Less than the margin left: one step, no sleep.
	r2 := newLoopRig(t, 30*time.Second, 40*time.Second, 10*time.Minute)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if inv := r2.invoke(ctx2); inv.err != nil || inv.steps != 1 || len(inv.sleeps) != 0 || inv.log.Stopped != "remaining_time" {
		t.Errorf("10 s left: %d steps, sleeps %v, log %+v, %v; want one step", inv.steps, inv.sleeps, inv.log, inv.err)
	}

	// A long deadline: the budget binds.
	r3 := newLoopRig(t, 30*time.Second, 40*time.Second, 10*time.Minute)
	ctx3, cancel3 := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel3()
	if inv := r3.invoke(ctx3); inv.err != nil || inv.log.Stopped == "remaining_time" {
		t.Errorf("15 min left: log %+v, %v", inv.log, inv.err)
	}
}

// TestStepInlineFaultMidLoop: a fault after some steps ends the invocation at once
// with the StepFault (the state machine's Retry repeats the step); the steps before
// it are recorded, and the next invocation carries on.
func TestStepInlineFaultMidLoop(t *testing.T) {
	r := newLoopRig(t, 30*time.Second, 40*time.Second, 10*time.Minute)
	var fault int
	r.onSleep = func(n int) error {
		if n == 2 {
			fault = r.e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance})
		}
		return nil
	}
	inv := r.invoke(context.Background())
	var sf *sfn.StepFault
	if !errors.As(inv.err, &sf) || sf.Message != "the Cloudify manager answered HTTP 503 (maintenance_mode_active)" {
		t.Fatalf("invocation during maintenance: %v (%T)", inv.err, inv.err)
	}
	if len(inv.sleeps) != 2 {
		t.Errorf("slept %v: the fault must end the invocation at once", inv.sleeps)
	}
	// The steps before the fault are recorded; the faulting one is not.
	if inv.log.Stopped != "fault" || inv.log.Steps != inv.steps+1 || inv.steps < 2 {
		t.Errorf("log %+v, %d steps recorded", inv.log, inv.steps)
	}
	if !strings.Contains(r.e.metrics.String(), `"ErrorCode":"maintenance_mode_active"`) {
		t.Errorf("no CloudifyErrors metric")
	}
	if n := strings.Count(r.e.metrics.String(), `"StepDuration":`); n < inv.log.Steps {
		t.Errorf("%d StepDuration metrics for %d steps", n, inv.log.Steps)
	}
	r.e.sim.RemoveFault(fault)
	r.onSleep = nil
	// The Retry: the operation carries on where it was.
	invs := r.run()
	if last := invs[len(invs)-1].out; last.State != broker.StateSucceeded {
		t.Errorf("after the fault the provision ended %+v", last)
	}
}

// TestStepInlineDoneMidLoop: an operation that ends within the budget ends in one
// invocation, which records its end metrics once.
func TestStepInlineDoneMidLoop(t *testing.T) {
	r := newLoopRig(t, 30*time.Second, 40*time.Second, 5*time.Second)
	inv := r.invoke(context.Background())
	if inv.err != nil || !inv.out.Done || inv.out.State != broker.StateSucceeded {
		t.Fatalf("invocation: %+v, %v", inv.out, inv.err)
	}
	if inv.steps < 4 || inv.log.Steps != inv.steps || inv.log.Stopped != "done" || inv.out.WaitSeconds != 0 {
		t.Errorf("%d steps, log %+v", inv.steps, inv.log)
	}
	if n := strings.Count(r.e.metrics.String(), `"OperationsSucceeded":`); n != 1 {
		t.Errorf("%d OperationsSucceeded metrics, want 1", n)
	}
	if n := strings.Count(r.e.metrics.String(), `"StepDuration":`); n != inv.steps {
		t.Errorf("%d StepDuration metrics for %d steps", n, inv.steps)
	}
	// A repeated task (later) finds it ended and records nothing.
	r.clock.Advance(5 * time.Second)
	again := r.invoke(context.Background())
	if again.err != nil || !again.out.Done || again.steps != 0 {
		t.Errorf("again: %+v, %v", again.out, again.err)
	}
	if n := strings.Count(r.e.metrics.String(), `"OperationsSucceeded":`); n != 1 {
		t.Errorf("%d OperationsSucceeded metrics after a repeated task, want 1", n)
	}
}

// TestStepInlineInterrupted: a sleep cut short (the invocation's context ends)
// answers the last step's wait to the state machine, without an error.
func TestStepInlineInterrupted(t *testing.T) {
	r := newLoopRig(t, 30*time.Second, 40*time.Second, 10*time.Minute)
	r.onSleep = func(n int) error {
		if n == 2 {
			return context.DeadlineExceeded
		}
		return nil
	}
	inv := r.invoke(context.Background())
	if inv.err != nil || inv.out.Done || inv.out.WaitSeconds != int(inv.sleeps[1]/time.Second) {
		t.Fatalf("interrupted invocation: %+v, %v (sleeps %v)", inv.out, inv.err, inv.sleeps)
	}
	if inv.log.Stopped != "interrupted" || inv.log.SleptS != int(inv.sleeps[0]/time.Second) {
		t.Errorf("log %+v", inv.log)
	}
}

// TestDefaultSleep checks the default Deps.Sleep through the handler: it honours the
// context.
func TestDefaultSleep(t *testing.T) {
	clock := cloudifysim.NewManualClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	e := newEnvOn(t, clock)
	e.cfg.StepInlineWait, e.cfg.StepInlineBudget = 30*time.Second, 40*time.Second
	e.cfg.PollMin = 2 * time.Second
	id := provisionDirect(t, e, "i-sleep")
	step, err := serverless.NewStepHandler(context.Background(), e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	// The first step answers 2 s; the context ends before: the real timer gives up.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	out, err := step(ctx, sfn.Input{TaskInput: workflow.TaskInput{OperationID: id}})
	if err != nil || out.Done || out.WaitSeconds != 2 {
		t.Fatalf("step = %+v, %v", out, err)
	}
	// Only a sleep that returned the context's error records "interrupted"; one that
	// ignored the context would have slept the 2 s through and gone on.
	if !strings.Contains(e.logs.String(), `"stopped":"interrupted"`) {
		t.Errorf("no interrupted record: %s", e.logs.String())
	}
}
