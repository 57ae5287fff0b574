package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
)

// newCatalogCommand returns the "catalog" command group.
func newCatalogCommand() *cobra.Command {
	bf := &backendFlags{}
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Read, adorn and rebuild the OSB catalog published from the manager's blueprints",
		Long: `The catalog is built from the Cloudify manager's blueprints and the operator's overlay
(a YAML document stored with the broker; see docs/cli.md for its format). Every change
to the overlay (annotate, plan, credentials, hide, unhide, import) rebuilds the catalog
at once, as a sync does, so the platform sees it at its next catalog fetch; a change that
does not build (an unknown input, a plan blueprint that does not exist) is refused and
leaves the catalog and the overlay as they were.

SERVICE is a service name, a service id or a blueprint id.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	addBackendFlags(cmd, bf)

	cmd.AddCommand(
		newCatalogSyncCommand(bf),
		newCatalogListCommand(bf),
		newCatalogShowCommand(bf),
		newCatalogAnnotateCommand(bf),
		newCatalogPlanCommand(bf),
		newCatalogCredentialsCommand(bf),
		newCatalogHideCommand(bf, true),
		newCatalogHideCommand(bf, false),
		newCatalogExportCommand(bf),
		newCatalogImportCommand(bf),
		newCatalogDiffCommand(bf),
	)
	return cmd
}

func addProgressFlag(cmd *cobra.Command, mode *string) {
	cmd.Flags().StringVar(mode, "progress", progressAuto, "show progress on standard error: auto (on a terminal), always or never")
	_ = cmd.RegisterFlagCompletionFunc("progress", cobra.FixedCompletions([]string{progressAuto, progressAlways, progressNever}, cobra.ShellCompDirectiveNoFileComp))
}

// printRebuild reports a rebuild: what was built and each change.
func (bf *backendFlags) printRebuild(cmd *cobra.Command, res admin.RebuildResult, verb string) error {
	format, _ := bf.format()
	if format == formatTable {
		for _, w := range res.Warnings {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
		}
	}
	return render(cmd.OutOrStdout(), format, res, func(w io.Writer) error {
		if res.Applied {
			fmt.Fprintf(w, "catalog %s: %d services, %d plans (etag %s)\n", verb, res.Services, res.Plans, res.ETag)
		} else {
			fmt.Fprintf(w, "dry run: the catalog would have %d services, %d plans; nothing was stored\n", res.Services, res.Plans)
		}
		if len(res.Changes) == 0 {
			fmt.Fprintln(w, "no changes")
		}
		for _, c := range res.Changes {
			fmt.Fprintln(w, c.Text)
		}
		return nil
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// findService finds a service of the catalog by name, id or blueprint id.
func findService(c broker.Catalog, arg string) (broker.Service, bool) {
	for _, match := range []func(broker.Service) bool{
		func(s broker.Service) bool { return s.Name == arg },
		func(s broker.Service) bool { return s.ID == arg },
		func(s broker.Service) bool { return s.BlueprintID == arg },
	} {
		for _, s := range c.Services {
			if match(s) {
				return s, true
			}
		}
	}
	return broker.Service{}, false
}

// blueprintOf is the overlay key (blueprint id) of a SERVICE argument: the blueprint of
// the service it names, else the argument itself (a blueprint that is not published).
func blueprintOf(c broker.Catalog, arg string) string {
	if s, ok := findService(c, arg); ok {
		return s.BlueprintID
	}
	return arg
}

// editOverlay reads the stored overlay, applies edit to it, and rebuilds the catalog
// with the result; the rebuild fails, and nothing changes, when the overlay was changed
// by someone else meanwhile.
func (bf *backendFlags) editOverlay(cmd *cobra.Command, edit func(c broker.Catalog, ov *catalog.Overlay) error) error {
	return bf.run(cmd, func(ctx context.Context, b backend) error {
		doc, err := b.Overlay(ctx)
		if err != nil {
			return err
		}
		ov, err := catalog.ParseOverlay([]byte(doc.Document))
		if err != nil {
			return fmt.Errorf("the stored overlay does not parse; repair it with catalog export and catalog import:\n%w", err)
		}
		c, err := b.Catalog(ctx)
		if err != nil && admin.ErrorCode(err) != admin.ENotFound {
			return err
		}
		if err := edit(c, &ov); err != nil {
			return withoutOverlayLines(err)
		}
		out, err := ov.Export()
		if err != nil {
			return err
		}
		text := string(out)
		res, err := b.Rebuild(ctx, admin.RebuildRequest{Overlay: &text, BaseHash: doc.Hash}, nil)
		if err != nil {
			return withoutOverlayLines(err)
		}
		return bf.printRebuild(cmd, res, "rebuilt")
	})
}

// completeServices completes SERVICE arguments with the catalog's service names.
func (bf *backendFlags) completeServices(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 && !strings.HasPrefix(cmd.Use, "hide") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	_ = bf.run(cmd, func(ctx context.Context, b backend) error {
		c, err := b.Catalog(ctx)
		for _, s := range c.Services {
			names = append(names, s.Name)
		}
		return err
	})
	return names, cobra.ShellCompDirectiveNoFileComp
}

// yamlValue reads a flag value as YAML: 5 is a number, true a boolean, [a, b] a list,
// anything else a string.
func yamlValue(s string) (any, error) {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("%q is not a YAML value: %w", s, err)
	}
	return v, nil
}
