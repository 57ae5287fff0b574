package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// newDevCommand returns the "dev" command group: tools for local development.
func newDevCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Tools for local development",
	}
	cmd.AddCommand(newCloudifySimCommand())
	return cmd
}

// newCloudifySimCommand returns "dev cloudify-sim", which serves the
// in-memory Cloudify manager simulator until interrupted.
func newCloudifySimCommand() *cobra.Command {
	var (
		listen, blueprintsDir, managerVersion string
		username, password, tenant            string
		verbose                               bool
	)
	cmd := &cobra.Command{
		Use:   "cloudify-sim",
		Short: "Serve a simulated Cloudify manager REST API (v3.1) with the sample blueprints",
		Long: "Serve an in-memory Cloudify manager that answers the REST API v3.1 like the chosen\n" +
			"release does, with the embedded sample blueprints and optional extra fixtures.\n" +
			"Executions progress in real time. Stop it with Ctrl-C.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if username == "" {
				return errors.New("--username must not be empty")
			}
			if tenant == "" {
				return errors.New("--tenant must not be empty")
			}
			sim := cloudifysim.New(cloudifysim.Config{
				Version:     managerVersion,
				Users:       map[string]string{username: password},
				Tenants:     []string{tenant},
				Logger:      logger,
				LoadSamples: true,
			})
			if blueprintsDir != "" {
				if err := sim.LoadBlueprintsDir(blueprintsDir); err != nil {
					return fmt.Errorf("loading blueprints from %s: %w", blueprintsDir, err)
				}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Cloudify manager simulator (version %s) listening on http://%s/api/v3.1\n", sim.Version(), ln.Addr())
			fmt.Fprintf(out, "  credentials: %s / %s, tenant: %s\n", username, password, tenant)
			fmt.Fprintf(out, "  blueprints:  %v\n", sim.Blueprints())
			fmt.Fprintf(out, "Press Ctrl-C to stop.\n")

			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				if errors.Is(err, http.ErrServerClosed) {
					return nil
				}
				return err
			case <-ctx.Done():
			}
			logger.Info("shutting down")
			shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutCtx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8100", "address to listen on")
	f.StringVar(&blueprintsDir, "blueprints", "", "directory of extra blueprint fixtures (*.json); the samples are always loaded")
	f.StringVar(&managerVersion, "manager-version", cloudifysim.DefaultVersion, "Cloudify manager release to simulate (e.g. 5.1, 6.2, 6.4, 7.0.4)")
	f.StringVar(&username, "username", "admin", "user name accepted for Basic auth")
	f.StringVar(&password, "password", "admin", "password accepted for Basic auth")
	f.StringVar(&tenant, "tenant", "default_tenant", "tenant name")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every request and state change")
	return cmd
}
