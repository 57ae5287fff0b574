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
	"github.com/cfybroker/cfybroker/internal/basicauth"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/health"
	"github.com/cfybroker/cfybroker/internal/metrics"
	"github.com/cfybroker/cfybroker/internal/osb"
	"github.com/cfybroker/cfybroker/internal/seal"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

// Bounds of the embedded shape's waits on the manager: each call ends after
// CloudifyCallTimeout, or callReserve before the step's own timeout, so that a hung
// manager gives the runner a clean error to retry, never a step cut short.
const (
	defaultCloudifyCallTimeout = 60 * time.Second
	maxCloudifyCallTimeout     = 2 * time.Minute
	stepTimeout                = 3 * time.Minute
	callReserve                = 5 * time.Second
)

// serveConfig is the embedded server's configuration: flags win over the environment.
type serveConfig struct {
	Listen           string
	Username         string
	Password         string
	ExtraCredentials string // "user:pass,user:pass": more accepted pairs, for rotation
	// AdminUsername, AdminPassword and AdminExtraCredentials are the operator's
	// credentials for the admin API (/admin/v1/), distinct from the platform's. Without
	// a password the admin API is off.
	AdminUsername         string
	AdminPassword         string
	AdminExtraCredentials string
	CloudifyURL           string
	// CloudifySim asks for the built-in simulator instead of a manager: it must be
	// explicit, so that a production host missing CLOUDIFY_URL never "deploys" into memory.
	CloudifySim      bool
	CloudifyTenant   string
	CloudifyUsername string
	CloudifyPassword string
	CloudifyToken    string
	// CloudifyCallTimeout bounds each call to the manager, below the runner's step
	// timeout, so that a hung manager gives a clean, retried error.
	CloudifyCallTimeout time.Duration
	DataDir             string
	LogLevel            string
	LogFormat           string
	CatalogInterval     time.Duration
	DashboardTemplate   string
	DefaultDeadline     time.Duration
	Concurrency         int
	// PollMin is the shortest wait between two looks at a running execution.
	PollMin time.Duration
	// SimVersion and SimSpeed tune the built-in simulator (no Cloudify URL).
	SimVersion string
	SimSpeed   float64
	// CatalogTTL is how long the OSB API reuses the catalog it read (0: the broker's
	// default, 5 s), so an operator's catalog change reaches the platform within it.
	CatalogTTL time.Duration
	// MetricsListen is the address of the Prometheus metrics (and probes); "" serves none.
	MetricsListen string
	// CloudifyCABundle is a PEM file of CAs to trust for the manager (a private CA).
	CloudifyCABundle string
	// SecretFlags are the secret flags given on the command line, which other users
	// of the host see in ps: serve warns about each.
	SecretFlags []string
}

// secretFlags are the flags whose values are secrets, each with its variable.
var secretFlags = [][2]string{
	{"password", "CFYBROKER_PASSWORD"},
	{"extra-credentials", "CFYBROKER_EXTRA_CREDENTIALS"},
	{"admin-password", "CFYBROKER_ADMIN_PASSWORD"},
	{"admin-extra-credentials", "CFYBROKER_ADMIN_EXTRA_CREDENTIALS"},
	{"cloudify-password", "CLOUDIFY_PASSWORD"},
	{"cloudify-token", "CLOUDIFY_TOKEN"},
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
		Long: `Run the embedded broker against the Cloudify manager at --cloudify-url, or, with
--cloudify-sim, against a built-in Cloudify manager simulator with the sample blueprints
(a demo on a fresh machine: nothing real is deployed; at its first start it stores a
catalog overlay that hides the simulator's test fixtures). One of the two is required.

Every flag has an environment variable; a flag given on the command line wins.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Secrets are read from the environment here, not as flag defaults, so that
			// --help never prints them.
			for _, f := range secretFlags {
				if cmd.Flags().Changed(f[0]) {
					cfg.SecretFlags = append(cfg.SecretFlags, f[0])
				}
			}
			secretFromEnv(&cfg.Password, "CFYBROKER_PASSWORD")
			secretFromEnv(&cfg.ExtraCredentials, "CFYBROKER_EXTRA_CREDENTIALS")
			secretFromEnv(&cfg.AdminPassword, "CFYBROKER_ADMIN_PASSWORD")
			secretFromEnv(&cfg.AdminExtraCredentials, "CFYBROKER_ADMIN_EXTRA_CREDENTIALS")
			secretFromEnv(&cfg.CloudifyPassword, "CLOUDIFY_PASSWORD")
			secretFromEnv(&cfg.CloudifyToken, "CLOUDIFY_TOKEN")
			return runServe(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", envOr("CFYBROKER_LISTEN", "127.0.0.1:8080"), "address to serve the OSB API on (CFYBROKER_LISTEN)")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", envOr("CFYBROKER_METRICS_LISTEN", ""), "address to serve Prometheus metrics on, /metrics (CFYBROKER_METRICS_LISTEN; empty: none)")
	f.StringVar(&cfg.Username, "username", envOr("CFYBROKER_USERNAME", ""), "broker Basic-auth username (CFYBROKER_USERNAME; default \"broker\")")
	f.StringVar(&cfg.Password, "password", "", "broker Basic-auth password (CFYBROKER_PASSWORD; default: random, printed at start)")
	f.StringVar(&cfg.ExtraCredentials, "extra-credentials", "", "more accepted user:password pairs, comma-separated, for rotation (CFYBROKER_EXTRA_CREDENTIALS)")
	f.StringVar(&cfg.AdminUsername, "admin-username", envOr("CFYBROKER_ADMIN_USERNAME", ""), "operator's Basic-auth username for the admin API, /admin/v1/ (CFYBROKER_ADMIN_USERNAME; default \"operator\")")
	f.StringVar(&cfg.AdminPassword, "admin-password", "", "operator's Basic-auth password for the admin API (CFYBROKER_ADMIN_PASSWORD; none: the admin API is off)")
	f.StringVar(&cfg.AdminExtraCredentials, "admin-extra-credentials", "", "more accepted operator user:password pairs, comma-separated, for rotation (CFYBROKER_ADMIN_EXTRA_CREDENTIALS)")
	f.StringVar(&cfg.CloudifyURL, "cloudify-url", envOr("CLOUDIFY_URL", ""), "Cloudify manager URL, e.g. https://manager (CLOUDIFY_URL; required unless --cloudify-sim)")
	f.BoolVar(&cfg.CloudifySim, "cloudify-sim", envOr("CFYBROKER_CLOUDIFY_SIM", "") == "true", "use the built-in Cloudify simulator with the sample blueprints instead of a manager: a demo, nothing real is deployed (CFYBROKER_CLOUDIFY_SIM=true)")
	f.StringVar(&cfg.CloudifyTenant, "cloudify-tenant", envOr("CLOUDIFY_TENANT", "default_tenant"), "Cloudify tenant (CLOUDIFY_TENANT)")
	f.StringVar(&cfg.CloudifyUsername, "cloudify-username", envOr("CLOUDIFY_USERNAME", "admin"), "Cloudify username (CLOUDIFY_USERNAME)")
	f.StringVar(&cfg.CloudifyPassword, "cloudify-password", "", "Cloudify password (CLOUDIFY_PASSWORD)")
	f.StringVar(&cfg.CloudifyToken, "cloudify-token", "", "Cloudify API token instead of a password (CLOUDIFY_TOKEN)")
	f.StringVar(&cfg.CloudifyCABundle, "cloudify-ca-bundle", envOr("CLOUDIFY_CA_BUNDLE", ""), "PEM file of CA certificates to trust for the manager, besides the system's (CLOUDIFY_CA_BUNDLE)")
	f.DurationVar(&cfg.CloudifyCallTimeout, "cloudify-call-timeout", envDuration("CLOUDIFY_CALL_TIMEOUT", defaultCloudifyCallTimeout), "longest wait for one answer of the manager, at most 2m (CLOUDIFY_CALL_TIMEOUT)")
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
	for _, name := range cfg.SecretFlags {
		for _, f := range secretFlags {
			if f[0] == name {
				log.Warn("a secret on the command line is visible to every user of the host (ps, /proc): set the environment variable instead",
					"flag", "--"+name, "variable", f[1])
			}
		}
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
	// metrics counts requests, operations, steps and Cloudify errors; metricsHTTP
	// serves them when MetricsListen is set.
	metrics     *metrics.Metrics
	metricsLn   net.Listener
	metricsHTTP *http.Server
}

// Addr is the address the OSB API listens on.
func (s *server) Addr() string { return s.ln.Addr().String() }

// startServer wires and starts the embedded broker: store, Cloudify client (or the
// built-in simulator), workflow engine and runner, catalog sync, OSB handler.
func startServer(ctx context.Context, cfg serveConfig, log *slog.Logger) (_ *server, err error) {
	if err := cfg.checkManager(); err != nil {
		return nil, err
	}
	if cfg.CloudifyCallTimeout == 0 {
		cfg.CloudifyCallTimeout = defaultCloudifyCallTimeout
	}
	if cfg.CloudifyCallTimeout < 0 || cfg.CloudifyCallTimeout > maxCloudifyCallTimeout {
		return nil, usageError{fmt.Errorf("--cloudify-call-timeout %s: want more than 0 and at most %s (a step may take %s)", cfg.CloudifyCallTimeout, maxCloudifyCallTimeout, stepTimeout)}
	}
	if err := broker.CheckDeadline(cfg.DefaultDeadline); err != nil {
		return nil, usageError{fmt.Errorf("--default-deadline: %w", err)}
	}
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
	creds := []basicauth.Credential{{Username: s.cfg.Username, Password: s.cfg.Password}}
	extra, err := parseCredentials(cfg.ExtraCredentials)
	if err != nil {
		return nil, err
	}
	creds = append(creds, extra...)
	adminCreds, err := s.cfg.adminCredentials(creds)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	s.store, err = boltstore.Open(filepath.Join(cfg.DataDir, dbFile))
	if err != nil {
		return nil, err
	}
	key, err := seal.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, keyFile))
	if err != nil {
		return nil, err
	}
	sealer, err := seal.New(key)
	if err != nil {
		return nil, err
	}

	managerURL := cfg.CloudifyURL
	cfyUser, cfyPass := cfg.CloudifyUsername, cfg.CloudifyPassword
	if cfg.CloudifySim {
		managerURL, cfyUser, cfyPass, err = s.startSimulator(cfg, log)
		if err != nil {
			return nil, err
		}
		if err := seedDemoOverlay(ctx, s.store, log); err != nil {
			return nil, err
		}
	}
	s.metrics = metrics.New(metrics.Config{Operations: s.store, Logger: log.With("component", "metrics")})
	opts := []cloudify.Option{cloudify.WithTenant(cfg.CloudifyTenant), cloudify.WithUserAgent("cfybroker"),
		cloudify.WithCallTimeout(cfg.CloudifyCallTimeout, callReserve),
		cloudify.WithAPIErrorHook(s.metrics.CloudifyError),
		cloudify.WithCredentials(cfyUser, cfyPass, cfg.CloudifyToken)}
	if cfg.CloudifyCABundle != "" {
		pem, err := os.ReadFile(cfg.CloudifyCABundle)
		if err != nil {
			return nil, usageError{fmt.Errorf("cloudify CA bundle: %w", err)}
		}
		opts = append(opts, cloudify.WithCABundle(pem))
	}
	client, err := cloudify.New(managerURL, opts...)
	if err != nil {
		return nil, usageError{fmt.Errorf("cloudify url: %w", err)}
	}

	engine := &workflow.Engine{Store: s.store, Cloudify: client, Sealer: sealer, Logger: log, Backoff: workflow.Backoff{Min: cfg.PollMin},
		Observer: s.metrics}
	runner := workflow.NewRunner(engine, s.store, workflow.RunnerConfig{Concurrency: cfg.Concurrency, Logger: log, RetryMin: cfg.PollMin,
		StepTimeout: stepTimeout})
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

	// The admin API has the operator's credentials, never the platform's; without
	// them it is off (it answers that it is).
	hlog := log.With("component", "health")
	routes := osbRoutes(
		osb.NewHandler(s.useCases, osb.Config{Credentials: creds, Logger: log}),
		admin.NewHandler(s.admin, admin.HandlerConfig{Credentials: adminCreds, Logger: log.With("component", "admin")}),
		health.Live(), health.Ready(hlog, s.readyCheck()))
	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := s.startMetrics(); err != nil {
		return nil, err
	}
	s.http = &http.Server{Handler: s.metrics.Middleware(routes), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute}
	go func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "error", err)
		}
	}()
	log.Info("broker started", "listen", s.Addr(), "cloudify_url", managerURL, "tenant", cfg.CloudifyTenant, "data_dir", cfg.DataDir,
		"admin_api", len(adminCreds) > 0)
	return s, nil
}

// simStateFile is the built-in simulator's state in the data directory.
const simStateFile = "cloudify-sim.json"

// startSimulator starts the built-in Cloudify simulator on a loopback port.
func (s *server) startSimulator(cfg serveConfig, log *slog.Logger) (url, user, pass string, err error) {
	user, pass = "admin", randomPassword()
	s.sim = cloudifysim.New(cloudifysim.Config{
		Version:     cfg.SimVersion,
		Users:       map[string]string{user: pass},
		LoadSamples: true,
		Clock:       cloudifysim.NewSpeedClock(cfg.SimSpeed),
		Logger:      log.With("component", "cloudify-sim"),
		// The demo's manager keeps its state beside the broker's, so that a restart
		// (after kill -9 too) finds the deployments the broker's instances name.
		StateFile: filepath.Join(cfg.DataDir, simStateFile),
	})
	if err := s.sim.LoadState(); err != nil {
		return "", "", "", fmt.Errorf("built-in simulator: %w (move the file away to start with an empty manager)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", "", fmt.Errorf("simulator listen: %w", err)
	}
	s.simSrv = &http.Server{Handler: s.sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.simSrv.Serve(ln) }()
	url = "http://" + ln.Addr().String()
	log.Warn("--cloudify-sim: using the built-in Cloudify simulator with the sample blueprints; nothing real is deployed",
		"simulator_url", url, "manager_version", cfg.SimVersion)
	return url, user, pass, nil
}

// demoOverlay is the catalog overlay the demo (--cloudify-sim) starts with. The
// simulator's samples include blueprints that exist for tests: one whose install
// always fails and a bare one with a required input. A platform that takes the first
// bindable service of the catalog, as conformance checkers do, must get one that
// works, so the demo hides them; the tests, and dev cloudify-sim behind
// --cloudify-url, still see them.
const demoOverlay = `# The demo's overlay (cfybroker serve --cloudify-sim), stored at its first start.
# failing-install and required-input are test fixtures of the simulator: import an
# overlay that does not list them under hidden to publish them.
version: 1
hidden: [failing-install, required-input]
# What platforms project from binding credentials (the Service Binding for Kubernetes
# type and uri). mariadb makes a database user per binding (its osb_bind and
# osb_unbind workflows), valid 30 days and rotatable; the others share credentials.
services:
  mariadb:
    credentials_type: mysql
    uri_template: "mysql://{username}:{password}@{host}:{port}/{database}"
    binding_rotation: {maximum_validity_period: 2592000, overlap_period: 86400}
  mariadb-v2:
    credentials_type: mysql
  redis-cache:
    credentials_type: redis
  s3-bucket:
    credentials_type: s3
`

// seedDemoOverlay stores demoOverlay when the data directory has no overlay yet, so
// that the demo's catalog shows only the realistic samples. An overlay the operator
// stored (an empty one too) is left as it is.
func seedDemoOverlay(ctx context.Context, store broker.CatalogStore, log *slog.Logger) error {
	_, err := store.GetOverlay(ctx)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, broker.ErrNotFound):
		return fmt.Errorf("demo overlay: %w", err)
	}
	if err := store.PutOverlay(ctx, []byte(demoOverlay)); err != nil {
		return fmt.Errorf("demo overlay: %w", err)
	}
	log.Info("--cloudify-sim: stored the demo's catalog overlay, which hides the test fixtures failing-install and required-input")
	return nil
}

// adminCredentials are the operator's pairs (none: the admin API is off). A pair that
// the OSB API also accepts is refused: the two roles must not share a credential.
func (c *serveConfig) adminCredentials(osbCreds []basicauth.Credential) ([]basicauth.Credential, error) {
	if c.AdminPassword == "" {
		if c.AdminExtraCredentials != "" {
			return nil, usageError{errors.New("--admin-extra-credentials needs --admin-password (CFYBROKER_ADMIN_PASSWORD)")}
		}
		return nil, nil
	}
	if c.AdminUsername == "" {
		c.AdminUsername = "operator"
	}
	out := []basicauth.Credential{{Username: c.AdminUsername, Password: c.AdminPassword}}
	extra, err := parseCredentials(c.AdminExtraCredentials)
	if err != nil {
		return nil, usageError{fmt.Errorf("admin %w", err)}
	}
	out = append(out, extra...)
	for _, a := range out {
		for _, o := range osbCreds {
			if a == o {
				return nil, usageError{fmt.Errorf("the admin credential of user %q is also an OSB credential: the operator's and the platform's credentials must differ", a.Username)}
			}
		}
	}
	return out, nil
}

// checkManager requires exactly one of a manager URL and the built-in simulator.
func (c serveConfig) checkManager() error {
	switch {
	case c.CloudifyURL == "" && !c.CloudifySim:
		return usageError{errors.New("no Cloudify manager: set --cloudify-url (CLOUDIFY_URL), or pass --cloudify-sim for the built-in simulator (a demo: nothing real is deployed)")}
	case c.CloudifyURL != "" && c.CloudifySim:
		return usageError{errors.New("--cloudify-url and --cloudify-sim exclude each other: pass one")}
	}
	return nil
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
	if s.metricsHTTP != nil {
		_ = s.metricsHTTP.Shutdown(ctx)
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
func parseCredentials(s string) ([]basicauth.Credential, error) {
	var out []basicauth.Credential
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		u, p, ok := strings.Cut(pair, ":")
		if !ok || u == "" || p == "" {
			return nil, usageError{errors.New("extra credentials must be user:password pairs separated by commas")}
		}
		out = append(out, basicauth.Credential{Username: u, Password: p})
	}
	return out, nil
}
