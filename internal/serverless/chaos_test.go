package serverless_test

// The fault campaign of cmd/cfybroker/chaos_test.go, shorter, in the AWS shape on the
// local stand-ins of TestEndToEndAWSShape: the api bootstrap behind the API Gateway
// stand-in, the real state machine definition run by sfn-local, the step bootstrap
// under aws-lambda-rie, DynamoDB Local and the Cloudify simulator. Lifecycles run a
// few at a time while a fault driver switches Cloudify faults on and off at random;
// some installs fail, one hangs past the functions' DEFAULT_DEADLINE, and the step
// function crashes mid-step twice:
//
//   - runtime crash: the step bootstrap is SIGKILLed while its request creating a
//     deployment is on the manager (the manager has applied it, the step has not
//     recorded it). aws-lambda-rie answers the invocation 502 Runtime.ExitError,
//     which Step Functions reports as Lambda.Unknown; the next invocation cold-starts
//     a new runtime.
//   - emulator crash: aws-lambda-rie itself (and its bootstrap) is SIGKILLed while
//     the step's request starting the install is on the manager; the state machine's
//     invocation fails (Lambda.ServiceException) and so do the next ones until the
//     emulator is started again on the same ports.
//
// In both the state machine's Retry must repeat the step and the engine's idempotency
// must adopt what the dead invocation did: the operation succeeds, with one
// deployment and one install execution. Afterwards every instance is checked against
// the simulator's truth and the broker's answers, as in the embedded campaign.
//
// mariadb's bindings have credentials of their own (its osb_bind workflow makes a
// database user per binding and leaves its credentials in the secret
// osb-<deployment>-<binding>): their bind and unbind are operations of the state
// machine, under the same faults. Three kinds lose the step's write after a Cloudify
// call of a binding (the runtime is killed once the manager has applied it): after
// starting osb_bind, after starting osb_unbind and after deleting the secret of the
// unbind; after deleting the secret a failed bind workflow left; and after the
// deprovision of an instance whose binding was never unbound deleted its secret. The
// checks add: no binding secret on the manager but those of bindings the store
// records as bound (none at all after the cleanup), no database user but those of
// bound bindings, and no bound binding lost.
//
//	make local-aws
//	go test -run TestAWSChaos -count=1 -v ./internal/serverless/
//
// Environment: AWS_CHAOS_LIFECYCLES (default 13), AWS_CHAOS_CONCURRENCY (default 4),
// AWS_CHAOS_SEED (default: random, printed), AWS_CHAOS_DEADLINE (the functions'
// DEFAULT_DEADLINE, default 25s: short, as one install hangs past it, yet long enough
// that an operation rarely times out under the faults). Without the stand-ins the
// test skips, or fails when CI is set (see needStandIns).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim/simchaos"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// acSettingsFromEnv reads the campaign's size; its Deadline is the functions'
// DEFAULT_DEADLINE.
func acSettingsFromEnv(t *testing.T) simchaos.Settings {
	t.Helper()
	def := simchaos.Settings{Lifecycles: 13, Concurrency: 4, Deadline: 25 * time.Second}
	return simchaos.SettingsFromEnv(t, "AWS_CHAOS", def, 8*time.Second)
}

// acKind is what a lifecycle does.
type acKind string

const (
	// acFull: provision, bind (and follow the bind of a binding with credentials of its
	// own), fetch the binding, maybe update, unbind, deprovision.
	acFull acKind = "full"
	// acKeep: like full, but the instance (and its binding) stays until the checks.
	acKeep acKind = "keep"
	// acFailingBP: the failing-install service; provision fails, deprovision cleans up.
	acFailingBP acKind = "failing-blueprint"
	// acInstallFails: a healthy service whose install is made to fail on the manager.
	acInstallFails acKind = "install-fails"
	// acInstallHangs: the install hangs past the deadline; the deprovision halts it.
	acInstallHangs acKind = "install-hangs"
	// acEarlyDeprovision: deprovision while the provision runs.
	acEarlyDeprovision acKind = "deprovision-while-provisioning"
	// acRuntimeCrash: a full lifecycle whose step bootstrap is killed while it
	// creates the deployment.
	acRuntimeCrash acKind = "step-runtime-crash"
	// acEmulatorCrash: a full lifecycle whose step function's emulator is killed
	// while the step starts the install, then started again.
	acEmulatorCrash acKind = "step-emulator-crash"
	// acBindCrash: a full mariadb lifecycle whose step bootstrap is killed after it
	// started osb_bind, after it started osb_unbind and after it deleted the secret
	// of the unbind.
	acBindCrash acKind = "bind-step-crash"
	// acBindFails: mariadb; the bind workflow leaves a secret, then fails; the step
	// bootstrap is killed after it deleted that secret. Then deprovision.
	acBindFails acKind = "bind-fails"
	// acBindLeft: mariadb; bound, never unbound, deprovisioned; the step bootstrap is
	// killed after the deprovision deleted the binding's secret.
	acBindLeft acKind = "deprovision-with-binding"
	// acUnbindWhileBinding: mariadb; unbind while the bind workflow runs (it has left
	// the secret): the unbind halts the bind, which stops its workflow; the step
	// bootstrap is killed after it asked the manager to cancel the run.
	acUnbindWhileBinding acKind = "unbind-while-binding"
)

// acRequired are the kinds every campaign has one of, most important first (a
// campaign of fewer lifecycles takes the first ones).
var acRequired = []acKind{acEmulatorCrash, acRuntimeCrash, acBindCrash, acBindFails, acBindLeft, acUnbindWhileBinding, acInstallHangs,
	acInstallFails, acFailingBP, acEarlyDeprovision, acKeep, acFull}

// acWeights is the share of each kind beyond the required ones (no more hangs: each
// lasts a whole deadline).
var acWeights = map[acKind]int{
	acFull: 40, acKeep: 14, acFailingBP: 8, acInstallFails: 10, acEarlyDeprovision: 16, acRuntimeCrash: 6, acEmulatorCrash: 6,
	acBindCrash: 6, acBindFails: 4, acBindLeft: 6, acUnbindWhileBinding: 4,
}

// acBindError is the last line of the error of the failing bind workflow.
const acBindError = "RuntimeError: CREATE USER refused by the database"

// acService is a service of the simulator's sample catalog with valid parameters.
type acService struct {
	name    string
	params  func(r *rand.Rand) map[string]any
	update  func(r *rand.Rand) map[string]any
	credKey string // a credential every binding carries
}

var acServices = []acService{
	{
		name: "mariadb",
		params: func(r *rand.Rand) map[string]any {
			p := map[string]any{"admin_password": fmt.Sprintf("Chaos-pw-%06d", r.IntN(1_000_000))}
			if r.IntN(2) == 0 {
				p["flavor"] = []string{"small", "medium", "large"}[r.IntN(3)]
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
		params: func(r *rand.Rand) map[string]any {
			return map[string]any{"memory_mb": []int{256, 512, 1024}[r.IntN(3)], "persistence": r.IntN(2) == 0}
		},
		update:  func(*rand.Rand) map[string]any { return map[string]any{"eviction_policy": "volatile-lru"} },
		credKey: "host",
	},
	{
		name: "s3-bucket",
		params: func(r *rand.Rand) map[string]any {
			return map[string]any{"region": []string{"eu-west-1", "us-east-1"}[r.IntN(2)], "bucket_prefix": "chaos"}
		},
		update:  func(*rand.Rand) map[string]any { return map[string]any{"versioning": true} },
		credKey: "bucket_name",
	},
}

var acFailingService = acService{name: "failing-install", params: func(*rand.Rand) map[string]any { return nil }}

// acOp is one asynchronous operation a lifecycle started.
type acOp struct {
	kind string // provision, update, deprovision, bind, unbind
	key  string // the operation (the name of its execution)
}

// onBinding says whether the operation is its binding's (asked for at the binding's
// last_operation).
func (o acOp) onBinding() bool { return o.kind == "bind" || o.kind == "unbind" }

// acLC is one lifecycle: its plan and what happened.
type acLC struct {
	idx               int
	id, depID         string
	kind              acKind
	svc               acService
	serviceID, planID string
	update, repeat    bool
	hangState         string
	earlyDelay        time.Duration
	rng               *rand.Rand
	crashes           []*acCrash
	installs          int // install executions on the deployment when the provision ended
	adminPassword     any // the provision's admin_password parameter, if any
	bindingID         string

	simchaos.Journal // trace, problems, expected failures, timeouts under faults

	mu    sync.Mutex
	ops   []acOp
	ended map[string]time.Time // when the last operation of each kind was seen ended
	final string               // "gone", "live" (kept) or "" (the lifecycle did not finish)
	// The binding: bound (bind succeeded, not unbound since), perBinding (credentials
	// of its own), and the username of its database user.
	bound, perBinding bool
	bindUser          string
	runs              map[string]int // runs of osb_bind and osb_unbind for the binding, when each ended
}

func (lc *acLC) setBinding(bound, perBinding bool, user string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.bound, lc.perBinding, lc.bindUser = bound, perBinding, user
}

// binding returns whether the binding is bound, whether it has credentials of its
// own, and its user.
func (lc *acLC) binding() (bound, perBinding bool, user string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.bound, lc.perBinding, lc.bindUser
}

// Title names the lifecycle in the report.
func (lc *acLC) Title() string { return fmt.Sprintf("%s (%s, %s)", lc.id, lc.kind, lc.svc.name) }

// Record is what happened to it.
func (lc *acLC) Record() *simchaos.Journal { return &lc.Journal }

func (lc *acLC) setFinal(v string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.final = v
}

func (lc *acLC) getFinal() string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.final
}

func (lc *acLC) noteEnded(kind string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.ended == nil {
		lc.ended = map[string]time.Time{}
	}
	lc.ended[kind] = time.Now()
}

func (lc *acLC) addOp(kind, key string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.ops = append(lc.ops, acOp{kind: kind, key: key})
}

// ---------------------------------------------------------------------------------
// The step function under an emulator that can be killed and started again.

// acStepEmulator runs the step bootstrap under aws-lambda-rie on fixed ports, so that
// the emulator can be killed and started again where the state machine invokes it.
// Every process it starts it waits for itself (t.Fatal is never called off the test
// goroutine).
type acStepEmulator struct {
	rieBin, bootstrap, logDir string
	env                       []string
	port, apiPort             int
	url                       string

	mu      sync.Mutex
	gens    []*acStepGen
	downs   []time.Duration // how long the emulator was away, per restart
	stopped bool
}

// errEmulatorStopped is start's error once the test has stopped the emulator.
var errEmulatorStopped = errors.New("the step emulator was stopped")

// acStepGen is one run of the emulator.
type acStepGen struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func newStepEmulator(t *testing.T, s standIns, bootstrap string, env []string) *acStepEmulator {
	t.Helper()
	e := &acStepEmulator{rieBin: s.rie, bootstrap: bootstrap, env: env, logDir: t.TempDir(), port: freePort(t), apiPort: freePort(t)}
	e.url = fmt.Sprintf("http://127.0.0.1:%d", e.port)
	if err := e.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.stop()
		if t.Failed() || testing.Verbose() {
			out := e.output()
			if len(out) > 20000 {
				out = out[len(out)-20000:]
			}
			e.mu.Lock()
			runs := len(e.gens)
			e.mu.Unlock()
			t.Logf("---- step (%d emulator runs) output (end) ----\n%s", runs, out)
		}
	})
	return e
}

// start starts a new run of the emulator and waits until it listens; a port that
// something else took in the meantime is tried again a few times.
func (e *acStepEmulator) start() error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		var g *acStepGen
		if g, err = e.launch(); err != nil {
			return err
		}
		if err = e.waitListening(g); err == nil {
			return nil
		}
		_ = g.cmd.Process.Kill()
		<-g.done
	}
	return err
}

// launch starts one run of the emulator.
func (e *acStepEmulator) launch() (*acStepGen, error) {
	e.mu.Lock()
	n, stopped := len(e.gens), e.stopped
	e.mu.Unlock()
	if stopped {
		return nil, errEmulatorStopped
	}
	g := &acStepGen{log: filepath.Join(e.logDir, fmt.Sprintf("step-%d.log", n)), done: make(chan struct{})}
	f, err := os.Create(g.log)
	if err != nil {
		return nil, err
	}
	g.cmd = exec.Command(e.rieBin,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", e.port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", e.apiPort),
		e.bootstrap)
	g.cmd.Env = append(os.Environ(), e.env...)
	g.cmd.Stdout, g.cmd.Stderr = f, f
	if err := g.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start the step emulator: %w", err)
	}
	go func() { _ = g.cmd.Wait(); f.Close(); close(g.done) }()
	e.mu.Lock()
	e.gens = append(e.gens, g)
	stopped = e.stopped
	e.mu.Unlock()
	if stopped { // stop ran meanwhile: it did not see this run
		_ = g.cmd.Process.Kill()
		<-g.done
		return nil, errEmulatorStopped
	}
	return g, nil
}

// waitListening waits until the run accepts connections on the emulator's port.
func (e *acStepEmulator) waitListening(g *acStepGen) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-g.done:
			b, _ := os.ReadFile(g.log)
			return fmt.Errorf("the step emulator exited at start: %s", b)
		default:
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port)); err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("the step emulator does not listen on %d", e.port)
}

func (e *acStepEmulator) current() *acStepGen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gens[len(e.gens)-1]
}

// children returns the pids of the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range entries {
		child, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) >= 2 {
			if ppid, err := strconv.Atoi(fields[1]); err == nil && ppid == pid {
				out = append(out, child)
			}
		}
	}
	return out
}

// killRuntime SIGKILLs the runtime (the bootstrap) of the running emulator, which
// stays up; it returns the pids killed.
func (e *acStepEmulator) killRuntime() ([]int, error) {
	g := e.current()
	pids := children(g.cmd.Process.Pid)
	if len(pids) == 0 {
		return nil, errors.New("the step emulator runs no bootstrap")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return pids, err
		}
	}
	return pids, nil
}

// killEmulator SIGKILLs the emulator and its runtime.
func (e *acStepEmulator) killEmulator() error {
	g := e.current()
	kids := children(g.cmd.Process.Pid)
	if err := g.cmd.Process.Kill(); err != nil {
		return err
	}
	for _, pid := range kids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	<-g.done
	return nil
}

// restartAfter starts the emulator again after down; it returns at once.
func (e *acStepEmulator) restartAfter(down time.Duration, report func(error)) {
	began := time.Now()
	go func() {
		time.Sleep(down)
		err := e.start()
		e.mu.Lock()
		e.downs = append(e.downs, time.Since(began))
		e.mu.Unlock()
		report(err)
	}()
}

// stop stops the running emulator (and reaps every run).
func (e *acStepEmulator) stop() {
	e.mu.Lock()
	e.stopped = true
	gens := slices.Clone(e.gens)
	e.mu.Unlock()
	for _, g := range gens {
		select {
		case <-g.done:
			continue
		default:
		}
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
		case <-time.After(5 * time.Second):
			_ = g.cmd.Process.Kill()
			<-g.done
		}
	}
}

// output returns what every run of the emulator wrote.
func (e *acStepEmulator) output() string {
	e.mu.Lock()
	gens := slices.Clone(e.gens)
	e.mu.Unlock()
	var b strings.Builder
	for i, g := range gens {
		out, _ := os.ReadFile(g.log)
		fmt.Fprintf(&b, "==== emulator run %d ====\n%s", i, out)
	}
	return b.String()
}

// ---------------------------------------------------------------------------------
// The manager's front: crash points and lost responses.

// acCrash is a crash point: the first request of the step function that the manager
// applies (2xx) among those it matches kills the step function before the answer
// reaches it.
type acCrash struct {
	kind     acKind // acRuntimeCrash or acEmulatorCrash kill the emulator; the others the runtime
	opKind   string // the operation it interrupts: provision, deprovision, bind or unbind
	depID    string
	method   string // PUT or DELETE /deployments/{depID}, POST /executions, or DELETE /secrets/{secret}
	workflow string // for POST /executions
	secret   string // for DELETE /secrets/{secret}
	cancel   bool   // POST /executions/{id} (cancel, kill) of an execution on depID
	// failed: the operation it interrupts ends failed (as planned), not succeeded.
	failed  bool
	fired   atomic.Bool
	firedAt time.Time
	err     error
}

func (c *acCrash) String() string {
	switch {
	case c.cancel:
		return "POST /executions/{id} stopping " + c.workflow + " of " + c.depID
	case c.method == http.MethodPost:
		return "POST /executions " + c.workflow + " of " + c.depID
	case c.secret != "":
		return "DELETE /secrets/" + c.secret
	}
	return c.method + " /deployments/" + c.depID
}

// acFront stands in front of the simulator. It adds what the simulator's own faults
// do not model: a response lost after the manager applied the request, and the step
// function dying while the manager applies its request.
type acFront struct {
	sim  *cloudifysim.Simulator
	kill func(c *acCrash) error
	loss *simchaos.LostResponses

	mu      sync.Mutex
	crashes []*acCrash
}

func (f *acFront) arm(c *acCrash) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashes = append(f.crashes, c)
}

// crashFor returns the armed crash point the request matches, or nil.
func (f *acFront) crashFor(r *http.Request, body []byte) *acCrash {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.crashes {
		if c.method != r.Method {
			continue
		}
		switch r.Method {
		case http.MethodPut, http.MethodDelete:
			if c.secret != "" && r.URL.Path == "/api/v3.1/secrets/"+c.secret ||
				c.secret == "" && r.URL.Path == "/api/v3.1/deployments/"+c.depID {
				return c
			}
		case http.MethodPost:
			var req struct {
				DeploymentID string `json:"deployment_id"`
				WorkflowID   string `json:"workflow_id"`
			}
			if !c.cancel && r.URL.Path == "/api/v3.1/executions" && json.Unmarshal(body, &req) == nil &&
				req.DeploymentID == c.depID && req.WorkflowID == c.workflow {
				return c
			}
			if id, ok := strings.CutPrefix(r.URL.Path, "/api/v3.1/executions/"); c.cancel && ok &&
				slices.ContainsFunc(f.sim.Executions(c.depID), func(e cloudifysim.ExecutionInfo) bool { return e.ID == id && e.WorkflowID == c.workflow }) {
				return c
			}
		}
	}
	return nil
}

// take disarms the crash point; false when another request took it.
func (f *acFront) take(c *acCrash) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.Index(f.crashes, c)
	if i < 0 {
		return false
	}
	f.crashes = slices.Delete(f.crashes, i, i+1)
	return true
}

func (f *acFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Method != http.MethodGet && r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	c := f.crashFor(r, body)
	if c == nil {
		f.loss.Handler(f.sim).ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	if !simchaos.ServeRecorded(f.sim, rec, r) {
		panic(http.ErrAbortHandler) // the simulator dropped the connection (a fault)
	}
	if rec.Code/100 == 2 && f.take(c) {
		// The manager applied the request; the step function dies before it hears.
		c.firedAt = time.Now()
		c.err = f.kill(c)
		c.fired.Store(true)
		simchaos.AbortConn(w)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// ---------------------------------------------------------------------------------
// The campaign.

// awsChaos is one campaign.
type awsChaos struct {
	t       *testing.T
	set     simchaos.Settings
	sim     *cloudifysim.Simulator
	front   *acFront
	faults  *simchaos.FaultDriver
	step    *acStepEmulator
	api     *rie
	cat     *rie
	sfnProc *process
	sfnURL  string
	gwURL   string
	store   *dynamostore.Table

	osbRetries   simchaos.Tally // by "call status"
	repeats      atomic.Int64
	restartErrs  atomic.Int64
	crashesFired atomic.Int64
}

// TestAWSChaos is the fault campaign in the AWS shape (see the top of the file).
func TestAWSChaos(t *testing.T) {
	s := needStandIns(t)
	set := acSettingsFromEnv(t)
	t.Logf("aws chaos: seed %d (AWS_CHAOS_SEED=%d repeats the plan and the fault episodes), %d lifecycles, %d at once, deadline %s",
		set.Seed, set.Seed, set.Lifecycles, set.Concurrency, set.Deadline)
	began := time.Now()
	c := newAWSChaos(t, s, set)
	t.Logf("stand-ins up after %s", time.Since(began).Round(time.Millisecond))

	lcs := c.plan()
	catalog := c.catalogIDs()
	for _, lc := range lcs {
		ids, ok := catalog[lc.svc.name]
		if !ok {
			t.Fatalf("service %q is not in the catalog %v", lc.svc.name, catalog)
		}
		lc.serviceID, lc.planID = ids[0], ids[1]
	}

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(runCtx, dl.Add(-30*time.Second))
		defer cancel()
	}
	stopFaults := c.faults.Start(runCtx)

	lifecyclesBegan := time.Now()
	simchaos.RunAll(runCtx, set.Concurrency, lcs, c.runLifecycle, func(lc *acLC) {
		lc.Problem("not started: the campaign ran out of time")
	})
	stopFaults()
	lifecyclesTook := time.Since(lifecyclesBegan)

	f := c.check(lcs)
	f.Wall = time.Since(began)
	f.LifecyclesWall = lifecyclesTook
	c.report(lcs, f)
}

func newAWSChaos(t *testing.T, s standIns, set simchaos.Settings) *awsChaos {
	t.Helper()
	ctx := context.Background()
	bins := buildBootstraps(t, s.root)

	table := "cfybroker-chaos-" + uuid.NewString()[:8]
	ddb := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.dynamoEndpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	if err := dynamostore.CreateTable(ctx, ddb, table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})

	// The simulator ten times faster than real time, behind the front.
	sim := cloudifysim.New(cloudifysim.Config{
		Version: "7.0.4", Users: map[string]string{"admin": testCloudifyPw}, LoadSamples: true,
		Clock: cloudifysim.SpeedClock{Start: time.Now().UTC(), Factor: 10}, Seed: set.Seed + 1,
	})
	c := &awsChaos{t: t, set: set, sim: sim, store: dynamostore.New(ddb, table)}
	c.front = &acFront{sim: sim, loss: simchaos.NewLostResponses(rand.New(rand.NewPCG(set.Seed, 3))), kill: c.crash}
	c.faults = &simchaos.FaultDriver{Sim: sim, Lost: c.front.loss, Seed: set.Seed}
	simSrv := httptest.NewServer(c.front)
	t.Cleanup(simSrv.Close)

	secrets := secretsStandIn(t, map[string]string{
		arnBrokerSecret: `{"credentials":[{"username":"` + testBrokerUser + `","password":"` + testBrokerPass + `"}]}`,
		arnCloudify:     `{"username":"admin","password":"` + testCloudifyPw + `"}`,
		arnSealKey:      testSealKeyHex,
	})

	// The real definition, with the retry waits of a short test: 1 s, doubling, at
	// most 4 s, full jitter (30 attempts, as deployed).
	defFile := writeDefinition(t, sfn.DefinitionConfig{StepFunctionARN: e2eStepFunction, IntervalSeconds: 1, BackoffRate: 2, MaxDelaySeconds: 4})
	common := append(functionEnv(s, secrets.URL, table, simSrv.URL, "info", set.Deadline.String()),
		// One step per invocation: sfn-local runs one invocation of the emulator at a
		// time, so a step that slept its waits inline would hold up every other
		// operation (ignored by a step function without the inline loop).
		"STEP_INLINE_WAIT_SECONDS=0",
	)
	c.step = newStepEmulator(t, s, bins["step"], common)
	c.sfnURL, c.sfnProc = sfnLocal(t, s, defFile, &rie{process: &process{name: "step"}, url: c.step.url})
	withSFN := append(slices.Clone(common), "AWS_ENDPOINT_URL_SFN="+c.sfnURL)
	c.api = startRIE(t, s, "api", bins["api"], withSFN)
	c.cat = startRIE(t, s, "catalog", bins["catalog"], withSFN)
	c.gwURL = apiGateway(t, c.api).URL

	if res := c.runCatalog(); res.Services == 0 {
		t.Fatalf("the catalog function built no services: %+v", res)
	}
	return c
}

// crash kills the step function at a crash point (from the front's handler).
func (c *awsChaos) crash(cp *acCrash) error {
	c.crashesFired.Add(1)
	switch cp.kind {
	case acRuntimeCrash, acBindCrash, acBindFails, acBindLeft, acUnbindWhileBinding:
		_, err := c.step.killRuntime()
		return err
	case acEmulatorCrash:
		if err := c.step.killEmulator(); err != nil {
			return err
		}
		c.step.restartAfter(time.Second, func(err error) {
			if err != nil && !errors.Is(err, errEmulatorStopped) {
				c.restartErrs.Add(1)
				c.t.Errorf("restart the step emulator: %v", err)
			}
		})
		return nil
	}
	return fmt.Errorf("no crash of kind %s", cp.kind)
}

func (c *awsChaos) runCatalog() serverless.CatalogResult {
	c.t.Helper()
	ev, err := os.ReadFile(filepath.Join(eventsDir, "catalog", "scheduled.json"))
	if err != nil {
		c.t.Fatal(err)
	}
	out, err := c.cat.invoke(ev)
	if err != nil {
		c.t.Fatalf("catalog function: %v", err)
	}
	var res serverless.CatalogResult
	if err := json.Unmarshal(out, &res); err != nil {
		c.t.Fatalf("catalog answer %s: %v", out, err)
	}
	return res
}

// catalogIDs maps service names to their service and first plan ids.
func (c *awsChaos) catalogIDs() map[string][2]string {
	c.t.Helper()
	code, b, err := c.osb(context.Background(), http.MethodGet, "/v2/catalog", nil)
	if err != nil || code != http.StatusOK {
		c.t.Fatalf("catalog: %d %s, %v", code, b, err)
	}
	var cat struct {
		Services []struct {
			ID, Name string
			Plans    []struct{ ID string }
		}
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		c.t.Fatalf("catalog %s: %v", b, err)
	}
	out := map[string][2]string{}
	for _, s := range cat.Services {
		if len(s.Plans) > 0 {
			out[s.Name] = [2]string{s.ID, s.Plans[0].ID}
		}
	}
	return out
}

// plan draws the lifecycles: the required kinds, the rest by weight.
func (c *awsChaos) plan() []*acLC {
	r := rand.New(rand.NewPCG(c.set.Seed, 1))
	n := c.set.Lifecycles
	kinds := slices.Clone(acRequired[:min(n, len(acRequired))])
	weighted := slices.Sorted(maps.Keys(acWeights))
	kinds = simchaos.DrawKinds(r, kinds, n, weighted, acWeights)
	// A hang lasts a whole deadline: start it first, so that the campaign lasts about
	// one deadline plus the rest, not the sum.
	simchaos.StartFirst(kinds, func(k acKind) bool { return k == acInstallHangs })
	lcs := make([]*acLC, n)
	for i, k := range kinds {
		lc := &acLC{idx: i, kind: k, rng: rand.New(rand.NewPCG(c.set.Seed, uint64(100+i)))}
		lc.id = fmt.Sprintf("awschaos-%d-%03d", c.set.Seed%100000, i)
		lc.depID = broker.DeploymentID(lc.id)
		lc.svc = acServices[r.IntN(len(acServices))]
		switch k {
		case acFailingBP:
			lc.svc = acFailingService
		case acInstallHangs:
			lc.hangState = []string{"started", "started", "pending"}[r.IntN(3)]
		case acFull, acKeep:
			lc.update = r.IntN(2) == 0
		case acEarlyDeprovision:
			lc.earlyDelay = time.Duration(r.IntN(1500)) * time.Millisecond
		case acRuntimeCrash:
			// Killed while the manager creates the deployment, then while it deletes it.
			lc.crashes = []*acCrash{
				{kind: k, opKind: "provision", depID: lc.depID, method: http.MethodPut},
				{kind: k, opKind: "deprovision", depID: lc.depID, method: http.MethodDelete},
			}
		case acEmulatorCrash:
			// Killed while the manager starts the install.
			lc.crashes = []*acCrash{{kind: k, opKind: "provision", depID: lc.depID, method: http.MethodPost, workflow: "install"}}
		}
		lc.bindingID = lc.id + "-b"
		key := broker.BindingSecretKey(lc.depID, lc.bindingID)
		switch k {
		case acBindCrash:
			lc.svc = acServices[0]
			lc.crashes = []*acCrash{
				{kind: k, opKind: "bind", depID: lc.depID, method: http.MethodPost, workflow: "osb_bind"},
				{kind: k, opKind: "unbind", depID: lc.depID, method: http.MethodPost, workflow: "osb_unbind"},
				{kind: k, opKind: "unbind", depID: lc.depID, method: http.MethodDelete, secret: key},
			}
		case acBindFails:
			lc.svc = acServices[0]
			lc.crashes = []*acCrash{{kind: k, opKind: "bind", depID: lc.depID, method: http.MethodDelete, secret: key, failed: true}}
		case acBindLeft:
			lc.svc = acServices[0]
			lc.crashes = []*acCrash{{kind: k, opKind: "deprovision", depID: lc.depID, method: http.MethodDelete, secret: key}}
		case acUnbindWhileBinding:
			lc.svc = acServices[0]
			lc.crashes = []*acCrash{{kind: k, opKind: "bind", depID: lc.depID, method: http.MethodPost, workflow: "osb_bind", cancel: true, failed: true}}
		case acKeep:
			// Mostly a binding with credentials of its own, for the checks of secrets
			// and users.
			if r.IntN(3) != 0 {
				lc.svc = acServices[0]
			}
		}
		lc.repeat = r.IntN(4) == 0
		lcs[i] = lc
	}
	return lcs
}

// ---------------------------------------------------------------------------------
// OSB calls, through the API Gateway stand-in.

// acHTTPError is an OSB answer that is not what the call wanted.
type acHTTPError struct {
	status int
	body   string
}

func (e *acHTTPError) Error() string { return fmt.Sprintf("HTTP %d: %.300s", e.status, e.body) }

func acStatusOf(err error) int {
	var he *acHTTPError
	if errors.As(err, &he) {
		return he.status
	}
	return 0
}

// osb sends one OSB request and returns its status and body; a status >= 500 is an
// error (for call to retry).
func (c *awsChaos) osb(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.gwURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Broker-API-Version", "2.17")
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testBrokerUser, testBrokerPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode >= 500 {
		return resp.StatusCode, b, &acHTTPError{status: resp.StatusCode, body: string(b)}
	}
	return resp.StatusCode, b, nil
}

const acPollEvery = 250 * time.Millisecond

// call sends one OSB request, retrying it (bounded) while the broker answers 5xx or
// cannot be reached (osb's error is never a status below 500).
func (c *awsChaos) call(ctx context.Context, lc *acLC, name, method, path string, body any) (int, []byte, error) {
	var code int
	var b []byte
	err := simchaos.Call(ctx, &lc.Journal, &c.osbRetries, name, func() (int, error) {
		var err error
		code, b, err = c.osb(ctx, method, path, body)
		return code, err
	})
	return code, b, err
}

func instancePath(lc *acLC) string { return "/v2/service_instances/" + lc.id }

func (c *awsChaos) ids(lc *acLC) string {
	return "service_id=" + url.QueryEscape(lc.serviceID) + "&plan_id=" + url.QueryEscape(lc.planID)
}

// operation decodes the operation of a 202.
func operation(b []byte) string {
	var body struct {
		Operation string `json:"operation"`
	}
	_ = json.Unmarshal(b, &body)
	return body.Operation
}

// acPoll is how an operation ended.
type acPoll struct {
	state, desc string
	gone        bool
}

// lastOperation asks the instance's or (for a bind or unbind) the binding's
// last_operation once, naming the operation.
func (c *awsChaos) lastOperation(ctx context.Context, lc *acLC, op acOp) (int, acPoll, error) {
	path := instancePath(lc)
	if op.onBinding() {
		path = bindingPath(lc)
	}
	code, b, err := c.osb(ctx, http.MethodGet, path+"/last_operation?operation="+url.QueryEscape(op.key), nil)
	if err != nil {
		return code, acPoll{}, err
	}
	var body struct {
		State       string `json:"state"`
		Description string `json:"description"`
	}
	switch code {
	case http.StatusGone:
		return code, acPoll{gone: true}, nil
	case http.StatusOK:
		if err := json.Unmarshal(b, &body); err != nil {
			return code, acPoll{}, err
		}
		return code, acPoll{state: body.State, desc: body.Description}, nil
	}
	return code, acPoll{}, &acHTTPError{status: code, body: string(b)}
}

// poll follows last_operation until it leaves "in progress" (or the instance or
// binding is gone).
func (c *awsChaos) poll(ctx context.Context, lc *acLC, op acOp) (acPoll, error) {
	var last string
	failures := 0
	for {
		_, res, err := c.lastOperation(ctx, lc, op)
		if err != nil {
			code := acStatusOf(err)
			if code != 0 && code < 500 || ctx.Err() != nil || failures >= simchaos.MaxAttempts {
				return acPoll{}, fmt.Errorf("last_operation: %w", err)
			}
			failures++
			c.osbRetries.Add(op.kind + " last_operation " + simchaos.StatusName(code))
		} else if res.gone || res.state != "in progress" {
			return res, nil
		} else {
			last = res.desc
		}
		select {
		case <-ctx.Done():
			return acPoll{}, fmt.Errorf("still in progress when the lifecycle's deadline passed (last: %q)", last)
		case <-time.After(acPollEvery + time.Duration(lc.rng.IntN(100))*time.Millisecond):
		}
	}
}

// ---------------------------------------------------------------------------------
// One lifecycle.

// runLifecycle runs one lifecycle to its end; what goes wrong is recorded, not fatal.
func (c *awsChaos) runLifecycle(parent context.Context, lc *acLC) {
	defer lc.Begin()()
	ctx, cancel := context.WithTimeout(parent, 3*c.set.Deadline+60*time.Second)
	defer cancel()
	lc.Logf("plan: %s, service %s, update=%v repeat=%v hang=%q", lc.kind, lc.svc.name, lc.update, lc.repeat, lc.hangState)
	switch lc.kind {
	case acInstallFails:
		c.sim.FailWorkflow(lc.depID, "install", "")
		defer c.sim.ReleaseWorkflow(lc.depID, "install")
	case acInstallHangs:
		c.sim.HangWorkflow(lc.depID, "install", lc.hangState)
		defer c.sim.ReleaseWorkflow(lc.depID, "install")
	case acUnbindWhileBinding:
		// The bind workflow runs 6 s (60 simulated): the unbind comes while it runs.
		c.sim.SetDuration(lc.depID, "osb_bind", time.Minute)
	case acBindFails:
		// The bind workflow runs 6 s (60 simulated), long enough for leaveSecret to
		// set its secret, then fails.
		c.sim.SetDuration(lc.depID, "osb_bind", time.Minute)
		c.sim.FailWorkflow(lc.depID, "osb_bind", "Traceback (most recent call last):\n  File \"scripts/osb_bind.py\", line 42, in <module>\n"+acBindError)
		defer c.sim.ReleaseWorkflow(lc.depID, "osb_bind")
	}
	for _, cp := range lc.crashes {
		c.front.arm(cp)
	}

	// Provision.
	req := map[string]any{
		"service_id": lc.serviceID, "plan_id": lc.planID, "organization_guid": "chaos-org", "space_guid": "chaos-space",
	}
	if p := lc.svc.params(lc.rng); p != nil {
		req["parameters"] = p
		lc.adminPassword = p["admin_password"]
	}
	code, b, err := c.call(ctx, lc, "provision", http.MethodPut, instancePath(lc)+"?accepts_incomplete=true", req)
	if err != nil {
		lc.Problem("provision: %v", err)
		return
	}
	op := operation(b)
	if code != http.StatusAccepted || op == "" {
		lc.Problem("provision answered %d %s, want 202 with an operation", code, b)
		return
	}
	lc.addOp("provision", op)
	lc.Logf("provision accepted, operation %s", op)
	if lc.repeat {
		// The platform sends the same request again: the same operation, or 200 if it
		// has succeeded already, 409 if it has failed.
		time.Sleep(time.Duration(lc.rng.IntN(300)) * time.Millisecond)
		code, b, err := c.call(ctx, lc, "provision", http.MethodPut, instancePath(lc)+"?accepts_incomplete=true", req)
		c.repeats.Add(1)
		switch {
		case err == nil && code == http.StatusAccepted && operation(b) == op:
		case err == nil && code == http.StatusOK:
			lc.Logf("repeated provision: 200, it has succeeded already")
		case err == nil && code == http.StatusConflict:
			lc.Logf("repeated provision: 409, it has failed already")
		default:
			lc.Problem("repeated provision answered %d %s, %v; want 202 with operation %s", code, b, err, op)
		}
	}

	if lc.kind == acEarlyDeprovision {
		select {
		case <-ctx.Done():
		case <-time.After(lc.earlyDelay):
		}
		c.deprovision(ctx, lc)
		res, err := c.poll(ctx, lc, acOp{kind: "provision", key: op})
		switch {
		case err != nil:
			lc.Problem("provision operation after the deprovision: %v", err)
		case res.gone:
			lc.Problem("last_operation of the provision answered 410")
		case res.state == "failed" && strings.Contains(res.desc, "halted"):
			lc.Expect("provision halted by the deprovision")
		case res.state == "succeeded":
			lc.Logf("the provision finished before the deprovision halted it")
		default:
			lc.Problem("provision ended %s (%s) after a deprovision, want failed (halted) or succeeded", res.state, res.desc)
		}
		return
	}

	res, err := c.poll(ctx, lc, acOp{kind: "provision", key: op})
	if err != nil {
		lc.Problem("provision: %v", err)
		return
	}
	if res.gone {
		lc.Problem("last_operation of a provision answered 410")
		return
	}
	lc.Logf("provision ended %s: %s", res.state, res.desc)
	lc.noteEnded("provision")
	provisioned := res.state == "succeeded"
	for _, e := range c.sim.Executions(lc.depID) {
		if e.WorkflowID == "install" {
			lc.installs++
		}
	}
	switch lc.kind {
	case acFailingBP, acInstallFails:
		if provisioned || !strings.Contains(res.desc, "install") {
			lc.Problem("provision ended %s (%s), want failed naming the install", res.state, res.desc)
		} else {
			lc.Expect("install failed")
		}
	case acInstallHangs:
		if provisioned || !simchaos.TimedOut(res.desc) {
			lc.Problem("provision with a hung install ended %s (%s), want failed: timed out", res.state, res.desc)
		} else {
			lc.Expect("hung install timed out")
		}
	case acRuntimeCrash, acEmulatorCrash:
		// The point of the campaign: the crash must not fail the operation.
		if !provisioned {
			lc.Problem("provision through a step crash ended %s: %s", res.state, res.desc)
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
		if !c.bindAndUse(ctx, lc) {
			return
		}
		if lc.kind == acKeep {
			lc.setFinal("live")
			lc.Logf("kept for the checks")
			return
		}
	}
	c.deprovision(ctx, lc)
}

// bindAndUse binds, fetches the binding, maybe updates, and (unless the binding is
// kept) unbinds.
func (c *awsChaos) bindAndUse(ctx context.Context, lc *acLC) bool {
	if !c.bind(ctx, lc) {
		return false
	}
	if lc.update {
		c.updateInstance(ctx, lc)
	}
	if lc.kind == acKeep || lc.kind == acBindLeft {
		return true
	}
	c.unbind(ctx, lc)
	return true
}

func bindingPath(lc *acLC) string { return instancePath(lc) + "/service_bindings/" + lc.bindingID }

// bind binds; a binding with credentials of its own is followed through its
// last_operation. It checks the credentials against the manager's user of the
// binding; false when the lifecycle cannot go on.
func (c *awsChaos) bind(ctx context.Context, lc *acLC) bool {
	body := map[string]any{"service_id": lc.serviceID, "plan_id": lc.planID}
	code, b, err := c.call(ctx, lc, "bind", http.MethodPut, bindingPath(lc)+"?accepts_incomplete=true", body)
	if err != nil {
		lc.Problem("bind: %v", err)
		return false
	}
	var creds map[string]any
	switch code {
	case http.StatusCreated, http.StatusOK:
		// Shared credentials: the deployment's, at once.
		if lc.svc.name == "mariadb" {
			lc.Problem("bind of a mariadb instance answered %d: its bindings have credentials of their own and are asynchronous", code)
		}
		var bind struct {
			Credentials map[string]any `json:"credentials"`
		}
		_ = json.Unmarshal(b, &bind)
		creds = bind.Credentials
		lc.setBinding(true, false, "")
	case http.StatusAccepted:
		op := operation(b)
		if op == "" || lc.svc.name != "mariadb" {
			lc.Problem("bind of a %s instance answered 202 %s; want 201, or 202 with an operation for mariadb", lc.svc.name, b)
			return false
		}
		lc.addOp("bind", op)
		lc.Logf("bind accepted, operation %s", op)
		if lc.kind == acBindFails || lc.kind == acUnbindWhileBinding {
			c.leaveSecret(ctx, lc)
		}
		if lc.kind == acUnbindWhileBinding {
			c.unbindWhileBinding(ctx, lc, op)
			return true
		}
		if lc.repeat {
			// The same request again: the same operation, or 200 once bound.
			code, b, err := c.call(ctx, lc, "bind", http.MethodPut, bindingPath(lc)+"?accepts_incomplete=true", body)
			c.repeats.Add(1)
			switch {
			case err == nil && code == http.StatusAccepted && operation(b) == op:
			case err == nil && code == http.StatusOK:
				lc.Logf("repeated bind: 200, it has succeeded already")
			default:
				lc.Problem("repeated bind answered %d %s, %v; want 202 with operation %s", code, b, err, op)
			}
		}
		res, err := c.poll(ctx, lc, acOp{kind: "bind", key: op})
		if err != nil {
			lc.Problem("bind: %v", err)
			return false
		}
		lc.Logf("bind ended %s: %s", res.state, res.desc)
		lc.noteEnded("bind")
		c.countRuns(lc, "osb_bind")
		switch {
		case res.gone:
			lc.Problem("last_operation of a bind answered 410")
			return false
		case lc.kind == acBindFails && res.state == "failed" && strings.Contains(res.desc, acBindError):
			lc.Expect("bind workflow failed")
			c.expectNoBinding(ctx, lc, true)
			return true
		case res.state != "succeeded" && simchaos.TimedOut(res.desc):
			// The bind workflow may have made its user before the deadline: the
			// unbind a platform sends after a failed bind revokes it.
			lc.NoteTimedOut("bind: " + res.desc)
			c.expectNoBinding(ctx, lc, false)
			c.unbind(ctx, lc)
			return true
		case lc.kind == acBindFails:
			lc.Problem("bind with a failing workflow ended %s (%s), want failed with %q", res.state, res.desc, acBindError)
			return false
		case res.state != "succeeded":
			lc.Problem("bind failed: %s", res.desc)
			return false
		}
		code, b, err := c.call(ctx, lc, "fetch_binding", http.MethodGet, bindingPath(lc), nil)
		var got struct {
			Credentials map[string]any `json:"credentials"`
		}
		_ = json.Unmarshal(b, &got)
		if err != nil || code != http.StatusOK {
			lc.Problem("fetch binding after its bind answered %d %s, %v", code, b, err)
			return false
		}
		creds = got.Credentials
		user, _ := creds["username"].(string)
		if u, ok := c.bindingUsers(lc.depID)[lc.bindingID]; !ok || user == "" || u.Username != user {
			lc.Problem("binding's username %q is not the manager's user of the binding (%+v, found %v)", user, u, ok)
		}
		if pw, _ := creds["password"].(string); pw == "" || pw == fmt.Sprint(lc.adminPassword) {
			lc.Problem("binding's password is empty or the instance's admin password")
		}
		lc.setBinding(true, true, user)
	default:
		lc.Problem("bind answered %d %s", code, b)
		return false
	}
	if creds[lc.svc.credKey] == nil {
		lc.Problem("bind: credentials %v lack %q", slices.Sorted(maps.Keys(creds)), lc.svc.credKey)
	}
	code, b, err = c.call(ctx, lc, "fetch_binding", http.MethodGet, bindingPath(lc), nil)
	var got struct {
		Credentials map[string]any `json:"credentials"`
	}
	_ = json.Unmarshal(b, &got)
	switch {
	case err != nil || code != http.StatusOK:
		lc.Problem("fetch binding answered %d %s, %v", code, b, err)
	case fmt.Sprint(got.Credentials[lc.svc.credKey]) != fmt.Sprint(creds[lc.svc.credKey]) ||
		fmt.Sprint(got.Credentials["username"]) != fmt.Sprint(creds["username"]):
		lc.Problem("fetch binding: %s = %v, username %v; the bind gave %v, %v", lc.svc.credKey, got.Credentials[lc.svc.credKey],
			got.Credentials["username"], creds[lc.svc.credKey], creds["username"])
	}
	return true
}

// unbindWhileBinding unbinds while the bind runs: the unbind ends 410, the bind
// failed (halted) or, if it ended first, succeeded; nothing of the binding stays.
func (c *awsChaos) unbindWhileBinding(ctx context.Context, lc *acLC, bindOp string) {
	lc.setBinding(false, true, "")
	c.unbind(ctx, lc)
	res, err := c.poll(ctx, lc, acOp{kind: "bind", key: bindOp})
	lc.noteEnded("bind")
	c.countRuns(lc, "osb_bind")
	switch {
	case err != nil:
		lc.Problem("bind after its unbind: %v", err)
	case res.state == "failed" && strings.Contains(res.desc, "halted"):
		lc.Expect("bind halted by the unbind")
	case res.state == "succeeded":
		lc.Logf("the bind ended before the unbind halted it")
	default:
		lc.Problem("bind ended %s (%s, gone %v) after its unbind, want failed (halted) or succeeded", res.state, res.desc, res.gone)
	}
	c.expectNoBinding(ctx, lc, true)
}

// leaveSecret plays a bind workflow that writes the binding's secret before it
// fails: once the manager runs it, the secret is set.
func (c *awsChaos) leaveSecret(ctx context.Context, lc *acLC) {
	for {
		for _, e := range c.sim.Executions(lc.depID) {
			if e.WorkflowID == "osb_bind" && e.Parameters["binding_id"] == lc.bindingID && e.Status == "started" {
				c.sim.SetSecret(broker.BindingSecretKey(lc.depID, lc.bindingID), map[string]any{"username": "half-made", "password": "half-made"})
				lc.Logf("osb_bind runs: its secret is set")
				return
			}
		}
		select {
		case <-ctx.Done():
			lc.Problem("osb_bind of %s never ran", lc.bindingID)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// expectNoBinding checks that a binding whose bind failed is not served and has no
// secret, and (noUser) no database user.
func (c *awsChaos) expectNoBinding(ctx context.Context, lc *acLC, noUser bool) {
	lc.setBinding(false, true, "")
	if code, b, err := c.call(ctx, lc, "fetch_binding", http.MethodGet, bindingPath(lc), nil); err != nil || code != http.StatusNotFound {
		lc.Problem("fetch of a binding whose bind failed answered %d %s, %v; want 404", code, b, err)
	}
	if c.hasSecret(broker.BindingSecretKey(lc.depID, lc.bindingID)) {
		lc.Problem("the failed bind left its secret")
	}
	if _, ok := c.bindingUsers(lc.depID)[lc.bindingID]; ok && noUser {
		lc.Problem("the failed bind left a database user")
	}
}

// unbind unbinds; a binding with credentials of its own is followed through its
// last_operation to 410, then its user and secret must be gone. An unbind that fails
// "timed out" is asked again.
func (c *awsChaos) unbind(ctx context.Context, lc *acLC) {
	bound, perBinding, _ := lc.binding()
	path := bindingPath(lc) + "?accepts_incomplete=true&" + c.ids(lc)
	for attempt := 1; attempt <= 3; attempt++ {
		code, b, err := c.call(ctx, lc, "unbind", http.MethodDelete, path, nil)
		switch {
		case err != nil:
			lc.Problem("unbind: %v", err)
			return
		case code == http.StatusOK && !perBinding:
			lc.setBinding(false, false, "")
			return
		case code == http.StatusGone && !bound:
			return // the bind failed: nothing to unbind
		case code != http.StatusAccepted || operation(b) == "" || !perBinding:
			lc.Problem("unbind answered %d %s; want 200 (shared credentials) or 202 (credentials of its own; the binding was lost?)", code, b)
			return
		}
		op := operation(b)
		lc.addOp("unbind", op)
		lc.Logf("unbind accepted, operation %s", op)
		res, err := c.poll(ctx, lc, acOp{kind: "unbind", key: op})
		if err != nil {
			lc.Problem("unbind: %v", err)
			return
		}
		if res.gone {
			lc.noteEnded("unbind")
			c.countRuns(lc, "osb_unbind")
			lc.Logf("unbound (410)")
			lc.setBinding(false, true, "")
			if c.hasSecret(broker.BindingSecretKey(lc.depID, lc.bindingID)) {
				lc.Problem("the unbind left the binding's secret")
			}
			if u, ok := c.bindingUsers(lc.depID)[lc.bindingID]; ok {
				lc.Problem("the unbind left the binding's database user %s", u.Username)
			}
			return
		}
		lc.Logf("unbind ended %s: %s", res.state, res.desc)
		if res.state == "failed" && simchaos.TimedOut(res.desc) {
			lc.NoteTimedOut("unbind: " + res.desc)
			continue
		}
		lc.Problem("unbind ended %s (%s), want 410 Gone", res.state, res.desc)
		return
	}
	lc.Problem("still bound after 3 unbinds")
}

// bindingUsers maps binding ids to the database users the bind workflows made on the
// deployment.
func (c *awsChaos) bindingUsers(depID string) map[string]cloudifysim.BindingUser {
	out := map[string]cloudifysim.BindingUser{}
	if d, ok := c.sim.Deployment(depID); ok && d.Exists {
		for _, u := range d.BindingUsers {
			out[u.Binding] = u
		}
	}
	return out
}

// hasSecret says whether the manager has the secret.
func (c *awsChaos) hasSecret(key string) bool {
	return slices.ContainsFunc(c.sim.Secrets(), func(s cloudifysim.SecretInfo) bool { return s.Key == key })
}

func (c *awsChaos) updateInstance(ctx context.Context, lc *acLC) {
	params := lc.svc.update(lc.rng)
	code, b, err := c.call(ctx, lc, "update", http.MethodPatch, instancePath(lc)+"?accepts_incomplete=true",
		map[string]any{"service_id": lc.serviceID, "parameters": params})
	op := operation(b)
	if err != nil || code != http.StatusAccepted || op == "" {
		lc.Problem("update answered %d %s, %v; want 202", code, b, err)
		return
	}
	lc.addOp("update", op)
	lc.Logf("update accepted, operation %s", op)
	res, err := c.poll(ctx, lc, acOp{kind: "update", key: op})
	if err != nil {
		lc.Problem("update: %v", err)
		return
	}
	lc.Logf("update ended %s: %s", res.state, res.desc)
	switch {
	case res.gone:
		lc.Problem("last_operation of an update answered 410")
	case res.state != "succeeded":
		if simchaos.TimedOut(res.desc) {
			lc.NoteTimedOut("update: " + res.desc)
		} else {
			lc.Problem("update failed: %s", res.desc)
		}
	default:
		for k, v := range params {
			if d, ok := c.sim.Deployment(lc.depID); !ok || fmt.Sprint(d.Inputs[k]) != fmt.Sprint(v) {
				lc.Problem("after the update the deployment's input %s = %v, want %v", k, d.Inputs[k], v)
			}
		}
	}
}

// deprovision deprovisions and polls to 410; a deprovision that fails is asked again.
func (c *awsChaos) deprovision(ctx context.Context, lc *acLC) {
	path := instancePath(lc) + "?accepts_incomplete=true&" + c.ids(lc)
	for attempt := 1; attempt <= 3; attempt++ {
		code, b, err := c.call(ctx, lc, "deprovision", http.MethodDelete, path, nil)
		op := operation(b)
		if err != nil || code != http.StatusAccepted || op == "" {
			lc.Problem("deprovision answered %d %s, %v; want 202", code, b, err)
			return
		}
		lc.addOp("deprovision", op)
		lc.Logf("deprovision accepted, operation %s", op)
		if lc.repeat {
			code, b, err := c.call(ctx, lc, "deprovision", http.MethodDelete, path, nil)
			c.repeats.Add(1)
			switch {
			case err == nil && code == http.StatusAccepted && operation(b) == op:
			case err == nil && (code == http.StatusGone || code == http.StatusOK): // it has ended already
			default:
				lc.Problem("repeated deprovision answered %d %s, %v; want 202 with operation %s", code, b, err, op)
			}
		}
		res, err := c.poll(ctx, lc, acOp{kind: "deprovision", key: op})
		if err != nil {
			lc.Problem("deprovision: %v", err)
			return
		}
		if res.gone {
			lc.noteEnded("deprovision")
			lc.Logf("deprovisioned (410)")
			lc.setFinal("gone")
			return
		}
		lc.Logf("deprovision ended %s: %s", res.state, res.desc)
		if res.state == "failed" && simchaos.TimedOut(res.desc) {
			lc.NoteTimedOut("deprovision: " + res.desc)
			continue
		}
		lc.Problem("deprovision ended %s (%s), want 410 Gone", res.state, res.desc)
		if res.state != "failed" {
			return
		}
	}
	lc.Problem("still not deprovisioned after 3 deprovisions")
}

// ---------------------------------------------------------------------------------
// The checks.

// acExecution is sfn-local's record of an execution, with the errors its Step state
// met (from sfn-local's log).
type acExecution struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Retries int    `json:"retries"`
	Steps   int    `json:"steps"`
	Error   string `json:"error"`
	Cause   string `json:"cause"`
	faults  []string
}

// executions lists sfn-local's executions with the errors of their task states.
func (c *awsChaos) executions() (map[string]*acExecution, error) {
	resp, err := http.Get(c.sfnURL + "/_executions")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list []*acExecution
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	out := map[string]*acExecution{}
	for _, e := range list {
		out[e.Name] = e
	}
	failed := regexp.MustCompile(`sfn-local: \S+ (\S+): StateFailed (Step|MarkFailed) (\S+)`)
	sc := bufio.NewScanner(strings.NewReader(c.sfnProc.output()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := failed.FindStringSubmatch(sc.Text()); m != nil {
			if e := out[m[1]]; e != nil {
				e.faults = append(e.faults, m[2]+" "+m[3])
			}
		}
	}
	return out, nil
}

// settledExecutions lists the executions once none runs, or after 10 s (an execution
// ends a moment after the step that ended its operation).
func (c *awsChaos) settledExecutions() (map[string]*acExecution, error) {
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		execs, err := c.executions()
		if err != nil {
			return nil, err
		}
		running := false
		for _, e := range execs {
			running = running || e.Status == "RUNNING"
		}
		if !running || time.Now().After(wait) {
			return execs, nil
		}
	}
}

// acFigures are the campaign's results.
type acFigures struct {
	simchaos.Figures
	byKind         map[acKind]int
	driverGaveUp   int
	executions     map[string]int
	sfnRetries     int
	retriesByOp    map[string]int // the retries, by operation type (the execution name's prefix)
	stepFaults     map[string]int
	stepColdStarts int
	crashes        []string
	slowest        *acLC
	// Bindings: the binding secrets and database users on the manager at the checks,
	// the orphans among them, the bindings kept bound and the lost ones, and the
	// binding secrets left after the cleanup.
	bindingSecrets, bindingUsers, orphanSecrets, orphanUsers int
	keptBindings, lostBindings, orphanSecretsAfter           int
}

// check compares every instance with the simulator's truth, the broker's answers and
// the state machine's executions.
func (c *awsChaos) check(lcs []*acLC) acFigures {
	f := acFigures{Figures: simchaos.NewFigures(len(lcs)), byKind: map[acKind]int{},
		executions: map[string]int{}, stepFaults: map[string]int{}, retriesByOp: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	problem := f.Problem

	// None stuck: the store has no operation in progress, every operation any
	// lifecycle started ended succeeded or failed (a deprovision: 410), and no
	// execution still runs.
	stuckIDs := map[string]bool{}
	if active, err := c.store.ActiveOperations(ctx); err != nil {
		problem("list active operations: %v", err)
	} else {
		for _, op := range active {
			stuckIDs[op.InstanceID] = true
			problem("stuck: operation %s (%s of %s) still in progress: %s", op.ID, op.Type, op.InstanceID, op.Description)
		}
	}
	for _, lc := range lcs {
		for _, op := range lc.ops {
			code, res, err := c.lastOperation(ctx, lc, op)
			switch {
			case code == http.StatusGone && (op.kind == "deprovision" || op.kind == "unbind"):
			case err != nil || code != http.StatusOK:
				stuckIDs[lc.id] = true
				problem("%s: last_operation of its %s %s: %d, %v", lc.id, op.kind, op.key, code, err)
			case res.state != "succeeded" && res.state != "failed":
				stuckIDs[lc.id] = true
				problem("stuck: %s: its %s %s is %q: %s", lc.id, op.kind, op.key, res.state, res.desc)
			}
		}
	}
	execs, err := c.settledExecutions()
	if err != nil {
		problem("list executions: %v", err)
	}
	for _, e := range execs {
		if e.Status == "RUNNING" {
			stuckIDs["execution "+e.Name] = true
			problem("stuck: execution %s still runs", e.Name)
		}
	}
	f.Stuck = len(stuckIDs)
	// Every operation was driven by an execution named after it.
	for _, lc := range lcs {
		for _, op := range lc.ops {
			if execs[op.key] == nil {
				problem("%s: its %s %s has no execution", lc.id, op.kind, op.key)
			}
		}
	}

	// The simulator's truth: how many deployments each id ever had, and which live.
	truth := simchaos.ReadTruth(c.sim)
	created := truth.Created
	byDep := map[string]*acLC{}
	for _, lc := range lcs {
		byDep[lc.depID] = lc
	}
	truth.Check(&f.Figures, broker.LabelInstanceID, func(depID string) (string, string, bool) {
		if lc := byDep[depID]; lc != nil {
			return lc.id, lc.getFinal(), true
		}
		return "", "", false
	})

	// The crashes: each fired, its operation retried the step past it (with the error
	// Step Functions reports: Lambda.Unknown for a runtime that exits during the
	// invocation, Lambda.ServiceException for an emulator that cannot be reached) and
	// adopted what the dead invocation had done: one deployment, one install execution,
	// one run of the binding's workflow it interrupted, the operation succeeded (or,
	// for the failing bind, failed as planned).
	for _, lc := range lcs {
		for _, cp := range lc.crashes {
			if !cp.fired.Load() {
				problem("%s: the crash point %s was never reached", lc.id, cp)
				continue
			}
			if cp.err != nil {
				problem("%s: crash at %s: %v", lc.id, cp, cp.err)
			}
			if lc.installs != 1 {
				problem("%s: %d install executions after the crash at %s, want 1", lc.id, lc.installs, cp)
			}
			if created[lc.depID] != 1 {
				problem("%s: %d deployments created after the crash at %s, want 1", lc.id, created[lc.depID], cp)
			}
			if cp.workflow == "osb_bind" || cp.workflow == "osb_unbind" {
				lc.mu.Lock()
				n := lc.runs[cp.workflow]
				lc.mu.Unlock()
				if n != 1 {
					problem("%s: %d %s executions for its binding after the crash at %s, want 1", lc.id, n, cp.workflow, cp)
				}
			}
			want := "Lambda.Unknown"
			if cp.kind == acEmulatorCrash {
				want = "Lambda.ServiceException"
			}
			wantStatus := "SUCCEEDED"
			if cp.failed {
				wantStatus = "FAILED"
			}
			var exec *acExecution
			for _, op := range lc.ops {
				if e := execs[op.key]; op.kind == cp.opKind && e != nil && slices.Contains(e.faults, "Step "+want) {
					exec = e
				}
			}
			lc.mu.Lock()
			ended := lc.ended[cp.opKind]
			lc.mu.Unlock()
			switch {
			case exec == nil:
				problem("%s: no execution of its %s met %s", lc.id, cp.opKind, want)
			case exec.Retries == 0 || exec.Status != wantStatus:
				problem("%s: the execution %s of its %s met %v, %d retries, ended %s; want %s retried and %s",
					lc.id, exec.Name, cp.opKind, exec.faults, exec.Retries, exec.Status, want, wantStatus)
			default:
				f.crashes = append(f.crashes, fmt.Sprintf("%s %s at %s: %s retried (%d retries in all), %s ended %s %.1fs after the crash; %d deployment, %d install execution",
					lc.id, cp.kind, cp, want, exec.Retries, cp.opKind, strings.ToLower(wantStatus), ended.Sub(cp.firedAt).Seconds(), created[lc.depID], lc.installs))
			}
		}
	}

	// No record lost: every kept instance answers with its record and binding and has
	// exactly one live, installed deployment; every deprovisioned one is gone.
	for _, lc := range lcs {
		f.byKind[lc.kind]++
		switch lc.getFinal() {
		case "live":
			f.Kept++
			ok := true
			code, b, err := c.osb(ctx, http.MethodGet, instancePath(lc), nil)
			var inst struct {
				ServiceID string `json:"service_id"`
				PlanID    string `json:"plan_id"`
			}
			_ = json.Unmarshal(b, &inst)
			if err != nil || code != http.StatusOK || inst.ServiceID != lc.serviceID || inst.PlanID != lc.planID {
				ok = false
				problem("lost: %s: fetch instance answered %d %s, %v", lc.id, code, b, err)
			}
			if !truth.CheckKept(&f.Figures, lc.id, lc.depID) {
				ok = false
			}
			if !ok {
				f.Lost++
			}
		case "gone":
			if code, _, err := c.osb(ctx, http.MethodGet, instancePath(lc), nil); err != nil || code != http.StatusNotFound {
				f.StaleRecords++
				problem("%s is deprovisioned but fetch instance answers %d, %v", lc.id, code, err)
			}
			if code, _, err := c.osb(ctx, http.MethodDelete, instancePath(lc)+"?accepts_incomplete=true&"+c.ids(lc), nil); err != nil || code != http.StatusGone {
				f.StaleRecords++
				problem("%s is deprovisioned but a second deprovision answers %d, %v", lc.id, code, err)
			}
		}
	}
	// The store agrees: every record is gone, or ready for a kept instance.
	err = simchaos.Pages(ctx, c.store.ListInstances, func(inst broker.Instance) {
		lc := byDep[inst.DeploymentID]
		want := broker.InstanceGone
		if lc != nil && lc.getFinal() == "live" {
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
	c.checkBindings(ctx, &f, lcs, byDep)

	// The sweep finds nothing left behind by a dead driver.
	if res := c.runCatalog(); res.Sweep.Active != 0 || res.Sweep.Restarted != 0 || res.Sweep.Failed != 0 {
		problem("the catalog function's sweep found work after the campaign: %+v", res.Sweep)
	}

	// Then the kept instances go too, without faults, and nothing at all is left.
	kept := func(lc *acLC) bool { return lc.getFinal() == "live" }
	simchaos.EachAtOnce(ctx, lcs, kept, 4*c.set.Deadline+30*time.Second, func(cctx context.Context, lc *acLC) {
		c.unbind(cctx, lc)
		lc.setFinal("")
		c.deprovision(cctx, lc)
		if lc.getFinal() != "gone" {
			lc.Problem("cleanup: not deprovisioned")
		}
	})
	simchaos.CheckNoneLive(&f.Figures, c.sim)
	for _, sec := range c.sim.Secrets() {
		if strings.HasPrefix(sec.Key, "osb-") {
			f.orphanSecretsAfter++
			problem("orphan after the cleanup: secret %s", sec.Key)
		}
	}

	// No secret in any function's output.
	for _, p := range []struct {
		name, out string
	}{{"api", c.api.output()}, {"catalog", c.cat.output()}, {"step", c.step.output()}, {"sfn-local", c.sfnProc.output()}} {
		for _, secret := range []string{testBrokerPass, testCloudifyPw, testSealKeyHex, "Chaos-pw-"} {
			if strings.Contains(p.out, secret) {
				problem("%s output holds a secret (%.6s…)", p.name, secret)
			}
		}
	}
	f.stepColdStarts = strings.Count(c.step.output(), "INIT REPORT")

	// Every execution (the cleanup's too) ended: succeeded, or failed because its
	// operation failed; none gave up (DriverFailed: the Retry ran out or did not match
	// and MarkFailed ran).
	all, err := c.settledExecutions()
	if err != nil {
		problem("list executions: %v", err)
	}
	for _, e := range all {
		switch {
		case e.Status == "RUNNING":
			problem("stuck: execution %s still runs after the cleanup", e.Name)
			f.executions["running"]++
		case e.Status == "SUCCEEDED":
			f.executions["succeeded"]++
		case e.Status == "FAILED" && e.Error == "OperationFailed":
			f.executions["operation_failed"]++
		default:
			f.driverGaveUp++
			f.executions["driver_failed"]++
			problem("execution %s gave up: %s %s (%s); its step faults: %v", e.Name, e.Status, e.Error, e.Cause, e.faults)
		}
		f.sfnRetries += e.Retries
		if typ, _, ok := strings.Cut(e.Name, "-"); ok && e.Retries > 0 {
			f.retriesByOp[typ] += e.Retries
		}
		for _, fault := range e.faults {
			f.stepFaults[strings.TrimPrefix(fault, "Step ")]++
		}
	}

	for _, lc := range lcs {
		kinds := make([]string, 0, len(lc.ops))
		for _, op := range lc.ops {
			kinds = append(kinds, op.kind)
		}
		if f.AddLifecycle(&lc.Journal, lc.getFinal(), kinds) {
			f.slowest = lc
		}
	}
	f.AddSimStats(c.sim)
	f.AddFaults("lost_response", c.front.loss.Lost())
	f.AddFaults("step_crash", c.crashesFired.Load())
	return f
}

// checkBindings checks the bindings against the manager's truth. Every binding secret
// on the manager (osb-...) belongs to a binding the store records as bound, of a kept
// instance: an orphan otherwise. So does every database user a bind workflow made on a
// live deployment. Every binding a kept lifecycle bound is still bound, fetched with
// its user's credentials, with its secret and user on the manager: lost otherwise.
func (c *awsChaos) checkBindings(ctx context.Context, f *acFigures, lcs []*acLC, byDep map[string]*acLC) {
	problem := f.Problem
	byKey := map[string]*acLC{}
	for _, lc := range lcs {
		byKey[broker.BindingSecretKey(lc.depID, lc.bindingID)] = lc
	}
	// recorded says whether the store records the lifecycle's binding as bound (and
	// what it records otherwise).
	recorded := func(lc *acLC) (bool, string) {
		b, err := c.store.GetBinding(ctx, lc.id, lc.bindingID)
		switch {
		case err != nil:
			return false, err.Error()
		case !b.Ready() || b.Busy():
			return false, fmt.Sprintf("%s (operation %s %s)", b.State, b.OperationType, b.OperationState)
		}
		return true, "bound"
	}
	for _, sec := range c.sim.Secrets() {
		if !strings.HasPrefix(sec.Key, "osb-") {
			continue
		}
		f.bindingSecrets++
		lc := byKey[sec.Key]
		if lc == nil {
			f.orphanSecrets++
			problem("orphan: secret %s is no binding's", sec.Key)
			continue
		}
		if ok, what := recorded(lc); !ok || lc.getFinal() != "live" {
			f.orphanSecrets++
			problem("orphan: secret %s of %s: the store's binding is %s, the lifecycle ended %q", sec.Key, lc.id, what, lc.getFinal())
		}
	}
	for _, d := range c.sim.Deployments() {
		if !d.Exists {
			continue
		}
		for _, u := range d.BindingUsers {
			f.bindingUsers++
			lc := byDep[d.ID]
			if lc == nil || u.Binding != lc.bindingID {
				f.orphanUsers++
				problem("orphan: database user %s of binding %s on %s is no lifecycle's binding", u.Username, u.Binding, d.ID)
				continue
			}
			if ok, what := recorded(lc); !ok {
				f.orphanUsers++
				problem("orphan: database user %s of %s: the store's binding is %s", u.Username, lc.id, what)
			}
		}
	}
	for _, lc := range lcs {
		bound, perBinding, user := lc.binding()
		if !bound || lc.getFinal() != "live" {
			continue
		}
		f.keptBindings++
		var lost []string
		code, b, err := c.osb(ctx, http.MethodGet, bindingPath(lc), nil)
		var got struct {
			Credentials map[string]any `json:"credentials"`
		}
		_ = json.Unmarshal(b, &got)
		if err != nil || code != http.StatusOK || got.Credentials[lc.svc.credKey] == nil {
			lost = append(lost, fmt.Sprintf("fetch binding answered %d %s, %v", code, b, err))
		}
		if perBinding {
			if got.Credentials["username"] != user {
				lost = append(lost, fmt.Sprintf("fetched username %v, bound as %s", got.Credentials["username"], user))
			}
			if ok, what := recorded(lc); !ok {
				lost = append(lost, "the store's binding is "+what)
			}
			if !c.hasSecret(broker.BindingSecretKey(lc.depID, lc.bindingID)) {
				lost = append(lost, "its secret is gone")
			}
			if u, ok := c.bindingUsers(lc.depID)[lc.bindingID]; !ok || u.Username != user {
				lost = append(lost, fmt.Sprintf("the manager's user is %+v (found %v)", u, ok))
			}
		}
		if len(lost) > 0 {
			f.lostBindings++
			problem("lost: binding %s of %s: %s", lc.bindingID, lc.id, strings.Join(lost, "; "))
		}
	}
}

// countRuns records how many runs of a bind or unbind workflow the manager has for
// the lifecycle's binding.
func (c *awsChaos) countRuns(lc *acLC, workflow string) {
	n := 0
	for _, e := range c.sim.Executions(lc.depID) {
		if e.WorkflowID == workflow && e.Parameters["binding_id"] == lc.bindingID {
			n++
		}
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.runs == nil {
		lc.runs = map[string]int{}
	}
	lc.runs[workflow] = n
}

// report prints the figures and fails the test on any problem.
func (c *awsChaos) report(lcs []*acLC, f acFigures) {
	t := c.t
	c.step.mu.Lock()
	downs := slices.Clone(c.step.downs)
	c.step.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "aws chaos figures (seed %d, deadline %s, %d at once):\n", c.set.Seed, c.set.Deadline, c.set.Concurrency)
	f.WriteHead(&b, simchaos.Counts(f.byKind), c.repeats.Load(), c.faults)
	for _, cr := range f.crashes {
		fmt.Fprintf(&b, "  step crash          %s\n", cr)
	}
	fmt.Fprintf(&b, "  step emulator       %d cold starts; away %v after its crashes\n", f.stepColdStarts, downs)
	fmt.Fprintf(&b, "  executions          %d (%s)\n", f.executionsN(), simchaos.Counts(f.executions))
	fmt.Fprintf(&b, "  state-machine retries %d (by operation: %s; step faults: %s)\n", f.sfnRetries, simchaos.Counts(f.retriesByOp), simchaos.Counts(f.stepFaults))
	fmt.Fprintf(&b, "  bindings            at the checks %d kept bound (%d lost), %d binding secrets (%d orphans), %d database users (%d orphans); %d binding secrets after the cleanup\n",
		f.keptBindings, f.lostBindings, f.bindingSecrets, f.orphanSecrets, f.bindingUsers, f.orphanUsers, f.orphanSecretsAfter)
	simchaos.WriteRetries(&b, &c.osbRetries)
	f.WriteTail(&b, "executions given up", int64(f.driverGaveUp))
	t.Logf("%s", b.String())
	if f.slowest != nil {
		simchaos.LogSlowest(t, f.slowest)
	}

	failed := simchaos.ReportProblems(t, f.CheckProblems, lcs, 10)
	if f.Failed() || f.driverGaveUp > 0 || c.restartErrs.Load() > 0 || f.orphanSecrets+f.orphanUsers+f.lostBindings+f.orphanSecretsAfter > 0 {
		failed = true
	}
	if failed {
		t.Errorf("aws chaos campaign failed; repeat with AWS_CHAOS_SEED=%d", c.set.Seed)
	}
	// The functions' and the state machine's records of the lifecycles that went
	// wrong, or (with -v) that timed out under faults.
	dumped := 0
	for _, lc := range lcs {
		if dumped < 3 && (len(lc.Problems) > 0 || testing.Verbose() && len(lc.TimedOut) > 0) {
			dumped++
			c.dumpLogs(lc)
		}
	}
}

// dumpLogs shows the step function's and sfn-local's log lines about a lifecycle.
func (c *awsChaos) dumpLogs(lc *acLC) {
	keys := []string{`"` + lc.id + `"`, `"` + lc.depID + `"`}
	for _, op := range lc.ops {
		keys = append(keys, op.key)
	}
	c.t.Logf("step function's logs about %s (%s):\n%s", lc.id, lc.kind, simchaos.Grep(c.step.output(), keys...))
	c.t.Logf("sfn-local's logs about %s (%s):\n%s", lc.id, lc.kind, simchaos.Grep(c.sfnProc.output(), keys...))
}

// executionsN is the number of executions.
func (f acFigures) executionsN() int {
	n := 0
	for _, v := range f.executions {
		n += v
	}
	return n
}
