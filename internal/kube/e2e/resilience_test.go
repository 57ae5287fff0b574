package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
)

// restartBrokerAtEnd makes sure the shared broker runs again after the test.
func (c *tcase) restartBrokerAtEnd() {
	c.t.Cleanup(func() {
		if !c.h.broker.alive() {
			if err := c.h.startBroker(context.Background()); err != nil {
				c.t.Errorf("restarting the broker: %v", err)
			}
		}
	})
}

// neverFailed wraps a predicate and records whether the instance ever showed
// Failed=True on the way.
func neverFailed(failed *bool, ok func(*v1beta1.ServiceInstance) bool) func(*v1beta1.ServiceInstance) bool {
	return func(si *v1beta1.ServiceInstance) bool {
		if isCond(si.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, "") {
			*failed = true
			return true
		}
		return ok(si)
	}
}

// TestBrokerRestartMidProvision kills the broker (SIGKILL) while a provision runs and
// starts it again on the same port and data directory: the instance ends Ready.
func TestBrokerRestartMidProvision(t *testing.T) {
	c := begin(t, "restart")
	c.restartBrokerAtEnd()
	si, _ := c.mariadb("db")
	c.create(si)
	si = c.waitProvisioning(si)

	c.h.broker.kill()
	if err := c.h.startBroker(c.ctx); err != nil {
		t.Fatalf("restart the broker: %v", err)
	}
	var failed bool
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully after the broker's restart", neverFailed(&failed, readyInstance("ProvisionedSuccessfully")))
	if failed {
		t.Fatalf("the instance failed after the broker's restart:\n%s", c.h.describe(si))
	}
	c.expectSettled(si, "Provision across a broker restart")
	if found, _ := c.deployment(si.Spec.ExternalID); !found {
		t.Errorf("no manager deployment for %s", si.Spec.ExternalID)
	}
}

// TestBrokerOutageMidProvision stops the broker for about ten seconds while a
// provision runs: the instance does not fail, and ends Ready once the broker is back.
func TestBrokerOutageMidProvision(t *testing.T) {
	c := begin(t, "outage")
	c.restartBrokerAtEnd()
	si, _ := c.mariadb("db")
	c.create(si)
	si = c.waitProvisioning(si)

	c.h.broker.stop()
	var failed bool
	end := time.Now().Add(10 * time.Second)
	for time.Now().Before(end) {
		c.get(si)
		if isCond(si.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, "") {
			failed = true
		}
		time.Sleep(pollEvery)
	}
	t.Logf("during the outage: %s, asyncOpInProgress=%v", condString(si.Status.Conditions, v1beta1.ConditionReady), si.Status.AsyncOpInProgress)
	if failed {
		t.Errorf("the instance showed Failed=True during a 10 s broker outage:\n%s", c.h.describe(si))
	}
	if err := c.h.startBroker(c.ctx); err != nil {
		t.Fatalf("start the broker again: %v", err)
	}
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully after the outage", neverFailed(&failed, readyInstance("ProvisionedSuccessfully")))
	if failed {
		t.Fatalf("the instance failed after the outage:\n%s", c.h.describe(si))
	}
	c.expectSettled(si, "Provision across a broker outage")
}

// TestLeaderElectionFailover runs two controllers with --leader-elect (the shared
// controller is stopped meanwhile), kills the leader while a provision runs, and checks
// that the other one takes the Lease and finishes the lifecycle.
func TestLeaderElectionFailover(t *testing.T) {
	c := begin(t, "leader")
	h := c.h
	main := h.controller()
	main.stop()
	var standby *proc
	t.Cleanup(func() {
		// The shared controller comes back alone.
		if standby != nil {
			standby.stop()
		}
		if err := h.restartController(context.Background(), main); err != nil {
			t.Errorf("restarting the shared controller: %v", err)
		}
	})
	leFlags := []string{"--leader-elect", "--leader-election-namespace", c.ns}
	first, err := h.startController(c.ctx, "controller-le1", leFlags...)
	if first != nil {
		defer first.kill()
	}
	if err != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "cfybroker-controller"}}
	lease = waitFor(c, lease, "a holder of Lease cfybroker-controller", func(l *coordinationv1.Lease) bool {
		return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != ""
	})
	firstHolder := *lease.Spec.HolderIdentity
	t.Logf("leader: %s", firstHolder)
	// standby is stopped by the cleanup above, even when its start fails.
	if standby, err = h.startController(c.ctx, "controller-le2", leFlags...); err != nil {
		t.Fatal(err)
	}
	c.get(lease)
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != firstHolder {
		t.Fatalf("the Lease changed hands when the second controller started: %v", lease.Spec.HolderIdentity)
	}

	si, _ := c.mariadb("db")
	c.create(si)
	si = c.waitProvisioning(si)
	first.kill()
	lease = waitFor(c, lease, "another holder of the Lease after the leader's death", func(l *coordinationv1.Lease) bool {
		return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" && *l.Spec.HolderIdentity != firstHolder
	})
	t.Logf("new leader: %s", *lease.Spec.HolderIdentity)
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully under the new leader", readyInstance("ProvisionedSuccessfully"))
	c.expectSettled(si, "Provision across a leader change")
	sb := c.binding("db-binding", si.Name)
	c.create(sb)
	waitFor(c, sb, "Ready=True/InjectedBindResult under the new leader", readyBinding)
	if !standby.alive() {
		t.Errorf("the second controller exited; see %s", standby.logPath)
	}
}

// restartController starts a stopped controller process again with its flags and
// makes it the shared one.
func (h *harness) restartController(ctx context.Context, p *proc) error {
	if p.alive() {
		return nil
	}
	if err := p.start(); err != nil {
		return err
	}
	err := waitUntil(ctx, 2*time.Minute, func() bool {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, p)
	if err != nil {
		return err
	}
	h.setController(p)
	return nil
}

// TestControllerProbes checks the shared controller's health and readiness probes.
func TestControllerProbes(t *testing.T) {
	h := need(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + h.controller().addr + path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
}
