package cloudify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// Error codes sent by the manager in the "error_code" field of an error body,
// with the HTTP status each one comes with (from error-codes.json).
const (
	// CodeNotFound (404): the requested resource does not exist.
	CodeNotFound = "not_found_error"
	// CodeConflict (409): a resource with that id already exists, or (4.4–6.3)
	// a deployment update is still active.
	CodeConflict = "conflict_error"
	// CodeAmbiguousName (409): a lookup by name matched several rows (7.x).
	CodeAmbiguousName = "ambiguous_name"
	// CodeStorage (409): a storage-layer failure.
	CodeStorage = "storage_error"
	// CodeUnauthorized (401): no or wrong credentials, or a bad token.
	CodeUnauthorized = "unauthorized_error"
	// CodeApplicationNotSecured (401): the manager has no security configured.
	CodeApplicationNotSecured = "application_not_secured_error"
	// CodeNoTokenGenerator (401): the manager cannot issue tokens.
	CodeNoTokenGenerator = "no_token_generator_error"
	// CodeForbidden (403): bad or missing tenant, or no permission.
	CodeForbidden = "forbidden_error"
	// CodeForbiddenWhileCancelling (403): an execution-token caller changed
	// executions while its own execution is cancelling.
	CodeForbiddenWhileCancelling = "forbidden_while_cancelling"
	// CodeOnlyDeploymentUpdate (403): the change is only allowed through a
	// deployment update.
	CodeOnlyDeploymentUpdate = "only_deployment_update"
	// CodeBadParameters (400): a missing or ill-typed field or query parameter.
	CodeBadParameters = "bad_parameters_error"
	// CodeIllegalAction (400): the operation is not allowed in the current
	// state, for example cancelling a finished execution.
	CodeIllegalAction = "illegal_action_error"
	// CodeUnknownAction (400): an unknown action name.
	CodeUnknownAction = "unknown_action"
	// CodeDependentExists (400): live nodes, active executions or dependent
	// deployments prevent the operation.
	CodeDependentExists = "dependent_exists_error"
	// CodeExistingRunningExecution (400): another execution is active on the
	// deployment, or a system-wide execution is running.
	CodeExistingRunningExecution = "existing_running_execution_error"
	// CodeGlobalParallelRunningExecutionsLimitReached (400): too many
	// executions run on the manager.
	CodeGlobalParallelRunningExecutionsLimitReached = "global_parallel_running_executions_limit_reached_error"
	// CodeNonexistentWorkflow (400): the workflow is not defined on the
	// deployment.
	CodeNonexistentWorkflow = "nonexistent_workflow_error"
	// CodeUnavailableWorkflow (400): the workflow's availability rule refuses
	// it in the current state (6.4+).
	CodeUnavailableWorkflow = "unavailable_workflow_error"
	// CodeIllegalExecutionParameters (400): bad, missing or undeclared
	// workflow parameters.
	CodeIllegalExecutionParameters = "illegal_execution_parameters_error"
	// CodeNoSuchIncludeField (400): an unknown field in _include.
	CodeNoSuchIncludeField = "no_such_include_field_error"
	// CodeDeploymentCreation (400): creating the deployment environment failed
	// (6.0+), or the blueprint is not uploaded (5.2+).
	CodeDeploymentCreation = "deployment_creation_error"
	// CodeDeploymentEnvironmentCreationInProgress (400): create-dep-env is
	// still running.
	CodeDeploymentEnvironmentCreationInProgress = "deployment_environment_creation_in_progress_error"
	// CodeDeploymentEnvironmentCreationPending (400): create-dep-env has not
	// started yet.
	CodeDeploymentEnvironmentCreationPending = "deployment_environment_creation_pending_error"
	// CodeMissingRequiredDeploymentInput (400): a required input is missing.
	CodeMissingRequiredDeploymentInput = "missing_required_deployment_input_error"
	// CodeUnknownDeploymentInput (400): an input the blueprint does not declare.
	CodeUnknownDeploymentInput = "unknown_deployment_input_error"
	// CodeDeploymentInputEvaluation (400): a function in an input could not be
	// evaluated.
	CodeDeploymentInputEvaluation = "deployment_input_evaluation_error"
	// CodeConstraint (400): an input violates a constraint (5.0–5.2,
	// synchronous).
	CodeConstraint = "constraint_error"
	// CodeUnknownDeploymentSecret (400): get_secret names a missing secret.
	CodeUnknownDeploymentSecret = "unknown_deployment_secret_error"
	// CodeDeploymentOutputsEvaluation (400): evaluating outputs failed.
	CodeDeploymentOutputsEvaluation = "deployment_outputs_evaluation_error"
	// CodeDeploymentCapabilitiesEvaluation (400): evaluating capabilities
	// failed.
	CodeDeploymentCapabilitiesEvaluation = "deployment_capabilities_evaluation_error"
	// CodeFunctionsEvaluation (400): evaluating intrinsic functions failed.
	CodeFunctionsEvaluation = "functions_evaluation_error"
	// CodeDeploymentPluginNotFound (400): a plugin the blueprint needs is not
	// installed.
	CodeDeploymentPluginNotFound = "deployment_plugin_not_found"
	// CodeInvalidBlueprint (400): the blueprint is invalid.
	CodeInvalidBlueprint = "invalid_blueprint_error"
	// CodeInvalidExceptionStatusUpdate (400): an invalid execution status
	// transition.
	CodeInvalidExceptionStatusUpdate = "invalid_exception_status_update"
	// CodeUnsupportedChangeInDeploymentUpdate (400): the update changes
	// something a deployment update cannot change.
	CodeUnsupportedChangeInDeploymentUpdate = "unsupported_change_in_deployment_update"
	// CodeInvalidFilterRule (400): a bad filter rule; the body adds
	// err_filter_rule and err_reason.
	CodeInvalidFilterRule = "invalid_filter_rule"
	// CodeInvalidYAMLFormat (400): a YAML document could not be parsed.
	CodeInvalidYAMLFormat = "invalid_yaml_format"
	// CodeParamURLNotFound (400): a URL given as parameter was not found.
	CodeParamURLNotFound = "param_url_not_found_error"
	// CodeDeploymentParentNotFound (404): the parent deployment of a
	// service/environment label does not exist.
	CodeDeploymentParentNotFound = "deployment_parent_not_found_error"
	// CodeImportedBlueprintNotFound (404): an imported blueprint is missing.
	CodeImportedBlueprintNotFound = "imported_blueprint_not_found"
	// CodeMissingPremiumPackage (404): a premium-only feature on the community
	// edition.
	CodeMissingPremiumPackage = "missing_premium_package_error"
	// CodeBlueprintInUse (405): the blueprint is in use.
	CodeBlueprintInUse = "blueprint_in_use"
	// CodePluginInUse (405): the plugin is in use.
	CodePluginInUse = "plugin_in_use"
	// CodeMethodNotAllowed (405): the HTTP method is not allowed.
	CodeMethodNotAllowed = "method_not_allowed_error"
	// CodeUnsupportedContentType (415): the body is not sent as exactly
	// Content-Type: application/json.
	CodeUnsupportedContentType = "unsupported_content_type_error"
	// CodeInternalServer (500): an unhandled error in the REST service.
	CodeInternalServer = "internal_server_error"
	// CodeInsufficientMemory (503): the manager is low on memory.
	CodeInsufficientMemory = "insufficient_memory_error"
	// CodeInSnapshotRestore (503): a snapshot restore is running.
	CodeInSnapshotRestore = "in_snapshot_restore_error"
	// CodeMaintenanceModeActive (503): the manager is in maintenance mode.
	CodeMaintenanceModeActive = "maintenance_mode_active"
	// CodeEnteringMaintenanceMode (503): the manager is entering maintenance
	// mode.
	CodeEnteringMaintenanceMode = "entering_maintenance_mode"
)

// APIError is a non-2xx answer from the manager.
//
// For the manager's JSON error bodies ({"message", "error_code",
// "server_traceback"}) Code and Message come from the body. For other bodies
// (nginx 502/504 pages, Flask's HTML 404 for an unknown route, plain text)
// Code is empty, Message is "<status> <status text>: <start of the body>" and
// Body holds the raw body (up to 1 MiB).
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the manager's error_code, or "" for non-JSON bodies.
	Code string
	// Message is the manager's message, or a description built from the
	// status and the body for non-JSON bodies.
	Message string
	// Body is the raw body when it was not a JSON error object.
	Body string
	// Traceback is server_traceback when the manager sent one (4.x and 500s).
	Traceback string
	// Op is the client method that received the answer, for example
	// "GetDeployment".
	Op string
}

// Error returns the method, message, status and code. It never contains
// request headers, so no credentials.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("cloudify: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Code == "" {
		b.WriteString(e.Message)
		return b.String()
	}
	fmt.Fprintf(&b, "%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
	return b.String()
}

// newAPIError builds the error for a non-2xx answer with body raw.
func newAPIError(op string, status int, raw []byte) *APIError {
	e := &APIError{Status: status, Op: op}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) == nil && fields != nil {
		e.Code = jsonText(fields["error_code"])
		e.Message = jsonText(fields["message"])
		if e.Message == "" {
			// Some answers (the licence checks, errors raised outside the manager's own
			// exception handler) carry "detail" instead, as the official client reads.
			e.Message = jsonText(fields["detail"])
		}
		e.Traceback = jsonText(fields["server_traceback"])
		if e.Code != "" || e.Message != "" {
			if e.Message == "" {
				e.Message = statusLine(status)
			}
			return e
		}
		e.Traceback = ""
	}
	e.Message = statusLine(status)
	if s := snippet(raw, 200); s != "" {
		e.Message += ": " + s
	}
	e.Body = string(raw)
	return e
}

// jsonText returns a JSON string's value, "" for absent or null, and the raw
// text for any other JSON value.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == nil {
			return ""
		}
		return *s
	}
	return string(raw)
}

func statusLine(status int) string {
	if t := http.StatusText(status); t != "" {
		return fmt.Sprintf("%d %s", status, t)
	}
	return fmt.Sprintf("%d", status)
}

func apiError(err error) (*APIError, bool) {
	var e *APIError
	if errors.As(err, &e) && e != nil {
		return e, true
	}
	return nil, false
}

func hasCode(err error, codes ...string) bool {
	e, ok := apiError(err)
	if !ok {
		return false
	}
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	return false
}

// IsNotFound reports whether err is a "resource not found" answer: error code
// not_found_error, or a 404 with an empty body. A 404 with another error code
// (for example missing_premium_package_error) or a non-JSON 404 (Flask's page
// for a route the manager does not have) is not "not found": it would
// otherwise be mistaken for a deleted resource. Use IsRouteNotFound for those.
func IsNotFound(err error) bool {
	e, ok := apiError(err)
	if !ok {
		return false
	}
	return e.Code == CodeNotFound || (e.Status == http.StatusNotFound && e.Code == "" && strings.TrimSpace(e.Body) == "")
}

// IsRouteNotFound reports whether err is a 404 with a non-JSON body, which the
// manager's web framework sends for a path it does not route (for example
// /deployments/{id}/capabilities before 4.5.5, or a wrong base URL).
func IsRouteNotFound(err error) bool {
	e, ok := apiError(err)
	return ok && e.Status == http.StatusNotFound && e.Code == "" && strings.TrimSpace(e.Body) != ""
}

// IsConflict reports whether err is a 409 answer or has error code
// conflict_error (an existing id, or an active deployment update on 4.4–6.3).
func IsConflict(err error) bool {
	e, ok := apiError(err)
	return ok && (e.Status == http.StatusConflict || e.Code == CodeConflict)
}

// IsRunningExecution reports whether err has error code
// existing_running_execution_error: another execution is active on the
// deployment, or a system-wide execution runs.
func IsRunningExecution(err error) bool {
	return hasCode(err, CodeExistingRunningExecution)
}

// IsEnvNotReady reports whether err says that the deployment environment is
// still being created (deployment_environment_creation_pending_error or
// deployment_environment_creation_in_progress_error). Retrying later helps.
func IsEnvNotReady(err error) bool {
	return hasCode(err, CodeDeploymentEnvironmentCreationPending, CodeDeploymentEnvironmentCreationInProgress)
}

// IsDeploymentCreation reports whether err says that creating the deployment
// environment failed: error code deployment_creation_error (6.0+), or the
// 500 that 4.x answers with "Can't launch executions since environment
// creation for deployment X has failed". Retrying does not help.
func IsDeploymentCreation(err error) bool {
	e, ok := apiError(err)
	if !ok {
		return false
	}
	if e.Code == CodeDeploymentCreation {
		return true
	}
	return e.Status == http.StatusInternalServerError &&
		strings.Contains(e.Message, "environment creation for deployment") &&
		strings.Contains(e.Message, "has failed")
}

// IsDependentExists reports whether err has error code dependent_exists_error:
// live nodes, active or queued executions or dependent deployments prevent a
// delete or uninstall.
func IsDependentExists(err error) bool {
	return hasCode(err, CodeDependentExists)
}

// IsUnavailableWorkflow reports whether err has error code
// unavailable_workflow_error (6.4+): the workflow's availability rule refuses
// it, for example install on an installed deployment.
func IsUnavailableWorkflow(err error) bool {
	return hasCode(err, CodeUnavailableWorkflow)
}

// IsInputError reports whether err rejects the deployment inputs: a missing
// or unknown input, a violated constraint, an input that could not be
// evaluated, a secret an input names that does not exist, or an intrinsic
// function that could not be evaluated. Such errors are the caller's fault and map to a 400 for OSB.
func IsInputError(err error) bool {
	return hasCode(err, CodeMissingRequiredDeploymentInput, CodeUnknownDeploymentInput,
		CodeConstraint, CodeDeploymentInputEvaluation, CodeUnknownDeploymentSecret, CodeFunctionsEvaluation)
}

// Licence error codes: a manager without a valid licence refuses every request
// (except the licence's own routes) with one of them.
const (
	// CodeMissingCloudifyLicense: no licence is installed on the manager.
	CodeMissingCloudifyLicense = "missing_cloudify_license"
	// CodeExpiredCloudifyLicense: the installed licence has expired.
	CodeExpiredCloudifyLicense = "expired_cloudify_license"
)

// IsLicenseError reports whether err is the manager refusing a request for want of
// a valid licence (CodeMissingCloudifyLicense, CodeExpiredCloudifyLicense): nothing
// works until an operator installs one.
func IsLicenseError(err error) bool {
	return hasCode(err, CodeMissingCloudifyLicense, CodeExpiredCloudifyLicense)
}

// IsUnauthorized reports whether err is a 401 answer or has error code
// unauthorized_error.
func IsUnauthorized(err error) bool {
	e, ok := apiError(err)
	return ok && (e.Status == http.StatusUnauthorized || e.Code == CodeUnauthorized)
}

// IsForbidden reports whether err is a 403 answer or has error code
// forbidden_error (bad or missing tenant, no permission).
func IsForbidden(err error) bool {
	e, ok := apiError(err)
	return ok && (e.Status == http.StatusForbidden || e.Code == CodeForbidden)
}

// IsMaintenance reports whether err says the manager is in, or entering,
// maintenance mode (503 maintenance_mode_active or entering_maintenance_mode).
func IsMaintenance(err error) bool {
	return hasCode(err, CodeMaintenanceModeActive, CodeEnteringMaintenanceMode)
}

// IsTransient reports whether retrying the same request later may succeed:
// any 5xx answer (maintenance mode and nginx 502/504 included), 429, and
// transport failures (timeouts, refused or reset connections, unexpected EOF,
// other *url.Error). It reports false when the caller's own context ended
// (the caller gave up), for TLS certificate errors and for every other
// answer.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var ce *callerContextError
	if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
		return false
	}
	if e, ok := apiError(err); ok {
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests
	}
	var (
		certErr      *tls.CertificateVerificationError
		unknownAuth  x509.UnknownAuthorityError
		hostnameErr  x509.HostnameError
		invalidCert  x509.CertificateInvalidError
		recordHeader tls.RecordHeaderError
	)
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostnameErr) ||
		errors.As(err, &invalidCert) || errors.As(err, &recordHeader) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ue *url.Error
	return errors.As(err, &ue)
}
