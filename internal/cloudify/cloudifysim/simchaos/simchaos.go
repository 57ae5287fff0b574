// Package simchaos holds what the fault campaigns against the Cloudify simulator
// share: the embedded one of cmd/cfybroker (TestChaos) and the AWS-shaped one of
// internal/serverless (TestAWSChaos). It has the campaign's settings from the
// environment, the seeded fault driver, the lost-response front of the simulator,
// the OSB retry loop, a lifecycle's journal, the truth checks against the
// simulator's deployments, and the figures both campaigns print.
//
// It is a normal package (not a _test one) so that both test packages can import
// it; nothing outside tests uses it.
package simchaos

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// ---------------------------------------------------------------------------------
// Settings.

// Settings size a campaign.
type Settings struct {
	Lifecycles  int
	Concurrency int
	Seed        uint64
	Deadline    time.Duration // the broker's operation deadline
}

// SettingsFromEnv reads PREFIX_LIFECYCLES, PREFIX_CONCURRENCY, PREFIX_SEED (default:
// random) and PREFIX_DEADLINE (at least minDeadline) over the defaults in def, and
// fails the test on a malformed value.
func SettingsFromEnv(t testing.TB, prefix string, def Settings, minDeadline time.Duration) Settings {
	t.Helper()
	s := def
	atoi := func(key string, dst *int) {
		if v := os.Getenv(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive integer", key, v)
			}
			*dst = n
		}
	}
	atoi(prefix+"_LIFECYCLES", &s.Lifecycles)
	atoi(prefix+"_CONCURRENCY", &s.Concurrency)
	if v := os.Getenv(prefix + "_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s_SEED=%q: want an unsigned integer", prefix, v)
		}
		s.Seed = n
	} else {
		s.Seed = rand.Uint64() % 1_000_000_000
	}
	if v := os.Getenv(prefix + "_DEADLINE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minDeadline {
			t.Fatalf("%s_DEADLINE=%q: want a duration of at least %s", prefix, v, minDeadline)
		}
		s.Deadline = d
	}
	return s
}

// ---------------------------------------------------------------------------------
// Counters.

// Tally counts events by key, and in all.
type Tally struct {
	byKey sync.Map // key -> *atomic.Int64
	n     atomic.Int64
}

// Add counts one event under key.
func (c *Tally) Add(key string) {
	v, _ := c.byKey.LoadOrStore(key, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	c.n.Add(1)
}

// Total is the number of events under every key.
func (c *Tally) Total() int64 { return c.n.Load() }

// Snapshot is the count of each key.
func (c *Tally) Snapshot() map[string]int64 {
	out := map[string]int64{}
	c.byKey.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// Counts prints a map as "k=v k=v" in key order, or "none".
func Counts[K ~string, V int | int64](m map[K]V) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// ---------------------------------------------------------------------------------
// The lost-response front.

// LostResponses loses, at random, the answers to mutating requests after the
// manager applied them: the request is served, then the connection is closed
// without an answer.
type LostResponses struct {
	mu   sync.Mutex
	rng  *rand.Rand
	prob float64

	lost atomic.Int64
}

// NewLostResponses draws from rng; it loses nothing until SetProb.
func NewLostResponses(rng *rand.Rand) *LostResponses { return &LostResponses{rng: rng} }

// SetProb sets the probability that a mutating request's answer is lost.
func (l *LostResponses) SetProb(v float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prob = v
}

// Lose decides whether this (mutating) request's answer is lost.
func (l *LostResponses) Lose(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.prob > 0 && l.rng.Float64() < l.prob
}

// ServeLost serves the request with h, then closes the connection without an
// answer; a request h dropped itself (a fault) is not counted.
func (l *LostResponses) ServeLost(h http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	if !ServeRecorded(h, rec, r) {
		panic(http.ErrAbortHandler) // the handler dropped the connection (a fault)
	}
	l.lost.Add(1)
	AbortConn(w)
}

// Lost is the number of answers lost.
func (l *LostResponses) Lost() int64 { return l.lost.Load() }

// Handler is next behind the lost responses.
func (l *LostResponses) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.Lose(r) {
			l.ServeLost(next, w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeRecorded serves the request into rec; false when the handler aborted it.
func ServeRecorded(h http.Handler, rec *httptest.ResponseRecorder, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler { // the value net/http handlers panic with to abort
				panic(v)
			}
			ok = false
		}
	}()
	h.ServeHTTP(rec, r)
	return true
}

// AbortConn closes the connection without an answer.
func AbortConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// ---------------------------------------------------------------------------------
// The fault driver.

// EpisodeKinds are the kinds of fault episodes; the last, "mixed", is two of the
// others at once.
var EpisodeKinds = []string{"http_500", "maintenance", "bad_gateway", "drop_connection", "latency", "lost_response", "mixed"}

// FaultDriver switches the simulator's faults (and the lost responses) on and off at
// random, in episodes drawn from its seed.
type FaultDriver struct {
	Sim  *cloudifysim.Simulator
	Lost *LostResponses
	Seed uint64

	// Episodes counts the episodes by kind.
	Episodes Tally
	faulty   atomic.Int64 // ns with at least one fault switched on
}

// FaultyShare is the percentage of wall that faults were on.
func (d *FaultDriver) FaultyShare(wall time.Duration) float64 {
	return 100 * float64(d.faulty.Load()) / float64(max(wall, 1))
}

// Start drives the faults until the returned stop is called (or ctx ends); stop
// waits for the driver, then switches every fault off.
func (d *FaultDriver) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	return func() {
		cancel()
		<-done
		d.Sim.ClearFaults()
		d.Lost.SetProb(0)
	}
}

// Run switches faults on and off at random until ctx ends.
func (d *FaultDriver) Run(ctx context.Context) {
	r := rand.New(rand.NewPCG(d.Seed, 2))
	sim := d.Sim
	sleep := func(wait time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
			return true
		}
	}
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo))) }
	matches := []cloudifysim.FaultMatch{
		{PathPrefix: "/executions"}, {PathPrefix: "/deployments"}, {PathPrefix: "/deployment-updates"},
		{Method: "GET"}, {Method: "POST"}, {Method: "PUT"}, {Method: "DELETE"},
	}
	match := func() cloudifysim.FaultMatch {
		if r.IntN(10) < 7 {
			return cloudifysim.FaultMatch{} // every request
		}
		return matches[r.IntN(len(matches))]
	}
	add := func(kind string) (ids []int, lost bool) {
		switch kind {
		case "http_500":
			f := cloudifysim.Fault{Kind: cloudifysim.FaultHTTPError, Match: match(), Probability: 0.3 + 0.5*r.Float64()}
			if r.IntN(4) == 0 {
				f.Status = 503 // a 503 with Cloudify's JSON error body
			}
			ids = append(ids, sim.AddFault(f))
		case "maintenance":
			ids = append(ids, sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance}))
		case "bad_gateway":
			f := cloudifysim.Fault{Kind: cloudifysim.FaultBadGateway, Match: match(), Probability: 0.3 + 0.5*r.Float64()}
			if r.IntN(3) == 0 {
				f.Status = []int{503, 504}[r.IntN(2)]
			}
			ids = append(ids, sim.AddFault(f))
		case "drop_connection":
			ids = append(ids, sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultDropConnection, Match: match(), Probability: 0.2 + 0.4*r.Float64()}))
		case "latency":
			ids = append(ids, sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultLatency, Match: match(),
				Probability: 0.3 + 0.7*r.Float64(), Latency: between(50*time.Millisecond, 700*time.Millisecond)}))
		case "lost_response":
			d.Lost.SetProb(0.15 + 0.35*r.Float64())
			lost = true
		}
		return ids, lost
	}
	for {
		if !sleep(between(300*time.Millisecond, 1500*time.Millisecond)) {
			return
		}
		kind := EpisodeKinds[r.IntN(len(EpisodeKinds))]
		var ids []int
		lost := false
		if kind == "mixed" {
			for _, k := range []string{EpisodeKinds[r.IntN(6)], EpisodeKinds[r.IntN(6)]} {
				i, l := add(k)
				ids, lost = append(ids, i...), lost || l
			}
		} else {
			ids, lost = add(kind)
		}
		d.Episodes.Add(kind)
		dur := between(300*time.Millisecond, 2500*time.Millisecond)
		if kind == "maintenance" {
			dur = between(500*time.Millisecond, 2000*time.Millisecond)
		}
		on := time.Now()
		ok := sleep(dur)
		for _, id := range ids {
			sim.RemoveFault(id)
		}
		if lost {
			d.Lost.SetProb(0)
		}
		d.faulty.Add(int64(time.Since(on)))
		if !ok {
			return
		}
	}
}

// ---------------------------------------------------------------------------------
// Planning and running the lifecycles.

// DrawKinds adds to kinds, until there are n, kinds drawn from r by their weights
// (in the order of order), then shuffles them.
func DrawKinds[K comparable](r *rand.Rand, kinds []K, n int, order []K, weights map[K]int) []K {
	total := 0
	for _, k := range order {
		total += weights[k]
	}
	for len(kinds) < n {
		x := r.IntN(total)
		for _, k := range order {
			if x < weights[k] {
				kinds = append(kinds, k)
				break
			}
			x -= weights[k]
		}
	}
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	return kinds
}

// RunAll runs run for every lifecycle, concurrency at once, until ctx ends; a
// lifecycle not started by then goes to notStarted instead.
func RunAll[L any](ctx context.Context, concurrency int, lcs []L, run func(context.Context, L), notStarted func(L)) {
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for _, lc := range lcs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			notStarted(lc)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			run(ctx, lc)
		}()
	}
	wg.Wait()
}

// StartFirst moves the kinds first picks (a hang lasts a whole deadline: started
// first, the campaign lasts about one deadline plus the rest, not the sum) before the
// others, keeping the order within each.
func StartFirst[K any](kinds []K, first func(K) bool) {
	slices.SortStableFunc(kinds, func(a, b K) int {
		fa, fb := first(a), first(b)
		switch {
		case fa && !fb:
			return -1
		case fb && !fa:
			return 1
		}
		return 0
	})
}

// EachAtOnce runs fn, all at once, for every lifecycle that which picks, each within
// its own timeout, and waits for them.
func EachAtOnce[L any](ctx context.Context, lcs []L, which func(L) bool, timeout time.Duration, fn func(context.Context, L)) {
	var wg sync.WaitGroup
	for _, lc := range lcs {
		if !which(lc) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, ccancel := context.WithTimeout(ctx, timeout)
			defer ccancel()
			fn(cctx, lc)
		}()
	}
	wg.Wait()
}

// Pages calls fn for every item list returns, page by page (500 at a time), until
// the last page or an error.
func Pages[T any](ctx context.Context, list func(ctx context.Context, after string, limit int) ([]T, string, error), fn func(T)) error {
	after := ""
	for {
		items, next, err := list(ctx, after, 500)
		if err != nil {
			return err
		}
		for _, it := range items {
			fn(it)
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// Journal is what happened to one lifecycle: its trace, its problems, the failures
// it expected and the healthy operations that timed out under faults.
type Journal struct {
	mu       sync.Mutex
	Started  time.Time
	Took     time.Duration
	Expected []string
	TimedOut []string // healthy operations that failed "timed out" under faults
	Problems []string
	Trace    []string
}

// Begin starts the lifecycle's clock; the returned func stops it.
func (j *Journal) Begin() (end func()) {
	j.Started = time.Now()
	return func() { j.Took = time.Since(j.Started) }
}

// Logf adds a line to the trace.
func (j *Journal) Logf(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.Trace = append(j.Trace, fmt.Sprintf("%6.2fs ", time.Since(j.Started).Seconds())+fmt.Sprintf(format, args...))
}

// Problem records a problem (and traces it).
func (j *Journal) Problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	j.Logf("PROBLEM: %s", msg)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.Problems = append(j.Problems, msg)
}

// Expect records a failure the plan wanted.
func (j *Journal) Expect(reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.Expected = append(j.Expected, reason)
}

// NoteTimedOut records a healthy operation that failed "timed out" under faults.
func (j *Journal) NoteTimedOut(what string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.TimedOut = append(j.TimedOut, what)
}

// ---------------------------------------------------------------------------------
// OSB calls.

const (
	// MaxAttempts bounds the tries of one OSB request.
	MaxAttempts = 40
)

// StatusName is how a retry is counted: the status, or "transport" for none.
func StatusName(code int) string {
	if code == 0 {
		return "transport"
	}
	return strconv.Itoa(code)
}

// Call runs one OSB request (fn returns its status, 0 when there is none, and its
// error), retrying it (bounded) while the broker answers 5xx or cannot be reached;
// each retry is counted in retries under "name status" and traced in j.
func Call(ctx context.Context, j *Journal, retries *Tally, name string, fn func() (int, error)) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		code, err := fn()
		if err == nil || code < 500 && code != 0 {
			return err
		}
		if attempt >= MaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("%s: gave up after %d attempts: %w", name, attempt, err)
		}
		status := StatusName(code)
		retries.Add(name + " " + status)
		j.Logf("%s answered %s; retrying in %s", name, status, wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

// TimedOut reports whether an operation's description says it timed out.
func TimedOut(desc string) bool { return strings.HasPrefix(desc, "timed out") }

// ---------------------------------------------------------------------------------
// The checks and the figures.

// Figures are a campaign's results, as far as both campaigns have them.
type Figures struct {
	Lifecycles, Completed, WithProblems int
	ExpectedFailures                    map[string]int
	ExpectedN, TimedOutHealthy          int
	Stuck, Orphans, Lost, Duplicates    int
	StaleRecords, Kept, DeploymentsMade int
	Faults                              map[string]int64
	FaultsTotal                         int64
	SimRequests                         int
	Wall, LifecyclesWall, SlowestLC     time.Duration
	Ops                                 map[string]int
	OpsN                                int
	CheckProblems                       []string
}

// NewFigures starts the figures of n lifecycles.
func NewFigures(n int) Figures {
	return Figures{Lifecycles: n, ExpectedFailures: map[string]int{}, Ops: map[string]int{}}
}

// Problem records a problem the checks found.
func (f *Figures) Problem(format string, args ...any) {
	f.CheckProblems = append(f.CheckProblems, fmt.Sprintf(format, args...))
}

// Failed reports whether the checks counted anything stuck, orphaned, lost,
// duplicated or stale.
func (f *Figures) Failed() bool {
	return f.Stuck+f.Orphans+f.Lost+f.Duplicates+f.StaleRecords > 0
}

// AddLifecycle counts a lifecycle that ended final, with the kinds of the operations
// it started; true when it is the slowest so far.
func (f *Figures) AddLifecycle(j *Journal, final string, opKinds []string) (slowest bool) {
	if len(j.Problems) == 0 && final == "gone" {
		f.Completed++
	}
	if len(j.Problems) > 0 {
		f.WithProblems++
	}
	for _, r := range j.Expected {
		f.ExpectedFailures[r]++
		f.ExpectedN++
	}
	f.TimedOutHealthy += len(j.TimedOut)
	for _, k := range opKinds {
		f.Ops[k]++
		f.OpsN++
	}
	if j.Took > f.SlowestLC {
		f.SlowestLC = j.Took
		return true
	}
	return false
}

// AddSimStats takes the faults the simulator injected and the requests it served.
func (f *Figures) AddSimStats(sim *cloudifysim.Simulator) {
	st := sim.Stats()
	f.Faults = map[string]int64{}
	for k, v := range st.Faults {
		f.Faults[k] = int64(v)
	}
	f.FaultsTotal = int64(st.FaultsInjected)
	f.SimRequests = st.TotalRequests
}

// AddFaults counts n faults of a kind the simulator does not inject itself.
func (f *Figures) AddFaults(kind string, n int64) {
	if n > 0 {
		f.Faults[kind] = n
		f.FaultsTotal += n
	}
}

// WriteHead prints the figures' first lines: the lifecycles (byKind, from Counts),
// their operations (repeats: requests sent twice), the faults and the episodes.
func (f *Figures) WriteHead(b *strings.Builder, byKind string, repeats int64, d *FaultDriver) {
	fmt.Fprintf(b, "  lifecycles          %d (%s)\n", f.Lifecycles, byKind)
	fmt.Fprintf(b, "  succeeded           %d lifecycles ended as planned (%d kept alive through the checks, then deprovisioned); %d with problems\n", f.Completed, f.Kept, f.WithProblems)
	fmt.Fprintf(b, "  operations          %d (%s); %d requests sent twice got the same operation\n", f.OpsN, Counts(f.Ops), repeats)
	fmt.Fprintf(b, "  failed as expected  %d operations (%s)\n", f.ExpectedN, Counts(f.ExpectedFailures))
	fmt.Fprintf(b, "  timed out by faults %d healthy operations failed \"timed out\" and were cleaned up\n", f.TimedOutHealthy)
	fmt.Fprintf(b, "  faults injected     %d (%s)\n", f.FaultsTotal, Counts(f.Faults))
	fmt.Fprintf(b, "  fault episodes      %d (%s), faults on %.0f%% of the time\n", d.Episodes.Total(), Counts(d.Episodes.Snapshot()),
		d.FaultyShare(f.LifecyclesWall))
}

// WriteRetries prints the OSB-call retries line.
func WriteRetries(b *strings.Builder, retries *Tally) {
	fmt.Fprintf(b, "  OSB-call retries    %d (%s)\n", retries.Total(), Counts(retries.Snapshot()))
}

// WriteTail prints the figures' last lines: the manager's requests, the check counts
// (with one more, "what n", at the end) and the wall time.
func (f *Figures) WriteTail(b *strings.Builder, what string, n int64) {
	fmt.Fprintf(b, "  manager requests    %d, deployments created %d\n", f.SimRequests, f.DeploymentsMade)
	fmt.Fprintf(b, "  stuck %d, orphans %d, lost %d, duplicates %d, stale records %d, %s %d\n", f.Stuck, f.Orphans, f.Lost, f.Duplicates, f.StaleRecords, what, n)
	fmt.Fprintf(b, "  wall time           %s (lifecycles %s, slowest lifecycle %s)",
		f.Wall.Round(100*time.Millisecond), f.LifecyclesWall.Round(100*time.Millisecond), f.SlowestLC.Round(100*time.Millisecond))
}

// Truth is the simulator's record of the deployments: how many each id ever had,
// and which live.
type Truth struct {
	Created map[string]int
	Live    map[string]cloudifysim.DeploymentInfo
}

// ReadTruth reads the simulator's deployments.
func ReadTruth(sim *cloudifysim.Simulator) Truth {
	tr := Truth{Created: map[string]int{}, Live: map[string]cloudifysim.DeploymentInfo{}}
	for _, d := range sim.Deployments() {
		tr.Created[d.ID]++
		if d.Exists {
			tr.Live[d.ID] = d
		}
	}
	return tr
}

// Check counts into f the deployments made, the duplicates (an id created more than
// once) and the orphans (a live deployment whose instance is not kept), and records
// a problem for each, for a deployment of no lifecycle, and for a kept one whose
// label labelKey is not its instance's id. owner finds a deployment's lifecycle: its
// instance id and how it ended ("live", "gone" or "").
func (tr Truth) Check(f *Figures, labelKey string, owner func(depID string) (id, final string, ok bool)) {
	f.DeploymentsMade = len(tr.Created)
	for id, n := range tr.Created {
		if n > 1 {
			f.Duplicates++
			f.Problem("duplicate: %d deployments were created with id %s", n, id)
		}
		if _, _, ok := owner(id); !ok {
			f.Problem("deployment %s belongs to no lifecycle", id)
		}
	}
	for id, d := range tr.Live {
		instID, final, ok := owner(id)
		if !ok || final != "live" {
			f.Orphans++
			state := "unknown"
			if ok {
				if state = final; state == "" {
					state = "unfinished"
				}
			}
			f.Problem("orphan: deployment %s is live on the manager but its instance is %s", id, state)
			continue
		}
		if v := Label(d, labelKey); v != instID {
			f.Problem("deployment %s carries instance label %q, want %q", id, v, instID)
		}
	}
}

// CheckKept records a problem when the kept instance id does not have exactly one
// deployment depID ever created, live and installed; false then.
func (tr Truth) CheckKept(f *Figures, id, depID string) (ok bool) {
	ok = true
	if tr.Created[depID] != 1 {
		ok = false
		f.Problem("lost: %s: %d deployments were ever created for it, want 1", id, tr.Created[depID])
	}
	if d, has := tr.Live[depID]; !has || d.InstallationStatus != "active" {
		ok = false
		f.Problem("lost: %s: deployment %s live=%v installation_status=%q", id, depID, has, d.InstallationStatus)
	}
	return ok
}

// CheckNoneLive counts and records, after the cleanup, every deployment still live.
func CheckNoneLive(f *Figures, sim *cloudifysim.Simulator) {
	for _, d := range sim.Deployments() {
		if d.Exists {
			f.Orphans++
			f.Problem("orphan after the cleanup: deployment %s is live", d.ID)
		}
	}
}

// Label is the value of a deployment's label, or "".
func Label(d cloudifysim.DeploymentInfo, key string) string {
	for _, l := range d.Labels {
		if l.Key == key {
			return l.Value
		}
	}
	return ""
}

// ---------------------------------------------------------------------------------
// Reporting.

// Lifecycle is how a report names a lifecycle and finds its journal.
type Lifecycle interface {
	Title() string    // "id (kind, service)"
	Record() *Journal // its journal
}

// LogSlowest logs the slowest lifecycle's trace (with -v).
func LogSlowest(t testing.TB, lc Lifecycle) {
	t.Helper()
	if testing.Verbose() {
		t.Logf("slowest lifecycle %s:\n    %s", lc.Title(), strings.Join(lc.Record().Trace, "\n    "))
	}
}

// ReportProblems fails the test with the checks' problems (at most 40) and the
// lifecycles' (at most most of them); true when there were any.
func ReportProblems[L Lifecycle](t testing.TB, checkProblems []string, lcs []L, most int) (failed bool) {
	t.Helper()
	for i, p := range checkProblems {
		if i == 40 {
			t.Errorf("... and %d more check problems", len(checkProblems)-i)
			break
		}
		t.Errorf("check: %s", p)
		failed = true
	}
	shown := 0
	for _, lc := range lcs {
		j := lc.Record()
		if len(j.Problems) == 0 {
			continue
		}
		failed = true
		if shown++; shown > most {
			continue
		}
		t.Errorf("lifecycle %s: %s\n    %s", lc.Title(), strings.Join(j.Problems, "; "), strings.Join(j.Trace, "\n    "))
	}
	if shown > most {
		t.Errorf("... and %d more lifecycles with problems", shown-most)
	}
	return failed
}

// Grep is the last 80 lines of out that hold any of keys.
func Grep(out string, keys ...string) string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		for _, k := range keys {
			if strings.Contains(line, k) {
				lines = append(lines, line)
				break
			}
		}
	}
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	return strings.Join(lines, "\n")
}
