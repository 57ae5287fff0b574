package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/catalog"
)

func newCatalogExportCommand(bf *backendFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the stored overlay (YAML) to standard output or a file",
		Long: `Write the stored overlay document, as it was imported or last edited, to standard output
(or --file). Without a stored overlay, the empty overlay (every blueprint published with
its defaults).`,
		Example: `  cfybroker catalog export > overlay.yaml`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				doc, err := b.Overlay(ctx)
				if err != nil {
					return err
				}
				out := []byte(doc.Document)
				if !doc.Stored || strings.TrimSpace(doc.Document) == "" {
					if out, err = (catalog.Overlay{}).Export(); err != nil {
						return err
					}
				}
				if file != "" {
					return os.WriteFile(file, out, 0o644)
				}
				_, err = cmd.OutOrStdout().Write(out)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to this file instead of standard output")
	return cmd
}

// readOverlayFile reads an overlay file ("-" is standard input).
func readOverlayFile(cmd *cobra.Command, path string) (string, error) {
	if path == "-" {
		b, err := io.ReadAll(cmd.InOrStdin())
		return string(b), err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// nameOverlayErrors makes overlay errors name the file the operator gave: the broker
// names every overlay "overlay.yaml".
func nameOverlayErrors(err error, path string) error {
	if admin.ErrorCode(err) != admin.EInvalid || path == "" {
		return err
	}
	if path == "-" {
		path = "<stdin>"
	}
	ps := overlayProblems(err)
	if ps == nil {
		return err
	}
	return errors.New(problemsText(ps, path))
}

// withoutOverlayLines drops the locations from the overlay errors of an edit: they
// point into the document the edit produced, which the operator does not see; the
// field path says what is wrong.
func withoutOverlayLines(err error) error {
	ps := overlayProblems(err)
	if ps == nil {
		return err
	}
	return errors.New(problemsText(ps, ""))
}

// overlayProblems returns the problems an overlay error carries: those of an
// *admin.Error, else those of the catalog package's errors; nil when it has none.
func overlayProblems(err error) []admin.Problem {
	var e *admin.Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return admin.OverlayProblems(err)
}

// problemsText is the problems one per line, located in file (see admin.Problem.Text).
func problemsText(ps []admin.Problem, file string) string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Text(file)
	}
	return strings.Join(lines, "\n")
}

func newCatalogImportCommand(bf *backendFlags) *cobra.Command {
	var dryRun bool
	var progress string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Replace the overlay with a YAML file and rebuild the catalog",
		Long: `Read an overlay file ("-" for standard input), check it strictly (an error names the line
and field), build the catalog with it against the manager's blueprints, and store both.
Nothing is stored when anything fails. The file is stored as given, comments included.`,
		Example: `  cfybroker catalog import overlay.yaml
  cfybroker catalog import --dry-run overlay.yaml`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := readOverlayFile(cmd, args[0])
			if err != nil {
				return err
			}
			report, done, err := progressPrinter(cmd.ErrOrStderr(), progress)
			if err != nil {
				return err
			}
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				res, err := b.Rebuild(ctx, admin.RebuildRequest{Overlay: &doc, DryRun: dryRun}, report)
				done()
				if err != nil {
					return nameOverlayErrors(err, args[0])
				}
				return bf.printRebuild(cmd, res, "imported")
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and show the changes without storing anything (as catalog diff -f)")
	addProgressFlag(cmd, &progress)
	return cmd
}

func newCatalogDiffCommand(bf *backendFlags) *cobra.Command {
	var file string
	var exitCodeFlag bool
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what the platform would see change: with an overlay file, or at the next sync",
		Long: `Build the catalog as a sync would (with the overlay file given by -f, else the stored
overlay) and list what changes from the published catalog; nothing is stored. Changes
marked "broker only" (a plan's blueprint or fixed inputs, a credentials mapping) change
what the broker deploys and binds but not what the platform sees.`,
		Example: `  cfybroker catalog diff -f overlay.yaml
  cfybroker catalog diff --exit-code || echo "the next sync changes the catalog"`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := admin.RebuildRequest{DryRun: true}
			if file != "" {
				doc, err := readOverlayFile(cmd, file)
				if err != nil {
					return err
				}
				req.Overlay = &doc
			}
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				res, err := b.Rebuild(ctx, req, nil)
				if err != nil {
					return nameOverlayErrors(err, file)
				}
				format, _ := bf.format()
				err = render(cmd.OutOrStdout(), format, res, func(w io.Writer) error {
					for _, warn := range res.Warnings {
						fmt.Fprintln(cmd.ErrOrStderr(), "warning:", warn)
					}
					if len(res.Changes) == 0 {
						fmt.Fprintln(w, "no changes")
					}
					for _, c := range res.Changes {
						fmt.Fprintln(w, c.Text)
					}
					return nil
				})
				if err == nil && exitCodeFlag && len(res.Changes) > 0 {
					return exitStatus{code: exitFound}
				}
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the overlay file to compare (\"-\" for standard input; default: the stored overlay)")
	cmd.Flags().BoolVar(&exitCodeFlag, "exit-code", false, "exit with 3 when there are changes")
	return cmd
}
