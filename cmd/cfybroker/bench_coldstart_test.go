package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/devtools/benchreport"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
)

const (
	benchColdStarts  = 5 // cold starts per function
	benchWarmInvokes = 5 // invocations after each cold start's first
	// The credentials of the sample events in events/api (their Authorization header).
	benchEventUser = "platform"
	benchEventPass = "events-sample-password"
)

var benchInitReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// TestBenchColdStart builds the api and step bootstraps (linux/arm64 as deployed, for
// their size, and for this machine, to run), and starts each one cold several times
// under Amazon's Lambda runtime interface emulator (aws-lambda-rie, from
// `make local-aws`): the emulator's INIT REPORT duration, the wall time of the first
// invocation (init included) and of the warm ones after it. The functions talk to
// DynamoDB Local, the Cloudify simulator and a stand-in Secrets Manager, all on
// loopback. Without the emulator the sizes are still measured and the timings are
// reported as not measured.
func TestBenchColdStart(t *testing.T) {
	dir := benchDir(t)
	root := benchRepoRoot(t)
	res := benchreport.ColdStartResult{}
	out := filepath.Join(dir, "lambda")
	for _, fn := range []string{"api", "step"} {
		f := benchreport.ColdStartFunction{Name: fn, HostArch: runtime.GOARCH}
		f.Arm64Bytes = benchBuildBootstrap(t, root, fn, "arm64", filepath.Join(out, "arm64", fn, "bootstrap"))
		f.HostBytes = f.Arm64Bytes
		if runtime.GOARCH != "arm64" {
			f.HostBytes = benchBuildBootstrap(t, root, fn, runtime.GOARCH, filepath.Join(out, runtime.GOARCH, fn, "bootstrap"))
		}
		res.Functions = append(res.Functions, f)
	}

	rie := os.Getenv("LOCAL_AWS_RIE")
	if rie == "" {
		rie = filepath.Join(root, ".local-aws", "bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(rie); err != nil {
		if p, lerr := exec.LookPath("aws-lambda-rie"); lerr == nil {
			rie = p
		} else {
			res.Reason = "the Lambda runtime interface emulator (aws-lambda-rie) is not installed: run `make local-aws`"
			t.Log(res.Reason)
			benchWriteJSON(t, dir, benchreport.FileColdStart, res)
			return
		}
	}
	res.Measured, res.Emulator = true, "`aws-lambda-rie` ("+strings.TrimPrefix(rie, root+"/")+")"

	w := newBenchColdWorld(t)
	if w.dynamoEndpoint == "" {
		res.FirstInvokeNote = "DynamoDB Local not reachable: init measured, invocations not (they would only time a connection error)"
	} else {
		res.FirstInvokeNote = "api: GET /v2/catalog (events/api/catalog.json), reading the catalog from DynamoDB Local; " +
			"step: the first step of a new provision (creates the deployment on the simulator, writes the operation; STEP_INLINE_WAIT_SECONDS=0, so one step per invocation)"
	}
	for i := range res.Functions {
		f := &res.Functions[i]
		bootstrap := filepath.Join(out, runtime.GOARCH, f.Name, "bootstrap")
		if runtime.GOARCH == "arm64" {
			bootstrap = filepath.Join(out, "arm64", f.Name, "bootstrap")
		}
		for n := range benchColdStarts {
			event := w.event(t, f.Name)
			f.Event = w.eventName(f.Name)
			c := w.coldStart(t, rie, bootstrap, event, w.dynamoEndpoint != "")
			f.InitMs = append(f.InitMs, c.initMs)
			if c.firstMs > 0 {
				f.FirstInvokeMs = append(f.FirstInvokeMs, c.firstMs)
				f.WarmInvokeMs = append(f.WarmInvokeMs, c.warmMs...)
			}
			if c.rssKiB > 0 {
				f.RSSKiB = append(f.RSSKiB, c.rssKiB)
			}
			f.Result = c.result
			t.Logf("%s cold start %d: init %.1f ms, first invoke %.1f ms, warm %v ms, %s", f.Name, n+1, c.initMs, c.firstMs, c.warmMs, c.result)
		}
	}
	benchWriteJSON(t, dir, benchreport.FileColdStart, res)
}

// benchBuildBootstrap builds functions/<fn> as .ci/build-lambdas.sh does, for
// goarch, and returns its size.
func benchBuildBootstrap(t *testing.T, root, fn, goarch, dst string) int64 {
	t.Helper()
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", dst, "./functions/"+fn)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s for %s: %v\n%s", fn, goarch, err, b)
	}
	st, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// benchColdWorld is what the functions reach: the simulator, DynamoDB Local (with the
// catalog synced into a fresh table) and a stand-in Secrets Manager.
type benchColdWorld struct {
	simURL         string
	secretsURL     string
	dynamoEndpoint string // "" without DynamoDB Local
	table          string
	api            http.Handler // in-process api handler, to record provisions for the step function
	sfn            *benchSFN
	n              int
}

func newBenchColdWorld(t *testing.T) *benchColdWorld {
	t.Helper()
	ctx := context.Background()
	sim := cloudifysim.New(cloudifysim.Config{Version: "7.0.4", Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true, Clock: newSpeedClock(10)})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	secrets := map[string]string{
		"arn:cloudify": `{"username":"admin","password":"cfy-pw"}`,
		"arn:broker":   `{"credentials":[{"username":"` + benchEventUser + `","password":"` + benchEventPass + `"}]}`,
		"arn:seal":     hex.EncodeToString(make([]byte, 32)),
	}
	sm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SecretId string }
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || json.NewDecoder(r.Body).Decode(&in) != nil || secrets[in.SecretId] == "" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"no such secret"}`)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": in.SecretId, "SecretString": secrets[in.SecretId], "VersionId": "v1"})
	}))
	t.Cleanup(sm.Close)
	w := &benchColdWorld{simURL: simSrv.URL, secretsURL: sm.URL, table: fmt.Sprintf("cfybroker-cold-%d", time.Now().UnixNano()), sfn: &benchSFN{}}

	client, endpoint, reason := benchDynamoClient()
	if client == nil {
		t.Logf("DynamoDB Local not reachable (%s): invocations not measured", reason)
		return w
	}
	if err := dynamostore.CreateTable(ctx, client, w.table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(w.table)})
	})
	w.dynamoEndpoint = endpoint
	store := dynamostore.New(client, w.table)
	cc, err := cloudify.New(simSrv.URL, cloudify.WithBasicAuth("admin", "cfy-pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&catalog.Syncer{Source: cc, Store: store, Options: catalog.BuildOptions{ManagerURL: simSrv.URL, Tenant: "default_tenant"}}).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := serverless.ConfigFromEnv(func(k string) string { return w.env()[k] })
	if err != nil {
		t.Fatal(err)
	}
	w.api, err = serverless.NewOSBHandler(ctx, cfg, serverless.Deps{Store: store, StepFunctions: w.sfn, Secrets: benchSecrets(secrets),
		Logger: slog.New(slog.DiscardHandler), MetricsOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// env is the functions' configuration. The step function's inline loop is off, so
// that an invocation is one step (with it, the first invocation would sleep the
// provision's short waits in real time).
func (w *benchColdWorld) env() map[string]string {
	return map[string]string{
		serverless.EnvTableName: w.table, serverless.EnvStateMachineARN: benchStateMachineARN,
		serverless.EnvCloudifyURL: w.simURL, serverless.EnvCloudifySecretARN: "arn:cloudify",
		serverless.EnvBrokerSecretARN: "arn:broker", serverless.EnvSealKeySecretARN: "arn:seal",
		serverless.EnvStepInlineWait: "0",
	}
}

func (w *benchColdWorld) eventName(fn string) string {
	if fn == "api" {
		return "events/api/catalog.json"
	}
	return "state machine input of a new provision's first step"
}

// event returns the first invocation's payload: the catalog request for the api
// function; for the step function, the first step of a provision recorded now.
func (w *benchColdWorld) event(t *testing.T, fn string) []byte {
	t.Helper()
	if fn == "api" {
		b, err := os.ReadFile(filepath.Join(benchRepoRoot(t), "events", "api", "catalog.json"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	op := "provision-none"
	if w.api != nil {
		w.n++
		id := fmt.Sprintf("cold-%d-%d", time.Now().UnixNano(), w.n)
		cat := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/v2/catalog", nil)
		r.SetBasicAuth(benchEventUser, benchEventPass)
		r.Header.Set("X-Broker-API-Version", "2.17")
		w.api.ServeHTTP(cat, r)
		var c struct {
			Services []struct {
				ID, Name string
				Plans    []struct{ ID string }
			}
		}
		json.Unmarshal(cat.Body.Bytes(), &c)
		var svc, plan string
		for _, s := range c.Services {
			if s.Name == "mariadb" {
				svc, plan = s.ID, s.Plans[0].ID
			}
		}
		rec := httptest.NewRecorder()
		r = httptest.NewRequest(http.MethodPut, "/v2/service_instances/"+id+"?accepts_incomplete=true", strings.NewReader(
			`{"service_id":"`+svc+`","plan_id":"`+plan+`","organization_guid":"o","space_guid":"s","parameters":{"admin_password":"Passw0rd-x"}}`))
		r.SetBasicAuth(benchEventUser, benchEventPass)
		r.Header.Set("X-Broker-API-Version", "2.17")
		r.Header.Set("Content-Type", "application/json")
		w.api.ServeHTTP(rec, r)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("provision for the step function: %d %s", rec.Code, rec.Body)
		}
		op = benchOperationOf(t, rec.Body.Bytes())
		w.sfn.take()
	}
	b, _ := json.Marshal(map[string]string{"operation_id": op, "execution_id": benchStateMachineARN + ":" + op})
	return b
}

type benchCold struct {
	initMs, firstMs float64
	warmMs          []float64
	rssKiB          int64
	result          string
}

// coldStart starts the emulator with the bootstrap, invokes it once cold and
// benchWarmInvokes times warm, and stops it.
func (w *benchColdWorld) coldStart(t *testing.T, rie, bootstrap string, event []byte, invoke bool) benchCold {
	t.Helper()
	apiPort, rtPort := benchFreePort(t), benchFreePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", "127.0.0.1:"+apiPort, "--runtime-api-address", "127.0.0.1:"+rtPort, bootstrap)
	env := append(os.Environ(), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER="+w.secretsURL, "AWS_ENDPOINT_URL_SFN="+w.secretsURL)
	if w.dynamoEndpoint != "" {
		env = append(env, "AWS_ENDPOINT_URL_DYNAMODB="+w.dynamoEndpoint)
	} else {
		env = append(env, "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9") // nothing listens: fails fast
	}
	for k, v := range w.env() {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	var logs benchSyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", rie, err)
	}
	defer func() {
		// The emulator and the bootstrap it started, by process group (ours).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+apiPort, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen within 15 s:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	url := "http://127.0.0.1:" + apiPort + "/2015-03-31/functions/function/invocations"
	var c benchCold
	call := func() (float64, []byte) {
		t0 := time.Now()
		resp, err := http.Post(url, "application/json", bytes.NewReader(event))
		if err != nil {
			t.Fatalf("invoke: %v\n%s", err, logs.String())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return float64(time.Since(t0)) / float64(time.Millisecond), b
	}
	ms, body := call()
	c.result = benchInvokeResult(body)
	if invoke {
		c.firstMs = ms
		for range benchWarmInvokes {
			ms, _ := call()
			c.warmMs = append(c.warmMs, ms)
		}
	}
	c.rssKiB = benchChildRSS(cmd.Process.Pid)
	// The INIT REPORT line is written when init ends, before the first invocation answers.
	m := benchInitReport.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no INIT REPORT in the emulator's output:\n%s", logs.String())
	}
	c.initMs, _ = strconv.ParseFloat(m[1], 64)
	if strings.Contains(logs.String(), "cold start failed") {
		t.Fatalf("the function failed its cold start:\n%s", logs.String())
	}
	return c
}

// benchInvokeResult summarises a function's answer.
func benchInvokeResult(body []byte) string {
	var v struct {
		StatusCode  *int    `json:"statusCode"`
		Done        *bool   `json:"done"`
		State       string  `json:"state"`
		WaitSeconds int     `json:"wait_seconds"`
		ErrorType   *string `json:"errorType"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "unparsable answer"
	}
	switch {
	case v.ErrorType != nil:
		return "error " + *v.ErrorType
	case v.StatusCode != nil:
		return fmt.Sprintf("HTTP %d", *v.StatusCode)
	case v.Done != nil:
		return fmt.Sprintf("step answered done=%v, state %q, wait %d s", *v.Done, v.State, v.WaitSeconds)
	}
	return "answer " + strings.TrimSpace(string(body))
}

// benchChildRSS returns the peak RSS (VmHWM) of a child of pid: the bootstrap the
// emulator runs (any of the emulator's threads may have started it).
func benchChildRSS(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, child := range strings.Fields(string(b)) {
			if kib := benchProcStatusKiB(child, "VmHWM"); kib > 0 {
				return kib
			}
		}
	}
	return 0
}

func benchFreePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// benchSyncBuffer is a bytes.Buffer safe for the emulator's two output streams.
type benchSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *benchSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *benchSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
