package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
)

// newCatalogCredentialsCommand returns the "catalog credentials" group.
func newCatalogCredentialsCommand(bf *backendFlags) *cobra.Command {
	creds := &cobra.Command{
		Use:   "credentials",
		Short: "Map the manager's capabilities and outputs to binding credentials",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	creds.AddCommand(newCredentialsMapCommand(bf), newCredentialsUnmapCommand(bf))
	return creds
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
