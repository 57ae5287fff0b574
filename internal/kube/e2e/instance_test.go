package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
)

// TestInstanceLifecycle provisions a mariadb instance, updates its parameters, forces
// an update with updateRequests, and checks that the API server rejects a change of
// externalID or class.
func TestInstanceLifecycle(t *testing.T) {
	c := begin(t, "inst")
	svc := c.h.service(t, mariadbClass)
	si, pw := c.mariadb("db")

	start := time.Now()
	c.create(si)
	var sawProvisioning bool
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully", func(si *v1beta1.ServiceInstance) bool {
		if isCond(si.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, "Provisioning") && si.Status.CurrentOperation == v1beta1.OperationProvision {
			sawProvisioning = true
		}
		return readyInstance("ProvisionedSuccessfully")(si)
	})
	figure(t, "apply-to-ready", "%.1fs (mariadb demo install, simulator in real time)", time.Since(start).Seconds())
	if !sawProvisioning {
		t.Logf("never saw Ready=False/Provisioning with currentOperation=Provision: the provision ended between two looks (every %v)", pollEvery)
	}
	id := si.Spec.ExternalID
	if id == "" {
		t.Fatalf("spec.externalID is empty once provisioned:\n%s", c.h.describe(si))
	}
	c.expectSettled(si, "Provision")

	// The broker's view: the instance, its dashboard, the parameters the manager got.
	status, body := c.mustOSB(http.MethodGet, "/v2/service_instances/"+id)
	if status != http.StatusOK {
		t.Fatalf("GET /v2/service_instances/%s = %d %s", id, status, body)
	}
	var fetched struct {
		ServiceID    string `json:"service_id"`
		PlanID       string `json:"plan_id"`
		DashboardURL string `json:"dashboard_url"`
	}
	if err := json.Unmarshal(body, &fetched); err != nil {
		t.Fatal(err)
	}
	if fetched.ServiceID != svc.ID || fetched.PlanID != svc.Plans[0].ID {
		t.Errorf("broker instance has service %s plan %s, want %s %s", fetched.ServiceID, fetched.PlanID, svc.ID, svc.Plans[0].ID)
	}
	if si.Status.DashboardURL == nil || *si.Status.DashboardURL == "" {
		t.Errorf("status.dashboardURL not set")
	} else if *si.Status.DashboardURL != fetched.DashboardURL {
		t.Errorf("status.dashboardURL = %q, want the broker's %q", *si.Status.DashboardURL, fetched.DashboardURL)
	}
	if found, inputs := c.deployment(id); !found || inputs["admin_password"] != pw {
		t.Errorf("manager deployment of %s: found=%v, admin_password sent=%v", id, found, found && inputs["admin_password"] == pw)
	}

	// Change the parameters: an update.
	gen := si.Generation
	if err := update(c, si, func(si *v1beta1.ServiceInstance) {
		si.Spec.Parameters = rawJSON(t, map[string]any{"admin_password": pw, "db_name": "orders"})
	}); err != nil {
		t.Fatalf("update parameters: %v", err)
	}
	var sawUpdating bool
	si = waitFor(c, si, "Ready=True/InstanceUpdatedSuccessfully for the new generation", func(si *v1beta1.ServiceInstance) bool {
		if si.Status.CurrentOperation == v1beta1.OperationUpdate {
			sawUpdating = true
		}
		return si.Generation > gen && si.Status.ObservedGeneration == si.Generation && readyInstance("InstanceUpdatedSuccessfully")(si)
	})
	if !sawUpdating {
		t.Logf("never saw currentOperation=Update: the update ended between two looks")
	}
	c.expectSettled(si, "Update")
	status, ai := c.adminInstance(id)
	if status != http.StatusOK || ai.OperationType != "update" || ai.OperationState != "succeeded" {
		t.Errorf("broker's record of %s: HTTP %d, last operation %s %s; want a succeeded update", id, status, ai.OperationType, ai.OperationState)
	}
	if _, inputs := c.deployment(id); inputs["db_name"] != "orders" {
		t.Errorf("manager deployment's db_name = %v after the update, want orders", inputs["db_name"])
	}

	// Bump updateRequests: another update with the same parameters.
	prevOp := ai.OperationID
	want := si.Spec.UpdateRequests + 1
	if err := update(c, si, func(si *v1beta1.ServiceInstance) { si.Spec.UpdateRequests = want }); err != nil {
		t.Fatalf("bump updateRequests: %v", err)
	}
	si = waitFor(c, si, "observedUpdateRequests to reach the bump and Ready=True/InstanceUpdatedSuccessfully", func(si *v1beta1.ServiceInstance) bool {
		return si.Status.ObservedUpdateRequests == want && si.Status.ObservedGeneration == si.Generation && readyInstance("InstanceUpdatedSuccessfully")(si)
	})
	c.expectSettled(si, "forced update")
	if status, ai := c.adminInstance(id); status != http.StatusOK || ai.OperationType != "update" || ai.OperationID == prevOp {
		t.Errorf("broker's record of %s after updateRequests: HTTP %d, last operation %s %s (previous %s); want a new update", id, status, ai.OperationType, ai.OperationID, prevOp)
	}
	reqs := c.h.brokerRequests(id)
	figure(t, "broker-requests-provision-and-2-updates", "%d requests from the controller (%s)", total(reqs), formatCounts(reqs))

	// Immutable fields, enforced by the CRD's CEL rules.
	err := update(c, si, func(si *v1beta1.ServiceInstance) { si.Spec.ExternalID = "another-id" })
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "externalID is immutable") {
		t.Errorf("changing spec.externalID: err = %v, want Invalid with \"externalID is immutable\"", err)
	}
	err = update(c, si, func(si *v1beta1.ServiceInstance) { si.Spec.ClusterServiceClassExternalName = "redis-cache" })
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "class is immutable") {
		t.Errorf("changing the class: err = %v, want Invalid with \"class is immutable\"", err)
	}
}

// expectSettled checks the status of an instance whose operation op just succeeded.
func (c *tcase) expectSettled(si *v1beta1.ServiceInstance, op string) {
	c.t.Helper()
	s := si.Status
	if s.ProvisionStatus != v1beta1.ProvisionStatusProvisioned {
		c.t.Errorf("after %s: provisionStatus = %q, want Provisioned", op, s.ProvisionStatus)
	}
	if s.AsyncOpInProgress || s.CurrentOperation != "" {
		c.t.Errorf("after %s: asyncOpInProgress = %v, currentOperation = %q; want false and none", op, s.AsyncOpInProgress, s.CurrentOperation)
	}
	if s.ObservedGeneration != si.Generation {
		c.t.Errorf("after %s: observedGeneration = %d, want metadata.generation %d", op, s.ObservedGeneration, si.Generation)
	}
	if isCond(s.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, "") {
		c.t.Errorf("after %s: %s, want Failed not True", op, condString(s.Conditions, v1beta1.ConditionFailed))
	}
}

// expectDeprovisioned checks that the broker and the manager no longer have the
// instance.
func (c *tcase) expectDeprovisioned(id string) {
	c.t.Helper()
	if status, body := c.mustOSB(http.MethodGet, "/v2/service_instances/"+id); status != http.StatusNotFound && status != http.StatusGone {
		c.t.Errorf("GET /v2/service_instances/%s after the deletion = %d %s, want 404 or 410", id, status, body)
	}
	if status, body := c.mustOSB(http.MethodGet, "/v2/service_instances/"+id+"/last_operation"); status != http.StatusGone && status != http.StatusNotFound {
		c.t.Errorf("GET /v2/service_instances/%s/last_operation after the deletion = %d %s, want 410 (or 404)", id, status, body)
	}
	if found, _ := c.deployment(id); found {
		c.t.Errorf("the manager still has deployment osb-%s after the deletion", id)
	}
}

// TestInstanceDeleteBlockedByBinding deletes an instance that still has a binding: it
// waits, Ready=False/DeprovisionBlockedByExistingBindings, until the binding goes.
func TestInstanceDeleteBlockedByBinding(t *testing.T) {
	c := begin(t, "blocked")
	si, _ := c.mariadb("db")
	c.create(si)
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully", readyInstance("ProvisionedSuccessfully"))
	id := si.Spec.ExternalID
	sb := c.binding("db-binding", si.Name)
	c.create(sb)
	waitFor(c, sb, "Ready=True/InjectedBindResult", readyBinding)

	c.delete(si)
	si = waitFor(c, si, "deletionTimestamp and Ready=False/DeprovisionBlockedByExistingBindings", func(si *v1beta1.ServiceInstance) bool {
		return si.DeletionTimestamp != nil && isCond(si.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, "DeprovisionBlockedByExistingBindings")
	})
	// Blocked means nothing was sent: the broker and the manager still have it.
	if status, body := c.mustOSB(http.MethodGet, "/v2/service_instances/"+id); status != http.StatusOK {
		t.Errorf("GET /v2/service_instances/%s while the deletion is blocked = %d %s, want 200", id, status, body)
	}
	if found, _ := c.deployment(id); !found {
		t.Errorf("the manager lost deployment osb-%s while the deletion was blocked", id)
	}

	c.delete(sb)
	c.waitGone(sb, "the binding to go")
	c.waitGone(si, "the instance to go once its binding is gone")
	c.expectDeprovisioned(id)
}

// TestInstanceFailingInstall provisions the sample whose install fails: Failed=True
// with Cloudify's reason, Ready=False.
func TestInstanceFailingInstall(t *testing.T) {
	c := begin(t, "failing")
	si := c.instance("broken", failingClass, defaultPlan, nil)
	c.create(si)
	si = waitFor(c, si, "Failed=True", func(si *v1beta1.ServiceInstance) bool {
		return isCond(si.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, "")
	})
	failed, _ := condOf(si.Status.Conditions, v1beta1.ConditionFailed)
	t.Logf("Failed condition: reason %s, message %q", failed.Reason, failed.Message)
	// The sample's traceback ends with this line (blueprints/failing-install.json); the
	// broker's last_operation description carries it.
	const reason = "NonRecoverableError: ansible-playbook failed"
	if !strings.Contains(failed.Message, reason) {
		t.Errorf("Failed message = %q, want Cloudify's reason %q", failed.Message, reason)
	}
	if isCond(si.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, "") {
		t.Errorf("%s, want Ready not True for a failed install", condString(si.Status.Conditions, v1beta1.ConditionReady))
	}
	if _, ok := condOf(si.Status.Conditions, v1beta1.ConditionReady); !ok {
		t.Errorf("no Ready condition on a failed instance")
	}
	if id := si.Spec.ExternalID; id != "" {
		status, body := c.mustOSB(http.MethodGet, "/v2/service_instances/"+id+"/last_operation")
		var lo struct{ State, Description string }
		if status == http.StatusOK && json.Unmarshal(body, &lo) == nil && lo.State == "failed" && !strings.Contains(failed.Message, lo.Description) {
			t.Errorf("Failed message = %q, want the broker's last_operation description %q", failed.Message, lo.Description)
		}
	}
}

// TestInstanceParametersFrom provisions with parameters from a Secret; an instance
// whose Secret is missing waits (ErrorWithParameters) without calling the broker, and
// provisions once the Secret exists.
func TestInstanceParametersFrom(t *testing.T) {
	c := begin(t, "paramsfrom")
	pw := "Pf-" + randSuffix() + randSuffix()
	c.h.addSecret(pw)
	secretJSON := `{"admin_password":"` + pw + `","db_name":"fromsecret"}`
	c.secret("db-params", map[string]string{"params": secretJSON})

	si := c.instance("db", mariadbClass, defaultPlan, map[string]any{"admin_user": "pfuser"})
	si.Spec.ParametersFrom = []v1beta1.ParametersFromSource{{SecretKeyRef: &v1beta1.SecretKeyReference{Name: "db-params", Key: "params"}}}
	c.create(si)
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully", readyInstance("ProvisionedSuccessfully"))
	found, inputs := c.deployment(si.Spec.ExternalID)
	if !found {
		t.Fatalf("no manager deployment for %s", si.Spec.ExternalID)
	}
	if inputs["admin_password"] != pw || inputs["db_name"] != "fromsecret" || inputs["admin_user"] != "pfuser" {
		t.Errorf("manager deployment inputs: admin_password from the Secret=%v, db_name=%v (want fromsecret), admin_user=%v (want pfuser)",
			inputs["admin_password"] == pw, inputs["db_name"], inputs["admin_user"])
	}

	// The Secret does not exist yet.
	late := c.instance("late", mariadbClass, defaultPlan, map[string]any{"admin_user": "pfuser"})
	late.Spec.ParametersFrom = []v1beta1.ParametersFromSource{{SecretKeyRef: &v1beta1.SecretKeyReference{Name: "late-params", Key: "params"}}}
	c.create(late)
	late = waitFor(c, late, "Ready=False/ErrorWithParameters", func(si *v1beta1.ServiceInstance) bool {
		return isCond(si.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, "ErrorWithParameters")
	})
	if late.Spec.ExternalID == "" {
		t.Fatalf("spec.externalID not generated:\n%s", c.h.describe(late))
	}
	// Give the controller time to (wrongly) send something, then look at the broker.
	time.Sleep(3 * time.Second)
	c.get(late)
	if !isCond(late.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, "ErrorWithParameters") || late.Status.AsyncOpInProgress {
		t.Errorf("3 s later: %s, asyncOpInProgress=%v; want still Ready=False/ErrorWithParameters", condString(late.Status.Conditions, v1beta1.ConditionReady), late.Status.AsyncOpInProgress)
	}
	if reqs := c.h.brokerRequests(late.Spec.ExternalID); len(reqs) > 0 {
		t.Errorf("the broker got requests for %s although its parameters Secret is missing: %s", late.Spec.ExternalID, formatCounts(reqs))
	}
	c.secret("late-params", map[string]string{"params": secretJSON})
	late = waitFor(c, late, "Ready=True/ProvisionedSuccessfully once the Secret exists", readyInstance("ProvisionedSuccessfully"))
	if _, inputs := c.deployment(late.Spec.ExternalID); inputs["admin_password"] != pw {
		t.Errorf("manager deployment of %s: admin_password not the Secret's", late.Spec.ExternalID)
	}
}

// TestInstanceDeleteWhileProvisioning deletes an instance whose provision runs: it
// ends deprovisioned and gone.
func TestInstanceDeleteWhileProvisioning(t *testing.T) {
	c := begin(t, "delprov")
	si, _ := c.mariadb("db")
	c.create(si)
	si = c.waitProvisioning(si)
	id := si.Spec.ExternalID
	c.delete(si)
	c.waitGone(si, "the instance deleted while provisioning to go")
	c.expectDeprovisioned(id)
}

// waitProvisioning waits until the controller polls a provision (asyncOpInProgress);
// it fails the test if the provision ended first, since the test would prove nothing.
func (c *tcase) waitProvisioning(si *v1beta1.ServiceInstance) *v1beta1.ServiceInstance {
	c.t.Helper()
	var endedFirst bool
	si = waitFor(c, si, "asyncOpInProgress during the provision", func(si *v1beta1.ServiceInstance) bool {
		if isCond(si.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, "") || isCond(si.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, "") {
			endedFirst = true
			return true
		}
		return si.Status.AsyncOpInProgress && si.Status.CurrentOperation == v1beta1.OperationProvision
	})
	if endedFirst {
		c.t.Fatalf("precondition: the provision ended before the test saw it in progress:\n%s", c.h.describe(si))
	}
	if si.Spec.ExternalID == "" {
		c.t.Fatalf("asyncOpInProgress without spec.externalID:\n%s", c.h.describe(si))
	}
	return si
}

// TestExplicitExternalIDs creates an instance, and a binding with a secretName, whose
// spec.externalID is set by their author (the field is "generated when empty"): the
// broker gets those ids and both become Ready.
func TestExplicitExternalIDs(t *testing.T) {
	c := begin(t, "extid")
	explicit, _ := c.mariadb("explicit")
	explicit.Spec.ExternalID = "e2e-extid-" + randSuffix()
	c.create(explicit)
	generated, _ := c.mariadb("generated")
	c.create(generated)
	generated = waitFor(c, generated, "Ready=True/ProvisionedSuccessfully", readyInstance("ProvisionedSuccessfully"))
	sb := c.binding("explicit", generated.Name)
	sb.Spec.ExternalID = "e2e-extid-b-" + randSuffix()
	sb.Spec.SecretName = "explicit-credentials"
	c.create(sb)

	// One wait for both, so that a stuck one costs one time limit.
	deadline := c.deadline(waitLimit)
	var instReady, bindReady bool
	for !(instReady && bindReady) && time.Now().Before(deadline) {
		time.Sleep(pollEvery)
		c.get(explicit)
		c.get(sb)
		instReady = readyInstance("ProvisionedSuccessfully")(explicit)
		bindReady = readyBinding(sb)
	}
	if !instReady {
		t.Errorf("instance with an explicit externalID: not Ready=True/ProvisionedSuccessfully after %v:\n%s", waitLimit, c.h.describe(explicit))
	} else if status, body := c.mustOSB(http.MethodGet, "/v2/service_instances/"+explicit.Spec.ExternalID); status != http.StatusOK {
		t.Errorf("GET /v2/service_instances/%s = %d %s, want 200", explicit.Spec.ExternalID, status, body)
	}
	if !bindReady {
		t.Errorf("binding with an explicit externalID and secretName: not Ready=True/InjectedBindResult after %v:\n%s", waitLimit, c.h.describe(sb))
	} else if status, _ := c.mustOSB(http.MethodGet, "/v2/service_instances/"+generated.Spec.ExternalID+"/service_bindings/"+sb.Spec.ExternalID); status != http.StatusOK {
		t.Errorf("GET binding %s from the broker = %d, want 200", sb.Spec.ExternalID, status)
	}
}
