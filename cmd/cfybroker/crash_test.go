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
	// The instances that stay are usable: a bind reads their deployment's capabilities.
	for i, id := range ids {
		if i%2 == 0 {
			if _, err := client.Bind(&osbc.BindRequest{InstanceID: id, BindingID: id + "-b", ServiceID: svc, PlanID: plan}); err != nil {
				t.Errorf("bind %s after the restarts: %v", id, err)
			}
		}
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
