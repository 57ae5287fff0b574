package awslocal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Emulator is one function bootstrap running under aws-lambda-rie on 127.0.0.1.
type Emulator struct {
	// Name names the function in errors.
	Name string
	// URL is the emulator's base URL (its invoke path is below it).
	URL string

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex // the emulator runs one invocation at a time
}

// FunctionError is a function's error answer ({"errorType", "errorMessage"}), or the
// emulator's when the runtime died during the invocation.
type FunctionError struct {
	Function string
	Status   int
	Type     string
	Message  string
}

// Error names the function and the error.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s: %s", e.Function, e.Status, e.Type, e.Message)
}

// StartEmulator starts bootstrap under the emulator rie, with the process's
// environment plus env, on two free loopback ports (the emulator's and the runtime
// API's; without them it would listen on 0.0.0.0:8080), writing its output to out.
// It returns when the emulator accepts connections.
//
// Errors: the emulator cannot start, or exits or does not listen within 10 s.
func StartEmulator(rie, name, bootstrap string, env []string, out io.Writer) (*Emulator, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		bootstrap)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches the launcher only
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("awslocal: start %s: %w", name, err)
	}
	e := &Emulator{Name: name, URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.done) }()
	if err := waitListening(port, e.done, 10*time.Second); err != nil {
		e.Stop()
		return nil, fmt.Errorf("awslocal: %s: %w", name, err)
	}
	return e, nil
}

// Invoke sends an event and returns the function's answer. A function error is a
// *FunctionError.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("awslocal: invoke %s: %w", e.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("awslocal: invoke %s: %w", e.Name, err)
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &fe) == nil && fe.ErrorType != "" {
		return nil, &FunctionError{Function: e.Name, Status: resp.StatusCode, Type: fe.ErrorType, Message: fe.ErrorMessage}
	}
	return b, nil
}

// Stop stops the emulator and its runtime (TERM, then KILL after 5 s).
func (e *Emulator) Stop() { stop(e.cmd, e.done) }

// StepFunctions is .ci/sfn-local.mjs: a local Step Functions API (StartExecution,
// DescribeExecution) that runs every execution of one definition in
// aws-local-stepfunctions, its Task states invoking emulators.
type StepFunctions struct {
	// URL is the API's endpoint (AWS_ENDPOINT_URL_SFN).
	URL string

	cmd  *exec.Cmd
	done chan struct{}
}

// StepFunctionsConfig configures StartStepFunctions.
type StepFunctionsConfig struct {
	// Node is Node 22; Script is .ci/sfn-local.mjs; Modules holds
	// aws-local-stepfunctions (.local-aws/stepfunctions/node_modules).
	Node, Script, Modules string
	// StateMachineARN is the ARN the API answers to; DefinitionFile the ASL document.
	StateMachineARN, DefinitionFile string
	// Functions maps each Task Resource of the definition to its emulator's URL.
	Functions map[string]string
}

// StartStepFunctions starts sfn-local on a free loopback port, writing its log to
// out, and returns when it says it listens.
//
// Errors: it cannot start, or does not listen within 30 s.
func StartStepFunctions(c StepFunctionsConfig, out io.Writer) (*StepFunctions, error) {
	args := []string{c.Script, "--listen", "127.0.0.1:0", "--state-machine-arn", c.StateMachineARN,
		"--definition", c.DefinitionFile, "--modules", c.Modules}
	for resource, url := range c.Functions {
		args = append(args, "--function", resource+"="+url)
	}
	cmd := exec.Command(c.Node, args...)
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("awslocal: start sfn-local: %w", err)
	}
	s := &StepFunctions{cmd: cmd, done: make(chan struct{})}
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
	go func() { _ = cmd.Wait(); close(s.done) }()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			s.Stop()
			return nil, fmt.Errorf("awslocal: sfn-local said %q", line)
		}
		s.URL = url
		return s, nil
	case <-s.done:
		return nil, errors.New("awslocal: sfn-local exited before listening")
	case <-time.After(30 * time.Second):
		s.Stop()
		return nil, errors.New("awslocal: sfn-local did not listen within 30 s")
	}
}

// Stop stops sfn-local.
func (s *StepFunctions) Stop() { stop(s.cmd, s.done) }

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("awslocal: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitListening waits until something accepts connections on the loopback port,
// failing early when done closes (the process exited).
func waitListening(port int, done <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("exited before listening on %d", port)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("does not listen on %d after %s", port, limit)
}

// stop ends a child: TERM to its process group, KILL after 5 s.
func stop(cmd *exec.Cmd, done <-chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
