package serverless_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

// eventsDir is the repository's events/ folder.
const eventsDir = "../../events"

// invoker calls a function the way the Lambda runtime does: JSON in, JSON out,
// through lambda.NewHandler.
type invoker struct {
	t *testing.T
	h lambda.Handler
}

func newInvoker(t *testing.T, handler any) invoker {
	return invoker{t: t, h: lambda.NewHandler(handler)}
}

// file invokes the function with the event file (a path under events/) and returns
// the answer's JSON, or the error.
func (i invoker) file(name string) ([]byte, error) {
	i.t.Helper()
	payload, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		i.t.Fatal(err)
	}
	return i.h.Invoke(context.Background(), payload)
}

// apiResponse is the part of a payload 1.0 or 2.0 response the tests look at.
type apiResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func mustHandlers(t *testing.T, e *env) (api, step, cat invoker) {
	t.Helper()
	ctx := context.Background()
	a, err := serverless.NewAPIHandler(ctx, e.cfg, e.deps)
	if err != nil {
		t.Fatalf("NewAPIHandler: %v", err)
	}
	s, err := serverless.NewStepHandler(ctx, e.cfg, e.deps)
	if err != nil {
		t.Fatalf("NewStepHandler: %v", err)
	}
	c, err := serverless.NewCatalogHandler(ctx, e.cfg, e.deps)
	if err != nil {
		t.Fatalf("NewCatalogHandler: %v", err)
	}
	return newInvoker(t, a), newInvoker(t, s), newInvoker(t, c)
}

// TestEventIDs checks that the sample events use the ids the catalog generates for
// testManagerURL, so that they keep matching the simulator's blueprints.
func TestEventIDs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(eventsDir, "api", "provision.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	var body struct {
		ServiceID string `json:"service_id"`
		PlanID    string `json:"plan_id"`
	}
	if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
		t.Fatal(err)
	}
	if want := catalog.ServiceID(testManagerURL, "", "mariadb"); body.ServiceID != want {
		t.Errorf("provision.json service_id = %s, want %s", body.ServiceID, want)
	}
	if want := catalog.PlanID(testManagerURL, "", "mariadb", "default"); body.PlanID != want {
		t.Errorf("provision.json plan_id = %s, want %s", body.PlanID, want)
	}
}

// TestReplayEvents replays every sample event under events/ through its function, in
// an order that takes an instance through its whole life, and checks each answer.
func TestReplayEvents(t *testing.T) {
	e := newEnv(t)
	api, step, cat := mustHandlers(t, e)
	replayed := map[string]bool{}

	callAPI := func(name string, want int) apiResponse {
		t.Helper()
		replayed["api/"+name] = true
		out, err := api.file("api/" + name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var resp apiResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("%s: answer %s: %v", name, out, err)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s: status %d, want %d; body %s", name, resp.StatusCode, want, resp.Body)
		}
		return resp
	}
	callStep := func(name string) (workflow.TaskOutput, error) {
		t.Helper()
		replayed["step/"+name] = true
		out, err := step.file("step/" + name)
		if err != nil {
			return workflow.TaskOutput{}, err
		}
		var o workflow.TaskOutput
		if err := json.Unmarshal(out, &o); err != nil {
			t.Fatalf("%s: answer %s: %v", name, out, err)
		}
		return o, nil
	}
	// drive runs the step event until the operation ends, as the state machine would
	// (without its waits: the simulator runs 50 times faster than real time).
	drive := func(name string, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, err := callStep(name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if out.Done {
				if string(out.State) != want {
					t.Fatalf("%s: operation ended %s, want %s", name, out.State, want)
				}
				return
			}
			if out.WaitSeconds < 0 || time.Now().After(deadline) {
				t.Fatalf("%s: %+v", name, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	replayed["catalog/scheduled.json"] = true
	out, err := cat.file("catalog/scheduled.json")
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	var res serverless.CatalogResult
	if err := json.Unmarshal(out, &res); err != nil || res.Services == 0 {
		t.Fatalf("catalog answer %s (%v)", out, err)
	}

	if r := callAPI("catalog.json", 200); !strings.Contains(r.Body, `"mariadb"`) {
		t.Fatalf("catalog body %s", r.Body)
	}
	callAPI("v1-catalog.json", 200)
	if r := callAPI("provision.json", 202); !strings.Contains(r.Body, "provision-00000000-0000-4000-8000-000000000001") {
		t.Fatalf("provision body %s", r.Body)
	}
	if r := callAPI("last-operation-provision.json", 200); !strings.Contains(r.Body, `"in progress"`) {
		t.Fatalf("last_operation body %s", r.Body)
	}
	callAPI("fetch-instance.json", 404) // still provisioning
	callAPI("v1-fetch-instance.json", 404)
	drive("step-provision.json", "succeeded")
	callAPI("last-operation-provision.json", 200)
	callAPI("fetch-instance.json", 200)
	callAPI("v1-fetch-instance.json", 200)

	callAPI("update.json", 202)
	callAPI("last-operation-update.json", 200)
	drive("step-update.json", "succeeded")

	// mariadb's bindings get credentials of their own from its osb_bind workflow: the
	// bind is an operation of the state machine, and so is the unbind.
	if r := callAPI("bind.json", 202); !strings.Contains(r.Body, "bind-00000000-0000-4000-8000-000000000003") {
		t.Fatalf("bind body %s", r.Body)
	}
	if r := callAPI("last-operation-binding.json", 200); !strings.Contains(r.Body, `"in progress"`) {
		t.Fatalf("binding last_operation body %s", r.Body)
	}
	callAPI("fetch-binding.json", 404) // still binding
	drive("step-bind.json", "succeeded")
	if r := callAPI("last-operation-binding.json", 200); !strings.Contains(r.Body, `"succeeded"`) {
		t.Fatalf("binding last_operation body %s", r.Body)
	}
	fetched := callAPI("fetch-binding.json", 200)
	var binding struct {
		Credentials map[string]any `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(fetched.Body), &binding); err != nil {
		t.Fatalf("fetch binding body: %v", err)
	}
	user, _ := binding.Credentials["username"].(string)
	pw, _ := binding.Credentials["password"].(string)
	if user == "" || pw == "" || pw == "Sample-passw0rd" || binding.Credentials["host"] == nil {
		t.Fatalf("binding credentials have keys %v (password is the admin's: %v), want a user of the binding's own", keysOf(binding.Credentials), pw == "Sample-passw0rd")
	}
	if users := bindingUsers(e, "osb-6f4b2c1e-8d3a-4f5b-9c7e-2a1d0b3c4e5f"); len(users) != 1 || users[0] != user {
		t.Fatalf("database users on the manager = %v, want the binding's %s", users, user)
	}
	// The same bind again answers the binding, with the same credentials.
	if r := callAPI("bind.json", 200); !strings.Contains(r.Body, user) {
		t.Fatalf("repeated bind body has not the binding's user")
	}
	if r := callAPI("unbind.json", 202); !strings.Contains(r.Body, "unbind-00000000-0000-4000-8000-000000000004") {
		t.Fatalf("unbind body %s", r.Body)
	}
	drive("step-unbind.json", "succeeded")
	callAPI("last-operation-unbind.json", 410)
	callAPI("last-operation-binding.json", 404)
	if users := bindingUsers(e, "osb-6f4b2c1e-8d3a-4f5b-9c7e-2a1d0b3c4e5f"); len(users) != 0 {
		t.Fatalf("database users left on the manager after the unbind: %v", users)
	}
	for _, s := range e.sim.Secrets() {
		if strings.HasPrefix(s.Key, "osb-") {
			t.Fatalf("secret %s left on the manager after the unbind", s.Key)
		}
	}

	callAPI("deprovision.json", 202)
	drive("step-deprovision.json", "succeeded")
	callAPI("last-operation-deprovision.json", 410)

	// A provision whose execution gave up: MarkFailed ends it with the cause.
	callAPI("provision-failing.json", 202)
	if o, err := callStep("mark-failed.json"); err != nil || !o.Done || o.State != "failed" {
		t.Fatalf("mark-failed = %+v, %v", o, err)
	}
	if r := callAPI("last-operation-failing.json", 200); !strings.Contains(r.Body, `"failed"`) || !strings.Contains(r.Body, "maintenance_mode_active") {
		t.Fatalf("failed last_operation body %s", r.Body)
	}
	// The execution input of the first operation: a step of an ended operation is done.
	if o, err := callStep("state-machine-input.json"); err != nil || !o.Done || o.State != "succeeded" {
		t.Fatalf("state-machine-input = %+v, %v", o, err)
	}

	// Every operation was handed to the state machine, named after its id.
	wantStarts := []string{
		"provision-00000000-0000-4000-8000-000000000001", "update-00000000-0000-4000-8000-000000000002",
		"bind-00000000-0000-4000-8000-000000000003", "unbind-00000000-0000-4000-8000-000000000004",
		"deprovision-00000000-0000-4000-8000-000000000005", "provision-00000000-0000-4000-8000-000000000006",
	}
	if got := e.sfn.started(); strings.Join(got, " ") != strings.Join(wantStarts, " ") {
		t.Errorf("executions started = %v, want %v", got, wantStarts)
	}
	var all []string
	for _, dir := range []string{"api", "step", "catalog"} {
		files, _ := filepath.Glob(filepath.Join(eventsDir, dir, "*.json"))
		for _, f := range files {
			all = append(all, dir+"/"+filepath.Base(f))
		}
	}
	sort.Strings(all)
	for _, f := range all {
		if !replayed[f] {
			t.Errorf("event %s is not replayed by this test", f)
		}
	}
	if len(all) < 20 {
		t.Errorf("only %d events found under %s", len(all), eventsDir)
	}
	for _, m := range []string{`"OperationsStarted":1`, `"OperationsSucceeded":1`, `"OperationsFailed":1`, `"DetectionDelay"`, `"StepDuration"`,
		`"DriverFailures":1`} {
		if !strings.Contains(e.metrics.String(), m) {
			t.Errorf("metrics have no %s", m)
		}
	}
	// The one failure is the state machine's (MarkFailed), not the user's.
	if strings.Contains(e.metrics.String(), `"UserFailures"`) {
		t.Errorf("a driver failure counted as the user's: %s", e.metrics.String())
	}
	for _, secret := range []string{testBrokerPass, testCloudifyPw, testSealKeyHex, "Sample-passw0rd"} {
		if strings.Contains(e.logs.String(), secret) || strings.Contains(e.metrics.String(), secret) {
			t.Errorf("a secret (%.4s…) is in the logs or metrics", secret)
		}
	}
	// Three cold starts: api reads three secrets, step and catalog two each, once.
	if e.secrets.reads != 7 {
		t.Errorf("secrets read %d times, want 7", e.secrets.reads)
	}
}

// keysOf lists a map's keys in order.
func keysOf(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// bindingUsers lists the usernames of the database users the bind workflows made on
// the deployment.
func bindingUsers(e *env, depID string) []string {
	var out []string
	for _, d := range e.sim.Deployments() {
		if d.ID == depID && d.Exists {
			for _, u := range d.BindingUsers {
				out = append(out, u.Username)
			}
		}
	}
	return out
}
