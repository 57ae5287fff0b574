package admin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

// Store is the broker state the operations read and write; every store.Engine
// satisfies it.
type Store interface {
	broker.Store
	broker.CatalogStore
	broker.InstanceLister
	broker.OperationLister
}

// Deployments reads and deletes deployments on the manager.
//
// Errors are the cloudify package's: cloudify.IsNotFound for a missing deployment,
// cloudify.IsDependentExists when a delete is refused, transport errors otherwise.
type Deployments interface {
	GetDeployment(ctx context.Context, id string, include ...string) (cloudify.Deployment, error)
	ListDeployments(ctx context.Context, opts cloudify.ListOptions) ([]cloudify.Deployment, error)
	DeleteDeployment(ctx context.Context, id string, opts cloudify.DeleteDeploymentOptions) error
}

// Executions reads and starts executions on the manager.
//
// Errors are the cloudify package's: cloudify.IsNotFound for an unknown execution.
type Executions interface {
	GetExecution(ctx context.Context, id string, include ...string) (cloudify.Execution, error)
	ListExecutions(ctx context.Context, opts cloudify.ListOptions) ([]cloudify.Execution, error)
	StartExecution(ctx context.Context, req cloudify.StartExecutionRequest) (cloudify.Execution, error)
}

// Secrets lists and deletes secrets on the manager; nothing here reads a value.
//
// Errors are the cloudify package's: cloudify.IsNotFound when a secret to delete is
// gone already, transport errors otherwise.
type Secrets interface {
	// ListSecrets returns the secrets the caller sees, without their values.
	ListSecrets(ctx context.Context, opts cloudify.ListOptions) ([]cloudify.Secret, error)
	DeleteSecret(ctx context.Context, key string) error
}

// Manager is the Cloudify manager as the operations see it; *cloudify.Client
// satisfies it.
type Manager interface {
	catalog.BlueprintSource
	Deployments
	Executions
	Secrets
}

var _ Manager = (*cloudify.Client)(nil)

// Failer ends an operation as failed, applying the end to its instance as a failed step
// would; *workflow.Engine implements it.
//
// Fail does nothing for an operation that has ended; it returns an error matching
// broker.ErrNotFound for an unknown operation; any other error is a fault.
type Failer interface {
	Fail(ctx context.Context, operationID, description string) error
}

var _ Failer = (*workflow.Engine)(nil)

// Config holds a Service's optional parts. A part left out disables what needs it, with
// an EUnavailable error that says so.
type Config struct {
	// Manager is the Cloudify manager: catalog rebuilds, reconcile, the deployment view
	// of an instance and the retry of a failed provision need it.
	Manager Manager
	// Catalog are the build options of the catalog; ManagerURL and Tenant must be those
	// of the broker, or service and plan ids change.
	Catalog catalog.BuildOptions
	// Driver is the workflow driver that runs new operations (the embedded Runner, or
	// the Step Functions starter). Without one, a new operation waits for the driver's
	// own sweep of unfinished operations.
	Driver broker.Starter
	// Stepper runs one step of an operation now; ops retry and reconcile use it to move
	// an operation in progress.
	Stepper workflow.Stepper
	// Wake, without a Stepper, asks the driver to run an operation in progress now: the
	// embedded Runner can; the Step Functions starter cannot (an execution waiting in
	// its Wait state is not woken by a second start), so it is not a Wake.
	Wake broker.Starter
	// Failer ends operations as failed (default: a workflow.Engine on the store, which
	// needs nothing else for that).
	Failer Failer
	// StaleAfter is how far past its next check an operation in progress may be before
	// reconcile reports it stalled (default 10 minutes).
	StaleAfter time.Duration
	// Logger receives one line per change an operator makes (default: discard).
	Logger *slog.Logger
	// Now tells the time (default time.Now); NewID makes operation ids (default: random
	// UUIDs, as the broker makes them).
	Now   func() time.Time
	NewID func() string
}

// Service performs the operator's operations on one broker's state. It is safe for
// concurrent use; catalog rebuilds run one at a time.
type Service struct {
	store Store
	cfg   Config

	// rebuild serializes catalog rebuilds in this process, so that a rebuild with an
	// old overlay never overwrites the catalog of a newer one.
	rebuild sync.Mutex
}

// New returns a Service over the store; st is required.
func New(st Store, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Failer == nil {
		cfg.Failer = &workflow.Engine{Store: st, Logger: cfg.Logger, Now: cfg.Now}
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 10 * time.Minute
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}
	return &Service{store: st, cfg: cfg}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// manager returns the manager, or an EUnavailable error naming what needs it.
func (s *Service) manager(what string) (Manager, error) {
	if s.cfg.Manager == nil {
		return nil, Errorf(EUnavailable, "%s needs the Cloudify manager, and none is configured here (set CLOUDIFY_URL and its credentials, or use --url to go through the running broker)", what)
	}
	return s.cfg.Manager, nil
}

// managerError wraps an error of the manager as EUnavailable. The manager's messages
// name ids and inputs, never credentials, so the operator sees them.
func managerError(what string, err error) error {
	return &Error{Code: EUnavailable, Message: fmt.Sprintf("%s: Cloudify manager: %v", what, err), Err: err}
}
