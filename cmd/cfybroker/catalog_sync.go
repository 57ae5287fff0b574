package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/admin"
)

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
