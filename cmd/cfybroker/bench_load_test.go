package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/devtools/benchreport"
)

// Load test parameters: every round is bounded in time and in count.
const (
	benchLoadConcurrency = 8
	benchLoadRoundTime   = 500 * time.Millisecond
	benchLoadRounds      = 16
	benchLoadMaxRequests = 200_000
	benchLoadWarmup      = 500 * time.Millisecond
)

// TestBenchLoad puts catalog and last_operation requests on `cfybroker serve` (the
// embedded wiring of startServer, through the e2e harness) over loopback, and on a
// bare net/http handler that answers a body of the same size, in alternating rounds
// of the same run, so that the ratio of the two holds on a shared, noisy machine.
func TestBenchLoad(t *testing.T) {
	dir := benchDir(t)
	benchWriteJSON(t, dir, benchreport.FileMachine, benchMachineInfo())

	e := newE2E(t, "7.0.4")
	// Log as serve does (one formatted info line per request), written nowhere.
	e.stop()
	e.logTo = slog.New(slog.NewTextHandler(io.Discard, nil))
	e.start()

	svc, plan := e.plan("mariadb")
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{
		InstanceID: "load-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "org", SpaceGUID: "space", Parameters: map[string]any{"admin_password": "Passw0rd-x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.poll("load-1", prov.OperationKey)
	mustSucceed(t, resp, err)

	hdr := http.Header{}
	hdr.Set("X-Broker-API-Version", "2.17")
	hdr.Set("X-Broker-API-Request-Identity", "9f1c2b7e-5d4a-4c3b-8a29-0e6f7d8c9b01")
	hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPass)))
	endpoints := []struct{ name, path string }{
		{"catalog", "/v2/catalog"},
		{"last_operation", fmt.Sprintf("/v2/service_instances/load-1/last_operation?service_id=%s&plan_id=%s&operation=%s", svc, plan, *prov.OperationKey)},
	}
	// The bare handler answers each path with the broker's own body and content type.
	bodies := map[string][]byte{}
	for _, ep := range endpoints {
		bodies[strings.SplitN(ep.path, "?", 2)[0]] = benchGet(t, e.url+ep.path, hdr)
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(bodies[r.URL.Path])
	}))
	t.Cleanup(bare.Close)

	res := benchreport.LoadResult{Concurrency: benchLoadConcurrency, RoundSeconds: benchLoadRoundTime.Seconds(), MaxRequests: benchLoadMaxRequests}
	for _, ep := range endpoints {
		out := benchreport.LoadEndpoint{Name: ep.name, Path: strings.SplitN(ep.path, "?", 2)[0], BodyBytes: len(bodies[strings.SplitN(ep.path, "?", 2)[0]])}
		brokerURL, bareURL := e.url+ep.path, bare.URL+ep.path
		benchHammer(brokerURL, hdr, benchLoadConcurrency, benchLoadWarmup, benchLoadMaxRequests)
		benchHammer(bareURL, hdr, benchLoadConcurrency, benchLoadWarmup, benchLoadMaxRequests)
		for round := range benchLoadRounds {
			runBroker := func() {
				before := e.sim.Stats().TotalRequests
				out.Broker = append(out.Broker, benchHammer(brokerURL, hdr, benchLoadConcurrency, benchLoadRoundTime, benchLoadMaxRequests))
				out.CloudifyCalls += e.sim.Stats().TotalRequests - before
			}
			runBare := func() {
				out.Bare = append(out.Bare, benchHammer(bareURL, hdr, benchLoadConcurrency, benchLoadRoundTime, benchLoadMaxRequests))
			}
			if round%2 == 0 {
				runBroker()
				runBare()
			} else {
				runBare()
				runBroker()
			}
			b, r := out.Broker[len(out.Broker)-1], out.Bare[len(out.Bare)-1]
			t.Logf("%s round %d: broker %.0f req/s (p50 %.2f ms, p99 %.2f ms, %d errors), bare %.0f req/s (p50 %.2f ms, p99 %.2f ms)",
				ep.name, round+1, b.RPS, b.P50ms, b.P99ms, b.Errors, r.RPS, r.P50ms, r.P99ms)
			if b.Errors > 0 || r.Errors > 0 {
				t.Errorf("%s round %d: %d broker errors, %d bare errors", ep.name, round+1, b.Errors, r.Errors)
			}
		}
		if out.CloudifyCalls != 0 {
			t.Errorf("%s: %d Cloudify calls during the load, want 0", ep.name, out.CloudifyCalls)
		}
		res.Endpoints = append(res.Endpoints, out)
	}
	benchWriteJSON(t, dir, benchreport.FileLoad, res)
}

// benchGet fetches url once and checks it answers 200.
func benchGet(t *testing.T, url string, hdr http.Header) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header = hdr.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, body, err)
	}
	return body
}

// benchHammer sends GET url from conc keep-alive connections until d has passed or
// max requests were sent, and measures each request.
func benchHammer(url string, hdr http.Header, conc int, d time.Duration, max int) benchreport.LoadRound {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var sent, errs atomic.Int64
	lat := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil && sent.Add(1) <= int64(max) {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header = hdr
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			lat[w] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	benchSortDurations(all)
	return benchreport.LoadRound{
		Requests: len(all), Errors: int(errs.Load()), Seconds: elapsed.Seconds(),
		RPS:   float64(len(all)) / elapsed.Seconds(),
		P50ms: benchPercentile(all, 0.50), P99ms: benchPercentile(all, 0.99),
	}
}

// benchMachineInfo describes this machine and run.
func benchMachineInfo() benchreport.Machine {
	m := benchreport.Machine{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), When: time.Now().UTC().Format(time.RFC3339),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}
