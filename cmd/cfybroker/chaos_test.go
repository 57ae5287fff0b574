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
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim/simchaos"
	"github.com/cfybroker/cfybroker/internal/testenv"
)

// chaosSettings size a campaign.
type chaosSettings struct {
	simchaos.Settings // Deadline: the broker's DefaultDeadline
	LogPath           string
}

func chaosSettingsFromEnv(t *testing.T) chaosSettings {
	t.Helper()
	def := simchaos.Settings{Lifecycles: 24, Concurrency: 12, Deadline: 20 * time.Second}
	return chaosSettings{Settings: simchaos.SettingsFromEnv(t, "CHAOS", def, 5*time.Second), LogPath: os.Getenv("CHAOS_LOG")}
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

var allKinds = []lcKind{kindFull, kindKeep, kindFailingBP, kindInstallFails, kindInstallHangs, kindUpdateHangs, kindEarlyDeprovision,
	kindBindFails, kindUnbindFails, kindUnbindDuringBind, kindDeprovisionBound}

// kindWeights is the share of each kind beyond the one of each every campaign has.
var kindWeights = map[lcKind]int{
	kindFull: 34, kindKeep: 12, kindFailingBP: 6, kindInstallFails: 6,
	kindInstallHangs: 5, kindUpdateHangs: 3, kindEarlyDeprovision: 14,
	kindBindFails: 5, kindUnbindFails: 5, kindUnbindDuringBind: 5, kindDeprovisionBound: 5,
}

// chaosService is a service of the simulator's sample catalog with valid parameters.
type chaosService struct {
	name    string
	params  func(r *rand.Rand, id string) map[string]any
	update  func(r *rand.Rand) map[string]any
	credKey string // a credential every binding carries
	// ownCreds: the blueprint's bind workflows give every binding credentials of its
	// own, bound and unbound asynchronously; else bindings share the deployment's.
	ownCreds bool
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
		credKey:  "host",
		ownCreds: true,
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
	kind      string // provision, update, deprovision, bind, unbind
	key       osbc.OperationKey
	bindingID string // of a bind or unbind
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

	simchaos.Journal // trace, problems, expected failures, timeouts under faults

	twoBindings bool // bind twice (bindings with credentials of their own)

	mu       sync.Mutex
	ops      []opRecord
	final    string // "gone", "live" (kept) or "" (the lifecycle did not finish)
	bindings []*bindingRec
}

// Title names the lifecycle in the report.
func (lc *chaosLC) Title() string { return fmt.Sprintf("%s (%s, %s)", lc.id, lc.kind, lc.svc.name) }

// Record is what happened to it.
func (lc *chaosLC) Record() *simchaos.Journal { return &lc.Journal }

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
	loss *simchaos.LostResponses

	mu    sync.Mutex
	armed map[string]bool // deployment ids whose next DELETE meets a running execution

	operatorExecs, refusedDeletes atomic.Int64
}

func (p *chaosProxy) arm(depID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed[depID] = true
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
func (p *chaosProxy) startOperatorExecution(depID string) bool {
	body := fmt.Sprintf(`{"deployment_id":%q,"workflow_id":"check_status","force":true}`, depID)
	req := httptest.NewRequest(http.MethodPost, "/api/v3.1/executions", strings.NewReader(body))
	req.Header.Set("Authorization", p.auth)
	req.Header.Set("Tenant", "default_tenant")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	if !simchaos.ServeRecorded(p.sim, rec, req) {
		return false // the simulator dropped it (an injected fault)
	}
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
	if p.loss.Lose(r) {
		p.loss.ServeLost(p.sim, w, r)
		return
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
	faults *simchaos.FaultDriver
	logs   *testenv.SyncBuffer
	counts *logCounts

	osbRetries   simchaos.Tally // by "call status"
	abandonedOps atomic.Int64
	repeats      atomic.Int64
	bindings     bindingTally
	// orphanMitigations counts the unbinds of failed binds that found their binding
	// left failed (a bind workflow that ran to its end).
	orphanMitigations atomic.Int64
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

	stopFaults := c.faults.Start(runCtx)
	simchaos.RunAll(runCtx, set.Concurrency, lcs, c.runLifecycle, func(lc *chaosLC) {
		lc.Problem("not started: the campaign ran out of time")
	})
	stopFaults()
	lifecyclesTook := time.Since(began)

	f := c.check(lcs)
	f.Wall = time.Since(began)
	f.LifecyclesWall = lifecyclesTook
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
		loss: simchaos.NewLostResponses(rand.New(rand.NewPCG(set.Seed, 3))), armed: map[string]bool{},
	}
	ts := httptest.NewServer(proxy)
	t.Cleanup(ts.Close)

	c := &chaos{t: t, set: set, proxy: proxy, logs: &testenv.SyncBuffer{}, counts: &logCounts{cancels: map[string]int{}},
		faults: &simchaos.FaultDriver{Sim: sim, Lost: proxy.loss, Seed: set.Seed}}
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
		AdminUsername: testAdminUser, AdminPassword: testAdminPass,
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
	kinds = simchaos.DrawKinds(r, kinds, n, allKinds, kindWeights)
	// Hangs last a whole deadline: start them early so that the campaign's length is
	// about one deadline plus the rest, not the sum.
	simchaos.StartFirst(kinds, func(k lcKind) bool { return k == kindInstallHangs || k == kindUpdateHangs })
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
			lc.twoBindings = r.IntN(2) == 0
		case kindEarlyDeprovision:
			lc.earlyDelay = time.Duration(r.IntN(900)) * time.Millisecond
		}
		if bindingKinds[k] {
			lc.svc = chaosServices[0] // mariadb: bindings with credentials of their own
			lc.twoBindings = k == kindDeprovisionBound
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

const pollEvery = 120 * time.Millisecond

// call runs one OSB request, retrying it (bounded) while the broker answers 5xx.
func (c *chaos) call(ctx context.Context, lc *chaosLC, name string, fn func() error) error {
	return simchaos.Call(ctx, &lc.Journal, &c.osbRetries, name, func() (int, error) {
		err := fn()
		return statusOf(err), err
	})
}

// pollResult is how an operation ended.
type pollResult struct {
	state osbc.LastOperationState
	desc  string
	gone  bool
}

// poll follows last_operation until it leaves "in progress" (or the instance is gone).
func (c *chaos) poll(ctx context.Context, lc *chaosLC, key *osbc.OperationKey) (pollResult, error) {
	return c.pollUntilDone(ctx, lc, "last_operation", func() (*osbc.LastOperationResponse, error) {
		return c.e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: lc.id, OperationKey: key})
	})
}

// pollUntilDone asks ask (a last_operation of the kind named by what) until the
// operation leaves "in progress", the answer is 410, or the lifecycle's deadline passes.
func (c *chaos) pollUntilDone(ctx context.Context, lc *chaosLC, what string, ask func() (*osbc.LastOperationResponse, error)) (pollResult, error) {
	var last string
	for {
		var resp *osbc.LastOperationResponse
		err := c.call(ctx, lc, what, func() (err error) {
			resp, err = ask()
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

// runLifecycle runs one lifecycle to its end; what goes wrong is recorded, not fatal.
func (c *chaos) runLifecycle(parent context.Context, lc *chaosLC) {
	defer lc.Begin()()
	// provision + update + deprovision (twice) each within the deadline, and slack for
	// the runner's retry backoff (up to a minute) and the polls.
	ctx, cancel := context.WithTimeout(parent, 4*c.set.Deadline+90*time.Second)
	defer cancel()
	sim := c.e.sim
	lc.Logf("plan: %s, service %s, update=%v updateFails=%v refuseDelete=%v repeat=%v hang=%q", lc.kind, lc.svc.name, lc.update, lc.updateFails, lc.refuseDelete, lc.repeat, lc.hangState)
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
		lc.Problem("provision: %v", err)
		return
	}
	if !prov.Async || prov.OperationKey == nil {
		lc.Problem("provision answered %+v, want 202 with an operation", prov)
		return
	}
	lc.addOp("provision", prov.OperationKey)
	lc.Logf("provision accepted, operation %s", *prov.OperationKey)
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
			lc.Logf("repeated provision: 200, it has succeeded already")
		case statusOf(err) == http.StatusConflict:
			lc.Logf("repeated provision: 409, it has failed already")
		default:
			lc.Problem("repeated provision answered %+v, %v; want 202 with operation %s", again, err, *prov.OperationKey)
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
			lc.Problem("provision operation after the deprovision: %v", err)
		case res.gone:
			lc.Problem("last_operation of the provision answered 410")
		case res.state == osbc.StateFailed && strings.Contains(res.desc, "halted"):
			lc.Expect("provision halted by the deprovision")
		case res.state == osbc.StateSucceeded:
			lc.Logf("the provision finished before the deprovision halted it")
		default:
			lc.Problem("provision ended %s (%s) after a deprovision, want failed (halted) or succeeded", res.state, res.desc)
		}
		return
	}

	res, err := c.poll(ctx, lc, prov.OperationKey)
	if err != nil {
		lc.Problem("provision: %v", err)
		c.abandon(lc)
		return
	}
	if res.gone {
		lc.Problem("last_operation of a provision answered 410")
		return
	}
	lc.Logf("provision ended %s: %s", res.state, res.desc)
	provisioned := res.state == osbc.StateSucceeded
	switch lc.kind {
	case kindFailingBP, kindInstallFails:
		if provisioned || !strings.Contains(res.desc, "install") {
			lc.Problem("provision ended %s (%s), want failed naming the install", res.state, res.desc)
		} else {
			lc.Expect("install failed")
		}
	case kindInstallHangs:
		if provisioned || !simchaos.TimedOut(res.desc) {
			lc.Problem("provision with a hung install ended %s (%s), want failed: timed out", res.state, res.desc)
		} else {
			lc.Expect("hung install timed out")
		}
	default:
		if !provisioned {
			if simchaos.TimedOut(res.desc) {
				lc.NoteTimedOut("provision: " + res.desc)
			} else {
				lc.Problem("provision of a healthy service failed: %s", res.desc)
			}
		}
	}

	if provisioned {
		run := c.useBindings
		if bindingKinds[lc.kind] {
			run = c.runBindingKind
		}
		if !run(ctx, lc) {
			c.abandon(lc)
			return
		}
	}
	if lc.kind == kindKeep && provisioned {
		lc.mu.Lock()
		lc.final = "live"
		lc.mu.Unlock()
		lc.Logf("kept for the checks")
		return
	}
	c.deprovision(ctx, lc)
}

func (c *chaos) updateInstance(ctx context.Context, lc *chaosLC) {
	var upd *osbc.UpdateInstanceResponse
	params := lc.svc.update(lc.rng)
	err := c.call(ctx, lc, "update", func() (err error) {
		upd, err = c.e.client.UpdateInstance(&osbc.UpdateInstanceRequest{InstanceID: lc.id, AcceptsIncomplete: true, ServiceID: lc.serviceID, Parameters: params})
		return err
	})
	if err != nil {
		lc.Problem("update: %v", err)
		return
	}
	if !upd.Async || upd.OperationKey == nil {
		lc.Problem("update answered %+v, want 202", upd)
		return
	}
	lc.addOp("update", upd.OperationKey)
	res, err := c.poll(ctx, lc, upd.OperationKey)
	if err != nil {
		lc.Problem("update: %v", err)
		return
	}
	lc.Logf("update ended %s: %s", res.state, res.desc)
	switch {
	case res.gone:
		lc.Problem("last_operation of an update answered 410")
	case lc.kind == kindUpdateHangs:
		if res.state != osbc.StateFailed || !simchaos.TimedOut(res.desc) {
			lc.Problem("update with a hung workflow ended %s (%s), want failed: timed out", res.state, res.desc)
		} else {
			lc.Expect("hung update timed out")
		}
	case lc.updateFails:
		if res.state != osbc.StateFailed {
			lc.Problem("update with a failing workflow ended %s (%s), want failed", res.state, res.desc)
		} else {
			lc.Expect("update failed")
		}
	case res.state != osbc.StateSucceeded:
		if simchaos.TimedOut(res.desc) {
			lc.NoteTimedOut("update: " + res.desc)
		} else {
			lc.Problem("update failed: %s", res.desc)
		}
	default:
		for k, v := range params {
			if d, ok := c.e.sim.Deployment(lc.depID); !ok || fmt.Sprint(d.Inputs[k]) != fmt.Sprint(v) {
				lc.Problem("after the update the deployment's input %s = %v, want %v", k, d.Inputs[k], v)
			}
		}
	}
	// A failed update leaves the instance usable: it can still be fetched.
	err = c.call(ctx, lc, "fetch_instance", func() error {
		_, err := c.e.client.GetInstance(&osbc.GetInstanceRequest{InstanceID: lc.id})
		return err
	})
	if err != nil {
		lc.Problem("fetch instance after the update: %v", err)
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
			lc.Problem("deprovision: %v", err)
			c.abandon(lc)
			return
		}
		if !dep.Async || dep.OperationKey == nil {
			lc.Problem("deprovision answered %+v, want 202", dep)
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
				lc.Problem("repeated deprovision answered %+v, %v; want 202 with operation %s", again, err, *dep.OperationKey)
			}
		}
		res, err := c.poll(ctx, lc, dep.OperationKey)
		if err != nil {
			lc.Problem("deprovision: %v", err)
			c.abandon(lc)
			return
		}
		if res.gone {
			lc.Logf("deprovisioned (410)")
			lc.mu.Lock()
			lc.final = "gone"
			lc.mu.Unlock()
			c.afterDeprovision(lc)
			return
		}
		lc.Logf("deprovision ended %s: %s", res.state, res.desc)
		if res.state == osbc.StateFailed && simchaos.TimedOut(res.desc) {
			lc.NoteTimedOut("deprovision: " + res.desc)
			continue
		}
		lc.Problem("deprovision ended %s (%s), want 410 Gone", res.state, res.desc)
		if res.state != osbc.StateFailed {
			return
		}
	}
	lc.Problem("still not deprovisioned after 3 deprovisions")
}

// abandon notes a lifecycle that stopped half-way (its problem is recorded already).
func (c *chaos) abandon(lc *chaosLC) {
	c.abandonedOps.Add(1)
	lc.Logf("abandoned")
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
	return c.pollPath(ctx, "/v2/service_instances/"+instanceID+"/last_operation?operation="+url.QueryEscape(operation))
}

// pollPath asks a last_operation path and decodes its state and description.
func (c *chaos) pollPath(ctx context.Context, path string) (code int, state, desc string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.e.url+path, nil)
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
	simchaos.Figures
	byKind  map[lcKind]int
	slowest *chaosLC
	bind    bindingFigures
}

// check compares every instance with the simulator's truth and the broker's answers.
func (c *chaos) check(lcs []*chaosLC) chaosFigures {
	f := chaosFigures{Figures: simchaos.NewFigures(len(lcs)), byKind: map[lcKind]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	problem := f.Problem

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
			if op.bindingID != "" {
				code, state, desc, err = c.lastBindingOperation(ctx, lc.id, op.bindingID, string(op.key))
			}
			switch {
			case code == http.StatusGone && (op.kind == "deprovision" || op.kind == "unbind"):
			case err != nil || code != http.StatusOK:
				stuckIDs[lc.id] = true
				problem("%s: last_operation of its %s %s: %d, %v", lc.id, op.kind, op.key, code, err)
			case state != string(osbc.StateSucceeded) && state != string(osbc.StateFailed):
				stuckIDs[lc.id] = true
				problem("stuck: %s: its %s %s is %q: %s", lc.id, op.kind, op.key, state, desc)
			}
		}
	}
	f.Stuck = len(stuckIDs)

	// The simulator's truth: how many deployments each id ever had, and which live.
	truth := simchaos.ReadTruth(c.e.sim)
	byDep := map[string]*chaosLC{}
	for _, lc := range lcs {
		byDep[lc.depID] = lc
	}
	truth.Check(&f.Figures, broker.LabelInstanceID, func(depID string) (string, string, bool) {
		if lc := byDep[depID]; lc != nil {
			return lc.id, lc.final, true
		}
		return "", "", false
	})

	// No record lost: every instance the platform thinks exists answers with its
	// record and binding, and has exactly one live, installed deployment.
	for _, lc := range lcs {
		f.byKind[lc.kind]++
		switch lc.final {
		case "live":
			f.Kept++
			ok := true
			inst, err := c.e.client.GetInstance(&osbc.GetInstanceRequest{InstanceID: lc.id})
			if err != nil || inst.ServiceID != lc.serviceID || inst.PlanID != lc.planID {
				ok = false
				problem("lost: %s: fetch instance = %+v, %v", lc.id, inst, err)
			}
			if !truth.CheckKept(&f.Figures, lc.id, lc.depID) {
				ok = false
			}
			if !ok {
				f.Lost++
			}
		case "gone":
			// The broker agrees it is gone: fetch 404, deprovision again 410.
			if _, err := c.e.client.GetInstance(&osbc.GetInstanceRequest{InstanceID: lc.id}); statusOf(err) != http.StatusNotFound {
				f.StaleRecords++
				problem("%s is deprovisioned but fetch instance answers %v", lc.id, err)
			}
			if code, err := c.raw(ctx, lc, "deprovision_again", http.MethodDelete, "/v2/service_instances/"+lc.id+"?accepts_incomplete=true&service_id="+lc.serviceID+"&plan_id="+lc.planID); err != nil || code != http.StatusGone {
				f.StaleRecords++
				problem("%s is deprovisioned but a second deprovision answers %d, %v", lc.id, code, err)
			}
		}
	}
	// The store agrees: every record is gone, or ready for a kept instance.
	err := simchaos.Pages(ctx, c.e.srv.store.ListInstances, func(inst broker.Instance) {
		lc := byDep[inst.DeploymentID]
		want := broker.InstanceGone
		if lc != nil && lc.final == "live" {
			want = broker.InstanceReady
		}
		if inst.State != want || inst.Busy() {
			f.StaleRecords++
			problem("store: instance %s is %s (operation %s %s), want %s", inst.ID, inst.State, inst.OperationType, inst.OperationState, want)
		}
	})
	if err != nil {
		problem("list instances: %v", err)
	}

	// The bindings: no secret or database user without a bound binding, none lost.
	c.checkBindings(ctx, lcs, &f)

	// Then the kept instances go too, without faults, and nothing at all is left: the
	// first binding of each is unbound, any second one goes with the deprovision.
	kept := func(lc *chaosLC) bool { return lc.final == "live" }
	simchaos.EachAtOnce(ctx, lcs, kept, 2*c.set.Deadline+30*time.Second, func(cctx context.Context, lc *chaosLC) {
		for _, rec := range lc.bindings {
			if rec.state == bindingBound {
				c.unbind(cctx, lc, rec)
				break
			}
		}
		lc.mu.Lock()
		lc.final = ""
		lc.mu.Unlock()
		c.deprovision(cctx, lc)
		if lc.final != "gone" {
			lc.Problem("cleanup: not deprovisioned")
		}
	})
	for _, d := range c.e.liveDeployments() {
		f.Orphans++
		problem("orphan after the cleanup: deployment %s is live", d.ID)
	}
	c.checkBindingsGone(ctx, &f)

	for _, lc := range lcs {
		kinds := make([]string, 0, len(lc.ops))
		for _, op := range lc.ops {
			kinds = append(kinds, op.kind)
		}
		if f.AddLifecycle(&lc.Journal, lc.final, kinds) {
			f.slowest = lc
		}
	}
	f.AddSimStats(c.e.sim)
	f.AddFaults("lost_response", c.proxy.loss.Lost())
	f.AddFaults("operator_execution_before_delete", c.proxy.operatorExecs.Load())
	return f
}

// report prints the figures and fails the test on any problem.
func (c *chaos) report(lcs []*chaosLC, f chaosFigures) {
	t := c.t
	var b strings.Builder
	fmt.Fprintf(&b, "chaos figures (seed %d, deadline %s, %d at once):\n", c.set.Seed, c.set.Deadline, c.set.Concurrency)
	f.WriteHead(&b, simchaos.Counts(f.byKind), c.repeats.Load(), c.faults)
	fmt.Fprintf(&b, "  deletes refused     %d (the manager answered 400 to DELETE /deployments)\n", c.proxy.refusedDeletes.Load())
	c.counts.mu.Lock()
	fmt.Fprintf(&b, "  halted executions   %s (cancels sent by deprovisions)\n", simchaos.Counts(c.counts.cancels))
	c.counts.mu.Unlock()
	simchaos.WriteRetries(&b, &c.osbRetries)
	fmt.Fprintf(&b, "  step retries        %d (runner retries after a failed step); broker errors logged %d\n", c.counts.stepRetries.Load(), c.counts.errors.Load())
	lostBindings := c.bindings.lost.Load()
	orphanSecrets := int64(f.bind.orphanSecrets+f.bind.secretsAtEnd) + c.bindings.leftSecrets.Load()
	orphanUsers := int64(f.bind.orphanUsers) + c.bindings.leftUsers.Load()
	fmt.Fprintf(&b, "  bindings            %d bound (%d of their own, %d shared), %d unbound, %d binds and unbinds failed as expected, %d failed binds left for their unbind\n",
		c.bindings.boundOwn.Load()+c.bindings.boundShared.Load(), c.bindings.boundOwn.Load(), c.bindings.boundShared.Load(),
		c.bindings.unbound.Load(), c.bindings.failedAsExpected.Load(), c.orphanMitigations.Load())
	fmt.Fprintf(&b, "  binding checks      %d binding secrets and %d database users on the manager, %d bindings held bound fetched\n",
		f.bind.secretsChecked, f.bind.usersChecked, f.bind.boundAtCheck)
	fmt.Fprintf(&b, "  orphan secrets %d (%d left by an unbind, failed bind or deprovision, %d at the checks, %d after the cleanup)\n",
		orphanSecrets, c.bindings.leftSecrets.Load(), f.bind.orphanSecrets, f.bind.secretsAtEnd)
	fmt.Fprintf(&b, "  orphan users %d (%d left by an unbind or failed bind, %d at the checks), lost bindings %d, stale binding records %d\n",
		orphanUsers, c.bindings.leftUsers.Load(), f.bind.orphanUsers, lostBindings, f.bind.staleBindings)
	f.WriteTail(&b, "abandoned lifecycles", c.abandonedOps.Load())
	t.Log(b.String())
	if f.slowest != nil {
		simchaos.LogSlowest(t, f.slowest)
	}
	if testing.Verbose() {
		fmt.Printf("CHAOS lifecycles=%d succeeded=%d kept=%d failed_as_expected=%d timed_out_by_faults=%d faults=%d osb_retries=%d step_retries=%d stuck=%d orphans=%d lost=%d duplicates=%d bindings=%d orphan_secrets=%d orphan_users=%d lost_bindings=%d wall=%s seed=%d\n",
			f.Lifecycles, f.Completed, f.Kept, f.ExpectedN, f.TimedOutHealthy, f.FaultsTotal, c.osbRetries.Total(), c.counts.stepRetries.Load(),
			f.Stuck, f.Orphans, f.Lost, f.Duplicates, c.bindings.boundOwn.Load()+c.bindings.boundShared.Load(), orphanSecrets, orphanUsers, lostBindings,
			f.Wall.Round(100*time.Millisecond), c.set.Seed)
	}

	failed := simchaos.ReportProblems(t, f.CheckProblems, lcs, 15)
	if f.Failed() || orphanSecrets+orphanUsers+lostBindings+int64(f.bind.staleBindings) > 0 {
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
		if len(lc.Problems) > 0 {
			ids = append(ids, lc.id)
		}
	}
	if len(ids) > 3 {
		ids = ids[:3]
	}
	for _, id := range ids {
		c.t.Logf("broker logs about %s:\n%s", id, simchaos.Grep(c.logs.String(), `"`+id+`"`, "osb-"+id))
	}
}

// basicAuth encodes a Basic credential.
func basicAuth(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
