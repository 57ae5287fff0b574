package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// CatalogReader reads the published catalog (from broker state, never from Cloudify).
//
// GetCatalog returns an error matching ErrNotFound before the first catalog sync.
type CatalogReader interface {
	GetCatalog(ctx context.Context) (Catalog, error)
}

// Starter hands a recorded operation to the workflow driver. Start must be idempotent:
// starting an operation that is already being driven does nothing. An error means the
// driver may not have it; the operation stays recorded and the driver's sweep of
// unfinished operations picks it up later.
type Starter interface {
	Start(ctx context.Context, op Operation) error
}

// CredentialsReader reads what binding credentials are made of: a deployment's
// evaluated capabilities and outputs (shared credentials), or the Cloudify secret
// that a bind workflow left for one binding (a JSON object).
//
// Errors: an error with code EUnavailable when the manager cannot be reached now;
// from BindingSecret, one matching ErrNotFound when there is no such secret.
type CredentialsReader interface {
	DeploymentValues(ctx context.Context, deploymentID string) (capabilities, outputs map[string]any, err error)
	BindingSecret(ctx context.Context, key string) (map[string]any, error)
}

// Config tunes the use cases. Zero values take the defaults.
type Config struct {
	// DashboardURL returns the dashboard_url for a deployment; nil: no dashboard_url.
	DashboardURL func(deploymentID string) string
	// DefaultDeadline bounds an operation when its plan has no maximum_polling_duration
	// (default 2 hours).
	DefaultDeadline time.Duration
	// CatalogTTL is how long a catalog read from the store is reused (default 5 s).
	CatalogTTL time.Duration
	Now        func() time.Time
	NewID      func() string
	Logger     *slog.Logger
}

// UseCases implements the OSB use cases on top of broker state.
type UseCases struct {
	store   Store
	status  StatusReader // store's, when it has one
	catalog CatalogReader
	starter Starter
	creds   CredentialsReader
	sealer  Sealer
	cfg     Config
	schemas schemaCache

	catMu   sync.Mutex
	cat     Catalog
	catRead time.Time
}

// New returns the use cases. Every dependency is required.
func New(store Store, catalog CatalogReader, starter Starter, creds CredentialsReader, sealer Sealer, cfg Config) *UseCases {
	if cfg.DefaultDeadline <= 0 {
		cfg.DefaultDeadline = 2 * time.Hour
	}
	if cfg.CatalogTTL <= 0 {
		cfg.CatalogTTL = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = func() string { return uuid.NewString() }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	status, _ := store.(StatusReader)
	return &UseCases{store: store, status: status, catalog: catalog, starter: starter, creds: creds, sealer: sealer, cfg: cfg}
}

func (s *UseCases) now() time.Time { return s.cfg.Now().UTC() }

// Catalog returns the published catalog (GET /v2/catalog). Before the first sync it
// is an empty catalog.
func (s *UseCases) Catalog(ctx context.Context) (Catalog, error) {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	if !s.catRead.IsZero() && s.cfg.Now().Sub(s.catRead) < s.cfg.CatalogTTL {
		return s.cat, nil
	}
	c, err := s.catalog.GetCatalog(ctx)
	if errors.Is(err, ErrNotFound) {
		c, err = Catalog{Services: []Service{}, ETag: "empty"}, nil
	}
	if err != nil {
		return Catalog{}, fmt.Errorf("broker: read catalog: %w", err)
	}
	s.cat, s.catRead = c, s.cfg.Now()
	return c, nil
}

// lookupPlan finds the service and plan of a request.
func (s *UseCases) lookupPlan(ctx context.Context, serviceID, planID string) (Service, Plan, error) {
	c, err := s.Catalog(ctx)
	if err != nil {
		return Service{}, Plan{}, err
	}
	svc, ok := c.Service(serviceID)
	if !ok {
		return Service{}, Plan{}, Errorf(EInvalid, "service_id %q is not in the catalog", serviceID)
	}
	plan, ok := svc.Plan(planID)
	if !ok {
		return Service{}, Plan{}, Errorf(EInvalid, "plan_id %q is not a plan of service %q", planID, svc.Name)
	}
	return svc, plan, nil
}

// checkInstanceIDs refuses, with a 400, a service_id or plan_id that is not the
// instance's, so that a platform that confuses two instances changes neither. An empty
// id is not checked: the OSB surface requires both where OSB does.
//
// The instance's plan is its PlanID, except while an update that changes the plan runs:
// the platform may then name the instance by the old plan (OSB has it send the old one
// on last_operation, and a platform may go on using it until the update ends) or by the
// new one (the operation's PlanID). Both are taken; which one a platform sends during a
// plan change is not pinned down by OSB, and refusing either would strand an unbind.
func (s *UseCases) checkInstanceIDs(ctx context.Context, inst Instance, serviceID, planID string) error {
	if serviceID != "" && serviceID != inst.ServiceID {
		return Errorf(EInvalid, "service_id %q is not the instance's service", serviceID)
	}
	if planID == "" || planID == inst.PlanID {
		return nil
	}
	if inst.Busy() && inst.OperationType == OpUpdate {
		op, err := s.store.GetOperation(ctx, inst.OperationID)
		switch {
		case err == nil && op.PlanID == planID:
			return nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return fmt.Errorf("broker: read update: %w", err)
		}
	}
	return Errorf(EInvalid, "plan_id %q is not the plan of instance %s", planID, inst.ID)
}

// MaxOperationDeadline is the longest deadline an operation may be given (a plan's
// maximum_polling_duration, the default deadline). It keeps every operation inside one
// execution of the AWS shape's state machine, which the engine's deadline, not the
// state machine, must end: the execution's 3-day backstop, and its history of 25,000
// events, which a loop of Step, Check and Wait fills by about ten events a loop (at
// most one loop a minute with the default waits: 24 h is about 14,400 events).
// Configuration and overlays are refused beyond it; a larger value that reaches the
// use cases anyway is cut to it.
const MaxOperationDeadline = 24 * time.Hour

// CheckDeadline reports whether d is a usable operation deadline: positive and at
// most MaxOperationDeadline. The error says why not.
func CheckDeadline(d time.Duration) error {
	switch {
	case d <= 0:
		return fmt.Errorf("deadline %s is not positive", d)
	case d > MaxOperationDeadline:
		return fmt.Errorf("deadline %s is longer than the %s an operation may run (the state machine's backstop and history must never end it)", d, MaxOperationDeadline)
	}
	return nil
}

func (s *UseCases) deadline(p Plan) time.Time {
	d := s.cfg.DefaultDeadline
	if p.MaximumPollingDuration > 0 {
		d = time.Duration(p.MaximumPollingDuration) * time.Second
	}
	return s.now().Add(min(d, MaxOperationDeadline))
}

func (s *UseCases) newOperationID(t OperationType) string {
	return string(t) + "-" + s.cfg.NewID()
}

func (s *UseCases) sealJSON(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("broker: encode: %w", err)
	}
	out, err := s.sealer.Seal(b)
	if err != nil {
		return nil, fmt.Errorf("broker: seal: %w", err)
	}
	return out, nil
}

func (s *UseCases) dashboard(deploymentID string) string {
	if s.cfg.DashboardURL == nil {
		return ""
	}
	return s.cfg.DashboardURL(deploymentID)
}

// maxRounds is how many read-compare-write rounds a use case does before it gives up
// on a record that concurrent writes keep changing.
const maxRounds = 4

// retryConflicts runs round, a read-compare-write round of a use case, until it does
// not ask to be run again, at most maxRounds times, and returns its last answer. A
// round asks to be run again (retry true) when its conditional write lost to a
// concurrent one (see commit): the next round reads what that one wrote and answers
// from it, as a repeat, a conflict or a fresh write. After the last round the lost
// write's error, which matches ErrConflict, is returned.
func retryConflicts[R any](round func() (res R, retry bool, err error)) (R, error) {
	for n := 1; ; n++ {
		res, retry, err := round()
		if !retry || n >= maxRounds {
			return res, err
		}
	}
}

// commit writes tx, the write of a round of retryConflicts; what names the record for
// the error. retry is true when a condition failed (the error matches ErrConflict):
// a concurrent write won and the round must be done again.
func (s *UseCases) commit(ctx context.Context, tx Tx, what string) (retry bool, err error) {
	if err := s.store.Commit(ctx, tx); err != nil {
		return errors.Is(err, ErrConflict), fmt.Errorf("broker: record %s: %w", what, err)
	}
	return false, nil
}

// supersede makes op halt prev, an operation still in progress (nil: none): prev
// ends itself at its next step (see workflow), after any step in flight has finished,
// so that nothing it makes escapes op (a deprovision halting its provision, an unbind
// its bind). It returns the operations to write, prev first, in the order to start
// them: the halted one must see at once that it is halted.
func supersede(op, prev *Operation, now time.Time) []*Operation {
	if prev == nil {
		return []*Operation{op}
	}
	prev.SupersededBy, prev.UpdatedAt = op.ID, now
	op.Halts = prev.ID
	return []*Operation{prev, op}
}

// startAll hands recorded operations to the driver, in order (see start).
func (s *UseCases) startAll(ctx context.Context, ops []*Operation) {
	for _, op := range ops {
		s.start(ctx, *op)
	}
}

// start hands an operation to the driver; a failure is logged, not returned: the
// operation is recorded and the driver's sweep resumes it.
func (s *UseCases) start(ctx context.Context, op Operation) {
	if err := s.starter.Start(ctx, op); err != nil {
		s.cfg.Logger.WarnContext(ctx, "operation recorded but not started; the sweep will resume it",
			"operation_id", op.ID, "instance_id", op.InstanceID, "error", err)
	}
}

func maintenanceVersion(mi *MaintenanceInfo) string {
	if mi == nil {
		return ""
	}
	return mi.Version
}

// checkMaintenanceInfo compares a request's maintenance_info with the plan's.
func checkMaintenanceInfo(req *MaintenanceInfo, plan Plan) error {
	if req == nil {
		return nil
	}
	if plan.MaintenanceInfo == nil {
		return Errorf(EMaintenanceInfoConflict, "plan %q has no maintenance_info; the request carries version %q", plan.Name, req.Version)
	}
	if req.Version != plan.MaintenanceInfo.Version {
		return Errorf(EMaintenanceInfoConflict, "maintenance_info.version %q does not match the catalog's %q for plan %q", req.Version, plan.MaintenanceInfo.Version, plan.Name)
	}
	return nil
}

func boolp(b bool) *bool { return &b }
