package serverless_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/basicauth"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/workflow"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"TABLE_NAME": "t", "STATE_MACHINE_ARN": "arn:sm", "CLOUDIFY_URL": "https://mgr", "POLL_MIN_SECONDS": "1",
		"DEFAULT_DEADLINE": "30m", "LOG_LEVEL": "debug", "DASHBOARD_URL": "none",
	}
	cfg, err := serverless.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := serverless.Config{
		TableName: "t", StateMachineARN: "arn:sm", CloudifyURL: "https://mgr", CloudifyTenant: "default_tenant",
		DashboardURL: "none", LogLevel: "debug", DefaultDeadline: 30 * time.Minute,
		PollMin: time.Second, PollMax: time.Minute, StaleAfter: 5 * time.Minute, MetricsNamespace: "cfybroker",
		StepInlineWait: 30 * time.Second, StepInlineBudget: 40 * time.Second, CloudifyCallTimeout: 20 * time.Second,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	// 0 turns the step function's inline loop off.
	env["STEP_INLINE_WAIT_SECONDS"], env["STEP_INLINE_BUDGET_SECONDS"] = "0", "55"
	if cfg, err := serverless.ConfigFromEnv(func(k string) string { return env[k] }); err != nil || cfg.StepInlineWait != 0 || cfg.StepInlineBudget != 55*time.Second {
		t.Errorf("inline settings 0 and 55: %v, %v, %v", cfg.StepInlineWait, cfg.StepInlineBudget, err)
	}
	for k, v := range map[string]string{"POLL_MIN_SECONDS": "0", "POLL_MAX_SECONDS": "x", "DEFAULT_DEADLINE": "forever", "LOG_LEVEL": "loud",
		"STEP_INLINE_WAIT_SECONDS": "-1", "STEP_INLINE_BUDGET_SECONDS": "40s"} {
		_, err := serverless.ConfigFromEnv(func(key string) string {
			if key == k {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err %v, want one naming the variable", k, v, err)
		}
	}
	// A deadline past what one execution of the state machine can hold.
	for _, v := range []string{"25h", "73h"} {
		_, err := serverless.ConfigFromEnv(func(key string) string {
			if key == "DEFAULT_DEADLINE" {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "DEFAULT_DEADLINE") || !strings.Contains(err.Error(), "longer than") {
			t.Errorf("DEFAULT_DEADLINE=%s: err %v, want one naming the variable and the limit", v, err)
		}
	}
}

func TestConstructorsRequireSettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := e.cfg
	cfg.StateMachineARN, cfg.BrokerSecretARN = "", ""
	if _, err := serverless.NewAPIHandler(ctx, cfg, e.deps); err == nil || !strings.Contains(err.Error(), "STATE_MACHINE_ARN, BROKER_SECRET_ARN") {
		t.Errorf("NewAPIHandler without settings: %v", err)
	}
	// The step function needs neither.
	if _, err := serverless.NewStepHandler(ctx, cfg, e.deps); err != nil {
		t.Errorf("NewStepHandler: %v", err)
	}
	deps := e.deps
	deps.Store = nil
	if _, err := serverless.NewStepHandler(ctx, e.cfg, deps); err == nil {
		t.Error("NewStepHandler without a store: no error")
	}
}

func TestLoadSecrets(t *testing.T) {
	ctx := context.Background()
	base := serverless.Config{BrokerSecretARN: arnBrokerSecret, CloudifySecretARN: arnCloudify, SealKeySecretARN: arnSealKey}
	s, err := serverless.LoadSecrets(ctx, newFakeSecrets(), base)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Broker) != 2 || s.Broker[1] != (basicauth.Credential{Username: testBrokerUser, Password: testBrokerPass}) ||
		s.CloudifyUsername != "admin" || s.CloudifyPassword != testCloudifyPw || len(s.SealKey) != 32 {
		t.Errorf("secrets parsed wrong (%s)", s)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, s); strings.Contains(out, testBrokerPass) || strings.Contains(out, testCloudifyPw) {
			t.Errorf("%s of Secrets shows a secret: %s", format, out)
		}
	}
	bad := []struct{ arn, value, want string }{
		{arnCloudify, `{"token":"tok-123"}`, ""},
		{arnCloudify, `{"username":"admin"}`, "neither a token"},
		{arnCloudify, `not json with password hunter2`, "not a JSON object"},
		{arnBrokerSecret, `{"credentials":[]}`, "no credentials"},
		{arnBrokerSecret, `{"credentials":[{"username":"u","password":""}]}`, "empty username or password"},
		{arnSealKey, `abcd`, "not 32 hex-encoded bytes"},
		{"missing", "", "read secret"},
	}
	for _, b := range bad {
		f := newFakeSecrets()
		cfg := base
		if b.arn == "missing" {
			cfg.SealKeySecretARN = "arn:missing"
		} else {
			f.values[b.arn] = b.value
		}
		_, err := serverless.LoadSecrets(ctx, f, cfg)
		switch {
		case b.want == "" && err != nil:
			t.Errorf("%s = %s: %v", b.arn, b.value, err)
		case b.want != "" && (err == nil || !strings.Contains(err.Error(), b.want)):
			t.Errorf("%s = %s: err %v, want %q", b.arn, b.value, err, b.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("error shows the secret's content: %v", err)
		}
	}
}

func TestMetricsEMF(t *testing.T) {
	var buf bytes.Buffer
	now := time.UnixMilli(1795774500000)
	m := serverless.NewMetrics(&buf, "cfybroker", func() time.Time { return now })
	op := broker.Operation{ID: "provision-1", Type: broker.OpProvision, ServiceID: "svc", PlanID: "plan", State: broker.StateFailed,
		Steps: 7, CreatedAt: now.Add(-time.Minute), EndedAt: now, CloudifyEndedAt: now.Add(-1500 * time.Millisecond)}
	m.OperationEnded(op, false)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[2]), &second); err != nil {
		t.Fatal(err)
	}
	wantAWS := map[string]any{
		"Timestamp": float64(1795774500000),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "cfybroker",
			"Dimensions": []any{[]any{"OperationType"}, []any{"OperationType", "ServiceID", "PlanID"}},
			"Metrics":    []any{map[string]any{"Name": "OperationsFailed", "Unit": "Count"}},
		}},
	}
	if diff := cmp.Diff(wantAWS, first["_aws"]); diff != "" {
		t.Errorf("_aws (-want +got):\n%s", diff)
	}
	if first["OperationsFailed"] != 1.0 || first["OperationType"] != "provision" || first["ServiceID"] != "svc" || first["operation_id"] != "provision-1" {
		t.Errorf("first line %v", first)
	}
	if second["OperationSteps"] != 7.0 || second["OperationDuration"] != 60000.0 || second["DetectionDelay"] != 1500.0 {
		t.Errorf("second line %v", second)
	}
	var nilMetrics *serverless.Metrics
	nilMetrics.OperationEnded(op, false) // a nil emitter discards
}

// TestMetricsFailureCause checks that a failed operation is counted by its cause, in
// all (no dimension: what the alarms watch) and by operation type, and that a
// StartExecution failure is counted in all too.
func TestMetricsFailureCause(t *testing.T) {
	failed := broker.Operation{ID: "op", Type: broker.OpUpdate, State: broker.StateFailed, Description: "install failed: boom"}
	tests := []struct {
		name     string
		emit     func(*serverless.Metrics)
		want     string
		dontWant []string
	}{
		{"in Cloudify", func(m *serverless.Metrics) { m.OperationEnded(failed, false) },
			serverless.MetricUserFailures, []string{serverless.MetricDriverFailures, serverless.MetricOperationsPastDeadline}},
		{"by the driver", func(m *serverless.Metrics) { m.OperationEnded(failed, true) },
			serverless.MetricDriverFailures, []string{serverless.MetricUserFailures, serverless.MetricOperationsPastDeadline}},
		{"past the deadline", func(m *serverless.Metrics) {
			op := failed
			op.Description = "timed out: Cloudify did not finish the update within the plan's maximum polling duration (1h0m0s, at 12:00)"
			m.OperationEnded(op, false)
		}, serverless.MetricOperationsPastDeadline, []string{serverless.MetricUserFailures, serverless.MetricDriverFailures}},
		{"succeeded", func(m *serverless.Metrics) {
			op := failed
			op.State = broker.StateSucceeded
			m.OperationEnded(op, false)
		}, serverless.MetricOperationsSucceeded, []string{serverless.MetricUserFailures, serverless.MetricDriverFailures, serverless.MetricOperationsPastDeadline}},
		{"StartExecution failed", func(m *serverless.Metrics) { m.StartFailed(failed) }, serverless.MetricStartFailures, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.emit(serverless.NewMetrics(&buf, "ns", nil))
			got := emfMetrics(t, buf.String())
			sets, ok := got[tt.want]
			if !ok {
				t.Fatalf("no %s in %s", tt.want, buf.String())
			}
			if tt.want != serverless.MetricOperationsSucceeded && !slices.Contains(sets, "") {
				t.Errorf("%s has no dimensionless set (the alarms' metric): %v", tt.want, sets)
			}
			for _, n := range tt.dontWant {
				if _, ok := got[n]; ok {
					t.Errorf("%s emitted too", n)
				}
			}
		})
	}
}

// emfMetrics returns, for each metric in the EMF lines, its dimension sets (names
// joined by commas; "" for the empty set).
func emfMetrics(t *testing.T, out string) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Dimensions [][]string
					Metrics    []struct{ Name string }
				}
			} `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for _, d := range v.AWS.CloudWatchMetrics {
			for _, m := range d.Metrics {
				for _, set := range d.Dimensions {
					got[m.Name] = append(got[m.Name], strings.Join(set, ","))
				}
			}
		}
	}
	return got
}

func TestLoggerLevel(t *testing.T) {
	if serverless.NewLogger(serverless.Config{LogLevel: "warn"}).Enabled(context.Background(), slog.LevelInfo) {
		t.Error("LOG_LEVEL=warn logs info")
	}
	if !serverless.NewLogger(serverless.Config{LogLevel: "debug"}).Enabled(context.Background(), slog.LevelDebug) {
		t.Error("LOG_LEVEL=debug does not log debug")
	}
}

func TestAPIHandlerRefusesOtherEvents(t *testing.T) {
	e := newEnv(t)
	h, err := serverless.NewAPIHandler(context.Background(), e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h(context.Background(), core.SwitchableAPIGatewayRequest{}); err == nil {
		t.Error("an empty request: no error")
	}
}

// provisionDirect records a provision through the OSB handler (no event file) and
// returns its operation id.
func provisionDirect(t *testing.T, e *env, instanceID string) string {
	t.Helper()
	ctx := context.Background()
	cat, err := serverless.NewCatalogHandler(ctx, e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h, err := serverless.NewAPIHandler(ctx, e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	var req core.SwitchableAPIGatewayRequest
	body := `{"service_id":"7dbfdd77-7046-533a-85b6-d638688550f6","plan_id":"a17080dd-d2c3-5d5d-972c-d73e09fea809","organization_guid":"o","space_guid":"s","parameters":{"admin_password":"Passw0rd-ok"}}`
	ev := fmt.Sprintf(`{"version":"2.0","rawPath":"/v2/service_instances/%s","rawQueryString":"accepts_incomplete=true","headers":{"authorization":"Basic cGxhdGZvcm06ZXZlbnRzLXNhbXBsZS1wYXNzd29yZA==","x-broker-api-version":"2.17","content-type":"application/json"},"requestContext":{"http":{"method":"PUT","path":"/v2/service_instances/%s"}},"body":%q}`,
		instanceID, instanceID, body)
	if err := json.Unmarshal([]byte(ev), &req); err != nil {
		t.Fatal(err)
	}
	resp, err := h(ctx, req)
	if err != nil || resp.Version2().StatusCode != 202 {
		t.Fatalf("provision: %+v, %v", resp, err)
	}
	var out struct{ Operation string }
	_ = json.Unmarshal([]byte(resp.Version2().Body), &out)
	return out.Operation
}

func TestStepFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := provisionDirect(t, e, "i-fault")
	step, err := serverless.NewStepHandler(ctx, e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	fault := e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultMaintenance})
	_, err = step(ctx, sfn.Input{TaskInput: workflow.TaskInput{OperationID: id}})
	var sf *sfn.StepFault
	if !errors.As(err, &sf) || sf.Message != "the Cloudify manager answered HTTP 503 (maintenance_mode_active)" {
		t.Fatalf("step during maintenance: %v (%T)", err, err)
	}
	if !strings.Contains(e.metrics.String(), `"ErrorCode":"maintenance_mode_active"`) {
		t.Errorf("no CloudifyErrors metric: %s", e.metrics.String())
	}
	e.sim.RemoveFault(fault)
	if out, err := step(ctx, sfn.Input{TaskInput: workflow.TaskInput{OperationID: id}}); err != nil || out.Done || out.WaitSeconds < 1 {
		t.Fatalf("step after the outage = %+v, %v", out, err)
	}
	var nf *sfn.OperationNotFound
	if _, err := step(ctx, sfn.Input{TaskInput: workflow.TaskInput{OperationID: "provision-nope"}}); !errors.As(err, &nf) {
		t.Errorf("unknown operation: %v (%T)", err, err)
	}
	if _, err := step(ctx, sfn.Input{}); err == nil {
		t.Error("no operation_id: no error")
	}
	// MarkFailed of an unknown operation is done, not an error.
	if out, err := step(ctx, sfn.Input{TaskInput: workflow.TaskInput{OperationID: "provision-nope"}, Fail: &sfn.Failure{Error: "StepFault"}}); err != nil || !out.Done {
		t.Errorf("mark-failed of an unknown operation = %+v, %v", out, err)
	}
}

func TestCatalogSweepRestartsLostOperations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sfn.startErr = errors.New("ServiceUnavailable")
	id := provisionDirect(t, e, "i-lost")
	e.sfn.startErr = nil
	if len(e.sfn.started()) != 0 {
		t.Fatalf("started %v while StartExecution failed", e.sfn.started())
	}
	if !strings.Contains(e.metrics.String(), `"StartFailures":1`) {
		t.Errorf("no StartFailures metric")
	}
	later := time.Now().Add(10 * time.Minute)
	e.deps.Now = func() time.Time { return later }
	cat, err := serverless.NewCatalogHandler(ctx, e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cat(ctx, nil)
	if err != nil || res.Sweep.Restarted != 1 || res.Sweep.Stale != 1 {
		t.Fatalf("sweep = %+v, %v", res, err)
	}
	if got := e.sfn.started(); len(got) != 1 || got[0] != id {
		t.Fatalf("started %v, want [%s]", got, id)
	}
	// Still stale (nothing stepped it): its execution runs now, so the sweep leaves it.
	if res, _ := cat(ctx, nil); res.Sweep.Running != 1 || res.Sweep.Restarted != 0 {
		t.Errorf("second sweep = %+v", res.Sweep)
	}
	// The execution died: the next sweep starts -r1.
	e.sfn.setStatus(id, "FAILED")
	if res, _ := cat(ctx, nil); res.Sweep.Restarted != 1 || e.sfn.started()[1] != id+"-r1" {
		t.Errorf("third sweep = %+v, started %v", res.Sweep, e.sfn.started())
	}
	// Past its deadline (1 h): failed as timed out.
	muchLater := later.Add(2 * time.Hour)
	e.deps.Now = func() time.Time { return muchLater }
	cat, _ = serverless.NewCatalogHandler(ctx, e.cfg, e.deps)
	if res, _ := cat(ctx, nil); res.Sweep.Failed != 1 {
		t.Errorf("late sweep = %+v", res.Sweep)
	}
	op, _ := e.deps.Store.GetOperation(ctx, id)
	if op.State != broker.StateFailed || !strings.HasPrefix(op.Description, "timed out") {
		t.Errorf("operation after the late sweep: %s %q", op.State, op.Description)
	}
}

// TestAdminAPINotRouted: the AWS shape serves no admin API (the operator uses the CLI
// with --table and an AWS identity): /admin/v1/ answers as any unknown OSB route, even
// with the platform's credentials, and nothing it would have done is done.
func TestAdminAPINotRouted(t *testing.T) {
	e := newEnv(t)
	h, err := serverless.NewOSBHandler(context.Background(), e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/admin/v1/instances"},
		{http.MethodGet, "/admin/v1/catalog"},
		{http.MethodPost, "/admin/v1/reconcile"},
		{http.MethodPost, "/admin/v1/catalog/rebuild"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{}`))
		req.Header.Set("X-Broker-API-Version", "2.17")
		req.SetBasicAuth(testBrokerUser, testBrokerPass)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %s %q, want a JSON 404", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

// TestStepHungManager: a manager that accepts requests and never answers gives a
// StepFault that says so, ended by the call timeout, or by the reserve before the
// invocation's deadline while the invocation still runs; the operation is not failed
// and goes on once the manager answers again.
func TestStepHungManager(t *testing.T) {
	e := newEnv(t)
	id := provisionDirect(t, e, "i-hung")
	hang := e.sim.AddFault(cloudifysim.Fault{Kind: cloudifysim.FaultLatency, Latency: time.Hour})
	for _, tc := range []struct {
		name        string
		callTimeout time.Duration
		invocation  time.Duration
	}{
		{"call timeout", 200 * time.Millisecond, time.Hour},
		{"reserve before the invocation deadline", time.Hour, serverless.CallReserve + 200*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.cfg
			cfg.CloudifyCallTimeout = tc.callTimeout
			step, err := serverless.NewStepHandler(context.Background(), cfg, e.deps)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.invocation)
			defer cancel()
			_, err = step(ctx, sfn.Input{TaskInput: workflow.TaskInput{OperationID: id}})
			var sf *sfn.StepFault
			if !errors.As(err, &sf) || sf.Message != "the Cloudify manager did not answer in time" {
				t.Fatalf("step against a hung manager: %v (%T)", err, err)
			}
			if ctx.Err() != nil {
				t.Errorf("the step answered after its invocation's deadline")
			}
		})
	}
	e.sim.RemoveFault(hang)
	step, err := serverless.NewStepHandler(context.Background(), e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := step(context.Background(), sfn.Input{TaskInput: workflow.TaskInput{OperationID: id}}); err != nil || out.State == broker.StateFailed {
		t.Fatalf("step once the manager answers = %+v, %v", out, err)
	}
}
