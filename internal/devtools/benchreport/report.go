package benchreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cfybroker/cfybroker/internal/serverless"
)

// Options say where Write reads and writes.
type Options struct {
	// In is the directory of the results that make bench collected (bin/bench).
	In string
	// Out is the report to write (docs/benchmarks.md); the plot is written beside it.
	Out string
	// Templates is the directory of the templates that `make synth` writes
	// (cdk.out), read for the functions' memory size.
	Templates string
}

// Write turns the results in opts.In into the report and its plot, and returns the
// files it wrote and the verdict on each target, one line each. It measures nothing
// itself: a missing result is reported as not measured.
func Write(opts Options) (written, verdicts []string, err error) {
	r := loadBenchResults(opts.In, opts.Templates)
	plotPath := filepath.Join(filepath.Dir(opts.Out), PlotPolling)
	var plot bytes.Buffer
	if p, ok := r.pollingPlot(); ok {
		if err := p.render(&plot); err != nil {
			return nil, nil, fmt.Errorf("plot: %w", err)
		}
	}
	md := r.markdown(PlotPolling, plot.Len() > 0)
	if err := os.MkdirAll(filepath.Dir(opts.Out), 0o755); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(opts.Out, []byte(md), 0o644); err != nil {
		return nil, nil, err
	}
	written = append(written, opts.Out)
	if plot.Len() > 0 {
		if err := os.WriteFile(plotPath, plot.Bytes(), 0o644); err != nil {
			return written, nil, err
		}
		written = append(written, plotPath)
	}
	for _, t := range r.targets() {
		verdicts = append(verdicts, fmt.Sprintf("%-8s %s: %s", t.verdict(), t.Target, t.Measured))
	}
	return written, verdicts, nil
}

// AWS on-demand list prices, us-east-1, as published on AWS's pricing pages
// (aws.amazon.com/lambda/pricing, /step-functions/pricing, /dynamodb/pricing/on-demand,
// /api-gateway/pricing). They are written here, not fetched: check them before quoting.
const (
	benchPriceDate              = "2025 (DynamoDB on-demand as cut on 2024-11-01)"
	benchPriceLambdaGBSecondArm = 0.0000133334 // USD per GB-second, arm64, first 7.5 billion GB-s a month
	benchPriceLambdaRequest     = 0.20 / 1e6   // USD per request
	benchPriceSFNTransition     = 0.025 / 1e3  // USD per state transition, Standard
	benchPriceDynamoRRU         = 0.125 / 1e6  // USD per read request unit, on-demand
	benchPriceDynamoWRU         = 0.625 / 1e6  // USD per write request unit, on-demand
	benchPriceHTTPAPIRequest    = 1.00 / 1e6   // USD per HTTP API request, first 300 million a month
	benchCostTarget             = 0.001        // USD per lifecycle
)

// benchPriceSQSRequest is Amazon SQS's price per standard-queue request
// (aws.amazon.com/sqs/pricing), used only by the what-if of another driver.
const benchPriceSQSRequest = 0.40 / 1e6

// Assumed billed durations of one invocation in AWS (the emulator's warm timings run
// against loopback stand-ins and are reported beside them). A step invocation is
// billed its steps and its sleeps (measured, on the simulated clock).
const (
	benchAssumedAPIMs  = 25.0  // an OSB request: one or two DynamoDB calls
	benchAssumedStepMs = 250.0 // a step: a Cloudify call over the network, a DynamoDB read and write
)

type benchResults struct {
	dir       string
	machine   *Machine
	handler   []*benchGoBench
	polling   *PollingResult
	asl       *benchASL
	aslErr    error
	load      *LoadResult
	lifecycle *LifecycleResult
	cold      *ColdStartResult
	scale     *ScaleResult
	missing   []string
	// memoryMB is the api and catalog functions' memory, stepMemoryMB the step
	// function's, read from the synthesized template; memoryErr says why they were
	// not, and the assumed sizes are then used.
	memoryMB, stepMemoryMB int
	memoryErr              error
}

// The functions' memory assumed when no synthesized template says it (the stack's
// sizes when this was written).
const (
	benchAssumedMemoryMB     = 256
	benchAssumedStepMemoryMB = 128
)

// loadBenchResults reads what exists in dir; what is missing is listed.
func loadBenchResults(dir, templates string) *benchResults {
	r := &benchResults{dir: dir, memoryMB: benchAssumedMemoryMB, stepMemoryMB: benchAssumedStepMemoryMB}
	read := func(name string, v any) bool {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			r.missing = append(r.missing, fmt.Sprintf("%s (%v)", name, err))
			return false
		}
		return true
	}
	if m := new(Machine); read(FileMachine, m) {
		r.machine = m
	}
	if p := new(PollingResult); read(FilePolling, p) {
		r.polling = p
	}
	if l := new(LoadResult); read(FileLoad, l) {
		r.load = l
	}
	if l := new(LifecycleResult); read(FileLifecycle, l) {
		r.lifecycle = l
	}
	if c := new(ColdStartResult); read(FileColdStart, c) {
		r.cold = c
	}
	if s := new(ScaleResult); read(FileScale, s) {
		r.scale = s
	}
	if b, err := os.ReadFile(filepath.Join(dir, FileASL)); err == nil {
		a, err := parseBenchASL(b)
		r.asl, r.aslErr = &a, err
		if err != nil {
			r.asl = nil
		}
	} else {
		r.aslErr = err
		r.missing = append(r.missing, fmt.Sprintf("%s (%v)", FileASL, err))
	}
	if f, err := os.Open(filepath.Join(dir, FileHandler)); err == nil {
		r.handler, err = parseGoBench(FileHandler, f)
		f.Close()
		if err != nil {
			r.missing = append(r.missing, fmt.Sprintf("%s (%v)", FileHandler, err))
		}
	} else {
		r.missing = append(r.missing, fmt.Sprintf("%s (%v)", FileHandler, err))
	}
	r.memoryErr = r.readMemory(templates)
	if r.memoryErr != nil {
		r.missing = append(r.missing, fmt.Sprintf("the functions' memory (%v; %d and %d MB assumed)", r.memoryErr, r.memoryMB, r.stepMemoryMB))
	}
	return r
}

// readMemory takes the functions' memory from the templates in dir.
func (r *benchResults) readMemory(dir string) error {
	mem, err := readLambdaMemory(dir)
	if err != nil {
		return err
	}
	api, okAPI := mem["api"]
	step, okStep := mem["step"]
	if !okAPI || !okStep {
		return fmt.Errorf("%s: the template has no api or no step function", dir)
	}
	r.memoryMB, r.stepMemoryMB = api, step
	return nil
}

func benchMedian(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func benchMinMax(xs []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// ---- derived figures ----------------------------------------------------------------

// loadFigures are one endpoint's medians.
type benchLoadFigures struct {
	brokerRPS, bareRPS, ratio, ratioMin, ratioMax float64
	brokerP50, brokerP99, bareP50, bareP99        float64
}

func (r *benchResults) loadFigures(ep LoadEndpoint) benchLoadFigures {
	var f benchLoadFigures
	var br, ba, ratios, bp50, bp99, ap50, ap99 []float64
	for i := range min(len(ep.Broker), len(ep.Bare)) {
		b, a := ep.Broker[i], ep.Bare[i]
		br, ba = append(br, b.RPS), append(ba, a.RPS)
		if a.RPS > 0 {
			ratios = append(ratios, b.RPS/a.RPS)
		}
		bp50, bp99, ap50, ap99 = append(bp50, b.P50ms), append(bp99, b.P99ms), append(ap50, a.P50ms), append(ap99, a.P99ms)
	}
	f.brokerRPS, f.bareRPS, f.ratio = benchMedian(br), benchMedian(ba), benchMedian(ratios)
	f.ratioMin, f.ratioMax = benchMinMax(ratios)
	f.brokerP50, f.brokerP99, f.bareP50, f.bareP99 = benchMedian(bp50), benchMedian(bp99), benchMedian(ap50), benchMedian(ap99)
	return f
}

// transitions counts the state transitions of one execution, or -1.
func (r *benchResults) transitions(outs []TaskOutput) int {
	if r.asl == nil {
		return -1
	}
	n, err := r.asl.transitions(outs)
	if err != nil {
		r.aslErr = err
		return -1
	}
	return n
}

// pollingRun finds the polling run of a policy and install duration.
func (r *benchResults) pollingRun(policy string, seconds int) *PollingRun {
	if r.polling == nil {
		return nil
	}
	for i := range r.polling.Runs {
		if p := &r.polling.Runs[i]; p.Policy == policy && p.InstallSeconds == seconds {
			return p
		}
	}
	return nil
}

// lifecycleRun finds the lifecycle of an install duration, as deployed.
func (r *benchResults) lifecycleRun(seconds int) *LifecycleRun {
	if r.lifecycle == nil {
		return nil
	}
	return benchFindRun(r.lifecycle.Runs, seconds)
}

// baselineRun finds the lifecycle of an install duration with the inline loop off.
func (r *benchResults) baselineRun(seconds int) *LifecycleRun {
	if r.lifecycle == nil {
		return nil
	}
	return benchFindRun(r.lifecycle.Baseline, seconds)
}

func benchFindRun(runs []LifecycleRun, seconds int) *LifecycleRun {
	for i := range runs {
		if l := &runs[i]; l.InstallSeconds == seconds {
			return l
		}
	}
	return nil
}

// inlineSettings are the step function's inline limit and budget, in seconds: the
// lifecycle's, or the functions' defaults.
func (r *benchResults) inlineSettings() (int, int) {
	if r.lifecycle != nil && r.lifecycle.InlineBudgetSeconds > 0 {
		return r.lifecycle.InlineWaitSeconds, r.lifecycle.InlineBudgetSeconds
	}
	return int(serverless.DefaultStepInlineWait / time.Second), int(serverless.DefaultStepInlineBudget / time.Second)
}

// benchFold groups single-step answers as the step function's inline loop does: after
// a step whose wait is at most maxWait seconds, and keeps the invocation's sleeps
// within maxSleep, the same invocation sleeps it and steps again. It returns the
// answers the state machine sees and the seconds slept inside invocations. (The loop
// also keeps 15 s of the invocation's time in hand, which the function's timeout
// always leaves here.) The report checks it against the measured lifecycles.
func benchFold(outs []TaskOutput, maxWait, maxSleep int) ([]TaskOutput, int) {
	var folded []TaskOutput
	slept, inGroup := 0, 0
	for i, o := range outs {
		if !o.Done && i < len(outs)-1 && o.WaitSeconds <= maxWait && inGroup+o.WaitSeconds <= maxSleep {
			inGroup += o.WaitSeconds
			continue
		}
		slept += inGroup
		inGroup = 0
		folded = append(folded, o)
	}
	return folded, slept
}

// foldMatches reports whether folding the loop-off lifecycles' answers gives the
// measured as-deployed invocations, answer for answer and second for second.
func (r *benchResults) foldMatches() (bool, bool) {
	if r.lifecycle == nil || len(r.lifecycle.Baseline) == 0 {
		return false, false
	}
	wait, budget := r.inlineSettings()
	for _, b := range r.lifecycle.Baseline {
		run := r.lifecycleRun(b.InstallSeconds)
		if run == nil || len(run.Operations) != len(b.Operations) {
			return false, true
		}
		for i, o := range b.Operations {
			folded, slept := benchFold(o.Outputs, wait, budget)
			if fmt.Sprint(folded) != fmt.Sprint(run.Operations[i].Outputs) || slept != run.Operations[i].SleptSeconds {
				return false, true
			}
		}
	}
	return true, true
}

// benchCost is the cost arithmetic of one lifecycle.
type benchCost struct {
	apiRequests, stepInvokes, steps int
	transitions, sleptSeconds       int
	stepMB                          int
	apiGBs, stepGBs, gbSeconds      float64
	rru, wru                        float64
	dynamoMeasured                  bool
	apiGW, lambdaReq, lambdaS       float64
	sfn, dynR, dynW, sqs, total     float64
	sqsRequests                     int
}

// cost computes a measured lifecycle's cost, the step function at stepMB.
func (r *benchResults) cost(run *LifecycleRun, stepMB int) (benchCost, bool) {
	c := benchCost{dynamoMeasured: r.lifecycle.DynamoMeasured, stepMB: stepMB}
	for _, q := range run.Requests {
		if q.Kind == "catalog" {
			continue // the platform reads the catalog on its own schedule, not per lifecycle
		}
		c.apiRequests += q.Count
		c.rru += q.ReadUnits
		c.wru += q.WriteUnits
	}
	for _, o := range run.Operations {
		t := r.transitions(o.Outputs)
		if t < 0 {
			return c, false
		}
		c.transitions += t
		c.stepInvokes += o.Count
		c.steps += o.Steps
		c.sleptSeconds += o.SleptSeconds
		c.rru += o.ReadUnits
		c.wru += o.WriteUnits
	}
	c.apiGBs = float64(r.memoryMB) / 1024 * float64(c.apiRequests) * benchAssumedAPIMs / 1000
	c.stepGBs = float64(stepMB) / 1024 * (float64(c.steps)*benchAssumedStepMs/1000 + float64(c.sleptSeconds))
	c.gbSeconds = c.apiGBs + c.stepGBs
	c.apiGW = float64(c.apiRequests) * benchPriceHTTPAPIRequest
	c.lambdaReq = float64(c.apiRequests+c.stepInvokes) * benchPriceLambdaRequest
	c.lambdaS = c.gbSeconds * benchPriceLambdaGBSecondArm
	c.sfn = float64(c.transitions) * benchPriceSFNTransition
	if c.dynamoMeasured {
		c.dynR, c.dynW = c.rru*benchPriceDynamoRRU, c.wru*benchPriceDynamoWRU
	}
	c.total = c.apiGW + c.lambdaReq + c.lambdaS + c.sfn + c.dynR + c.dynW
	return c, true
}

// callbackDriver is the what-if of another driver for the same invocations: each
// operation's execution enters its Step task once and waits for a task token
// (Step, Check, Succeeded: 3 transitions), and every wait the step function answers
// is an SQS message delayed by it (send, receive, delete: 3 requests) that invokes
// the step function again.
func (r *benchResults) callbackDriver(c benchCost, run *LifecycleRun) benchCost {
	ops := len(run.Operations)
	c.transitions = 3 * ops
	c.sqsRequests = 3 * (c.stepInvokes - ops)
	c.sfn = float64(c.transitions) * benchPriceSFNTransition
	c.sqs = float64(c.sqsRequests) * benchPriceSQSRequest
	c.total = c.apiGW + c.lambdaReq + c.lambdaS + c.sfn + c.dynR + c.dynW + c.sqs
	return c
}

// ---- targets ------------------------------------------------------------------------

type benchTarget struct {
	Target, Measured string
	Met              *bool // nil: not measured
}

func (t benchTarget) verdict() string {
	switch {
	case t.Met == nil:
		return "not measured"
	case *t.Met:
		return "met"
	}
	return "MISSED"
}

func benchBool(b bool) *bool { return &b }

func (r *benchResults) targets() []benchTarget {
	var ts []benchTarget
	// Throughput.
	for _, name := range []string{"last_operation", "catalog"} {
		t := benchTarget{Target: name + ": at least half the throughput of a bare net/http handler", Measured: "not measured"}
		if r.load != nil {
			for _, ep := range r.load.Endpoints {
				if ep.Name == name {
					f := r.loadFigures(ep)
					t.Measured = fmt.Sprintf("%.2f× the bare handler's requests/s (median of %d paired rounds; %.0f vs %.0f req/s)", f.ratio, len(ep.Broker), f.brokerRPS, f.bareRPS)
					t.Met = benchBool(f.ratio >= 0.5)
				}
			}
		}
		ts = append(ts, t)
	}
	// No Cloudify call.
	t := benchTarget{Target: "last_operation and catalog: no Cloudify call", Measured: "not measured"}
	calls, reqs, measured := 0, 0, false
	if r.load != nil {
		for _, ep := range r.load.Endpoints {
			calls += ep.CloudifyCalls
			for _, b := range ep.Broker {
				reqs += b.Requests
			}
			measured = true
		}
	}
	if r.lifecycle != nil {
		for _, run := range r.lifecycle.Runs {
			for _, q := range run.Requests {
				if q.Kind == "last_operation" || q.Kind == "catalog" {
					calls += q.CloudifyCalls
					reqs += q.Count
					measured = true
				}
			}
		}
	}
	if measured {
		t.Measured = fmt.Sprintf("%d Cloudify calls in %s requests (load test and lifecycles)", calls, benchInt(reqs))
		t.Met = benchBool(calls == 0)
	}
	ts = append(ts, t)
	// Cold start.
	t = benchTarget{Target: "Lambda cold start: init under 50 ms", Measured: "not measured"}
	if r.cold != nil && r.cold.Measured {
		ok, parts := true, []string{}
		for _, f := range r.cold.Functions {
			m := benchMedian(f.InitMs)
			_, hi := benchMinMax(f.InitMs)
			parts = append(parts, fmt.Sprintf("%s %.1f ms (max %.1f)", f.Name, m, hi))
			ok = ok && m < 50
		}
		t.Measured = "median init " + strings.Join(parts, ", ")
		t.Met = benchBool(ok)
	} else if r.cold != nil {
		t.Measured = "not measured: " + r.cold.Reason
	}
	ts = append(ts, t)
	t = benchTarget{Target: "Lambda bootstrap under 15 MB", Measured: "not measured"}
	if r.cold != nil && len(r.cold.Functions) > 0 {
		ok, parts := true, []string{}
		for _, f := range r.cold.Functions {
			parts = append(parts, fmt.Sprintf("%s %.1f MB", f.Name, float64(f.Arm64Bytes)/1e6))
			ok = ok && f.Arm64Bytes < 15e6
		}
		t.Measured = strings.Join(parts, ", ") + " (linux/arm64, stripped)"
		t.Met = benchBool(ok)
	}
	ts = append(ts, t)
	// Polling, 10-minute install.
	b, fx := r.pollingRun("backoff", 600), r.pollingRun("fixed-10s", 600)
	t = benchTarget{Target: "10-minute install: at most 15 steps", Measured: "not measured"}
	if b != nil {
		t.Measured = fmt.Sprintf("%d steps", b.Steps)
		t.Met = benchBool(b.Steps <= 15)
	}
	ts = append(ts, t)
	t = benchTarget{Target: "10-minute install: detection delay under 10% of the elapsed time", Measured: "not measured"}
	if b != nil {
		t.Measured = fmt.Sprintf("%.1f s after Cloudify finished, %.1f%% of %.0f s", b.DetectionSeconds, 100*b.DetectionSeconds/b.ElapsedSeconds, b.ElapsedSeconds)
		t.Met = benchBool(b.DetectionSeconds < 0.1*b.ElapsedSeconds)
	}
	ts = append(ts, t)
	t = benchTarget{Target: "10-minute install: at least 4× fewer state transitions than fixed 10-second polling", Measured: "not measured"}
	if b != nil && fx != nil {
		tb, tf := r.transitions(b.Outputs), r.transitions(fx.Outputs)
		if tb > 0 && tf > 0 {
			t.Measured = fmt.Sprintf("%d vs %d transitions at one state-machine loop per step: %.1f× fewer", tb, tf, float64(tf)/float64(tb))
			t.Met = benchBool(tf >= 4*tb)
			wait, budget := r.inlineSettings()
			fb, _ := benchFold(b.Outputs, wait, budget)
			ff, sleptF := benchFold(fx.Outputs, wait, budget)
			if lb, lf := r.transitions(fb), r.transitions(ff); lb > 0 && lf > 0 {
				t.Measured += fmt.Sprintf(" (with the step function's inline loop %d vs %d, %.1f×, fixed polling then sleeping %d s in Lambda)",
					lb, lf, float64(lf)/float64(lb), sleptF)
			}
		}
	}
	ts = append(ts, t)
	// Cost.
	t = benchTarget{Target: "cost per lifecycle (10-minute install, last_operation every 10 s) under $0.001", Measured: "not measured"}
	if run := r.lifecycleRun(600); run != nil {
		if c, ok := r.cost(run, r.stepMemoryMB); ok {
			t.Measured = fmt.Sprintf("$%.5f, of which Step Functions $%.5f (%d transitions, %.0f%%)", c.total, c.sfn, c.transitions, 100*c.sfn/c.total)
			if b := r.baselineRun(600); b != nil {
				if cb, ok := r.cost(b, r.memoryMB); ok {
					t.Measured += fmt.Sprintf("; $%.5f and %d transitions with one step per invocation", cb.total, cb.transitions)
				}
			}
			if c.dynamoMeasured {
				t.Met = benchBool(c.total < benchCostTarget)
			} else {
				t.Measured += "; DynamoDB not measured (DynamoDB Local absent), so incomplete"
				if c.total >= benchCostTarget {
					t.Met = benchBool(false)
				}
			}
		}
	}
	ts = append(ts, t)
	// Scale.
	t = benchTarget{Target: "1,000 instances provisioned at once (embedded): all end succeeded", Measured: "not measured"}
	if r.scale != nil {
		s := r.scale
		t.Measured = fmt.Sprintf("%d of %d succeeded in %.1f s, peak RSS %.0f MiB", s.Succeeded, s.Instances, s.WallSeconds, float64(s.PeakRSSBytes)/(1<<20))
		t.Met = benchBool(s.Succeeded == s.Instances)
	}
	ts = append(ts, t)
	return ts
}

// ---- rendering ----------------------------------------------------------------------

func benchInt(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func benchUSD(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.0001:
		return fmt.Sprintf("$%.7f", v)
	}
	return fmt.Sprintf("$%.5f", v)
}

type benchMD struct{ b strings.Builder }

func (m *benchMD) p(format string, args ...any) { fmt.Fprintf(&m.b, format+"\n", args...) }

// table writes a table; align has one letter per column, l or r (default: the
// first column left, the others right).
func (m *benchMD) table(header []string, rows [][]string, align ...string) {
	m.p("| %s |", strings.Join(header, " | "))
	seps := make([]string, len(header))
	for i := range seps {
		seps[i] = "---"
		if i > 0 {
			seps[i] = "---:"
		}
		if len(align) > 0 && i < len(align[0]) && align[0][i] == 'l' {
			seps[i] = "---"
		}
	}
	m.p("|%s|", strings.Join(seps, "|"))
	for _, r := range rows {
		m.p("| %s |", strings.Join(r, " | "))
	}
	m.p("")
}

func (r *benchResults) markdown(plotName string, havePlot bool) string {
	m := &benchMD{}
	m.p("# Benchmarks")
	m.p("")
	m.p("<!-- Generated by `make bench` (`internal/devtools/cmd/bench-report`); do not edit by hand. -->")
	m.p("")
	if mc := r.machine; mc != nil {
		m.p("Measured on %s: %s, %d CPUs (GOMAXPROCS %d), %s %s/%s; load average %s when the load test started.",
			mc.When, mc.CPUModel, mc.NumCPU, mc.GOMAXPROCS, mc.GoVersion, mc.GOOS, mc.GOARCH, mc.LoadAvg)
	}
	m.p("The machine is shared and noisy (other builds and tests run beside the benchmarks), so absolute times")
	m.p("vary from run to run; the report relies on figures that hold anyway: ratios of the broker to a bare")
	m.p("handler measured in alternating rounds of the same run, medians over repeated runs, and exact counts")
	m.p("(Cloudify calls, steps, state transitions, DynamoDB requests) taken on a simulated clock.")
	m.p("")

	m.p("## Targets")
	m.p("")
	var rows [][]string
	for _, t := range r.targets() {
		rows = append(rows, []string{t.Target, t.Measured, "**" + t.verdict() + "**"})
	}
	m.table([]string{"target", "measured", "verdict"}, rows, "lll")
	if run := r.lifecycleRun(600); run != nil {
		if c, ok := r.cost(run, r.stepMemoryMB); ok && c.total >= benchCostTarget {
			m.p("Why the cost target is missed, and what would reach it: see [the cost section](#cost-per-lifecycle).")
			m.p("")
		}
	}

	r.handlerSection(m)
	r.loadSection(m)
	r.coldSection(m)
	r.cloudifySection(m)
	r.pollingSection(m, plotName, havePlot)
	r.dynamoSection(m)
	r.costSection(m)
	r.scaleSection(m)

	m.p("## How this report is made")
	m.p("")
	m.p("`make bench` runs, in order (results in `bin/bench/`):")
	m.p("")
	m.p("1. `go test -run '^$' -bench . -benchmem -count 5` on `./internal/broker` (the OSB handler over the use cases and")
	m.p("   bbolt: `BenchmarkEmbeddedHandler`) and `./internal/osb` (the handler over a fake broker), into `handler.txt`;")
	m.p("2. `TestBenchPolling` (`internal/workflow`): provisions driven to their end on the simulator's manual clock;")
	m.p("3. the `TestBench*` tests of `cmd/cfybroker`: the loopback load test (`TestBenchLoad`, the e2e harness's")
	m.p("   `startServer`), the lifecycles through the AWS shape's handlers (`TestBenchLifecycle`), the cold starts")
	m.p("   under `aws-lambda-rie` (`TestBenchColdStart`) and the 1,000-instance run (`TestBenchScale`, in a child process);")
	m.p("4. `make synth`, whose template (`cdk.out/`) gives the functions' memory, then `go run ./internal/devtools/cmd/bench-report`,")
	m.p("   which writes this file and `%s`;", plotName)
	m.p("5. `go run ./internal/devtools/cmd/extbench` (wrk installed from Debian when missing), which writes the section")
	m.p("   [Throughput from outside the process](#throughput-from-outside-the-process-wrk).")
	m.p("")
	m.p("DynamoDB Local and the Lambda emulator come from `make local-aws`; without them their rows say \"not measured\".")
	if len(r.missing) > 0 {
		m.p("")
		m.p("Missing results in this run:")
		m.p("")
		for _, s := range r.missing {
			m.p("- %s", s)
		}
	}
	if r.aslErr != nil && r.asl == nil {
		m.p("")
		m.p("State transitions not counted: %v", r.aslErr)
	}
	return m.b.String()
}

func (r *benchResults) handlerSection(m *benchMD) {
	m.p("## Handler cost")
	m.p("")
	if len(r.handler) == 0 {
		m.p("Not measured (no `%s`).", FileHandler)
		m.p("")
		return
	}
	m.p("Go benchmarks, `-benchmem`, median of the `-count` runs. `EmbeddedHandler` is the OSB handler over the")
	m.p("broker's use cases and the embedded bbolt store as `cfybroker serve` wires them, called without the network")
	m.p("(the request log as serve writes it, to nowhere: an INFO line per request, except repeated polls, which the")
	m.p("benchmarks' repeated catalog and last_operation requests are, at DEBUG; no workflow driver; bind's credentials from memory).")
	m.p("Provision and bind commit to bbolt, which fsyncs: their time is mostly the disk's. The `internal/osb`")
	m.p("benchmarks are the handler alone over a fake broker, for comparison.")
	m.p("")
	var rows [][]string
	for _, b := range r.handler {
		pkg := strings.TrimPrefix(b.Pkg, "github.com/cfybroker/cfybroker/")
		alloc := "–"
		if len(b.Allocs) > 0 {
			alloc = fmt.Sprintf("%.0f", benchMedian(b.Allocs))
		}
		bytesOp := "–"
		if len(b.BytesOp) > 0 {
			bytesOp = benchInt(int(benchMedian(b.BytesOp)))
		}
		lo, hi := benchMinMax(b.NsOp)
		rows = append(rows, []string{"`" + pkg + "` " + strings.TrimPrefix(b.Name, "Benchmark"),
			fmt.Sprintf("%.1f", benchMedian(b.NsOp)/1000), fmt.Sprintf("%.1f–%.1f", lo/1000, hi/1000), bytesOp, alloc, strconv.Itoa(len(b.NsOp))})
	}
	m.table([]string{"benchmark", "µs/request (median)", "range", "B/request", "allocs/request", "runs"}, rows)
}

func (r *benchResults) loadSection(m *benchMD) {
	m.p("## Throughput and latency under load")
	m.p("")
	if r.load == nil {
		m.p("Not measured.")
		m.p("")
		return
	}
	l := r.load
	m.p("`cfybroker serve`'s wiring (`startServer`, through the e2e harness, logging as serve does) on 127.0.0.1,")
	m.p("against a bare `net/http` handler that answers the same bytes, in the same process and run: %d rounds of",
		len(l.Endpoints[0].Broker))
	m.p("%.1f s each, broker and bare alternating (which goes first alternates too), %d keep-alive connections, at most",
		l.RoundSeconds, l.Concurrency)
	m.p("%s requests a round. The load generator runs in the same process and shares the 2 CPUs: the absolute", benchInt(l.MaxRequests))
	m.p("figures are the machine's, the ratio is the broker's.")
	m.p("")
	var rows [][]string
	for _, ep := range l.Endpoints {
		f := r.loadFigures(ep)
		rows = append(rows, []string{"`" + ep.Name + "`", benchInt(ep.BodyBytes),
			fmt.Sprintf("%.0f", f.brokerRPS), fmt.Sprintf("%.0f", f.bareRPS),
			fmt.Sprintf("**%.2f×** (%.2f–%.2f)", f.ratio, f.ratioMin, f.ratioMax),
			fmt.Sprintf("%.2f / %.2f", f.brokerP50, f.brokerP99), fmt.Sprintf("%.2f / %.2f", f.bareP50, f.bareP99),
			strconv.Itoa(ep.CloudifyCalls)})
	}
	m.table([]string{"request", "body bytes", "broker req/s", "bare req/s", "ratio (min–max)", "broker p50 / p99 ms", "bare p50 / p99 ms", "Cloudify calls"}, rows)
	m.p("Medians over the rounds; the ratio is the median of each round's broker/bare ratio. Cloudify calls are the")
	m.p("simulator's count during the broker's rounds.")
	m.p("")
}

func (r *benchResults) coldSection(m *benchMD) {
	m.p("## Lambda cold start")
	m.p("")
	c := r.cold
	if c == nil {
		m.p("Not measured.")
		m.p("")
		return
	}
	if !c.Measured {
		m.p("Init and first-invoke times: **not measured**: %s.", c.Reason)
		m.p("")
	} else {
		m.p("Each bootstrap started cold %d times under %s, one emulator per start, with DynamoDB Local, the Cloudify",
			len(c.Functions[0].InitMs), c.Emulator)
		m.p("simulator and a stand-in Secrets Manager on loopback. *Init* is the emulator's `INIT REPORT` duration (the")
		m.p("process start, the configuration, the three secrets read, the clients built); *first invoke* is the wall time")
		m.p("of the first invocation, init included; *warm* the invocations after it. %s.", c.FirstInvokeNote)
		m.p("In AWS, init also pays the Secrets Manager round trips over the network and the code download: these")
		m.p("figures are the functions' own part.")
		m.p("")
	}
	var rows [][]string
	for _, f := range c.Functions {
		row := []string{"`" + f.Name + "`", fmt.Sprintf("%.2f MB", float64(f.Arm64Bytes)/1e6), fmt.Sprintf("%.2f MB (%s)", float64(f.HostBytes)/1e6, f.HostArch)}
		if c.Measured {
			lo, hi := benchMinMax(f.InitMs)
			row = append(row, fmt.Sprintf("**%.1f** (%.1f–%.1f)", benchMedian(f.InitMs), lo, hi))
			if len(f.FirstInvokeMs) > 0 {
				lo, hi = benchMinMax(f.FirstInvokeMs)
				row = append(row, fmt.Sprintf("%.1f (%.1f–%.1f)", benchMedian(f.FirstInvokeMs), lo, hi), fmt.Sprintf("%.1f", benchMedian(f.WarmInvokeMs)))
			} else {
				row = append(row, "not measured", "not measured")
			}
			rss := "–"
			if len(f.RSSKiB) > 0 {
				rss = fmt.Sprintf("%.0f", benchMedian(benchFloats(f.RSSKiB))/1024)
			}
			row = append(row, rss, f.Result)
		} else {
			row = append(row, "not measured", "not measured", "not measured", "–", "–")
		}
		rows = append(rows, row)
	}
	m.table([]string{"function", "bootstrap (arm64, deployed)", "bootstrap (run here)", "init ms, median (min–max)", "first invoke ms", "warm invoke ms", "peak RSS MiB", "first answer"}, rows, "lrrrrrrl")
}

func benchFloats(xs []int64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func (r *benchResults) cloudifySection(m *benchMD) {
	m.p("## Cloudify calls per lifecycle")
	m.p("")
	l := r.lifecycle
	if l == nil {
		m.p("Not measured.")
		m.p("")
		return
	}
	wait, budget := r.inlineSettings()
	m.p("A lifecycle (catalog, provision, bind, unbind, deprovision) through the AWS shape's own handlers")
	m.p("(`internal/serverless`: the api function's OSB handler, the step function's handler, with its defaults) on the")
	m.p("simulator's manual clock: the step function is invoked when the state machine's Wait would end, and within an")
	m.p("invocation it sleeps waits of up to %d s (%d s in all) and steps again, its sleeps advancing the clock", wait, budget)
	m.p("(`STEP_INLINE_WAIT_SECONDS`, `STEP_INLINE_BUDGET_SECONDS`); the platform polls `last_operation` every %d s,", l.PlatformPollSeconds)
	m.p("during those sleeps too. The simulator counts every call. The embedded shape runs the same engine with the same")
	m.p("backoff (`--poll-min` 2 s, 60 s cap), so its steps and calls are the same. Install and uninstall durations are simulated.")
	m.p("")
	var rows [][]string
	for _, run := range l.Runs {
		row := []string{fmt.Sprintf("%d min / %d min", run.InstallSeconds/60, run.UninstallSeconds/60)}
		total := 0
		for _, kind := range []string{"catalog", "provision", "last_operation", "bind", "unbind", "deprovision"} {
			cell := "–"
			for _, q := range run.Requests {
				if q.Kind == kind {
					cell = fmt.Sprintf("%d (%d)", q.CloudifyCalls, q.Count)
					total += q.CloudifyCalls
				}
			}
			row = append(row, cell)
		}
		for _, kind := range []string{"provision", "deprovision"} {
			cell := "–"
			for _, o := range run.Operations {
				if o.Kind == kind {
					cell = fmt.Sprintf("%d (%d steps, %d invocations)", o.CloudifyCalls, o.Steps, o.Count)
					total += o.CloudifyCalls
				}
			}
			row = append(row, cell)
		}
		row = append(row, "**"+strconv.Itoa(total)+"**")
		rows = append(rows, row)
	}
	m.table([]string{"install / uninstall", "catalog", "provision", "last_operation", "bind", "unbind", "deprovision",
		"provision steps", "deprovision steps", "total"}, rows)
	m.p("Cells are Cloudify calls (of the requests, or of the steps and the step function's invocations that ran them).")
	m.p("The OSB requests themselves call Cloudify only for bind (the deployment's capabilities and outputs); provision")
	m.p("and deprovision record the operation and start the state machine; `last_operation` and `catalog` answer from")
	m.p("broker state.")
	m.p("")
	if run := r.lifecycleRun(600); run != nil {
		m.p("By route, 10-minute install:")
		m.p("")
		var routes []string
		for k := range run.CloudifyRoutes {
			routes = append(routes, k)
		}
		sort.Strings(routes)
		rows = nil
		for _, k := range routes {
			rows = append(rows, []string{"`" + k + "`", strconv.Itoa(run.CloudifyRoutes[k])})
		}
		m.table([]string{"route (REST API v3.1)", "calls"}, rows)
	}
}

func (r *benchResults) pollingSection(m *benchMD, plotName string, havePlot bool) {
	m.p("## Polling")
	m.p("")
	if r.polling == nil {
		m.p("Not measured.")
		m.p("")
		return
	}
	wait, budget := r.inlineSettings()
	m.p("Provisions of the `mariadb` sample driven to their end by `workflow.Engine.Step` on the simulator's manual")
	m.p("clock (`TestBenchPolling`, the rig of `internal/workflow/engine_test.go`): exact counts, no timing. *Backoff*")
	m.p("is the engine's own (2 s to 60 s, waits growing with the elapsed time, aimed just past the end that the")
	m.p("execution's progress predicts); *fixed 10 s* looks every 10 s. State transitions are counted by replaying the")
	m.p("answers through the state machine's definition (`internal/workflow/sfn`): Step (Task) + Check (Choice) + Wait")
	m.p("per loop, Step + Check + Succeeded at the end. With one step per invocation every answer is a loop; the step")
	m.p("function as deployed sleeps waits of up to %d s itself (%d s an invocation) and steps again, so only the", wait, budget)
	m.p("answers it does not sleep reach the state machine: the *inline loop* columns fold the steps so")
	switch ok, have := r.foldMatches(); {
	case have && ok:
		m.p("(folding the loop-off lifecycles' answers below gives their measured as-deployed invocations exactly).")
	case have:
		m.p("(**but folding the loop-off lifecycles' answers below does not give their measured as-deployed invocations**).")
	default:
		m.p("(a model: the lifecycles that would check it are not in the results).")
	}
	m.p("The detection delay is from Cloudify ending the install to the operation being recorded succeeded, which")
	m.p("`last_operation` reports from then on (the platform sees it at its next poll).")
	m.p("")
	var rows [][]string
	for _, b := range r.polling.Runs {
		if b.Policy != "backoff" {
			continue
		}
		fb, slept := benchFold(b.Outputs, wait, budget)
		row := []string{fmt.Sprintf("%d min", b.InstallSeconds/60), strconv.Itoa(b.Steps), benchTransitionsCell(r.transitions(b.Outputs)),
			fmt.Sprintf("%d / %s / %d s", len(fb), benchTransitionsCell(r.transitions(fb)), slept),
			fmt.Sprintf("%.1f s (%.1f%%)", b.DetectionSeconds, 100*b.DetectionSeconds/b.ElapsedSeconds)}
		if fx := r.pollingRun("fixed-10s", b.InstallSeconds); fx != nil {
			tb, tf := r.transitions(b.Outputs), r.transitions(fx.Outputs)
			ratio := "–"
			if tb > 0 && tf > 0 {
				ratio = fmt.Sprintf("%.1f×", float64(tf)/float64(tb))
			}
			ff, sleptF := benchFold(fx.Outputs, wait, budget)
			row = append(row, strconv.Itoa(fx.Steps), benchTransitionsCell(tf), fmt.Sprintf("%d / %s / %d s", len(ff), benchTransitionsCell(r.transitions(ff)), sleptF),
				fmt.Sprintf("%.1f s", fx.DetectionSeconds), ratio)
		}
		rows = append(rows, row)
	}
	m.table([]string{"install", "steps", "transitions, one step per invocation", "inline loop: invocations / transitions / slept",
		"detection delay (% of elapsed)", "fixed 10 s: steps", "fixed 10 s: transitions", "fixed 10 s, inline loop", "fixed 10 s: delay",
		"fewer transitions (one step per invocation)"}, rows)
	if havePlot {
		m.p("![Steps, invocations and detection delay against install duration](%s)", plotName)
		m.p("")
	}
	m.p("Every provision makes a few steps that do not poll the install: create the deployment, wait for its")
	m.p("environment (2 s waits), start `install`; with the inline loop they and the first, short looks at the install")
	m.p("share one invocation. Fixed 10-second polling would fold too, but sleep nearly the whole install in Lambda.")
	m.p("The detection delay grows where the backoff's wait, bounded by the")
	m.p("time elapsed, overshoots an end that the progress estimate placed later; the 10%% line of the plot is the target.")
	var over []string
	for _, b := range r.polling.Runs {
		if b.Policy == "backoff" && b.DetectionSeconds >= 0.1*b.ElapsedSeconds {
			over = append(over, fmt.Sprintf("%d min (%.1f%%)", b.InstallSeconds/60, 100*b.DetectionSeconds/b.ElapsedSeconds))
		}
	}
	if len(over) > 0 {
		m.p("The target is set for the 10-minute install; the delay reaches 10%% of the elapsed time for installs of %s.", strings.Join(over, ", "))
	}
	m.p("")
}

func benchTransitionsCell(n int) string {
	if n < 0 {
		return "not counted"
	}
	return strconv.Itoa(n)
}

func (r *benchResults) dynamoSection(m *benchMD) {
	m.p("## DynamoDB reads and writes per lifecycle")
	m.p("")
	l := r.lifecycle
	if l == nil {
		m.p("Not measured.")
		m.p("")
		return
	}
	if !l.DynamoMeasured {
		m.p("**Not measured**: %s. The lifecycles ran on bbolt instead; run `make local-aws` first.", l.DynamoNote)
		m.p("")
		return
	}
	run := r.lifecycleRun(600)
	if run == nil {
		m.p("No 10-minute lifecycle in the results.")
		m.p("")
		return
	}
	m.p("The 10-minute lifecycle above, on %s, counted by `dynamostore.Stats()`: requests (a", l.Store)
	m.p("TransactWriteItems counts once) and the capacity units DynamoDB Local reported as consumed (on-demand tables")
	m.p("bill request units of the same size).")
	m.p("")
	var rows [][]string
	var tr, tw int64
	var tru, twu float64
	add := func(name, count string, c Counted) {
		rows = append(rows, []string{name, count, strconv.FormatInt(c.DynamoReads, 10), strconv.FormatInt(c.DynamoWrites, 10),
			fmt.Sprintf("%.1f", c.ReadUnits), fmt.Sprintf("%.1f", c.WriteUnits)})
		tr, tw, tru, twu = tr+c.DynamoReads, tw+c.DynamoWrites, tru+c.ReadUnits, twu+c.WriteUnits
	}
	for _, q := range run.Requests {
		add("`"+q.Kind+"` requests", strconv.Itoa(q.Count), q)
	}
	for _, o := range run.Operations {
		add(o.Kind+" steps", fmt.Sprintf("%d (in %d invocations)", o.Steps, o.Count), o.Counted)
	}
	rows = append(rows, []string{"**lifecycle**", "", "**" + strconv.FormatInt(tr, 10) + "**", "**" + strconv.FormatInt(tw, 10) + "**",
		fmt.Sprintf("**%.1f**", tru), fmt.Sprintf("**%.1f**", twu)})
	m.table([]string{"what", "count", "reads", "writes", "read units", "write units"}, rows)
	m.p("DynamoDB Local is a 2020 build; whether its reported units include the index's (GSI1) writes, as")
	m.p("DynamoDB's own do, is not verified: the write units may be slightly under the bill.")
	m.p("")
}

func (r *benchResults) costSection(m *benchMD) {
	m.p("## Cost per lifecycle")
	m.p("")
	run := r.lifecycleRun(600)
	if run == nil {
		m.p("Not computed: no 10-minute lifecycle in the results.")
		m.p("")
		return
	}
	c, ok := r.cost(run, r.stepMemoryMB)
	if !ok {
		m.p("Not computed: the state transitions could not be counted (%v).", r.aslErr)
		m.p("")
		return
	}
	wait, budget := r.inlineSettings()
	m.p("### Prices")
	m.p("")
	m.p("AWS public on-demand list prices, US East (N. Virginia), as published on AWS's pricing pages in %s;", benchPriceDate)
	m.p("written into `cmd/cfybroker/bench_report.go`, not fetched: check them before quoting. Free tiers are ignored.")
	m.p("")
	m.table([]string{"service", "price", "source"}, [][]string{
		{"Lambda, arm64, duration", "$0.0000133334 per GB-second", "aws.amazon.com/lambda/pricing"},
		{"Lambda, requests", "$0.20 per million", "aws.amazon.com/lambda/pricing"},
		{"Step Functions Standard", "$0.025 per 1,000 state transitions", "aws.amazon.com/step-functions/pricing"},
		{"DynamoDB on-demand, reads", "$0.125 per million read request units", "aws.amazon.com/dynamodb/pricing/on-demand"},
		{"DynamoDB on-demand, writes", "$0.625 per million write request units", "aws.amazon.com/dynamodb/pricing/on-demand"},
		{"API Gateway HTTP API", "$1.00 per million requests", "aws.amazon.com/api-gateway/pricing"},
		{"SQS standard (what-if below only)", "$0.40 per million requests", "aws.amazon.com/sqs/pricing"},
	}, "lrl")
	m.p("### Arithmetic (10-minute install, %d-minute uninstall, `last_operation` every %d s)", run.UninstallSeconds/60, r.lifecycle.PlatformPollSeconds)
	m.p("")
	m.p("Counts from the lifecycle above, as deployed; the catalog request is left out (a platform reads the catalog on its")
	m.p("own schedule, not per instance), and so are the catalog function's runs (every 5 minutes whatever the number of")
	if r.memoryErr == nil {
		m.p("instances), CloudWatch Logs, storage and data transfer. Memory from the synthesized template (`MemorySize`): the api function %d MB,", r.memoryMB)
	} else {
		m.p("instances), CloudWatch Logs, storage and data transfer. The functions' memory was not read (%v): assumed the api function %d MB,", r.memoryErr, r.memoryMB)
	}
	m.p("the step function %d MB. Billed durations: %.0f ms per OSB request and %.0f ms per step are assumed (the emulator's", c.stepMB, benchAssumedAPIMs, benchAssumedStepMs)
	if r.cold != nil && r.cold.Measured {
		var parts []string
		for _, f := range r.cold.Functions {
			if len(f.WarmInvokeMs) > 0 {
				parts = append(parts, fmt.Sprintf("%s %.1f ms", f.Name, benchMedian(f.WarmInvokeMs)))
			}
		}
		m.p("warm invocations took %s against loopback stand-ins; in AWS a step waits on a manager across the network);", strings.Join(parts, ", "))
	} else {
		m.p("warm invocations were not measured; in AWS a step waits on a manager across the network);")
	}
	m.p("the seconds the step function sleeps between steps are measured (its `Sleep` advanced the simulated clock) and")
	m.p("billed as duration.")
	m.p("")
	gb, sgb := float64(r.memoryMB)/1024, float64(c.stepMB)/1024
	rows := [][]string{
		{"API Gateway requests", fmt.Sprintf("%d OSB requests", c.apiRequests), fmt.Sprintf("%d × $1.00/10⁶", c.apiRequests), benchUSD(c.apiGW)},
		{"Lambda requests", fmt.Sprintf("%d api + %d step invocations", c.apiRequests, c.stepInvokes),
			fmt.Sprintf("%d × $0.20/10⁶", c.apiRequests+c.stepInvokes), benchUSD(c.lambdaReq)},
		{"Lambda duration, api", fmt.Sprintf("%.3f GB-s", c.apiGBs),
			fmt.Sprintf("%d × %.3f s × %.3f GB × $0.0000133334", c.apiRequests, benchAssumedAPIMs/1000, gb), benchUSD(c.apiGBs * benchPriceLambdaGBSecondArm)},
		{"Lambda duration, step", fmt.Sprintf("%.3f GB-s", c.stepGBs),
			fmt.Sprintf("(%d steps × %.3f s + %d s slept) × %.3f GB × $0.0000133334", c.steps, benchAssumedStepMs/1000, c.sleptSeconds, sgb),
			benchUSD(c.stepGBs * benchPriceLambdaGBSecondArm)},
		{"Step Functions", fmt.Sprintf("%d state transitions", c.transitions), fmt.Sprintf("%d × $0.025/10³", c.transitions), "**" + benchUSD(c.sfn) + "**"},
	}
	if c.dynamoMeasured {
		rows = append(rows,
			[]string{"DynamoDB reads", fmt.Sprintf("%.1f read units", c.rru), fmt.Sprintf("%.1f × $0.125/10⁶", c.rru), benchUSD(c.dynR)},
			[]string{"DynamoDB writes", fmt.Sprintf("%.1f write units", c.wru), fmt.Sprintf("%.1f × $0.625/10⁶", c.wru), benchUSD(c.dynW)})
	} else {
		rows = append(rows, []string{"DynamoDB", "not measured (DynamoDB Local absent)", "", "not included"})
	}
	rows = append(rows, []string{"**total**", "", "", fmt.Sprintf("**%s** (target %s)", benchUSD(c.total), benchUSD(benchCostTarget))})
	m.table([]string{"item", "quantity", "arithmetic", "USD"}, rows, "lrlr")

	verdict := "under"
	if c.total >= benchCostTarget {
		verdict = "over"
	}
	m.p("The lifecycle costs **%s**, %s the %s target; Step Functions is %.0f%% of it. Every invocation that does", benchUSD(c.total), verdict, benchUSD(benchCostTarget), 100*c.sfn/c.total)
	m.p("not end the operation costs a loop of three state transitions (Step, Check, Wait; the last one Step, Check,")
	m.p("Succeeded), %s, while a second slept in the step function at %d MB costs %s: waits of up to %.0f s are", benchUSD(3*benchPriceSFNTransition), c.stepMB,
		benchUSD(sgb*benchPriceLambdaGBSecondArm), 3*benchPriceSFNTransition/(sgb*benchPriceLambdaGBSecondArm))
	m.p("cheaper slept than scheduled. The step function sleeps waits of up to %d s, at most %d s an invocation", wait, budget)
	m.p("(and only while its remaining time exceeds the wait by 15 s; its timeout is the budget plus 60 s).")
	m.p("")
	r.transitionsWhere(m, run, c)
	r.whatIf(m, run, c)
}

// transitionsWhere is the table of the step function's invocations in the 10-minute
// lifecycle: where the state transitions go.
func (r *benchResults) transitionsWhere(m *benchMD, run *LifecycleRun, c benchCost) {
	wait, budget := r.inlineSettings()
	m.p("### Where the transitions go")
	m.p("")
	m.p("The step function's invocations in the lifecycle above, with the engine's phases before and after each")
	m.p("(`start` is the first: create the deployment, or halt what runs on it) and why it answered instead of")
	m.p("stepping again (the `stopped` of its log record):")
	m.p("")
	var rows [][]string
	n := 0
	for _, o := range run.Operations {
		for i, inv := range o.Invocations {
			n++
			phases := inv.PhaseFrom
			if inv.PhaseTo != inv.PhaseFrom {
				phases += " → " + inv.PhaseTo
			}
			answer := fmt.Sprintf("wait %d s", inv.WaitSeconds)
			switch inv.Stopped {
			case "done":
				answer = "done"
			case "wait_over_limit":
				answer += fmt.Sprintf(" (over %d s)", wait)
			case "budget":
				answer += fmt.Sprintf(" (over the %d s budget)", budget)
			default:
				answer += " (" + inv.Stopped + ")"
			}
			t := "3"
			if r.transitions(o.Outputs) != 3*len(o.Invocations) {
				t = "–" // the replay does not give three an invocation
			}
			rows = append(rows, []string{o.Kind, strconv.Itoa(i + 1), phases, strconv.Itoa(inv.Steps), strconv.Itoa(inv.SleptSeconds), answer, t})
		}
	}
	m.table([]string{"operation", "invocation", "phases", "steps", "slept s", "answer", "transitions"}, rows, "lrlrrlr")
	var first, waits, ends int
	var long []string
	for _, o := range run.Operations {
		for i, inv := range o.Invocations {
			switch {
			case inv.Stopped == "done":
				ends += 3
			case i == 0:
				first += 3
				long = append(long, fmt.Sprintf("%d", inv.WaitSeconds))
			default:
				waits += 3
				long = append(long, fmt.Sprintf("%d", inv.WaitSeconds))
			}
		}
	}
	m.p("Of the %d transitions, %d are the operations' first invocations (everything up to the first wait over %d s:", c.transitions, first, wait)
	m.p("the deployment created, its environment awaited, `install` started and its first short looks; or the deployment")
	m.p("halted, `uninstall` started and its first looks), %d the loops of the waits the step function hands to the state", waits)
	m.p("machine, and %d the ends (the last look and, for a deprovision, the delete and its check, in one invocation).", ends)
	m.p("The waits it hands over, in seconds: %s. Each costs a loop whatever its length; the engine's backoff, not", strings.Join(long, ", "))
	m.p("the driver, decides how many there are: it doubles the wait with the elapsed time and aims a little before, then just after, the end the")
	m.p("execution's progress predicts (here the simulator's `finished_operations`, a count of a few node operations, so")
	m.p("the last estimate is coarse).")
	m.p("")
}

// whatIf compares the design before the inline loop, as deployed, other settings
// (measured) and another driver (computed).
func (r *benchResults) whatIf(m *benchMD, run *LifecycleRun, c benchCost) {
	m.p("### What remains to gain")
	m.p("")
	type row struct {
		label   string
		c       benchCost
		measure string
	}
	var rs []row
	if b := r.baselineRun(600); b != nil {
		if cb, ok := r.cost(b, r.memoryMB); ok {
			rs = append(rs, row{fmt.Sprintf("before: one step per invocation, every wait a loop, step function at %d MB", r.memoryMB), cb, "measured"})
		}
		if cb, ok := r.cost(b, r.stepMemoryMB); ok && r.stepMemoryMB != r.memoryMB {
			rs = append(rs, row{fmt.Sprintf("one step per invocation, step function at %d MB", r.stepMemoryMB), cb, "measured"})
		}
	}
	wait, budget := r.inlineSettings()
	rs = append(rs, row{fmt.Sprintf("**as deployed**: waits of up to %d s slept, %d s an invocation", wait, budget), c, "measured"})
	for _, v := range r.lifecycle.Variants {
		if v.Run.InstallSeconds != 600 {
			continue
		}
		if cv, ok := r.cost(&v.Run, r.stepMemoryMB); ok {
			rs = append(rs, row{v.Label, cv, "measured"})
		}
	}
	cd := r.callbackDriver(c, run)
	rs = append(rs, row{"another driver: each wait the step function answers an SQS delay message, the execution waiting on a task token", cd, "computed"})
	best := cd
	if b := r.baselineRun(600); b != nil {
		if cb, ok := r.cost(b, r.stepMemoryMB); ok {
			best = r.callbackDriver(cb, b)
			rs = append(rs, row{"the same driver, one step per invocation (a scheduled wait then costs less than a second of sleep)", best, "computed"})
		}
	}
	var rows [][]string
	for _, x := range rs {
		sqs := "–"
		if x.c.sqsRequests > 0 {
			sqs = fmt.Sprintf("%s (%d requests)", benchUSD(x.c.sqs), x.c.sqsRequests)
		}
		rows = append(rows, []string{x.label, x.measure, strconv.Itoa(x.c.stepInvokes), strconv.Itoa(x.c.steps), strconv.Itoa(x.c.sleptSeconds),
			strconv.Itoa(x.c.transitions), benchUSD(x.c.sfn), benchUSD(x.c.lambdaS + x.c.lambdaReq), sqs, "**" + benchUSD(x.c.total) + "**"})
	}
	m.table([]string{"variant (10-minute lifecycle)", "how", "step invocations", "steps", "seconds slept", "transitions", "Step Functions", "Lambda", "SQS", "total"}, rows, "llrrrrrrrr")
	rest := c.total - c.sfn
	m.p("Everything but Step Functions costs %s per lifecycle as deployed (%s of it the platform's %d `last_operation`",
		benchUSD(rest), benchUSD(r.pollCost(run)), benchOpCount(run.Requests, "last_operation"))
	m.p("polls, which the broker does not choose); what remains of the %s target buys %d transitions, %d invocations for",
		benchUSD(benchCostTarget), max(int((benchCostTarget-rest)/benchPriceSFNTransition), 0), max(int((benchCostTarget-rest)/benchPriceSFNTransition), 0)/3)
	m.p("the provision and the deprovision together; the lifecycle takes %d (%d + %d).", c.stepInvokes, benchOpCount(run.operationCounts(), "provision"), benchOpCount(run.operationCounts(), "deprovision"))
	m.p("")
	m.p("- **Sleeping longer waits** (measured above): every wait under the break-even is worth sleeping, whatever the")
	m.p("  total, but past the first invocation the waits handed over are a minute or more: the gain is one loop per")
	m.p("  operation, less the sleep. Each operation in flight also holds a Lambda execution environment (account")
	m.p("  concurrency, shared with the api function) for longer.")
	m.p("- **Fewer loops near the end**: the engine's final approach (a look a little before the estimated end, then one")
	m.p("  just after) costs two loops when the estimate is coarse. An engine that knew the step function sleeps short")
	m.p("  waits could answer waits within the loop's limit once the estimated end is that close, so that the last")
	m.p("  looks are slept, not scheduled (`internal/workflow`, not changed here).")
	m.p("- **Another driver**: a Standard state machine charges per state entered, so each wait it schedules costs")
	m.p("  three transitions (%s). Driving the waits with SQS delay messages (up to 15 minutes; EventBridge Scheduler", benchUSD(3*benchPriceSFNTransition))
	m.p("  one-time schedules, $1.00 per million, beyond) that invoke the step function directly, while the execution")
	m.p("  waits on a task token (`.waitForTaskToken`, with a heartbeat timeout) that the last step returns, keeps the")
	m.p("  state machine as the operation's backstop (Catch to MarkFailed on a task failure or a heartbeat timeout, the")
	m.p("  execution timeout) for 3 transitions an operation; faults are then retried by SQS (visibility timeout, a")
	m.p("  dead-letter queue) instead of the Task's Retry. The computed rows: %s with", benchUSD(cd.total))
	m.p("  the inline loop, %s without it (a delayed message, %s, is then cheaper than any sleep; the event source", benchUSD(best.total), benchUSD(3*benchPriceSQSRequest))
	m.p("  mapping's polling of the queue adds a fixed few tens of cents a month). It changes the state machine, the")
	m.p("  infrastructure (a queue, its event source mapping and redrive) and the step function's handler (a second event")
	m.p("  type); Step is idempotent, so SQS's at-least-once delivery is safe, and the sweep still restarts lost operations.")
	m.p("")
	before := ""
	if b := r.baselineRun(600); b != nil {
		if cb, ok := r.cost(b, r.memoryMB); ok {
			before = fmt.Sprintf(", %.0f%% less than one step per invocation (%s, %d transitions)", 100*(1-c.total/cb.total), benchUSD(cb.total), cb.transitions)
		}
	}
	if c.total >= benchCostTarget {
		m.p("As deployed the lifecycle costs **%s**%s, and %.0f%% over the target.", benchUSD(c.total), before, 100*(c.total/benchCostTarget-1))
		m.p("The settings of this design alone do not reach it (see the measured variants); the driver change would.")
	} else {
		m.p("As deployed the lifecycle costs **%s**%s: under the target.", benchUSD(c.total), before)
	}
	m.p("")
}

// pollCost is what the platform's last_operation polls of a lifecycle cost.
func (r *benchResults) pollCost(run *LifecycleRun) float64 {
	for _, q := range run.Requests {
		if q.Kind == "last_operation" {
			gb := float64(r.memoryMB) / 1024
			v := float64(q.Count) * (benchPriceHTTPAPIRequest + benchPriceLambdaRequest + gb*benchAssumedAPIMs/1000*benchPriceLambdaGBSecondArm)
			if r.lifecycle.DynamoMeasured {
				v += q.ReadUnits*benchPriceDynamoRRU + q.WriteUnits*benchPriceDynamoWRU
			}
			return v
		}
	}
	return 0
}

// operationCounts returns the operations' counts (Count: invocations).
func (run *LifecycleRun) operationCounts() []Counted {
	out := make([]Counted, len(run.Operations))
	for i, o := range run.Operations {
		out[i] = o.Counted
	}
	return out
}

// benchOpCount is the count of the item of a kind.
func benchOpCount(cs []Counted, kind string) int {
	for _, c := range cs {
		if c.Kind == kind {
			return c.Count
		}
	}
	return 0
}

func (r *benchResults) scaleSection(m *benchMD) {
	m.p("## Scale: 1,000 instances at once (embedded)")
	m.p("")
	s := r.scale
	if s == nil {
		m.p("Not measured.")
		m.p("")
		return
	}
	m.p("`startServer` (through the e2e harness, logging as serve does) with the runner's %d workers, against the", s.RunnerConcurrency)
	m.p("simulator (7.0.4, its clock %.0f× real time, every install %.0f s of simulated time, `--poll-min` %d ms so that", s.SimSpeed, s.InstallSeconds, s.PollMinMs)
	m.p("waits scale with it): %s provisions sent by %d clients at once, then every unfinished instance's",
		benchInt(s.Instances), s.ClientConcurrency)
	m.p("`last_operation` polled every 2 s until none is in progress. Broker, simulator and load generator share one")
	m.p("process (run as a child of the test so that its peak memory is this work's alone) and the machine's 2 CPUs.")
	m.p("")
	m.table([]string{"figure", "value"}, [][]string{
		{"instances", benchInt(s.Instances)},
		{"all provisions accepted (202) after", fmt.Sprintf("%.1f s", s.AcceptSeconds)},
		{"wall time until every instance ended", fmt.Sprintf("**%.1f s**", s.WallSeconds)},
		{"succeeded / failed / unfinished", fmt.Sprintf("**%d** / %d / %d", s.Succeeded, s.Failed, s.Unfinished)},
		{"request errors", strconv.Itoa(s.Errors)},
		{"deployments installed on the simulator", benchInt(s.LiveDeployments)},
		{"peak RSS (VmHWM), whole process", fmt.Sprintf("**%.0f MiB** (%.0f MiB at start)", float64(s.PeakRSSBytes)/(1<<20), float64(s.BaselineRSSBytes)/(1<<20))},
		{"peak Go heap (sampled every 100 ms)", fmt.Sprintf("%.0f MiB", float64(s.PeakHeapBytes)/(1<<20))},
		{"Cloudify calls", fmt.Sprintf("%s (%.1f per instance)", benchInt(s.CloudifyCalls), float64(s.CloudifyCalls)/float64(max(s.Instances, 1)))},
		{"last_operation requests", benchInt(s.LastOperations)},
	})
}

// pollingPlot is the PNG of steps, step function invocations and detection delay
// against install duration.
func (r *benchResults) pollingPlot() (benchPlot, bool) {
	if r.polling == nil {
		return benchPlot{}, false
	}
	wait, budget := r.inlineSettings()
	var bx, by, bi, bd, fx, fy, fi, fd, tx, ty []float64
	maxMin := 0.0
	for _, run := range r.polling.Runs {
		x := float64(run.InstallSeconds) / 60
		maxMin = math.Max(maxMin, x)
		folded, _ := benchFold(run.Outputs, wait, budget)
		switch run.Policy {
		case "backoff":
			bx, by, bd = append(bx, x), append(by, float64(run.Steps)), append(bd, run.DetectionSeconds)
			bi = append(bi, float64(len(folded)))
			tx, ty = append(tx, x), append(ty, 0.1*run.ElapsedSeconds)
		case "fixed-10s":
			fx, fy, fd = append(fx, x), append(fy, float64(run.Steps)), append(fd, run.DetectionSeconds)
			fi = append(fi, float64(len(folded)))
		}
	}
	if len(bx) == 0 {
		return benchPlot{}, false
	}
	// Outputs absent (an old polling.json): no invocation series.
	var looks []benchSeries
	looks = append(looks, benchSeries{Name: "backoff: steps", Color: benchBlue, X: bx, Y: by, Marker: true})
	if benchPositive(bi) {
		looks = append(looks, benchSeries{Name: fmt.Sprintf("backoff: invocations (waits ≤ %d s slept)", wait), Color: benchBlue, X: bx, Y: bi, Dashed: true, Marker: true})
	}
	looks = append(looks, benchSeries{Name: "fixed 10 s: steps", Color: benchOrange, X: fx, Y: fy, Marker: true})
	if benchPositive(fi) {
		looks = append(looks, benchSeries{Name: "fixed 10 s: invocations", Color: benchOrange, X: fx, Y: fi, Dashed: true, Marker: true})
	}
	ymax := 0.0
	for _, sr := range looks {
		for _, v := range sr.Y {
			ymax = math.Max(ymax, v)
		}
	}
	return benchPlot{
		Title:  "Polling a provision: backoff vs fixed 10 s",
		XLabel: "install duration (minutes)",
		XMin:   0, XMax: maxMin,
		Panels: []benchPanel{
			{Title: "Steps and step function invocations per provision (log scale)", YLabel: "count", LogY: true, YMax: 10 * ymax, Series: looks},
			{Title: "Detection delay: Cloudify done → operation succeeded", YLabel: "seconds", Series: []benchSeries{
				{Name: "backoff", Color: benchBlue, X: bx, Y: bd, Marker: true},
				{Name: "fixed 10 s", Color: benchOrange, X: fx, Y: fd, Marker: true},
				{Name: "10% of the install (target)", Color: benchGreen, X: tx, Y: ty, Dashed: true},
			}},
		},
	}, true
}

// benchPositive reports whether every value is positive (and there is one).
func benchPositive(xs []float64) bool {
	for _, x := range xs {
		if x <= 0 {
			return false
		}
	}
	return len(xs) > 0
}
