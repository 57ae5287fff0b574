package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
)

// archivedManifest is a manifest as written for the archived Kubernetes service
// catalog (servicecatalog.k8s.io/v1beta1), with only its apiVersion changed.
const archivedManifest = `apiVersion: servicecatalog.k8s.io/v1beta1
kind: ServiceInstance
metadata:
  name: legacy-db
spec:
  clusterServiceClassExternalName: mariadb
  clusterServicePlanExternalName: default
  parameters:
    admin_password: PASSWORD
    db_name: legacy
---
apiVersion: servicecatalog.k8s.io/v1beta1
kind: ServiceBinding
metadata:
  name: legacy-db-binding
spec:
  instanceRef:
    name: legacy-db
  secretName: legacy-db-credentials
`

// TestArchivedCatalogManifest applies, with kubectl, a service-catalog manifest whose
// only change is its apiVersion: the instance and the binding become Ready and the
// binding's credentials (a user of its own) land in the Secret the manifest names.
func TestArchivedCatalogManifest(t *testing.T) {
	c := begin(t, "legacy")
	pw := "Legacy-" + randSuffix() + randSuffix()
	c.h.addSecret(pw)
	manifest := strings.ReplaceAll(archivedManifest, "servicecatalog.k8s.io/v1beta1", v1beta1.GroupVersion.String())
	manifest = strings.ReplaceAll(manifest, "PASSWORD", pw)
	if strings.Contains(manifest, "servicecatalog.k8s.io") {
		t.Fatal("the manifest still names the archived group")
	}
	path := filepath.Join(t.TempDir(), "legacy.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := c.h.kubectlRun(c.ctx, "apply", "-n", c.ns, "-f", path); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, c.h.redact(string(out)))
	}
	si := &v1beta1.ServiceInstance{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "legacy-db"}}
	si = waitFor(c, si, "Ready=True/ProvisionedSuccessfully", readyInstance("ProvisionedSuccessfully"))
	sb := &v1beta1.ServiceBinding{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "legacy-db-binding"}}
	sb = waitFor(c, sb, "Ready=True/InjectedBindResult", readyBinding)
	figure(t, "kubectl-apply-to-bound", "%.1fs (instance and binding of one manifest)", time.Since(start).Seconds())

	if sb.Status.Binding == nil || sb.Status.Binding.Name != "legacy-db-credentials" {
		t.Errorf("status.binding = %+v, want the manifest's secretName legacy-db-credentials", sb.Status.Binding)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "legacy-db-credentials"}}
	c.get(sec)
	// The binding's own user (mariadb's osb_bind), not the admin the manifest made.
	user, _ := secretString(sec, "username")
	userPw, _ := secretString(sec, "password")
	c.h.addSecret(userPw)
	if user == "" || user == "dbadmin" || userPw == "" || userPw == pw {
		t.Errorf("Secret legacy-db-credentials: username %q, password empty %v or the manifest's admin_password %v; want the binding's own user", user, userPw == "", userPw == pw)
	}
	if found, creds := c.bindingSecret(si.Spec.ExternalID, sb.Spec.ExternalID); !found || creds["username"] != user {
		t.Errorf("Cloudify secret of the binding: found %v, username equal to the Secret's %v", found, creds["username"] == user)
	}
	if got, _ := secretString(sec, "database"); got != "legacy" {
		t.Errorf("Secret legacy-db-credentials: database = %q, want legacy (the manifest's db_name)", got)
	}
}
