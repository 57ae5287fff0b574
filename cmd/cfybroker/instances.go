package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/admin"
)

// newInstancesCommand returns the "instances" command group.
func newInstancesCommand() *cobra.Command {
	bf := &backendFlags{}
	cmd := &cobra.Command{
		Use:     "instances",
		Aliases: []string{"instance"},
		Short:   "List and inspect service instances (state, operation, deployment, last error)",
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRun,
	}
	addBackendFlags(cmd, bf)
	cmd.AddCommand(newInstancesListCommand(bf), newInstancesShowCommand(bf))
	return cmd
}

func newInstancesListCommand(bf *backendFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the service instances",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				list, err := b.Instances(ctx, admin.InstanceFilter{All: all})
				if err != nil {
					return err
				}
				format, _ := bf.format()
				now := time.Now()
				return render(cmd.OutOrStdout(), format, list, func(w io.Writer) error {
					tw := newTable(w)
					row(tw, "INSTANCE", "SERVICE", "PLAN", "STATE", "OPERATION", "DEPLOYMENT", "UPDATED", "LAST ERROR")
					for _, in := range list {
						row(tw, in.ID, in.Service, in.Plan, string(in.State), operationCell(in), in.DeploymentID,
							since(in.UpdatedAt, now), orDash(clip(in.LastError, 60)))
					}
					return tw.Flush()
				})
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include deprovisioned instances")
	return cmd
}

// operationCell is "update failed" for an instance's operation.
func operationCell(in admin.InstanceView) string {
	if in.OperationType == "" {
		return "-"
	}
	return fmt.Sprintf("%s %s", in.OperationType, in.OperationState)
}

func newInstancesShowCommand(bf *backendFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "show INSTANCE",
		Short:             "Show an instance with its operation, bindings and deployment on the manager",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: bf.completeInstances,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				d, err := b.Instance(ctx, args[0])
				if err != nil {
					return err
				}
				format, _ := bf.format()
				return render(cmd.OutOrStdout(), format, d, func(w io.Writer) error {
					return showInstance(w, d, time.Now())
				})
			})
		},
	}
}

func showInstance(w io.Writer, d admin.InstanceDetail, now time.Time) error {
	tw := newTable(w)
	row(tw, "instance:", d.ID)
	row(tw, "service:", fmt.Sprintf("%s (%s)", d.Service, d.ServiceID))
	row(tw, "plan:", fmt.Sprintf("%s (%s)", d.Plan, d.PlanID))
	row(tw, "state:", string(d.State))
	row(tw, "maintenance:", orDash(d.MaintenanceVersion))
	row(tw, "deployment:", d.DeploymentID)
	row(tw, "blueprint:", d.BlueprintID)
	if d.DashboardURL != "" {
		row(tw, "dashboard:", d.DashboardURL)
	}
	if d.OrganizationGUID != "" || d.SpaceGUID != "" {
		row(tw, "org / space:", d.OrganizationGUID+" / "+d.SpaceGUID)
	}
	row(tw, "created:", fmt.Sprintf("%s (%s ago)", d.CreatedAt.Format(time.RFC3339), since(d.CreatedAt, now)))
	if op := d.Operation; op != nil {
		row(tw, "operation:", fmt.Sprintf("%s %s %s", op.ID, op.Type, op.State))
		row(tw, "  phase:", fmt.Sprintf("%s, %d steps, next check %s", phaseCell(op.Phase), op.Steps, until(op.NextCheck, now)))
		row(tw, "  description:", op.Description)
		if op.ExecutionID != "" {
			row(tw, "  execution:", op.ExecutionID)
		}
	}
	if d.LastError != "" {
		row(tw, "last error:", d.LastError)
	}
	names := make([]string, 0, len(d.Bindings))
	for _, b := range d.Bindings {
		names = append(names, b.ID)
	}
	row(tw, "bindings:", orDash(strings.Join(names, ", ")))
	if dep := d.Deployment; dep != nil {
		switch {
		case dep.Error != "":
			row(tw, "on the manager:", "cannot tell: "+dep.Error)
		case !dep.Exists && d.State == "ready":
			row(tw, "on the manager:", "MISSING (deleted by hand? cfybroker reconcile marks the instance failed)")
		case !dep.Exists:
			row(tw, "on the manager:", "missing")
		default:
			row(tw, "on the manager:", fmt.Sprintf("blueprint %s, status %s", dep.BlueprintID, orDash(dep.Status)))
			if e := dep.LatestExecution; e != nil {
				line := fmt.Sprintf("%s %s %s", e.Workflow, e.ID, e.Status)
				if e.Error != "" {
					line += ": " + clip(e.Error, 100)
				}
				row(tw, "  latest execution:", line)
			}
		}
	}
	return tw.Flush()
}

// completeInstances completes INSTANCE arguments with the instance ids.
func (bf *backendFlags) completeInstances(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var ids []string
	_ = bf.run(cmd, func(ctx context.Context, b backend) error {
		list, err := b.Instances(ctx, admin.InstanceFilter{})
		for _, in := range list {
			ids = append(ids, in.ID)
		}
		return err
	})
	return ids, cobra.ShellCompDirectiveNoFileComp
}
