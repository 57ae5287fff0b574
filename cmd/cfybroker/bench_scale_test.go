package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/devtools/benchreport"
)

// Scale test parameters.
const (
	benchScaleInstances     = 1000
	benchScaleClients       = 50                     // provisions sent at once
	benchScaleInstall       = time.Minute            // simulated install of every instance
	benchScaleSpeed         = 10                     // newE2E's simulator clock runs this much faster
	benchScalePollMin       = 200 * time.Millisecond // serve's 2 s, at the simulator's speed
	benchScaleRunnerWorkers = 16                     // serve's --concurrency default
	benchScalePollEvery     = 2 * time.Second        // the platform's polling, per instance
	benchScaleTimeout       = 5 * time.Minute
)

const benchScaleChildEnv = "CFYBROKER_BENCH_SCALE_CHILD"

// TestBenchScale provisions 1,000 instances at once in the embedded shape (startServer
// through the e2e harness) against the simulator, and polls their last_operation until
// every one has ended. It runs in a child process (this test binary, run again) so
// that the peak memory it reports is that of this work alone.
func TestBenchScale(t *testing.T) {
	dir := benchDir(t)
	if os.Getenv(benchScaleChildEnv) != "" {
		benchScaleChild(t, dir)
		return
	}
	_ = os.Remove(filepath.Join(dir, benchreport.FileScale))
	ctx, cancel := context.WithTimeout(context.Background(), benchScaleTimeout+time.Minute)
	defer cancel()
	// Not -test.v: the e2e harness would keep every log line of the broker in memory.
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBenchScale$", "-test.timeout="+(benchScaleTimeout+30*time.Second).String())
	cmd.Env = append(os.Environ(), benchScaleChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scale child: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, benchreport.FileScale))
	if err != nil {
		t.Fatalf("the scale child wrote no results: %v\n%s", err, out)
	}
	t.Logf("%s", b)
}

func benchScaleChild(t *testing.T, dir string) {
	e := newE2E(t, "7.0.4")
	e.stop()
	// Log as serve does (one formatted line per request and per event), written nowhere.
	e.logTo = slog.New(slog.NewTextHandler(io.Discard, nil))
	e.sim.SetDuration("mariadb", "install", benchScaleInstall)
	e.cfg.Concurrency = benchScaleRunnerWorkers
	e.cfg.PollMin = benchScalePollMin
	e.cfg.DefaultDeadline = time.Hour
	e.start()
	svc, plan := e.plan("mariadb")
	res := benchreport.ScaleResult{
		Instances: benchScaleInstances, ClientConcurrency: benchScaleClients, RunnerConcurrency: benchScaleRunnerWorkers,
		InstallSeconds: benchScaleInstall.Seconds(), SimSpeed: benchScaleSpeed, PollMinMs: benchScalePollMin.Milliseconds(),
		BaselineRSSBytes: benchProcStatusKiB("self", "VmRSS") * 1024,
	}
	simBefore := e.sim.Stats().TotalRequests

	// Sample the Go heap while the work runs.
	var peakHeap atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peakHeap.Load() {
				peakHeap.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	start := time.Now()
	deadline := start.Add(benchScaleTimeout)
	ops := make([]*osbc.OperationKey, benchScaleInstances)
	var errs atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range benchScaleClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= benchScaleInstances || time.Now().After(deadline) {
					return
				}
				resp, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{
					InstanceID: "scale-" + strconv.Itoa(i), AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
					OrganizationGUID: "org", SpaceGUID: "space", Parameters: map[string]any{"admin_password": "Passw0rd-x"},
				})
				if err != nil || !resp.Async {
					errs.Add(1)
					continue
				}
				ops[i] = resp.OperationKey
			}
		}()
	}
	wg.Wait()
	res.AcceptSeconds = time.Since(start).Seconds()

	// The platform: every benchScalePollEvery, ask each unfinished instance.
	pending := map[int]bool{}
	for i, op := range ops {
		if op != nil {
			pending[i] = true
		}
	}
	var polls atomic.Int64
	var mu sync.Mutex
	for len(pending) > 0 && time.Now().Before(deadline) {
		round := time.Now()
		ids := make(chan int)
		var pw sync.WaitGroup
		for range 8 {
			pw.Add(1)
			go func() {
				defer pw.Done()
				for i := range ids {
					polls.Add(1)
					resp, err := e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: "scale-" + strconv.Itoa(i), OperationKey: ops[i]})
					if err != nil {
						errs.Add(1)
						continue
					}
					if resp.State == osbc.StateInProgress {
						continue
					}
					mu.Lock()
					delete(pending, i)
					if resp.State == osbc.StateSucceeded {
						res.Succeeded++
					} else {
						res.Failed++
					}
					mu.Unlock()
				}
			}()
		}
		mu.Lock()
		todo := make([]int, 0, len(pending))
		for i := range pending {
			todo = append(todo, i)
		}
		mu.Unlock()
		for _, i := range todo {
			ids <- i
		}
		close(ids)
		pw.Wait()
		if len(pending) > 0 {
			time.Sleep(time.Until(round.Add(benchScalePollEvery)))
		}
	}
	res.WallSeconds = time.Since(start).Seconds()
	close(stop)
	<-sampled
	res.Unfinished = len(pending)
	res.Errors = int(errs.Load())
	res.LastOperations = int(polls.Load())
	res.PeakRSSBytes = benchProcStatusKiB("self", "VmHWM") * 1024
	res.PeakHeapBytes = peakHeap.Load()
	res.CloudifyCalls = e.sim.Stats().TotalRequests - simBefore
	for _, d := range e.liveDeployments() {
		if d.InstallationStatus == "active" {
			res.LiveDeployments++
		}
	}
	t.Logf("%d instances: accepted in %.1fs, all ended in %.1fs: %d succeeded, %d failed, %d unfinished, %d errors; peak RSS %d MiB, peak heap %d MiB; %d Cloudify calls; %d active deployments",
		res.Instances, res.AcceptSeconds, res.WallSeconds, res.Succeeded, res.Failed, res.Unfinished, res.Errors,
		res.PeakRSSBytes>>20, res.PeakHeapBytes>>20, res.CloudifyCalls, res.LiveDeployments)
	benchWriteJSON(t, dir, benchreport.FileScale, res)
	if res.Succeeded != benchScaleInstances {
		t.Errorf("%d of %d instances succeeded", res.Succeeded, benchScaleInstances)
	}
}
