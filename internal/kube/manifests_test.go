package kube_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/cfybroker/cfybroker/internal/testenv"
)

// The manifests under infra/kubernetes, rendered with kustomize (the one built into
// kubectl) and checked twice: offline, for what the project promises of them (least
// privilege, the restricted pod security profile, no Secret with values, the serve
// flags and probes); and against a real API server with kubectl apply
// --dry-run=server, which runs the server's schema validation, defaulting and
// admission (Pod Security included) without creating anything.

const (
	namespace     = "cfybroker-system"
	controllerSA  = "system:serviceaccount:" + namespace + ":cfybroker-controller"
	fieldManager  = "cfybroker-manifests-test"
	credentials   = "cfybroker-credentials"
	manifestsPath = "infra/kubernetes"
)

// object is one rendered manifest.
type object map[string]any

func (o object) kind() string { return str(o, "kind") }
func (o object) name() string { return str(o, "metadata", "name") }
func (o object) id() string   { return o.kind() + "/" + o.name() }

// get walks o along path (map keys, or ints for list indexes) and returns nil when
// any step is missing.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				if o, isObj := v.(object); isObj {
					m, ok = o, true
				}
			}
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }

func list(v any, path ...any) []any { l, _ := get(v, path...).([]any); return l }

func strs(v any, path ...any) []string {
	var out []string
	for _, x := range list(v, path...) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// kubectl runs kubectl with stdin and returns stdout and stderr.
func kubectl(t *testing.T, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func mustKubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, errOut, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// crdFiles returns the files crd/kustomization.yaml lists, split into those that
// exist and those that do not.
func crdFiles(t *testing.T, dir string) (present, missing []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "crd", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	for _, f := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, "crd", f)); err == nil {
			present = append(present, f)
		} else {
			missing = append(missing, f)
		}
	}
	return present, missing
}

// render builds the kustomization. CRD files that crd/kustomization.yaml lists but
// that are not generated yet fail the test in CI; locally the rest is rendered from
// a copy that leaves them out, so the other manifests are still checked.
func render(t *testing.T) []byte {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		testenv.SkipOrFail(t, "kubectl not found: `make local-k8s` installs it (Debian's kubernetes-client)")
	}
	dir := filepath.Join(repoRoot(t), manifestsPath)
	present, missing := crdFiles(t, dir)
	entries, err := os.ReadDir(filepath.Join(dir, "crd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != "kustomization.yaml" && strings.HasSuffix(n, ".yaml") && !slices.Contains(present, n) {
			t.Errorf("crd/%s is not listed in crd/kustomization.yaml", n)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("CRDs listed in crd/kustomization.yaml but not generated: %v (make generate)", missing)
		if testenv.InCI() {
			t.Error(msg)
		} else {
			t.Log(msg + "; checking the other manifests")
		}
		dir = filepath.Join(t.TempDir(), "kubernetes")
		copyDir(t, filepath.Join(repoRoot(t), manifestsPath), dir)
		k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [" + strings.Join(present, ", ") + "]\n"
		if err := os.WriteFile(filepath.Join(dir, "crd", "kustomization.yaml"), []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []byte(mustKubectl(t, nil, "kustomize", dir))
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// decode splits a multi-document YAML stream.
func decode(t *testing.T, stream []byte) []object {
	t.Helper()
	var out []object
	dec := yaml.NewDecoder(bytes.NewReader(stream))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode rendered manifests: %v", err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
}

func find(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			return o
		}
	}
	t.Fatalf("no %s/%s in the rendered manifests", kind, name)
	return nil
}

// rule is one RBAC rule, flattened for comparison.
type rule struct {
	Group, Resource string
	Verbs           string
}

func rules(o object) []rule {
	var out []rule
	for _, r := range list(o, "rules") {
		verbs := strs(r, "verbs")
		slices.Sort(verbs)
		for _, g := range strs(r, "apiGroups") {
			for _, res := range strs(r, "resources") {
				out = append(out, rule{g, res, strings.Join(verbs, ",")})
			}
		}
	}
	slices.SortFunc(out, func(a, b rule) int { return strings.Compare(a.Group+"/"+a.Resource, b.Group+"/"+b.Resource) })
	return out
}

func TestManifests(t *testing.T) {
	stream := render(t)
	objs := decode(t, stream)

	t.Run("offline", func(t *testing.T) { checkOffline(t, objs) })
	t.Run("dry-run=server", func(t *testing.T) { checkDryRun(t, stream, objs) })
}

func checkOffline(t *testing.T, objs []object) {
	clusterScoped := map[string]bool{"Namespace": true, "CustomResourceDefinition": true, "ClusterRole": true, "ClusterRoleBinding": true}
	for _, o := range objs {
		if o.kind() == "Secret" {
			t.Errorf("%s: no Secret belongs in the manifests (README: kubectl create secret generic)", o.id())
		}
		ns := str(o, "metadata", "namespace")
		if clusterScoped[o.kind()] != (ns == "") || !clusterScoped[o.kind()] && ns != namespace {
			t.Errorf("%s: namespace %q, want %q for namespaced kinds and none for cluster-scoped ones", o.id(), ns, namespace)
		}
	}

	// The controller's least privilege: exactly these rules, nothing else.
	const sc = "servicecatalog.cfybroker.io"
	var want []rule
	for _, r := range []string{"clusterservicebrokers", "serviceinstances", "servicebindings"} {
		want = append(want, rule{sc, r, "get,list,patch,update,watch"})
	}
	for _, r := range []string{"clusterserviceclasses", "clusterserviceplans"} {
		want = append(want, rule{sc, r, "create,delete,get,list,patch,update,watch"})
	}
	for _, r := range []string{"clusterservicebrokers", "clusterserviceclasses", "clusterserviceplans", "serviceinstances", "servicebindings"} {
		want = append(want, rule{sc, r + "/status", "get,patch,update"}, rule{sc, r + "/finalizers", "update"})
	}
	want = append(want,
		rule{"", "secrets", "create,delete,get,list,patch,update,watch"},
		rule{"", "events", "create,patch"},
		rule{"events.k8s.io", "events", "create,patch"},
		rule{"", "namespaces", "get"},
	)
	slices.SortFunc(want, func(a, b rule) int { return strings.Compare(a.Group+"/"+a.Resource, b.Group+"/"+b.Resource) })
	if diff := cmp.Diff(want, rules(find(t, objs, "ClusterRole", "cfybroker-controller"))); diff != "" {
		t.Errorf("ClusterRole cfybroker-controller rules (-want +got):\n%s", diff)
	}
	leases := []rule{{"coordination.k8s.io", "leases", "create,delete,get,list,patch,update,watch"}}
	if diff := cmp.Diff(leases, rules(find(t, objs, "Role", "cfybroker-controller-leader-election"))); diff != "" {
		t.Errorf("leader election Role rules (-want +got):\n%s", diff)
	}
	for _, b := range []object{find(t, objs, "ClusterRoleBinding", "cfybroker-controller"), find(t, objs, "RoleBinding", "cfybroker-controller-leader-election")} {
		if s := list(b, "subjects"); len(s) != 1 || str(s[0], "name") != "cfybroker-controller" || str(s[0], "namespace") != namespace {
			t.Errorf("%s subjects = %v, want the controller's ServiceAccount alone", b.id(), s)
		}
	}

	// Both workloads: the restricted profile and the probes.
	dep := find(t, objs, "Deployment", "cfybroker-controller")
	sts := find(t, objs, "StatefulSet", "cfybroker")
	for _, w := range []object{dep, sts} {
		pod := get(w, "spec", "template", "spec")
		if get(pod, "securityContext", "runAsNonRoot") != true || str(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
			t.Errorf("%s: pod securityContext %v, want runAsNonRoot and seccomp RuntimeDefault", w.id(), get(pod, "securityContext"))
		}
		for _, c := range list(pod, "containers") {
			csc := get(c, "securityContext")
			if get(csc, "readOnlyRootFilesystem") != true || get(csc, "allowPrivilegeEscalation") != false ||
				!slices.Equal(strs(csc, "capabilities", "drop"), []string{"ALL"}) {
				t.Errorf("%s container %s: securityContext %v, want readOnlyRootFilesystem, no privilege escalation, drop ALL", w.id(), str(c, "name"), csc)
			}
			if img := str(c, "image"); img != "cfybroker:dev" {
				t.Errorf("%s container %s: image %q, want cfybroker:dev (set by the kustomization)", w.id(), str(c, "name"), img)
			}
		}
	}
	if r, _ := get(dep, "spec", "replicas").(int); r != 2 {
		t.Errorf("controller replicas = %v, want 2", get(dep, "spec", "replicas"))
	}
	ctr := get(dep, "spec", "template", "spec", "containers", 0)
	if got, want := strs(ctr, "args"), []string{"controller", "--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081"}; !slices.Equal(got, want) {
		t.Errorf("controller args = %v, want %v", got, want)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if str(ctr, probe, "httpGet", "path") != path || str(ctr, probe, "httpGet", "port") != "health" {
			t.Errorf("controller %s = %v, want GET %s on the health port (8081)", probe, get(ctr, probe), path)
		}
	}
	if str(dep, "spec", "template", "spec", "serviceAccountName") != "cfybroker-controller" {
		t.Errorf("controller runs as %q, want the cfybroker-controller ServiceAccount", str(dep, "spec", "template", "spec", "serviceAccountName"))
	}

	// The broker: serve's flags, its state on the claimed volume, credentials from the Secret.
	pod := get(sts, "spec", "template", "spec")
	b := get(pod, "containers", 0)
	if got, want := strs(b, "args")[:4], []string{"serve", "--listen=0.0.0.0:8080", "--metrics-listen=0.0.0.0:9090", "--data-dir=/var/lib/cfybroker"}; !slices.Equal(got, want) {
		t.Errorf("broker args = %v, want %v first", got, want)
	}
	if str(b, "volumeMounts", 0, "name") != "data" || str(b, "volumeMounts", 0, "mountPath") != "/var/lib/cfybroker" ||
		str(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name") != "data" {
		t.Errorf("broker state: mounts %v, claims %v; want the claim template data at /var/lib/cfybroker", get(b, "volumeMounts"), get(sts, "spec", "volumeClaimTemplates"))
	}
	required := map[string]bool{}
	for _, e := range list(b, "env") {
		name := str(e, "name")
		ref := get(e, "valueFrom", "secretKeyRef")
		if ref == nil || str(ref, "name") != credentials || str(ref, "key") != name {
			t.Errorf("broker env %s = %v, want the key %s of Secret %s", name, get(e, "valueFrom"), name, credentials)
		}
		if opt, _ := get(ref, "optional").(bool); !opt {
			required[name] = true
		}
		if str(e, "value") != "" {
			t.Errorf("broker env %s has a literal value", name)
		}
	}
	for _, name := range []string{"CFYBROKER_USERNAME", "CFYBROKER_PASSWORD", "CLOUDIFY_URL"} {
		if !required[name] {
			t.Errorf("broker env %s: want it required from the Secret", name)
		}
	}
	for probe, path := range map[string]string{"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if str(b, probe, "httpGet", "path") != path || str(b, probe, "httpGet", "port") != "osb" {
			t.Errorf("broker %s = %v, want GET %s on the osb port", probe, get(b, probe), path)
		}
	}
	svc := find(t, objs, "Service", "cfybroker")
	var ports []string
	for _, p := range list(svc, "spec", "ports") {
		ports = append(ports, fmt.Sprintf("%s:%v", str(p, "name"), get(p, "port")))
	}
	if want := []string{"osb:8080", "metrics:9090"}; !slices.Equal(ports, want) {
		t.Errorf("broker Service ports = %v, want %v", ports, want)
	}
}

// checkDryRun applies the CRDs and the namespace for real (custom objects cannot be
// dry-run without their CRD, nor namespaced ones without their namespace; neither is
// ever deleted, so other tests on the same server keep working), then everything with
// --dry-run=server; and it asks the server what the controller's ServiceAccount may do
// once its RBAC is in place.
func checkDryRun(t *testing.T, stream []byte, objs []object) {
	if os.Getenv("KUBECONFIG") == "" {
		testenv.SkipOrFail(t, "KUBECONFIG is not set: start a local API server with `make local-k8s` and export the KUBECONFIG it prints")
	}
	if _, errOut, err := kubectl(t, nil, "get", "--raw", "/readyz", "--request-timeout=10s"); err != nil {
		testenv.SkipOrFail(t, "the API server in KUBECONFIG does not answer (%v: %s); start one with `make local-k8s`", err, strings.TrimSpace(errOut))
	}

	var real bytes.Buffer
	var crds []string
	for _, o := range objs {
		if k := o.kind(); k == "CustomResourceDefinition" || k == "Namespace" {
			b, err := yaml.Marshal(map[string]any(o))
			if err != nil {
				t.Fatal(err)
			}
			real.WriteString("---\n")
			real.Write(b)
			if k == "CustomResourceDefinition" {
				crds = append(crds, "crd/"+o.name())
			}
		}
	}
	mustKubectl(t, real.Bytes(), "apply", "--server-side", "--force-conflicts", "--field-manager="+fieldManager, "-f", "-")
	if len(crds) > 0 {
		mustKubectl(t, nil, append([]string{"wait", "--for=condition=Established", "--timeout=120s"}, crds...)...)
	}

	out, errOut, err := kubectl(t, stream, "apply", "--server-side", "--dry-run=server", "--field-manager="+fieldManager, "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s%s", err, out, errOut)
	}
	// One line per object: "<kind>[.<group>]/<name> created|configured|unchanged (server dry run)".
	for _, o := range objs {
		reported := false
		for _, line := range strings.Split(out, "\n") {
			res, rest, _ := strings.Cut(line, "/")
			if strings.Split(res, ".")[0] == strings.ToLower(o.kind()) && strings.HasPrefix(rest, o.name()+" ") && strings.HasSuffix(line, "(server dry run)") {
				reported = true
			}
		}
		if !reported {
			t.Errorf("the dry run did not report %s:\n%s", o.id(), out)
		}
	}
	// Warnings fail too: a workload that breaks the namespace's restricted Pod Security
	// profile ("would violate PodSecurity"), a deprecated API, an unknown field.
	if strings.Contains(errOut, "Warning") {
		t.Errorf("the dry run warns:\n%s", errOut)
	}
	t.Logf("dry run:\n%s%s", out, errOut)

	t.Run("rbac", func(t *testing.T) { checkRBAC(t, objs) })
}

// checkRBAC applies the controller's ServiceAccount and RBAC for real (removing them
// afterwards) and asks the API server's authorizer what the ServiceAccount may do.
func checkRBAC(t *testing.T, objs []object) {
	var rbac bytes.Buffer
	kinds := map[string]bool{"ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true}
	var names []string
	for _, o := range objs {
		if kinds[o.kind()] && strings.HasPrefix(o.name(), "cfybroker-controller") {
			b, err := yaml.Marshal(map[string]any(o))
			if err != nil {
				t.Fatal(err)
			}
			rbac.WriteString("---\n")
			rbac.Write(b)
			names = append(names, o.id())
		}
	}
	mustKubectl(t, rbac.Bytes(), "apply", "--server-side", "--force-conflicts", "--field-manager="+fieldManager, "-f", "-")
	t.Cleanup(func() {
		_, _, _ = kubectl(t, rbac.Bytes(), "delete", "--ignore-not-found", "--wait=false", "-f", "-")
	})
	t.Logf("applied for the check: %v", names)

	const sc = "servicecatalog.cfybroker.io"
	tests := []struct {
		verb, group, resource, sub, ns string
		want                           bool
	}{
		{"watch", sc, "serviceinstances", "", "default", true},
		{"patch", sc, "serviceinstances", "status", "default", true},
		{"update", sc, "servicebindings", "finalizers", "team-a", true},
		{"create", sc, "clusterserviceplans", "", "", true},
		{"delete", sc, "clusterserviceclasses", "", "", true},
		{"create", "", "secrets", "", "team-a", true},
		{"create", "", "events", "", "team-a", true},
		{"create", "events.k8s.io", "events", "", "team-a", true},
		{"get", "", "namespaces", "", "", true},
		{"create", "coordination.k8s.io", "leases", "", namespace, true},
		// What it must not do.
		{"create", sc, "serviceinstances", "", "default", false},
		{"delete", sc, "servicebindings", "", "default", false},
		{"delete", sc, "clusterservicebrokers", "", "", false},
		{"update", sc, "serviceinstances", "finalizers-not", "default", false},
		{"list", "", "namespaces", "", "", false},
		{"get", "", "configmaps", "", namespace, false},
		{"create", "", "pods", "", namespace, false},
		{"create", "coordination.k8s.io", "leases", "", "default", false},
		{"get", "", "events", "", "team-a", false},
		{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", false},
		{"*", "*", "*", "", "", false},
	}
	for _, tt := range tests {
		if got := allowed(t, tt.verb, tt.group, tt.resource, tt.sub, tt.ns); got != tt.want {
			t.Errorf("may the controller %s %s/%s (%s) in %q? %v, want %v", tt.verb, tt.group, tt.resource, tt.sub, tt.ns, got, tt.want)
		}
	}
}

// allowed asks the API server's authorizer with a SubjectAccessReview whether the
// controller's ServiceAccount may do verb (it works before the CRDs exist, unlike
// kubectl auth can-i, which resolves resource names through discovery).
func allowed(t *testing.T, verb, group, resource, sub, ns string) bool {
	t.Helper()
	sar := map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SubjectAccessReview",
		"spec": map[string]any{
			"user":   controllerSA,
			"groups": []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
			"resourceAttributes": map[string]any{
				"verb": verb, "group": group, "resource": resource, "subresource": sub, "namespace": ns,
			},
		},
	}
	b, err := yaml.Marshal(sar)
	if err != nil {
		t.Fatal(err)
	}
	out := mustKubectl(t, b, "create", "-f", "-", "-o", "jsonpath={.status.allowed}")
	return strings.TrimSpace(out) == "true"
}
