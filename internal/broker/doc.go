// Package broker is the domain of the Open Service Broker for Cloudify: its records
// (Catalog, Instance, Operation, Binding), the OSB use cases over them (UseCases, one
// method per OSB route) and the small interfaces it consumes, which adapters
// implement: Store and CatalogReader (broker state), Starter (the workflow driver),
// CredentialsReader (a deployment's values on the manager) and Sealer.
//
// The use cases apply the OSB rules from broker state alone: idempotent repeats (the
// same request again gets the same answer), 409 for an id taken with other
// attributes, 422 ConcurrencyError while another operation runs, AsyncRequired,
// MaintenanceInfoConflict, plan_updateable, parameters checked against the plan's
// schemas, the service_id and plan_id of a bind, unbind or deprovision checked against
// the instance's, and a deprovision that halts a provision in progress. Provision, update
// and deprovision record an Operation and hand it to the Starter; the workflow
// package advances it, and last_operation is answered from what it recorded. Cloudify
// is called only to read a binding's credentials.
//
// Writes are conditional (see Tx). A use case that changes state does
// read-compare-write rounds: when its write loses to a concurrent one, it reads again
// and answers from what the other wrote, at most four rounds in all.
//
// Dependencies point inward: broker imports no store engine, no Cloudify client, no
// workflow driver and no cloud SDK.
//
// # Errors
//
// Two kinds of error leave the package, each with its own convention.
//
// Domain errors say why a request cannot be honoured. They are *Error values made
// with Errorf, whose Code the OSB surface (internal/osb) maps, in one place, to a
// status and an OSB error code, and whose Message is the description the platform
// user reads. They are returned as they are: never wrapped and never prefixed, so
// that the OSB error bodies read well. An *Error from a dependency (the
// CredentialsReader's EUnavailable) is passed on unchanged too.
//
// Faults are failures of a dependency or of broker state: the store, the sealer, the
// catalog read, the credentials read, a plan schema that does not compile. A fault is
// wrapped exactly once, where it enters the package, with a lowercase prefix that
// starts with "broker: " and says what was being done, and %w:
//
//	broker: read instance: <the store's error>
//
// Functions of the package pass each other's errors on without wrapping them again.
// A fault keeps its cause for errors.Is and errors.As (ErrNotFound, ErrConflict, an
// engine's own errors) and has no Code: the OSB surface answers it with a 500 that
// carries a correlation id and none of its text.
//
// CheckDeadline's error describes a configuration value and carries no prefix: the
// caller shows it after the name of the setting.
package broker
