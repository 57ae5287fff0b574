// Package admin holds the operator's operations on a broker: the catalog (read, rebuild
// from the manager, overlay import and preview), instances and operations (list, show,
// retry, abandon) and reconcile (broker state against the manager).
//
// Service performs them over a broker store, a Cloudify client and the workflow driver;
// the same Service serves three shapes:
//
//   - in the embedded broker's process, behind the HTTP API of NewHandler, mounted under
//     /admin/v1/ next to the OSB API with credentials of its own (the operator's: the
//     platform's get 401 there, and the operator's get 401 on the OSB API); without
//     them the API is off;
//   - in the CLI on a data directory the broker does not hold (bbolt store);
//   - in the CLI on the DynamoDB table of the AWS shape.
//
// Client speaks the HTTP API and has the same methods as Service, so that the CLI uses
// either through one interface.
//
// # HTTP API
//
// Every route takes and returns JSON and requires HTTP Basic auth:
//
//	GET  /admin/v1/catalog                    the stored catalog, broker fields included
//	GET  /admin/v1/catalog/osb                the catalog as GET /v2/catalog renders it
//	GET  /admin/v1/overlay                    the stored overlay document and its hash
//	POST /admin/v1/catalog/rebuild            RebuildRequest: sync, import or preview
//	GET  /admin/v1/instances                  ?all=true includes deprovisioned instances
//	GET  /admin/v1/instances/{id}
//	GET  /admin/v1/operations                 ?failed_since=168h
//	POST /admin/v1/operations/{id}/retry
//	POST /admin/v1/operations/{id}/abandon    {"reason": "..."}
//	POST /admin/v1/reconcile                  ReconcileRequest
//
// A rebuild asked with "Accept: application/x-ndjson" streams one JSON line per progress
// report ({"progress": {...}}) and ends with {"result": {...}} or {"error": {...}}.
//
// # Errors
//
// Every method returns either its result or an error; errors the operator can act on are
// (or wrap) an *Error whose Code says what kind (ENotFound, EInvalid, EConflict,
// EUnavailable) and whose Message is meant for the operator. Any other error is a fault;
// the HTTP API answers it with 500, a correlation id and no internal text, and logs it.
// # Wrapping
//
// One convention, so that an error's text says each thing once:
//
//   - A fault (a store or stream failing, a malformed answer) is wrapped once, where it
//     meets this package: fmt.Errorf("admin: <what was being done>: %w", err), lowercase,
//     with %w and never %v or %s on the error. Callers inside the package pass it up
//     unchanged; the adapters a rebuild hands to the catalog package (stagedStore,
//     listingSource) return what they read unchanged and keep it for the caller.
//   - An error the operator can act on is an *Error, made where its meaning is known:
//     Errorf when there is no cause; with a cause, Err holds it (for errors.Is, errors.As
//     and the log) and Message says it in the operator's words, quoting the cause's text
//     when that helps (a manager's answer, an unreachable broker). Error returns Message
//     alone, so the cause is never said twice.
//   - A request's own mistake (a malformed body, a bad query value) is an EInvalid
//     *Error whose Message quotes the decoder's text; it is no fault and has no Err.
//
// An overlay that does not parse or build is an EInvalid *Error whose Problems locate
// each problem by line and field; the error body carries them as "problems", so that a
// client can name the operator's own file without parsing the message.
package admin
