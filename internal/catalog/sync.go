package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// BlueprintSource lists the manager's blueprints; *cloudify.Client is one.
type BlueprintSource interface {
	// ListBlueprints returns every blueprint of the tenant matching opts (all pages), or
	// an error and no blueprints.
	ListBlueprints(ctx context.Context, opts cloudify.ListOptions) ([]cloudify.Blueprint, error)
}

var _ BlueprintSource = (*cloudify.Client)(nil)

// Syncer rebuilds the published catalog from the manager and the stored overlay.
type Syncer struct {
	// Source lists the blueprints.
	Source BlueprintSource
	// Store holds the overlay and receives the catalog.
	Store broker.CatalogStore
	// Options are the Build options; Options.Previous is ignored (Sync reads the stored
	// catalog for it).
	Options BuildOptions
	// Progress, when set, is called as services are built: (0, total) first, then once per
	// service.
	Progress func(done, total int)
}

// Sync lists every blueprint (with the fields Build needs, plan included), reads the
// overlay from the store (none stored is the empty overlay), builds the catalog and stores
// it. It returns the stored catalog and Build's warnings. On any error nothing is stored,
// so the previous catalog stays published.
func (s *Syncer) Sync(ctx context.Context) (broker.Catalog, []Warning, error) {
	var ov Overlay
	doc, err := s.Store.GetOverlay(ctx)
	switch {
	case errors.Is(err, broker.ErrNotFound):
	case err != nil:
		return broker.Catalog{}, nil, fmt.Errorf("catalog: sync: read overlay: %w", err)
	default:
		if ov, err = ParseOverlay(doc); err != nil {
			return broker.Catalog{}, nil, fmt.Errorf("catalog: sync: %w", err)
		}
	}
	opts := s.Options
	opts.Previous = nil
	prev, err := s.Store.GetCatalog(ctx)
	switch {
	case errors.Is(err, broker.ErrNotFound):
	case err != nil:
		return broker.Catalog{}, nil, fmt.Errorf("catalog: sync: read catalog: %w", err)
	default:
		opts.Previous = &prev
	}

	blueprints, err := s.Source.ListBlueprints(ctx, cloudify.ListOptions{Include: BlueprintFields(opts.ManagerVersion)})
	if err != nil {
		return broker.Catalog{}, nil, fmt.Errorf("catalog: sync: list blueprints: %w", err)
	}
	cat, warns, err := build(blueprints, ov, opts, s.Progress)
	if err != nil {
		return broker.Catalog{}, warns, fmt.Errorf("catalog: sync: %w", err)
	}
	if err := s.Store.PutCatalog(ctx, cat); err != nil {
		return broker.Catalog{}, warns, fmt.Errorf("catalog: sync: store catalog: %w", err)
	}
	return cat, warns, nil
}

// BlueprintFields returns the _include projection of a blueprint list for Build on a
// manager of that version ("" is current). The manager answers 400
// no_such_include_field_error for a field it does not know, so fields are added by release:
// state (5.2), is_hidden (5.x; asked from 5.2), labels (6.0).
func BlueprintFields(managerVersion string) []string {
	fields := []string{"id", "description", "plan", "tenant_name", "visibility", "created_at"}
	v, ok := cloudify.ParseManagerVersion(managerVersion)
	modern := managerVersion == "" || !ok
	if modern || v.AtLeast(5, 2, 0) {
		fields = append(fields, "state", "is_hidden")
	}
	if modern || v.AtLeast(6, 0, 0) {
		fields = append(fields, "labels")
	}
	return fields
}
