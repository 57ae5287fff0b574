// Command cfybroker is the Open Service Broker for Cloudify: the embedded server
// (serve), the operator CLI, and development tools (dev).
//
// Exit codes: 0 success, 1 failure, 2 bad usage, 3 something found (reconcile,
// catalog diff --exit-code).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	if err := root.ExecuteContext(ctx); err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "cfybroker:", msg)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks errors that come from how the command was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "cfybroker",
		Short:         "An Open Service Broker for Cloudify",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRun,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCommand(), newDevCommand(),
		newCatalogCommand(), newInstancesCommand(), newOpsCommand(), newReconcileCommand(),
		newControllerCommand())
	return root
}

const rootLong = `cfybroker publishes Cloudify blueprints as an Open Service Broker (OSB API 2.17) catalog
and drives Cloudify deployments for the platform's service instances and bindings.

The operator commands (catalog, instances, ops, reconcile) work on one of:
  --url URL        a running broker, through its admin API (/admin/v1/, with the
                   operator's credentials, not the platform's: --username/--password or
                   CFYBROKER_URL, CFYBROKER_ADMIN_USERNAME, CFYBROKER_ADMIN_PASSWORD; the
                   broker serves it only when started with --admin-password);
  --data-dir DIR   the data directory of an embedded broker that is not running
                   (CFYBROKER_DATA_DIR, default "data");
  --table NAME     the DynamoDB table of the AWS deployment (CFYBROKER_TABLE; AWS and
                   function settings from the environment).
Without a flag, CFYBROKER_URL, then CFYBROKER_TABLE, then the data directory is used.
Commands that need the manager on a data directory or table read CLOUDIFY_URL and its
credentials from the environment, as serve does. Output is a table; -o json or -o yaml
for scripts.

Exit status:
  0  success
  1  failure (the message says why)
  2  bad usage: unknown command or flag, wrong arguments
  3  something was found: reconcile found (and repaired, or reported) a problem;
     catalog diff --exit-code found changes`
