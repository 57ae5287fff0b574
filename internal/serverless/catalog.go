package serverless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// CatalogResult is what one run of the catalog function did.
type CatalogResult struct {
	// Services is the number of services in the published catalog; ETag its ETag.
	Services int    `json:"services"`
	ETag     string `json:"etag"`
	// Warnings is the number of blueprints the catalog build warned about (each is
	// logged).
	Warnings int `json:"warnings"`
	// Sweep is what the sweep of unfinished operations did.
	Sweep sfn.SweepResult `json:"sweep"`
}

// CatalogHandler is the scheduled function: it rebuilds the catalog from the
// manager's blueprints, then sweeps the operations in progress (see sfn.Sweeper).
// The event (an EventBridge scheduled event) is not used.
//
// Errors: the catalog sync's and the sweep's, joined; the sweep runs even when the
// sync fails, and a failed sync leaves the previous catalog published.
type CatalogHandler func(ctx context.Context, event json.RawMessage) (CatalogResult, error)

// NewCatalogHandler builds the catalog function. It reads the Cloudify and sealing
// secrets (once, now). It requires the settings CLOUDIFY_URL, STATE_MACHINE_ARN,
// CLOUDIFY_SECRET_ARN and SEAL_KEY_SECRET_ARN, and deps.Store, deps.StepFunctions and
// deps.Secrets.
func NewCatalogHandler(ctx context.Context, cfg Config, deps Deps) (CatalogHandler, error) {
	p, err := build(ctx, cfg, deps, secretSet{cloudify: true, sealKey: true},
		EnvCloudifyURL, EnvStateMachineARN, EnvCloudifySecretARN, EnvSealKeySecretARN)
	if err != nil {
		return nil, err
	}
	if deps.StepFunctions == nil {
		return nil, errors.New("serverless: no Step Functions client")
	}
	syncer := &catalog.Syncer{
		Source:  p.cloudify,
		Store:   p.deps.Store,
		Options: catalog.BuildOptions{ManagerURL: cfg.CloudifyURL, Tenant: cfg.CloudifyTenant},
	}
	sweeper := &sfn.Sweeper{
		Lister:     p.deps.Store,
		Failer:     p.engine,
		Starter:    sfn.NewStarter(deps.StepFunctions, cfg.StateMachineARN),
		StaleAfter: cfg.StaleAfter,
		Logger:     p.log,
		Now:        p.deps.Now,
	}
	return func(ctx context.Context, _ json.RawMessage) (CatalogResult, error) {
		var res CatalogResult
		var errs []error
		cat, warnings, err := syncer.Sync(ctx)
		for _, w := range warnings {
			p.log.WarnContext(ctx, "catalog", "warning", w.String())
		}
		res.Warnings = len(warnings)
		if err != nil {
			p.log.ErrorContext(ctx, "catalog sync failed; the previous catalog stays published", "error", err)
			errs = append(errs, err)
		} else {
			res.Services, res.ETag = len(cat.Services), cat.ETag
			p.log.InfoContext(ctx, "catalog synced", "services", len(cat.Services), "etag", cat.ETag)
		}
		res.Sweep, err = sweeper.Sweep(ctx)
		p.metrics.Swept(res.Sweep.Restarted, res.Sweep.Failed)
		if err != nil {
			p.log.ErrorContext(ctx, "sweep failed", "error", err)
			errs = append(errs, err)
		}
		p.log.InfoContext(ctx, "sweep done", "active", res.Sweep.Active, "stale", res.Sweep.Stale,
			"running", res.Sweep.Running, "restarted", res.Sweep.Restarted, "failed", res.Sweep.Failed)
		if err := errors.Join(errs...); err != nil {
			return res, fmt.Errorf("serverless: catalog: %w", err)
		}
		return res, nil
	}, nil
}
