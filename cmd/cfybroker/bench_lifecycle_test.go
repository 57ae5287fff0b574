package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/devtools/benchreport"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
	"github.com/cfybroker/cfybroker/internal/workflow"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// Lifecycle parameters.
const (
	benchPlatformPoll    = 10 * time.Second // the platform's last_operation interval
	benchUninstall       = 2 * time.Minute  // simulated uninstall of every run
	benchStepFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:cfybroker-step"
	benchStateMachineARN = "arn:aws:states:us-east-1:123456789012:stateMachine:cfybroker-operations"
)

var benchLifecycleInstalls = []time.Duration{time.Minute, 10 * time.Minute, 60 * time.Minute}

// TestBenchLifecycle drives whole lifecycles (catalog, provision, bind, unbind,
// deprovision) through the AWS shape's own handlers (internal/serverless: the api
// function's OSB handler and the step function's handler) on the simulator's manual
// clock: the step function runs whenever the state machine's Wait would end, sleeps
// between steps (its inline loop) by advancing that clock, and the platform polls
// last_operation every 10 s, sleeps or not. It counts, per request and per
// invocation, the Cloudify calls (the simulator's counters) and the DynamoDB reads
// and writes (dynamostore.Stats, on DynamoDB Local), and the steps and seconds slept
// of every invocation; it also writes the state machine's definition, from which the
// report counts state transitions. Every lifecycle runs twice: as deployed (the step
// function's defaults) and with the inline loop off, one step per invocation.
func TestBenchLifecycle(t *testing.T) {
	dir := benchDir(t)
	def, err := sfn.Definition(sfn.DefinitionConfig{StepFunctionARN: benchStepFunctionARN})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, benchreport.FileASL), def, 0o644); err != nil {
		t.Fatal(err)
	}

	res := benchreport.LifecycleResult{PlatformPollSeconds: int(benchPlatformPoll / time.Second)}
	client, endpoint, reason := benchDynamoClient()
	if client != nil {
		res.Store, res.DynamoMeasured = "DynamoDB Local at "+endpoint, true
	} else {
		res.Store, res.DynamoNote = "bbolt (DynamoDB Local not reachable)", reason
		t.Logf("DynamoDB Local not reachable (%s): the DynamoDB counts are not measured", reason)
	}
	for _, inline := range []bool{true, false} {
		for _, install := range benchLifecycleInstalls {
			var env map[string]string
			name := "as deployed"
			if !inline {
				env, name = map[string]string{serverless.EnvStepInlineWait: "0"}, "inline loop off"
			}
			l := newBenchLife(t, client, install, env)
			res.PollMinSeconds, res.PollMaxSeconds = int(l.cfg.PollMin/time.Second), int(l.cfg.PollMax/time.Second)
			run := l.lifecycle()
			if inline {
				res.InlineWaitSeconds, res.InlineBudgetSeconds = int(l.cfg.StepInlineWait/time.Second), int(l.cfg.StepInlineBudget/time.Second)
				res.Runs = append(res.Runs, run)
			} else {
				res.Baseline = append(res.Baseline, run)
			}
			benchLogRun(t, name, install, run)
		}
	}
	for _, v := range benchLifecycleVariants {
		l := newBenchLife(t, client, 10*time.Minute, map[string]string{
			serverless.EnvStepInlineWait: strconv.Itoa(v.wait), serverless.EnvStepInlineBudget: strconv.Itoa(v.budget)})
		run := l.lifecycle()
		res.Variants = append(res.Variants, benchreport.LifecycleVariant{Label: v.label, InlineWaitSeconds: v.wait, InlineBudgetSeconds: v.budget, Run: run})
		benchLogRun(t, v.label, 10*time.Minute, run)
	}
	benchWriteJSON(t, dir, benchreport.FileLifecycle, res)
}

// benchLifecycleVariants are the step function settings the 10-minute lifecycle also
// runs with.
var benchLifecycleVariants = []struct {
	label        string
	wait, budget int
}{
	{"waits up to 45 s slept (the break-even at 128 MB), 90 s an invocation", 45, 90},
}

func benchLogRun(t *testing.T, name string, install time.Duration, run benchreport.LifecycleRun) {
	t.Logf("%s, install %s: %d requests, %d invocations, %d steps, %d s slept, %d Cloudify calls; detected %.1fs after Cloudify, seen by the platform after %.1fs",
		name, install, benchSum(run.Requests, func(c benchreport.Counted) int { return c.Count }),
		benchSum(run.Operations, func(o benchreport.OperationSteps) int { return o.Count }),
		benchSum(run.Operations, func(o benchreport.OperationSteps) int { return o.Steps }),
		benchSum(run.Operations, func(o benchreport.OperationSteps) int { return o.SleptSeconds }),
		benchSum(run.Requests, func(c benchreport.Counted) int { return c.CloudifyCalls })+benchSum(run.Operations, func(o benchreport.OperationSteps) int { return o.CloudifyCalls }),
		run.ProvisionDetectionSeconds, run.ProvisionVisibleSeconds)
}

func benchSum[T any](xs []T, f func(T) int) int {
	n := 0
	for _, x := range xs {
		n += f(x)
	}
	return n
}

// benchDynamoClient returns a client of DynamoDB Local ($AWS_ENDPOINT_URL_DYNAMODB,
// default http://127.0.0.1:8000), or nil and why not.
func benchDynamoClient() (*dynamodb.Client, string, string) {
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:8000"
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, endpoint, err.Error()
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return nil, endpoint, fmt.Sprintf("%s: %v; start it with `make local-aws`", endpoint, err)
	}
	conn.Close()
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	}), endpoint, ""
}

// benchLife is one lifecycle's world: simulator, store, the two handlers.
type benchLife struct {
	t       *testing.T
	ctx     context.Context
	clock   *cloudifysim.ManualClock
	sim     *cloudifysim.Simulator
	store   serverless.Store
	dyn     *dynamostore.Table // nil without DynamoDB Local
	cfg     serverless.Config
	api     http.Handler
	step    serverless.StepHandler
	stepLog *bytes.Buffer // the step function's log records
	sfn     *benchSFN
	install time.Duration
	due     map[string]time.Time // operation id → when its Step state runs next
	run     benchreport.LifecycleRun
	svc     string
	plan    string

	// What await polls, and when the platform polls next.
	polling  benchPolling
	nextPoll time.Time
	// The invocation running: its counters, the snapshot its counts run from (moved
	// past the platform's polls during its sleeps), and what it slept.
	inStep     *benchreport.Counted
	stepBefore benchSnapshot
	slept      time.Duration
}

// benchPolling is the operation the platform polls.
type benchPolling struct {
	instanceID, opID, query string
}

// newBenchLife builds a lifecycle's world; settings override the functions'
// environment (STEP_INLINE_WAIT_SECONDS=0 turns the step function's inline loop off).
func newBenchLife(t *testing.T, client *dynamodb.Client, install time.Duration, settings map[string]string) *benchLife {
	t.Helper()
	ctx := context.Background()
	clock := cloudifysim.NewManualClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	sim := cloudifysim.New(cloudifysim.Config{Version: "7.0.4", Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true, Clock: clock})
	sim.SetDuration("mariadb", "install", install)
	sim.SetDuration("mariadb", "uninstall", benchUninstall)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)

	l := &benchLife{t: t, ctx: ctx, clock: clock, sim: sim, install: install, due: map[string]time.Time{}, sfn: &benchSFN{}}
	table := fmt.Sprintf("cfybroker-bench-%d", time.Now().UnixNano())
	if client != nil {
		if err := dynamostore.CreateTable(ctx, client, table); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		})
		l.dyn = dynamostore.New(client, table, dynamostore.WithNow(clock.Now))
		l.store = l.dyn
	} else {
		db, err := boltstore.Open(filepath.Join(t.TempDir(), "cfybroker.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		l.store = db
	}
	env := map[string]string{
		serverless.EnvTableName: table, serverless.EnvStateMachineARN: benchStateMachineARN,
		serverless.EnvCloudifyURL: ts.URL, serverless.EnvCloudifySecretARN: "arn:cloudify",
		serverless.EnvBrokerSecretARN: "arn:broker", serverless.EnvSealKeySecretARN: "arn:seal",
	}
	maps.Copy(env, settings)
	cfg, err := serverless.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	l.cfg = cfg
	secrets := benchSecrets{
		"arn:cloudify": `{"username":"admin","password":"cfy-pw"}`,
		"arn:broker":   `{"credentials":[{"username":"` + testUser + `","password":"` + testPass + `"}]}`,
		"arn:seal":     hex.EncodeToString(make([]byte, 32)),
	}
	deps := serverless.Deps{Store: l.store, StepFunctions: l.sfn, Secrets: secrets,
		Logger: slog.New(slog.DiscardHandler), MetricsOutput: io.Discard, Now: clock.Now}
	if l.api, err = serverless.NewOSBHandler(ctx, cfg, deps); err != nil {
		t.Fatal(err)
	}
	// The step function sleeps on the manual clock, and says in its log what each
	// invocation did.
	l.stepLog = &bytes.Buffer{}
	stepDeps := deps
	stepDeps.Logger = slog.New(slog.NewJSONHandler(l.stepLog, &slog.HandlerOptions{Level: slog.LevelInfo}))
	stepDeps.Sleep = l.sleep
	if l.step, err = serverless.NewStepHandler(ctx, cfg, stepDeps); err != nil {
		t.Fatal(err)
	}
	// The catalog function's work, before the lifecycle (not counted). The lifecycle
	// measured is the one of shared credentials (a synchronous bind that reads the
	// deployment's values): mariadb's bind workflows are left unused.
	if err := l.store.PutOverlay(ctx, []byte("version: 1\nservices:\n  mariadb:\n    bindings: shared\n")); err != nil {
		t.Fatal(err)
	}
	cc, err := cloudify.New(ts.URL, cloudify.WithBasicAuth("admin", "cfy-pw"))
	if err != nil {
		t.Fatal(err)
	}
	cat, _, err := (&catalog.Syncer{Source: cc, Store: l.store, Options: catalog.BuildOptions{ManagerURL: ts.URL, Tenant: "default_tenant"}}).Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cat.Services {
		if s.Name == "mariadb" {
			l.svc, l.plan = s.ID, s.Plans[0].ID
		}
	}
	if l.svc == "" {
		t.Fatal("no mariadb service in the catalog")
	}
	return l
}

// lifecycle runs catalog → provision (polled to its end) → bind → unbind →
// deprovision (polled until 410 Gone).
func (l *benchLife) lifecycle() benchreport.LifecycleRun {
	t := l.t
	l.run = benchreport.LifecycleRun{InstallSeconds: int(l.install / time.Second), UninstallSeconds: int(benchUninstall / time.Second)}
	start, simBefore := l.clock.Now(), l.sim.Stats()
	const inst = "bench-1"
	q := "service_id=" + l.svc + "&plan_id=" + l.plan
	if code, body := l.request("catalog", http.MethodGet, "/v2/catalog", ""); code != http.StatusOK {
		t.Fatalf("catalog: %d %s", code, body)
	}
	code, body := l.request("provision", http.MethodPut, "/v2/service_instances/"+inst+"?accepts_incomplete=true",
		`{"service_id":"`+l.svc+`","plan_id":"`+l.plan+`","organization_guid":"org","space_guid":"space",`+
			`"context":{"platform":"cloudfoundry","organization_guid":"org","space_guid":"space"},"parameters":{"admin_password":"Passw0rd-x"}}`)
	if code != http.StatusAccepted {
		t.Fatalf("provision: %d %s", code, body)
	}
	op := benchOperationOf(t, body)
	seen, code, state := l.await("provision", inst, op, q)
	if code != http.StatusOK || state != "succeeded" {
		t.Fatalf("provision ended with %d %q", code, state)
	}
	got, err := l.store.GetOperation(l.ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	l.run.ProvisionDetectionSeconds = got.EndedAt.Sub(got.CloudifyEndedAt).Seconds()
	l.run.ProvisionVisibleSeconds = seen.Sub(got.CloudifyEndedAt).Seconds()

	if code, body := l.request("bind", http.MethodPut, "/v2/service_instances/"+inst+"/service_bindings/b1",
		`{"service_id":"`+l.svc+`","plan_id":"`+l.plan+`","bind_resource":{"app_guid":"app-1"}}`); code != http.StatusCreated {
		t.Fatalf("bind: %d %s", code, body)
	}
	if code, body := l.request("unbind", http.MethodDelete, "/v2/service_instances/"+inst+"/service_bindings/b1?"+q, ""); code != http.StatusOK {
		t.Fatalf("unbind: %d %s", code, body)
	}
	code, body = l.request("deprovision", http.MethodDelete, "/v2/service_instances/"+inst+"?accepts_incomplete=true&"+q, "")
	if code != http.StatusAccepted {
		t.Fatalf("deprovision: %d %s", code, body)
	}
	op = benchOperationOf(t, body)
	if _, code, state := l.await("deprovision", inst, op, q); code != http.StatusGone {
		t.Fatalf("deprovision ended with %d %q, want 410 Gone", code, state)
	}
	if n := len(l.sim.Deployments()); n == 0 || l.sim.Deployments()[0].Exists {
		t.Fatalf("deployment still on the manager after deprovision")
	}
	l.run.LifecycleSeconds = l.clock.Now().Sub(start).Seconds()
	l.run.CloudifyRoutes = map[string]int{}
	for route, n := range l.sim.Stats().Requests {
		if d := n - simBefore.Requests[route]; d > 0 {
			l.run.CloudifyRoutes[route] = d
		}
	}
	return l.run
}

func benchOperationOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct {
		Operation string `json:"operation"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Operation == "" {
		t.Fatalf("no operation in %s", body)
	}
	return v.Operation
}

// await runs the operation's steps when due and the platform's polls every
// benchPlatformPoll (during the step function's sleeps too), until a poll sees the
// operation end (or 410 Gone). It returns when and what that poll saw.
func (l *benchLife) await(kind, instanceID, opID, query string) (time.Time, int, string) {
	l.polling = benchPolling{instanceID: instanceID, opID: opID, query: query}
	l.nextPoll = l.clock.Now().Add(benchPlatformPoll)
	for range 100_000 {
		if at, ok := l.due[opID]; ok && !at.After(l.nextPoll) {
			if at.After(l.clock.Now()) {
				l.clock.Set(at)
			}
			l.runStep(kind, opID)
			continue
		}
		code, state := l.poll()
		if code == http.StatusGone || state != "in progress" {
			return l.clock.Now(), code, state
		}
	}
	l.t.Fatalf("%s %s did not end", kind, opID)
	return time.Time{}, 0, ""
}

// poll is the platform's next last_operation request, at its time.
func (l *benchLife) poll() (int, string) {
	l.clock.Set(l.nextPoll)
	l.nextPoll = l.nextPoll.Add(benchPlatformPoll)
	p := l.polling
	code, body := l.request("last_operation", http.MethodGet,
		"/v2/service_instances/"+p.instanceID+"/last_operation?operation="+url.QueryEscape(p.opID)+"&"+p.query, "")
	l.unnamedPoll(code, body)
	if code == http.StatusGone {
		return code, ""
	}
	var v struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(body, &v); err != nil || code != http.StatusOK {
		l.t.Fatalf("last_operation: %d %s", code, body)
	}
	return code, v.State
}

// unnamedPoll sends the poll just answered code and body again without its
// operation, as a platform that ignores OSB's operation field would, and counts it
// apart (LifecycleRun.UnnamedPolls: not a request of the lifecycle, whose costs it
// leaves alone). Its answer must be the named poll's.
func (l *benchLife) unnamedPoll(code int, body []byte) {
	p := l.polling
	if l.run.UnnamedPolls == nil {
		l.run.UnnamedPolls = &benchreport.Counted{Kind: "last_operation without operation"}
	}
	before := l.snapshot()
	gotCode, gotBody := l.serve(http.MethodGet, "/v2/service_instances/"+p.instanceID+"/last_operation?"+p.query, "")
	l.account(l.run.UnnamedPolls, before)
	if gotCode != code || !bytes.Equal(gotBody, body) {
		l.t.Fatalf("last_operation without operation: %d %s; with it: %d %s", gotCode, gotBody, code, body)
	}
}

// sleep is the step function's Deps.Sleep: it advances the manual clock, the
// platform polling meanwhile (those polls are counted as requests, not as the
// invocation's).
func (l *benchLife) sleep(_ context.Context, d time.Duration) error {
	end := l.clock.Now().Add(d)
	for l.nextPoll.Before(end) {
		now := l.snapshot()
		l.add(l.inStep, l.stepBefore, now)
		if code, state := l.poll(); code != http.StatusOK || state != "in progress" {
			l.t.Fatalf("a poll during the step function's sleep saw %d %q", code, state)
		}
		l.stepBefore = l.snapshot()
	}
	l.clock.Set(end)
	l.slept += d
	return nil
}

// snapshot is the counters before a piece of work.
type benchSnapshot struct {
	sim cloudifysim.Stats
	dyn dynamostore.Stats
}

func (l *benchLife) snapshot() benchSnapshot {
	s := benchSnapshot{sim: l.sim.Stats()}
	if l.dyn != nil {
		s.dyn = l.dyn.Stats()
	}
	return s
}

// account adds what happened since before to c, one more of its kind.
func (l *benchLife) account(c *benchreport.Counted, before benchSnapshot) {
	c.Count++
	l.add(c, before, l.snapshot())
}

// add adds what happened from before to after to c.
func (l *benchLife) add(c *benchreport.Counted, before, after benchSnapshot) {
	c.CloudifyCalls += after.sim.TotalRequests - before.sim.TotalRequests
	for route, n := range after.sim.Requests {
		if d := n - before.sim.Requests[route]; d > 0 {
			if c.CloudifyRoutes == nil {
				c.CloudifyRoutes = map[string]int{}
			}
			c.CloudifyRoutes[route] += d
		}
	}
	d := after.dyn.Sub(before.dyn)
	c.DynamoReads += d.Reads
	c.DynamoWrites += d.Writes
	c.ReadUnits += d.ReadUnits
	c.WriteUnits += d.WriteUnits
}

// request sends one OSB request to the api function's handler and counts it.
func (l *benchLife) request(kind, method, target, body string) (int, []byte) {
	before := l.snapshot()
	code, out := l.serve(method, target, body)
	c := l.counted(kind)
	l.account(c, before)
	// StartExecution: the state machine enters its Step state at once.
	for _, id := range l.sfn.take() {
		l.due[id] = l.clock.Now()
	}
	return code, out
}

// serve sends one OSB request to the api function's handler.
func (l *benchLife) serve(method, target, body string) (int, []byte) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.SetBasicAuth(testUser, testPass)
	r.Header.Set("X-Broker-API-Version", "2.17")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	l.api.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

func (l *benchLife) counted(kind string) *benchreport.Counted {
	for i := range l.run.Requests {
		if l.run.Requests[i].Kind == kind {
			return &l.run.Requests[i]
		}
	}
	l.run.Requests = append(l.run.Requests, benchreport.Counted{Kind: kind})
	return &l.run.Requests[len(l.run.Requests)-1]
}

// runStep invokes the step function's handler as the state machine's Step state does.
func (l *benchLife) runStep(kind, opID string) {
	var o *benchreport.OperationSteps
	for i := range l.run.Operations {
		if l.run.Operations[i].Kind == kind {
			o = &l.run.Operations[i]
		}
	}
	if o == nil {
		l.run.Operations = append(l.run.Operations, benchreport.OperationSteps{Counted: benchreport.Counted{Kind: kind}})
		o = &l.run.Operations[len(l.run.Operations)-1]
	}
	// Read outside the counted window: the phase and steps before.
	from := l.operation(opID)
	l.stepLog.Reset()
	l.inStep, l.stepBefore, l.slept = &o.Counted, l.snapshot(), 0
	out, err := l.step(l.ctx, sfn.Input{TaskInput: workflow.TaskInput{OperationID: opID}, ExecutionID: benchStateMachineARN + ":" + opID})
	if err != nil {
		l.t.Fatalf("%s step: fault on a fault-free simulator: %v", kind, err)
	}
	o.Count++
	l.add(&o.Counted, l.stepBefore, l.snapshot())
	l.inStep = nil
	to := l.operation(opID)

	inv := benchreport.Invocation{Steps: to.Steps - from.Steps, SleptSeconds: int(l.slept / time.Second),
		PhaseFrom: benchPhase(from.Phase), PhaseTo: benchPhase(to.Phase), WaitSeconds: out.WaitSeconds}
	if out.Done {
		inv.PhaseTo = "done"
	}
	var rec struct {
		Msg     string `json:"msg"`
		Steps   int    `json:"steps"`
		SleptS  int    `json:"slept_s"`
		Stopped string `json:"stopped"`
	}
	for line := range strings.SplitSeq(l.stepLog.String(), "\n") {
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "step invocation" {
			inv.Stopped = rec.Stopped
			if rec.Steps != inv.Steps || rec.SleptS != inv.SleptSeconds {
				l.t.Fatalf("%s: the step function says %d steps and %d s slept; the bench counted %d and %d", kind, rec.Steps, rec.SleptS, inv.Steps, inv.SleptSeconds)
			}
		}
	}
	if inv.Stopped == "" {
		l.t.Fatalf("%s: no step invocation record in the step function's log:\n%s", kind, l.stepLog)
	}
	o.Steps += inv.Steps
	o.SleptSeconds += inv.SleptSeconds
	o.Invocations = append(o.Invocations, inv)
	o.Outputs = append(o.Outputs, benchreport.TaskOutput{Done: out.Done, State: string(out.State), WaitSeconds: out.WaitSeconds})
	if out.Done {
		delete(l.due, opID)
	} else {
		l.due[opID] = l.clock.Now().Add(out.Wait())
	}
}

// operation reads an operation (not counted).
func (l *benchLife) operation(id string) broker.Operation {
	op, err := l.store.GetOperation(l.ctx, id)
	if err != nil {
		l.t.Fatal(err)
	}
	return op
}

// benchPhase names an engine phase ("" is the first).
func benchPhase(p string) string {
	if p == "" {
		return "start"
	}
	return p
}

// benchSecrets is Secrets Manager: secret ARN → string value.
type benchSecrets map[string]string

func (s benchSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := s[aws.ToString(in.SecretId)]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, SecretString: aws.String(v)}, nil
}

// benchSFN is Step Functions: it records the operations whose execution started.
type benchSFN struct {
	mu      sync.Mutex
	started []string
}

func (f *benchSFN) StartExecution(_ context.Context, in *awssfn.StartExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.StartExecutionOutput, error) {
	var ti workflow.TaskInput
	if err := json.Unmarshal([]byte(aws.ToString(in.Input)), &ti); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.started = append(f.started, ti.OperationID)
	f.mu.Unlock()
	return &awssfn.StartExecutionOutput{ExecutionArn: aws.String(benchStateMachineARN + ":" + aws.ToString(in.Name)), StartDate: aws.Time(time.Now())}, nil
}

func (f *benchSFN) DescribeExecution(_ context.Context, in *awssfn.DescribeExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.DescribeExecutionOutput, error) {
	return &awssfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: sfntypes.ExecutionStatusRunning}, nil
}

// take returns and forgets the operations started since the last call.
func (f *benchSFN) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.started
	f.started = nil
	return out
}
