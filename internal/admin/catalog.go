package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/catalogview"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// OverlayDocument is the stored overlay.
type OverlayDocument struct {
	// Document is the YAML document as stored, comments included; empty when none is.
	Document string `json:"document"`
	// Hash identifies the document (see RebuildRequest.BaseHash).
	Hash string `json:"hash"`
	// Stored is false when no overlay was ever stored (the empty overlay applies).
	Stored bool `json:"stored"`
}

// RebuildRequest asks for a catalog rebuild from the manager's blueprints: a sync (no
// Overlay), an import (Overlay set), or a preview of either (DryRun).
type RebuildRequest struct {
	// Overlay, when set, is the overlay document to build with; unless DryRun it is
	// stored, as given, when the build succeeds. Nil builds with the stored overlay.
	Overlay *string `json:"overlay,omitempty"`
	// BaseHash, when set, must be the Hash of the stored overlay, else the rebuild
	// fails with EConflict: it makes a read-edit-write of the overlay safe against a
	// concurrent edit.
	BaseHash string `json:"base_hash,omitempty"`
	// DryRun builds and compares without storing anything.
	DryRun bool `json:"dry_run,omitempty"`
}

// Progress reports a rebuild's advance: the phase "blueprints" while the manager lists
// them, then "services" with Done of Total services built.
type Progress struct {
	Phase string `json:"phase"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// Progress phases.
const (
	PhaseBlueprints = "blueprints"
	PhaseServices   = "services"
)

// RebuildResult is what a rebuild built and changed.
type RebuildResult struct {
	// Applied is true when the catalog (and the overlay, if given) was stored.
	Applied bool `json:"applied"`
	// OverlayChanged is true when the given overlay differs from the stored one.
	OverlayChanged bool `json:"overlay_changed"`
	// Blueprints is the number of blueprints the manager listed.
	Blueprints int `json:"blueprints"`
	// Services and Plans count the built catalog; ETag is its ETag.
	Services int    `json:"services"`
	Plans    int    `json:"plans"`
	ETag     string `json:"etag"`
	// Changes is what the platform (and the broker) sees change from the stored catalog.
	Changes []Change `json:"changes"`
	// Warnings are the build's warnings (see catalog.Warning).
	Warnings []string `json:"warnings"`
}

// Change is one difference between the stored catalog and the built one (see
// catalog.Change).
type Change struct {
	Kind      string   `json:"kind"`
	ServiceID string   `json:"service_id"`
	Service   string   `json:"service"`
	PlanID    string   `json:"plan_id,omitempty"`
	Plan      string   `json:"plan,omitempty"`
	From      string   `json:"from,omitempty"`
	To        string   `json:"to,omitempty"`
	Fields    []string `json:"fields,omitempty"`
	// Text describes the change on one line, such as
	// "~ plan mariadb/small: maintenance_info 1.0.0 -> 2.0.0".
	Text string `json:"text"`
}

// Catalog returns the stored catalog with the broker's own fields (blueprints, fixed
// inputs, credential mappings). Errors: ENotFound before the first sync.
func (s *Service) Catalog(ctx context.Context) (broker.Catalog, error) {
	c, err := s.store.GetCatalog(ctx)
	if errors.Is(err, broker.ErrNotFound) {
		return broker.Catalog{}, Errorf(ENotFound, "no catalog has been built yet: run catalog sync")
	}
	if err != nil {
		return broker.Catalog{}, fmt.Errorf("admin: read catalog: %w", err)
	}
	return c, nil
}

// OSBCatalog returns the stored catalog as GET /v2/catalog serves it to the platform.
// Errors: ENotFound before the first sync.
func (s *Service) OSBCatalog(ctx context.Context) (json.RawMessage, error) {
	c, err := s.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	return RenderOSB(c)
}

// RenderOSB renders a catalog exactly as the OSB API serves it (GET /v2/catalog), with
// the OSB package's own view, so that what the operator sees cannot drift from what the
// platform gets.
func RenderOSB(c broker.Catalog) (json.RawMessage, error) {
	b, err := json.Marshal(catalogview.View(c))
	if err != nil {
		return nil, fmt.Errorf("admin: render catalog: %w", err)
	}
	return b, nil
}

// Overlay returns the stored overlay document.
func (s *Service) Overlay(ctx context.Context) (OverlayDocument, error) {
	doc, stored, err := s.storedOverlay(ctx)
	if err != nil {
		return OverlayDocument{}, err
	}
	return OverlayDocument{Document: string(doc), Hash: overlayHash(doc), Stored: stored}, nil
}

func (s *Service) storedOverlay(ctx context.Context) ([]byte, bool, error) {
	doc, err := s.store.GetOverlay(ctx)
	if errors.Is(err, broker.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("admin: read overlay: %w", err)
	}
	return doc, true, nil
}

// overlayHash identifies an overlay document: the SHA-256 of its bytes.
func overlayHash(doc []byte) string {
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:])
}

// Rebuild builds the catalog from the manager's blueprints and an overlay (the given
// one, or the stored one) exactly as a sync does, compares it with the stored catalog
// and, unless req.DryRun, stores the overlay (when given and different) and the
// catalog. progress, when not nil, is called as the rebuild advances.
//
// Nothing is stored when anything fails, so the published catalog stays as it was.
// Errors: EInvalid for an overlay that does not parse or does not build against the
// blueprints (the message names the lines, as "overlay.yaml:12: ..."), EConflict when
// BaseHash is not the stored overlay's, EUnavailable when there is no manager or it
// fails.
func (s *Service) Rebuild(ctx context.Context, req RebuildRequest, progress func(Progress)) (RebuildResult, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	mgr, err := s.manager("a catalog rebuild")
	if err != nil {
		return RebuildResult{}, err
	}
	var doc []byte
	if req.Overlay != nil {
		doc = []byte(*req.Overlay)
		if _, err := catalog.ParseOverlay(doc); err != nil {
			return RebuildResult{}, overlayError(err)
		}
	}

	s.rebuild.Lock()
	defer s.rebuild.Unlock()
	stored, hasStored, err := s.storedOverlay(ctx)
	if err != nil {
		return RebuildResult{}, err
	}
	if req.BaseHash != "" && req.BaseHash != overlayHash(stored) {
		return RebuildResult{}, Errorf(EConflict, "the overlay changed since it was read; run the command again")
	}
	res := RebuildResult{}
	if req.Overlay == nil {
		doc = stored
	} else {
		res.OverlayChanged = !hasStored || !bytes.Equal(doc, stored)
	}
	prev, err := s.store.GetCatalog(ctx)
	switch {
	case errors.Is(err, broker.ErrNotFound):
		prev = broker.Catalog{}
	case err != nil:
		return RebuildResult{}, fmt.Errorf("admin: read catalog: %w", err)
	}

	staged := &stagedStore{CatalogStore: s.store, overlay: doc, hasOverlay: req.Overlay != nil || hasStored}
	src := &listingSource{src: mgr, progress: progress}
	syncer := &catalog.Syncer{
		Source:  src,
		Store:   staged,
		Options: s.cfg.Catalog,
		Progress: func(done, total int) {
			progress(Progress{Phase: PhaseServices, Done: done, Total: total})
		},
	}
	built, warns, err := syncer.Sync(ctx)
	for _, w := range warns {
		res.Warnings = append(res.Warnings, w.String())
	}
	switch {
	case err == nil:
	case src.err != nil:
		return res, managerError("catalog rebuild: list blueprints", src.err)
	case staged.err != nil:
		return res, fmt.Errorf("admin: rebuild: %w", staged.err)
	default:
		return res, overlayError(err)
	}
	res.Blueprints = src.n
	res.Services, res.ETag = len(built.Services), built.ETag
	for _, svc := range built.Services {
		res.Plans += len(svc.Plans)
	}
	res.Changes = changes(catalog.Diff(prev, built))
	if req.DryRun {
		return res, nil
	}
	if res.OverlayChanged {
		if err := s.store.PutOverlay(ctx, doc); err != nil {
			return res, fmt.Errorf("admin: store overlay: %w", err)
		}
	}
	if err := s.store.PutCatalog(ctx, built); err != nil {
		return res, fmt.Errorf("admin: store catalog: %w", err)
	}
	res.Applied = true
	if res.OverlayChanged || len(res.Changes) > 0 {
		s.cfg.Logger.InfoContext(ctx, "catalog rebuilt", "services", res.Services, "etag", res.ETag,
			"changes", len(res.Changes), "overlay_changed", res.OverlayChanged)
	}
	return res, nil
}

// overlayMessage is the operator's text of an overlay or build error: one problem per
// line, without the layers' prefixes.
// overlayError is the EInvalid *Error of an overlay that does not parse or build.
func overlayError(err error) *Error {
	return &Error{Code: EInvalid, Message: overlayMessage(err), Problems: OverlayProblems(err), Err: err}
}

func overlayMessage(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"catalog: sync: ", "catalog: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

func changes(cs []catalog.Change) []Change {
	out := make([]Change, 0, len(cs))
	for _, c := range cs {
		out = append(out, Change{
			Kind: string(c.Kind), ServiceID: c.ServiceID, Service: c.Service, PlanID: c.PlanID, Plan: c.Plan,
			From: c.From, To: c.To, Fields: c.Fields, Text: c.String(),
		})
	}
	return out
}

// stagedStore is the catalog store a rebuild's Syncer sees: it reads the overlay being
// built with and the stored catalog, and keeps the built catalog instead of storing it.
type stagedStore struct {
	broker.CatalogStore
	overlay    []byte
	hasOverlay bool
	built      broker.Catalog
	err        error // the first read fault
}

func (s *stagedStore) GetOverlay(context.Context) ([]byte, error) {
	if !s.hasOverlay {
		return nil, broker.ErrNotFound
	}
	return s.overlay, nil
}

func (s *stagedStore) GetCatalog(ctx context.Context) (broker.Catalog, error) {
	c, err := s.CatalogStore.GetCatalog(ctx)
	if err != nil && !errors.Is(err, broker.ErrNotFound) && s.err == nil {
		s.err = err
	}
	return c, err
}

func (s *stagedStore) PutCatalog(_ context.Context, c broker.Catalog) error {
	s.built = c
	return nil
}

func (s *stagedStore) PutOverlay(context.Context, []byte) error {
	return errors.New("admin: a rebuild does not store the overlay through the syncer")
}

// listingSource lists the blueprints for the Syncer, reporting progress and keeping
// the manager's error apart from the build's.
type listingSource struct {
	src      catalog.BlueprintSource
	progress func(Progress)
	n        int
	err      error
}

func (l *listingSource) ListBlueprints(ctx context.Context, opts cloudify.ListOptions) ([]cloudify.Blueprint, error) {
	l.progress(Progress{Phase: PhaseBlueprints})
	bps, err := l.src.ListBlueprints(ctx, opts)
	if err != nil {
		l.err = err
		return nil, err
	}
	l.n = len(bps)
	l.progress(Progress{Phase: PhaseBlueprints, Done: len(bps), Total: len(bps)})
	return bps, nil
}
