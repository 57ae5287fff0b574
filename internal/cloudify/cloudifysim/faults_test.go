package cloudifysim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHTTPFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		check  func(t *testing.T, r resp)
		status int
	}{
		{"http error", Fault{Kind: FaultHTTPError}, func(t *testing.T, r resp) {
			m := expectError(t, r, 500, "internal_server_error", "Internal error occurred in manager REST server - ")
			if tb, _ := m["server_traceback"].(string); !strings.HasPrefix(tb, "Traceback (most recent call last):") {
				t.Errorf("server_traceback = %v", m["server_traceback"])
			}
		}, 500},
		{"http error with status and code", Fault{Kind: FaultHTTPError, Status: 409, Code: "conflict_error", Message: "injected"}, func(t *testing.T, r resp) {
			expectError(t, r, 409, "conflict_error", "injected")
		}, 409},
		{"maintenance", Fault{Kind: FaultMaintenance}, func(t *testing.T, r resp) {
			m := expectError(t, r, 503, "maintenance_mode_active", "maintenance mode")
			if _, ok := m["server_traceback"]; !ok {
				t.Error("server_traceback missing")
			}
		}, 503},
		{"bad gateway", Fault{Kind: FaultBadGateway}, func(t *testing.T, r resp) {
			expectStatus(t, r, 502)
			if json.Valid(r.Body) || !strings.Contains(string(r.Body), "<center>nginx</center>") || !strings.Contains(string(r.Body), "502 Bad Gateway") {
				t.Errorf("body = %s", r.Body)
			}
		}, 502},
		{"gateway timeout", Fault{Kind: FaultBadGateway, Status: 504}, func(t *testing.T, r resp) {
			expectStatus(t, r, 504)
			if !strings.Contains(string(r.Body), "504 Gateway Time-out") {
				t.Errorf("body = %s", r.Body)
			}
		}, 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSim(t, "7.0.4")
			id := ts.sim.AddFault(tt.fault)
			tt.check(t, ts.do("GET", "/deployments", nil))
			// faults apply before authentication, like nginx and maintenance mode
			tt.check(t, ts.do("GET", "/deployments", nil, noAuth()))
			if !ts.sim.RemoveFault(id) || ts.sim.RemoveFault(id) {
				t.Error("RemoveFault")
			}
			expectStatus(t, ts.do("GET", "/deployments", nil), 200)
			st := ts.sim.Stats()
			if st.FaultsInjected != 2 || st.Faults[tt.fault.Kind.String()] != 2 || st.Requests["GET /deployments"] != 3 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestDropConnectionAndLatency(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.sim.AddFault(Fault{Kind: FaultDropConnection, Count: 1, Match: FaultMatch{PathPrefix: "/blueprints"}})
	req, _ := http.NewRequest("GET", ts.srv.URL+"/api/v3.1/blueprints", nil)
	req.SetBasicAuth("admin", "admin")
	req.Header.Set("Tenant", "default_tenant")
	if res, err := ts.srv.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("expected a dropped connection, got %d", res.StatusCode)
	}
	expectStatus(t, ts.do("GET", "/blueprints", nil), 200) // Count 1: expired

	ts.sim.AddFault(Fault{Kind: FaultLatency, Latency: 30 * time.Millisecond, Match: FaultMatch{Method: "GET", PathPrefix: "/api/v3.1/ok"}})
	start := time.Now()
	expectStatus(t, ts.do("GET", "/ok", nil), 200)
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("latency fault took %v", el)
	}
	// The unmatched request is not delayed: the stats below count one latency fault
	// for the two requests (a duration bound would fail on a loaded machine).
	expectStatus(t, ts.do("GET", "/version", nil), 200)
	ts.sim.ClearFaults()
	if st := ts.sim.Stats(); st.Faults["drop_connection"] != 1 || st.Faults["latency"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultMatching(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	ts.create("a", "required-input", map[string]any{"name": "x"}, false)
	ts.create("b", "redis-cache", nil, false)
	ts.sim.AddFault(Fault{Kind: FaultHTTPError, Match: FaultMatch{DeploymentID: "a"}})
	ts.sim.AddFault(Fault{Kind: FaultMaintenance, Match: FaultMatch{BlueprintID: "redis-cache", Method: "POST"}})
	expectStatus(t, ts.do("GET", "/deployments/a", nil), 500)
	expectStatus(t, ts.do("GET", "/deployments/a/outputs", nil), 500)
	expectStatus(t, ts.start("a", "install", nil), 500)
	expectStatus(t, ts.do("GET", "/executions?deployment_id=a", nil), 500)
	expectStatus(t, ts.do("GET", "/deployments/b", nil), 200)
	expectStatus(t, ts.do("GET", "/deployments", nil), 200)
	expectStatus(t, ts.start("b", "install", nil), 503)
	expectStatus(t, ts.do("GET", "/blueprints/redis-cache", nil), 200) // GET: method does not match
	ts.sim.ClearFaults()
	expectStatus(t, ts.do("GET", "/deployments/a", nil), 200)
}

func TestFaultProbabilityIsSeeded(t *testing.T) {
	run := func() []int {
		ts := newTestSim(t, "7.0.4")
		ts.sim.AddFault(Fault{Kind: FaultHTTPError, Probability: 0.3})
		var got []int
		for i := 0; i < 40; i++ {
			got = append(got, ts.do("GET", "/version", nil).Status)
		}
		return got
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different fault pattern:\n%v\n%v", a, b)
	}
	fails := strings.Count(fmt.Sprint(a), "500")
	if fails == 0 || fails == len(a) {
		t.Errorf("probability 0.3 hit %d of %d", fails, len(a))
	}
}

func TestWorkflowFaults(t *testing.T) {
	t.Run("fail", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.create("db1", "mariadb", mariadbInputs(), false)
		ts.sim.FailWorkflow("mariadb", "install", "Traceback (most recent call last):\n  File \"x\"\nRuntimeError: disk full")
		e := ts.waitEnd(ts.mustStart("db1", "install", nil))
		if e["status"] != "failed" || lastLine(e["error"].(string)) != "RuntimeError: disk full" {
			t.Errorf("execution = %v %q", e["status"], e["error"])
		}
		ts.sim.ReleaseWorkflow("mariadb", "install")
		if e := ts.waitEnd(ts.mustStart("db1", "install", nil)); e["status"] != "terminated" {
			t.Errorf("after release: %v", e["status"])
		}
	})
	t.Run("fail the create environment synchronously", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.sim.FailWorkflow("", "create_deployment_environment", "boom\nRuntimeError: no workers")
		expectError(t, ts.do("PUT", "/deployments/x", map[string]any{"blueprint_id": "redis-cache"}), 400,
			"deployment_creation_error", "RuntimeError: no workers")
	})
	t.Run("hang started", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.create("db1", "mariadb", mariadbInputs(), false)
		ts.sim.HangWorkflow("db1", "install", "")
		id := ts.mustStart("db1", "install", nil)
		ts.advance(time.Hour)
		if got := ts.exec(id)["status"]; got != "started" {
			t.Fatalf("hung execution = %v", got)
		}
		ts.sim.ClearFaults()
		ts.advance(time.Millisecond)
		e := ts.exec(id)
		if e["status"] != "terminated" || e["ended_at"] != "2024-01-10T09:00:00.001Z" {
			t.Errorf("released execution = %v at %v", e["status"], e["ended_at"])
		}
	})
	t.Run("hang pending, then cancel", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.create("db1", "mariadb", mariadbInputs(), false)
		ts.sim.HangWorkflow("mariadb", "", "pending")
		id := ts.mustStart("db1", "install", nil)
		ts.advance(time.Hour)
		if got := ts.exec(id)["status"]; got != "pending" {
			t.Fatalf("dead worker = %v", got)
		}
		expectStatus(t, ts.do("POST", "/executions/"+id, map[string]any{"action": "kill"}), 200)
		if got := ts.waitEnd(id)["status"]; got != "cancelled" {
			t.Errorf("killed = %v", got)
		}
	})
	t.Run("hang blocks a sync create", func(t *testing.T) {
		ts := newTestSim(t, "7.0.4")
		ts.sim.HangWorkflow("", "create_deployment_environment", "pending")
		expectError(t, ts.do("PUT", "/deployments/x", map[string]any{"blueprint_id": "redis-cache"}), 500, "internal_server_error", "Timed out")
		if got := ts.dep("x")["latest_execution_status"]; got != "in_progress" {
			t.Errorf("latest_execution_status = %v", got)
		}
	})
	t.Run("invalid hang state panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		New(Config{}).HangWorkflow("", "", "queued")
	})
}

func TestConcurrentRequests(t *testing.T) {
	ts := newTestSim(t, "7.0.4")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(client.CloseIdleConnections)
	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			id := fmt.Sprintf("dep-%02d", g)
			do := func(method, path string, body any) (int, map[string]any) {
				var rd *strings.Reader
				if body != nil {
					b, _ := json.Marshal(body)
					rd = strings.NewReader(string(b))
				} else {
					rd = strings.NewReader("")
				}
				req, _ := http.NewRequest(method, ts.srv.URL+"/api/v3.1"+path, rd)
				req.SetBasicAuth("admin", "admin")
				req.Header.Set("Tenant", "default_tenant")
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				res, err := client.Do(req)
				if err != nil {
					errs <- err.Error()
					return 0, nil
				}
				defer res.Body.Close()
				var m map[string]any
				b, _ := io.ReadAll(res.Body)
				_ = json.Unmarshal(b, &m)
				return res.StatusCode, m
			}
			if st, m := do("PUT", "/deployments/"+id, map[string]any{"blueprint_id": "redis-cache"}); st != 201 {
				errs <- fmt.Sprintf("%s create: %d %v", id, st, m)
				return
			}
			st, m := do("POST", "/executions", map[string]any{"deployment_id": id, "workflow_id": "install"})
			if st != 201 {
				errs <- fmt.Sprintf("%s install: %d %v", id, st, m)
				return
			}
			execID := m["id"].(string)
			for i := 0; i < 10; i++ {
				ts.clock.Advance(200 * time.Millisecond)
				do("GET", "/executions/"+execID, nil)
				do("GET", "/deployments?_size=5&_include=id,installation_status", nil)
				do("GET", "/deployments/"+id+"/capabilities", nil)
			}
			ts.sim.Tick()
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	ts.advance(time.Minute)
	infos := ts.sim.Deployments()
	if len(infos) != 50 {
		t.Fatalf("deployments = %d", len(infos))
	}
	for _, d := range infos {
		if d.InstallationStatus != "active" {
			t.Errorf("%s: %s", d.ID, d.InstallationStatus)
		}
	}
	if n := ts.sim.Stats().Requests["GET /executions/{id}"]; n != 50*10 {
		t.Errorf("GET /executions/{id} count = %d", n)
	}
}

func TestRealClockSyncCreate(t *testing.T) {
	sim := New(Config{LoadSamples: true, Durations: Durations{Pending: 5 * time.Millisecond,
		Workflows: map[string]time.Duration{"create_deployment_environment": 20 * time.Millisecond}}})
	ts := &tsim{t: t, sim: sim}
	ts.srv = newServer(t, sim)
	start := time.Now()
	d := ts.create("d", "required-input", map[string]any{"name": "x"}, false)
	if el := time.Since(start); el < 25*time.Millisecond {
		t.Errorf("sync create returned after %v, before the execution could end", el)
	}
	if d["latest_execution_status"] != "completed" {
		t.Errorf("deployment = %v", d)
	}
	r := ts.do("PUT", "/deployments/bad", map[string]any{"blueprint_id": "mariadb", "inputs": map[string]any{"admin_password": "x"}})
	expectError(t, r, 400, "deployment_creation_error", "at least 8 characters")
}
