package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/admin"
)

// newOpsCommand returns the "ops" command group: stuck-state recovery of operations.
func newOpsCommand() *cobra.Command {
	bf := &backendFlags{}
	cmd := &cobra.Command{
		Use:     "ops",
		Aliases: []string{"operations"},
		Short:   "List, retry and abandon asynchronous operations (stuck-state recovery)",
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRun,
	}
	addBackendFlags(cmd, bf)
	cmd.AddCommand(newOpsListCommand(bf), newOpsRetryCommand(bf), newOpsAbandonCommand(bf))
	return cmd
}

func newOpsListCommand(bf *backendFlags) *cobra.Command {
	var failedSince time.Duration
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the operations in progress and the recent failed ones",
		Long: `List the operations in progress (oldest first), then the failed operations that are
still their instance's last one and ended within --failed-since (newest first). A next
check in the past ("overdue") means nothing is driving the operation: the embedded
broker is stopped, or the state machine lost it; ops retry moves it now.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				ops, err := b.Operations(ctx, admin.OperationFilter{FailedSince: failedSince})
				if err != nil {
					return err
				}
				format, _ := bf.format()
				now := time.Now()
				return render(cmd.OutOrStdout(), format, ops, func(w io.Writer) error {
					tw := newTable(w)
					row(tw, "OPERATION", "TYPE", "INSTANCE[/BINDING]", "STATE", "PHASE", "STEPS", "AGE", "NEXT CHECK", "DESCRIPTION")
					for _, op := range ops {
						next := until(op.NextCheck, now)
						if op.Overdue {
							next += " (overdue)"
						}
						if op.State != "in progress" {
							next = "-"
						}
						target := op.InstanceID
						if op.BindingID != "" {
							target += "/" + op.BindingID
						}
						row(tw, op.ID, string(op.Type), target, string(op.State), phaseCell(op.Phase), fmt.Sprint(op.Steps),
							since(op.CreatedAt, now), next, clip(op.Description, 70))
					}
					return tw.Flush()
				})
			})
		},
	}
	cmd.Flags().DurationVar(&failedSince, "failed-since", 7*24*time.Hour, "list the failed operations that ended within this long (0: none)")
	return cmd
}

// phaseCell shows the engine's first phase, which has no name, as "start".
func phaseCell(p string) string {
	if p == "" {
		return "start"
	}
	return p
}

func newOpsRetryCommand(bf *backendFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "retry OPERATION",
		Short: "Run an operation in progress now, or start a failed one again",
		Long: `Retry an operation.

In progress: its next step runs now instead of at its next check (the broker's own
engine, or this CLI's when it works on a data directory or a table with the sealing
key).

Failed, when it is still its instance's last operation: a new operation of the same
kind replaces it, with the same target and recorded inputs:
  deprovision  when the instance is failed: the deployment is uninstalled and deleted
               again; the platform's next delete finds the instance gone or going;
  update       when the instance is ready: the same update (plan, blueprint,
               maintenance version, parameters) runs again;
  provision    when the instance is failed and its deployment is not on the manager;
               otherwise the instance is the platform's to deprovision (a new provision
               would adopt the failed install).
Where the workflow driver is not reachable (a stopped embedded broker, a table without
STATE_MACHINE_ARN), the new operation waits for the driver's sweep.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: bf.completeOperations,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				res, err := b.RetryOperation(ctx, args[0])
				if err != nil {
					return err
				}
				format, _ := bf.format()
				return render(cmd.OutOrStdout(), format, res, func(w io.Writer) error {
					op := res.Operation
					fmt.Fprintf(w, "operation %s: %s; %s\n", res.Retried, res.Action, res.Message)
					fmt.Fprintf(w, "%s %s %s, phase %s, %d steps, next check %s: %s\n",
						op.ID, op.Type, op.State, phaseCell(op.Phase), op.Steps, until(op.NextCheck, time.Now()), op.Description)
					return nil
				})
			})
		},
	}
}

func newOpsAbandonCommand(bf *backendFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "abandon OPERATION",
		Short: "Mark an operation in progress failed (\"abandoned by an operator\")",
		Long: `Mark an operation in progress failed with the description "abandoned by an operator"
(and --reason). The platform sees it failed at its next poll; the instance follows the
rules of a failed operation: a provision or deprovision leaves it failed (it can then be
deprovisioned), an update leaves it ready. What runs on the manager is left as it is:
cancel the execution there if it must stop.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: bf.completeOperations,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				op, err := b.AbandonOperation(ctx, args[0], reason)
				if err != nil {
					return err
				}
				format, _ := bf.format()
				return render(cmd.OutOrStdout(), format, op, func(w io.Writer) error {
					fmt.Fprintf(w, "operation %s (%s of instance %s): %s: %s\n", op.ID, op.Type, op.InstanceID, op.State, op.Description)
					if op.ExecutionID != "" {
						fmt.Fprintf(w, "execution %s on the manager was left as it is\n", op.ExecutionID)
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, appended to the description the platform sees")
	return cmd
}

// completeOperations completes OPERATION arguments with the listed operations' ids.
func (bf *backendFlags) completeOperations(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var ids []string
	_ = bf.run(cmd, func(ctx context.Context, b backend) error {
		ops, err := b.Operations(ctx, admin.OperationFilter{FailedSince: 7 * 24 * time.Hour})
		for _, op := range ops {
			ids = append(ids, op.ID)
		}
		return err
	})
	return ids, cobra.ShellCompDirectiveNoFileComp
}
