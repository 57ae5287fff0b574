package kube_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/testenv"
)

// TestUserInfoPolicy applies the MutatingAdmissionPolicy that fills spec.userInfo (the
// originating identity the controller sends) on the real API server, bound to one
// labelled namespace of this test only, and checks that a user's own userInfo is
// replaced by who the API server says the user is.
func TestUserInfoPolicy(t *testing.T) {
	if os.Getenv("KUBECONFIG") == "" {
		testenv.SkipOrFail(t, "KUBECONFIG is not set: start the API server with `make local-k8s` and eval its output")
	}
	if _, _, err := kubectl(t, nil, "get", "--raw", "/readyz"); err != nil {
		testenv.SkipOrFail(t, "the API server in KUBECONFIG does not answer (make local-k8s): %v", err)
	}
	root := repoRoot(t)
	mustKubectl(t, nil, "apply", "-k", filepath.Join(root, manifestsPath, "crd"))
	mustKubectl(t, nil, "wait", "--for=condition=Established", "--timeout=120s", "crd/serviceinstances.servicecatalog.cfybroker.io")

	data, err := os.ReadFile(filepath.Join(root, manifestsPath, "controller", "user_info_policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The policy alone: the shipped binding applies to every namespace, which would
	// touch other tests sharing this API server.
	policy, _, _ := strings.Cut(string(data), "\n---\n")
	suffix := fmt.Sprintf("%06x", rand.IntN(1<<24))
	// A copy of its own, so that the manifests' policy is never applied for real here.
	policyName := "cfybroker-user-info-" + suffix
	if !strings.Contains(policy, "name: cfybroker-user-info\n") {
		t.Fatal("the policy manifest no longer names cfybroker-user-info")
	}
	policy = strings.Replace(policy, "name: cfybroker-user-info\n", "name: "+policyName+"\n", 1)
	ns := "policy-" + suffix
	label := "cfybroker-policy-test-" + suffix
	mustKubectl(t, []byte(policy), "apply", "-f", "-")
	binding := fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: cfybroker-user-info-%[1]s}
spec:
  policyName: cfybroker-user-info-%[1]s
  matchResources:
    namespaceSelector: {matchLabels: {%[2]s: "true"}}
`, suffix, label)
	mustKubectl(t, []byte(binding), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _, _ = kubectl(t, nil, "delete", "mutatingadmissionpolicybinding", policyName, "--ignore-not-found")
		_, _, _ = kubectl(t, nil, "delete", "mutatingadmissionpolicy", policyName, "--ignore-not-found")
	})
	mustKubectl(t, nil, "create", "namespace", ns)
	mustKubectl(t, nil, "label", "namespace", ns, label+"=true")

	var who struct {
		Status struct {
			UserInfo struct {
				Username string   `json:"username"`
				Groups   []string `json:"groups"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(mustKubectl(t, nil, "auth", "whoami", "-o", "json")), &who); err != nil {
		t.Fatal(err)
	}
	if who.Status.UserInfo.Username == "" || who.Status.UserInfo.Username == "forged" {
		t.Fatalf("kubectl auth whoami gave username %q", who.Status.UserInfo.Username)
	}

	instance := fmt.Sprintf(`apiVersion: servicecatalog.cfybroker.io/v1beta1
kind: ServiceInstance
metadata: {name: forged, namespace: %s}
spec:
  clusterServiceClassExternalName: no-such-class-%s
  clusterServicePlanExternalName: default
  userInfo: {username: forged, groups: [system:masters]}
`, ns, suffix)
	// The policy takes effect within a moment of its creation: retry the create until
	// the object carries a mutated userInfo, deleting the unmutated ones.
	var got struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	}
	for i := 0; ; i++ {
		mustKubectl(t, []byte(instance), "apply", "-f", "-")
		out := mustKubectl(t, nil, "-n", ns, "get", "serviceinstance", "forged", "-o", "jsonpath={.spec.userInfo}")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("spec.userInfo %q: %v", out, err)
		}
		if got.Username != "forged" || i == 50 {
			break
		}
		mustKubectl(t, nil, "-n", ns, "delete", "serviceinstance", "forged", "--wait=false")
		mustKubectl(t, nil, "wait", "--for=delete", "--timeout=60s", "-n", ns, "serviceinstance/forged")
	}
	t.Cleanup(func() { _, _, _ = kubectl(t, nil, "-n", ns, "delete", "serviceinstance", "forged", "--wait=false") })
	if got.Username != who.Status.UserInfo.Username {
		t.Errorf("spec.userInfo.username = %q, want the requester %q (a user's own value must be replaced)", got.Username, who.Status.UserInfo.Username)
	}
	if strings.Join(got.Groups, ",") != strings.Join(who.Status.UserInfo.Groups, ",") {
		t.Errorf("spec.userInfo.groups = %v, want the requester's %v", got.Groups, who.Status.UserInfo.Groups)
	}
}
