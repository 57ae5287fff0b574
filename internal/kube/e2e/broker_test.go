package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
)

// TestBrokerCatalog checks that the shared broker's registration read the catalog and
// made one ClusterServiceClass per service and one ClusterServicePlan per plan, with
// the catalog's fields, and that kubectl lists them.
func TestBrokerCatalog(t *testing.T) {
	c := begin(t, "catalog")
	h := c.h

	b := &v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: brokerName}}
	c.get(b)
	if !isCond(b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, "FetchedCatalog") {
		t.Errorf("broker %s: %s, want Ready=True/FetchedCatalog\n%s", brokerName, condString(b.Status.Conditions, v1beta1.ConditionReady), h.describe(b))
	}
	if b.Status.LastCatalogRetrievalTime == nil {
		t.Errorf("broker %s: status.lastCatalogRetrievalTime not set", brokerName)
	}

	type classView struct {
		Broker, ExternalName, ExternalID, Description string
		Bindable, BindingRetrievable, PlanUpdatable   bool
		Tags                                          []string
	}
	type planView struct {
		Broker, ExternalName, ExternalID, Description, Class string
		Free                                                 bool
		CreateSchema                                         any
	}
	var classes v1beta1.ClusterServiceClassList
	if err := h.kube.List(c.ctx, &classes); err != nil {
		t.Fatal(err)
	}
	gotClasses := map[string]classView{}
	for _, cl := range classes.Items {
		if cl.Spec.ClusterServiceBrokerName != brokerName {
			continue
		}
		s := cl.Spec
		gotClasses[cl.Name] = classView{s.ClusterServiceBrokerName, s.ExternalName, s.ExternalID, s.Description, s.Bindable, s.BindingRetrievable, s.PlanUpdatable, s.Tags}
	}
	var plans v1beta1.ClusterServicePlanList
	if err := h.kube.List(c.ctx, &plans); err != nil {
		t.Fatal(err)
	}
	gotPlans := map[string]planView{}
	for _, pl := range plans.Items {
		if pl.Spec.ClusterServiceBrokerName != brokerName {
			continue
		}
		s := pl.Spec
		gotPlans[pl.Name] = planView{s.ClusterServiceBrokerName, s.ExternalName, s.ExternalID, s.Description, s.ClusterServiceClassRef.Name, s.Free, rawToAny(t, s.InstanceCreateParameterSchema)}
	}

	wantClasses := map[string]classView{}
	wantPlans := map[string]planView{}
	for _, svc := range h.catalog.Services {
		wantClasses[svc.ID] = classView{brokerName, svc.Name, svc.ID, svc.Description, svc.Bindable, svc.BindingsRetrievable, svc.PlanUpdateable, svc.Tags}
		for _, p := range svc.Plans {
			free := p.Free == nil || *p.Free
			var schema any
			if len(p.Schemas.ServiceInstance.Create.Parameters) > 0 {
				if err := json.Unmarshal(p.Schemas.ServiceInstance.Create.Parameters, &schema); err != nil {
					t.Fatal(err)
				}
			}
			wantPlans[p.ID] = planView{brokerName, p.Name, p.ID, p.Description, svc.ID, free, schema}
		}
	}
	if len(wantClasses) == 0 || len(wantPlans) == 0 {
		t.Fatalf("the broker's catalog is empty: %+v", h.catalog)
	}
	if diff := cmp.Diff(wantClasses, gotClasses, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ClusterServiceClasses of broker %s (-want from GET /v2/catalog, +got):\n%s", brokerName, diff)
	}
	if diff := cmp.Diff(wantPlans, gotPlans, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ClusterServicePlans of broker %s (-want from GET /v2/catalog, +got):\n%s", brokerName, diff)
	}

	out, err := h.kubectlRun(c.ctx, "get", "clusterserviceclasses,clusterserviceplans")
	if err != nil {
		t.Fatalf("kubectl get clusterserviceclasses,clusterserviceplans: %v\n%s", err, out)
	}
	mariadb := h.service(t, mariadbClass)
	for _, want := range []string{mariadb.ID, mariadbClass, mariadb.Plans[0].ID} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl get clusterserviceclasses,clusterserviceplans: no %q in\n%s", want, out)
		}
	}
}

// TestBrokerWrongPassword registers the broker with a wrong password: not Ready,
// ErrorFetchingCatalog with the 401 in the message, and no classes.
func TestBrokerWrongPassword(t *testing.T) {
	c := begin(t, "badpw")
	name := c.registerBroker("badpw", c.h.brokerURL, brokerUser, "not-the-password")
	b := waitFor(c, &v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: name}}, "Ready=False/ErrorFetchingCatalog",
		func(b *v1beta1.ClusterServiceBroker) bool {
			return isCond(b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, "ErrorFetchingCatalog")
		})
	if cond, _ := condOf(b.Status.Conditions, v1beta1.ConditionReady); !strings.Contains(cond.Message, "401") {
		t.Errorf("Ready message = %q, want it to contain 401", cond.Message)
	}
	if b.Status.LastCatalogRetrievalTime != nil {
		t.Errorf("lastCatalogRetrievalTime = %v, want unset for a broker never read", b.Status.LastCatalogRetrievalTime)
	}
	c.expectNoClasses(name)
}

// TestBrokerUnreachable registers a broker URL where nothing listens.
func TestBrokerUnreachable(t *testing.T) {
	c := begin(t, "unreach")
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	name := c.registerBroker("unreach", "http://"+addr, brokerUser, c.h.brokerPass)
	b := waitFor(c, &v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: name}}, "Ready=False/ErrorFetchingCatalog",
		func(b *v1beta1.ClusterServiceBroker) bool {
			return isCond(b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, "ErrorFetchingCatalog")
		})
	cond, _ := condOf(b.Status.Conditions, v1beta1.ConditionReady)
	t.Logf("Ready message for an unreachable broker: %q", c.h.redact(cond.Message))
	c.expectNoClasses(name)
}

// TestBrokerRelist bumps relistRequests of the shared broker: the catalog is read
// again.
func TestBrokerRelist(t *testing.T) {
	c := begin(t, "relist")
	b := &v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: brokerName}}
	c.get(b)
	if b.Status.LastCatalogRetrievalTime == nil {
		t.Fatalf("broker %s was never read:\n%s", brokerName, c.h.describe(b))
	}
	before := b.Status.LastCatalogRetrievalTime.Time
	reads := c.h.catalogReads()
	// The time is kept to the second: make sure the next read happens in a later one.
	time.Sleep(time.Until(before.Add(1100 * time.Millisecond)))
	want := b.Spec.RelistRequests + 1
	if err := update(c, b, func(b *v1beta1.ClusterServiceBroker) { b.Spec.RelistRequests = want }); err != nil {
		t.Fatalf("bump relistRequests: %v", err)
	}
	b = waitFor(c, b, "lastCatalogRetrievalTime to advance", func(b *v1beta1.ClusterServiceBroker) bool {
		return b.Status.LastCatalogRetrievalTime != nil && b.Status.LastCatalogRetrievalTime.After(before)
	})
	if b.Status.ObservedRelistRequests != want {
		t.Errorf("observedRelistRequests = %d, want %d", b.Status.ObservedRelistRequests, want)
	}
	if !isCond(b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, "FetchedCatalog") {
		t.Errorf("after the relist: %s, want Ready=True/FetchedCatalog", condString(b.Status.Conditions, v1beta1.ConditionReady))
	}
	if got := c.h.catalogReads(); got <= reads {
		t.Errorf("the broker logged %d successful catalog reads before the bump and %d after: want more", reads, got)
	}
}

// registerBroker registers a ClusterServiceBroker e2e-<short>-<random> with Basic
// credentials in a Secret of the test's namespace; it is deleted at the end.
func (c *tcase) registerBroker(short, url, user, pass string) string {
	c.t.Helper()
	name := brokerName + "-" + short + "-" + randSuffix()
	s := c.secret(name+"-auth", map[string]string{"username": user, "password": pass})
	b := &v1beta1.ClusterServiceBroker{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.ClusterServiceBrokerSpec{
			URL: url,
			AuthInfo: &v1beta1.ClusterServiceBrokerAuthInfo{Basic: &v1beta1.ClusterBasicAuthConfig{
				SecretRef: &v1beta1.ObjectReference{Namespace: s.Namespace, Name: s.Name},
			}},
		},
	}
	c.create(b)
	c.t.Cleanup(func() {
		_ = c.h.kube.Delete(c.ctx, b)
		err := waitUntil(c.ctx, time.Minute, func() bool {
			return apierrors.IsNotFound(c.h.kube.Get(c.ctx, client.ObjectKeyFromObject(b), b))
		}, nil)
		if err != nil {
			c.t.Logf("broker %s not gone after its deletion (%v); stripping its finalizers", name, err)
			c.h.forceDelete(c.ctx, b)
		}
	})
	return name
}

// expectNoClasses checks that no class or plan names the broker.
func (c *tcase) expectNoClasses(broker string) {
	c.t.Helper()
	var classes v1beta1.ClusterServiceClassList
	if err := c.h.kube.List(c.ctx, &classes); err != nil {
		c.t.Fatal(err)
	}
	for _, cl := range classes.Items {
		if cl.Spec.ClusterServiceBrokerName == broker {
			c.t.Errorf("class %s (%s) belongs to broker %s, whose catalog was never read", cl.Name, cl.Spec.ExternalName, broker)
		}
	}
	var plans v1beta1.ClusterServicePlanList
	if err := c.h.kube.List(c.ctx, &plans); err != nil {
		c.t.Fatal(err)
	}
	for _, pl := range plans.Items {
		if pl.Spec.ClusterServiceBrokerName == broker {
			c.t.Errorf("plan %s (%s) belongs to broker %s, whose catalog was never read", pl.Name, pl.Spec.ExternalName, broker)
		}
	}
}

// rawToAny decodes a RawExtension's JSON (nil stays nil).
func rawToAny(t *testing.T, r *runtime.RawExtension) any {
	t.Helper()
	if r == nil || len(r.Raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		t.Fatalf("raw JSON: %v", err)
	}
	return v
}

// secretString reads a Secret entry.
func secretString(s *corev1.Secret, key string) (string, bool) {
	v, ok := s.Data[key]
	return string(v), ok
}
