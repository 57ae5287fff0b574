package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
)

const (
	markBegin = "<!-- external:begin -->"
	markEnd   = "<!-- external:end -->"
)

// targets are the goals of the external measurement, at the default log level.
var targets = map[string]float64{"last_operation": 0.8, "last_operation ?operation=": 0.8, "catalog": 0.9}

// render writes the report section of a run, with an earlier run beside it when given.
func render(res Results, before *Results) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p(markBegin)
	p("## Throughput from outside the process (wrk)")
	p("")
	p("<!-- Written by `go run ./internal/devtools/cmd/extbench` (make bench); do not edit by hand. -->")
	p("")
	p("`cfybroker serve` built and started as an operator runs it (its own process, a fresh data directory, the built-in")
	p("simulator, the log on a file), against `barehttp` (`internal/devtools/cmd/barehttp`, its own process: a bare")
	p("net/http handler answering the broker's own bytes for the same path). `%s`, %d threads, %d keep-alive connections,",
		res.Wrk, res.Threads, res.Conns)
	p("rounds of %.0f s, %d per contender and request, broker and bare alternating (which goes first alternates too).",
		res.RoundSecs, res.Rounds)
	p("The load generator shares the machine's %d CPUs with both servers (and with whatever else runs): absolute figures",
		res.NumCPU)
	p("are the machine's, the ratio of each round pair is the broker's. Run at %s (commit %s), go %s, %s; load average",
		res.When, orDash(res.Commit), strings.TrimPrefix(res.GoVersion, "go"), res.CPU)
	p("%s before, %s after. The `last_operation` rows poll a provisioned instance's succeeded operation, without and",
		res.LoadBefore, res.LoadAfter)
	p("with `?operation=`. barehttp writes a body as a plain handler does, so net/http sends the catalog (larger than its")
	p("2 KB buffer) in chunks; the broker sends the catalog with its Content-Length.")
	p("")
	if before != nil {
		p("### Before and after")
		p("")
		p("Ratio to the bare handler: median of the round pairs (min–max). *Before* is the run of %s (commit %s,", before.When, orDash(before.Commit))
		p("load average %s), *after* this one.", before.LoadBefore)
		p("")
		p("| request | log level | before | after | target | verdict |")
		p("|---|---|---:|---:|---:|---|")
		for li, lv := range res.Levels {
			for _, ep := range lv.Endpoints {
				tgt, ok := targets[ep.Name]
				prev := findEndpoint(before, lv.Level, ep.Name)
				cell := "not measured"
				if prev != nil {
					cell = ratioCell(prev.ratios())
				}
				tc, verdict := "", ""
				if ok && li == 0 {
					tc = fmt.Sprintf("≥ %.1f×", tgt)
					verdict = "not met"
					if median(ep.ratios()) >= tgt {
						verdict = "**met**"
					}
				}
				p("| `%s` | %s | %s | %s | %s | %s |", ep.Name, levelName(lv.Level, li), cell, ratioCell(ep.ratios()), tc, verdict)
			}
		}
		p("")
		p("Latency under the same load (wrk's percentiles, medians of the rounds) and the log written per request:")
		p("")
		p("| request | log level | broker p50 / p99 ms before | after | bare p50 / p99 ms (this run) | log bytes/request before | after |")
		p("|---|---|---:|---:|---:|---:|---:|")
		for li, lv := range res.Levels {
			for _, ep := range lv.Endpoints {
				prev := findEndpoint(before, lv.Level, ep.Name)
				pb, lb := "not measured", "not measured"
				if prev != nil {
					pb, lb = latCell(prev.Broker), logCell(*prev)
				}
				p("| `%s` | %s | %s | %s | %s | %s | %s |", ep.Name, levelName(lv.Level, li), pb, latCell(ep.Broker), latCell(ep.Bare), lb, logCell(ep))
			}
		}
		p("")
		if len(before.Allocs) > 0 || len(res.Allocs) > 0 {
			p("Allocations per request (Go benchmarks, `-benchmem`, medians; see [Handler cost](#handler-cost)):")
			p("")
			p("| benchmark | B/request before | after | allocs/request before | after |")
			p("|---|---:|---:|---:|---:|")
			var names []string
			for _, a := range res.Allocs {
				if strings.Contains(a.Name, "LastOperation") || strings.Contains(a.Name, "last_operation") ||
					strings.Contains(a.Name, "Catalog") || strings.Contains(a.Name, "catalog") {
					names = append(names, a.Name)
				}
			}
			for _, name := range names {
				now := findAlloc(res.Allocs, name)
				prev := findAlloc(before.Allocs, name)
				pb, pa := "–", "–"
				if prev != nil {
					pb, pa = fmt.Sprintf("%.0f", prev.Bytes), fmt.Sprintf("%.0f", prev.Allocs)
				}
				p("| `%s` | %s | %.0f | %s | %.0f |", name, pb, now.Bytes, pa, now.Allocs)
			}
			p("")
		}
	}
	if d := res.Dynamo; d != nil {
		p("**AWS shape:** the 10-minute lifecycle's %d `last_operation` polls (they name their operation, as OSB", d.Polls)
		p("requires) made %d DynamoDB reads, **%.2f per poll**, %.1f read units (%.2f per poll: eventually consistent", d.Reads, perPoll(d), d.ReadUnits, unitsPerPoll(d))
		p("reads bill half a unit).")
		if u := d.Unnamed; u != nil {
			p("The same polls sent again without `?operation=` (as a platform that ignores the field would; counted apart, not in")
			p("the lifecycle's costs, and answered the same bytes) made %d reads, **%.2f per poll**, %.1f read units (%.2f per", u.Reads, perPoll(u), u.ReadUnits, unitsPerPoll(u))
			p("poll): one consistent Query of the partition of the operation the api function last found current, which also")
			p("holds its successor item once the instance names another operation; the first such poll of an instance in a")
			p("process, and the first after its operation changed, read the instance and the operation as well.")
		}
		p("Counted by `dynamostore.Stats()`; `dynamostore.Table.OperationStatus` says where eventual consistency is correct and")
		p("where it is not.")
		if b := before; b != nil && b.Dynamo != nil {
			unnamed := "two reads, the instance then its operation (not measured then)"
			if u := b.Dynamo.Unnamed; u != nil {
				unnamed = fmt.Sprintf("%.2f reads and %.2f units per poll", perPoll(u), unitsPerPoll(u))
			}
			p("Before: %.2f reads and %.2f units per poll with `?operation=`; without, %s.", perPoll(b.Dynamo), unitsPerPoll(b.Dynamo), unnamed)
		}
		p("")
	}
	p("### This run")
	p("")
	p("| request | log level | body bytes | broker req/s | bare req/s | ratio (min–max) | broker p50 / p99 ms | bare p50 / p99 ms | log bytes/request |")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for li, lv := range res.Levels {
		for _, ep := range lv.Endpoints {
			p("| `%s` | %s | %d | %.0f | %.0f | %s | %s | %s | %s |", ep.Name, levelName(lv.Level, li), ep.BodyBytes,
				median(pick(ep.Broker, rps)), median(pick(ep.Bare, rps)), ratioCell(ep.ratios()),
				latCell(ep.Broker), latCell(ep.Bare), logCell(ep))
		}
	}
	p("")
	p("Round by round (broker/bare):")
	p("")
	for li, lv := range res.Levels {
		for _, ep := range lv.Endpoints {
			var cells []string
			for _, r := range ep.ratios() {
				cells = append(cells, fmt.Sprintf("%.2f", r))
			}
			p("- `%s`, %s: %s", ep.Name, levelName(lv.Level, li), strings.Join(cells, ", "))
		}
	}
	p("")
	p("**Why the in-process figures above differ.** [The load test](#throughput-and-latency-under-load) runs the broker,")
	p("the bare handler and a Go load generator in one process: the generator's own HTTP client (a request built,")
	p("written and parsed per call, goroutines, garbage) costs more CPU than either server, and it is the same for both")
	p("contenders, so it dilutes the difference between them towards 1×; both servers also share one garbage collector")
	p("and scheduler with it. wrk is a small C program that spends little per request, so the servers' own costs decide")
	p("the throughput, which makes the ratio stricter. Both keep the machine's noise out of the ratio only as far as")
	p("the rounds alternate.")
	if pr := res.Profile; pr != nil {
		bare := res.BareProfile
		p("")
		p("### Where the broker's time goes")
		p("")
		p("`perf record -F %d -g` on the broker process for %.0f s while wrk (as above) polls `%s` at the default level", perfFrequency,
			pr.Seconds, pr.Request)
		p("(%d samples, %.0f requests/s), then on the bare server under the same load%s. *Cumulative* includes what a frame", pr.Samples, pr.RPS, bareSamples(bare))
		p("calls; *µs/request* is the CPU time its samples stand for, divided by the requests wrk completed meanwhile.")
		p("")
		p("| frame | broker, cumulative | broker µs/request | bare µs/request |")
		p("|---|---:|---:|---:|")
		for _, g := range pr.Groups {
			bc := "–"
			if v := bare.group(g.Name); v >= 0 {
				bc = fmt.Sprintf("%.2f", bare.MicrosPerRequest(v))
			}
			p("| %s | %.1f%% | %.2f | %s |", g.Name, g.Percent, pr.MicrosPerRequest(g.Percent), bc)
		}
		p("")
		p("What the two processes do alike (reading the request, writing the response, the kernel's TCP) shows how far the")
		p("machine's noise moves the figures between the two recordings; the rest is the broker's own: its handler (the")
		p("metrics middleware, the OSB checks, the use case and its store read from memory, the request log line at DEBUG")
		p("for repeated polls), its deadlines, and the runtime work of a larger process.")
		p("")
		p("The deadlines are serve's server timeouts, kept: ReadHeaderTimeout 10 s, ReadTimeout 1 min and WriteTimeout 2 min")
		p("(idle connections: ReadTimeout), which net/http applies by moving each connection's read and write deadlines")
		p("several times per request (the bare server sets none, and pays only net/http's own background-read deadlines).")
		p("ReadHeaderTimeout and IdleTimeout alone would leave a request body sent slowly and a client that stops reading its")
		p("answers without bound, which is not the same protection. A listener wrapper that applied each later deadline only")
		p("when the earlier one fired (exact, fewer runtime timer changes) saved about a third of that row in a trial, less")
		p("than the run-to-run noise of the ratio, and was not adopted.")
		p("")
		p("Most samples by the function that was running (self):")
		p("")
		p("| function | self |")
		p("|---|---:|")
		for _, s := range pr.Self {
			p("| `%s` | %.1f%% |", strings.ReplaceAll(s.Name, "|", "\\|"), s.Percent)
		}
	}
	p(markEnd)
	return b.String()
}

func perPoll(d *DynamoPolls) float64      { return float64(d.Reads) / float64(d.Polls) }
func unitsPerPoll(d *DynamoPolls) float64 { return d.ReadUnits / float64(d.Polls) }

// bareSamples says how many samples the bare server's profile holds, if there is one.
func bareSamples(bare *Profile) string {
	if bare == nil {
		return " (not recorded)"
	}
	return fmt.Sprintf(" (%d samples, %.0f requests/s)", bare.Samples, bare.RPS)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func levelName(level string, i int) string {
	if i == 0 {
		return level + " (default)"
	}
	return level
}

func ratioCell(r []float64) string {
	if len(r) == 0 {
		return "–"
	}
	return fmt.Sprintf("**%.2f×** (%.2f–%.2f)", median(r), slices.Min(r), slices.Max(r))
}

func latCell(rs []Round) string {
	if len(rs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f / %.3f", median(pick(rs, p50)), median(pick(rs, p99)))
}

func logCell(ep Endpoint) string {
	n := ep.requests()
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(ep.LogBytes)/float64(n))
}

func findEndpoint(r *Results, level, name string) *Endpoint {
	for _, lv := range r.Levels {
		if lv.Level != level {
			continue
		}
		for i := range lv.Endpoints {
			if lv.Endpoints[i].Name == name {
				return &lv.Endpoints[i]
			}
		}
	}
	return nil
}

func findAlloc(as []Alloc, name string) *Alloc {
	for i := range as {
		if as[i].Name == name {
			return &as[i]
		}
	}
	return nil
}

// splice puts the section into the report: over the previous one between the markers,
// else before the handler cost section, else at the end.
func splice(path, section string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out []byte
	if i, j := bytes.Index(doc, []byte(markBegin)), bytes.Index(doc, []byte(markEnd)); i >= 0 && j > i {
		out = append(append(append(out, doc[:i]...), section...), bytes.TrimLeft(doc[j+len(markEnd):], "\n")...)
		out = fixBlank(out, i+len(section))
	} else if k := bytes.Index(doc, []byte("\n## Handler cost")); k >= 0 {
		out = append(append(append(out, doc[:k+1]...), section...), '\n')
		out = append(out, doc[k+1:]...)
	} else {
		out = append(append(append(doc, '\n'), section...), '\n')
	}
	return os.WriteFile(path, out, 0o644)
}

// fixBlank keeps one blank line after the section's end marker.
func fixBlank(b []byte, at int) []byte {
	if at < len(b) {
		return append(append(b[:at:at], '\n'), b[at:]...)
	}
	return b
}
