package main

import (
	"os"
	"strings"
	"testing"
)

// A wrk 4.1 --latency report, as this tool reads it.
const wrkReport = `Running 3s test @ http://127.0.0.1:40000/v2/catalog
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   310.12us    1.02ms  40.11ms   98.51%
    Req/Sec    13.10k     1.90k   16.02k    71.67%
  Latency Distribution
     50%  187.00us
     75%  250.00us
     90%  401.00us
     99%    3.25ms
  78210 requests in 3.00s, 1.09GB read
  Socket errors: connect 0, read 2, write 1, timeout 0
  Non-2xx or 3xx responses: 5
Requests/sec:  26069.81
Transfer/sec:    372.40MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	want := Round{Requests: 78210, RPS: 26069.81, P50ms: 0.187, P99ms: 3.25, Errors: 8}
	if r != want {
		t.Errorf("parseWrk = %+v, want %+v", r, want)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Error("parseWrk of a failed run: no error")
	}
}

func TestParseBench(t *testing.T) {
	out := strings.Join([]string{
		"goos: linux",
		"pkg: github.com/cfybroker/cfybroker/internal/broker",
		"BenchmarkEmbeddedHandler/last_operation-2  	  100	  2100 ns/op	  32 B/op	  2 allocs/op",
		"BenchmarkEmbeddedHandler/last_operation-2  	  100	  2500 ns/op	  40 B/op	  3 allocs/op",
		"BenchmarkEmbeddedHandler/last_operation-2  	  100	  2300 ns/op	  32 B/op	  2 allocs/op",
		"pkg: github.com/cfybroker/cfybroker/internal/osb",
		"BenchmarkCatalog-2 	 100	 1500 ns/op	 40 B/op	 2 allocs/op",
	}, "\n")
	got := parseBench([]byte(out))
	want := []Alloc{
		{Name: "internal/broker EmbeddedHandler/last_operation", NsOp: 2300, Bytes: 32, Allocs: 2},
		{Name: "internal/osb Catalog", NsOp: 1500, Bytes: 40, Allocs: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("parseBench = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("parseBench[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRatiosAndMedian(t *testing.T) {
	ep := Endpoint{
		Broker: []Round{{RPS: 80}, {RPS: 90}, {RPS: 50}},
		Bare:   []Round{{RPS: 100}, {RPS: 100}, {RPS: 100}},
	}
	r := ep.ratios()
	if len(r) != 3 || r[0] != 0.8 || r[1] != 0.9 || r[2] != 0.5 {
		t.Errorf("ratios = %v", r)
	}
	if m := median(r); m != 0.8 {
		t.Errorf("median = %v, want 0.8", m)
	}
	if m := median([]float64{1, 2, 3, 4}); m != 2.5 {
		t.Errorf("median of four = %v, want 2.5", m)
	}
}

func TestSplice(t *testing.T) {
	path := t.TempDir() + "/report.md"
	doc := "# Benchmarks\n\n## Targets\n\nt\n\n## Handler cost\n\nh\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	first := markBegin + "\n## Outside\n\none\n" + markEnd + "\n"
	if err := splice(path, first); err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\n## Targets\n\nt\n\n" + first + "\n## Handler cost\n\nh\n"
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Errorf("first splice:\n%s\nwant:\n%s", got, want)
	}
	// A second run replaces the section in place.
	second := markBegin + "\n## Outside\n\ntwo\n" + markEnd + "\n"
	if err := splice(path, second); err != nil {
		t.Fatal(err)
	}
	want = "# Benchmarks\n\n## Targets\n\nt\n\n" + second + "\n## Handler cost\n\nh\n"
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Errorf("second splice:\n%q\nwant:\n%q", got, want)
	}
}

func TestMicrosPerRequest(t *testing.T) {
	// 997 samples in 2 s are 1 s of CPU; 10,000 requests/s for 2 s: 50 µs each.
	p := &Profile{Samples: perfFrequency, Seconds: 2, RPS: 10_000}
	if got := p.MicrosPerRequest(100); got < 49.999 || got > 50.001 {
		t.Errorf("MicrosPerRequest(100%%) = %v, want 50", got)
	}
	if got := p.MicrosPerRequest(10); got < 4.999 || got > 5.001 {
		t.Errorf("MicrosPerRequest(10%%) = %v, want 5", got)
	}
	var none *Profile
	if none.MicrosPerRequest(50) != 0 || none.group("x") != -1 {
		t.Error("a nil profile has figures")
	}
}

func TestReadDynamoPolls(t *testing.T) {
	path := t.TempDir() + "/lifecycle.json"
	doc := `{"runs": [
	  {"install_seconds": 60, "requests": [{"kind": "last_operation", "count": 5, "dynamo_reads": 5, "read_units": 2.5}]},
	  {"install_seconds": 600, "requests": [{"kind": "provision", "count": 1, "dynamo_reads": 1},
	    {"kind": "last_operation", "count": 79, "dynamo_reads": 79, "read_units": 39.5}],
	   "unnamed_polls": {"kind": "last_operation without operation", "count": 79, "dynamo_reads": 81, "read_units": 81}}]}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	got := readDynamoPolls(path)
	if got == nil || got.Polls != 79 || got.Reads != 79 || got.ReadUnits != 39.5 ||
		got.Unnamed == nil || *got.Unnamed != (DynamoPolls{Polls: 79, Reads: 81, ReadUnits: 81}) {
		t.Errorf("readDynamoPolls = %+v (unnamed %+v)", got, got.Unnamed)
	}
}

// TestProfileGroups: the patterns match the symbols perf reports for the frames.
func TestProfileGroups(t *testing.T) {
	for name, symbol := range map[string]string{
		"metrics middleware, its own work (route label, counter, histogram)": "main.startServer.(*Metrics).Middleware.func15.1",
		"routing (the OSB handler's match, any net/http.ServeMux)":           "github.com/cfybroker/cfybroker/internal/osb.(*handler).match",
		"the OSB handler, all included (internal/osb serve)":                 "github.com/cfybroker/cfybroker/internal/osb.(*handler).serve",
		"Basic auth (SHA-256 of the credentials)":                            "github.com/cfybroker/cfybroker/internal/basicauth.(*Verifier).Authorized",
		"the handler, all included (net/http.serverHandler)":                 "net/http.serverHandler.ServeHTTP",
	} {
		found := false
		for _, g := range profileGroups {
			if g.name != name {
				continue
			}
			found = true
			matched := false
			for _, re := range g.frames {
				matched = matched || re.MatchString(symbol)
			}
			if !matched {
				t.Errorf("%s: %q does not match", name, symbol)
			}
		}
		if !found {
			t.Errorf("no group %q", name)
		}
	}
	// The middleware's own work is its deferred function, not the middleware and the
	// handlers it calls.
	for _, g := range profileGroups {
		for _, re := range g.frames {
			if strings.HasPrefix(g.name, "metrics") && re.MatchString("main.startServer.(*Metrics).Middleware.func15") {
				t.Errorf("%s matches the whole middleware", g.name)
			}
		}
	}
}

func TestSumSampleCounts(t *testing.T) {
	report := "# Samples: 4K of event 'cpu-clock:pppH'\n#\n# Overhead  Samples  Command\n    99.80%          4594  cfybroker\n     0.20%             9  perf-exec\n\n"
	if n := sumSampleCounts(report); n != 4603 {
		t.Errorf("sumSampleCounts = %d, want 4603", n)
	}
}
