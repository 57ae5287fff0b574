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
// credential or broker password appears in the Events, the statuses or the
// controllers' logs.
func TestEventsAndNoSecretLeaks(t *testing.T) {
	c := begin(t, "secrets")
	h := c.h
	needles := map[string]string{
		"admin_password parameter (and password credential)": "Leak-" + randSuffix() + randSuffix() + "-Pw",
		"admin_user parameter (and username credential)":     "u" + randSuffix(),
		"db_name parameter (and database credential)":        "db_" + randSuffix(),
		"broker password (ClusterServiceBroker Secret)":      h.brokerPass,
	}
	for _, v := range needles {
		h.addSecret(v)
	}
	params := map[string]any{
		"admin_password": needles["admin_password parameter (and password credential)"],
		"admin_user":     needles["admin_user parameter (and username credential)"],
		"db_name":        needles["db_name parameter (and database credential)"],
	}
	si := c.instance("db", mariadbClass, defaultPlan, params)
	c.create(si)
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully", readyInstance("ProvisionedSuccessfully"))
	sb := c.binding("db-binding", si.Name)
	c.create(sb)
	sb = waitFor(c, sb, "Ready=True/InjectedBindResult", readyBinding)

	// The values did flow: the Secret holds them (so a search for them can succeed).
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: sb.Name}}
	c.get(sec)
	for k, p := range map[string]string{"password": "admin_password", "username": "admin_user", "database": "db_name"} {
		if got, _ := secretString(sec, k); got != params[p] {
			t.Errorf("Secret entry %s is not the %s parameter", k, p)
		}
	}

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
