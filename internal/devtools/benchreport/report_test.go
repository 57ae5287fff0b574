package benchreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

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
	outs := []TaskOutput{{WaitSeconds: 2, State: "in progress"}, {WaitSeconds: 0, State: "in progress"}, {Done: true, State: "succeeded"}}
	if n, err := a.transitions(outs); err != nil || n != 9 {
		t.Fatalf("transitions = %d, %v; want 9 (Step, Check, Wait, Step, Check, Wait, Step, Check, Succeeded)", n, err)
	}
	if n, err := a.transitions([]TaskOutput{{Done: true, State: "failed"}}); err != nil || n != 3 {
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
	outs := []TaskOutput{{WaitSeconds: 2}, {WaitSeconds: 0}, {WaitSeconds: 30}, {WaitSeconds: 0}, {Done: true}}
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
--- a line that is no result
pkg: github.com/cfybroker/cfybroker/internal/osb
BenchmarkCatalog-2   	  800000	      1500 ns/op	     296 B/op	       5 allocs/op
BenchmarkLastOperation   	  800000	      2.5 µs/op
BenchmarkCatalog-2   	  800000	      1700 ns/op	     296 B/op	       5 allocs/op
PASS
`
	got, err := parseGoBench("handler.txt", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []*benchGoBench{
		{Pkg: "github.com/cfybroker/cfybroker/internal/broker", Name: "BenchmarkEmbeddedHandler/catalog",
			NsOp: []float64{3937, 4100}, BytesOp: []float64{488, 488}, Allocs: []float64{6, 6}},
		{Pkg: "github.com/cfybroker/cfybroker/internal/osb", Name: "BenchmarkCatalog",
			NsOp: []float64{1500, 1700}, BytesOp: []float64{296, 296}, Allocs: []float64{5, 5}},
		{Pkg: "github.com/cfybroker/cfybroker/internal/osb", Name: "BenchmarkLastOperation"},
	}
	approx := cmpopts.EquateApprox(1e-9, 1e-9)
	if diff := cmp.Diff(want, got, approx, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("parseGoBench (-want +got):\n%s", diff)
	}
	if m := benchMedian(got[0].NsOp); math.Abs(m-4018.5) > 1e-9 {
		t.Errorf("median = %v, want 4018.5", m)
	}
}

// TestParseGoBenchGroups is a property of the reader: whatever the order of the
// lines, every result of a benchmark lands in its group, in the order of the input,
// and the GOMAXPROCS suffix never makes a group of its own.
func TestParseGoBenchGroups(t *testing.T) {
	names := []string{"BenchmarkA", "BenchmarkA/sub", "BenchmarkB/x/y", "BenchmarkC"}
	var in strings.Builder
	in.WriteString("pkg: example.com/p\n")
	wantNs := map[string][]float64{}
	for i := range 40 {
		n := names[(i*7+i/3)%len(names)]
		ns := float64(100 + i)
		suffix := ""
		if i%2 == 1 {
			suffix = "-8"
		}
		fmt.Fprintf(&in, "%s%s\t1000\t%v ns/op\t%d B/op\t%d allocs/op\n", n, suffix, ns, i, i%5)
		wantNs[n] = append(wantNs[n], ns)
	}
	got, err := parseGoBench("gen", strings.NewReader(in.String()))
	if err != nil {
		t.Fatal(err)
	}
	gotNs := map[string][]float64{}
	for _, b := range got {
		if b.Pkg != "example.com/p" || len(b.BytesOp) != len(b.NsOp) || len(b.Allocs) != len(b.NsOp) {
			t.Errorf("group %+v", b)
		}
		if _, dup := gotNs[b.Name]; dup {
			t.Errorf("two groups named %s", b.Name)
		}
		gotNs[b.Name] = b.NsOp
	}
	if diff := cmp.Diff(wantNs, gotNs, cmpopts.EquateApprox(1e-9, 1e-9)); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

// TestBenchReportWithoutResults renders the report from an empty results directory:
// every section says not measured, and nothing panics.
func TestBenchReportWithoutResults(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "docs", "benchmarks.md")
	written, verdicts, err := Write(Options{In: filepath.Join(dir, "none"), Out: out, Templates: filepath.Join(dir, "cdk.out")})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 1 || written[0] != out || len(verdicts) == 0 {
		t.Errorf("wrote %v, verdicts %v", written, verdicts)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "not measured") || strings.Contains(string(b), "**met**") ||
		strings.Contains(string(b), "%!") {
		t.Fatalf("report without results:\n%s", b)
	}
}

// TestBenchPlot renders the polling plot from a small result and decodes the PNG.
func TestBenchPlot(t *testing.T) {
	r := &benchResults{polling: &PollingResult{Runs: []PollingRun{
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
	steps := []TaskOutput{{WaitSeconds: 2}, {WaitSeconds: 0}, {WaitSeconds: 2}, {WaitSeconds: 60}, {Done: true, State: "succeeded"}}
	one := func(o TaskOutput) Invocation {
		stopped := "inline_off"
		if o.Done {
			stopped = "done"
		}
		return Invocation{Steps: 1, PhaseFrom: "installing", PhaseTo: "installing", Stopped: stopped, WaitSeconds: o.WaitSeconds}
	}
	var baseInv []Invocation
	for _, o := range steps {
		baseInv = append(baseInv, one(o))
	}
	reqs := []Counted{{Kind: "provision", Count: 1}, {Kind: "last_operation", Count: 10, ReadUnits: 10}}
	lc := LifecycleResult{
		Store: "DynamoDB Local", DynamoMeasured: true, PlatformPollSeconds: 10, InlineWaitSeconds: 30, InlineBudgetSeconds: 40,
		Runs: []LifecycleRun{{InstallSeconds: 600, UninstallSeconds: 120, Requests: reqs, Operations: []OperationSteps{{
			Counted: Counted{Kind: "provision", Count: 2, WriteUnits: 10}, Steps: 5, SleptSeconds: 4,
			Outputs: []TaskOutput{steps[3], steps[4]},
			Invocations: []Invocation{
				{Steps: 4, SleptSeconds: 4, PhaseFrom: "start", PhaseTo: "installing", Stopped: "wait_over_limit", WaitSeconds: 60},
				{Steps: 1, PhaseFrom: "installing", PhaseTo: "done", Stopped: "done"},
			},
		}}}},
		Baseline: []LifecycleRun{{InstallSeconds: 600, UninstallSeconds: 120, Requests: reqs, Operations: []OperationSteps{{
			Counted: Counted{Kind: "provision", Count: 5, WriteUnits: 10}, Steps: 5, Outputs: steps, Invocations: baseInv,
		}}}},
	}
	pol := PollingResult{Runs: []PollingRun{
		{Policy: "backoff", InstallSeconds: 600, Steps: 5, Outputs: steps, DetectionSeconds: 10, ElapsedSeconds: 602},
		{Policy: "fixed-10s", InstallSeconds: 600, Steps: 5, Outputs: steps, DetectionSeconds: 5, ElapsedSeconds: 602},
	}}
	for name, v := range map[string]any{FileLifecycle: lc, FilePolling: pol} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, FileASL), def, 0o644); err != nil {
		t.Fatal(err)
	}
	r := loadBenchResults(dir, "testdata")
	if r.memoryMB != 512 || r.stepMemoryMB != 128 || r.memoryErr != nil {
		t.Fatalf("memory %d and %d MB (%v), want 512 and 128 from testdata/", r.memoryMB, r.stepMemoryMB, r.memoryErr)
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
		"Memory from the synthesized template (`MemorySize`): the api function 512 MB,",
		"| **as deployed**: waits of up to 30 s slept, 40 s an invocation | measured | 2 | 5 | 4 | 6 |", "gives their measured as-deployed invocations exactly"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(md, "%!") {
		t.Errorf("a formatting error in the report:\n%s", md)
	}
}
