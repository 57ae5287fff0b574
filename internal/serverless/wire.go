package serverless

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/seal"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

// parts are what every function builds at cold start.
type parts struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	metrics  *Metrics
	secrets  Secrets
	cloudify *cloudify.Client
	sealer   *seal.AEAD
	engine   *workflow.Engine
}

// build checks the config and deps, reads the secrets in want, and builds the
// Cloudify client, the sealer and the workflow engine.
func build(ctx context.Context, cfg Config, deps Deps, want secretSet, required ...string) (*parts, error) {
	if err := cfg.require(required...); err != nil {
		return nil, err
	}
	if deps.Store == nil {
		return nil, fmt.Errorf("serverless: no store")
	}
	deps = deps.withDefaults(cfg)
	p := &parts{cfg: cfg, deps: deps, log: deps.Logger, metrics: deps.metrics(cfg)}
	var err error
	if p.secrets, err = loadSecrets(ctx, deps.Secrets, cfg, want); err != nil {
		return nil, err
	}
	opts := []cloudify.Option{
		cloudify.WithTenant(cfg.CloudifyTenant),
		cloudify.WithUserAgent("cfybroker-lambda"),
		cloudify.WithHTTPClient(deps.HTTPClient),
		cloudify.WithCallTimeout(cfg.CloudifyCallTimeout, CallReserve),
		cloudify.WithCredentials(p.secrets.CloudifyUsername, p.secrets.CloudifyPassword, p.secrets.CloudifyToken),
	}
	ca, err := caBundle(cfg, p.secrets)
	if err != nil {
		return nil, err
	}
	if len(ca) > 0 {
		opts = append(opts, cloudify.WithCABundle(ca))
	}
	if p.cloudify, err = cloudify.New(cfg.CloudifyURL, opts...); err != nil {
		return nil, fmt.Errorf("serverless: %s: %w", EnvCloudifyURL, err)
	}
	if p.sealer, err = seal.New(p.secrets.SealKey); err != nil {
		return nil, fmt.Errorf("serverless: %w", err)
	}
	p.engine = &workflow.Engine{
		Store:    deps.Store,
		Cloudify: p.cloudify,
		Sealer:   p.sealer,
		Backoff:  workflow.Backoff{Min: cfg.PollMin, Max: cfg.PollMax},
		Logger:   p.log,
		Now:      deps.Now,
	}
	return p, nil
}

// caBundle returns the CA certificates the Cloudify client trusts besides the
// system's: those of the CLOUDIFY_CA_BUNDLE file (relative to LAMBDA_TASK_ROOT, the
// function's directory, when it is set) and of the CLOUDIFY_CA_BUNDLE_SECRET_ARN
// secret, read by loadSecrets.
func caBundle(cfg Config, s Secrets) ([]byte, error) {
	var out [][]byte
	if f := cfg.CloudifyCABundle; f != "" {
		if root := os.Getenv("LAMBDA_TASK_ROOT"); root != "" && !filepath.IsAbs(f) {
			f = filepath.Join(root, f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("serverless: %s: %w", EnvCABundle, err)
		}
		out = append(out, b)
	}
	if len(s.CloudifyCABundle) > 0 {
		out = append(out, s.CloudifyCABundle)
	}
	return bytes.Join(out, []byte("\n")), nil
}
