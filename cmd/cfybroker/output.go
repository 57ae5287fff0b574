package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/cfybroker/cfybroker/internal/admin"
)

// Exit codes of cfybroker, documented in the root command's help and docs/cli.md.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitFound: reconcile found something (repaired, or left to the operator), or
	// catalog diff --exit-code found changes.
	exitFound = 3
)

// exitStatus ends a command with a code other than 0, 1 and 2 asked for; err, when set,
// is printed.
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e exitStatus) Unwrap() error { return e.err }

// exitCode is the process exit code of a command's error.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var es exitStatus
	if errors.As(err, &es) {
		return es.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// usageArgs wraps a cobra argument check so that a wrong argument count exits 2.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
		}
		return nil
	}
}

// groupRun makes a command group runnable: alone it prints its help, with an unknown
// subcommand it fails with a usage error (cobra would print the help and exit 0).
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())}
	}
	return cmd.Help()
}

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// format validates the -o flag.
func (f *backendFlags) format() (string, error) {
	switch f.output {
	case formatTable, formatJSON, formatYAML:
		return f.output, nil
	}
	return "", usageError{fmt.Errorf("-o %q: use table, json or yaml", f.output)}
}

// render writes v as JSON or YAML, or calls table for the table format.
func render(w io.Writer, format string, v any, table func(w io.Writer) error) error {
	switch format {
	case formatJSON:
		return writeJSON(w, v)
	case formatYAML:
		return writeYAML(w, v)
	}
	return table(w)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeYAML writes v as YAML with its JSON field names.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(plainNumbers(generic)); err != nil {
		return err
	}
	return enc.Close()
}

// plainNumbers turns json.Number values into int64 or float64, which YAML writes as
// numbers.
func plainNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = plainNumbers(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	}
	return v
}

// newTable returns a tabwriter for aligned columns; the caller flushes it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// row writes one tab-separated row.
func row(tw io.Writer, cells ...string) {
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// orDash shows an empty cell as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip cuts s to n characters for a table cell.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// since shows how long ago t was: "42s", "5m", "3h", "2d".
func since(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return shortDuration(now.Sub(t))
}

// until shows when t comes: "in 4s", or "12s ago".
func until(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	if d >= 0 {
		return "in " + shortDuration(d)
	}
	return shortDuration(-d) + " ago"
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// Progress display modes of --progress.
const (
	progressAuto   = "auto"
	progressAlways = "always"
	progressNever  = "never"
)

// progressPrinter returns the progress callback of a rebuild, writing to w (standard
// error): on a terminal one line rewritten in place; with "always" on anything else,
// a line per phase and per quarter of the services; nil when off.
func progressPrinter(w io.Writer, mode string) (func(admin.Progress), func(), error) {
	tty := isTerminal(w)
	switch mode {
	case progressNever:
		return nil, func() {}, nil
	case progressAuto:
		if !tty {
			return nil, func() {}, nil
		}
	case progressAlways:
	default:
		return nil, nil, usageError{fmt.Errorf("--progress %q: use auto, always or never", mode)}
	}
	var last string
	quarter := -1
	wrote := false
	report := func(p admin.Progress) {
		var line string
		switch {
		case p.Phase == admin.PhaseBlueprints && p.Total == 0:
			line = "listing blueprints..."
		case p.Phase == admin.PhaseBlueprints:
			line = fmt.Sprintf("listed %d blueprints", p.Total)
		default:
			line = fmt.Sprintf("building services %d/%d", p.Done, p.Total)
		}
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			wrote = true
			return
		}
		if p.Phase == admin.PhaseServices && p.Total > 0 {
			q := 4 * p.Done / p.Total
			if q == quarter && p.Done != 0 {
				return
			}
			quarter = q
		} else if line == last {
			return
		}
		last = line
		fmt.Fprintln(w, line)
	}
	done := func() {
		if tty && wrote {
			fmt.Fprint(w, "\r\033[K")
		}
	}
	return report, done, nil
}

// isTerminal reports whether w is a character device (an interactive terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
