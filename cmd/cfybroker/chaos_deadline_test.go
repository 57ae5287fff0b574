package main

import (
	"strings"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"
)

// TestChaosDeadlineOnTime: an operation whose Cloudify workflow hangs fails "timed out"
// after its deadline (how soon after is logged; internal/workflow's engine tests bound
// it on a virtual clock); and the deprovision that follows cancels the hung execution
// and deletes the deployment.
func TestChaosDeadlineOnTime(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a deadline; skipped with -short")
	}
	const deadline = 10 * time.Second
	e := newE2E(t, "7.0.4")
	e.stop()
	e.cfg.DefaultDeadline = deadline
	e.start()
	svc, plan := e.plan("mariadb")
	e.sim.HangWorkflow("osb-hang-1", "install", "started")
	defer e.sim.ReleaseWorkflow("osb-hang-1", "install")

	began := time.Now()
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "hang-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": "Passw0rd-ok"}})
	if err != nil {
		t.Fatal(err)
	}
	var resp *osbc.LastOperationResponse
	for {
		resp, err = e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: "hang-1", OperationKey: prov.OperationKey})
		if err != nil {
			t.Fatal(err)
		}
		if resp.State != osbc.StateInProgress || time.Since(began) > 3*deadline {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(began)
	if resp.State != osbc.StateFailed || !strings.HasPrefix(deref(resp.Description), "timed out") {
		t.Fatalf("after %s: state %s (%s), want failed: timed out", took.Round(time.Millisecond), resp.State, deref(resp.Description))
	}
	// How soon after the deadline is reported, not asserted: a wall-clock bound fails on
	// a loaded machine. The engine's tests bound it on a virtual clock.
	t.Logf("failed after %s, %s after its %s deadline: %s", took.Round(time.Millisecond),
		(took - deadline).Round(time.Millisecond), deadline, deref(resp.Description))

	// The broker gave up; the manager still runs the install, which the deprovision halts.
	running := ""
	for _, ex := range e.sim.Executions("osb-hang-1") {
		if ex.WorkflowID == "install" {
			running = ex.Status
		}
	}
	if running != "started" {
		t.Fatalf("install execution after the timeout: %q, want started (hung)", running)
	}

	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "hang-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.poll("hang-1", dep.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("deprovision after the timeout: %v, want 410", err)
	}
	if n := len(e.liveDeployments()); n != 0 {
		t.Fatalf("%d deployments left", n)
	}
}
