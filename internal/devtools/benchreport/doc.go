// Package benchreport writes the benchmark report (docs/benchmarks.md) and its plot
// from the results that make bench collects: the JSON documents of the bench tests,
// whose types it defines (Machine, LoadResult, LifecycleResult, ...), the
// go test -bench output, read with golang.org/x/perf/benchfmt, and the functions'
// memory, read from the synthesized CloudFormation template. The plot is drawn with
// gonum.org/v1/plot.
//
// It is a developer tool (internal/devtools/cmd/bench-report): the shipped binaries
// link none of it.
package benchreport
