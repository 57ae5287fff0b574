package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestEventsAndNoSecretLeaks provisions and binds with distinctive parameter values,
// then checks that the transitions are recorded as Events and that no parameter value,
// credential (the binding's own user and password too) or broker password appears in
// the Events, the statuses or the controllers' logs.
func TestEventsAndNoSecretLeaks(t *testing.T) {
	c := begin(t, "secrets")
	h := c.h
	needles := map[string]string{
		"admin_password parameter":                      "Leak-" + randSuffix() + randSuffix() + "-Pw",
		"admin_user parameter":                          "u" + randSuffix(),
		"db_name parameter (and database credential)":   "db_" + randSuffix(),
		"broker password (ClusterServiceBroker Secret)": h.brokerPass,
	}
	for _, v := range needles {
		h.addSecret(v)
	}
	params := map[string]any{
		"admin_password": needles["admin_password parameter"],
		"admin_user":     needles["admin_user parameter"],
		"db_name":        needles["db_name parameter (and database credential)"],
	}
	si := c.instance("db", mariadbClass, defaultPlan, params)
	c.create(si)
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully", readyInstance("ProvisionedSuccessfully"))
	sb := c.binding("db-binding", si.Name)
	c.create(sb)
	sb = waitFor(c, sb, "Ready=True/InjectedBindResult", readyBinding)

	// The values did flow (so a search for them can succeed): the Secret holds the
	// database the parameters named and the binding's own user, whose credentials are
	// needles too; the admin's went to the deployment.
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: sb.Name}}
	c.get(sec)
	if got, _ := secretString(sec, "database"); got != params["db_name"] {
		t.Errorf("Secret entry database is not the db_name parameter")
	}
	user, _ := secretString(sec, "username")
	userPw, _ := secretString(sec, "password")
	h.addSecret(userPw)
	if user == "" || userPw == "" || user == params["admin_user"] || userPw == params["admin_password"] {
		t.Errorf("Secret entries username and password: empty %v, the admin's %v; want the binding's own user", user == "" || userPw == "", user == params["admin_user"] || userPw == params["admin_password"])
	}
	if found, inputs := c.deployment(si.Spec.ExternalID); !found || inputs["admin_password"] != params["admin_password"] || inputs["admin_user"] != params["admin_user"] {
		t.Errorf("the deployment's inputs do not hold the admin parameters (found %v)", found)
	}
	needles["binding's own username credential"] = user
	needles["binding's own password credential"] = userPw

	// Events, with reasons of the transitions.
	var events corev1.EventList
	if err := h.kube.List(c.ctx, &events, client.InNamespace(c.ns)); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]map[string]bool{}
	for _, e := range events.Items {
		key := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		if reasons[key] == nil {
			reasons[key] = map[string]bool{}
		}
		reasons[key][e.Reason] = true
	}
	for _, want := range []struct{ obj, reason string }{
		{"ServiceInstance/" + si.Name, "ProvisionedSuccessfully"},
		{"ServiceBinding/" + sb.Name, "InjectedBindResult"},
	} {
		if !reasons[want.obj][want.reason] {
			t.Errorf("no Event with reason %s on %s; Events by object and reason: %v", want.reason, want.obj, describeReasons(reasons))
		}
	}
	t.Logf("Events: %s", describeReasons(reasons))

	// Where secrets must not be.
	haystacks := map[string]string{}
	out, err := h.kubectlRun(c.ctx, "get", "events", "-n", c.ns, "-o", "yaml")
	if err != nil {
		t.Fatalf("kubectl get events: %v", err)
	}
	haystacks["kubectl get events -o yaml"] = string(out)
	c.get(si)
	c.get(sb)
	for name, status := range map[string]any{"ServiceInstance status": si.Status, "ServiceBinding status": sb.Status} {
		b, err := json.Marshal(status)
		if err != nil {
			t.Fatal(err)
		}
		haystacks[name] = string(b)
	}
	logs, _ := filepath.Glob(filepath.Join(h.work, "controller*.log"))
	if len(logs) == 0 {
		t.Fatal("no controller log file")
	}
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		haystacks["controller log "+filepath.Base(path)] = string(b)
	}
	for where, text := range haystacks {
		for what, v := range needles {
			if strings.Contains(text, v) {
				// Never print the value itself.
				t.Errorf("%s contains the %s", where, what)
			}
		}
	}
}

func describeReasons(m map[string]map[string]bool) string {
	var parts []string
	for obj, rs := range m {
		var names []string
		for r := range rs {
			names = append(names, r)
		}
		sort.Strings(names)
		parts = append(parts, obj+": "+strings.Join(names, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}
