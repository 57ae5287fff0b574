package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// TestBenchASLTransitions replays step answers through the real state machine
// definition: three transitions a step.
func TestBenchASLTransitions(t *testing.T) {
	def, err := sfn.Definition(sfn.DefinitionConfig{StepFunctionARN: "arn:step"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseBenchASL(def)
	if err != nil {
		t.Fatal(err)
	}
	outs := []benchTaskOutput{{WaitSeconds: 2, State: "in progress"}, {WaitSeconds: 0, State: "in progress"}, {Done: true, State: "succeeded"}}
	if n, err := a.transitions(outs); err != nil || n != 9 {
		t.Fatalf("transitions = %d, %v; want 9 (Step, Check, Wait, Step, Check, Wait, Step, Check, Succeeded)", n, err)
	}
	if n, err := a.transitions([]benchTaskOutput{{Done: true, State: "failed"}}); err != nil || n != 3 {
		t.Fatalf("failed operation: %d, %v; want 3 (Step, Check, OperationFailed)", n, err)
	}
	if _, err := a.transitions(outs[:2]); err == nil {
		t.Fatal("an execution without its last answer replayed")
	}
	if _, err := a.transitions(append(outs, outs[0])); err == nil {
		t.Fatal("an execution with an answer too many replayed")
	}
}

func TestBenchFold(t *testing.T) {
	outs := []benchTaskOutput{{WaitSeconds: 2}, {WaitSeconds: 0}, {WaitSeconds: 30}, {WaitSeconds: 0}, {Done: true}}
	got, slept := benchFold(outs, 0, 0)
	if len(got) != 3 || slept != 0 || got[1].WaitSeconds != 30 {
		t.Errorf("fold of zero waits: %+v, %d s; want the answers of steps 1, 3 and 5", got, slept)
	}
	got, slept = benchFold(outs, 20, 45)
	if len(got) != 2 || slept != 2 || got[0].WaitSeconds != 30 || !got[1].Done {
		t.Errorf("fold of waits up to 20 s: %+v, %d s", got, slept)
	}
}

func TestParseGoBench(t *testing.T) {
	in := `goos: linux
pkg: github.com/cfybroker/cfybroker/internal/broker
BenchmarkEmbeddedHandler/catalog-2         	  399421	      3937 ns/op	     488 B/op	       6 allocs/op
BenchmarkEmbeddedHandler/catalog-2         	  399421	      4100 ns/op	     488 B/op	       6 allocs/op
pkg: github.com/cfybroker/cfybroker/internal/osb
BenchmarkCatalog-2   	  800000	      1500 ns/op	     296 B/op	       5 allocs/op
PASS
`
	bs := parseGoBench(strings.NewReader(in))
	if len(bs) != 2 || bs[0].Name != "BenchmarkEmbeddedHandler/catalog" || len(bs[0].NsOp) != 2 || benchMedian(bs[0].NsOp) != 4018.5 ||
		bs[1].Pkg != "github.com/cfybroker/cfybroker/internal/osb" || bs[1].Allocs[0] != 5 {
		t.Fatalf("parsed %+v", bs)
	}
}

// TestBenchReportWithoutResults renders the report from an empty results directory:
// every section says not measured, and nothing panics.
func TestBenchReportWithoutResults(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "docs", "benchmarks.md")
	cmd := newBenchReportCommand()
	cmd.SetArgs([]string{"--in", filepath.Join(dir, "none"), "--out", out, "--stack", filepath.Join(dir, "none.go")})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "not measured") || strings.Contains(string(b), "**met**") {
		t.Fatalf("report without results:\n%s", b)
	}
}

// TestBenchPlot renders the polling plot from a small result and decodes the PNG.
func TestBenchPlot(t *testing.T) {
	r := &benchResults{polling: &benchPollingResult{Runs: []benchPollingRun{
		{Policy: "backoff", InstallSeconds: 60, Steps: 8, DetectionSeconds: 1.8, ElapsedSeconds: 62},
		{Policy: "backoff", InstallSeconds: 600, Steps: 12, DetectionSeconds: 23.8, ElapsedSeconds: 602},
		{Policy: "fixed-10s", InstallSeconds: 60, Steps: 10, DetectionSeconds: 9.8, ElapsedSeconds: 62},
		{Policy: "fixed-10s", InstallSeconds: 600, Steps: 64, DetectionSeconds: 9.8, ElapsedSeconds: 602},
	}}}
	p, ok := r.pollingPlot()
	if !ok {
		t.Fatal("no plot")
	}
	var buf bytes.Buffer
	if err := p.render(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil || img.Bounds().Dx() < 800 {
		t.Fatalf("plot: %v, %v", img.Bounds(), err)
	}
}

// TestBenchReportLifecycle renders the lifecycle, polling and cost sections from a
// small result: one operation whose loop-off answers fold into the as-deployed
// invocations; the memory sizes come from the stack file.
func TestBenchReportLifecycle(t *testing.T) {
	dir := t.TempDir()
	def, err := sfn.Definition(sfn.DefinitionConfig{StepFunctionARN: "arn:step"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []benchTaskOutput{{WaitSeconds: 2}, {WaitSeconds: 0}, {WaitSeconds: 2}, {WaitSeconds: 60}, {Done: true, State: "succeeded"}}
	one := func(o benchTaskOutput) benchInvocation {
		stopped := "inline_off"
		if o.Done {
			stopped = "done"
		}
		return benchInvocation{Steps: 1, PhaseFrom: "installing", PhaseTo: "installing", Stopped: stopped, WaitSeconds: o.WaitSeconds}
	}
	var baseInv []benchInvocation
	for _, o := range steps {
		baseInv = append(baseInv, one(o))
	}
	reqs := []benchCounted{{Kind: "provision", Count: 1}, {Kind: "last_operation", Count: 10, ReadUnits: 10}}
	lc := benchLifecycleResult{
		Store: "DynamoDB Local", DynamoMeasured: true, PlatformPollSeconds: 10, InlineWaitSeconds: 30, InlineBudgetSeconds: 40,
		Runs: []benchLifecycleRun{{InstallSeconds: 600, UninstallSeconds: 120, Requests: reqs, Operations: []benchOperationSteps{{
			benchCounted: benchCounted{Kind: "provision", Count: 2, WriteUnits: 10}, Steps: 5, SleptSeconds: 4,
			Outputs: []benchTaskOutput{steps[3], steps[4]},
			Invocations: []benchInvocation{
				{Steps: 4, SleptSeconds: 4, PhaseFrom: "start", PhaseTo: "installing", Stopped: "wait_over_limit", WaitSeconds: 60},
				{Steps: 1, PhaseFrom: "installing", PhaseTo: "done", Stopped: "done"},
			},
		}}}},
		Baseline: []benchLifecycleRun{{InstallSeconds: 600, UninstallSeconds: 120, Requests: reqs, Operations: []benchOperationSteps{{
			benchCounted: benchCounted{Kind: "provision", Count: 5, WriteUnits: 10}, Steps: 5, Outputs: steps, Invocations: baseInv,
		}}}},
	}
	pol := benchPollingResult{Runs: []benchPollingRun{
		{Policy: "backoff", InstallSeconds: 600, Steps: 5, Outputs: steps, DetectionSeconds: 10, ElapsedSeconds: 602},
		{Policy: "fixed-10s", InstallSeconds: 600, Steps: 5, Outputs: steps, DetectionSeconds: 5, ElapsedSeconds: 602},
	}}
	for name, v := range map[string]any{benchFileLifecycle: lc, benchFilePolling: pol} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, benchFileASL), def, 0o644); err != nil {
		t.Fatal(err)
	}
	stack := filepath.Join(dir, "stack.go")
	if err := os.WriteFile(stack, []byte("const (\n\tmemoryMB = 512\n\tstepMemoryMB = 128\n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := loadBenchResults(dir, stack)
	if r.memoryMB != 512 || r.stepMemoryMB != 128 {
		t.Fatalf("memory %d and %d MB, want 512 and 128", r.memoryMB, r.stepMemoryMB)
	}
	if ok, have := r.foldMatches(); !ok || !have {
		t.Errorf("the fold of the loop-off answers does not match the as-deployed invocations (%v, %v)", ok, have)
	}
	c, ok := r.cost(r.lifecycleRun(600), r.stepMemoryMB)
	if !ok || c.transitions != 6 || c.stepInvokes != 2 || c.steps != 5 || c.sleptSeconds != 4 || c.apiRequests != 11 {
		t.Errorf("cost = %+v, %v", c, ok)
	}
	// (5 × 0.25 s + 4 s) × 0.125 GB
	if want := (5*0.25 + 4) * 0.125; math.Abs(c.stepGBs-want) > 1e-9 {
		t.Errorf("step GB-s = %v, want %v", c.stepGBs, want)
	}
	md := r.markdown("plot.png", false)
	for _, want := range []string{"### Where the transitions go", "| provision | 1 | start → installing | 4 | 4 | wait 60 s (over 30 s) | 3 |",
		"| **as deployed**: waits of up to 30 s slept, 40 s an invocation | measured | 2 | 5 | 4 | 6 |", "gives their measured as-deployed invocations exactly"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(md, "%!") {
		t.Errorf("a formatting error in the report:\n%s", md)
	}
}
