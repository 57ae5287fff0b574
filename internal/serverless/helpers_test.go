package serverless_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/testenv"
)

// Test values shared by the unit tests and the sample events under events/.
const (
	testManagerURL  = "http://cloudify.example.test"
	testStateMach   = "arn:aws:states:eu-west-1:123456789012:stateMachine:cfybroker-operations"
	testBrokerUser  = "platform"
	testBrokerPass  = "events-sample-password"
	testCloudifyPw  = "cfy-sample-pw"
	testSealKeyHex  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	arnBrokerSecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/broker-AbCdEf"
	arnCloudify     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/cloudify-AbCdEf"
	arnSealKey      = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/seal-key-AbCdEf"
)

// fakeSecrets is a SecretsAPI over a map of ARN to value.
type fakeSecrets struct {
	mu     sync.Mutex
	values map[string]string
	reads  int
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, fmt.Errorf("ResourceNotFoundException: secret %s not found", aws.ToString(in.SecretId))
	}
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, SecretString: aws.String(v)}, nil
}

func newFakeSecrets() *fakeSecrets {
	return &fakeSecrets{values: map[string]string{
		arnBrokerSecret: `{"credentials":[{"username":"old","password":"old-rotated-out"},{"username":"` + testBrokerUser + `","password":"` + testBrokerPass + `"}]}`,
		arnCloudify:     `{"username":"admin","password":"` + testCloudifyPw + `"}`,
		arnSealKey:      testSealKeyHex + "\n",
	}}
}

// fakeSFN is a Step Functions API that records executions; executions never run.
type fakeSFN struct {
	mu       sync.Mutex
	execs    map[string]types.ExecutionStatus // by name
	inputs   map[string]string
	startErr error
	starts   []string
}

func newFakeSFN() *fakeSFN {
	return &fakeSFN{execs: map[string]types.ExecutionStatus{}, inputs: map[string]string{}}
}

func (f *fakeSFN) StartExecution(_ context.Context, in *awssfn.StartExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	name := aws.ToString(in.Name)
	if _, ok := f.execs[name]; ok {
		return nil, &types.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: " + name)}
	}
	f.execs[name] = types.ExecutionStatusRunning
	f.inputs[name] = aws.ToString(in.Input)
	f.starts = append(f.starts, name)
	arn := strings.Replace(aws.ToString(in.StateMachineArn), ":stateMachine:", ":execution:", 1) + ":" + name
	return &awssfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(time.Now())}, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *awssfn.DescribeExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := aws.ToString(in.ExecutionArn)
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	st, ok := f.execs[name]
	if !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: " + arn)}
	}
	return &awssfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Name: aws.String(name), Status: st}, nil
}

func (f *fakeSFN) setStatus(name string, st types.ExecutionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs[name] = st
}

func (f *fakeSFN) started() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.starts...)
}

// env is the functions wired on in-process stand-ins: a bbolt store, the Cloudify
// simulator reached as testManagerURL, fake Step Functions and Secrets Manager.
type env struct {
	cfg     serverless.Config
	deps    serverless.Deps
	sim     *cloudifysim.Simulator
	sfn     *fakeSFN
	secrets *fakeSecrets
	metrics *testenv.SyncBuffer
	logs    *testenv.SyncBuffer
}

// newEnv builds an env whose operation ids are <type>-00000000-0000-4000-8000-00000000000<n>,
// the simulator's clock 50 times faster than real time.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, cloudifysim.SpeedClock{Start: time.Now().UTC(), Factor: 50})
}

// newEnvOn builds an env on the simulator clock given; a *cloudifysim.ManualClock
// also becomes the functions' clock (Deps.Now).
func newEnvOn(t *testing.T, clock cloudifysim.Clock) *env {
	t.Helper()
	sim := cloudifysim.New(cloudifysim.Config{
		Users: map[string]string{"admin": testCloudifyPw}, LoadSamples: true,
		Clock: clock,
	})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	// Every connection goes to the simulator, so that the catalog ids are those of
	// testManagerURL, as in the sample events.
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, ts.Listener.Addr().String())
		},
	}}
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var n int
	var idMu sync.Mutex
	e := &env{sim: sim, sfn: newFakeSFN(), secrets: newFakeSecrets(), metrics: &testenv.SyncBuffer{}, logs: &testenv.SyncBuffer{}}
	e.cfg = serverless.Config{
		TableName: "cfybroker", StateMachineARN: testStateMach,
		CloudifyURL: testManagerURL, CloudifyTenant: "default_tenant",
		CloudifySecretARN: arnCloudify, BrokerSecretARN: arnBrokerSecret, SealKeySecretARN: arnSealKey,
		DashboardURL:    "{manager}/console/deployments/{deployment_id}",
		DefaultDeadline: time.Hour, PollMin: time.Second, PollMax: 2 * time.Second,
		StaleAfter: 5 * time.Minute, MetricsNamespace: "cfybroker",
	}
	e.deps = serverless.Deps{
		Store: db, StepFunctions: e.sfn, Secrets: e.secrets, HTTPClient: hc,
		Logger:        slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MetricsOutput: e.metrics,
		NewID: func() string {
			idMu.Lock()
			defer idMu.Unlock()
			n++
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		},
	}
	if mc, ok := clock.(*cloudifysim.ManualClock); ok {
		e.deps.Now = mc.Now
	}
	return e
}
