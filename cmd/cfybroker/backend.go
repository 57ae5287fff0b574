package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/seal"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
	"github.com/cfybroker/cfybroker/internal/workflow"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// The operator commands talk to a broker through these interfaces; *admin.Service (in
// process, on a data directory or a DynamoDB table) and *admin.Client (over HTTP, to a
// running broker) implement them all.

// catalogBackend reads and rebuilds the catalog.
type catalogBackend interface {
	Catalog(ctx context.Context) (broker.Catalog, error)
	OSBCatalog(ctx context.Context) (json.RawMessage, error)
	Overlay(ctx context.Context) (admin.OverlayDocument, error)
	Rebuild(ctx context.Context, req admin.RebuildRequest, progress func(admin.Progress)) (admin.RebuildResult, error)
}

// instanceBackend reads instances.
type instanceBackend interface {
	Instances(ctx context.Context, f admin.InstanceFilter) ([]admin.InstanceView, error)
	Instance(ctx context.Context, id string) (admin.InstanceDetail, error)
}

// operationBackend lists and repairs operations.
type operationBackend interface {
	Operations(ctx context.Context, f admin.OperationFilter) ([]admin.OperationView, error)
	RetryOperation(ctx context.Context, id string) (admin.RetryResult, error)
	AbandonOperation(ctx context.Context, id, reason string) (admin.OperationView, error)
}

// reconcileBackend compares broker state with the manager.
type reconcileBackend interface {
	Reconcile(ctx context.Context, req admin.ReconcileRequest) (admin.ReconcileReport, error)
}

// backend is every operation of the CLI.
type backend interface {
	catalogBackend
	instanceBackend
	operationBackend
	reconcileBackend
}

var (
	_ backend = (*admin.Service)(nil)
	_ backend = (*admin.Client)(nil)
)

// backendFlags are the flags that choose and reach the broker, shared by every
// operator command group.
type backendFlags struct {
	url      string
	username string
	password string
	dataDir  string
	table    string
	output   string
	timeout  time.Duration
}

// addBackendFlags declares the backend flags on a command group, for its subcommands.
func addBackendFlags(cmd *cobra.Command, f *backendFlags) {
	p := cmd.PersistentFlags()
	p.StringVar(&f.url, "url", envOr("CFYBROKER_URL", ""), "URL of a running broker, e.g. http://127.0.0.1:8080 (CFYBROKER_URL)")
	p.StringVar(&f.username, "username", envOr("CFYBROKER_ADMIN_USERNAME", "operator"), "operator's admin API username, with --url (CFYBROKER_ADMIN_USERNAME)")
	// The password's default is not shown in the help: it is read from the environment
	// when the command runs.
	p.StringVar(&f.password, "password", "", "operator's admin API password, with --url (CFYBROKER_ADMIN_PASSWORD; not the platform's)")
	p.StringVar(&f.dataDir, "data-dir", envOr("CFYBROKER_DATA_DIR", "data"), "data directory of a stopped embedded broker (CFYBROKER_DATA_DIR)")
	p.StringVar(&f.table, "table", envOr("CFYBROKER_TABLE", ""), "DynamoDB table of the AWS deployment; AWS settings from the environment (CFYBROKER_TABLE)")
	p.StringVarP(&f.output, "output", "o", "table", "output format: table, json or yaml")
	p.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up after this long")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkPersistentFlagDirname("data-dir")
}

// Backend kinds.
const (
	kindURL     = "url"
	kindDataDir = "data-dir"
	kindTable   = "table"
)

// kind decides which backend the flags select: an explicit flag (at most one), else
// CFYBROKER_URL, else CFYBROKER_TABLE, else the data directory.
func (f *backendFlags) kind(cmd *cobra.Command) (string, error) {
	var explicit []string
	for _, k := range []string{kindURL, kindDataDir, kindTable} {
		if cmd.Flags().Changed(k) {
			explicit = append(explicit, "--"+k)
		}
	}
	switch {
	case len(explicit) > 1:
		return "", usageError{fmt.Errorf("%s: give only one of --url, --data-dir and --table", explicit)}
	case len(explicit) == 1:
		return explicit[0][2:], nil
	case f.url != "":
		return kindURL, nil
	case f.table != "":
		return kindTable, nil
	}
	return kindDataDir, nil
}

// open connects to the selected backend. The caller calls the returned close function.
func (f *backendFlags) open(ctx context.Context, cmd *cobra.Command) (backend, func() error, error) {
	if _, err := f.format(); err != nil {
		return nil, nil, err
	}
	kind, err := f.kind(cmd)
	if err != nil {
		return nil, nil, err
	}
	noClose := func() error { return nil }
	switch kind {
	case kindURL:
		if f.password == "" {
			f.password = envOr("CFYBROKER_ADMIN_PASSWORD", "")
		}
		if f.password == "" {
			return nil, nil, usageError{errors.New("--url needs the operator's admin API password: --password or CFYBROKER_ADMIN_PASSWORD (serve's --admin-password)")}
		}
		c, err := admin.NewClient(f.url, f.username, f.password, nil)
		if err != nil {
			return nil, nil, usageError{err}
		}
		return c, noClose, nil
	case kindTable:
		svc, err := openTable(ctx, f.table)
		if err != nil {
			return nil, nil, err
		}
		return svc, noClose, nil
	}
	return openDataDir(f.dataDir)
}

// The files of a data directory: serve creates them, the operator CLI opens them.
const (
	dbFile  = "cfybroker.db" // the bbolt store
	keyFile = "seal.key"     // the key that seals parameters and inputs
)

// openDataDir opens the state of an embedded broker that is not running.
func openDataDir(dir string) (backend, func() error, error) {
	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("no broker state in %s (no %s): give --data-dir, or --url for a running broker", dir, dbFile)
	}
	db, err := boltstore.Open(path, boltstore.WithLockTimeout(500*time.Millisecond))
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, nil, fmt.Errorf("the broker is running on %s; use --url", dir)
	}
	if err != nil {
		return nil, nil, err
	}
	mc, err := managerFromEnv()
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	cfg := admin.Config{Catalog: catalogOptions(mc)}
	engine := &workflow.Engine{Store: db, Backoff: workflow.Backoff{}}
	cfg.Failer = engine
	if mc.client != nil {
		cfg.Manager = mc.client
		engine.Cloudify = mc.client
		// A step needs the sealing key (to open the recorded inputs); without it the
		// operations in progress wait for the broker.
		keyPath := filepath.Join(dir, keyFile)
		if _, err := os.Stat(keyPath); err == nil {
			key, err := seal.LoadOrCreateKeyFile(keyPath)
			if err != nil {
				_ = db.Close()
				return nil, nil, err
			}
			if engine.Sealer, err = seal.New(key); err != nil {
				_ = db.Close()
				return nil, nil, err
			}
			cfg.Stepper = engine
		}
	}
	return admin.New(db, cfg), db.Close, nil
}

// managerConfig is the Cloudify manager of a direct backend.
type managerConfig struct {
	url    string
	tenant string
	client *cloudify.Client // nil when no URL is configured
}

// managerFromEnv reads the manager settings that serve reads (CLOUDIFY_URL,
// CLOUDIFY_TENANT, CLOUDIFY_USERNAME, CLOUDIFY_PASSWORD, CLOUDIFY_TOKEN).
func managerFromEnv() (managerConfig, error) {
	mc := managerConfig{url: envOr("CLOUDIFY_URL", ""), tenant: envOr("CLOUDIFY_TENANT", "default_tenant")}
	if mc.url == "" {
		return mc, nil
	}
	c, err := newCloudifyClient(mc.url, mc.tenant, envOr("CLOUDIFY_USERNAME", "admin"), envOr("CLOUDIFY_PASSWORD", ""), envOr("CLOUDIFY_TOKEN", ""))
	if err != nil {
		return mc, err
	}
	mc.client = c
	return mc, nil
}

func newCloudifyClient(url, tenant, user, pass, token string) (*cloudify.Client, error) {
	c, err := cloudify.New(url, cloudify.WithTenant(tenant), cloudify.WithUserAgent("cfybroker-cli"),
		cloudify.WithCredentials(user, pass, token))
	if err != nil {
		return nil, usageError{fmt.Errorf("cloudify url: %w", err)}
	}
	return c, nil
}

// catalogOptions are the build options the broker uses: the ids derive from the
// manager's identity, which is its URL (serve names the built-in simulator
// "builtin-cloudify-simulator").
func catalogOptions(mc managerConfig) catalog.BuildOptions {
	identity := mc.url
	if identity == "" {
		identity = "builtin-cloudify-simulator"
	}
	return catalog.BuildOptions{ManagerURL: identity, Tenant: mc.tenant}
}

// openTable opens the DynamoDB state of the AWS shape with the functions' settings:
// TABLE_NAME (or --table), CLOUDIFY_URL and CLOUDIFY_TENANT, the Cloudify credentials
// from CLOUDIFY_SECRET_ARN (or CLOUDIFY_USERNAME/PASSWORD/TOKEN), the sealing key from
// SEAL_KEY_SECRET_ARN (for ops retry to run a step) and STATE_MACHINE_ARN (to start
// retried operations). AWS credentials and region come from the usual chain.
func openTable(ctx context.Context, table string) (*admin.Service, error) {
	cfg, err := serverless.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if table != "" {
		cfg.TableName = table
	}
	if cfg.TableName == "" {
		return nil, usageError{errors.New("--table or CFYBROKER_TABLE names the DynamoDB table")}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	st := dynamostore.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName)
	ac := admin.Config{Catalog: catalog.BuildOptions{ManagerURL: cfg.CloudifyURL, Tenant: cfg.CloudifyTenant}}
	engine := &workflow.Engine{Store: st, Backoff: workflow.Backoff{Min: cfg.PollMin, Max: cfg.PollMax}}
	ac.Failer = engine
	if cfg.StateMachineARN != "" {
		ac.Driver = sfn.NewStarter(awssfn.NewFromConfig(awsCfg), cfg.StateMachineARN)
	}
	if cfg.CloudifyURL == "" {
		return admin.New(st, ac), nil
	}
	secrets := serverless.Secrets{
		CloudifyUsername: envOr("CLOUDIFY_USERNAME", "admin"),
		CloudifyPassword: envOr("CLOUDIFY_PASSWORD", ""),
		CloudifyToken:    envOr("CLOUDIFY_TOKEN", ""),
	}
	if cfg.CloudifySecretARN != "" || cfg.SealKeySecretARN != "" {
		loaded, err := serverless.LoadSecrets(ctx, secretsmanager.NewFromConfig(awsCfg), serverless.Config{
			CloudifySecretARN: cfg.CloudifySecretARN, SealKeySecretARN: cfg.SealKeySecretARN,
		})
		if err != nil {
			return nil, err
		}
		if cfg.CloudifySecretARN != "" {
			secrets.CloudifyUsername, secrets.CloudifyPassword, secrets.CloudifyToken = loaded.CloudifyUsername, loaded.CloudifyPassword, loaded.CloudifyToken
		}
		secrets.SealKey = loaded.SealKey
	}
	client, err := newCloudifyClient(cfg.CloudifyURL, cfg.CloudifyTenant, secrets.CloudifyUsername, secrets.CloudifyPassword, secrets.CloudifyToken)
	if err != nil {
		return nil, err
	}
	ac.Manager = client
	engine.Cloudify = client
	if len(secrets.SealKey) > 0 {
		if engine.Sealer, err = seal.New(secrets.SealKey); err != nil {
			return nil, err
		}
		ac.Stepper = engine
	}
	return admin.New(st, ac), nil
}

// run opens the backend, calls fn with it under the command's timeout, and closes it.
func (f *backendFlags) run(cmd *cobra.Command, fn func(ctx context.Context, b backend) error) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	b, closeFn, err := f.open(ctx, cmd)
	if err != nil {
		return err
	}
	defer func() { _ = closeFn() }()
	return fn(ctx, b)
}
