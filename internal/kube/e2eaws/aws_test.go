package e2eaws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cfybroker/cfybroker/internal/devtools/awslocal"
	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
	"github.com/cfybroker/cfybroker/internal/kube/controller"
	"github.com/cfybroker/cfybroker/internal/testenv"
)

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// start runs a command in dir; the test's cleanup interrupts it and waits.
func start(t *testing.T, dir string, env []string, out *testenv.SyncBuffer, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}

// eventually polls cond every 250 ms until it holds; the bound only keeps a broken
// run from hanging (the machine is small and shared).
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: never happened; last seen: %s", what, last)
}

func condition(conds []v1beta1.Condition, typ v1beta1.ConditionType) v1beta1.Condition {
	for _, c := range conds {
		if c.Type == typ {
			return c
		}
	}
	return v1beta1.Condition{}
}

// TestControllerDrivesTheAWSShape registers the AWS shape's URL (the run-aws front door)
// with the controller and runs one lifecycle: catalog, provision, two bindings (a
// Secret each, with a database user of its own), unbind (Secrets gone), deprovision.
func TestControllerDrivesTheAWSShape(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: not in -short mode")
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		testenv.SkipOrFail(t, "KUBEBUILDER_ASSETS is not set: run `make local-k8s` and eval its output")
	}
	root := moduleRoot(t)
	for _, f := range []string{filepath.Join(root, ".local-aws", "bin", "aws-lambda-rie"), filepath.Join(root, ".ci", "sfn-local.mjs")} {
		if os.Getenv("LOCAL_AWS_RIE") == "" {
			if _, err := os.Stat(f); err != nil {
				testenv.SkipOrFail(t, "the AWS stand-ins are missing (%s): run `make local-aws` and eval its output", f)
			}
		}
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:8000", time.Second); err != nil && os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		testenv.SkipOrFail(t, "DynamoDB Local does not answer on 127.0.0.1:8000: run `make local-aws`")
	} else if err == nil {
		c.Close()
	}

	// A control plane of this test's own.
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "infra", "kubernetes", "crd")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := env.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	kcPath := filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme, err := controller.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	kc, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	// The binaries, as shipped.
	bin := filepath.Join(tmp, "cfybroker")
	runAWS := filepath.Join(tmp, "run-aws")
	for target, pkg := range map[string]string{bin: "./cmd/cfybroker", runAWS: "./internal/devtools/cmd/run-aws"} {
		build := exec.Command("go", "build", "-o", target, pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}

	// The AWS shape behind its front door.
	const password = "aws-shape-e2e-pw"
	port, err := awslocal.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	var awsOut, ctrlOut testenv.SyncBuffer
	start(t, root, []string{"CFYBROKER_PASSWORD=" + password}, &awsOut, runAWS,
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--sim-speed", "50", "--catalog-every", "1h", "--work-dir", filepath.Join(tmp, "run-aws-work"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("run-aws output (tail):\n%s", tail(awsOut.String(), 60))
			t.Logf("controller output (tail):\n%s", tail(ctrlOut.String(), 60))
		}
	})
	eventually(t, "the AWS shape answers its catalog", func() (bool, string) {
		req, _ := http.NewRequest(http.MethodGet, url+"/v2/catalog", nil)
		req.SetBasicAuth("broker", password)
		req.Header.Set("X-Broker-API-Version", "2.17")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})

	start(t, root, nil, &ctrlOut, bin, "controller", "--kubeconfig", kcPath, "--metrics-bind-address", "0",
		"--health-probe-bind-address", "0", "--poll-min", "500ms", "--poll-max", "5s", "--log-format", "json")

	ctx := context.Background()
	ns := "aws-shape"
	must(t, kc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(t, kc.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "broker-auth", Namespace: ns},
		StringData: map[string]string{"username": "broker", "password": password}}))
	must(t, kc.Create(ctx, &v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: "aws"},
		Spec: v1beta1.ClusterServiceBrokerSpec{URL: url, AuthInfo: &v1beta1.ClusterServiceBrokerAuthInfo{
			Basic: &v1beta1.ClusterBasicAuthConfig{SecretRef: &v1beta1.ObjectReference{Namespace: ns, Name: "broker-auth"}}}}}))
	eventually(t, "the broker's catalog becomes classes", func() (bool, string) {
		var classes v1beta1.ClusterServiceClassList
		if err := kc.List(ctx, &classes); err != nil {
			return false, err.Error()
		}
		for _, c := range classes.Items {
			if c.Spec.ExternalName == "mariadb" && c.Spec.ClusterServiceBrokerName == "aws" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d classes", len(classes.Items))
	})

	began := time.Now()
	params := &runtime.RawExtension{Raw: []byte(`{"admin_password":"Aws-Shape-Secret-42"}`)}
	must(t, kc.Create(ctx, &v1beta1.ServiceInstance{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: v1beta1.ServiceInstanceSpec{PlanReference: v1beta1.PlanReference{
			ClusterServiceClassExternalName: "mariadb", ClusterServicePlanExternalName: "default"}, Parameters: params}}))
	var in v1beta1.ServiceInstance
	eventually(t, "the instance is Ready", func() (bool, string) {
		if err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &in); err != nil {
			return false, err.Error()
		}
		if c := condition(in.Status.Conditions, v1beta1.ConditionFailed); c.Status == v1beta1.ConditionTrue {
			t.Fatalf("the instance failed: %s: %s", c.Reason, c.Message)
		}
		ready := condition(in.Status.Conditions, v1beta1.ConditionReady)
		return ready.Status == v1beta1.ConditionTrue, ready.Reason + ": " + ready.Message
	})
	t.Logf("FIGURE aws-shape apply-to-ready=%s", time.Since(began).Round(100*time.Millisecond))
	if in.Status.ProvisionStatus != v1beta1.ProvisionStatusProvisioned || in.Spec.ExternalID == "" {
		t.Errorf("provisionStatus %q, externalID %q", in.Status.ProvisionStatus, in.Spec.ExternalID)
	}

	// Two bindings: mariadb's osb_bind gives each a database user of its own, in its
	// Secret, asynchronously (the controller polls the binding's last_operation).
	secrets := map[string]corev1.Secret{}
	bindingIDs := map[string]string{}
	for _, name := range []string{"app", "app2"} {
		must(t, kc.Create(ctx, &v1beta1.ServiceBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1beta1.ServiceBindingSpec{InstanceRef: v1beta1.LocalObjectReference{Name: "db"}}}))
	}
	for _, name := range []string{"app", "app2"} {
		var sec corev1.Secret
		eventually(t, "the Secret of binding "+name, func() (bool, string) {
			var b v1beta1.ServiceBinding
			if err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &b); err != nil {
				return false, err.Error()
			}
			if c := condition(b.Status.Conditions, v1beta1.ConditionFailed); c.Status == v1beta1.ConditionTrue {
				t.Fatalf("binding %s failed: %s: %s", name, c.Reason, c.Message)
			}
			if b.Status.Binding == nil {
				r := condition(b.Status.Conditions, v1beta1.ConditionReady)
				return false, r.Reason + ": " + r.Message
			}
			bindingIDs[name] = b.Spec.ExternalID
			return kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: b.Status.Binding.Name}, &sec) == nil, "no Secret yet"
		})
		secrets[name] = sec
		if sec.Type != "servicebinding.io/mariadb" || string(sec.Data["provider"]) != "cloudify" || len(sec.Data["host"]) == 0 {
			t.Errorf("Secret of %s: type %q, provider %q, host %q", name, sec.Type, sec.Data["provider"], sec.Data["host"])
		}
		user, pw := string(sec.Data["username"]), string(sec.Data["password"])
		if user == "" || pw == "" || user == "dbadmin" || pw == "Aws-Shape-Secret-42" {
			t.Errorf("Secret of %s: username %q, password empty %v or the instance's admin password %v; want the binding's own user", name, user, pw == "", pw == "Aws-Shape-Secret-42")
		}
		// The broker's copy of the binding (its Cloudify secret) is what the Secret holds.
		code, creds := fetchBinding(t, url, password, in.Spec.ExternalID, bindingIDs[name])
		if code != http.StatusOK || creds["username"] != user || creds["password"] != pw {
			t.Errorf("GET binding %s from the broker: %d, username equal to the Secret's %v, password equal %v", name, code, creds["username"] == user, creds["password"] == pw)
		}
	}
	if a, b := secrets["app"], secrets["app2"]; string(a.Data["username"]) == string(b.Data["username"]) || string(a.Data["password"]) == string(b.Data["password"]) {
		t.Errorf("the two bindings' Secrets have the same username (%v) or password (%v); want a user each",
			string(a.Data["username"]) == string(b.Data["username"]), string(a.Data["password"]) == string(b.Data["password"]))
	}

	for _, name := range []string{"app", "app2"} {
		must(t, kc.Delete(ctx, &v1beta1.ServiceBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}))
		sec := secrets[name]
		eventually(t, "binding "+name+" and its Secret are gone", func() (bool, string) {
			errB := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1beta1.ServiceBinding{})
			errS := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: sec.Name}, &corev1.Secret{})
			return apierrors.IsNotFound(errB) && apierrors.IsNotFound(errS), fmt.Sprintf("binding: %v, secret: %v", errB, errS)
		})
		// Unbound: the broker has no binding (its credentials were revoked and their
		// Cloudify secret deleted).
		if code, _ := fetchBinding(t, url, password, in.Spec.ExternalID, bindingIDs[name]); code != http.StatusNotFound {
			t.Errorf("GET binding %s from the broker after its deletion: %d, want 404", name, code)
		}
	}
	must(t, kc.Delete(ctx, &v1beta1.ServiceInstance{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}}))
	eventually(t, "the instance is deprovisioned and gone", func() (bool, string) {
		var got v1beta1.ServiceInstance
		err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &got)
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("%v %s", err, got.Status.LastConditionState)
	})

	// The broker no longer has the instance: its last_operation is 410 Gone.
	req, _ := http.NewRequest(http.MethodGet, url+"/v2/service_instances/"+in.Spec.ExternalID+"/last_operation", nil)
	req.SetBasicAuth("broker", password)
	req.Header.Set("X-Broker-API-Version", "2.17")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("last_operation of the deprovisioned instance: %d, want 410", resp.StatusCode)
	}
	if strings.Contains(ctrlOut.String(), "Aws-Shape-Secret-42") {
		t.Error("the controller's log holds the instance's password")
	}
	for name, sec := range secrets {
		if pw := string(sec.Data["password"]); pw != "" && (strings.Contains(ctrlOut.String(), pw) || strings.Contains(awsOut.String(), pw)) {
			t.Errorf("the controller's or the AWS shape's log holds the password of binding %s", name)
		}
	}
}

// fetchBinding gets a binding from the broker: the status and the credentials.
func fetchBinding(t *testing.T, url, password, instanceID, bindingID string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/v2/service_instances/"+instanceID+"/service_bindings/"+bindingID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("broker", password)
	req.Header.Set("X-Broker-API-Version", "2.17")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		Credentials map[string]any `json:"credentials"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Fatalf("GET binding %s: %v", bindingID, err)
		}
	}
	return resp.StatusCode, b.Credentials
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
