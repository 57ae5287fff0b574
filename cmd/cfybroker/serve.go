package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/osb"
	"github.com/cfybroker/cfybroker/internal/seal"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

// serveConfig is the embedded server's configuration: flags win over the environment.
type serveConfig struct {
	Listen            string
	Username          string
	Password          string
	ExtraCredentials  string // "user:pass,user:pass": more accepted pairs, for rotation
	CloudifyURL       string
	CloudifyTenant    string
	CloudifyUsername  string
	CloudifyPassword  string
	CloudifyToken     string
	DataDir           string
	LogLevel          string
	LogFormat         string
	CatalogInterval   time.Duration
	DashboardTemplate string
	DefaultDeadline   time.Duration
	Concurrency       int
	// PollMin is the shortest wait between two looks at a running execution.
	PollMin time.Duration
	// SimVersion and SimSpeed tune the built-in simulator (no Cloudify URL).
	SimVersion string
	SimSpeed   float64
	// CatalogTTL is how long the OSB API reuses the catalog it read (0: the broker's
	// default, 5 s), so an operator's catalog change reaches the platform within it.
	CatalogTTL time.Duration
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// secretFromEnv fills an empty secret setting from the environment.
func secretFromEnv(v *string, key string) {
	if *v == "" {
		*v = os.Getenv(key)
	}
}

func envDuration(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func newServeCommand() *cobra.Command {
	var cfg serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded broker (the OSB API, its state and its workflow driver in one process)",
		Long: `Run the embedded broker. Without a Cloudify URL it starts a built-in Cloudify manager
simulator with the sample blueprints, so that the broker works on a fresh machine.

Every flag has an environment variable; a flag given on the command line wins.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Secrets are read from the environment here, not as flag defaults, so that
			// --help never prints them.
			secretFromEnv(&cfg.Password, "CFYBROKER_PASSWORD")
			secretFromEnv(&cfg.ExtraCredentials, "CFYBROKER_EXTRA_CREDENTIALS")
			secretFromEnv(&cfg.CloudifyPassword, "CLOUDIFY_PASSWORD")
			secretFromEnv(&cfg.CloudifyToken, "CLOUDIFY_TOKEN")
			return runServe(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", envOr("CFYBROKER_LISTEN", "127.0.0.1:8080"), "address to serve the OSB API on (CFYBROKER_LISTEN)")
	f.StringVar(&cfg.Username, "username", envOr("CFYBROKER_USERNAME", ""), "broker Basic-auth username (CFYBROKER_USERNAME; default \"broker\")")
	f.StringVar(&cfg.Password, "password", "", "broker Basic-auth password (CFYBROKER_PASSWORD; default: random, printed at start)")
	f.StringVar(&cfg.ExtraCredentials, "extra-credentials", "", "more accepted user:password pairs, comma-separated, for rotation (CFYBROKER_EXTRA_CREDENTIALS)")
	f.StringVar(&cfg.CloudifyURL, "cloudify-url", envOr("CLOUDIFY_URL", ""), "Cloudify manager URL, e.g. https://manager (CLOUDIFY_URL; empty: built-in simulator)")
	f.StringVar(&cfg.CloudifyTenant, "cloudify-tenant", envOr("CLOUDIFY_TENANT", "default_tenant"), "Cloudify tenant (CLOUDIFY_TENANT)")
	f.StringVar(&cfg.CloudifyUsername, "cloudify-username", envOr("CLOUDIFY_USERNAME", "admin"), "Cloudify username (CLOUDIFY_USERNAME)")
	f.StringVar(&cfg.CloudifyPassword, "cloudify-password", "", "Cloudify password (CLOUDIFY_PASSWORD)")
	f.StringVar(&cfg.CloudifyToken, "cloudify-token", "", "Cloudify API token instead of a password (CLOUDIFY_TOKEN)")
	f.StringVar(&cfg.DataDir, "data-dir", envOr("CFYBROKER_DATA_DIR", "data"), "directory of the broker's state and sealing key (CFYBROKER_DATA_DIR)")
	f.StringVar(&cfg.LogLevel, "log-level", envOr("CFYBROKER_LOG_LEVEL", "info"), "debug, info, warn or error (CFYBROKER_LOG_LEVEL)")
	f.StringVar(&cfg.LogFormat, "log-format", envOr("CFYBROKER_LOG_FORMAT", "text"), "text or json (CFYBROKER_LOG_FORMAT)")
	f.DurationVar(&cfg.CatalogInterval, "catalog-interval", envDuration("CFYBROKER_CATALOG_INTERVAL", 5*time.Minute), "how often the catalog is rebuilt from the manager's blueprints (CFYBROKER_CATALOG_INTERVAL)")
	f.StringVar(&cfg.DashboardTemplate, "dashboard-url", envOr("CFYBROKER_DASHBOARD_URL", "{manager}/console/deployments/{deployment_id}"), "dashboard_url template; {manager} and {deployment_id} are replaced (CFYBROKER_DASHBOARD_URL)")
	f.DurationVar(&cfg.DefaultDeadline, "default-deadline", envDuration("CFYBROKER_DEFAULT_DEADLINE", 2*time.Hour), "operation deadline for plans without maximum_polling_duration (CFYBROKER_DEFAULT_DEADLINE)")
	f.IntVar(&cfg.Concurrency, "concurrency", 16, "workflow steps run at once")
	f.DurationVar(&cfg.PollMin, "poll-min", 2*time.Second, "shortest wait between two looks at a running Cloudify execution")
	f.StringVar(&cfg.SimVersion, "sim-manager-version", envOr("CFYBROKER_SIM_VERSION", "7.0.4"), "manager version the built-in simulator plays (CFYBROKER_SIM_VERSION)")
	f.Float64Var(&cfg.SimSpeed, "sim-speed", 1, "built-in simulator: workflow durations are divided by this")
	return cmd
}

// newLogger builds the one logger of the process.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("log level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("log format %q: use text or json", format)}
}

func runServe(ctx context.Context, cfg serveConfig, stderr io.Writer) error {
	defer reserveHeapFloor()()
	log, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	srv, err := startServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	// A configured password is never printed; a generated one must be, once, on the
	// terminal (not in the structured log), or nobody could use the broker.
	if cfg.Password == "" {
		fmt.Fprintf(stderr, "\ncfybroker is serving the OSB API at http://%s\n  username: %s\n  password: %s (generated for this run; set CFYBROKER_PASSWORD)\n  try: curl -u '%s:%s' -H 'X-Broker-API-Version: 2.17' http://%s/v2/catalog\n\n",
			srv.Addr(), srv.cfg.Username, srv.cfg.Password, srv.cfg.Username, srv.cfg.Password, srv.Addr())
	} else {
		fmt.Fprintf(stderr, "\ncfybroker is serving the OSB API at http://%s (username %s, the configured password)\n  try: curl -u '%s:$CFYBROKER_PASSWORD' -H 'X-Broker-API-Version: 2.17' http://%s/v2/catalog\n\n",
			srv.Addr(), srv.cfg.Username, srv.cfg.Username, srv.Addr())
	}
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// server is one running embedded broker.
type server struct {
	cfg      serveConfig
	log      *slog.Logger
	ln       net.Listener
	http     *http.Server
	store    *boltstore.DB
	sim      *cloudifysim.Simulator
	simSrv   *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	admin    *admin.Service
	useCases *broker.UseCases
}

// Addr is the address the OSB API listens on.
func (s *server) Addr() string { return s.ln.Addr().String() }

// startServer wires and starts the embedded broker: store, Cloudify client (or the
// built-in simulator), workflow engine and runner, catalog sync, OSB handler.
func startServer(ctx context.Context, cfg serveConfig, log *slog.Logger) (_ *server, err error) {
	s := &server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.cfg.Username == "" {
		s.cfg.Username = "broker"
	}
	if s.cfg.Password == "" {
		s.cfg.Password = randomPassword()
		log.Warn("no broker password configured: generated one for this run (set CFYBROKER_PASSWORD)")
	}
	creds := []osb.Credential{{Username: s.cfg.Username, Password: s.cfg.Password}}
	extra, err := parseCredentials(cfg.ExtraCredentials)
	if err != nil {
		return nil, err
	}
	creds = append(creds, extra...)

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	s.store, err = boltstore.Open(filepath.Join(cfg.DataDir, "cfybroker.db"))
	if err != nil {
		return nil, err
	}
	key, err := seal.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "seal.key"))
	if err != nil {
		return nil, err
	}
	sealer, err := seal.New(key)
	if err != nil {
		return nil, err
	}

	managerURL := cfg.CloudifyURL
	cfyUser, cfyPass := cfg.CloudifyUsername, cfg.CloudifyPassword
	if managerURL == "" {
		managerURL, cfyUser, cfyPass, err = s.startSimulator(cfg, log)
		if err != nil {
			return nil, err
		}
	}
	opts := []cloudify.Option{cloudify.WithTenant(cfg.CloudifyTenant), cloudify.WithUserAgent("cfybroker")}
	if cfg.CloudifyToken != "" {
		opts = append(opts, cloudify.WithToken(cfg.CloudifyToken))
	} else {
		opts = append(opts, cloudify.WithBasicAuth(cfyUser, cfyPass))
	}
	client, err := cloudify.New(managerURL, opts...)
	if err != nil {
		return nil, usageError{fmt.Errorf("cloudify url: %w", err)}
	}

	engine := &workflow.Engine{Store: s.store, Cloudify: client, Sealer: sealer, Logger: log, Backoff: workflow.Backoff{Min: cfg.PollMin}}
	runner := workflow.NewRunner(engine, s.store, workflow.RunnerConfig{Concurrency: cfg.Concurrency, Logger: log, RetryMin: cfg.PollMin})
	dashboard := func(deploymentID string) string {
		r := strings.NewReplacer("{manager}", strings.TrimRight(managerURL, "/"), "{deployment_id}", deploymentID)
		return r.Replace(cfg.DashboardTemplate)
	}
	s.useCases = broker.New(s.store, s.store, runner, workflow.Values{Cloudify: client}, sealer, broker.Config{
		DashboardURL:    dashboard,
		DefaultDeadline: cfg.DefaultDeadline,
		CatalogTTL:      cfg.CatalogTTL,
		Logger:          log,
	})
	// Service and plan ids derive from the manager's identity: the configured URL, or a
	// fixed name for the built-in simulator (whose port changes at every start).
	managerIdentity := cfg.CloudifyURL
	if managerIdentity == "" {
		managerIdentity = "builtin-cloudify-simulator"
	}
	// The operator's operations (the admin API, mounted below) share the engine and the
	// runner; catalog rebuilds, periodic or asked for, go through it one at a time.
	s.admin = admin.New(s.store, admin.Config{
		Manager: client,
		Catalog: catalog.BuildOptions{ManagerURL: managerIdentity, Tenant: cfg.CloudifyTenant},
		Driver:  runner,
		Wake:    runner,
		Stepper: engine,
		Failer:  engine,
		Logger:  log.With("component", "admin"),
	})

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.syncCatalog(runCtx)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = runner.Run(runCtx) }()
	go func() { defer s.wg.Done(); s.catalogLoop(runCtx) }()

	mux := http.NewServeMux()
	mux.Handle(admin.Prefix, admin.NewHandler(s.admin, admin.HandlerConfig{Credentials: creds, Logger: log.With("component", "admin")}))
	mux.Handle("/", osb.NewHandler(s.useCases, osb.Config{Credentials: creds, Logger: log}))
	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute}
	go func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "error", err)
		}
	}()
	log.Info("broker started", "listen", s.Addr(), "cloudify_url", managerURL, "tenant", cfg.CloudifyTenant, "data_dir", cfg.DataDir)
	return s, nil
}

// startSimulator starts the built-in Cloudify simulator on a loopback port.
func (s *server) startSimulator(cfg serveConfig, log *slog.Logger) (url, user, pass string, err error) {
	user, pass = "admin", randomPassword()
	s.sim = cloudifysim.New(cloudifysim.Config{
		Version:     cfg.SimVersion,
		Users:       map[string]string{user: pass},
		LoadSamples: true,
		Clock:       newSpeedClock(cfg.SimSpeed),
		Logger:      log.With("component", "cloudify-sim"),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", "", fmt.Errorf("simulator listen: %w", err)
	}
	s.simSrv = &http.Server{Handler: s.sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.simSrv.Serve(ln) }()
	url = "http://" + ln.Addr().String()
	log.Warn("NO CLOUDIFY URL CONFIGURED: using the built-in Cloudify simulator with the sample blueprints; nothing real is deployed",
		"simulator_url", url, "manager_version", cfg.SimVersion)
	return url, user, pass, nil
}

// syncCatalog rebuilds the catalog from the manager; on failure the previous one stays.
func (s *server) syncCatalog(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := s.admin.Rebuild(sctx, admin.RebuildRequest{}, nil)
	for _, w := range res.Warnings {
		s.log.Warn("catalog", "warning", w)
	}
	if err != nil {
		s.log.Warn("catalog sync failed; serving the previous catalog", "error", err)
		return
	}
	s.log.Info("catalog synced", "services", res.Services, "etag", res.ETag)
}

func (s *server) catalogLoop(ctx context.Context) {
	if s.cfg.CatalogInterval <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.CatalogInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.syncCatalog(ctx)
		}
	}
}

// Shutdown stops serving, lets the steps in flight finish, and closes the store.
func (s *server) Shutdown(ctx context.Context) error {
	var err error
	if s.http != nil {
		err = s.http.Shutdown(ctx)
	}
	s.close()
	return err
}

func (s *server) close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if s.store != nil {
		_ = s.store.Close()
	}
	if s.simSrv != nil {
		_ = s.simSrv.Close()
	}
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// parseCredentials parses "user:pass,user:pass".
func parseCredentials(s string) ([]osb.Credential, error) {
	var out []osb.Credential
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		u, p, ok := strings.Cut(pair, ":")
		if !ok || u == "" || p == "" {
			return nil, usageError{errors.New("extra credentials must be user:password pairs separated by commas")}
		}
		out = append(out, osb.Credential{Username: u, Password: p})
	}
	return out, nil
}

// speedClock runs the simulator's time faster than real time, so that its workflows
// take seconds in a demo or a test.
type speedClock struct {
	start  time.Time
	factor float64
}

func newSpeedClock(factor float64) cloudifysim.Clock {
	if factor <= 0 {
		factor = 1
	}
	return speedClock{start: time.Now().UTC(), factor: factor}
}

// Now is the start time plus the real time elapsed, times the factor.
func (c speedClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.factor))
}
