package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
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

	plan := &cobra.Command{
		Use:   "plan",
		Short: "Add, change or remove the plans of a service",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	plan.AddCommand(newPlanEditCommand(bf, false), newPlanEditCommand(bf, true), newPlanRemoveCommand(bf))
	creds := &cobra.Command{
		Use:   "credentials",
		Short: "Map the manager's capabilities and outputs to binding credentials",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	creds.AddCommand(newCredentialsMapCommand(bf), newCredentialsUnmapCommand(bf))

	cmd.AddCommand(
		newCatalogSyncCommand(bf),
		newCatalogListCommand(bf),
		newCatalogShowCommand(bf),
		newCatalogAnnotateCommand(bf),
		plan,
		creds,
		newCatalogHideCommand(bf, true),
		newCatalogHideCommand(bf, false),
		newCatalogExportCommand(bf),
		newCatalogImportCommand(bf),
		newCatalogDiffCommand(bf),
	)
	return cmd
}

func newCatalogSyncCommand(bf *backendFlags) *cobra.Command {
	var progress string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Rebuild the catalog from the manager's blueprints now",
		Long: `Rebuild the catalog from the manager's blueprints and the stored overlay, store it, and
print what changed. Service and plan ids do not change across syncs. The embedded broker
also syncs by itself every --catalog-interval.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			report, done, err := progressPrinter(cmd.ErrOrStderr(), progress)
			if err != nil {
				return err
			}
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				res, err := b.Rebuild(ctx, admin.RebuildRequest{}, report)
				done()
				if err != nil {
					return err
				}
				return bf.printRebuild(cmd, res, "synced")
			})
		},
	}
	addProgressFlag(cmd, &progress)
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

// serviceRow and planRow are catalog list's rows.
type serviceRow struct {
	Name        string                   `json:"name"`
	ID          string                   `json:"id"`
	Blueprint   string                   `json:"blueprint"`
	Bindable    bool                     `json:"bindable"`
	Tags        []string                 `json:"tags,omitempty"`
	Credentials []broker.CredentialField `json:"credentials,omitempty"`
	Plans       []planRow                `json:"plans"`
}

type planRow struct {
	Name               string         `json:"name"`
	ID                 string         `json:"id"`
	Blueprint          string         `json:"blueprint"`
	MaintenanceVersion string         `json:"maintenance_version,omitempty"`
	Free               bool           `json:"free"`
	FixedInputs        map[string]any `json:"fixed_inputs,omitempty"`
}

func serviceRows(c broker.Catalog) []serviceRow {
	rows := make([]serviceRow, 0, len(c.Services))
	for _, s := range c.Services {
		r := serviceRow{Name: s.Name, ID: s.ID, Blueprint: s.BlueprintID, Bindable: s.Bindable, Tags: s.Tags, Credentials: s.Credentials, Plans: []planRow{}}
		for _, p := range s.Plans {
			pr := planRow{Name: p.Name, ID: p.ID, Blueprint: p.BlueprintID, Free: p.Free, FixedInputs: p.Inputs}
			if p.MaintenanceInfo != nil {
				pr.MaintenanceVersion = p.MaintenanceInfo.Version
			}
			r.Plans = append(r.Plans, pr)
		}
		rows = append(rows, r)
	}
	return rows
}

func newCatalogListCommand(bf *backendFlags) *cobra.Command {
	var plans bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the published services (or, with --plans, their plans)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				c, err := b.Catalog(ctx)
				if err != nil {
					return err
				}
				rows := serviceRows(c)
				format, _ := bf.format()
				return render(cmd.OutOrStdout(), format, rows, func(w io.Writer) error {
					tw := newTable(w)
					if plans {
						row(tw, "SERVICE", "PLAN", "BLUEPRINT", "MAINTENANCE", "FREE", "FIXED INPUTS", "PLAN ID")
						for _, s := range rows {
							for _, p := range s.Plans {
								row(tw, s.Name, p.Name, p.Blueprint, orDash(p.MaintenanceVersion), fmt.Sprint(p.Free), orDash(strings.Join(sortedKeys(p.FixedInputs), ",")), p.ID)
							}
						}
						return tw.Flush()
					}
					row(tw, "SERVICE", "BLUEPRINT", "PLANS", "BINDABLE", "TAGS", "ID")
					for _, s := range rows {
						names := make([]string, 0, len(s.Plans))
						for _, p := range s.Plans {
							names = append(names, p.Name)
						}
						row(tw, s.Name, s.Blueprint, strings.Join(names, ","), fmt.Sprint(s.Bindable), orDash(strings.Join(s.Tags, ",")), s.ID)
					}
					return tw.Flush()
				})
			})
		},
	}
	cmd.Flags().BoolVar(&plans, "plans", false, "one row per plan")
	return cmd
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

func newCatalogShowCommand(bf *backendFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show SERVICE",
		Short: "Print a service as the platform sees it in GET /v2/catalog (JSON unless -o says otherwise)",
		Long: `Print a service exactly as the broker's GET /v2/catalog serves it to the platform: JSON by
default, YAML with -o yaml. With -o table, a summary with the broker's own data: the
blueprint and fixed inputs of each plan, and the credentials mapping.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				c, err := b.Catalog(ctx)
				if err != nil {
					return err
				}
				svc, ok := findService(c, args[0])
				if !ok {
					return fmt.Errorf("no service %q in the catalog (catalog list shows them)", args[0])
				}
				format, _ := bf.format()
				if format == formatTable && cmd.Flags().Changed("output") {
					return showServiceTable(cmd.OutOrStdout(), svc)
				}
				raw, err := b.OSBCatalog(ctx)
				if err != nil {
					return err
				}
				var osbCat struct {
					Services []json.RawMessage `json:"services"`
				}
				if err := json.Unmarshal(raw, &osbCat); err != nil {
					return fmt.Errorf("catalog: %w", err)
				}
				for _, s := range osbCat.Services {
					var head struct {
						ID string `json:"id"`
					}
					if json.Unmarshal(s, &head) != nil || head.ID != svc.ID {
						continue
					}
					if format == formatYAML {
						var v any
						if err := json.Unmarshal(s, &v); err != nil {
							return err
						}
						return writeYAML(cmd.OutOrStdout(), v)
					}
					// The bytes as served, in their order, indented.
					var buf bytes.Buffer
					if err := json.Indent(&buf, s, "", "  "); err != nil {
						return err
					}
					buf.WriteByte('\n')
					_, err := cmd.OutOrStdout().Write(buf.Bytes())
					return err
				}
				return fmt.Errorf("service %s is not in the OSB catalog", svc.Name)
			})
		},
	}
}

func showServiceTable(w io.Writer, s broker.Service) error {
	tw := newTable(w)
	row(tw, "name:", s.Name)
	row(tw, "id:", s.ID)
	row(tw, "blueprint:", s.BlueprintID)
	row(tw, "description:", s.Description)
	row(tw, "tags:", orDash(strings.Join(s.Tags, ", ")))
	row(tw, "bindable:", fmt.Sprint(s.Bindable))
	row(tw, "plan_updateable:", fmt.Sprint(s.PlanUpdateable))
	if len(s.Credentials) == 0 {
		row(tw, "credentials:", "every capability (or every output when there are none)")
	}
	for i, c := range s.Credentials {
		label := ""
		if i == 0 {
			label = "credentials:"
		}
		src := c.Source
		if src == "" {
			src = "capability or output"
		}
		name := c.Name
		if name == "" {
			name = c.Key
		}
		secret := ""
		if c.Secret {
			secret = " (secret)"
		}
		row(tw, label, fmt.Sprintf("%s <- %s %s%s", c.Key, src, name, secret))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "PLAN", "BLUEPRINT", "MAINTENANCE", "FREE", "FIXED INPUTS", "PARAMETERS", "ID")
	for _, p := range s.Plans {
		mv := ""
		if p.MaintenanceInfo != nil {
			mv = p.MaintenanceInfo.Version
		}
		row(tw, p.Name, p.BlueprintID, orDash(mv), fmt.Sprint(p.Free), orDash(strings.Join(sortedKeys(p.Inputs), ",")),
			orDash(strings.Join(schemaProperties(p.CreateSchema), ",")), p.ID)
	}
	return tw.Flush()
}

// schemaProperties lists the properties of a parameters schema.
func schemaProperties(schema json.RawMessage) []string {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	return sortedKeys(s.Properties)
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

// serviceFlags maps annotate's flags to overlay service fields (catalog.ServiceFields).
var serviceFlags = []struct{ flag, field, usage string }{
	{"name", "name", "OSB service name"},
	{"description", "description", "service description"},
	{"tag", "tags", "a tag (repeat the flag, or separate with commas; replaces the tags)"},
	{"requires", "requires", "permissions: syslog_drain, route_forwarding, volume_mount (replaces them)"},
	{"bindable", "bindable", "whether instances can be bound"},
	{"plan-updateable", "plan_updateable", "whether an instance may change plans"},
	{"allow-context-updates", "allow_context_updates", "whether context-only updates are allowed"},
	{"instances-retrievable", "instances_retrievable", "whether GET of an instance is supported"},
	{"bindings-retrievable", "bindings_retrievable", "whether GET of a binding is supported"},
	{"display-name", "metadata.displayName", "metadata.displayName"},
	{"image-url", "metadata.imageUrl", "metadata.imageUrl"},
	{"long-description", "metadata.longDescription", "metadata.longDescription"},
	{"documentation-url", "metadata.documentationUrl", "metadata.documentationUrl"},
	{"support-url", "metadata.supportUrl", "metadata.supportUrl"},
	{"provider-display-name", "metadata.providerDisplayName", "metadata.providerDisplayName"},
	{"maintenance-version", "maintenance_info.version", "default maintenance_info.version of the plans"},
	{"maintenance-description", "maintenance_info.description", "default maintenance_info.description of the plans"},
}

func newCatalogAnnotateCommand(bf *backendFlags) *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "annotate SERVICE [flags]",
		Short: "Set a service's description, tags, bindable, metadata and other fields",
		Long: `Set fields of a service in the overlay; only the flags given change. An empty value
unsets a field (its default applies again). --set FIELD=VALUE sets any field by its
overlay name: ` + strings.Join(catalog.ServiceFields, ", ") + `.`,
		Example: `  cfybroker catalog annotate mariadb --description "Clustered MariaDB" --tag sql --tag mariadb --bindable=true
  cfybroker catalog annotate redis-cache --display-name Redis --set metadata.imageUrl=https://example.com/redis.png`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			type change struct{ field, value string }
			var changes []change
			for _, sf := range serviceFlags {
				f := cmd.Flags().Lookup(sf.flag)
				if !f.Changed {
					continue
				}
				v := f.Value.String()
				if sv, ok := f.Value.(interface{ GetSlice() []string }); ok {
					v = strings.Join(sv.GetSlice(), ",")
				}
				changes = append(changes, change{sf.field, v})
			}
			for _, s := range sets {
				field, value, ok := strings.Cut(s, "=")
				if !ok {
					return usageError{fmt.Errorf("--set %q: want FIELD=VALUE", s)}
				}
				changes = append(changes, change{strings.TrimSpace(field), value})
			}
			if len(changes) == 0 {
				return usageError{errors.New("nothing to change: give at least one flag (see --help)")}
			}
			return bf.editOverlay(cmd, func(c broker.Catalog, ov *catalog.Overlay) error {
				bp := blueprintOf(c, args[0])
				for _, ch := range changes {
					if err := ov.SetServiceField(bp, ch.field, ch.value); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	for _, sf := range serviceFlags {
		switch sf.flag {
		case "tag", "requires":
			f.StringSlice(sf.flag, nil, sf.usage)
		case "bindable", "plan-updateable", "allow-context-updates", "instances-retrievable", "bindings-retrievable":
			f.Bool(sf.flag, false, sf.usage)
		default:
			f.String(sf.flag, "", sf.usage)
		}
	}
	f.StringArrayVar(&sets, "set", nil, "FIELD=VALUE: set any overlay field of the service (repeatable)")
	return cmd
}

// planFlags are the flags of plan add and plan set.
type planFlags struct {
	id, description, displayName, blueprint string
	maintenanceVersion, maintenanceDesc     string
	free, bindable, updateable              bool
	maxPolling                              int
	costs, bullets, inputs, removeInputs    []string
}

func (pf *planFlags) declare(cmd *cobra.Command, set bool) {
	f := cmd.Flags()
	f.StringVar(&pf.id, "id", "", "pin the plan id (default: generated from the manager, tenant, service and plan name)")
	f.StringVar(&pf.description, "description", "", "plan description")
	f.StringVar(&pf.displayName, "display-name", "", "metadata.displayName")
	f.StringVar(&pf.blueprint, "blueprint", "", "deploy this blueprint instead of the service's (an upgrade: raise --maintenance-version too)")
	f.StringVar(&pf.maintenanceVersion, "maintenance-version", "", "maintenance_info.version (Semantic Versioning)")
	f.StringVar(&pf.maintenanceDesc, "maintenance-description", "", "maintenance_info.description")
	f.BoolVar(&pf.free, "free", true, "whether the plan is free (a plan given costs is not, unless --free)")
	f.BoolVar(&pf.bindable, "bindable", true, "whether instances of the plan can be bound (default: the service's)")
	f.BoolVar(&pf.updateable, "plan-updateable", false, "whether instances may change to and from the plan (default: the service's)")
	f.IntVar(&pf.maxPolling, "maximum-polling-duration", 0, "seconds an operation of the plan may take (0: the broker's default)")
	f.StringArrayVar(&pf.costs, "cost", nil, "a cost, CURRENCY=AMOUNT[,CURRENCY=AMOUNT]/UNIT, e.g. usd=10/MONTHLY (repeatable; replaces the costs)")
	f.StringArrayVar(&pf.bullets, "bullet", nil, "a metadata bullet (repeatable; replaces the bullets)")
	f.StringArrayVar(&pf.inputs, "input", nil, "NAME=VALUE: an input fixed by the plan, VALUE in YAML (repeatable)")
	if set {
		f.StringArrayVar(&pf.removeInputs, "remove-input", nil, "NAME: an input the plan no longer fixes (repeatable)")
	}
}

// apply sets the given flags on p.
func (pf *planFlags) apply(cmd *cobra.Command, p *catalog.PlanOverlay) error {
	ch := cmd.Flags().Changed
	if ch("id") {
		p.ID = pf.id
	}
	if ch("description") {
		p.Description = pf.description
	}
	if ch("display-name") {
		p.Metadata.DisplayName = pf.displayName
	}
	if ch("blueprint") {
		p.Blueprint = pf.blueprint
	}
	if ch("maintenance-version") || ch("maintenance-description") {
		mi := catalog.MaintenanceInfo{}
		if p.MaintenanceInfo != nil {
			mi = *p.MaintenanceInfo
		}
		if ch("maintenance-version") {
			mi.Version = pf.maintenanceVersion
		}
		if ch("maintenance-description") {
			mi.Description = pf.maintenanceDesc
		}
		p.MaintenanceInfo = &mi
		if mi == (catalog.MaintenanceInfo{}) {
			p.MaintenanceInfo = nil
		}
	}
	if ch("bindable") {
		p.Bindable = &pf.bindable
	}
	if ch("plan-updateable") {
		p.PlanUpdateable = &pf.updateable
	}
	if ch("maximum-polling-duration") {
		p.MaximumPollingDuration = pf.maxPolling
	}
	if ch("bullet") {
		p.Metadata.Bullets = pf.bullets
	}
	if ch("cost") {
		p.Metadata.Costs = nil
		for _, c := range pf.costs {
			cost, err := parseCost(c)
			if err != nil {
				return usageError{err}
			}
			p.Metadata.Costs = append(p.Metadata.Costs, cost)
		}
		if !ch("free") && len(p.Metadata.Costs) > 0 {
			notFree := false
			p.Free = &notFree
		}
	}
	if ch("free") {
		p.Free = &pf.free
	}
	for _, in := range pf.inputs {
		name, value, ok := strings.Cut(in, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return usageError{fmt.Errorf("--input %q: want NAME=VALUE", in)}
		}
		v, err := yamlValue(value)
		if err != nil {
			return usageError{fmt.Errorf("--input %s: %w", name, err)}
		}
		if p.Inputs == nil {
			p.Inputs = map[string]any{}
		}
		p.Inputs[strings.TrimSpace(name)] = v
	}
	for _, name := range pf.removeInputs {
		delete(p.Inputs, name)
	}
	if len(p.Inputs) == 0 {
		p.Inputs = nil
	}
	return nil
}

func newPlanEditCommand(bf *backendFlags, set bool) *cobra.Command {
	pf := &planFlags{}
	cmd := &cobra.Command{
		Use:   "add SERVICE PLAN [flags]",
		Short: "Add a plan to a service",
		Long: `Add a plan to a service. A service whose overlay lists no plans has the implicit plan
"default"; adding a plan to it keeps "default" (as an explicit plan, with the same id), so
that its instances keep their plan. Remove it with plan remove when it should go.`,
		Example: `  cfybroker catalog plan add mariadb small --description "One node" --input node_count=1 --cost usd=10/MONTHLY
  cfybroker catalog plan add mariadb large --input node_count=5 --input flavor=large --cost usd=45.5/MONTHLY`,
		Args:              usageArgs(cobra.ExactArgs(2)),
		ValidArgsFunction: bf.completeServices,
	}
	if set {
		cmd.Use = "set SERVICE PLAN [flags]"
		cmd.Short = "Change a plan of a service (only the flags given), or add it"
		cmd.Long = `Change a plan of a service: only the flags given change. A plan that does not exist is
added (see plan add). An upgrade: point the plan at a new blueprint and raise its
maintenance_info version; the platform then offers the upgrade to existing instances.`
		cmd.Example = `  cfybroker catalog plan set mariadb default --blueprint mariadb-v2 --maintenance-version 2.0.0 --maintenance-description "MariaDB 11"`
	}
	pf.declare(cmd, set)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return bf.editOverlay(cmd, func(c broker.Catalog, ov *catalog.Overlay) error {
			bp := blueprintOf(c, args[0])
			so, _ := ov.Service(bp)
			p := catalog.PlanOverlay{Name: args[1]}
			exists := false
			for _, existing := range so.Plans {
				if existing.Name == args[1] {
					p, exists = existing, true
				}
			}
			if exists && !set {
				return fmt.Errorf("service %s already has a plan %q (plan set changes it)", args[0], args[1])
			}
			if len(so.Plans) == 0 && args[1] != catalog.DefaultPlanName {
				// Keep the implicit default plan: its instances must keep their plan.
				if err := ov.AddPlan(bp, catalog.PlanOverlay{Name: catalog.DefaultPlanName}); err != nil {
					return err
				}
			}
			if err := pf.apply(cmd, &p); err != nil {
				return err
			}
			return ov.SetPlan(bp, p)
		})
	}
	return cmd
}

func newPlanRemoveCommand(bf *backendFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove SERVICE PLAN",
		Short: "Remove a plan of a service (instances of the plan can then only be deprovisioned or moved)",
		Long: `Remove a plan from a service. Removing the last listed plan brings back the implicit plan
"default". Instances of a removed plan stay; updates that keep their plan are refused.`,
		Args:              usageArgs(cobra.ExactArgs(2)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.editOverlay(cmd, func(c broker.Catalog, ov *catalog.Overlay) error {
				err := ov.RemovePlan(blueprintOf(c, args[0]), args[1])
				if errors.Is(err, catalog.ErrNoSuchEntry) {
					return fmt.Errorf("service %s lists no plan %q in the overlay", args[0], args[1])
				}
				return err
			})
		},
	}
}

func newCredentialsMapCommand(bf *backendFlags) *cobra.Command {
	var from, name string
	var secret bool
	cmd := &cobra.Command{
		Use:   "map SERVICE KEY [flags]",
		Short: "Map a capability or output of the deployment to a credentials key of bindings",
		Long: `Map the credentials key KEY of the service's bindings to a capability or an output of the
deployment (named --name, default KEY), replacing an existing mapping of KEY. A service
with no mapping gives every capability (or every output when it has none); once it maps
one key, its bindings hold exactly the mapped keys.`,
		Example: `  cfybroker catalog credentials map mariadb db_host --from capability --name host
  cfybroker catalog credentials map mariadb db_password --from capability --name password --secret`,
		Args:              usageArgs(cobra.ExactArgs(2)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.editOverlay(cmd, func(c broker.Catalog, ov *catalog.Overlay) error {
				return ov.MapCredential(blueprintOf(c, args[0]), catalog.CredentialMapping{Key: args[1], From: from, Name: name, Secret: secret})
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "capability or output (default: a capability, falling back to an output)")
	cmd.Flags().StringVar(&name, "name", "", "the capability or output name (default: KEY)")
	cmd.Flags().BoolVar(&secret, "secret", false, "mark the value a secret")
	_ = cmd.RegisterFlagCompletionFunc("from", cobra.FixedCompletions([]string{"capability", "output"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newCredentialsUnmapCommand(bf *backendFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "unmap SERVICE KEY",
		Short:             "Remove the mapping of a credentials key",
		Args:              usageArgs(cobra.ExactArgs(2)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.editOverlay(cmd, func(c broker.Catalog, ov *catalog.Overlay) error {
				err := ov.UnmapCredential(blueprintOf(c, args[0]), args[1])
				if errors.Is(err, catalog.ErrNoSuchEntry) {
					return fmt.Errorf("service %s maps no credentials key %q", args[0], args[1])
				}
				return err
			})
		},
	}
}

func newCatalogHideCommand(bf *backendFlags, hide bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "hide BLUEPRINT...",
		Short:             "Stop publishing blueprints (their services leave the catalog)",
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.editOverlay(cmd, func(c broker.Catalog, ov *catalog.Overlay) error {
				for _, a := range args {
					if hide {
						ov.Hide(blueprintOf(c, a))
					} else {
						ov.Unhide(blueprintOf(c, a))
					}
				}
				return nil
			})
		},
	}
	if !hide {
		cmd.Use = "unhide BLUEPRINT..."
		cmd.Short = "Publish hidden blueprints again"
		cmd.ValidArgsFunction = nil
	}
	return cmd
}

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

// parseCost reads "usd=10/MONTHLY" or "usd=10,eur=9.5/MONTHLY".
func parseCost(s string) (catalog.Cost, error) {
	amounts, unit, ok := strings.Cut(s, "/")
	unit = strings.TrimSpace(unit)
	if !ok || unit == "" {
		return catalog.Cost{}, fmt.Errorf("--cost %q: want CURRENCY=AMOUNT/UNIT, e.g. usd=10/MONTHLY", s)
	}
	c := catalog.Cost{Unit: unit, Amount: map[string]float64{}}
	for _, a := range strings.Split(amounts, ",") {
		cur, amount, ok := strings.Cut(a, "=")
		f, err := strconv.ParseFloat(strings.TrimSpace(amount), 64)
		if !ok || err != nil || strings.TrimSpace(cur) == "" {
			return catalog.Cost{}, fmt.Errorf("--cost %q: %q is not CURRENCY=AMOUNT", s, a)
		}
		c.Amount[strings.ToLower(strings.TrimSpace(cur))] = f
	}
	return c, nil
}
