// Command bench-report writes docs/benchmarks.md and its plot from the results that
// make bench collects (bin/bench: the JSON of the bench tests and the go test -bench
// output), with the functions' memory read from the templates of make synth (cdk.out).
// It measures nothing itself: a missing result is reported as not measured.
//
//	go run ./internal/devtools/cmd/bench-report -in bin/bench -out docs/benchmarks.md -templates cdk.out
//
// It is a developer tool: the shipped binaries link none of it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cfybroker/cfybroker/internal/devtools/benchreport"
)

func main() {
	var opts benchreport.Options
	flag.StringVar(&opts.In, "in", filepath.Join("bin", "bench"), "directory of the results that make bench collected")
	flag.StringVar(&opts.Out, "out", filepath.Join("docs", "benchmarks.md"), "report to write; the plot is written beside it")
	flag.StringVar(&opts.Templates, "templates", "cdk.out", "directory of the synthesized CloudFormation templates (make synth), read for the functions' memory size")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench-report: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	written, verdicts, err := benchreport.Write(opts)
	for _, f := range written {
		fmt.Printf("wrote %s\n", f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-report: %v\n", err)
		os.Exit(1)
	}
	fmt.Println()
	for _, v := range verdicts {
		fmt.Println(v)
	}
}
