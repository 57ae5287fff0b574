package cloudifysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// errorStatus maps every error_code of error-codes.json to its HTTP status.
var errorStatus = map[string]int{
	"not_found_error":                  404,
	"conflict_error":                   409,
	"ambiguous_name":                   409,
	"storage_error":                    409,
	"unauthorized_error":               401,
	"application_not_secured_error":    401,
	"no_token_generator_error":         401,
	"forbidden_error":                  403,
	"forbidden_while_cancelling":       403,
	"only_deployment_update":           403,
	"bad_parameters_error":             400,
	"illegal_action_error":             400,
	"unknown_action":                   400,
	"dependent_exists_error":           400,
	"existing_running_execution_error": 400,
	"global_parallel_running_executions_limit_reached_error": 400,
	"nonexistent_workflow_error":                             400,
	"unavailable_workflow_error":                             400,
	"illegal_execution_parameters_error":                     400,
	"no_such_include_field_error":                            400,
	"deployment_creation_error":                              400,
	"deployment_environment_creation_in_progress_error":      400,
	"deployment_environment_creation_pending_error":          400,
	"missing_required_deployment_input_error":                400,
	"unknown_deployment_input_error":                         400,
	"deployment_input_evaluation_error":                      400,
	"constraint_error":                                       400,
	"unknown_deployment_secret_error":                        400,
	"deployment_outputs_evaluation_error":                    400,
	"deployment_capabilities_evaluation_error":               400,
	"functions_evaluation_error":                             400,
	"deployment_plugin_not_found":                            400,
	"invalid_blueprint_error":                                400,
	"invalid_exception_status_update":                        400,
	"unsupported_change_in_deployment_update":                400,
	"invalid_filter_rule":                                    400,
	"invalid_yaml_format":                                    400,
	"param_url_not_found_error":                              400,
	"deployment_parent_not_found_error":                      404,
	"imported_blueprint_not_found":                           404,
	"missing_premium_package_error":                          404,
	"blueprint_in_use":                                       405,
	"plugin_in_use":                                          405,
	"method_not_allowed_error":                               405,
	"unsupported_content_type_error":                         415,
	"internal_server_error":                                  500,
	"insufficient_memory_error":                              503,
	"in_snapshot_restore_error":                              503,
	"maintenance_mode_active":                                503,
	"entering_maintenance_mode":                              503,
}

// response is what a handler produces; ServeHTTP writes it after the
// simulator's lock is released.
type response struct {
	status      int
	body        any    // marshalled as JSON when raw is nil
	raw         []byte // written verbatim
	contentType string
	header      http.Header
	wait        *syncWait // a synchronous create still waiting (real clock only)
	errCode     string    // for logging
}

// syncWait describes a synchronous deployment create whose create execution is
// still running, on the real clock.
type syncWait struct {
	tenant   string
	depID    string
	execID   string
	deadline time.Time
}

// jsonResp returns a JSON response.
func jsonResp(status int, body any) *response {
	return &response{status: status, body: body}
}

// apiErr returns the manager's error body for code, with the status of
// error-codes.json and a null server_traceback.
func apiErr(code, format string, args ...any) *response {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	status, ok := errorStatus[code]
	if !ok {
		status = 500
	}
	return &response{status: status, errCode: code, body: map[string]any{
		"message":          msg,
		"error_code":       code,
		"server_traceback": nil,
	}}
}

// apiErrNoTraceback is a 7.x pydantic validation error: message and code only.
func apiErrNoTraceback(code, msg string) *response {
	r := apiErr(code, "%s", msg)
	delete(r.body.(map[string]any), "server_traceback")
	return r
}

// internalError is an unhandled server error: 500 with a traceback.
func internalError(excType, msg string) *response {
	full := "Internal error occurred in manager REST server - " + excType + ": " + msg
	r := apiErr("internal_server_error", "%s", full)
	r.body.(map[string]any)["server_traceback"] = fakeTraceback(
		"manager_rest/rest/rest_decorators.py", excType+": "+msg)
	return r
}

// fakeTraceback renders a plausible Python traceback ending in last.
func fakeTraceback(file, last string) string {
	return "Traceback (most recent call last):\n" +
		"  File \"/opt/manager/env/lib/python3.11/site-packages/flask/app.py\", line 1820, in full_dispatch_request\n" +
		"    rv = self.dispatch_request()\n" +
		"  File \"/opt/manager/env/lib/python3.11/site-packages/" + file + "\", line 142, in wrapper\n" +
		"    return func(*args, **kwargs)\n" +
		last + "\n"
}

// notFound is the storage layer's 404 for a missing resource.
func notFound(kind, id string) *response {
	return apiErr("not_found_error", "Requested `%s` with ID `%s` was not found", kind, id)
}

// flaskNotFoundBody is Flask's default 404 page (not JSON).
const flaskNotFoundBody = `<!doctype html>
<html lang=en>
<title>404 Not Found</title>
<h1>Not Found</h1>
<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>
`

// flaskNotFound is the answer for a route the manager does not know.
func flaskNotFound() *response {
	return &response{status: 404, raw: []byte(flaskNotFoundBody), contentType: "text/html; charset=utf-8"}
}

// methodNotAllowed is the JSON 405 for a known route and an unsupported method.
func methodNotAllowed(allowed []string) *response {
	r := apiErr("method_not_allowed_error", "The method is not allowed for the requested URL.")
	r.header = http.Header{"Allow": []string{strings.Join(allowed, ", ")}}
	return r
}

// marshalJSON encodes v like Flask does: no HTML escaping, trailing newline.
func marshalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"message": "Internal error occurred in manager REST server - TypeError: unserialisable response", "error_code": "internal_server_error", "server_traceback": null}` + "\n")
	}
	return buf.Bytes()
}

// write sends r on w.
func (r *response) write(w http.ResponseWriter) {
	for k, vs := range r.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	var payload []byte
	ct := r.contentType
	switch {
	case r.raw != nil:
		payload = r.raw
	case r.body != nil:
		payload = marshalJSON(r.body)
		if ct == "" {
			ct = "application/json"
		}
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if payload != nil {
		w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
	}
	w.WriteHeader(r.status)
	if payload != nil {
		_, _ = w.Write(payload)
	}
}

// pyStr formats v as Python's str() would (strings bare).
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

// pyRepr formats v as Python's repr() would, close enough for messages.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "\\'") + "'"
	case json.Number:
		return x.String()
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprintf("%.1f", x)
		}
		return fmt.Sprint(x)
	case int:
		return fmt.Sprint(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(x)
	}
}
