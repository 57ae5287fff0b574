package main

// The fault campaign: many whole lifecycles run at once against the Cloudify simulator
// while a fault driver switches faults on and off at random; afterwards every instance
// is checked against the simulator's truth and the broker's answers.
//
//	go test -run TestChaos -count=1 -v ./cmd/cfybroker/                      (short: 24 lifecycles)
//	CHAOS_LIFECYCLES=200 go test -run TestChaos -count=1 -v -timeout 30m ./cmd/cfybroker/
//
// Environment: CHAOS_LIFECYCLES (default 24), CHAOS_CONCURRENCY (default 12),
// CHAOS_SEED (default: random, printed), CHAOS_DEADLINE (the broker's operation
// deadline, default 20s), CHAOS_LOG (a file to write the broker's debug logs to).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// chaosSettings size a campaign.
type chaosSettings struct {
	Lifecycles  int
	Concurrency int
	Seed        uint64
	Deadline    time.Duration // the broker's DefaultDeadline
	LogPath     string
}

func chaosSettingsFromEnv(t *testing.T) chaosSettings {
	t.Helper()
	s := chaosSettings{Lifecycles: 24, Concurrency: 12, Deadline: 20 * time.Second, LogPath: os.Getenv("CHAOS_LOG")}
	atoi := func(key string, dst *int) {
		if v := os.Getenv(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive integer", key, v)
			}
			*dst = n
		}
	}
	atoi("CHAOS_LIFECYCLES", &s.Lifecycles)
	atoi("CHAOS_CONCURRENCY", &s.Concurrency)
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: want an unsigned integer", v)
		}
		s.Seed = n
	} else {
		s.Seed = rand.Uint64() % 1_000_000_000
	}
	if v := os.Getenv("CHAOS_DEADLINE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 5*time.Second {
			t.Fatalf("CHAOS_DEADLINE=%q: want a duration of at least 5s", v)
		}
		s.Deadline = d
	}
	return s
}

// lcKind is what a lifecycle does.
type lcKind string

const (
	// kindFull: provision, bind, fetch the binding, maybe update, unbind, deprovision.
	kindFull lcKind = "full"
	// kindKeep: like full, but the instance (and its binding) stays until the checks.
	kindKeep lcKind = "keep"
	// kindFailingBP: the failing-install service; provision fails, deprovision cleans up.
	kindFailingBP lcKind = "failing-blueprint"
	// kindInstallFails: a healthy service whose install is made to fail on the manager.
	kindInstallFails lcKind = "install-fails"
	// kindInstallHangs: the install hangs past the deadline; the deprovision halts it.
	kindInstallHangs lcKind = "install-hangs"
	// kindUpdateHangs: the update hangs past the deadline; the deprovision halts it.
	kindUpdateHangs lcKind = "update-hangs"
	// kindEarlyDeprovision: deprovision while the provision runs.
	kindEarlyDeprovision lcKind = "deprovision-while-provisioning"
)

var allKinds = []lcKind{kindFull, kindKeep, kindFailingBP, kindInstallFails, kindInstallHangs, kindUpdateHangs, kindEarlyDeprovision}

// kindWeights is the share of each kind beyond the one of each every campaign has.
var kindWeights = map[lcKind]int{
	kindFull: 44, kindKeep: 14, kindFailingBP: 8, kindInstallFails: 8,
	kindInstallHangs: 6, kindUpdateHangs: 3, kindEarlyDeprovision: 17,
}

// chaosService is a service of the simulator's sample catalog with valid parameters.
type chaosService struct {
	name    string
	params  func(r *rand.Rand, id string) map[string]any
	update  func(r *rand.Rand) map[string]any
	credKey string // a credential every binding carries
}

var chaosServices = []chaosService{
	{
		name: "mariadb",
		params: func(r *rand.Rand, id string) map[string]any {
			p := map[string]any{"admin_password": fmt.Sprintf("Chaos-pw-%06d", r.IntN(1_000_000))}
			if r.IntN(2) == 0 {
				p["flavor"] = []string{"small", "medium", "large"}[r.IntN(3)]
			}
			if r.IntN(3) == 0 {
				p["node_count"] = 1 + r.IntN(3)
			}
			return p
		},
		update: func(r *rand.Rand) map[string]any {
			return map[string]any{"db_name": fmt.Sprintf("db_%d", r.IntN(1000))}
		},
		credKey: "host",
	},
	{
		name: "redis-cache",
		params: func(r *rand.Rand, id string) map[string]any {
			return map[string]any{"memory_mb": []int{256, 512, 1024, 2048}[r.IntN(4)], "persistence": r.IntN(2) == 0}
		},
		update:  func(r *rand.Rand) map[string]any { return map[string]any{"eviction_policy": "volatile-lru"} },
		credKey: "host",
	},
	{
		name: "s3-bucket",
		params: func(r *rand.Rand, id string) map[string]any {
			return map[string]any{"region": []string{"eu-west-1", "eu-central-1", "us-east-1", "us-west-2"}[r.IntN(4)], "bucket_prefix": "chaos"}
		},
		update:  func(r *rand.Rand) map[string]any { return map[string]any{"versioning": true} },
		credKey: "bucket_name",
	},
}

var failingService = chaosService{name: "failing-install", params: func(*rand.Rand, string) map[string]any { return nil }}

// opRecord is one asynchronous operation a lifecycle started.
type opRecord struct {
	kind string // provision, update, deprovision
	key  osbc.OperationKey
}

// chaosLC is one lifecycle: its plan and what happened.
type chaosLC struct {
	idx                               int
	id, depID                         string
	kind                              lcKind
	svc                               chaosService
	serviceID, planID                 string
	update, updateFails, refuseDelete bool
	repeat                            bool // send provision and deprovision twice
	hangState                         string
	earlyDelay                        time.Duration
	rng                               *rand.Rand

	mu       sync.Mutex
	ops      []opRecord
	final    string // "gone", "live" (kept) or "" (the lifecycle did not finish)
	bound    bool   // a binding exists (kept lifecycles)
	expected []string
	timedOut []string // healthy operations that failed "timed out" under faults
	problems []string
	trace    []string
	started  time.Time
	took     time.Duration
}

func (lc *chaosLC) logf(format string, args ...any) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.trace = append(lc.trace, fmt.Sprintf("%6.2fs ", time.Since(lc.started).Seconds())+fmt.Sprintf(format, args...))
}

func (lc *chaosLC) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	lc.logf("PROBLEM: %s", msg)
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.problems = append(lc.problems, msg)
}

func (lc *chaosLC) expect(reason string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.expected = append(lc.expected, reason)
}

func (lc *chaosLC) addOp(kind string, key *osbc.OperationKey) {
	if key == nil {
		return
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.ops = append(lc.ops, opRecord{kind: kind, key: *key})
}

// chaosProxy stands in front of the simulator and adds what its own faults do not
// model: a response lost after the manager applied the request, and an operator who
// starts an execution just before the broker deletes a deployment.
type chaosProxy struct {
	sim  *cloudifysim.Simulator
	auth string

	mu       sync.Mutex
	rng      *rand.Rand
	lostProb float64
	armed    map[string]bool // deployment ids whose next DELETE meets a running execution

	lost, operatorExecs, refusedDeletes atomic.Int64
}

func (p *chaosProxy) arm(depID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed[depID] = true
}

func (p *chaosProxy) setLostProb(v float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lostProb = v
}

// loseResponse decides whether this (mutating) request's answer is lost.
func (p *chaosProxy) loseResponse(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lostProb > 0 && p.rng.Float64() < p.lostProb
}

func (p *chaosProxy) disarm(depID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.armed[depID] {
		delete(p.armed, depID)
		return true
	}
	return false
}

// startOperatorExecution starts check_status on the deployment behind the broker's
// back (force: even when something else runs), as an operator would; it reports
// whether the manager accepted it.
func (p *chaosProxy) startOperatorExecution(depID string) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if r != http.ErrAbortHandler { // the value net/http handlers panic with to abort
				panic(r)
			}
			ok = false // the simulator dropped it (an injected fault)
		}
	}()
	body := fmt.Sprintf(`{"deployment_id":%q,"workflow_id":"check_status","force":true}`, depID)
	req := httptest.NewRequest(http.MethodPost, "/api/v3.1/executions", strings.NewReader(body))
	req.Header.Set("Authorization", p.auth)
	req.Header.Set("Tenant", "default_tenant")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	p.sim.ServeHTTP(rec, req)
	return rec.Code == http.StatusCreated
}

func (p *chaosProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isDelete := false
	if r.Method == http.MethodDelete {
		if id, ok := strings.CutPrefix(r.URL.Path, "/api/v3.1/deployments/"); ok && !strings.Contains(id, "/") {
			isDelete = true
			if p.disarm(id) {
				if p.startOperatorExecution(id) {
					p.operatorExecs.Add(1)
				} else {
					p.arm(id) // try again at the next delete
				}
			}
		}
	}
	if p.loseResponse(r) {
		rec := httptest.NewRecorder()
		p.sim.ServeHTTP(rec, r)
		p.lost.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	sw := &statusWriter{ResponseWriter: w}
	p.sim.ServeHTTP(sw, r)
	if isDelete && sw.status == http.StatusBadRequest {
		p.refusedDeletes.Add(1)
	}
}

// statusWriter records the status of a response and lets the simulator hijack.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// countingHandler counts the broker's log records by message and passes them on.
type countingHandler struct {
	inner  slog.Handler
	counts *logCounts
}

type logCounts struct {
	stepRetries atomic.Int64 // the runner's "step failed; retrying"
	errors      atomic.Int64 // records at level ERROR
	mu          sync.Mutex
	cancels     map[string]int // deprovisions' "cancelling execution", by workflow and action
}

func (h countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.inner.Enabled(ctx, l)
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	switch r.Message {
	case "step failed; retrying":
		h.counts.stepRetries.Add(1)
	case "cancelling execution":
		var wf, action string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "workflow_id":
				wf = a.Value.String()
			case "action":
				action = a.Value.String()
			}
			return true
		})
		h.counts.mu.Lock()
		h.counts.cancels[wf+" "+action]++
		h.counts.mu.Unlock()
	}
	if r.Level >= slog.LevelError {
		h.counts.errors.Add(1)
	}
	if h.inner.Enabled(ctx, r.Level) {
		return h.inner.Handle(ctx, r)
	}
	return nil
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{inner: h.inner.WithAttrs(as), counts: h.counts}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{inner: h.inner.WithGroup(name), counts: h.counts}
}

// chaos is one campaign.
type chaos struct {
	t      *testing.T
	set    chaosSettings
	e      *e2e
	proxy  *chaosProxy
	logs   *syncBuffer
	counts *logCounts

	osbRetries   sync.Map // "call status" -> *atomic.Int64
	osbRetryN    atomic.Int64
	episodes     sync.Map // episode kind -> *atomic.Int64
	episodeN     atomic.Int64
	faultyTime   atomic.Int64 // ns with at least one fault switched on
	abandonedOps atomic.Int64
	repeats      atomic.Int64
}

func (c *chaos) bump(m *sync.Map, key string) {
	v, _ := m.LoadOrStore(key, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func snapshot(m *sync.Map) map[string]int64 {
	out := map[string]int64{}
	m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// TestChaos is the fault campaign (see the top of the file).
func TestChaos(t *testing.T) {
	if testing.Short() && os.Getenv("CHAOS_LIFECYCLES") == "" {
		t.Skip("the fault campaign takes tens of seconds; skipped with -short")
	}
	set := chaosSettingsFromEnv(t)
	t.Logf("chaos: seed %d (CHAOS_SEED=%d repeats the plan and the fault episodes), %d lifecycles, %d at once, deadline %s",
		set.Seed, set.Seed, set.Lifecycles, set.Concurrency, set.Deadline)
	began := time.Now()

	c := newChaos(t, set)
	lcs := c.plan()
	catalog := c.catalogIDs()
	for _, lc := range lcs {
		ids, ok := catalog[lc.svc.name]
		if !ok {
			t.Fatalf("service %q is not in the catalog", lc.svc.name)
		}
		lc.serviceID, lc.planID = ids[0], ids[1]
	}

	// Everything ends by itself: each lifecycle has its own deadline, and the whole
	// campaign stops before the test binary's own timeout.
	runCtx, cancelRun := context.WithCancel(context.Background())
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(runCtx, dl.Add(-45*time.Second))
		defer cancel()
	}
	defer cancelRun()

	faultsCtx, stopFaults := context.WithCancel(runCtx)
	faultsDone := make(chan struct{})
	go func() { defer close(faultsDone); c.driveFaults(faultsCtx) }()

	sem := make(chan struct{}, set.Concurrency)
	var wg sync.WaitGroup
	for _, lc := range lcs {
		select {
		case sem <- struct{}{}:
		case <-runCtx.Done():
		}
		if runCtx.Err() != nil {
			lc.problem("not started: the campaign ran out of time")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.runLifecycle(runCtx, lc)
		}()
	}
	wg.Wait()
	stopFaults()
	<-faultsDone
	c.e.sim.ClearFaults()
	c.proxy.setLostProb(0)
	lifecyclesTook := time.Since(began)

	f := c.check(lcs)
	f.wall = time.Since(began)
	f.lifecyclesWall = lifecyclesTook
	c.report(lcs, f)
}

func newChaos(t *testing.T, set chaosSettings) *chaos {
	t.Helper()
	sim := cloudifysim.New(cloudifysim.Config{
		Version: "7.0.4", Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true,
		Clock: newSpeedClock(10), Seed: set.Seed + 1,
	})
	proxy := &chaosProxy{
		sim: sim, auth: "Basic " + basicAuth("admin", "cfy-pw"),
		rng: rand.New(rand.NewPCG(set.Seed, 3)), armed: map[string]bool{},
	}
	ts := httptest.NewServer(proxy)
	t.Cleanup(ts.Close)

	c := &chaos{t: t, set: set, proxy: proxy, logs: &syncBuffer{}, counts: &logCounts{cancels: map[string]int{}}}
	var inner slog.Handler = slog.NewJSONHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo})
	if set.LogPath != "" {
		f, err := os.Create(set.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		inner = slog.NewJSONHandler(io.MultiWriter(f, c.logs), &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	e := &e2e{t: t, sim: sim, simURL: ts.URL, cfg: serveConfig{
		Listen: "127.0.0.1:0", Username: testUser, Password: testPass,
		CloudifyURL: ts.URL, CloudifyTenant: "default_tenant", CloudifyUsername: "admin", CloudifyPassword: "cfy-pw",
		DataDir: t.TempDir(), DashboardTemplate: "{manager}/console/deployments/{deployment_id}",
		DefaultDeadline: set.Deadline, Concurrency: 16, PollMin: 100 * time.Millisecond,
		// The catalog is rebuilt from the manager during the campaign too: a sync that
		// meets a fault must keep the previous catalog.
		CatalogInterval: 3 * time.Second,
	}}
	e.logTo = slog.New(countingHandler{inner: inner, counts: c.counts})
	e.start()
	t.Cleanup(func() { e.stop() })
	c.e = e
	return c
}

// plan draws the lifecycles: at least one of each kind, the rest by weight.
func (c *chaos) plan() []*chaosLC {
	r := rand.New(rand.NewPCG(c.set.Seed, 1))
	n := c.set.Lifecycles
	var kinds []lcKind
	if n >= len(allKinds) {
		kinds = append(kinds, allKinds...)
	}
	total := 0
	for _, k := range allKinds {
		total += kindWeights[k]
	}
	for len(kinds) < n {
		x := r.IntN(total)
		for _, k := range allKinds {
			if x < kindWeights[k] {
				kinds = append(kinds, k)
				break
			}
			x -= kindWeights[k]
		}
	}
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	// Hangs last a whole deadline: start them early so that the campaign's length is
	// about one deadline plus the rest, not the sum.
	slices.SortStableFunc(kinds, func(a, b lcKind) int {
		ha, hb := a == kindInstallHangs || a == kindUpdateHangs, b == kindInstallHangs || b == kindUpdateHangs
		switch {
		case ha && !hb:
			return -1
		case hb && !ha:
			return 1
		}
		return 0
	})
	lcs := make([]*chaosLC, n)
	for i, k := range kinds {
		lc := &chaosLC{idx: i, kind: k, rng: rand.New(rand.NewPCG(c.set.Seed, uint64(100+i)))}
		lc.id = fmt.Sprintf("chaos-%d-%03d", c.set.Seed%100000, i)
		lc.depID = broker.DeploymentID(lc.id)
		lc.svc = chaosServices[r.IntN(len(chaosServices))]
		switch k {
		case kindFailingBP:
			lc.svc = failingService
		case kindInstallHangs:
			lc.hangState = []string{"started", "started", "pending"}[r.IntN(3)]
		case kindUpdateHangs:
			lc.update = true
		case kindFull, kindKeep:
			lc.update = r.IntN(2) == 0
			lc.updateFails = lc.update && r.IntN(6) == 0
		case kindEarlyDeprovision:
			lc.earlyDelay = time.Duration(r.IntN(900)) * time.Millisecond
		}
		// An operator starts an execution just before the broker deletes the deployment.
		lc.refuseDelete = k != kindKeep && r.IntN(5) == 0
		lc.repeat = r.IntN(4) == 0
		lcs[i] = lc
	}
	return lcs
}

// catalogIDs maps service names to their service and first plan ids.
func (c *chaos) catalogIDs() map[string][2]string {
	cat, err := c.e.client.GetCatalog()
	if err != nil {
		c.t.Fatalf("catalog: %v", err)
	}
	out := map[string][2]string{}
	for _, s := range cat.Services {
		out[s.Name] = [2]string{s.ID, s.Plans[0].ID}
	}
	return out
}

// faultEpisode kinds.
var episodeKinds = []string{"http_500", "maintenance", "bad_gateway", "drop_connection", "latency", "lost_response", "mixed"}

// driveFaults switches faults on and off at random until ctx ends.
func (c *chaos) driveFaults(ctx context.Context) {
	r := rand.New(rand.NewPCG(c.set.Seed, 2))
	sim := c.e.sim
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
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
			c.proxy.setLostProb(0.15 + 0.35*r.Float64())
			lost = true
		}
		return ids, lost
	}
	for {
		if !sleep(between(300*time.Millisecond, 1500*time.Millisecond)) {
			return
		}
		kind := episodeKinds[r.IntN(len(episodeKinds))]
		var ids []int
		lost := false
		if kind == "mixed" {
			for _, k := range []string{episodeKinds[r.IntN(6)], episodeKinds[r.IntN(6)]} {
				i, l := add(k)
				ids, lost = append(ids, i...), lost || l
			}
		} else {
			ids, lost = add(kind)
		}
		c.bump(&c.episodes, kind)
		c.episodeN.Add(1)
		d := between(300*time.Millisecond, 2500*time.Millisecond)
		if kind == "maintenance" {
			d = between(500*time.Millisecond, 2000*time.Millisecond)
		}
		on := time.Now()
		ok := sleep(d)
		for _, id := range ids {
			sim.RemoveFault(id)
		}
		if lost {
			c.proxy.setLostProb(0)
		}
		c.faultyTime.Add(int64(time.Since(on)))
		if !ok {
			return
		}
	}
}

const (
	osbMaxAttempts = 40
	pollEvery      = 120 * time.Millisecond
)

// call runs one OSB request, retrying it (bounded) while the broker answers 5xx.
func (c *chaos) call(ctx context.Context, lc *chaosLC, name string, fn func() error) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		code := statusOf(err)
		if err == nil || code < 500 && code != 0 {
			return err
		}
		if attempt >= osbMaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("%s: gave up after %d attempts: %w", name, attempt, err)
		}
		status := strconv.Itoa(code)
		if code == 0 {
			status = "transport"
		}
		c.bump(&c.osbRetries, name+" "+status)
		c.osbRetryN.Add(1)
		lc.logf("%s answered %s; retrying in %s", name, status, wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

// pollResult is how an operation ended.
type pollResult struct {
	state osbc.LastOperationState
	desc  string
	gone  bool
}

// poll follows last_operation until it leaves "in progress" (or the instance is gone).
func (c *chaos) poll(ctx context.Context, lc *chaosLC, key *osbc.OperationKey) (pollResult, error) {
	var last string
	for {
		var resp *osbc.LastOperationResponse
		err := c.call(ctx, lc, "last_operation", func() (err error) {
			resp, err = c.e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: lc.id, OperationKey: key})
			return err
		})
		switch {
		case osbc.IsGoneError(err):
			return pollResult{gone: true}, nil
		case err != nil:
			return pollResult{}, err
		case resp.State != osbc.StateInProgress:
			return pollResult{state: resp.State, desc: deref(resp.Description)}, nil
		}
		last = deref(resp.Description)
		select {
		case <-ctx.Done():
			return pollResult{}, fmt.Errorf("still in progress when the lifecycle's deadline passed (last: %q)", last)
		case <-time.After(pollEvery + time.Duration(lc.rng.IntN(80))*time.Millisecond):
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func timedOut(desc string) bool { return strings.HasPrefix(desc, "timed out") }

// runLifecycle runs one lifecycle to its end; what goes wrong is recorded, not fatal.
func (c *chaos) runLifecycle(parent context.Context, lc *chaosLC) {
	lc.started = time.Now()
	defer func() { lc.took = time.Since(lc.started) }()
	// provision + update + deprovision (twice) each within the deadline, and slack for
	// the runner's retry backoff (up to a minute) and the polls.
	ctx, cancel := context.WithTimeout(parent, 4*c.set.Deadline+90*time.Second)
	defer cancel()
	sim := c.e.sim
	lc.logf("plan: %s, service %s, update=%v updateFails=%v refuseDelete=%v repeat=%v hang=%q", lc.kind, lc.svc.name, lc.update, lc.updateFails, lc.refuseDelete, lc.repeat, lc.hangState)
	switch lc.kind {
	case kindInstallFails:
		sim.FailWorkflow(lc.depID, "install", "")
		defer sim.ReleaseWorkflow(lc.depID, "install")
	case kindInstallHangs:
		sim.HangWorkflow(lc.depID, "install", lc.hangState)
		defer sim.ReleaseWorkflow(lc.depID, "install")
	case kindUpdateHangs:
		sim.HangWorkflow(lc.depID, "update", "started")
		defer sim.ReleaseWorkflow(lc.depID, "update")
	}
	if lc.updateFails {
		sim.FailWorkflow(lc.depID, "update", "")
		defer sim.ReleaseWorkflow(lc.depID, "update")
	}
	if lc.refuseDelete {
		// The operator's check_status runs 3 s (real time): the deprovision has to
		// halt it after the manager refused the delete.
		sim.SetDuration(lc.depID, "check_status", 30*time.Second)
		c.proxy.arm(lc.depID)
		defer c.proxy.disarm(lc.depID)
	}

	// Provision.
	req := &osbc.ProvisionRequest{InstanceID: lc.id, AcceptsIncomplete: true, ServiceID: lc.serviceID, PlanID: lc.planID,
		OrganizationGUID: "chaos-org", SpaceGUID: "chaos-space", Parameters: lc.svc.params(lc.rng, lc.id)}
	var prov *osbc.ProvisionResponse
	if err := c.call(ctx, lc, "provision", func() (err error) { prov, err = c.e.client.ProvisionInstance(req); return err }); err != nil {
		lc.problem("provision: %v", err)
		return
	}
	if !prov.Async || prov.OperationKey == nil {
		lc.problem("provision answered %+v, want 202 with an operation", prov)
		return
	}
	lc.addOp("provision", prov.OperationKey)
	lc.logf("provision accepted, operation %s", *prov.OperationKey)
	if lc.repeat {
		// The platform sends the same request again (as after a client-side timeout):
		// the same operation, or 200 if it has already succeeded.
		time.Sleep(time.Duration(lc.rng.IntN(300)) * time.Millisecond)
		var again *osbc.ProvisionResponse
		err := c.call(ctx, lc, "provision", func() (err error) { again, err = c.e.client.ProvisionInstance(req); return err })
		c.repeats.Add(1)
		switch {
		case err == nil && again.Async && again.OperationKey != nil && *again.OperationKey == *prov.OperationKey:
		case err == nil && !again.Async:
			lc.logf("repeated provision: 200, it has succeeded already")
		case statusOf(err) == http.StatusConflict:
			lc.logf("repeated provision: 409, it has failed already")
		default:
			lc.problem("repeated provision answered %+v, %v; want 202 with operation %s", again, err, *prov.OperationKey)
		}
	}

	if lc.kind == kindEarlyDeprovision {
		select {
		case <-ctx.Done():
		case <-time.After(lc.earlyDelay):
		}
		c.deprovision(ctx, lc)
		// The provision itself ended too: halted, or succeeded if it won the race.
		res, err := c.poll(ctx, lc, prov.OperationKey)
		switch {
		case err != nil:
			lc.problem("provision operation after the deprovision: %v", err)
		case res.gone:
			lc.problem("last_operation of the provision answered 410")
		case res.state == osbc.StateFailed && strings.Contains(res.desc, "halted"):
			lc.expect("provision halted by the deprovision")
		case res.state == osbc.StateSucceeded:
			lc.logf("the provision finished before the deprovision halted it")
		default:
			lc.problem("provision ended %s (%s) after a deprovision, want failed (halted) or succeeded", res.state, res.desc)
		}
		return
	}

	res, err := c.poll(ctx, lc, prov.OperationKey)
	if err != nil {
		lc.problem("provision: %v", err)
		c.abandon(lc)
		return
	}
	if res.gone {
		lc.problem("last_operation of a provision answered 410")
		return
	}
	lc.logf("provision ended %s: %s", res.state, res.desc)
	provisioned := res.state == osbc.StateSucceeded
	switch lc.kind {
	case kindFailingBP, kindInstallFails:
		if provisioned || !strings.Contains(res.desc, "install") {
			lc.problem("provision ended %s (%s), want failed naming the install", res.state, res.desc)
		} else {
			lc.expect("install failed")
		}
	case kindInstallHangs:
		if provisioned || !timedOut(res.desc) {
			lc.problem("provision with a hung install ended %s (%s), want failed: timed out", res.state, res.desc)
		} else {
			lc.expect("hung install timed out")
		}
	default:
		if !provisioned {
			if timedOut(res.desc) {
				lc.mu.Lock()
				lc.timedOut = append(lc.timedOut, "provision: "+res.desc)
				lc.mu.Unlock()
			} else {
				lc.problem("provision of a healthy service failed: %s", res.desc)
			}
		}
	}

	if provisioned {
		if !c.bindAndUse(ctx, lc) {
			c.abandon(lc)
			return
		}
	}
	if lc.kind == kindKeep && provisioned {
		lc.mu.Lock()
		lc.final = "live"
		lc.mu.Unlock()
		lc.logf("kept for the checks")
		return
	}
	c.deprovision(ctx, lc)
}

// bindAndUse binds, fetches the binding, maybe updates, and (unless kept) unbinds.
func (c *chaos) bindAndUse(ctx context.Context, lc *chaosLC) bool {
	bindingID := lc.id + "-b"
	var bind *osbc.BindResponse
	err := c.call(ctx, lc, "bind", func() (err error) {
		bind, err = c.e.client.Bind(&osbc.BindRequest{InstanceID: lc.id, BindingID: bindingID, ServiceID: lc.serviceID, PlanID: lc.planID, AcceptsIncomplete: true})
		return err
	})
	if err != nil {
		lc.problem("bind: %v", err)
		return false
	}
	if bind.Credentials[lc.svc.credKey] == nil {
		lc.problem("bind: credentials %v lack %q", slices.Sorted(maps.Keys(bind.Credentials)), lc.svc.credKey)
	}
	lc.mu.Lock()
	lc.bound = true
	lc.mu.Unlock()
	var got *osbc.GetBindingResponse
	err = c.call(ctx, lc, "fetch_binding", func() (err error) {
		got, err = c.e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: lc.id, BindingID: bindingID})
		return err
	})
	switch {
	case err != nil:
		lc.problem("fetch binding: %v", err)
	case fmt.Sprint(got.Credentials[lc.svc.credKey]) != fmt.Sprint(bind.Credentials[lc.svc.credKey]):
		lc.problem("fetch binding: %s = %v, bind gave %v", lc.svc.credKey, got.Credentials[lc.svc.credKey], bind.Credentials[lc.svc.credKey])
	}

	if lc.update {
		c.updateInstance(ctx, lc)
	}
	if lc.kind == kindKeep {
		return true
	}
	status, err := c.raw(ctx, lc, "unbind", http.MethodDelete,
		"/v2/service_instances/"+lc.id+"/service_bindings/"+bindingID+"?service_id="+lc.serviceID+"&plan_id="+lc.planID)
	switch {
	case err != nil:
		lc.problem("unbind: %v", err)
	case status != http.StatusOK:
		lc.problem("unbind answered %d, want 200 (the binding was lost?)", status)
	default:
		lc.mu.Lock()
		lc.bound = false
		lc.mu.Unlock()
	}
	return true
}

func (c *chaos) updateInstance(ctx context.Context, lc *chaosLC) {
	var upd *osbc.UpdateInstanceResponse
	params := lc.svc.update(lc.rng)
	err := c.call(ctx, lc, "update", func() (err error) {
		upd, err = c.e.client.UpdateInstance(&osbc.UpdateInstanceRequest{InstanceID: lc.id, AcceptsIncomplete: true, ServiceID: lc.serviceID, Parameters: params})
		return err
	})
	if err != nil {
		lc.problem("update: %v", err)
		return
	}
	if !upd.Async || upd.OperationKey == nil {
		lc.problem("update answered %+v, want 202", upd)
		return
	}
	lc.addOp("update", upd.OperationKey)
	res, err := c.poll(ctx, lc, upd.OperationKey)
	if err != nil {
		lc.problem("update: %v", err)
		return
	}
	lc.logf("update ended %s: %s", res.state, res.desc)
	switch {
	case res.gone:
		lc.problem("last_operation of an update answered 410")
	case lc.kind == kindUpdateHangs:
		if res.state != osbc.StateFailed || !timedOut(res.desc) {
			lc.problem("update with a hung workflow ended %s (%s), want failed: timed out", res.state, res.desc)
		} else {
			lc.expect("hung update timed out")
		}
	case lc.updateFails:
		if res.state != osbc.StateFailed {
			lc.problem("update with a failing workflow ended %s (%s), want failed", res.state, res.desc)
		} else {
			lc.expect("update failed")
		}
	case res.state != osbc.StateSucceeded:
		if timedOut(res.desc) {
			lc.mu.Lock()
			lc.timedOut = append(lc.timedOut, "update: "+res.desc)
			lc.mu.Unlock()
		} else {
			lc.problem("update failed: %s", res.desc)
		}
	default:
		for k, v := range params {
			if d, ok := c.e.sim.Deployment(lc.depID); !ok || fmt.Sprint(d.Inputs[k]) != fmt.Sprint(v) {
				lc.problem("after the update the deployment's input %s = %v, want %v", k, d.Inputs[k], v)
			}
		}
	}
	// A failed update leaves the instance usable: it can still be fetched.
	err = c.call(ctx, lc, "fetch_instance", func() error {
		_, err := c.e.client.GetInstance(&osbc.GetInstanceRequest{InstanceID: lc.id})
		return err
	})
	if err != nil {
		lc.problem("fetch instance after the update: %v", err)
	}
}

// deprovision deprovisions and polls to 410; a deprovision that fails is asked again.
func (c *chaos) deprovision(ctx context.Context, lc *chaosLC) {
	for attempt := 1; attempt <= 3; attempt++ {
		var dep *osbc.DeprovisionResponse
		err := c.call(ctx, lc, "deprovision", func() (err error) {
			dep, err = c.e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: lc.id, AcceptsIncomplete: true, ServiceID: lc.serviceID, PlanID: lc.planID})
			return err
		})
		if err != nil {
			lc.problem("deprovision: %v", err)
			c.abandon(lc)
			return
		}
		if !dep.Async || dep.OperationKey == nil {
			lc.problem("deprovision answered %+v, want 202", dep)
			return
		}
		lc.addOp("deprovision", dep.OperationKey)
		if lc.repeat {
			var again *osbc.DeprovisionResponse
			err := c.call(ctx, lc, "deprovision", func() (err error) {
				again, err = c.e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: lc.id, AcceptsIncomplete: true, ServiceID: lc.serviceID, PlanID: lc.planID})
				return err
			})
			c.repeats.Add(1)
			switch {
			case err == nil && again.Async && again.OperationKey != nil && *again.OperationKey == *dep.OperationKey:
			case err == nil && !again.Async: // 410 (or 200): it has ended already
			default:
				lc.problem("repeated deprovision answered %+v, %v; want 202 with operation %s", again, err, *dep.OperationKey)
			}
		}
		res, err := c.poll(ctx, lc, dep.OperationKey)
		if err != nil {
			lc.problem("deprovision: %v", err)
			c.abandon(lc)
			return
		}
		if res.gone {
			lc.logf("deprovisioned (410)")
			lc.mu.Lock()
			lc.final = "gone"
			lc.mu.Unlock()
			return
		}
		lc.logf("deprovision ended %s: %s", res.state, res.desc)
		if res.state == osbc.StateFailed && timedOut(res.desc) {
			lc.mu.Lock()
			lc.timedOut = append(lc.timedOut, "deprovision: "+res.desc)
			lc.mu.Unlock()
			continue
		}
		lc.problem("deprovision ended %s (%s), want 410 Gone", res.state, res.desc)
		if res.state != osbc.StateFailed {
			return
		}
	}
	lc.problem("still not deprovisioned after 3 deprovisions")
}

// abandon notes a lifecycle that stopped half-way (its problem is recorded already).
func (c *chaos) abandon(lc *chaosLC) {
	c.abandonedOps.Add(1)
	lc.logf("abandoned")
}

// raw sends an OSB request and returns the exact status (the client library folds
// 410 into success on deletes), retrying 5xx like call.
func (c *chaos) raw(ctx context.Context, lc *chaosLC, name, method, path string) (int, error) {
	status := 0
	err := c.call(ctx, lc, name, func() error {
		req, err := http.NewRequestWithContext(ctx, method, c.e.url+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-Broker-API-Version", "2.17")
		req.SetBasicAuth(testUser, testPass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
		if status >= 500 {
			return osbc.HTTPStatusCodeError{StatusCode: status}
		}
		return nil
	})
	return status, err
}

// lastOperation asks last_operation of an operation without the client library (which
// logs every non-2xx answer through klog).
func (c *chaos) lastOperation(ctx context.Context, instanceID, operation string) (code int, state, desc string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.e.url+"/v2/service_instances/"+instanceID+"/last_operation?operation="+url.QueryEscape(operation), nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("X-Broker-API-Version", "2.17")
	req.SetBasicAuth(testUser, testPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	var body struct {
		State       string `json:"state"`
		Description string `json:"description"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return resp.StatusCode, "", "", err
		}
	}
	return resp.StatusCode, body.State, body.Description, nil
}

// chaosFigures are the campaign's results.
type chaosFigures struct {
	lifecycles, completed, withProblems int
	byKind                              map[lcKind]int
	expectedFailures                    map[string]int
	expectedN, timedOutHealthy          int
	stuck, orphans, lost, duplicates    int
	staleRecords, kept, deploymentsMade int
	faults                              map[string]int64
	faultsTotal                         int64
	simRequests                         int
	wall, lifecyclesWall, slowestLC     time.Duration
	slowest                             *chaosLC
	ops                                 map[string]int
	opsN                                int
	checkProblems                       []string
}

// check compares every instance with the simulator's truth and the broker's answers.
func (c *chaos) check(lcs []*chaosLC) chaosFigures {
	f := chaosFigures{lifecycles: len(lcs), byKind: map[lcKind]int{}, expectedFailures: map[string]int{}, ops: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	problem := func(format string, args ...any) {
		f.checkProblems = append(f.checkProblems, fmt.Sprintf(format, args...))
	}

	// None stuck: the broker has no operation in progress, and every operation any
	// lifecycle started ended succeeded or failed (or, for a deprovision, 410).
	stuckIDs := map[string]bool{}
	if active, err := c.e.srv.store.ActiveOperations(ctx); err != nil {
		problem("list active operations: %v", err)
	} else {
		for _, op := range active {
			stuckIDs[op.InstanceID] = true
			problem("stuck: operation %s (%s of %s) still in progress: %s", op.ID, op.Type, op.InstanceID, op.Description)
		}
	}
	for _, lc := range lcs {
		for _, op := range lc.ops {
			code, state, desc, err := c.lastOperation(ctx, lc.id, string(op.key))
			switch {
			case code == http.StatusGone && op.kind == "deprovision":
			case err != nil || code != http.StatusOK:
				stuckIDs[lc.id] = true
				problem("%s: last_operation of its %s %s: %d, %v", lc.id, op.kind, op.key, code, err)
			case state != string(osbc.StateSucceeded) && state != string(osbc.StateFailed):
				stuckIDs[lc.id] = true
				problem("stuck: %s: its %s %s is %q: %s", lc.id, op.kind, op.key, state, desc)
			}
		}
	}
	f.stuck = len(stuckIDs)

	// The simulator's truth: how many deployments each id ever had, and which live.
	created, live := map[string]int{}, map[string]cloudifysim.DeploymentInfo{}
	for _, d := range c.e.sim.Deployments() {
		created[d.ID]++
		if d.Exists {
			live[d.ID] = d
		}
	}
	f.deploymentsMade = len(created)
	byDep := map[string]*chaosLC{}
	for _, lc := range lcs {
		byDep[lc.depID] = lc
	}
	for id, n := range created {
		if n > 1 {
			f.duplicates++
			problem("duplicate: %d deployments were created with id %s", n, id)
		}
		if byDep[id] == nil {
			problem("deployment %s belongs to no lifecycle", id)
		}
	}
	for id, d := range live {
		lc := byDep[id]
		if lc == nil || lc.final != "live" {
			f.orphans++
			final := "unknown"
			if lc != nil {
				final = lc.final
				if final == "" {
					final = "unfinished"
				}
			}
			problem("orphan: deployment %s is live on the manager but its instance is %s", id, final)
			continue
		}
		if v := labelValue(d, broker.LabelInstanceID); v != lc.id {
			problem("deployment %s carries instance label %q, want %q", id, v, lc.id)
		}
	}

	// No record lost: every instance the platform thinks exists answers with its
	// record and binding, and has exactly one live, installed deployment.
	for _, lc := range lcs {
		f.byKind[lc.kind]++
		switch lc.final {
		case "live":
			f.kept++
			ok := true
			inst, err := c.e.client.GetInstance(&osbc.GetInstanceRequest{InstanceID: lc.id})
			if err != nil || inst.ServiceID != lc.serviceID || inst.PlanID != lc.planID {
				ok = false
				problem("lost: %s: fetch instance = %+v, %v", lc.id, inst, err)
			}
			if _, err := c.e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: lc.id, BindingID: lc.id + "-b"}); err != nil {
				ok = false
				problem("lost: %s: fetch binding: %v", lc.id, err)
			}
			if created[lc.depID] != 1 {
				ok = false
				problem("lost: %s: %d deployments were ever created for it, want 1", lc.id, created[lc.depID])
			}
			if d, has := live[lc.depID]; !has || d.InstallationStatus != "active" {
				ok = false
				problem("lost: %s: deployment %s live=%v installation_status=%q", lc.id, lc.depID, has, d.InstallationStatus)
			}
			if !ok {
				f.lost++
			}
		case "gone":
			// The broker agrees it is gone: fetch 404, deprovision again 410.
			if _, err := c.e.client.GetInstance(&osbc.GetInstanceRequest{InstanceID: lc.id}); statusOf(err) != http.StatusNotFound {
				f.staleRecords++
				problem("%s is deprovisioned but fetch instance answers %v", lc.id, err)
			}
			if code, err := c.raw(ctx, lc, "deprovision_again", http.MethodDelete, "/v2/service_instances/"+lc.id+"?accepts_incomplete=true&service_id="+lc.serviceID+"&plan_id="+lc.planID); err != nil || code != http.StatusGone {
				f.staleRecords++
				problem("%s is deprovisioned but a second deprovision answers %d, %v", lc.id, code, err)
			}
		}
	}
	// The store agrees: every record is gone, or ready for a kept instance.
	after := ""
	for {
		insts, next, err := c.e.srv.store.ListInstances(ctx, after, 500)
		if err != nil {
			problem("list instances: %v", err)
			break
		}
		for _, inst := range insts {
			lc := byDep[inst.DeploymentID]
			want := broker.InstanceGone
			if lc != nil && lc.final == "live" {
				want = broker.InstanceReady
			}
			if inst.State != want || inst.Busy() {
				f.staleRecords++
				problem("store: instance %s is %s (operation %s %s), want %s", inst.ID, inst.State, inst.OperationType, inst.OperationState, want)
			}
		}
		if next == "" {
			break
		}
		after = next
	}

	// Then the kept instances go too, without faults, and nothing at all is left.
	var wg sync.WaitGroup
	for _, lc := range lcs {
		if lc.final != "live" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, ccancel := context.WithTimeout(ctx, 2*c.set.Deadline+30*time.Second)
			defer ccancel()
			if code, err := c.raw(cctx, lc, "unbind", http.MethodDelete,
				"/v2/service_instances/"+lc.id+"/service_bindings/"+lc.id+"-b?service_id="+lc.serviceID+"&plan_id="+lc.planID); err != nil || code != http.StatusOK {
				lc.problem("cleanup: unbind answered %d, %v", code, err)
			}
			lc.mu.Lock()
			lc.final = ""
			lc.mu.Unlock()
			c.deprovision(cctx, lc)
			if lc.final != "gone" {
				lc.problem("cleanup: not deprovisioned")
			}
		}()
	}
	wg.Wait()
	for _, d := range c.e.liveDeployments() {
		f.orphans++
		problem("orphan after the cleanup: deployment %s is live", d.ID)
	}

	for _, lc := range lcs {
		if len(lc.problems) == 0 && lc.final == "gone" {
			f.completed++
		}
		if len(lc.problems) > 0 {
			f.withProblems++
		}
		for _, r := range lc.expected {
			f.expectedFailures[r]++
			f.expectedN++
		}
		f.timedOutHealthy += len(lc.timedOut)
		for _, op := range lc.ops {
			f.ops[op.kind]++
			f.opsN++
		}
		if lc.took > f.slowestLC {
			f.slowestLC, f.slowest = lc.took, lc
		}
	}
	st := c.e.sim.Stats()
	f.faults = map[string]int64{}
	for k, v := range st.Faults {
		f.faults[k] = int64(v)
	}
	f.faultsTotal = int64(st.FaultsInjected)
	if n := c.proxy.lost.Load(); n > 0 {
		f.faults["lost_response"] = n
		f.faultsTotal += n
	}
	if n := c.proxy.operatorExecs.Load(); n > 0 {
		f.faults["operator_execution_before_delete"] = n
		f.faultsTotal += n
	}
	f.simRequests = st.TotalRequests
	return f
}

func labelValue(d cloudifysim.DeploymentInfo, key string) string {
	for _, l := range d.Labels {
		if l.Key == key {
			return l.Value
		}
	}
	return ""
}

func fmtCounts[K ~string, V int | int64](m map[K]V) string {
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

// report prints the figures and fails the test on any problem.
func (c *chaos) report(lcs []*chaosLC, f chaosFigures) {
	t := c.t
	retries := snapshot(&c.osbRetries)
	episodes := snapshot(&c.episodes)
	var b strings.Builder
	fmt.Fprintf(&b, "chaos figures (seed %d, deadline %s, %d at once):\n", c.set.Seed, c.set.Deadline, c.set.Concurrency)
	fmt.Fprintf(&b, "  lifecycles          %d (%s)\n", f.lifecycles, fmtCounts(f.byKind))
	fmt.Fprintf(&b, "  succeeded           %d lifecycles ended as planned (%d kept alive through the checks, then deprovisioned); %d with problems\n", f.completed, f.kept, f.withProblems)
	fmt.Fprintf(&b, "  operations          %d (%s); %d requests sent twice got the same operation\n", f.opsN, fmtCounts(f.ops), c.repeats.Load())
	fmt.Fprintf(&b, "  failed as expected  %d operations (%s)\n", f.expectedN, fmtCounts(f.expectedFailures))
	fmt.Fprintf(&b, "  timed out by faults %d healthy operations failed \"timed out\" and were cleaned up\n", f.timedOutHealthy)
	fmt.Fprintf(&b, "  faults injected     %d (%s)\n", f.faultsTotal, fmtCounts(f.faults))
	fmt.Fprintf(&b, "  fault episodes      %d (%s), faults on %.0f%% of the time\n", c.episodeN.Load(), fmtCounts(episodes),
		100*float64(c.faultyTime.Load())/float64(max(f.lifecyclesWall, 1)))
	fmt.Fprintf(&b, "  deletes refused     %d (the manager answered 400 to DELETE /deployments)\n", c.proxy.refusedDeletes.Load())
	c.counts.mu.Lock()
	fmt.Fprintf(&b, "  halted executions   %s (cancels sent by deprovisions)\n", fmtCounts(c.counts.cancels))
	c.counts.mu.Unlock()
	fmt.Fprintf(&b, "  OSB-call retries    %d (%s)\n", c.osbRetryN.Load(), fmtCounts(retries))
	fmt.Fprintf(&b, "  step retries        %d (runner retries after a failed step); broker errors logged %d\n", c.counts.stepRetries.Load(), c.counts.errors.Load())
	fmt.Fprintf(&b, "  manager requests    %d, deployments created %d\n", f.simRequests, f.deploymentsMade)
	fmt.Fprintf(&b, "  stuck %d, orphans %d, lost %d, duplicates %d, stale records %d, abandoned lifecycles %d\n", f.stuck, f.orphans, f.lost, f.duplicates, f.staleRecords, c.abandonedOps.Load())
	fmt.Fprintf(&b, "  wall time           %s (lifecycles %s, slowest lifecycle %s)",
		f.wall.Round(100*time.Millisecond), f.lifecyclesWall.Round(100*time.Millisecond), f.slowestLC.Round(100*time.Millisecond))
	t.Log(b.String())
	if lc := f.slowest; lc != nil && testing.Verbose() {
		t.Logf("slowest lifecycle %s (%s, %s):\n    %s", lc.id, lc.kind, lc.svc.name, strings.Join(lc.trace, "\n    "))
	}
	if testing.Verbose() {
		fmt.Printf("CHAOS lifecycles=%d succeeded=%d kept=%d failed_as_expected=%d timed_out_by_faults=%d faults=%d osb_retries=%d step_retries=%d stuck=%d orphans=%d lost=%d duplicates=%d wall=%s seed=%d\n",
			f.lifecycles, f.completed, f.kept, f.expectedN, f.timedOutHealthy, f.faultsTotal, c.osbRetryN.Load(), c.counts.stepRetries.Load(),
			f.stuck, f.orphans, f.lost, f.duplicates, f.wall.Round(100*time.Millisecond), c.set.Seed)
	}

	failed := false
	for i, p := range f.checkProblems {
		if i == 40 {
			t.Errorf("... and %d more check problems", len(f.checkProblems)-i)
			break
		}
		t.Errorf("check: %s", p)
		failed = true
	}
	shown := 0
	for _, lc := range lcs {
		if len(lc.problems) == 0 {
			continue
		}
		failed = true
		if shown++; shown > 15 {
			continue
		}
		t.Errorf("lifecycle %s (%s, %s): %s\n    %s", lc.id, lc.kind, lc.svc.name, strings.Join(lc.problems, "; "), strings.Join(lc.trace, "\n    "))
	}
	if shown > 15 {
		t.Errorf("... and %d more lifecycles with problems", shown-15)
	}
	if f.stuck+f.orphans+f.lost+f.duplicates+f.staleRecords > 0 {
		failed = true
	}
	if failed {
		t.Errorf("chaos campaign failed; repeat with CHAOS_SEED=%d (CHAOS_LOG=file for the broker's debug logs)", c.set.Seed)
		c.dumpLogs(lcs)
	}
}

// dumpLogs shows the broker's log lines about the lifecycles with problems.
func (c *chaos) dumpLogs(lcs []*chaosLC) {
	var ids []string
	for _, lc := range lcs {
		if len(lc.problems) > 0 {
			ids = append(ids, lc.id)
		}
	}
	if len(ids) > 3 {
		ids = ids[:3]
	}
	for _, id := range ids {
		var lines []string
		for _, line := range strings.Split(c.logs.String(), "\n") {
			if strings.Contains(line, `"`+id+`"`) || strings.Contains(line, "osb-"+id) {
				lines = append(lines, line)
			}
		}
		if len(lines) > 80 {
			lines = lines[len(lines)-80:]
		}
		c.t.Logf("broker logs about %s:\n%s", id, strings.Join(lines, "\n"))
	}
}

// basicAuth encodes a Basic credential.
func basicAuth(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
