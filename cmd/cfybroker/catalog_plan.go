package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
)

// newCatalogPlanCommand returns the "catalog plan" group.
func newCatalogPlanCommand(bf *backendFlags) *cobra.Command {
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Add, change or remove the plans of a service",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	plan.AddCommand(newPlanEditCommand(bf, false), newPlanEditCommand(bf, true), newPlanRemoveCommand(bf))
	return plan
}

// planFlags are the flags of plan add and plan set.
type planFlags struct {
	id, description, displayName, blueprint string
	maintenanceVersion, maintenanceDesc     string
	free, bindable, updateable              bool
	maxPolling                              int
	costs, bullets, inputs, removeInputs    []string
	bindWorkflow, unbindWorkflow, bindings  string
	maxValidity, overlap                    string
	noRotation                              bool
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
	f.StringVar(&pf.bindWorkflow, "bind-workflow", "", "the blueprint's workflow that makes one binding's credentials (default: the service's, else osb_bind)")
	f.StringVar(&pf.unbindWorkflow, "unbind-workflow", "", "the blueprint's workflow that revokes one binding's credentials (default: the service's, else osb_unbind)")
	f.StringVar(&pf.bindings, "bindings", "", "shared or per-binding credentials (default: the service's, else per-binding when the blueprint declares the bind workflows)")
	f.StringVar(&pf.maxValidity, "binding-max-validity", "", "rotatable bindings: how long credentials are valid, seconds or a duration such as 720h (0: no expiry)")
	f.StringVar(&pf.overlap, "binding-overlap", "", "rotatable bindings: how long before expiry a successor should be made, seconds or a duration")
	_ = cmd.RegisterFlagCompletionFunc("bindings", cobra.FixedCompletions([]string{catalog.BindingsShared, catalog.BindingsPerBinding}, cobra.ShellCompDirectiveNoFileComp))
	if set {
		f.StringArrayVar(&pf.removeInputs, "remove-input", nil, "NAME: an input the plan no longer fixes (repeatable)")
		f.BoolVar(&pf.noRotation, "no-binding-rotation", false, "remove the plan's binding rotation (the service's default applies again)")
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
	if ch("bind-workflow") {
		p.BindWorkflow = pf.bindWorkflow
	}
	if ch("unbind-workflow") {
		p.UnbindWorkflow = pf.unbindWorkflow
	}
	if ch("bindings") {
		p.Bindings = pf.bindings
	}
	if pf.noRotation {
		if ch("binding-max-validity") || ch("binding-overlap") {
			return usageError{errors.New("--no-binding-rotation cannot go with --binding-max-validity or --binding-overlap")}
		}
		p.BindingRotation = nil
	}
	for _, r := range []struct{ flag, field, value string }{
		{"binding-max-validity", "maximum_validity_period", pf.maxValidity},
		{"binding-overlap", "overlap_period", pf.overlap},
	} {
		if !ch(r.flag) {
			continue
		}
		rot, err := catalog.EditBindingRotation(p.BindingRotation, r.field, r.value)
		if err != nil {
			return usageError{fmt.Errorf("--%s: %w", r.flag, err)}
		}
		p.BindingRotation = rot
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
		cmd.Example = `  cfybroker catalog plan set mariadb default --blueprint mariadb-v2 --maintenance-version 2.0.0 --maintenance-description "MariaDB 11"
  cfybroker catalog plan set mariadb default --binding-max-validity 720h --binding-overlap 24h
  cfybroker catalog plan set mariadb small --bindings shared`
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
