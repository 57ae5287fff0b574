package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/admin"
)

// newReconcileCommand returns the "reconcile" command.
func newReconcileCommand() *cobra.Command {
	bf := &backendFlags{}
	var req admin.ReconcileRequest
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Compare the broker's state with the manager and repair what can be repaired",
		Long: `Compare every instance and binding with the Cloudify manager and repair what can be
repaired:

  deployment_missing  a ready instance's deployment is gone (deleted by hand): the
                      instance is marked failed, so the platform can only deprovision it
                      (which then succeeds at once);
  execution_lost      an operation in progress follows an execution the manager does not
                      know: its step runs now and the engine settles it;
  stalled             an operation in progress not looked at for 10 minutes past its
                      next check: its step runs now;
  orphan              a deployment labelled osb-instance-id for an instance the broker
                      does not have (or has deprovisioned): reported, and deleted with
                      --delete-orphans (uninstalled first when its nodes are live; run
                      again to delete it);
  binding_secret_missing
                      a ready binding with credentials of its own whose secret is not on
                      the manager: reported only (the platform must unbind it and bind
                      again);
  orphan_secret       a secret named for a binding of an instance the broker knows
                      (osb-<deployment>-<binding>, deprovisioned instances included)
                      that no binding of it holds, while no bind or unbind runs on it:
                      reported, and deleted with --delete-orphans.

execution_lost and stalled cover bind and unbind operations too. Secrets are listed
without their values; secrets not named for a deployment of this broker are left alone.

Exit status: 0 when nothing needed fixing, 3 when something was found (the report says
what was repaired and what is left to you), 1 on errors.`,
		Example: `  cfybroker reconcile --url http://127.0.0.1:8080
  cfybroker reconcile --dry-run -o json
  cfybroker reconcile --delete-orphans`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				rep, err := b.Reconcile(ctx, req)
				if err != nil {
					return err
				}
				format, _ := bf.format()
				err = render(cmd.OutOrStdout(), format, rep, func(w io.Writer) error {
					return printReconcile(w, rep)
				})
				switch {
				case err != nil:
					return err
				case rep.Errors > 0:
					return exitStatus{code: exitFailure, err: fmt.Errorf("reconcile met %d error(s); see the report", rep.Errors)}
				case len(rep.Findings) > 0:
					return exitStatus{code: exitFound}
				}
				return nil
			})
		},
	}
	addBackendFlags(cmd, bf)
	cmd.Flags().BoolVar(&req.DeleteOrphans, "delete-orphans", false, "delete orphan deployments (uninstall them first when needed) and orphan binding secrets")
	cmd.Flags().BoolVar(&req.DryRun, "dry-run", false, "report what would be done; change nothing")
	return cmd
}

func printReconcile(w io.Writer, rep admin.ReconcileReport) error {
	if len(rep.Findings) > 0 {
		tw := newTable(w)
		row(tw, "KIND", "INSTANCE", "DEPLOYMENT", "REPAIRED", "PROBLEM", "ACTION")
		for _, f := range rep.Findings {
			action := f.Action
			if f.Error != "" {
				action += " (error: " + f.Error + ")"
			}
			row(tw, f.Kind, orDash(f.InstanceID), orDash(f.DeploymentID), yesNo(f.Repaired), f.Problem, action)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	prefix := ""
	if rep.DryRun {
		prefix = "dry run: "
	}
	_, err := fmt.Fprintf(w, "%schecked %d instances, %d bindings, %d labelled deployments and %d binding secrets: %d findings, %d repaired, %d errors\n",
		prefix, rep.Instances, rep.Bindings, rep.Deployments, rep.Secrets, len(rep.Findings), rep.Repaired, rep.Errors)
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
