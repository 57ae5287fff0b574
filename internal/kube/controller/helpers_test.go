package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
	"github.com/cfybroker/cfybroker/internal/kube/osbclient"
	"github.com/cfybroker/cfybroker/internal/testenv"
)

// These tests call the reconcilers' Reconcile directly, one step at a time, against a
// real API server (`make local-k8s`), with a function-field fake Broker, a fake clock
// and a recording EventRecorder.
//
// The API server is shared: other suites (the end-to-end suite) run a real controller
// against it, which would reconcile this suite's objects too. So the suite writes as
// its own user (impersonation) and installs a ValidatingAdmissionPolicy that refuses
// any other user's writes to its objects (names and namespaces under runPrefix); the
// policy is removed at the end of the run.

// testUser is the user the suite impersonates.
const testUser = "cfybroker:controller-unit-test"

// kubeEnv is the API server the tests share.
type kubeEnv struct {
	c      client.Client // as testUser
	admin  client.Client // as the kubeconfig's user: only for the policy and its probe
	prefix string        // runPrefix: every name this run creates starts with it
}

var (
	envOnce  sync.Once
	theEnv   *kubeEnv
	envSkip  string
	envErr   error
	envClean func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if envClean != nil {
		envClean()
	}
	os.Exit(code)
}

// needKube returns the shared API server, skipping the test (failing in CI) when there
// is none.
func needKube(t *testing.T) *kubeEnv {
	t.Helper()
	envOnce.Do(func() { theEnv, envSkip, envErr = setupKube() })
	if envSkip != "" {
		testenv.SkipOrFail(t, "%s", envSkip)
	}
	if envErr != nil {
		t.Fatalf("API server setup: %v", envErr)
	}
	return theEnv
}

func setupKube() (*kubeEnv, string, error) {
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		return nil, "KUBECONFIG is not set: start a local API server with `make local-k8s` and export the KUBECONFIG it prints", nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Sprintf("KUBECONFIG %s is not usable (%v): start a local API server with `make local-k8s`", kubeconfig, err), nil
	}
	cfg.QPS, cfg.Burst = 100, 200
	scheme, err := NewScheme()
	if err != nil {
		return nil, "", err
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Sprintf("the API server of KUBECONFIG (%s) does not answer (%v): start it with `make local-k8s`", cfg.Host, err), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var nsList corev1.NamespaceList
	if err := admin.List(ctx, &nsList, client.Limit(1)); err != nil {
		return nil, fmt.Sprintf("the API server of KUBECONFIG (%s) does not answer (%v): start it with `make local-k8s`", cfg.Host, err), nil
	}
	if err := applyCRDs(ctx, admin); err != nil {
		return nil, "", err
	}
	imp := rest.CopyConfig(cfg)
	imp.Impersonate = rest.ImpersonationConfig{UserName: testUser, Groups: []string{"system:masters"}}
	c, err := client.New(imp, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", err
	}
	e := &kubeEnv{c: c, admin: admin, prefix: "ctlunit-" + randSuffix() + "-"}
	if err := e.guard(ctx); err != nil {
		return nil, "", err
	}
	return e, "", nil
}

// applyCRDs creates or updates the CRDs of infra/kubernetes/crd and waits until the
// API server serves them.
func applyCRDs(ctx context.Context, c client.Client) error {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "infra", "kubernetes", "crd", "*.yaml"))
	if err != nil {
		return err
	}
	var names []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var want apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(b, &want); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		names = append(names, want.Name)
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var got apiextensionsv1.CustomResourceDefinition
			err := c.Get(ctx, types.NamespacedName{Name: want.Name}, &got)
			if apierrors.IsNotFound(err) {
				obj := want.DeepCopy()
				err = c.Create(ctx, obj)
				if apierrors.IsAlreadyExists(err) {
					return apierrors.NewConflict(apiextensionsv1.Resource("customresourcedefinitions"), want.Name, err)
				}
				return err
			}
			if err != nil {
				return err
			}
			got.Spec = want.Spec
			return c.Update(ctx, &got)
		})
		if err != nil {
			return fmt.Errorf("apply CRD %s: %w", want.Name, err)
		}
	}
	if len(names) == 0 {
		return errors.New("no CRD found under infra/kubernetes/crd")
	}
	for _, name := range names {
		for {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, types.NamespacedName{Name: name}, &crd); err != nil {
				return err
			}
			established := false
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			if established {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// guard installs the policy that keeps other users (another suite's controller) off
// this run's objects, and waits until the API server enforces it.
func (e *kubeEnv) guard(ctx context.Context) error {
	name := strings.TrimSuffix(e.prefix, "-")
	p := e.prefix
	ours := fmt.Sprintf(`request.namespace.startsWith('%[1]s') ||
(request.resource.resource in ['namespaces', 'clusterservicebrokers'] && request.name.startsWith('%[1]s')) ||
(request.resource.resource in ['clusterserviceclasses', 'clusterserviceplans'] &&
  ((object != null && object.spec.clusterServiceBrokerName.startsWith('%[1]s')) ||
   (oldObject != null && oldObject.spec.clusterServiceBrokerName.startsWith('%[1]s'))))`, p)
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{
				{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
					Rule:       admissionv1.Rule{APIGroups: []string{v1beta1.GroupName}, APIVersions: []string{"*"}, Resources: []string{"*/*"}},
				}},
				{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"namespaces", "secrets"}},
				}},
			}},
			Variables: []admissionv1.Variable{{Name: "ours", Expression: ours}},
			Validations: []admissionv1.Validation{{
				Expression: fmt.Sprintf("!variables.ours || request.userInfo.username == '%s'", testUser),
				Message:    "objects of the controller's unit tests (" + p + "*) are written by those tests only",
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	if err := e.admin.Create(ctx, policy); err != nil {
		return fmt.Errorf("create ValidatingAdmissionPolicy %s: %w", name, err)
	}
	envClean = func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = e.admin.Delete(ctx, binding)
		_ = e.admin.Delete(ctx, policy)
	}
	if err := e.admin.Create(ctx, binding); err != nil {
		return fmt.Errorf("create ValidatingAdmissionPolicyBinding %s: %w", name, err)
	}
	// The policy is enforced once the API server's informers have it: until a write
	// as another user is refused.
	probe := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p + "probe"}}
	for {
		err := e.admin.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			if strings.Contains(err.Error(), name) {
				return nil
			}
			return fmt.Errorf("probe of the policy: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the ValidatingAdmissionPolicy %s was never enforced: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestOtherUsersCannotWrite proves the guard: another user (another suite's
// controller) can neither write the status of this run's objects nor delete them.
func TestOtherUsersCannotWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := f.newInstance(nil)
	admin := f.env.admin
	in.Status.LastConditionState = "Foreign"
	if err := admin.Status().Update(f.ctx, in); err == nil {
		t.Errorf("another user updated the status of instance %s", in.Name)
	}
	class := f.class.DeepCopy()
	f.get(class)
	class.Status.RemovedFromBrokerCatalog = true
	if err := admin.Status().Update(f.ctx, class); err == nil {
		t.Errorf("another user updated the status of class %s", class.Name)
	}
	if err := admin.Delete(f.ctx, class); err == nil {
		t.Errorf("another user deleted class %s", class.Name)
	}
	br := &v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: f.brokerName}}
	if err := admin.Delete(f.ctx, br, client.DryRunAll); err == nil {
		t.Errorf("another user deleted broker %s", br.Name)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: f.ns}}
	if err := admin.Create(f.ctx, sec, client.DryRunAll); err == nil {
		t.Errorf("another user created a Secret in namespace %s", f.ns)
	}
}

func randSuffix() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// ---------------------------------------------------------------------------------------
// Fakes

// errUnexpected is what a fake method without an implementation returns.
var errUnexpected = errors.New("unexpected call")

// fakeBroker is a Broker whose methods are function fields; calling one that is not set
// fails the test. Calls lists the methods called, in order.
type fakeBroker struct {
	t     *testing.T
	mu    sync.Mutex
	calls []string

	CatalogFn               func(ctx context.Context) (*osbclient.Catalog, error)
	ProvisionFn             func(ctx context.Context, instanceID string, r *osbclient.ProvisionRequest, id *osbclient.Identity) (*osbclient.Response, error)
	UpdateFn                func(ctx context.Context, instanceID string, r *osbclient.UpdateRequest, id *osbclient.Identity) (*osbclient.Response, error)
	DeprovisionFn           func(ctx context.Context, instanceID, serviceID, planID string, id *osbclient.Identity) (*osbclient.Response, error)
	InstanceLastOperationFn func(ctx context.Context, instanceID string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error)
	BindFn                  func(ctx context.Context, instanceID, bindingID string, r *osbclient.BindRequest, id *osbclient.Identity) (*osbclient.Response, error)
	UnbindFn                func(ctx context.Context, instanceID, bindingID, serviceID, planID string, id *osbclient.Identity) (*osbclient.Response, error)
	BindingLastOperationFn  func(ctx context.Context, instanceID, bindingID string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error)
	GetBindingFn            func(ctx context.Context, instanceID, bindingID string) (map[string]any, error)
}

var _ Broker = (*fakeBroker)(nil)

// call records a call; false means the method has no implementation (the test fails).
func (f *fakeBroker) call(name string, set bool) bool {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
	if !set {
		f.t.Errorf("unexpected call: Broker.%s", name)
	}
	return set
}

// Calls returns the calls so far and forgets them.
func (f *fakeBroker) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeBroker) Catalog(ctx context.Context) (*osbclient.Catalog, error) {
	if !f.call("Catalog", f.CatalogFn != nil) {
		return nil, errUnexpected
	}
	return f.CatalogFn(ctx)
}

func (f *fakeBroker) Provision(ctx context.Context, instanceID string, r *osbclient.ProvisionRequest, id *osbclient.Identity) (*osbclient.Response, error) {
	if !f.call("Provision", f.ProvisionFn != nil) {
		return nil, errUnexpected
	}
	return f.ProvisionFn(ctx, instanceID, r, id)
}

func (f *fakeBroker) Update(ctx context.Context, instanceID string, r *osbclient.UpdateRequest, id *osbclient.Identity) (*osbclient.Response, error) {
	if !f.call("Update", f.UpdateFn != nil) {
		return nil, errUnexpected
	}
	return f.UpdateFn(ctx, instanceID, r, id)
}

func (f *fakeBroker) Deprovision(ctx context.Context, instanceID, serviceID, planID string, id *osbclient.Identity) (*osbclient.Response, error) {
	if !f.call("Deprovision", f.DeprovisionFn != nil) {
		return nil, errUnexpected
	}
	return f.DeprovisionFn(ctx, instanceID, serviceID, planID, id)
}

func (f *fakeBroker) InstanceLastOperation(ctx context.Context, instanceID string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error) {
	if !f.call("InstanceLastOperation", f.InstanceLastOperationFn != nil) {
		return nil, errUnexpected
	}
	return f.InstanceLastOperationFn(ctx, instanceID, r)
}

func (f *fakeBroker) Bind(ctx context.Context, instanceID, bindingID string, r *osbclient.BindRequest, id *osbclient.Identity) (*osbclient.Response, error) {
	if !f.call("Bind", f.BindFn != nil) {
		return nil, errUnexpected
	}
	return f.BindFn(ctx, instanceID, bindingID, r, id)
}

func (f *fakeBroker) Unbind(ctx context.Context, instanceID, bindingID, serviceID, planID string, id *osbclient.Identity) (*osbclient.Response, error) {
	if !f.call("Unbind", f.UnbindFn != nil) {
		return nil, errUnexpected
	}
	return f.UnbindFn(ctx, instanceID, bindingID, serviceID, planID, id)
}

func (f *fakeBroker) BindingLastOperation(ctx context.Context, instanceID, bindingID string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error) {
	if !f.call("BindingLastOperation", f.BindingLastOperationFn != nil) {
		return nil, errUnexpected
	}
	return f.BindingLastOperationFn(ctx, instanceID, bindingID, r)
}

func (f *fakeBroker) GetBinding(ctx context.Context, instanceID, bindingID string) (map[string]any, error) {
	if !f.call("GetBinding", f.GetBindingFn != nil) {
		return nil, errUnexpected
	}
	return f.GetBindingFn(ctx, instanceID, bindingID)
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recordedEvent is one recorded Event.
type recordedEvent struct {
	Object, Type, Reason, Action, Note string
}

// recorder is an EventRecorder that keeps the Events.
type recorder struct {
	mu     sync.Mutex
	events []recordedEvent
}

func (r *recorder) Eventf(regarding runtime.Object, _ runtime.Object, eventtype, reason, action, note string, args ...any) {
	name := ""
	if o, ok := regarding.(client.Object); ok {
		name = o.GetName()
	}
	r.mu.Lock()
	r.events = append(r.events, recordedEvent{Object: name, Type: eventtype, Reason: reason, Action: action, Note: fmt.Sprintf(note, args...)})
	r.mu.Unlock()
}

// reasons returns the reasons of the Events about the named object.
func (r *recorder) reasons(name string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Object == name {
			out = append(out, e.Reason)
		}
	}
	return out
}

func (r *recorder) all() []recordedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedEvent(nil), r.events...)
}

// ---------------------------------------------------------------------------------------
// Fixture

// Poll bounds of the fixtures' reconcilers.
const (
	pollMin = 2 * time.Second
	pollMax = time.Minute
)

// fixture is one test's namespace, broker, class and plan, and reconcilers wired to a
// fake broker, a fake clock and a recorder.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	c      client.Client
	env    *kubeEnv
	ns     string
	clock  *fakeClock
	broker *fakeBroker
	events *recorder
	ids    int

	brokerName string
	class      *v1beta1.ClusterServiceClass
	plan       *v1beta1.ClusterServicePlan

	instances *InstanceReconciler
	bindings  *BindingReconciler
	brokers   *BrokerReconciler

	// errs are the errors the reconcilers returned (checked for leaks too).
	errs []error
	// secrets are values that must never appear outside a spec or a binding Secret.
	secrets []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := needKube(t)
	f := &fixture{
		t: t, ctx: context.Background(), c: env.c, env: env,
		clock:  &fakeClock{now: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)},
		events: &recorder{},
	}
	f.broker = &fakeBroker{t: t}
	suffix := randSuffix()
	f.ns = env.prefix + suffix
	f.brokerName = env.prefix + "broker-" + suffix
	t.Cleanup(f.cleanup)

	f.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}})
	// Nothing listens on port 1: a real client would not get far.
	f.create(&v1beta1.ClusterServiceBroker{
		ObjectMeta: metav1.ObjectMeta{Name: f.brokerName},
		Spec:       v1beta1.ClusterServiceBrokerSpec{URL: "http://127.0.0.1:1"},
	})
	classID, planID := uuid.NewString(), uuid.NewString()
	f.class = &v1beta1.ClusterServiceClass{
		ObjectMeta: metav1.ObjectMeta{Name: classID, Labels: map[string]string{LabelBroker: f.brokerName}},
		Spec: v1beta1.ClusterServiceClassSpec{
			ClusterServiceBrokerName: f.brokerName, ExternalName: "ctlunit-db-" + suffix, ExternalID: classID,
			Bindable: true, Tags: []string{"postgresql", "sql"},
		},
	}
	f.create(f.class)
	f.plan = &v1beta1.ClusterServicePlan{
		ObjectMeta: metav1.ObjectMeta{Name: planID, Labels: map[string]string{LabelBroker: f.brokerName}},
		Spec: v1beta1.ClusterServicePlanSpec{
			ClusterServiceBrokerName: f.brokerName, ExternalName: "small", ExternalID: planID, Free: true,
			ClusterServiceClassRef: v1beta1.ClusterObjectReference{Name: classID},
		},
	}
	f.create(f.plan)

	s := newShared(env.c, env.c, f.events, Options{
		ClusterID: "ctlunit-cluster",
		PollMin:   pollMin, PollMax: pollMax,
		Now: f.clock.Now,
		NewID: func() string {
			f.ids++
			return fmt.Sprintf("ctlunit-id-%d", f.ids)
		},
		NewBroker: func(cfg osbclient.Config) (Broker, error) {
			if cfg.URL != "http://127.0.0.1:1" {
				t.Errorf("NewBroker: URL %q, want the broker's", cfg.URL)
			}
			return f.broker, nil
		},
	})
	f.instances = &InstanceReconciler{s}
	f.bindings = &BindingReconciler{s}
	f.brokers = &BrokerReconciler{s}
	return f
}

func (f *fixture) create(obj client.Object) {
	f.t.Helper()
	if err := f.c.Create(f.ctx, obj); err != nil {
		f.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// get reads obj (by its name and namespace) from the API server.
func (f *fixture) get(obj client.Object) {
	f.t.Helper()
	if err := f.c.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		f.t.Fatalf("get %T %s: %v", obj, obj.GetName(), err)
	}
}

// gone reports whether obj no longer exists.
func (f *fixture) gone(obj client.Object) bool {
	f.t.Helper()
	err := f.c.Get(f.ctx, client.ObjectKeyFromObject(obj), obj)
	if err != nil && !apierrors.IsNotFound(err) {
		f.t.Fatalf("get %T %s: %v", obj, obj.GetName(), err)
	}
	return apierrors.IsNotFound(err)
}

// modify changes the object with mutate and writes it, retrying on conflicts.
func modify[T client.Object](f *fixture, obj T, mutate func(T)) {
	f.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := f.c.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return f.c.Update(f.ctx, obj)
	})
	if err != nil {
		f.t.Fatalf("update %T %s: %v", obj, obj.GetName(), err)
	}
}

func (f *fixture) delete(obj client.Object) {
	f.t.Helper()
	if err := f.c.Delete(f.ctx, obj); err != nil {
		f.t.Fatalf("delete %T %s: %v", obj, obj.GetName(), err)
	}
}

func (f *fixture) reconcileInstance(name string) (ctrl.Result, error) {
	f.t.Helper()
	res, err := f.instances.Reconcile(f.ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: f.ns, Name: name}})
	if err != nil {
		f.errs = append(f.errs, err)
	}
	return res, err
}

func (f *fixture) reconcileBinding(name string) (ctrl.Result, error) {
	f.t.Helper()
	res, err := f.bindings.Reconcile(f.ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: f.ns, Name: name}})
	if err != nil {
		f.errs = append(f.errs, err)
	}
	return res, err
}

func (f *fixture) reconcileBroker() (ctrl.Result, error) {
	f.t.Helper()
	res, err := f.brokers.Reconcile(f.ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: f.brokerName}})
	if err != nil {
		f.errs = append(f.errs, err)
	}
	return res, err
}

// mustInstance, mustBinding and mustBroker run one Reconcile that must not fail.
func (f *fixture) mustInstance(name string) ctrl.Result {
	f.t.Helper()
	res, err := f.reconcileInstance(name)
	if err != nil {
		f.t.Fatalf("Reconcile instance %s: %v", name, err)
	}
	return res
}

func (f *fixture) mustBinding(name string) ctrl.Result {
	f.t.Helper()
	res, err := f.reconcileBinding(name)
	if err != nil {
		f.t.Fatalf("Reconcile binding %s: %v", name, err)
	}
	return res
}

func (f *fixture) mustBroker() ctrl.Result {
	f.t.Helper()
	res, err := f.reconcileBroker()
	if err != nil {
		f.t.Fatalf("Reconcile broker: %v", err)
	}
	return res
}

// newInstance creates an instance of the fixture's class and plan (named by their
// external names) with the given parameters, and reconciles it once (external id and
// finalizer).
func (f *fixture) newInstance(params map[string]any, from ...v1beta1.ParametersFromSource) *v1beta1.ServiceInstance {
	f.t.Helper()
	in := &v1beta1.ServiceInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "inst-" + randSuffix(), Namespace: f.ns},
		Spec: v1beta1.ServiceInstanceSpec{
			PlanReference: v1beta1.PlanReference{
				ClusterServiceClassExternalName: f.class.Spec.ExternalName,
				ClusterServicePlanExternalName:  f.plan.Spec.ExternalName,
			},
			Parameters:     rawParams(f.t, params),
			ParametersFrom: from,
			UserInfo:       &v1beta1.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"dev"}},
		},
	}
	f.create(in)
	f.mustInstance(in.Name)
	f.get(in)
	if in.Spec.ExternalID == "" || len(in.Finalizers) == 0 {
		f.t.Fatalf("after the first Reconcile: externalID %q, finalizers %v; want both set", in.Spec.ExternalID, in.Finalizers)
	}
	return in
}

// provisioned creates an instance and provisions it synchronously (201).
func (f *fixture) provisioned(params map[string]any) *v1beta1.ServiceInstance {
	f.t.Helper()
	in := f.newInstance(params)
	f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 201}, nil
	}
	f.mustInstance(in.Name)
	f.mustInstance(in.Name)
	f.broker.ProvisionFn = nil
	f.get(in)
	wantCondition(f.t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonProvisionedSuccessfully)
	if diff := cmp.Diff([]string{"Provision"}, f.broker.Calls()); diff != "" {
		f.t.Fatalf("broker calls of the provision (-want +got):\n%s", diff)
	}
	return in
}

func rawParams(t *testing.T, params map[string]any) *runtime.RawExtension {
	t.Helper()
	if params == nil {
		return nil
	}
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return &runtime.RawExtension{Raw: b}
}

// cond is the part of a condition a test asserts.
type cond struct {
	Status v1beta1.ConditionStatus
	Reason string
}

// wantCondition checks the status and reason of the condition of type typ.
func wantCondition(t *testing.T, conds []v1beta1.Condition, typ v1beta1.ConditionType, status v1beta1.ConditionStatus, reason string) *v1beta1.Condition {
	t.Helper()
	c := condition(conds, typ)
	got := cond{}
	if c != nil {
		got = cond{Status: c.Status, Reason: c.Reason}
	}
	if diff := cmp.Diff(cond{Status: status, Reason: reason}, got); diff != "" {
		t.Errorf("condition %s (-want +got):\n%s\nall conditions: %+v", typ, diff, conds)
	}
	if c == nil {
		return &v1beta1.Condition{}
	}
	return c
}

// wantNotTrue checks that the condition of type typ is absent or not True.
func wantNotTrue(t *testing.T, conds []v1beta1.Condition, typ v1beta1.ConditionType) {
	t.Helper()
	if conditionTrue(conds, typ) {
		t.Errorf("condition %s is True, want it absent or False: %+v", typ, conds)
	}
}

// wantCalls checks (and forgets) the broker calls since the last check.
func (f *fixture) wantCalls(want ...string) {
	f.t.Helper()
	if diff := cmp.Diff(want, f.broker.Calls()); diff != "" {
		f.t.Errorf("broker calls (-want +got):\n%s", diff)
	}
}

// noLeak checks that no status of the fixture's objects, no Event and no error the
// reconcilers returned holds any of the secret values.
func (f *fixture) noLeak(secrets ...string) {
	f.t.Helper()
	var texts []string
	var insts v1beta1.ServiceInstanceList
	var binds v1beta1.ServiceBindingList
	if err := f.c.List(f.ctx, &insts, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.List(f.ctx, &binds, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	for _, in := range insts.Items {
		b, _ := json.Marshal(in.Status)
		texts = append(texts, "status of instance "+in.Name+": "+string(b))
	}
	for _, bd := range binds.Items {
		b, _ := json.Marshal(bd.Status)
		texts = append(texts, "status of binding "+bd.Name+": "+string(b))
	}
	var br v1beta1.ClusterServiceBroker
	if err := f.c.Get(f.ctx, types.NamespacedName{Name: f.brokerName}, &br); err == nil {
		b, _ := json.Marshal(br.Status)
		texts = append(texts, "status of broker: "+string(b))
	}
	for _, e := range f.events.all() {
		texts = append(texts, fmt.Sprintf("event %s %s: %s", e.Object, e.Reason, e.Note))
	}
	for _, err := range f.errs {
		texts = append(texts, "Reconcile error: "+err.Error())
	}
	for _, s := range append(secrets, f.secrets...) {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				f.t.Errorf("secret value %q leaked into the %s", s, txt)
			}
		}
	}
}

// cleanup deletes what the fixture created, stripping finalizers: a failed test leaves
// nothing that a controller would have to finish.
func (f *fixture) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := f.c
	strip := func(obj client.Object) {
		if len(obj.GetFinalizers()) > 0 {
			_ = c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		}
		_ = c.Delete(ctx, obj)
	}
	var binds v1beta1.ServiceBindingList
	if c.List(ctx, &binds, client.InNamespace(f.ns)) == nil {
		for i := range binds.Items {
			strip(&binds.Items[i])
		}
	}
	var insts v1beta1.ServiceInstanceList
	if c.List(ctx, &insts, client.InNamespace(f.ns)) == nil {
		for i := range insts.Items {
			strip(&insts.Items[i])
		}
	}
	var secs corev1.SecretList
	if c.List(ctx, &secs, client.InNamespace(f.ns)) == nil {
		for i := range secs.Items {
			strip(&secs.Items[i])
		}
	}
	var plans v1beta1.ClusterServicePlanList
	if c.List(ctx, &plans, client.MatchingLabels{LabelBroker: f.brokerName}) == nil {
		for i := range plans.Items {
			strip(&plans.Items[i])
		}
	}
	var classes v1beta1.ClusterServiceClassList
	if c.List(ctx, &classes, client.MatchingLabels{LabelBroker: f.brokerName}) == nil {
		for i := range classes.Items {
			strip(&classes.Items[i])
		}
	}
	strip(&v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: f.brokerName, Finalizers: []string{BrokerFinalizer}}})
	// A bare API server has no namespace controller: empty the namespace's finalizers
	// so that the deletion completes.
	ns := &corev1.Namespace{}
	if c.Get(ctx, types.NamespacedName{Name: f.ns}, ns) == nil {
		_ = c.Delete(ctx, ns)
		if c.Get(ctx, types.NamespacedName{Name: f.ns}, ns) == nil {
			ns.Spec.Finalizers = nil
			_ = c.SubResource("finalize").Update(ctx, ns)
		}
	}
}
