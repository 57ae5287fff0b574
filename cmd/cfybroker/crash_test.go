package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// TestCrashSafety kills the broker process (SIGKILL) at random moments while
// provisions and deprovisions run, starts it again on the same data directory, and
// checks that every operation completes and the manager holds exactly what it should.
func TestCrashSafety(t *testing.T) { crashSafety(t, false) }

// TestCrashSafetyDemo is TestCrashSafety in demo mode: the manager is the built-in
// simulator (--cloudify-sim), killed with the broker; its state in the data directory
// must bring back every deployment the broker's instances name.
func TestCrashSafetyDemo(t *testing.T) { crashSafety(t, true) }

func crashSafety(t *testing.T, demo bool) {
	if testing.Short() {
		t.Skip("builds and kills a broker process; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "cfybroker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	manager := []string{"--cloudify-sim", "--sim-speed", "5"}
	var sim *cloudifysim.Simulator
	if !demo {
		sim = cloudifysim.New(cloudifysim.Config{Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true, Clock: newSpeedClock(5)})
		ts := httptest.NewServer(sim)
		defer ts.Close()
		manager = []string{"--cloudify-url", ts.URL, "--cloudify-password", "cfy-pw"}
	}
	addr := freeAddr(t)
	rng := rand.New(rand.NewPCG(7, 7))

	var proc *exec.Cmd
	start := func() {
		proc = exec.Command(bin, append([]string{"serve", "--listen", addr, "--data-dir", dataDir,
			"--poll-min", "100ms", "--log-level", "warn"}, manager...)...)
		proc.Env = append(os.Environ(), "CFYBROKER_PASSWORD="+testPass, "CFYBROKER_USERNAME="+testUser, "CLOUDIFY_URL=")
		proc.Stderr = os.Stderr
		if err := proc.Start(); err != nil {
			t.Fatal(err)
		}
		waitListening(t, addr)
	}
	kill := func() {
		_ = proc.Process.Signal(syscall.SIGKILL)
		_, _ = proc.Process.Wait()
	}
	start()
	defer kill()

	cfg := osbc.DefaultClientConfiguration()
	cfg.URL = "http://" + addr
	cfg.AuthConfig = &osbc.AuthConfig{BasicAuthConfig: &osbc.BasicAuthConfig{Username: testUser, Password: testPass}}
	cfg.EnableAlphaFeatures = true
	client, err := osbc.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := client.GetCatalog()
	if err != nil {
		t.Fatal(err)
	}
	var svc, plan string
	for _, s := range cat.Services {
		if s.Name == "mariadb" {
			svc, plan = s.ID, s.Plans[0].ID
		}
	}
	const n = 6
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("crash-%d", i)
		if _, err := client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: ids[i], AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
			OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": "Passw0rd-ok"}}); err != nil {
			t.Fatalf("provision %s: %v", ids[i], err)
		}
		if i%2 == 1 { // every other one is deprovisioned while it provisions
			if _, err := client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: ids[i], AcceptsIncomplete: true, ServiceID: svc, PlanID: plan}); err != nil {
				t.Fatalf("deprovision %s: %v", ids[i], err)
			}
		}
		// Kill at a random moment, then restart.
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		kill()
		start()
	}
	for round := 0; round < 3; round++ {
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		kill()
		start()
	}
	deadline := time.Now().Add(90 * time.Second)
	for i, id := range ids {
		for {
			resp, err := client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: id})
			if i%2 == 1 && osbc.IsGoneError(err) {
				break
			}
			if err != nil && !osbc.IsGoneError(err) {
				t.Fatalf("%s: %v", id, err)
			}
			if i%2 == 0 && err == nil && resp.State == osbc.StateSucceeded {
				break
			}
			if err == nil && resp.State == osbc.StateFailed {
				t.Fatalf("%s failed: %v", id, *resp.Description)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still not done after restarts", id)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The instances that stay are usable: each gets a binding with a database user of
	// its own, made by the bind workflow while the broker is killed again; then one of
	// them is unbound across a kill too.
	binds := map[string]*osbc.OperationKey{}
	for i, id := range ids {
		if i%2 == 0 {
			bind, err := client.Bind(&osbc.BindRequest{InstanceID: id, BindingID: id + "-b", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
			if err != nil || !bind.Async {
				t.Fatalf("bind %s after the restarts: %+v, %v; want 202", id, bind, err)
			}
			binds[id] = bind.OperationKey
		}
	}
	time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
	kill()
	start()
	creds := map[string]map[string]any{}
	for id, op := range binds {
		lo, err := pollBinding(t, client, id, id+"-b", op)
		mustSucceed(t, lo, err)
		got, err := client.GetBinding(&osbc.GetBindingRequest{InstanceID: id, BindingID: id + "-b"})
		if err != nil || got.Credentials["username"] == nil {
			t.Fatalf("fetch binding %s-b after a kill during its bind: %+v, %v", id, got, err)
		}
		creds[id] = got.Credentials
	}
	unbound := ids[0]
	un, err := client.Unbind(&osbc.UnbindRequest{InstanceID: unbound, BindingID: unbound + "-b", ServiceID: svc, PlanID: plan, AcceptsIncomplete: true})
	if err != nil || !un.Async {
		t.Fatalf("unbind %s-b: %+v, %v; want 202", unbound, un, err)
	}
	time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	kill()
	start()
	if _, err := pollBinding(t, client, unbound, unbound+"-b", un.OperationKey); !osbc.IsGoneError(err) {
		t.Fatalf("unbind %s-b across a kill: %v, want 410 Gone", unbound, err)
	}
	if demo {
		// The manager died with the broker: read what it kept.
		kill()
		sim = cloudifysim.New(cloudifysim.Config{LoadSamples: true, StateFile: filepath.Join(dataDir, simStateFile)})
		if err := sim.LoadState(); err != nil {
			t.Fatal(err)
		}
	}
	live := map[string]int{}
	for _, d := range sim.Deployments() {
		if d.Exists {
			live[d.ID]++
		}
	}
	for i, id := range ids {
		want := 1 - i%2
		if live["osb-"+id] != want {
			t.Errorf("%s: %d live deployments, want %d", id, live["osb-"+id], want)
		}
	}
	if len(live) != n/2 {
		t.Errorf("live deployments %v, want %d", live, n/2)
	}
	// Exactly one database user and one secret per binding left, holding the
	// credentials the broker handed out; none for the unbound one.
	secrets := map[string]bool{}
	for _, s := range sim.Secrets() {
		if strings.HasPrefix(s.Key, "osb-") {
			secrets[s.Key] = true
		}
	}
	for id := range binds {
		d, _ := sim.Deployment("osb-" + id)
		want := 1
		if id == unbound {
			want = 0
		}
		if len(d.BindingUsers) != want {
			t.Errorf("%s: database users %+v, want %d", id, d.BindingUsers, want)
			continue
		}
		if want == 1 {
			u := d.BindingUsers[0]
			if u.Binding != id+"-b" || u.Username != creds[id]["username"] || u.Password != creds[id]["password"] || !secrets[u.SecretKey] {
				t.Errorf("%s: database user %+v (secret present %v), broker handed out %v", id, u, secrets[u.SecretKey], creds[id]["username"])
			}
		}
	}
	if len(secrets) != len(binds)-1 {
		t.Errorf("binding secrets %v, want %d", secrets, len(binds)-1)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/v2/catalog")
		if err == nil {
			resp.Body.Close()
			return
		}
		if !strings.Contains(err.Error(), "refused") {
			t.Logf("waiting for the broker: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("broker not listening on %s", addr)
}
