// Package cloudifysim is an in-memory simulator of a Cloudify manager's REST
// API v3.1, written from the manager's documented contract (its routes and
// bodies, the lifecycle of workflow executions, its error codes, the schemas of
// blueprint inputs) rather than from the project's own client, so that a drift
// between the client and the contract shows up in tests.
//
// A Simulator is an http.Handler serving /api/v3.1/... (and /api/v3/...) plus
// GET /api/version. It answers with the status codes, error codes, messages
// and field sets of the manager release selected by Config.Version
// ("5.1", "6.2", "6.4", "7.0.4", ...), where the contract says they differ.
//
// # Time
//
// Time is virtual: every execution's progress is a function of Config.Clock.
// Each request (and an explicit Tick) moves executions whose time has come
// from queued to pending, started and an end state, running their effects on
// deployments and node instances in chronological order. Tests use a
// ManualClock and never sleep; the standalone command uses the real clock.
// A synchronous PUT /deployments (6.0+) waits for its create execution: on
// the real clock it really waits; on any other clock the wait is taken as
// elapsed, so the execution is resolved at once when it can end within the
// release's wait (and the answer is the 500 of a timed-out wait otherwise).
//
// # Blueprint fixtures
//
// A fixture is the blueprint resource as GET /blueprints/{id} returns it
// (id, description, state, labels, plan with inputs, outputs, capabilities,
// workflows and data_types), plus an optional simulator-only block:
//
//	"x-sim": {
//	  "durations": {"install": "5s", "uninstall": 3000},  // strings or milliseconds
//	  "fail_workflows": ["install"],                       // these workflows end failed
//	  "error": "Traceback ...\nSomeError: last line",      // with this error text
//	  "hang_workflows": {"install": "started"},            // or "pending"
//	  "runtime_attributes": {"db_lb": {"port": 3306}},     // get_attribute values
//	  "nodes": [{"id": "db_lb", "instances": 1},
//	            {"id": "db_node", "instances_input": "node_count"}],
//	  "workflow_effects": {                                // custom workflows
//	    "osb_bind": {"effect": "create_secret", "secret_parameter": "secret_key",
//	                 "user_parameter": "binding_id", "is_hidden_value": true,
//	                 "value": {"host": {"get_attribute": ["db_lb", "ip"]}}},
//	    "osb_unbind": {"effect": "delete_user"}
//	  }
//	}
//
// get_attribute on a started node instance returns the fixture's runtime
// attribute, or a stand-in derived from a hash of deployment and node: an
// address 10.x.y.z for ip/host-like names, a random-looking string for
// password/key/secret-like names, "<node>-<attr>-<hash>" otherwise. Before
// install (and after uninstall) attributes are null.
//
// # Secrets
//
// The secrets API is served as the manager serves it (rest-contract.md §9),
// tenant-scoped like every resource:
//
//	PUT    /secrets/{key}   {"value": str, "update_if_exists"?: bool,
//	                         "visibility"?: "private"|"tenant"|"global",
//	                         "is_hidden_value"?: bool (4.4+)}
//	                        -> 200 with the secret
//	GET    /secrets/{key}   -> 200 {"key", "value", "visibility", "is_hidden_value",
//	                         "tenant_name", "created_by", "created_at", "updated_at",
//	                         "private_resource", "resource_availability",
//	                         7.x: "schema", "provider_name", "provider_options"}
//	                         (?_skip_value=true leaves out "value")
//	PATCH  /secrets/{key}   {"value"?, "visibility"?, "is_hidden_value"?} -> 200
//	DELETE /secrets/{key}   -> 204
//	GET    /secrets         -> the list envelope; items carry no "value"
//
// Errors, as documented: an unknown key (or one the caller may not see) is
// 404 not_found_error "Requested `Secret` with ID `k` was not found"; PUT of
// an existing key without update_if_exists is 409 conflict_error ("... already
// exists on <Tenant name=`t`> or with global visibility": a global secret
// takes its key in every tenant); a missing or non-string value, a bad
// visibility or an ill-typed flag is 400 bad_parameters_error; a body not
// sent as exactly application/json is 415.
//
// Users and roles: Config.Roles makes a user RoleUser (not an admin); users
// not listed are admins. What follows is the simulator's reading of the
// manager, which the shared contract does not spell out (assumptions):
//   - a private secret is visible (GET, list, PATCH, DELETE) only to its
//     creator and admins; others get 404;
//   - a hidden value (is_hidden_value) reads as "" for users other than its
//     creator and admins, and their PATCH, DELETE or PUT with
//     update_if_exists is refused with 403 forbidden_error;
//   - PUT with update_if_exists replaces the value and the visibility and
//     is_hidden_value the body gives (is_hidden_value false when absent);
//   - any valid visibility may be set by PATCH (no narrowing rule);
//   - keys follow the id character rules of deployments, without the
//     letter-first rule.
//
// get_secret in outputs, capabilities and inputs reads the same store; a
// value holding a JSON object or list is decoded, so that get_secret with a
// path reads into it. SetSecret seeds a global secret; Secrets lists every
// secret with its value.
//
// # Custom workflows and their effects
//
// A workflow declared in plan.workflows runs like a built-in one: POST
// /executions fills its declared parameters' defaults and refuses, with 400
// illegal_execution_parameters_error (rest-contract.md §4 and §7.1), a
// declared parameter without a default that is not given ("must be provided
// with the following parameters to execute: a,b"), an undeclared one unless
// allow_custom_parameters ("does not have the following parameters
// declared: x"), and, from 6.0, a value of the wrong type or outside its
// constraints. An unknown workflow is 400 nonexistent_workflow_error, one
// refused by its availability_rules (6.4+) 400 unavailable_workflow_error.
// The messages are the simulator's wording.
//
// What the workflow does is described by the fixture's workflow_effects,
// one effect per workflow, applied when the execution ends terminated (not
// on a dry run, a failure or a cancel):
//   - create_secret: makes a user for the binding named by the
//     user_parameter (default "binding_id"; a generated "osb_..." username
//     and password, kept if the binding already has one) and writes the
//     secret named by the secret_parameter (default "secret_key") with the
//     JSON object of value, evaluated like an output (get_input,
//     get_attribute, concat, ...), plus "username" and "password". The
//     secret belongs to the execution's tenant and creator, with the
//     effect's visibility (default "tenant") and is_hidden_value; an
//     existing secret of that key gets the new value. The execution fails
//     instead (a NonRecoverableError traceback) when the deployment is not
//     installed (every node instance started) or the user or secret
//     parameter is empty.
//   - delete_user: removes the binding's user; the secret stays (the
//     caller deletes it). A binding without a user is no error.
//   - delete_secret: removes the binding's user and deletes the secret.
//   - fail: the execution ends failed, with "error" as its error text (or a
//     NonRecoverableError traceback).
//   - hang: the execution stays in "state" ("started", the default, or
//     "pending") until cancelled or killed.
//
// A successful uninstall removes every binding user of the deployment.
// DeploymentInfo.BindingUsers shows them, so a test can see a binding's user
// appear after osb_bind and go after osb_unbind. The mariadb sample declares
// osb_bind (binding_id, secret_key, app_guid, predecessor_binding_id,
// privileges; available when installed) and osb_unbind (binding_id,
// secret_key): a database user per binding. The redis-cache and s3-bucket
// samples have no such workflows: their bindings share the credentials of
// their outputs and capabilities.
//
// # Faults and introspection
//
// AddFault injects HTTP-level failures (latency, 500, 503 maintenance, nginx
// 502/504 pages, dropped connections) for matching requests; FailWorkflow and
// HangWorkflow script execution outcomes. Stats, Deployments, Executions,
// DeleteDeploymentNow and SetDuration are there for the broker's tests and
// benchmarks.
package cloudifysim
