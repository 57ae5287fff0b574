package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The bench tests (TestBench*) measure what docs/benchmarks.md reports. They run from
// `make bench` only: each one skips unless CFYBROKER_BENCH_DIR names the directory
// that receives its JSON results, which `internal/devtools/cmd/bench-report` then turns into
// the report. Every load they make is bounded in count and time, on loopback only.

// benchDir returns the results directory, skipping the test when none is set.
func benchDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CFYBROKER_BENCH_DIR")
	if dir == "" {
		t.Skip("a bench measurement: runs from `make bench` (set CFYBROKER_BENCH_DIR)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// benchWriteJSON writes v as dir/name.
func benchWriteJSON(t *testing.T, dir, name string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", filepath.Join(dir, name))
}

// benchPercentile returns the p-th percentile (0..1) of sorted durations, in ms.
func benchPercentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1)*p + 0.5)
	return float64(sorted[i]) / float64(time.Millisecond)
}

func benchSortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

// benchProcStatusKiB reads a "Vm...:" line of /proc/<pid>/status, in KiB (0 if absent).
func benchProcStatusKiB(pid, field string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// benchRepoRoot is the repository root (the tests run in cmd/cfybroker).
func benchRepoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}
