// Command extbench measures the embedded broker from outside its process (make bench):
// it builds cfybroker and barehttp, starts `cfybroker serve` as an operator would (its own
// process, the built-in simulator, a fresh data directory) and a bare net/http server
// that answers the broker's own bytes (its own process), and puts wrk on both in
// alternating rounds of one run. The ratio of each round pair holds on a shared, noisy
// machine where absolute figures do not.
//
//	go run ./internal/devtools/cmd/extbench -out bin/bench/external.json -doc docs/benchmarks.md
//
// With -doc it writes its section into the report between the markers
// <!-- external:begin --> and <!-- external:end --> (after the targets table when they
// are absent). With -perf it records a CPU profile of the broker with perf(1) under wrk
// load and shows where the time goes. With -baseline it sets the figures of an earlier
// run (the same JSON) beside this one's.
//
// It is a developer tool: the shipped binaries link none of it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	user      = "broker"
	pass      = "extbench-pw"
	requestID = "9f1c2b7e-5d4a-4c3b-8a29-0e6f7d8c9b01"
)

type config struct {
	out, doc, baseline, handler string
	lifecycle                   string
	workDir                     string
	levels                      []string
	rounds                      int
	round                       time.Duration
	threads, conns              int
	perf                        time.Duration
}

func main() {
	var c config
	var levels string
	flag.StringVar(&c.out, "out", "bin/bench/external.json", "where to write the results (JSON)")
	flag.StringVar(&c.doc, "doc", "", "report to write the section into (e.g. docs/benchmarks.md); empty: none")
	flag.StringVar(&c.baseline, "baseline", "", "results of an earlier run (JSON) to show as \"before\"")
	flag.StringVar(&c.handler, "handler", "bin/bench/handler.txt", "go test -bench output to take allocations per request from (optional)")
	flag.StringVar(&c.lifecycle, "lifecycle", "bin/bench/lifecycle.json", "TestBenchLifecycle results to take DynamoDB reads per poll from (optional)")
	flag.StringVar(&c.workDir, "work", "bin/bench/ext", "directory for the binaries, data and logs")
	flag.StringVar(&levels, "levels", "info,warn", "broker log levels to measure, comma-separated (the first is the default level)")
	flag.IntVar(&c.rounds, "rounds", 8, "rounds per contender and request")
	flag.DurationVar(&c.round, "round", 3*time.Second, "length of one wrk round")
	flag.IntVar(&c.threads, "threads", 2, "wrk threads")
	flag.IntVar(&c.conns, "conns", 8, "wrk keep-alive connections")
	flag.DurationVar(&c.perf, "perf", 5*time.Second, "CPU profile of the broker under load with perf record (0: none)")
	flag.Parse()
	c.levels = strings.Split(levels, ",")
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "extbench:", err)
		os.Exit(1)
	}
}

// Results is what one run measured; -out writes it and -baseline reads it.
type Results struct {
	When       string  `json:"when"`
	Label      string  `json:"label,omitempty"`
	GoVersion  string  `json:"go_version"`
	CPU        string  `json:"cpu"`
	NumCPU     int     `json:"num_cpu"`
	LoadBefore string  `json:"load_before"`
	LoadAfter  string  `json:"load_after"`
	Wrk        string  `json:"wrk"`
	Threads    int     `json:"threads"`
	Conns      int     `json:"conns"`
	RoundSecs  float64 `json:"round_seconds"`
	Rounds     int     `json:"rounds"`
	Commit     string  `json:"commit,omitempty"`
	Levels     []Level `json:"levels"`
	// Allocs are bytes and allocations per request of the Go benchmarks (-handler).
	Allocs []Alloc `json:"allocs,omitempty"`
	// Dynamo is the AWS shape's DynamoDB use per last_operation poll (-lifecycle).
	Dynamo  *DynamoPolls `json:"dynamo,omitempty"`
	Profile *Profile     `json:"profile,omitempty"`
	// BareProfile is the bare server's profile under the same load, for comparison.
	BareProfile *Profile `json:"bare_profile,omitempty"`
}

// Level is the measurement at one broker log level.
type Level struct {
	Level     string     `json:"level"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one request, measured on both contenders.
type Endpoint struct {
	Name      string  `json:"name"`
	Path      string  `json:"path"`
	BodyBytes int     `json:"body_bytes"`
	Broker    []Round `json:"broker"`
	Bare      []Round `json:"bare"`
	// LogBytes is what the broker wrote to its log during its rounds.
	LogBytes int64 `json:"log_bytes"`
}

// Round is one wrk run.
type Round struct {
	Requests int64   `json:"requests"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	Errors   int64   `json:"errors"`
}

// DynamoPolls is what the AWS shape's last_operation polls read from DynamoDB in the
// 10-minute lifecycle of TestBenchLifecycle (polls that name their operation).
type DynamoPolls struct {
	Polls     int     `json:"polls"`
	Reads     int64   `json:"reads"`
	ReadUnits float64 `json:"read_units"`
	// Unnamed are the same polls sent again without ?operation= (a platform that
	// ignores OSB's operation field), as the lifecycle counts them apart.
	Unnamed *DynamoPolls `json:"unnamed,omitempty"`
}

// readDynamoPolls takes the last_operation row of the 10-minute lifecycle.
func readDynamoPolls(path string) *DynamoPolls {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	type counted struct {
		Kind      string  `json:"kind"`
		Count     int     `json:"count"`
		Reads     int64   `json:"dynamo_reads"`
		ReadUnits float64 `json:"read_units"`
	}
	var lc struct {
		Runs []struct {
			InstallSeconds int       `json:"install_seconds"`
			Requests       []counted `json:"requests"`
			UnnamedPolls   *counted  `json:"unnamed_polls"`
		} `json:"runs"`
	}
	if json.Unmarshal(b, &lc) != nil {
		return nil
	}
	for _, r := range lc.Runs {
		if r.InstallSeconds != 600 {
			continue
		}
		for _, q := range r.Requests {
			if q.Kind == "last_operation" && q.Count > 0 {
				d := &DynamoPolls{Polls: q.Count, Reads: q.Reads, ReadUnits: q.ReadUnits}
				if u := r.UnnamedPolls; u != nil && u.Count > 0 {
					d.Unnamed = &DynamoPolls{Polls: u.Count, Reads: u.Reads, ReadUnits: u.ReadUnits}
				}
				return d
			}
		}
	}
	return nil
}

// Alloc is one benchmark's memory figures.
type Alloc struct {
	Name   string  `json:"name"`
	Bytes  float64 `json:"bytes_per_op"`
	Allocs float64 `json:"allocs_per_op"`
	NsOp   float64 `json:"ns_per_op"`
}

// Profile is where the broker's CPU time went under load.
type Profile struct {
	Request string  `json:"request"`
	Seconds float64 `json:"seconds"`
	Samples int     `json:"samples"`
	// RPS is wrk's throughput during the recording: with Samples, the CPU time per
	// request.
	RPS    float64     `json:"rps"`
	Groups []ProfEntry `json:"groups"`
	Self   []ProfEntry `json:"self"`
	// bare is the bare server's profile of the same run (see Results.BareProfile).
	bare *Profile
}

// ProfEntry is a share of the samples.
type ProfEntry struct {
	Name    string  `json:"name"`
	Percent float64 `json:"percent"`
}

// perfFrequency is the sampling frequency of perf record: a sample stands for
// 1/perfFrequency s of CPU time.
const perfFrequency = 997

// MicrosPerRequest is the CPU time per request that a share of the samples stands
// for; 0 when unknown.
func (p *Profile) MicrosPerRequest(percent float64) float64 {
	if p == nil || p.RPS <= 0 || p.Seconds <= 0 {
		return 0
	}
	return percent / 100 * float64(p.Samples) / perfFrequency * 1e6 / (p.RPS * p.Seconds)
}

// group returns the share of the named group, -1 when the profile has none.
func (p *Profile) group(name string) float64 {
	if p == nil {
		return -1
	}
	for _, g := range p.Groups {
		if g.Name == name {
			return g.Percent
		}
	}
	return -1
}

func run(c config) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (make bench installs it from Debian: apt-get install -y wrk)")
	}
	if err := os.MkdirAll(c.workDir, 0o755); err != nil {
		return err
	}
	work, err := filepath.Abs(c.workDir)
	if err != nil {
		return err
	}
	brokerBin, bareBin := filepath.Join(work, "cfybroker"), filepath.Join(work, "barehttp")
	for bin, pkg := range map[string]string{brokerBin: "./cmd/cfybroker", bareBin: "./internal/devtools/cmd/barehttp"} {
		if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	res := Results{
		When: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPU: cpuModel(), NumCPU: runtime.NumCPU(),
		LoadBefore: loadAvg(), Wrk: wrkVersion(), Threads: c.threads, Conns: c.conns, RoundSecs: c.round.Seconds(), Rounds: c.rounds,
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		res.Commit = strings.TrimSpace(string(out))
	}
	for i, level := range c.levels {
		lv, prof, err := measureLevel(c, work, brokerBin, bareBin, level, i == 0 && c.perf > 0)
		if err != nil {
			return fmt.Errorf("log level %s: %w", level, err)
		}
		res.Levels = append(res.Levels, lv)
		if prof != nil {
			res.Profile, res.BareProfile = prof, prof.bare
		}
	}
	res.LoadAfter = loadAvg()
	if c.lifecycle != "" {
		res.Dynamo = readDynamoPolls(c.lifecycle)
	}
	if c.handler != "" {
		if b, err := os.ReadFile(c.handler); err == nil {
			res.Allocs = parseBench(b)
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(c.out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	var before *Results
	if c.baseline != "" {
		b, err := os.ReadFile(c.baseline)
		if err != nil {
			return err
		}
		before = new(Results)
		if err := json.Unmarshal(b, before); err != nil {
			return fmt.Errorf("baseline %s: %w", c.baseline, err)
		}
	}
	section := render(res, before)
	fmt.Print(section)
	if c.doc != "" {
		return splice(c.doc, section)
	}
	return nil
}

// process is a child process and where its output goes.
type process struct {
	cmd *exec.Cmd
	log string
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// measureLevel starts a broker at the log level and the bare server with its bodies,
// and measures every request in alternating rounds.
func measureLevel(c config, work, brokerBin, bareBin, level string, profile bool) (Level, *Profile, error) {
	lv := Level{Level: level}
	dir := filepath.Join(work, "level-"+level)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return lv, nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return lv, nil, err
	}
	logFile := filepath.Join(dir, "broker.log")
	lf, err := os.Create(logFile)
	if err != nil {
		return lv, nil, err
	}
	defer lf.Close()
	// As an operator runs it: serve with its defaults, the built-in simulator (sped up so
	// that the provision below ends in a second), only the level varies.
	cmd := exec.Command(brokerBin, "serve", "--cloudify-sim", "--listen", addr, "--data-dir", filepath.Join(dir, "data"),
		"--log-level", level, "--sim-speed", "100", "--poll-min", "100ms")
	cmd.Env = append(os.Environ(), "CFYBROKER_PASSWORD="+pass, "CFYBROKER_USERNAME="+user)
	cmd.Stderr, cmd.Stdout = lf, lf
	if err := cmd.Start(); err != nil {
		return lv, nil, err
	}
	broker := &process{cmd: cmd, log: logFile}
	defer broker.stop()
	base := "http://" + addr
	if err := waitOK(base + "/v2/catalog"); err != nil {
		return lv, nil, fmt.Errorf("broker did not start: %w (log %s)", err, logFile)
	}
	svc, plan, err := pickPlan(base)
	if err != nil {
		return lv, nil, err
	}
	op, err := provision(base, "ext-1", svc, plan)
	if err != nil {
		return lv, nil, err
	}
	lastOp := "/v2/service_instances/ext-1/last_operation"
	endpoints := []struct{ name, path, query string }{
		{"catalog", "/v2/catalog", ""},
		{"last_operation", lastOp, "?service_id=" + svc + "&plan_id=" + plan},
		{"last_operation ?operation=", lastOp, "?service_id=" + svc + "&plan_id=" + plan + "&operation=" + op},
	}
	var routeArgs []string
	bodies := map[string][]byte{}
	for i, ep := range endpoints {
		body, err := get(base + ep.path + ep.query)
		if err != nil {
			return lv, nil, err
		}
		bodies[ep.name] = body
		f := filepath.Join(dir, fmt.Sprintf("body-%d.json", i))
		if err := os.WriteFile(f, body, 0o644); err != nil {
			return lv, nil, err
		}
		routeArgs = append(routeArgs, "-route", ep.path+"="+f)
	}
	bare, bareAddr, err := startBare(bareBin, dir, routeArgs)
	if err != nil {
		return lv, nil, err
	}
	defer bare.stop()
	bareBase := "http://" + bareAddr
	for _, ep := range endpoints {
		out := Endpoint{Name: ep.name, Path: ep.path + ep.query, BodyBytes: len(bodies[ep.name])}
		bu, ru := base+ep.path+ep.query, bareBase+ep.path+ep.query
		// Warm both up (connections, caches, the broker's catalog TTL).
		if _, err := wrk(c, bu, time.Second); err != nil {
			return lv, nil, err
		}
		if _, err := wrk(c, ru, time.Second); err != nil {
			return lv, nil, err
		}
		for r := range c.rounds {
			runBroker := func() error {
				before := fileSize(logFile)
				rd, err := wrk(c, bu, c.round)
				out.Broker = append(out.Broker, rd)
				out.LogBytes += fileSize(logFile) - before
				return err
			}
			runBare := func() error {
				rd, err := wrk(c, ru, c.round)
				out.Bare = append(out.Bare, rd)
				return err
			}
			order := []func() error{runBroker, runBare}
			if r%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, f := range order {
				if err := f(); err != nil {
					return lv, nil, err
				}
			}
			b, bb := out.Broker[len(out.Broker)-1], out.Bare[len(out.Bare)-1]
			fmt.Fprintf(os.Stderr, "%s %s round %d: broker %.0f req/s (p50 %.3f p99 %.3f ms, %d errors), bare %.0f req/s (p50 %.3f p99 %.3f ms): %.2f×\n",
				level, ep.name, r+1, b.RPS, b.P50ms, b.P99ms, b.Errors, bb.RPS, bb.P50ms, bb.P99ms, b.RPS/bb.RPS)
			if b.Errors > 0 || bb.Errors > 0 {
				return lv, nil, fmt.Errorf("%s round %d: %d broker errors, %d bare errors", ep.name, r+1, b.Errors, bb.Errors)
			}
		}
		lv.Endpoints = append(lv.Endpoints, out)
	}
	var prof *Profile
	if profile {
		ep := endpoints[1]
		prof, err = perfProfile(c, dir, "broker", cmd.Process.Pid, base+ep.path+ep.query)
		if err != nil {
			fmt.Fprintln(os.Stderr, "extbench: no profile:", err)
			prof = nil
		} else {
			prof.Request = ep.name
			bp, err := perfProfile(c, dir, "bare", bare.cmd.Process.Pid, bareBase+ep.path+ep.query)
			if err != nil {
				fmt.Fprintln(os.Stderr, "extbench: no profile of the bare server:", err)
			} else {
				bp.Request = ep.name
				prof.bare = bp
			}
		}
	}
	return lv, prof, nil
}

func startBare(bin, dir string, routeArgs []string) (*process, string, error) {
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0"}, routeArgs...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	p := &process{cmd: cmd}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		p.stop()
		return nil, "", fmt.Errorf("barehttp: %q %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return p, addr, nil
}

// wrk runs one round and parses its report.
func wrk(c config, url string, d time.Duration) (Round, error) {
	args := []string{"-t", strconv.Itoa(c.threads), "-c", strconv.Itoa(c.conns), "-d", wrkSeconds(d), "--latency",
		"-H", "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)),
		"-H", "X-Broker-API-Version: 2.17", "-H", "X-Broker-API-Request-Identity: " + requestID, url}
	out, err := exec.Command("wrk", args...).CombinedOutput()
	if err != nil {
		return Round{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	return parseWrk(string(out))
}

// wrkSeconds renders d as wrk takes it: whole seconds, at least one.
func wrkSeconds(d time.Duration) string {
	return fmt.Sprintf("%ds", max(1, int(d.Round(time.Second)/time.Second)))
}

// parseWrk reads requests, requests/s, the 50th and 99th latency percentiles and the
// errors of a wrk --latency report.
func parseWrk(out string) (Round, error) {
	var r Round
	var haveRPS bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.RPS, _ = strconv.ParseFloat(f[1], 64)
			haveRPS = true
		case len(f) == 2 && f[0] == "50%":
			r.P50ms = wrkDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			r.P99ms = wrkDuration(f[1])
		case len(f) >= 2 && f[1] == "requests" && len(f) > 3 && f[2] == "in":
			r.Requests, _ = strconv.ParseInt(f[0], 10, 64)
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			r.Errors += atoiLast(f)
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			for i := 0; i+1 < len(f); i++ {
				if strings.HasSuffix(f[i+1], ",") || i+1 == len(f)-1 {
					if n, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64); err == nil && f[i] != "errors:" {
						r.Errors += n
					}
				}
			}
		}
	}
	if !haveRPS {
		return r, fmt.Errorf("wrk: no Requests/sec in %q", out)
	}
	return r, nil
}

func atoiLast(f []string) int64 {
	n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
	return n
}

// wrkDuration converts wrk's "123.45us", "1.23ms", "1.02s" to milliseconds.
func wrkDuration(s string) float64 {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 1e-3}, {"ms", 1}, {"m", 60e3}, {"s", 1e3}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f * u.ms
			}
		}
	}
	return 0
}

// perfProfile records the broker with perf while wrk loads url, and groups the samples.
func perfProfile(c config, dir, name string, pid int, url string) (*Profile, error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil, errors.New("perf is not installed")
	}
	data := filepath.Join(dir, name+"-perf.data")
	ctx, cancel := context.WithTimeout(context.Background(), c.perf+30*time.Second)
	defer cancel()
	load := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(c.threads), "-c", strconv.Itoa(c.conns),
		"-d", wrkSeconds(c.perf+2*time.Second),
		"-H", "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)),
		"-H", "X-Broker-API-Version: 2.17", "-H", "X-Broker-API-Request-Identity: "+requestID, url)
	var wrkOut bytes.Buffer
	load.Stdout, load.Stderr = &wrkOut, &wrkOut
	if err := load.Start(); err != nil {
		return nil, err
	}
	loadDone := false
	defer func() {
		if !loadDone {
			_ = load.Wait()
		}
	}()
	time.Sleep(time.Second)
	rec := exec.CommandContext(ctx, "perf", "record", "-q", "-F", strconv.Itoa(perfFrequency), "-g", "-p", strconv.Itoa(pid), "-o", data,
		"--", "sleep", strconv.FormatFloat(c.perf.Seconds(), 'f', -1, 64))
	if out, err := rec.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("perf record: %v\n%s", err, out)
	}
	loadDone = true
	if err := load.Wait(); err != nil {
		return nil, fmt.Errorf("wrk under perf: %v\n%s", err, wrkOut.Bytes())
	}
	round, err := parseWrk(wrkOut.String())
	if err != nil {
		return nil, err
	}
	p := &Profile{Seconds: c.perf.Seconds(), RPS: round.RPS}
	// Cumulative shares (a frame and everything it calls) of the frames that tell where
	// a request's time goes.
	children, samples, err := perfReport(data, true)
	if err != nil {
		return nil, err
	}
	// perf report's header rounds the count ("4K"); the figures per request need it exact.
	if exact, err := perfSamples(data); err == nil && exact > 0 {
		samples = exact
	}
	p.Samples = samples
	for _, g := range profileGroups {
		var best float64
		for name, pct := range children {
			for _, re := range g.frames {
				if re.MatchString(name) && pct > best {
					best = pct
				}
			}
		}
		p.Groups = append(p.Groups, ProfEntry{Name: g.name, Percent: best})
	}
	self, _, err := perfReport(data, false)
	if err != nil {
		return nil, err
	}
	for name, pct := range self {
		p.Self = append(p.Self, ProfEntry{Name: name, Percent: pct})
	}
	slices.SortFunc(p.Self, func(a, b ProfEntry) int {
		if a.Percent != b.Percent {
			if a.Percent > b.Percent {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(p.Self) > 15 {
		p.Self = p.Self[:15]
	}
	return p, nil
}

// profileGroups are the frames whose cumulative share the report shows: for each, the
// largest share of any frame whose symbol one of its patterns matches.
var profileGroups = []struct {
	name   string
	frames []*regexp.Regexp
}{
	{"net/http server: a connection's requests, all included", frames(`^net/http\.\(\*conn\)\.serve$`)},
	{"reading a request (net/http.(*conn).readRequest)", frames(`^net/http\.\(\*conn\)\.readRequest$`)},
	{"writing the response (bufio flush, write syscalls)", frames(`^net/http\.\(\*response\)\.finishRequest$`)},
	{"the handler, all included (net/http.serverHandler)", frames(`^net/http\.serverHandler\.ServeHTTP$`)},
	{"metrics middleware, its own work (route label, counter, histogram)", frames(`\(\*Metrics\)\.Middleware\.func\d+\.1$`)},
	{"routing (the OSB handler's match, any net/http.ServeMux)", frames(`^github\.com/cfybroker/cfybroker/internal/osb\.\(\*handler\)\.match$`, `^net/http\.\(\*ServeMux\)\.findHandler$`)},
	{"the OSB handler, all included (internal/osb serve)", frames(`^github\.com/cfybroker/cfybroker/internal/osb\.\(\*handler\)\.serve$`)},
	{"Basic auth (SHA-256 of the credentials)", frames(`^github\.com/cfybroker/cfybroker/internal/basicauth\.\(\*Verifier\)\.Authorized$`)},
	{"use case LastOperation (store read included)", frames(`^github\.com/cfybroker/cfybroker/internal/broker\.\(\*UseCases\)\.LastOperation$`)},
	{"store read (boltstore OperationStatus)", frames(`^github\.com/cfybroker/cfybroker/internal/store/boltstore\.\(\*DB\)\.OperationStatus$`)},
	{"bbolt read transactions (bbolt.(*DB).View)", frames(`^go\.etcd\.io/bbolt\.\(\*DB\)\.View$`)},
	{"encoding/json", frames(`^encoding/json\.(Unmarshal|Marshal)$`)},
	{"request log line (log/slog)", frames(`^log/slog\.\(\*Logger\)\.(LogAttrs|log)$`)},
	{"read and write deadlines (serve's timeouts, net/http's background read)", frames(`^internal/poll\.setDeadlineImpl$`)},
	{"garbage collection (background mark)", frames(`^runtime\.gcBgMarkWorker$`)},
	{"scheduler (runtime.schedule)", frames(`^runtime\.schedule$`)},
	{"runtime monitor thread (runtime.sysmon)", frames(`^runtime\.sysmon$`)},
}

func frames(patterns ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		out[i] = regexp.MustCompile(p)
	}
	return out
}

// perfReport returns the share of each symbol (children: cumulative, else self) and the
// number of samples.
func perfReport(data string, children bool) (map[string]float64, int, error) {
	args := []string{"report", "-i", data, "--stdio", "--sort", "sym", "-g", "none", "--percent-limit", "0.1"}
	if children {
		args = append(args, "--children")
	} else {
		args = append(args, "--no-children")
	}
	out, err := exec.Command("perf", args...).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("perf report: %w", err)
	}
	m := map[string]float64{}
	samples := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "# Samples:") {
			f := strings.Fields(line)
			if len(f) >= 3 {
				samples = int(parseCount(f[2]))
			}
			continue
		}
		if strings.HasPrefix(line, "#") || !strings.Contains(line, "%") {
			continue
		}
		f := strings.Fields(line)
		// children: "  12.34%   1.23%  [.] sym"; self: "  12.34%  [.] sym"
		i := slices.Index(f, "[.]")
		if i < 0 {
			i = slices.Index(f, "[k]")
		}
		if i < 1 || i+1 >= len(f) {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		name := strings.Join(f[i+1:], " ")
		if f[i] == "[k]" {
			name = "kernel: " + name
		}
		if pct > m[name] {
			m[name] = pct
		}
	}
	return m, samples, nil
}

// perfSamples returns the exact number of samples in a perf data file: the sum of
// perf report's sample counts by command.
func perfSamples(data string) (int, error) {
	out, err := exec.Command("perf", "report", "-i", data, "--stdio", "-n", "--sort", "comm", "-g", "none", "--no-children").Output()
	if err != nil {
		return 0, fmt.Errorf("perf report: %w", err)
	}
	return sumSampleCounts(string(out)), nil
}

// sumSampleCounts adds up the sample counts of perf report -n lines ("  99.80%  3994  comm").
func sumSampleCounts(report string) int {
	n := 0
	for _, line := range strings.Split(report, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") || !strings.HasSuffix(f[0], "%") {
			continue
		}
		if c, err := strconv.Atoi(f[1]); err == nil {
			n += c
		}
	}
	return n
}

// parseCount reads perf's sample counts: 12K, 3M, 123.
func parseCount(s string) float64 {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1e3, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	}
	v, _ := strconv.ParseFloat(s, 64)
	return v * mult
}

// parseBench reads the memory figures of a go test -bench -benchmem output, the median
// of the runs of each benchmark.
func parseBench(b []byte) []Alloc {
	pkg := ""
	runs := map[string][]Alloc{}
	var order []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(v), "github.com/cfybroker/cfybroker/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := pkg + " " + strings.TrimPrefix(trimProcs(f[0]), "Benchmark")
		a := Alloc{Name: name}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				a.NsOp = v
			case "B/op":
				a.Bytes = v
			case "allocs/op":
				a.Allocs = v
			}
		}
		if _, ok := runs[name]; !ok {
			order = append(order, name)
		}
		runs[name] = append(runs[name], a)
	}
	var out []Alloc
	for _, name := range order {
		rs := runs[name]
		med := func(get func(Alloc) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = get(r)
			}
			return median(v)
		}
		out = append(out, Alloc{Name: name, NsOp: med(func(a Alloc) float64 { return a.NsOp }),
			Bytes: med(func(a Alloc) float64 { return a.Bytes }), Allocs: med(func(a Alloc) float64 { return a.Allocs })})
	}
	return out
}

// trimProcs drops the -GOMAXPROCS suffix of a benchmark name.
func trimProcs(s string) string {
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i]
		}
	}
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratios returns each round pair's broker/bare ratio.
func (e Endpoint) ratios() []float64 {
	var r []float64
	for i := range min(len(e.Broker), len(e.Bare)) {
		if e.Bare[i].RPS > 0 {
			r = append(r, e.Broker[i].RPS/e.Bare[i].RPS)
		}
	}
	return r
}

func pick(rs []Round, f func(Round) float64) []float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return v
}

func rps(r Round) float64 { return r.RPS }
func p50(r Round) float64 { return r.P50ms }
func p99(r Round) float64 { return r.P99ms }

func (e Endpoint) requests() int64 {
	var n int64
	for _, r := range e.Broker {
		n += r.Requests
	}
	return n
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func newRequest(method, url, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.SetBasicAuth(user, pass)
	req.Header.Set("X-Broker-API-Version", "2.17")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func get(url string) ([]byte, error) {
	resp, err := http.DefaultClient.Do(newRequest(http.MethodGet, url, ""))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b, nil
}

func waitOK(url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := get(url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pickPlan returns the first plan of the mariadb sample service.
func pickPlan(base string) (string, string, error) {
	b, err := get(base + "/v2/catalog")
	if err != nil {
		return "", "", err
	}
	var cat struct {
		Services []struct {
			ID, Name string
			Plans    []struct{ ID string }
		}
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		return "", "", err
	}
	for _, s := range cat.Services {
		if s.Name == "mariadb" && len(s.Plans) > 0 {
			return s.ID, s.Plans[0].ID, nil
		}
	}
	return "", "", errors.New("no mariadb service in the catalog")
}

// provision provisions an instance and polls it until it succeeded; it returns the
// operation.
func provision(base, id, svc, plan string) (string, error) {
	body := `{"service_id":"` + svc + `","plan_id":"` + plan + `","organization_guid":"org","space_guid":"space","parameters":{"admin_password":"Passw0rd-x"}}`
	resp, err := http.DefaultClient.Do(newRequest(http.MethodPut, base+"/v2/service_instances/"+id+"?accepts_incomplete=true", body))
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("provision: %d %s", resp.StatusCode, b)
	}
	var pr struct{ Operation string }
	if err := json.Unmarshal(b, &pr); err != nil {
		return "", err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		b, err := get(base + "/v2/service_instances/" + id + "/last_operation?operation=" + pr.Operation)
		if err != nil {
			return "", err
		}
		var lo struct{ State string }
		if err := json.Unmarshal(b, &lo); err != nil {
			return "", err
		}
		switch lo.State {
		case "succeeded":
			return pr.Operation, nil
		case "failed":
			return "", fmt.Errorf("provision failed: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", errors.New("provision did not end in 2 minutes")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return ""
}

func wrkVersion() string {
	out, _ := exec.Command("wrk", "--version").CombinedOutput()
	line, _, _ := bytes.Cut(out, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) >= 2 {
		return f[0] + " " + f[1]
	}
	return "wrk"
}
