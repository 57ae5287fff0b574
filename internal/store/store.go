// Package store holds the broker's persistence adapters, one sub-package per engine.
//
// The persistence interfaces are declared by the domain, which consumes them:
// broker.Store (instances, operations and bindings, written through conditional,
// atomic transactions), broker.CatalogStore (the published catalog and the
// operator's overlay), broker.OperationLister and broker.InstanceLister (for drivers
// and operators). Every engine reports a missing record with an error matching
// broker.ErrNotFound and a failed write condition with an error matching
// broker.ErrConflict, so callers match them with errors.Is whatever the engine.
//
// Layout:
//
//   - boltstore: the embedded engine on a bbolt file (the operator CLI and the
//     embedded server);
//   - dynamostore: the DynamoDB engine (the serverless deployment on AWS);
//   - storetest: the contract suite that every engine passes; an engine's tests call
//     storetest.Run with a constructor for an empty store.
//
// This package itself declares only Engine, the one value a composition root holds.
// Dependencies point inward: engines import the domain, never the reverse.
package store

import "github.com/cfybroker/cfybroker/internal/broker"

// Engine is a complete storage engine: every persistence interface of the domain,
// plus Close. Composition roots open one Engine and hand it to the parts that need
// one of the narrower interfaces.
type Engine interface {
	broker.Store
	broker.CatalogStore
	broker.OperationLister
	broker.InstanceLister
	// Close releases the engine's resources (files, locks, connections). The Engine
	// must not be used after Close.
	Close() error
}
