package sfn_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

const testARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:cfybroker-operations"

// fakeAPI is an sfn.API with function fields.
type fakeAPI struct {
	mu       sync.Mutex
	starts   []*awssfn.StartExecutionInput
	start    func(in *awssfn.StartExecutionInput) (*awssfn.StartExecutionOutput, error)
	describe func(arn string) (*awssfn.DescribeExecutionOutput, error)
}

func (f *fakeAPI) StartExecution(_ context.Context, in *awssfn.StartExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.StartExecutionOutput, error) {
	f.mu.Lock()
	f.starts = append(f.starts, in)
	f.mu.Unlock()
	if f.start != nil {
		return f.start(in)
	}
	return &awssfn.StartExecutionOutput{ExecutionArn: aws.String(sfn.ExecutionARN(aws.ToString(in.StateMachineArn), aws.ToString(in.Name)))}, nil
}

func (f *fakeAPI) DescribeExecution(_ context.Context, in *awssfn.DescribeExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.DescribeExecutionOutput, error) {
	if f.describe != nil {
		return f.describe(aws.ToString(in.ExecutionArn))
	}
	return nil, &types.ExecutionDoesNotExist{}
}

func (f *fakeAPI) startedNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, in := range f.starts {
		out = append(out, aws.ToString(in.Name))
	}
	return out
}

func TestStarterStart(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"started", nil, false},
		{"already exists counts as started", &types.ExecutionAlreadyExists{Message: aws.String("exists")}, false},
		{"wrapped already exists", errors.Join(errors.New("op"), &types.ExecutionAlreadyExists{}), false},
		{"throttled", &types.ExecutionLimitExceeded{}, true},
		{"network", errors.New("dial tcp: connection refused"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{start: func(in *awssfn.StartExecutionInput) (*awssfn.StartExecutionOutput, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return &awssfn.StartExecutionOutput{ExecutionArn: aws.String("arn")}, nil
			}}
			err := sfn.NewStarter(api, testARN).Start(context.Background(), broker.Operation{ID: "provision-1"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Start = %v, want error %v", err, tt.wantErr)
			}
			in := api.starts[0]
			if got := aws.ToString(in.Name); got != "provision-1" {
				t.Errorf("name = %q, want the operation id", got)
			}
			if got := aws.ToString(in.Input); got != `{"operation_id":"provision-1"}` {
				t.Errorf("input = %s", got)
			}
			if got := aws.ToString(in.StateMachineArn); got != testARN {
				t.Errorf("state machine = %s", got)
			}
		})
	}
}

func TestExecutionName(t *testing.T) {
	long := strings.Repeat("x", 79)
	tests := []struct {
		id      string
		attempt int
		want    string
	}{
		{"provision-0b8e", 0, "provision-0b8e"},
		{"provision-0b8e", 3, "provision-0b8e-r3"},
		{long, 0, long},
		{long, 1, "op-"}, // too long with the suffix: hashed
		{"a:b", 0, "op-"},
		{"", 0, "op-"},
	}
	for _, tt := range tests {
		got := sfn.ExecutionName(tt.id, tt.attempt)
		if tt.want == "op-" {
			if !strings.HasPrefix(got, "op-") || len(got) > sfn.MaxExecutionNameLength || strings.ContainsAny(got, ": ") {
				t.Errorf("ExecutionName(%q, %d) = %q, want a hashed name", tt.id, tt.attempt, got)
			}
			if again := sfn.ExecutionName(tt.id, tt.attempt); again != got {
				t.Errorf("ExecutionName is not stable: %q then %q", got, again)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ExecutionName(%q, %d) = %q, want %q", tt.id, tt.attempt, got, tt.want)
		}
	}
	if a, b := sfn.ExecutionName("a:b", 0), sfn.ExecutionName("a;b", 0); a == b {
		t.Errorf("two ids hash to the same name %q", a)
	}
}

func TestExecutionARN(t *testing.T) {
	got := sfn.ExecutionARN(testARN, "provision-1-r1")
	if want := "arn:aws:states:eu-west-1:123456789012:execution:cfybroker-operations:provision-1-r1"; got != want {
		t.Errorf("ExecutionARN = %s, want %s", got, want)
	}
}

func TestErrorTypeNames(t *testing.T) {
	// The Lambda runtime reports an error's type name (without the pointer) as its
	// errorType; the definition's Retry and the step function rely on these names.
	for err, want := range map[error]string{
		&sfn.StepFault{}:         sfn.ErrorStepFault,
		&sfn.OperationNotFound{}: sfn.ErrorOperationNotFound,
	} {
		if got := reflect.TypeOf(err).Elem().Name(); got != want {
			t.Errorf("type name %s, want %s", got, want)
		}
	}
	cause := errors.New("internal detail")
	f := &sfn.StepFault{Message: "the Cloudify manager could not be reached", Err: cause}
	if f.Error() != f.Message || !errors.Is(f, cause) {
		t.Errorf("StepFault: Error %q, Is(cause) %v", f.Error(), errors.Is(f, cause))
	}
}

func TestFailureDescription(t *testing.T) {
	tests := []struct {
		f    sfn.Failure
		want string
	}{
		{sfn.Failure{Error: "StepFault", Cause: `{"errorMessage":"the Cloudify manager answered HTTP 503 (maintenance_mode_active)","errorType":"StepFault"}`},
			"the broker gave up after repeated faults: the Cloudify manager answered HTTP 503 (maintenance_mode_active)"},
		{sfn.Failure{Error: "StepFault", Cause: "not json"}, "the broker gave up after repeated faults"},
		{sfn.Failure{Error: "Lambda.Unknown", Cause: `{"errorMessage":"secret internal detail","errorType":"Runtime.ExitError"}`},
			"the broker's workflow driver failed (Lambda.Unknown)"},
		{sfn.Failure{Error: "States.Timeout"}, "the broker gave up: its workflow step kept timing out"},
		{sfn.Failure{}, "the broker's workflow driver failed"},
	}
	for _, tt := range tests {
		if got := tt.f.Description(); got != tt.want {
			t.Errorf("%+v.Description() = %q, want %q", tt.f, got, tt.want)
		}
	}
}

// fakeLister lists fixed operations.
type fakeLister struct{ ops []broker.Operation }

func (f fakeLister) ActiveOperations(context.Context) ([]broker.Operation, error) { return f.ops, nil }

// fakeFailer records Fail calls.
type fakeFailer struct{ failed map[string]string }

func (f *fakeFailer) Fail(_ context.Context, id, desc string) error {
	f.failed[id] = desc
	return nil
}

func TestSweep(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	op := func(id string, nextCheck, deadline time.Duration) broker.Operation {
		return broker.Operation{ID: id, Type: broker.OpProvision, State: broker.StateInProgress,
			CreatedAt: now.Add(-time.Hour), NextCheck: now.Add(nextCheck), Deadline: now.Add(deadline)}
	}
	ops := []broker.Operation{
		op("fresh", -time.Minute, time.Hour),            // looked at a minute ago: left alone
		op("never-started", -10*time.Minute, time.Hour), // no execution: started under its own name
		op("retrying", -10*time.Minute, time.Hour),      // execution running (in its Retry)
		op("died-once", -10*time.Minute, time.Hour),     // first execution failed: -r1
		op("late", -10*time.Minute, -time.Second),       // past its deadline: failed
		op("hopeless", -10*time.Minute, time.Hour),      // every execution ended: failed
	}
	status := map[string]types.ExecutionStatus{
		"retrying":      types.ExecutionStatusRunning,
		"died-once":     types.ExecutionStatusFailed,
		"hopeless":      types.ExecutionStatusTimedOut,
		"hopeless-r1":   types.ExecutionStatusFailed,
		"hopeless-r2":   types.ExecutionStatusAborted,
		"never-started": "",
	}
	api := &fakeAPI{describe: func(arn string) (*awssfn.DescribeExecutionOutput, error) {
		name := arn[strings.LastIndexByte(arn, ':')+1:]
		if st := status[name]; st != "" {
			return &awssfn.DescribeExecutionOutput{Status: st}, nil
		}
		return nil, &types.ExecutionDoesNotExist{}
	}}
	failer := &fakeFailer{failed: map[string]string{}}
	s := &sfn.Sweeper{
		Lister: fakeLister{ops}, Failer: failer, Starter: sfn.NewStarter(api, testARN),
		MaxRestarts: 2, Now: func() time.Time { return now },
	}
	res, err := s.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sfn.SweepResult{Active: 6, Stale: 5, Running: 1, Restarted: 2, Failed: 2}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"never-started", "died-once-r1"}, api.startedNames()); diff != "" {
		t.Errorf("started (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(failer.failed["late"], "timed out") || !strings.Contains(failer.failed["hopeless"], "stopped 3 times") || len(failer.failed) != 2 {
		t.Errorf("failed = %v", failer.failed)
	}
}

func TestSweepGoesOnAfterAnError(t *testing.T) {
	now := time.Now()
	ops := []broker.Operation{
		{ID: "a", State: broker.StateInProgress, NextCheck: now.Add(-time.Hour), Deadline: now.Add(time.Hour)},
		{ID: "b", State: broker.StateInProgress, NextCheck: now.Add(-time.Hour), Deadline: now.Add(time.Hour)},
	}
	api := &fakeAPI{describe: func(arn string) (*awssfn.DescribeExecutionOutput, error) {
		if strings.HasSuffix(arn, ":a") {
			return nil, errors.New("throttled")
		}
		return nil, &types.ExecutionDoesNotExist{}
	}}
	s := &sfn.Sweeper{Lister: fakeLister{ops}, Failer: &fakeFailer{failed: map[string]string{}}, Starter: sfn.NewStarter(api, testARN)}
	res, err := s.Sweep(context.Background())
	if err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("err = %v, want the describe error", err)
	}
	if res.Restarted != 1 {
		t.Errorf("restarted = %d, want 1 (b)", res.Restarted)
	}
}
