// Package cloudify is a client for the REST API v3.1 of a Cloudify manager,
// written against the manager's documented contract: its routes and bodies, the
// lifecycle of its workflow executions and its error codes.
//
// The client covers what an Open Service Broker needs: blueprints (read only),
// deployments (create, read, search, label, delete, outputs, capabilities),
// executions (start, read, cancel), deployment updates, tokens and secrets
// (create, read, update, delete, list). It uses only the standard library.
//
// Every request goes through one function that sends the Tenant header, Basic
// auth (or Authentication-Token), Accept: application/json and, when there is a
// body, exactly Content-Type: application/json. Every path is prefixed with
// /api/v3.1.
//
// Behaviour that changed between manager releases (the method of deployment
// update initiate, the token API, the async_create query parameter and the
// parameters of DELETE /deployments/{id}) is chosen from the version reported by
// GET /api/v3.1/version, read once and cached, or from WithManagerVersion.
//
// Methods never sleep and never poll. Long-running manager operations (creating
// the deployment environment, workflows, deletes, updates) are started by the
// client and observed by the caller with GetExecution, GetDeployment or
// GetDeploymentUpdate.
//
// Errors: a non-2xx answer is returned as *APIError; transport failures are
// wrapped with the method name and %w. Use the Is* helpers (IsNotFound,
// IsConflict, IsRunningExecution, IsTransient, ...) to classify them; they use
// errors.As, so wrapped errors still match.
//
// Decoding treats every response field as optional, because the field sets
// differ between releases (4.x to 7.x).
package cloudify
