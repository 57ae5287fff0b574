package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
	"github.com/cfybroker/cfybroker/internal/testenv"
)

// The demo catalog's service and plan used by most tests (the simulator's sample
// blueprints: internal/cloudify/cloudifysim/blueprints).
const (
	mariadbClass  = "mariadb"
	failingClass  = "failing-install"
	defaultPlan   = "default"
	mariadbDBPort = "3306" // x-sim runtime attribute of db_lb in mariadb.json
)

// need returns the harness, or skips (fails in CI) when the environment is missing.
func need(t *testing.T) *harness {
	t.Helper()
	envOnce.Do(setupEnv)
	if skipReason != "" {
		if testenv.InCI() && !skipAlways {
			t.Fatal(skipReason)
		}
		t.Skip(skipReason)
	}
	if setupErr != nil {
		t.Fatalf("the harness did not start: %v", setupErr)
	}
	return env
}

// tcase is one test with its own namespace.
type tcase struct {
	t   *testing.T
	h   *harness
	ns  string
	ctx context.Context
}

// begin creates the test's namespace e2e-<short>-<random>. At the end it prints the
// logs' tails if the test failed, then deletes the test's bindings and instances and
// waits for them to go (stripping their finalizers if the controller does not finish).
func begin(t *testing.T, short string) *tcase {
	t.Helper()
	h := need(t)
	c := &tcase{t: t, h: h, ns: "e2e-" + short + "-" + randSuffix(), ctx: context.Background()}
	if err := h.kube.Create(c.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.ns}}); err != nil {
		t.Fatalf("namespace %s: %v", c.ns, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b strings.Builder
			h.dumpLogs(&b)
			t.Log(b.String())
		}
		c.cleanup()
	})
	return c
}

// cleanup deletes the namespace's bindings, then its instances.
func (c *tcase) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	defer cancel()
	var bindings v1beta1.ServiceBindingList
	if err := c.h.kube.List(ctx, &bindings, client.InNamespace(c.ns)); err == nil {
		var objs []client.Object
		for i := range bindings.Items {
			objs = append(objs, &bindings.Items[i])
		}
		c.deleteAndWait(ctx, objs)
	}
	var instances v1beta1.ServiceInstanceList
	if err := c.h.kube.List(ctx, &instances, client.InNamespace(c.ns)); err == nil {
		var objs []client.Object
		for i := range instances.Items {
			objs = append(objs, &instances.Items[i])
		}
		c.deleteAndWait(ctx, objs)
	}
}

func (c *tcase) deleteAndWait(ctx context.Context, objs []client.Object) {
	for _, o := range objs {
		_ = c.h.kube.Delete(ctx, o)
	}
	for _, o := range objs {
		err := waitUntil(ctx, waitLimit, func() bool {
			return apierrors.IsNotFound(c.h.kube.Get(ctx, client.ObjectKeyFromObject(o), o))
		}, nil)
		if err != nil {
			c.t.Logf("cleanup: %T %s/%s not gone (%v); stripping its finalizers. Last seen:\n%s", o, o.GetNamespace(), o.GetName(), err, c.h.describe(o))
			c.h.forceDelete(ctx, o)
		}
	}
}

// deadline is now+limit, or earlier when the test binary's own deadline comes first,
// so that a timeout fails the test with a message instead of a panic.
func (c *tcase) deadline(limit time.Duration) time.Time {
	d := time.Now().Add(limit)
	if td, ok := c.t.Deadline(); ok && td.Add(-time.Minute).Before(d) {
		d = td.Add(-time.Minute)
	}
	return d
}

// waitFor polls obj (by its key) until ok holds, and returns the object then. It
// fails the test with the object's last state after waitLimit.
func waitFor[T client.Object](c *tcase, obj T, what string, ok func(T) bool) T {
	c.t.Helper()
	key := client.ObjectKeyFromObject(obj)
	deadline := c.deadline(waitLimit)
	var last client.Object
	var lastErr error
	for {
		cur := obj.DeepCopyObject().(T)
		if err := c.h.kube.Get(c.ctx, key, cur); err != nil {
			lastErr = err
		} else {
			last, lastErr = cur, nil
			if ok(cur) {
				return cur
			}
		}
		if time.Now().After(deadline) {
			state := "never read"
			if last != nil {
				state = c.h.describe(last)
			}
			c.t.Fatalf("%T %s: waited %v for %s; last error %v; last seen:\n%s", obj, key, waitLimit, what, lastErr, state)
		}
		time.Sleep(pollEvery)
	}
}

// waitGone polls until obj is not found.
func (c *tcase) waitGone(obj client.Object, what string) {
	c.t.Helper()
	key := client.ObjectKeyFromObject(obj)
	deadline := c.deadline(waitLimit)
	for {
		cur := obj.DeepCopyObject().(client.Object)
		err := c.h.kube.Get(c.ctx, key, cur)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%T %s: waited %v for %s (object still there); last seen:\n%s", obj, key, waitLimit, what, c.h.describe(cur))
		}
		time.Sleep(pollEvery)
	}
}

// describe renders an object for a failure message: metadata that matters, spec
// without parameters, status; secrets redacted.
func (h *harness) describe(obj client.Object) string {
	if obj == nil {
		return "<nil>"
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		}
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if _, has := spec["parameters"]; has {
			spec["parameters"] = "(not shown)"
		}
	}
	delete(m, "data")
	delete(m, "stringData")
	b, err := yaml.Marshal(m)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return h.redact(string(b))
}

// ---------------------------------------------------------------------------------------
// Conditions

func condOf(cs []v1beta1.Condition, typ v1beta1.ConditionType) (v1beta1.Condition, bool) {
	for _, c := range cs {
		if c.Type == typ {
			return c, true
		}
	}
	return v1beta1.Condition{}, false
}

// isCond says whether the condition typ has the status and, when reason is not empty,
// the reason.
func isCond(cs []v1beta1.Condition, typ v1beta1.ConditionType, status v1beta1.ConditionStatus, reason string) bool {
	c, ok := condOf(cs, typ)
	return ok && c.Status == status && (reason == "" || c.Reason == reason)
}

func condString(cs []v1beta1.Condition, typ v1beta1.ConditionType) string {
	c, ok := condOf(cs, typ)
	if !ok {
		return string(typ) + "=<absent>"
	}
	return fmt.Sprintf("%s=%s/%s", typ, c.Status, c.Reason)
}

// readyInstance is a ServiceInstance that is Ready with reason.
func readyInstance(reason string) func(*v1beta1.ServiceInstance) bool {
	return func(si *v1beta1.ServiceInstance) bool {
		return isCond(si.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, reason) && !si.Status.AsyncOpInProgress
	}
}

// ---------------------------------------------------------------------------------------
// Objects

func rawJSON(t *testing.T, v any) *runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &runtime.RawExtension{Raw: b}
}

// instance is a ServiceInstance of class and plan (external names) in the namespace.
func (c *tcase) instance(name, class, plan string, params map[string]any) *v1beta1.ServiceInstance {
	si := &v1beta1.ServiceInstance{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: name}}
	si.Spec.ClusterServiceClassExternalName = class
	si.Spec.ClusterServicePlanExternalName = plan
	if params != nil {
		si.Spec.Parameters = rawJSON(c.t, params)
	}
	return si
}

// mariadb is a mariadb instance with a fresh admin password (registered as a secret).
func (c *tcase) mariadb(name string) (*v1beta1.ServiceInstance, string) {
	pw := "Pw-" + randSuffix() + randSuffix()
	c.h.addSecret(pw)
	return c.instance(name, mariadbClass, defaultPlan, map[string]any{"admin_password": pw}), pw
}

func (c *tcase) binding(name, instance string) *v1beta1.ServiceBinding {
	return &v1beta1.ServiceBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: name},
		Spec:       v1beta1.ServiceBindingSpec{InstanceRef: v1beta1.LocalObjectReference{Name: instance}},
	}
}

func (c *tcase) create(obj client.Object) {
	c.t.Helper()
	if err := c.h.kube.Create(c.ctx, obj); err != nil {
		c.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func (c *tcase) get(obj client.Object) {
	c.t.Helper()
	if err := c.h.kube.Get(c.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		c.t.Fatalf("get %T %s: %v", obj, obj.GetName(), err)
	}
}

func (c *tcase) delete(obj client.Object) {
	c.t.Helper()
	if err := c.h.kube.Delete(c.ctx, obj); err != nil {
		c.t.Fatalf("delete %T %s: %v", obj, obj.GetName(), err)
	}
}

// update applies change to a fresh copy of obj and updates it, retrying on conflicts
// (the controller writes the same objects).
func update[T client.Object](c *tcase, obj T, change func(T)) error {
	c.t.Helper()
	var err error
	for range 20 {
		cur := obj.DeepCopyObject().(T)
		if err = c.h.kube.Get(c.ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
			return err
		}
		change(cur)
		if err = c.h.kube.Update(c.ctx, cur); !apierrors.IsConflict(err) {
			return err
		}
		time.Sleep(pollEvery)
	}
	return err
}

// secret creates a Secret with string data.
func (c *tcase) secret(name string, data map[string]string) *corev1.Secret {
	c.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: name}, StringData: data}
	c.create(s)
	return s
}

// ---------------------------------------------------------------------------------------
// The broker, the simulator, the broker's log

// osbCatalog is the part of GET /v2/catalog the tests compare with.
type osbCatalog struct {
	Services []osbService `json:"services"`
}

type osbService struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	Description          string    `json:"description"`
	Bindable             bool      `json:"bindable"`
	Tags                 []string  `json:"tags"`
	InstancesRetrievable bool      `json:"instances_retrievable"`
	BindingsRetrievable  bool      `json:"bindings_retrievable"`
	PlanUpdateable       bool      `json:"plan_updateable"`
	Plans                []osbPlan `json:"plans"`
}

type osbPlan struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Free        *bool  `json:"free"`
	Schemas     struct {
		ServiceInstance struct {
			Create struct {
				Parameters json.RawMessage `json:"parameters"`
			} `json:"create"`
		} `json:"service_instance"`
	} `json:"schemas"`
}

// service finds a catalog service by name.
func (h *harness) service(t *testing.T, name string) osbService {
	t.Helper()
	for _, s := range h.catalog.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("service %q not in the broker's catalog", name)
	return osbService{}
}

// testPlatform is the originating-identity platform of the tests' own OSB requests, so
// that counts of the broker's log leave them out.
const testPlatform = "e2e-test"

// osb sends an OSB request to the broker with its credentials.
func (h *harness) osb(ctx context.Context, method, path string, body any) (int, []byte, error) {
	return h.call(ctx, method, h.brokerURL+path, brokerUser, h.brokerPass, map[string]string{
		"X-Broker-API-Version":              "2.17",
		"X-Broker-API-Originating-Identity": testPlatform + " " + base64.StdEncoding.EncodeToString([]byte(`{"user":"e2e"}`)),
	}, body)
}

// sim sends a request to the Cloudify simulator's REST API.
func (h *harness) simAPI(ctx context.Context, method, path string) (int, []byte, error) {
	return h.call(ctx, method, h.simURL+"/api/v3.1"+path, "admin", h.simPass, map[string]string{"Tenant": "default_tenant"}, nil)
}

func (h *harness) call(ctx context.Context, method, url, user, pass string, headers map[string]string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// mustOSB is osb that fails the test on a transport error.
func (c *tcase) mustOSB(method, path string) (int, []byte) {
	c.t.Helper()
	status, body, err := c.h.osb(c.ctx, method, path, nil)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, body
}

// adminInstance reads the broker's own record of an instance (its admin API): the
// last operation's type and state, the bindings.
type adminInstance struct {
	ID             string `json:"id"`
	OperationID    string `json:"operation_id"`
	OperationType  string `json:"operation_type"`
	OperationState string `json:"operation_state"`
	Bindings       []struct {
		ID string `json:"id"`
	} `json:"bindings"`
}

func (c *tcase) adminInstance(id string) (int, adminInstance) {
	c.t.Helper()
	status, body, err := c.h.call(c.ctx, http.MethodGet, c.h.brokerURL+"/admin/v1/instances/"+id, adminUser, c.h.brokerPass+"-admin", nil, nil)
	if err != nil {
		c.t.Fatalf("admin instance %s: %v", id, err)
	}
	var ai adminInstance
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &ai); err != nil {
			c.t.Fatalf("admin instance %s: %v", id, err)
		}
	}
	return status, ai
}

// deployment reads the simulator's deployment of an OSB instance (the broker names it
// osb-<instance id>): found, and its inputs.
func (c *tcase) deployment(instanceID string) (bool, map[string]any) {
	c.t.Helper()
	status, body, err := c.h.simAPI(c.ctx, http.MethodGet, "/deployments/osb-"+instanceID)
	if err != nil {
		c.t.Fatalf("simulator deployment of %s: %v", instanceID, err)
	}
	switch status {
	case http.StatusNotFound:
		return false, nil
	case http.StatusOK:
		var d struct {
			Inputs map[string]any `json:"inputs"`
		}
		if err := json.Unmarshal(body, &d); err != nil {
			c.t.Fatalf("simulator deployment of %s: %v", instanceID, err)
		}
		return true, d.Inputs
	}
	c.t.Fatalf("simulator deployment of %s: HTTP %d", instanceID, status)
	return false, nil
}

// bindingSecret reads the Cloudify secret holding a binding's own credentials
// (osb-<deployment>-<binding>): found, and the credentials.
func (c *tcase) bindingSecret(instanceID, bindingID string) (bool, map[string]any) {
	c.t.Helper()
	key := broker.BindingSecretKey(broker.DeploymentID(instanceID), bindingID)
	status, body, err := c.h.simAPI(c.ctx, http.MethodGet, "/secrets/"+key)
	if err != nil {
		c.t.Fatalf("simulator secret of binding %s: %v", bindingID, err)
	}
	switch status {
	case http.StatusNotFound:
		return false, nil
	case http.StatusOK:
		var s struct {
			Value string `json:"value"`
		}
		var creds map[string]any
		if err := json.Unmarshal(body, &s); err != nil || json.Unmarshal([]byte(s.Value), &creds) != nil {
			c.t.Fatalf("simulator secret of binding %s: not a JSON object in a secret", bindingID)
		}
		return true, creds
	}
	c.t.Fatalf("simulator secret of binding %s: HTTP %d", bindingID, status)
	return false, nil
}

var (
	reOSBRequest = regexp.MustCompile(`msg="osb request" method=(\S+) route=(\S+) status=(\d+)`)
	reInstanceID = regexp.MustCompile(` instance_id=(\S+)`)
	rePlatform   = regexp.MustCompile(` identity_platform=(\S+)`)
)

// osbLogLine is one OSB request in the broker's log.
type osbLogLine struct {
	Method, Route, Status, InstanceID string
	// FromTest is set for the tests' own requests (see testPlatform).
	FromTest bool
}

// brokerLog reads the OSB requests of the broker's log (across its restarts).
func (h *harness) brokerLog() []osbLogLine {
	f, err := os.Open(h.broker.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []osbLogLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := reOSBRequest.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		l := osbLogLine{Method: m[1], Route: m[2], Status: m[3]}
		if id := reInstanceID.FindStringSubmatch(line); id != nil {
			l.InstanceID = strings.Trim(id[1], `"`)
		}
		if p := rePlatform.FindStringSubmatch(line); p != nil {
			l.FromTest = strings.Trim(p[1], `"`) == testPlatform
		}
		out = append(out, l)
	}
	return out
}

// brokerRequests counts the OSB requests the broker logged for an instance id, by
// "METHOD route status", leaving out the tests' own.
func (h *harness) brokerRequests(instanceID string) map[string]int {
	out := map[string]int{}
	for _, l := range h.brokerLog() {
		if l.InstanceID == instanceID && !l.FromTest {
			out[l.Method+" "+l.Route+" "+l.Status]++
		}
	}
	return out
}

// catalogReads counts the successful GET /v2/catalog the broker logged.
func (h *harness) catalogReads() int {
	n := 0
	for _, l := range h.brokerLog() {
		if l.Method == http.MethodGet && l.Route == "/v2/catalog" && l.Status == "200" && !l.FromTest {
			n++
		}
	}
	return n
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// figure logs a measurement for people.
func figure(t *testing.T, name string, format string, args ...any) {
	t.Helper()
	t.Logf("FIGURE %s=%s", name, fmt.Sprintf(format, args...))
}
