package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
)

const (
	// brokerName is the one ClusterServiceBroker registered for the shared catalog.
	// Class names are the OSB service ids, so a second registration of the same
	// catalog would collide: never register it twice.
	brokerName = "e2e"
	// brokerUser is the broker's Basic-auth user.
	brokerUser = "platform"
	// adminUser is the operator of the broker's admin API (credentials apart from the platform's).
	adminUser = "operator"
	// pollEvery is how often the tests look at the API server.
	pollEvery = 200 * time.Millisecond
	// waitLimit bounds every wait, only so that a broken controller does not hang the
	// suite: it is no performance criterion (the machine may be small and shared).
	waitLimit = 5 * time.Minute
)

var (
	envOnce sync.Once
	// env is the running harness, once the first test has set it up.
	env *harness
	// skipReason says why the environment is missing (no API server).
	skipReason string
	// skipAlways is set with -short: the tests skip even in CI.
	skipAlways bool
	// setupErr says why the harness failed although the environment is there.
	setupErr error
)

// TestMain stops what the tests started. The harness itself starts with the first
// test that needs it, so that a run selecting no test of this package costs nothing.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if env != nil {
		env.close(code != 0)
	}
	os.Exit(code)
}

// setupEnv starts the harness once.
func setupEnv() {
	if testing.Short() {
		skipReason, skipAlways = "starts a broker, a Cloudify simulator and the controller; skipped with -short", true
		return
	}
	h, reason, err := newHarness()
	if h != nil {
		// Subprocesses die with this process (Pdeathsig on Linux); an interrupt still
		// stops them properly.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-sig
			fmt.Fprintln(os.Stderr, "e2e: interrupted; stopping the subprocesses")
			h.killAll()
			os.Exit(2)
		}()
	}
	skipReason, setupErr = reason, err
	if setupErr != nil && h != nil {
		fmt.Fprintf(os.Stderr, "e2e: harness setup failed: %v\n", setupErr)
		h.dumpLogs(os.Stderr)
	}
	env = h
}

// harness is what TestMain starts once for every test: the binary, the simulator, the
// broker, the controller and a client of the API server.
type harness struct {
	root       string // module root
	work       string // temporary folder: binary, logs, broker data
	bin        string
	kubectl    string
	kubeconfig string
	restConfig *rest.Config
	kube       client.Client
	clientset  kubernetes.Interface

	systemNS string // holds the broker's auth Secret

	sim     *proc
	simURL  string
	simPass string

	broker        *proc
	brokerAddr    string
	brokerURL     string
	brokerDataDir string
	brokerPass    string
	catalog       osbCatalog

	mu      sync.Mutex
	ctrl    *proc   // the controller the tests rely on
	procs   []*proc // every process started, to stop at exit
	secrets []string
}

// newHarness starts everything. A non-empty reason means the environment is missing
// (skip); an error means it is there but something failed.
func newHarness() (h *harness, reason string, err error) {
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		return nil, "KUBECONFIG is not set: start a local API server with `make local-k8s` (.ci/local-k8s.sh start) and export the KUBECONFIG it prints", nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Sprintf("KUBECONFIG %s is not usable (%v): start a local API server with `make local-k8s`", kubeconfig, err), nil
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("clientset: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return nil, fmt.Sprintf("the API server of KUBECONFIG (%s) does not answer /readyz (%v): start it with `make local-k8s`", cfg.Host, err), nil
	}

	h = &harness{kubeconfig: kubeconfig, restConfig: cfg, clientset: cs}
	if err := h.setup(); err != nil {
		return h, "", err
	}
	return h, "", nil
}

func (h *harness) setup() error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return fmt.Errorf("go env GOMOD: %v (%s)", err, out)
	}
	h.root = filepath.Dir(strings.TrimSpace(string(out)))
	if h.work, err = os.MkdirTemp("", "cfybroker-kube-e2e-"); err != nil {
		return err
	}
	h.bin = filepath.Join(h.work, "cfybroker")
	build := exec.Command("go", "build", "-o", h.bin, "./cmd/cfybroker")
	build.Dir = h.root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/cfybroker: %v\n%s", err, out)
	}
	// cobra answers --help of an unknown command with the root's help: look for a flag.
	if out, err := exec.Command(h.bin, "controller", "--help").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("--leader-elect")) {
		return fmt.Errorf("`cfybroker controller --help` does not describe the controller (the command may not exist yet): %v\n%s", err, out)
	}
	if h.kubectl, err = exec.LookPath("kubectl"); err != nil {
		h.kubectl = filepath.Join(h.root, ".local-k8s", "bin", "kubectl")
		if _, err := os.Stat(h.kubectl); err != nil {
			return errors.New("kubectl not found on PATH nor in .local-k8s/bin: run `make local-k8s`")
		}
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return err
	}
	if h.kube, err = client.New(h.restConfig, client.Options{Scheme: scheme}); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The CRD files, not the folder: it also holds a kustomization.yaml.
	crds, err := filepath.Glob(filepath.Join(h.root, "infra", "kubernetes", "crd", "servicecatalog.cfybroker.io_*.yaml"))
	if err != nil || len(crds) == 0 {
		return fmt.Errorf("no CRDs in infra/kubernetes/crd (%v)", err)
	}
	var fileArgs []string
	for _, f := range crds {
		fileArgs = append(fileArgs, "-f", f)
	}
	// Other suites apply the same CRDs on the shared API server: retry a conflict.
	for attempt := 1; ; attempt++ {
		out, err := h.kubectlRun(ctx, append([]string{"apply", "--server-side", "--force-conflicts"}, fileArgs...)...)
		if err == nil {
			break
		}
		if attempt == 5 {
			return fmt.Errorf("kubectl apply the CRDs: %v\n%s", err, out)
		}
		time.Sleep(2 * time.Second)
	}
	if out, err := h.kubectlRun(ctx, append([]string{"wait", "--for=condition=Established", "--timeout=120s"}, fileArgs...)...); err != nil {
		return fmt.Errorf("waiting for the CRDs: %v\n%s", err, out)
	}
	h.purgeLeftovers(ctx)

	h.systemNS = "e2e-system-" + randSuffix()
	if err := h.kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.systemNS}}); err != nil {
		return fmt.Errorf("namespace %s: %w", h.systemNS, err)
	}

	h.simPass = "sim-" + randSuffix() + randSuffix()
	h.brokerPass = "broker-" + randSuffix() + randSuffix()
	h.addSecret(h.simPass)
	h.addSecret(h.brokerPass)
	simAddr, err := freeAddr()
	if err != nil {
		return err
	}
	h.simURL = "http://" + simAddr
	h.sim = h.newProc("cloudify-sim", nil, "dev", "cloudify-sim", "--listen", simAddr, "--password", h.simPass)
	if err := h.sim.start(); err != nil {
		return err
	}
	if err := waitUntil(ctx, time.Minute, func() bool { return tcpOpen(simAddr) }, h.sim); err != nil {
		return fmt.Errorf("cloudify-sim on %s: %w", simAddr, err)
	}

	if h.brokerAddr, err = freeAddr(); err != nil {
		return err
	}
	h.brokerURL = "http://" + h.brokerAddr
	h.brokerDataDir = filepath.Join(h.work, "broker-data")
	h.broker = h.newProc("broker", []string{
		"CFYBROKER_USERNAME=" + brokerUser, "CFYBROKER_PASSWORD=" + h.brokerPass, "CLOUDIFY_PASSWORD=" + h.simPass,
		"CFYBROKER_ADMIN_USERNAME=" + adminUser, "CFYBROKER_ADMIN_PASSWORD=" + h.brokerPass + "-admin",
	}, "serve", "--listen", h.brokerAddr, "--data-dir", h.brokerDataDir, "--cloudify-url", h.simURL,
		// debug: the broker logs every request, repeated polls too (the tests count them).
		"--poll-min", "200ms", "--log-level", "debug", "--catalog-interval", "1h")
	if err := h.startBroker(ctx); err != nil {
		return err
	}
	status, body, err := h.osb(ctx, http.MethodGet, "/v2/catalog", nil)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("broker catalog: %d %v", status, err)
	}
	if err := json.Unmarshal(body, &h.catalog); err != nil {
		return fmt.Errorf("broker catalog: %w", err)
	}

	ctrl, err := h.startController(ctx, "controller")
	if err != nil {
		return err
	}
	h.setController(ctrl)

	auth := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.systemNS, Name: "broker-auth"},
		StringData: map[string]string{"username": brokerUser, "password": h.brokerPass},
	}
	if err := h.kube.Create(ctx, auth); err != nil {
		return fmt.Errorf("broker Secret: %w", err)
	}
	b := &v1beta1.ClusterServiceBroker{
		ObjectMeta: metav1.ObjectMeta{Name: brokerName},
		Spec: v1beta1.ClusterServiceBrokerSpec{
			URL: h.brokerURL,
			AuthInfo: &v1beta1.ClusterServiceBrokerAuthInfo{Basic: &v1beta1.ClusterBasicAuthConfig{
				SecretRef: &v1beta1.ObjectReference{Namespace: h.systemNS, Name: auth.Name},
			}},
		},
	}
	if err := h.kube.Create(ctx, b); err != nil {
		return fmt.Errorf("ClusterServiceBroker %s: %w", brokerName, err)
	}
	var last v1beta1.ClusterServiceBroker
	err = waitUntil(ctx, waitLimit, func() bool {
		if h.kube.Get(ctx, client.ObjectKey{Name: brokerName}, &last) != nil {
			return false
		}
		return isCond(last.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, "")
	}, ctrl)
	if err != nil {
		return fmt.Errorf("ClusterServiceBroker %s never became Ready: %w; status: %s", brokerName, err, h.describe(&last))
	}
	return nil
}

// purgeLeftovers removes what an interrupted earlier run left behind: objects in e2e-*
// namespaces and e2e brokers, with their finalizers stripped (their controller and
// broker are gone). Namespaces themselves stay: a bare API server has no namespace
// controller to finish deleting them.
func (h *harness) purgeLeftovers(ctx context.Context) {
	var bindings v1beta1.ServiceBindingList
	if err := h.kube.List(ctx, &bindings); err == nil {
		for i := range bindings.Items {
			if strings.HasPrefix(bindings.Items[i].Namespace, "e2e-") {
				h.forceDelete(ctx, &bindings.Items[i])
			}
		}
	}
	var instances v1beta1.ServiceInstanceList
	if err := h.kube.List(ctx, &instances); err == nil {
		for i := range instances.Items {
			if strings.HasPrefix(instances.Items[i].Namespace, "e2e-") {
				h.forceDelete(ctx, &instances.Items[i])
			}
		}
	}
	isOurs := func(broker string) bool { return broker == brokerName || strings.HasPrefix(broker, brokerName+"-") }
	var brokers v1beta1.ClusterServiceBrokerList
	if err := h.kube.List(ctx, &brokers); err == nil {
		for i := range brokers.Items {
			if isOurs(brokers.Items[i].Name) {
				h.forceDelete(ctx, &brokers.Items[i])
			}
		}
	}
	var plans v1beta1.ClusterServicePlanList
	if err := h.kube.List(ctx, &plans); err == nil {
		for i := range plans.Items {
			if isOurs(plans.Items[i].Spec.ClusterServiceBrokerName) {
				h.forceDelete(ctx, &plans.Items[i])
			}
		}
	}
	var classes v1beta1.ClusterServiceClassList
	if err := h.kube.List(ctx, &classes); err == nil {
		for i := range classes.Items {
			if isOurs(classes.Items[i].Spec.ClusterServiceBrokerName) {
				h.forceDelete(ctx, &classes.Items[i])
			}
		}
	}
}

// forceDelete deletes an object and strips its finalizers.
func (h *harness) forceDelete(ctx context.Context, obj client.Object) {
	_ = h.kube.Delete(ctx, obj)
	if len(obj.GetFinalizers()) > 0 {
		patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
		obj.SetFinalizers(nil)
		if err := h.kube.Patch(ctx, obj, patch); err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintf(os.Stderr, "e2e: stripping the finalizers of %T %s/%s: %v\n", obj, obj.GetNamespace(), obj.GetName(), err)
		}
	}
}

// close deletes the shared broker registration and stops every process. The work
// folder (logs, broker data) stays when the run failed.
func (h *harness) close(failed bool) {
	if h.kube != nil && h.ctrl != nil && h.ctrl.alive() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		b := &v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: brokerName}}
		if err := h.kube.Delete(ctx, b); err == nil {
			_ = waitUntil(ctx, 30*time.Second, func() bool {
				return apierrors.IsNotFound(h.kube.Get(ctx, client.ObjectKey{Name: brokerName}, b))
			}, nil)
		}
		cancel()
	}
	h.stopAll()
	if h.work == "" {
		return
	}
	if failed {
		fmt.Fprintf(os.Stderr, "e2e: logs and broker data kept in %s\n", h.work)
		return
	}
	_ = os.RemoveAll(h.work)
}

// kubectlRun runs kubectl against the test API server.
func (h *harness) kubectlRun(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, h.kubectl, append([]string{"--kubeconfig", h.kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// addSecret registers a value that must never appear in dumped logs.
func (h *harness) addSecret(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secrets = append(h.secrets, s)
}

// redact hides every registered secret in s.
func (h *harness) redact(s string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// ---------------------------------------------------------------------------------------
// Processes

// proc is one subprocess of the cfybroker binary; its output goes to a log file that
// survives restarts.
type proc struct {
	name    string
	bin     string
	args    []string
	env     []string
	logPath string
	addr    string // the controller's health probe address

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

func (h *harness) newProc(name string, env []string, args ...string) *proc {
	p := &proc{name: name, bin: h.bin, args: args, env: env, logPath: filepath.Join(h.work, name+".log")}
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p
}

// start starts the process; it must not be running.
func (p *proc) start() error {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== e2e: %s starting %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), p.name, strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "=== e2e: %s %s exited: %v\n", time.Now().UTC().Format(time.RFC3339Nano), p.name, err)
		f.Close()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	return nil
}

// alive says whether the process runs.
func (p *proc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop sends SIGTERM, waits up to 30 s, then kills.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

func (h *harness) allProcs() []*proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*proc(nil), h.procs...)
}

// stopAll stops the controllers first, then the broker, then the simulator.
func (h *harness) stopAll() {
	var ctrls, others []*proc
	for _, p := range h.allProcs() {
		if strings.HasPrefix(p.name, "controller") {
			ctrls = append(ctrls, p)
		} else {
			others = append(others, p)
		}
	}
	for _, p := range append(ctrls, others...) {
		p.stop()
	}
}

func (h *harness) killAll() {
	for _, p := range h.allProcs() {
		p.kill()
	}
}

// startBroker starts the broker process and waits until it serves its catalog.
func (h *harness) startBroker(ctx context.Context) error {
	if err := h.broker.start(); err != nil {
		return err
	}
	err := waitUntil(ctx, 2*time.Minute, func() bool {
		status, _, err := h.osb(ctx, http.MethodGet, "/v2/catalog", nil)
		return err == nil && status == http.StatusOK
	}, h.broker)
	if err != nil {
		return fmt.Errorf("broker on %s: %w", h.brokerAddr, err)
	}
	return nil
}

// startController starts a controller process named name (its log is name.log) with
// the suite's flags plus extra ones, and waits until its health probe answers.
func (h *harness) startController(ctx context.Context, name string, extra ...string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"controller", "--kubeconfig", h.kubeconfig,
		"--metrics-bind-address", "0", "--health-probe-bind-address", addr,
		"--poll-min", "500ms", "--poll-max", "5s", "--log-level", "info", "--log-format", "json"}, extra...)
	p := h.newProc(name, nil, args...)
	p.addr = addr
	if err := p.start(); err != nil {
		return nil, err
	}
	err = waitUntil(ctx, 2*time.Minute, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, p)
	if err != nil {
		return p, fmt.Errorf("controller %s: health probe on %s: %w", name, addr, err)
	}
	return p, nil
}

func (h *harness) controller() *proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctrl
}

func (h *harness) setController(p *proc) {
	h.mu.Lock()
	h.ctrl = p
	h.mu.Unlock()
}

// dumpLogs writes the tails of every log, redacted.
func (h *harness) dumpLogs(w io.Writer) {
	for _, p := range h.allProcs() {
		fmt.Fprintf(w, "----- last lines of %s (%s) -----\n%s\n", p.name, p.logPath, h.redact(tail(p.logPath, 40)))
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitUntil polls ok every pollEvery until it holds, the limit passes, or p (when
// given) exits.
func waitUntil(ctx context.Context, limit time.Duration, ok func() bool, p *proc) error {
	deadline := time.Now().Add(limit)
	for {
		if ok() {
			return nil
		}
		if p != nil && !p.alive() {
			return fmt.Errorf("%s exited; see %s", p.name, p.logPath)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func tcpOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// randSuffix is six random lowercase hex digits, for names.
func randSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
