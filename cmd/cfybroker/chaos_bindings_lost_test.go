package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim/simchaos"
)

// lossProxy stands in front of the simulator and, once armed, loses the answer to the
// n-th request that changes something (any method but GET and HEAD): the manager
// applies it, and the broker sees the connection close without an answer, as after a
// crash of the network between them. It records every such request.
type lossProxy struct {
	sim *cloudifysim.Simulator

	mu     sync.Mutex
	armed  bool
	loseAt int // 0: lose nothing
	calls  []string
	lost   string
}

func (p *lossProxy) arm(loseAt int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.loseAt, p.calls = true, loseAt, nil
}

func (p *lossProxy) disarm() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = false
	return p.calls
}

func (p *lossProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lose := false
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		p.mu.Lock()
		if p.armed {
			call := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/api/v3.1")
			p.calls = append(p.calls, call)
			if lose = len(p.calls) == p.loseAt; lose {
				p.lost = call
			}
		}
		p.mu.Unlock()
	}
	if !lose {
		p.sim.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	if simchaos.ServeRecorded(p.sim, rec, r) {
		simchaos.AbortConn(w)
	}
}

// newLossE2E starts a simulator behind a lossProxy and a broker in front of it.
func newLossE2E(t *testing.T) (*e2e, *lossProxy) {
	t.Helper()
	sim := cloudifysim.New(cloudifysim.Config{
		Version: "7.0.4", Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true, Clock: newSpeedClock(10),
	})
	proxy := &lossProxy{sim: sim}
	ts := httptest.NewServer(proxy)
	t.Cleanup(ts.Close)
	e := &e2e{t: t, sim: sim, simURL: ts.URL, cfg: serveConfig{
		Listen: "127.0.0.1:0", Username: testUser, Password: testPass,
		AdminUsername: testAdminUser, AdminPassword: testAdminPass,
		CloudifyURL: ts.URL, CloudifyTenant: "default_tenant", CloudifyUsername: "admin", CloudifyPassword: "cfy-pw",
		DataDir: t.TempDir(), DashboardTemplate: "{manager}/console/deployments/{deployment_id}",
		DefaultDeadline: time.Minute, Concurrency: 8, PollMin: 100 * time.Millisecond,
	}}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e, proxy
}

// bindingScenario runs, on a provisioned mariadb instance, every path of bindings that
// calls the manager: two binds, a bind whose osb_bind fails, a bind halted by its
// unbind, an unbind, and a deprovision with a binding left; it checks each outcome as
// the platform sees it and, at the end, that nothing is left on the manager or in the
// store. It returns the changing requests the broker sent from the first bind on, and
// the one whose answer was lost.
func bindingScenario(t *testing.T, loseAt int) (calls []string, lost string) {
	t.Helper()
	e, proxy := newLossE2E(t)
	svc, plan := e.provisionMariaDB("lost-1")
	proxy.arm(loseAt)

	b1 := e.bindWait("lost-1", "b1", svc, plan)
	b2 := e.bindWait("lost-1", "b2", svc, plan)
	if b1.Credentials["username"] == b2.Credentials["username"] {
		t.Errorf("b1 and b2 share the user %v", b1.Credentials["username"])
	}
	for id, b := range map[string]*osbc.GetBindingResponse{"b1": b1, "b2": b2} {
		if u, ok := e.bindingUser("osb-lost-1", id); !ok || b.Credentials["password"] != u.Password {
			t.Errorf("%s: credentials %v are not the manager's user %+v", id, b.Credentials["username"], u)
		}
	}

	// A bind whose workflow fails: failed, nothing left, the id unbinds with 410.
	e.sim.FailWorkflow("osb-lost-1", "osb_bind", workflowTraceback(bindFailureReason))
	bind, err := e.client.Bind(&osbc.BindRequest{InstanceID: "lost-1", BindingID: "b3", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !bind.Async {
		t.Fatalf("bind b3 = %+v, %v; want 202", bind, err)
	}
	lo, err := e.pollBinding("lost-1", "b3", bind.OperationKey)
	if err != nil || lo.State != osbc.StateFailed || !strings.Contains(deref(lo.Description), bindFailureReason) {
		t.Errorf("bind b3 with a failing osb_bind = %+v, %v; want failed with %q", lo, err, bindFailureReason)
	}
	e.sim.ReleaseWorkflow("osb-lost-1", "osb_bind")
	if code := e.rawStatus("DELETE", "/v2/service_instances/lost-1/service_bindings/b3?accepts_incomplete=true&service_id="+svc+"&plan_id="+plan, ""); code != http.StatusGone {
		t.Errorf("unbind of the failed b3: %d, want 410", code)
	}

	// A bind halted by its unbind while osb_bind hangs.
	e.sim.HangWorkflow("osb-lost-1", "osb_bind", "started")
	bind, err = e.client.Bind(&osbc.BindRequest{InstanceID: "lost-1", BindingID: "b4", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !bind.Async {
		t.Fatalf("bind b4 = %+v, %v; want 202", bind, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		started := slices.ContainsFunc(e.sim.Executions("osb-lost-1"), func(ex cloudifysim.ExecutionInfo) bool {
			return ex.WorkflowID == "osb_bind" && ex.Parameters["binding_id"] == "b4" && ex.Status == "started"
		})
		if started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("osb_bind of b4 never started")
		}
	}
	e.unbindWait("lost-1", "b4", svc, plan)
	e.sim.ReleaseWorkflow("osb-lost-1", "osb_bind")
	if lo, err := e.pollBinding("lost-1", "b4", bind.OperationKey); err != nil || lo.State != osbc.StateFailed {
		t.Errorf("bind b4 after its unbind = %+v, %v; want failed", lo, err)
	}

	// An unbind, then a deprovision with b2 left.
	e.unbindWait("lost-1", "b1", svc, plan)
	if _, ok := e.bindingUser("osb-lost-1", "b1"); ok {
		t.Errorf("b1's user outlived its unbind")
	}
	if got, err := e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: "lost-1", BindingID: "b2"}); err != nil || got.Credentials["username"] != b2.Credentials["username"] {
		t.Errorf("fetch b2 = %+v, %v; want its credentials", got, err)
	}
	// Each run of a workflow the broker started, whatever answer it lost, is the only
	// one for its binding: a lost answer is followed by adopting the run, not by a
	// second one. (A bind whose run failed may start it again: that is its retry.)
	runs := map[string]int{}
	for _, ex := range e.sim.Executions("osb-lost-1") {
		if id, ok := ex.Parameters["binding_id"].(string); ok {
			runs[ex.WorkflowID+" "+id]++
		}
	}
	want := map[string]int{"osb_bind b1": 1, "osb_bind b2": 1, "osb_bind b3": runs["osb_bind b3"], "osb_bind b4": 1, "osb_unbind b4": 1, "osb_unbind b1": 1}
	if diff := cmp.Diff(want, runs); diff != "" || runs["osb_bind b3"] < 1 || runs["osb_bind b3"] > 2 {
		t.Errorf("workflow runs per binding (-want +got):\n%s(osb_bind b3: %d)", diff, runs["osb_bind b3"])
	}
	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "lost-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.poll("lost-1", dep.OperationKey); !osbc.IsGoneError(err) {
		t.Errorf("deprovision: %v, want 410", err)
	}
	calls = proxy.disarm()

	if left := e.bindingSecrets(); len(left) != 0 {
		t.Errorf("secrets left: %v", left)
	}
	if live := e.liveDeployments(); len(live) != 0 {
		t.Errorf("deployments left: %+v", live)
	}
	for _, id := range []string{"b1", "b2", "b3", "b4"} {
		if e.storedBinding("lost-1", id) {
			t.Errorf("binding %s outlived its instance in the store", id)
		}
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	return calls, proxy.lost
}

// TestChaosBindingLostResponses loses, in turn, the answer to each changing request
// the broker sends the manager on the paths of bind, unbind and deprovision (starting
// osb_bind and osb_unbind, cancelling a hung bind, deleting secrets, uninstalling and
// deleting the deployment): each time, the scenario must end as without the loss, and
// leave nothing behind.
func TestChaosBindingLostResponses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binding scenario once per changing Cloudify call; skipped with -short")
	}
	var calls []string
	t.Run("no loss", func(t *testing.T) { calls, _ = bindingScenario(t, 0) })
	if len(calls) == 0 {
		t.Fatal("the scenario sent the manager no changing request")
	}
	t.Logf("changing requests of the scenario: %d\n  %s", len(calls), strings.Join(calls, "\n  "))
	lost := map[string]int{}
	for n := 1; n <= len(calls); n++ {
		t.Run(fmt.Sprintf("lose %d", n), func(t *testing.T) {
			_, call := bindingScenario(t, n)
			if call == "" {
				t.Fatalf("no answer was lost: the run sent fewer than %d changing requests", n)
			}
			t.Logf("lost the answer to %s", call)
			lost[routeOf(call)]++
		})
	}
	kinds := make([]string, 0, len(lost))
	for k, n := range lost {
		kinds = append(kinds, fmt.Sprintf("%s ×%d", k, n))
	}
	slices.Sort(kinds)
	t.Logf("lost responses: %d runs, each losing one answer (%s)", len(calls), strings.Join(kinds, ", "))
}

// routeOf names a request by its route: ids become {id}.
func routeOf(call string) string {
	method, path, _ := strings.Cut(call, " ")
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if i >= 2 && seg != "" {
			segs[i] = "{id}"
		}
	}
	return method + " " + strings.Join(segs, "/")
}
