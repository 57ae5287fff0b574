package broker

import (
	"context"
	"time"
)

// Tx is a set of writes applied atomically by Store.Commit. Each record is written
// under its own condition: a record with Version 0 must not exist yet (create if
// absent), any other must exist with exactly that Version. On success every written
// record's Version is incremented in place; on failure nothing is written.
type Tx struct {
	Instances  []*Instance
	Operations []*Operation
	Bindings   []*Binding
	// DeleteBindings removes bindings, each only if its stored Version still matches.
	DeleteBindings []*Binding
}

// Store keeps instances, operations and bindings.
//
// Errors: Get* return an error matching ErrNotFound when there is no such record;
// Commit returns an error matching ErrConflict when any condition fails. Any other
// error is a fault of the engine (I/O, network) and may be retried.
type Store interface {
	GetInstance(ctx context.Context, id string) (Instance, error)
	GetOperation(ctx context.Context, id string) (Operation, error)
	GetBinding(ctx context.Context, instanceID, bindingID string) (Binding, error)
	Commit(ctx context.Context, tx Tx) error
}

// CatalogStore keeps the published catalog and the operator's overlay.
//
// GetCatalog and GetOverlay return an error matching ErrNotFound before the first Put.
// The overlay is an opaque document owned by internal/catalog.
type CatalogStore interface {
	GetCatalog(ctx context.Context) (Catalog, error)
	PutCatalog(ctx context.Context, c Catalog) error
	GetOverlay(ctx context.Context) ([]byte, error)
	PutOverlay(ctx context.Context, doc []byte) error
}

// OperationLister lists operations for drivers and operators (never on an OSB request path).
type OperationLister interface {
	// ActiveOperations returns every operation in progress, oldest first.
	ActiveOperations(ctx context.Context) ([]Operation, error)
}

// InstanceLister lists instances for operators (never on an OSB request path).
type InstanceLister interface {
	// ListInstances returns up to limit instances with ids after the cursor, in id
	// order, and the cursor for the next page ("" at the end).
	ListInstances(ctx context.Context, after string, limit int) ([]Instance, string, error)
	// ListBindings returns the bindings of an instance.
	ListBindings(ctx context.Context, instanceID string) ([]Binding, error)
}

// Sealer encrypts what the broker must keep but must not keep in clear text
// (parameters that may hold passwords, Cloudify inputs).
//
// Open returns an error for data that was not sealed by the same key.
type Sealer interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// OperationStatus is the part of an operation that last_operation answers from.
type OperationStatus struct {
	ID          string
	InstanceID  string
	Type        OperationType
	State       OperationState
	Description string
	// NextCheck is when the engine looks at Cloudify next (the Retry-After).
	NextCheck time.Time
}

// Status returns the part of the operation that last_operation answers from.
func (o Operation) Status() OperationStatus {
	return OperationStatus{ID: o.ID, InstanceID: o.InstanceID, Type: o.Type, State: o.State,
		Description: o.Description, NextCheck: o.NextCheck}
}

// StatusReader is an optional capability of a Store: what a last_operation poll needs
// in one read, whether or not the platform names the operation. A platform polls every
// operation in flight every few seconds for as long as it runs, so this is the broker's
// hot path. The use cases use it when the Store has it, else GetOperation and
// GetInstance.
type StatusReader interface {
	// OperationStatus returns the status of the operation named operationID when it
	// exists, belongs to the instance and acts on the instance (its Type is not
	// OnBinding), else that of the instance's current operation; operationID may be
	// empty. The caller tells a name that is not one of the instance's by the ID of
	// the answer. It reflects exactly what is committed: never a write that has not
	// landed, never one that has.
	//
	// Errors: an error matching ErrNotFound when the instance does not exist or has
	// no operation (and the named operation is not one of the instance's).
	OperationStatus(ctx context.Context, instanceID, operationID string) (OperationStatus, error)
}
