package e2e

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
)

// readyBinding is a ServiceBinding that is Ready with reason InjectedBindResult.
func readyBinding(sb *v1beta1.ServiceBinding) bool {
	return isCond(sb.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, "InjectedBindResult") && !sb.Status.AsyncOpInProgress
}

// TestBindingLifecycle binds a mariadb instance twice: each binding's credentials
// (a database user of its own, made by the blueprint's osb_bind workflow and left in
// the Cloudify secret osb-<deployment>-<binding>) land in a Secret of the Service
// Binding spec's shape, owned by the binding; the two users differ; deleting a binding
// unbinds (the Cloudify secret goes) and deletes its Secret; deleting the instance
// deprovisions it. It also records the broker requests of the whole lifecycle.
func TestBindingLifecycle(t *testing.T) {
	c := begin(t, "bind")
	si, pw := c.mariadb("db")
	c.create(si)
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully", readyInstance("ProvisionedSuccessfully"))
	iid := si.Spec.ExternalID

	sb := c.binding("app-db", si.Name)
	start := time.Now()
	c.create(sb)
	sb = waitFor(c, sb, "Ready=True/InjectedBindResult", readyBinding)
	figure(t, "bind-to-ready", "%.1fs", time.Since(start).Seconds())
	bid := sb.Spec.ExternalID
	if bid == "" {
		t.Fatalf("binding spec.externalID is empty once bound:\n%s", c.h.describe(sb))
	}
	if sb.Status.Binding == nil || sb.Status.Binding.Name != sb.Name {
		t.Fatalf("status.binding = %+v, want the Secret named after the binding (%s)", sb.Status.Binding, sb.Name)
	}
	if isCond(sb.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, "") {
		t.Errorf("bound binding has %s", condString(sb.Status.Conditions, v1beta1.ConditionFailed))
	}

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: sb.Status.Binding.Name}}
	c.get(sec)
	owned := false
	for _, o := range sec.OwnerReferences {
		if o.Kind == "ServiceBinding" && o.APIVersion == v1beta1.GroupVersion.String() && o.Name == sb.Name && o.UID == sb.UID {
			owned = true
		}
	}
	if !owned {
		t.Errorf("Secret %s ownerReferences = %+v, want one to ServiceBinding %s (uid %s)", sec.Name, sec.OwnerReferences, sb.Name, sb.UID)
	}
	typ, _ := secretString(sec, "type")
	if typ == "" || string(sec.Type) != "servicebinding.io/"+typ {
		t.Errorf("Secret type %q and entry type %q: want servicebinding.io/<type> with a non-empty type entry", sec.Type, typ)
	}
	if p, _ := secretString(sec, "provider"); p == "" {
		t.Errorf("Secret %s has no provider entry", sec.Name)
	}
	// The mariadb sample's osb_bind (blueprints/mariadb.json) leaves host, port (a
	// runtime attribute, 3306) and database (db_name, default app), and a user of the
	// binding's own: not the deployment's admin (admin_user dbadmin, admin_password).
	// Non-string values are JSON-encoded.
	for k, want := range map[string]string{"port": mariadbDBPort, "database": "app"} {
		if got, ok := secretString(sec, k); !ok || got != want {
			t.Errorf("Secret entry %s: present=%v, matches=%v", k, ok, got == want)
		}
	}
	user, _ := secretString(sec, "username")
	userPw, _ := secretString(sec, "password")
	c.h.addSecret(userPw)
	if host, _ := secretString(sec, "host"); host == "" || user == "" || userPw == "" {
		t.Errorf("Secret entries host, username or password missing or empty")
	}
	if user == "dbadmin" || userPw == pw {
		t.Errorf("Secret holds the deployment's admin credentials (username dbadmin: %v, admin password: %v), want the binding's own", user == "dbadmin", userPw == pw)
	}
	// They are the binding's own, from its Cloudify secret.
	if found, creds := c.bindingSecret(iid, bid); !found || creds["username"] != user || creds["password"] != userPw {
		t.Errorf("Cloudify secret of binding %s: found %v, username equal to the Secret's %v, password equal %v", bid, found, creds["username"] == user, creds["password"] == userPw)
	}
	keys := make([]string, 0, len(sec.Data))
	for k := range sec.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("binding Secret %s: type %s, keys %s", sec.Name, sec.Type, strings.Join(keys, ","))

	// The broker's copy of the credentials (the catalog says bindings are retrievable):
	// every credential must be in the Secret, unchanged.
	status, body := c.mustOSB(http.MethodGet, "/v2/service_instances/"+iid+"/service_bindings/"+bid)
	if status != http.StatusOK {
		t.Fatalf("GET binding %s from the broker = %d", bid, status)
	}
	var fetched struct {
		Credentials map[string]json.RawMessage `json:"credentials"`
	}
	if err := json.Unmarshal(body, &fetched); err != nil {
		t.Fatal(err)
	}
	if len(fetched.Credentials) == 0 {
		t.Fatalf("the broker's binding %s has no credentials", bid)
	}
	for k, raw := range fetched.Credentials {
		want := string(raw)
		var s string
		if json.Unmarshal(raw, &s) == nil {
			want = s
		}
		if got, ok := secretString(sec, k); !ok || got != want {
			t.Errorf("Secret entry %s: present=%v, equal to the broker's credential=%v", k, ok, got == want)
		}
	}

	// A second binding of the instance gets another user.
	sb2 := c.binding("app-db-2", si.Name)
	c.create(sb2)
	sb2 = waitFor(c, sb2, "Ready=True/InjectedBindResult", readyBinding)
	sec2 := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: sb2.Status.Binding.Name}}
	c.get(sec2)
	user2, _ := secretString(sec2, "username")
	userPw2, _ := secretString(sec2, "password")
	c.h.addSecret(userPw2)
	if user2 == "" || user2 == user || userPw2 == "" || userPw2 == userPw {
		t.Errorf("second binding's Secret: username %q (first %q), password empty %v or the first's %v; want another user", user2, user, userPw2 == "", userPw2 == userPw)
	}
	if found, creds := c.bindingSecret(iid, sb2.Spec.ExternalID); !found || creds["username"] != user2 {
		t.Errorf("Cloudify secret of binding %s: found %v, username equal to the Secret's %v", sb2.Spec.ExternalID, found, creds["username"] == user2)
	}

	// Unbind: the binding's Cloudify secret goes with it; the other binding keeps its own.
	c.delete(sb)
	c.waitGone(sec, "the binding's Secret to be deleted by the controller (no garbage collector here)")
	c.waitGone(sb, "the binding to go")
	if status, body := c.mustOSB(http.MethodGet, "/v2/service_instances/"+iid+"/service_bindings/"+bid); status != http.StatusNotFound && status != http.StatusGone {
		t.Errorf("GET binding %s from the broker after the deletion = %d %s, want 404 or 410", bid, status, body)
	}
	if found, _ := c.bindingSecret(iid, bid); found {
		t.Errorf("the Cloudify secret of binding %s is still on the manager after its unbind", bid)
	}
	if found, _ := c.bindingSecret(iid, sb2.Spec.ExternalID); !found {
		t.Errorf("the Cloudify secret of binding %s went with the other binding's unbind", sb2.Spec.ExternalID)
	}
	c.delete(sb2)
	c.waitGone(sec2, "the second binding's Secret to be deleted")
	c.waitGone(sb2, "the second binding to go")
	if found, _ := c.bindingSecret(iid, sb2.Spec.ExternalID); found {
		t.Errorf("the Cloudify secret of binding %s is still on the manager after its unbind", sb2.Spec.ExternalID)
	}
	if status, ai := c.adminInstance(iid); status != http.StatusOK {
		t.Errorf("broker's record of %s: HTTP %d", iid, status)
	} else {
		for _, b := range ai.Bindings {
			if b.ID == bid {
				t.Errorf("the broker still lists binding %s of %s", bid, iid)
			}
		}
	}

	// Deprovision.
	c.delete(si)
	c.waitGone(si, "the instance to go")
	c.expectDeprovisioned(iid)

	reqs := c.h.brokerRequests(iid)
	figure(t, "broker-requests-per-lifecycle", "%d requests from the controller for provision+2 binds+2 unbinds+deprovision (%s)", total(reqs), formatCounts(reqs))
}
