package cloudify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// helpers lists every Is* helper by name.
var helpers = []struct {
	name string
	fn   func(error) bool
}{
	{"IsNotFound", IsNotFound},
	{"IsRouteNotFound", IsRouteNotFound},
	{"IsConflict", IsConflict},
	{"IsRunningExecution", IsRunningExecution},
	{"IsEnvNotReady", IsEnvNotReady},
	{"IsDeploymentCreation", IsDeploymentCreation},
	{"IsDependentExists", IsDependentExists},
	{"IsUnavailableWorkflow", IsUnavailableWorkflow},
	{"IsInputError", IsInputError},
	{"IsUnauthorized", IsUnauthorized},
	{"IsForbidden", IsForbidden},
	{"IsMaintenance", IsMaintenance},
	{"IsTransient", IsTransient},
}

// matching returns the names of the helpers that report true for err.
func matching(err error) []string {
	var out []string
	for _, h := range helpers {
		if h.fn(err) {
			out = append(out, h.name)
		}
	}
	return out
}

func TestErrorBodies(t *testing.T) {
	tests := []struct {
		file          string
		wantCode      string
		wantHelpers   []string
		wantTrace     bool
		wantMsgPrefix string
	}{
		{"404_not_found_7.x.json", CodeNotFound, []string{"IsNotFound"}, false, "Requested `Deployment` with ID `foo` was not found"},
		{"404_not_found_4.x.json", CodeNotFound, []string{"IsNotFound"}, true, "404: Requested `Blueprint`"},
		{"409_conflict.json", CodeConflict, []string{"IsConflict"}, false, "<Deployment id=`osb-a`"},
		{"409_update_active_4.x.json", CodeConflict, []string{"IsConflict"}, true, "there are deployment updates still active"},
		{"400_existing_running_execution_4.x.json", CodeExistingRunningExecution, []string{"IsRunningExecution"}, true, "400: The following executions"},
		{"400_existing_running_execution_7.x.json", CodeExistingRunningExecution, []string{"IsRunningExecution"}, false, "The following executions"},
		{"400_env_creation_pending.json", CodeDeploymentEnvironmentCreationPending, []string{"IsEnvNotReady"}, false, "Deployment environment creation is still pending"},
		{"400_env_creation_in_progress.json", CodeDeploymentEnvironmentCreationInProgress, []string{"IsEnvNotReady"}, false, "Deployment environment creation is still in progress"},
		{"400_deployment_creation.json", CodeDeploymentCreation, []string{"IsDeploymentCreation"}, false, "Value 12 of input"},
		{"500_env_creation_failed_4.x.json", CodeInternalServer, []string{"IsDeploymentCreation", "IsTransient"}, true, "Internal error occurred"},
		{"400_dependent_exists.json", CodeDependentExists, []string{"IsDependentExists"}, false, "Can't delete deployment osb-a"},
		{"400_unavailable_workflow.json", CodeUnavailableWorkflow, []string{"IsUnavailableWorkflow"}, false, "Workflow not available: install"},
		{"400_nonexistent_workflow.json", CodeNonexistentWorkflow, nil, false, "Workflow nosuch does not exist"},
		{"400_illegal_execution_parameters.json", CodeIllegalExecutionParameters, nil, false, `Workflow "scale" must be provided`},
		{"400_illegal_action.json", CodeIllegalAction, nil, false, "Can't cancel execution"},
		{"400_missing_required_input_7.x.json", CodeMissingRequiredDeploymentInput, []string{"IsInputError"}, false, "missing inputs: admin_password, flavor"},
		{"400_missing_required_input_4.x.json", CodeMissingRequiredDeploymentInput, []string{"IsInputError"}, true, "400: Required inputs"},
		{"400_unknown_input.json", CodeUnknownDeploymentInput, []string{"IsInputError"}, false, "Cannot create deployment - unknown inputs: colour"},
		{"400_constraint.json", CodeConstraint, []string{"IsInputError"}, false, "Value 12 of input node_count"},
		{"400_input_evaluation.json", CodeDeploymentInputEvaluation, []string{"IsInputError"}, false, "Failed evaluating inputs"},
		{"400_bad_parameters_pydantic.json", CodeBadParameters, nil, false, "_size: value is not a valid integer"},
		{"400_invalid_filter_rule.json", CodeInvalidFilterRule, nil, false, "The filter rule"},
		{"401_unauthorized.json", CodeUnauthorized, []string{"IsUnauthorized"}, false, "User unauthorized: Authentication failed"},
		{"403_forbidden.json", CodeForbidden, []string{"IsForbidden"}, false, "Authorization failed: Tried to authenticate with invalid tenant name"},
		{"415_unsupported_content_type.json", CodeUnsupportedContentType, nil, false, "Content type must be application/json"},
		{"500_internal.json", CodeInternalServer, []string{"IsTransient"}, true, "Internal error occurred in manager REST server - KeyError"},
		{"503_maintenance_mode_active.json", CodeMaintenanceModeActive, []string{"IsMaintenance", "IsTransient"}, false, "Your request was rejected"},
		{"503_entering_maintenance_mode.json", CodeEnteringMaintenanceMode, []string{"IsMaintenance", "IsTransient"}, false, "Your request was rejected"},
		{"404_flask.html", "", []string{"IsRouteNotFound"}, false, "404 Not Found: <!doctype html> <html lang=en> <title>404 Not Found</title>"},
		{"502_nginx.html", "", []string{"IsTransient"}, false, "502 Bad Gateway: <html> <head><title>502 Bad Gateway</title></head>"},
		{"504_nginx.html", "", []string{"IsTransient"}, false, "504 Gateway Timeout: <html> <head><title>504 Gateway Time-out</title></head>"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			status, err := strconv.Atoi(tt.file[:3])
			if err != nil {
				t.Fatal(err)
			}
			body := golden(t, "errors/"+tt.file)
			ctype := "application/json"
			if strings.HasSuffix(tt.file, ".html") {
				ctype = "text/html; charset=utf-8"
			}
			fm := newFakeManager(t, func(recorded) reply { return reply{status: status, body: body, ctype: ctype} })
			_, err = fm.client(t).GetDeployment(testCtx(t), "osb-a")

			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			if ae.Status != status || ae.Code != tt.wantCode || ae.Op != "GetDeployment" {
				t.Errorf("APIError{Status: %d, Code: %q, Op: %q}, want {%d, %q, GetDeployment}", ae.Status, ae.Code, ae.Op, status, tt.wantCode)
			}
			if !strings.HasPrefix(ae.Message, tt.wantMsgPrefix) {
				t.Errorf("Message = %q, want prefix %q", ae.Message, tt.wantMsgPrefix)
			}
			if (ae.Traceback != "") != tt.wantTrace {
				t.Errorf("Traceback = %q, want present: %v", ae.Traceback, tt.wantTrace)
			}
			if tt.wantCode == "" {
				if ae.Body != body {
					t.Errorf("Body = %q, want the raw body", ae.Body)
				}
				if n := len([]rune(strings.SplitN(ae.Message, ": ", 2)[1])); n > 200 {
					t.Errorf("Message carries %d body characters, want at most 200", n)
				}
				if strings.ContainsAny(ae.Message, "\n\t") {
					t.Errorf("Message %q has uncollapsed whitespace", ae.Message)
				}
			} else if ae.Body != "" {
				t.Errorf("Body = %q, want empty for a JSON error body", ae.Body)
			}
			if diff := cmp.Diff(tt.wantHelpers, matching(err)); diff != "" {
				t.Errorf("matching helpers (-want +got):\n%s", diff)
			}
			wrapped := fmt.Errorf("provision osb-a: %w", fmt.Errorf("step 2: %w", err))
			if diff := cmp.Diff(tt.wantHelpers, matching(wrapped)); diff != "" {
				t.Errorf("helpers on a wrapped error (-want +got):\n%s", diff)
			}
			msg := err.Error()
			creds := base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword))
			if strings.Contains(msg, testPassword) || strings.Contains(msg, creds) {
				t.Errorf("Error() leaks credentials: %q", msg)
			}
			if !strings.Contains(msg, "GetDeployment") || !strings.Contains(msg, ae.Message) {
				t.Errorf("Error() = %q, want the method and message", msg)
			}
		})
	}
}

func TestAPIErrorShapes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   APIError
		errStr string
	}{
		{
			name: "JSON with code", status: 404,
			body:   `{"message": "Requested ` + "`Execution`" + ` with ID ` + "`x`" + ` was not found", "error_code": "not_found_error", "server_traceback": null}`,
			want:   APIError{Status: 404, Code: CodeNotFound, Message: "Requested `Execution` with ID `x` was not found", Op: "op"},
			errStr: "cloudify: op: Requested `Execution` with ID `x` was not found (HTTP 404, not_found_error)",
		},
		{
			name: "JSON code without message", status: 409, body: `{"error_code": "conflict_error"}`,
			want:   APIError{Status: 409, Code: CodeConflict, Message: "409 Conflict", Op: "op"},
			errStr: "cloudify: op: 409 Conflict (HTTP 409, conflict_error)",
		},
		{
			name: "empty body", status: 502, body: "",
			want:   APIError{Status: 502, Message: "502 Bad Gateway", Op: "op"},
			errStr: "cloudify: op: 502 Bad Gateway",
		},
		{
			name: "JSON that is not an error object", status: 500, body: `"FAIL"`,
			want:   APIError{Status: 500, Message: `500 Internal Server Error: "FAIL"`, Body: `"FAIL"`, Op: "op"},
			errStr: `cloudify: op: 500 Internal Server Error: "FAIL"`,
		},
		{
			name: "plain text with whitespace", status: 503, body: "  Service\n\n  Unavailable\t now \n",
			want:   APIError{Status: 503, Message: "503 Service Unavailable: Service Unavailable now", Body: "  Service\n\n  Unavailable\t now \n", Op: "op"},
			errStr: "cloudify: op: 503 Service Unavailable: Service Unavailable now",
		},
		{
			name: "long body cut to 200 characters", status: 502, body: strings.Repeat("é", 300),
			want:   APIError{Status: 502, Message: "502 Bad Gateway: " + strings.Repeat("é", 200), Body: strings.Repeat("é", 300), Op: "op"},
			errStr: "cloudify: op: 502 Bad Gateway: " + strings.Repeat("é", 200),
		},
		{
			name: "traceback as structured value", status: 500, body: `{"message": "boom", "error_code": "internal_server_error", "server_traceback": ["a", "b"]}`,
			want:   APIError{Status: 500, Code: CodeInternalServer, Message: "boom", Traceback: `["a", "b"]`, Op: "op"},
			errStr: "cloudify: op: boom (HTTP 500, internal_server_error)",
		},
		{
			name: "detail instead of message", status: 400,
			body:   `{"error_code": "missing_cloudify_license", "detail": "This Cloudify manager has no license"}`,
			want:   APIError{Status: 400, Code: CodeMissingCloudifyLicense, Message: "This Cloudify manager has no license", Op: "op"},
			errStr: "cloudify: op: This Cloudify manager has no license (HTTP 400, missing_cloudify_license)",
		},
		{
			name: "detail without a code", status: 401, body: `{"detail": "Authentication failed"}`,
			want:   APIError{Status: 401, Message: "Authentication failed", Op: "op"},
			errStr: "cloudify: op: Authentication failed",
		},
		{
			name: "message wins over detail", status: 400, body: `{"message": "m", "detail": "d", "error_code": "bad_parameters_error"}`,
			want:   APIError{Status: 400, Code: CodeBadParameters, Message: "m", Op: "op"},
			errStr: "cloudify: op: m (HTTP 400, bad_parameters_error)",
		},
		{
			name: "unusual status", status: 599, body: "x",
			want:   APIError{Status: 599, Message: "599: x", Body: "x", Op: "op"},
			errStr: "cloudify: op: 599: x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newAPIError("op", tt.status, []byte(tt.body))
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("APIError mismatch (-want +got):\n%s", diff)
			}
			if got.Error() != tt.errStr {
				t.Errorf("Error() = %q, want %q", got.Error(), tt.errStr)
			}
		})
	}
}

func TestIsNotFoundOnlyForResources(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"not_found_error", &APIError{Status: 404, Code: CodeNotFound}, true},
		{"not_found_error with another status", &APIError{Status: 400, Code: CodeNotFound}, true},
		{"bare 404", &APIError{Status: 404, Message: "404 Not Found"}, true},
		{"Flask route 404", &APIError{Status: 404, Message: "404 Not Found: <!doctype html>", Body: "<!doctype html>"}, false},
		{"premium package 404", &APIError{Status: 404, Code: CodeMissingPremiumPackage}, false},
		{"other status", &APIError{Status: 400, Code: CodeBadParameters}, false},
		{"nil", nil, false},
		{"plain error", errors.New("404 not found"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsNotFound(tt.err); got != tt.want {
				t.Errorf("IsNotFound = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHelpersOnStatusOnly(t *testing.T) {
	tests := []struct {
		err  *APIError
		want []string
	}{
		{&APIError{Status: 409, Code: CodeAmbiguousName}, []string{"IsConflict"}},
		{&APIError{Status: 401, Message: "401 Unauthorized"}, []string{"IsUnauthorized"}},
		{&APIError{Status: 403, Code: CodeForbiddenWhileCancelling}, []string{"IsForbidden"}},
		{&APIError{Status: 429, Message: "429 Too Many Requests"}, []string{"IsTransient"}},
		{&APIError{Status: 503, Code: CodeInSnapshotRestore}, []string{"IsTransient"}},
		{&APIError{Status: 405, Code: CodeMethodNotAllowed}, nil},
		{&APIError{Status: 400, Code: CodeDeploymentPluginNotFound}, nil},
		{&APIError{Status: 400, Code: CodeUnknownDeploymentSecret}, []string{"IsInputError"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.err.Status, tt.err.Code), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, matching(tt.err)); diff != "" {
				t.Errorf("matching helpers (-want +got):\n%s", diff)
			}
		})
	}
	if got := matching(nil); got != nil {
		t.Errorf("helpers on nil error: %v", got)
	}
	if got := matching(errors.New("plain")); got != nil {
		t.Errorf("helpers on a plain error: %v", got)
	}
}

func TestErrorCodeConstants(t *testing.T) {
	constants := map[string]string{
		CodeNotFound: "404", CodeConflict: "409", CodeAmbiguousName: "409", CodeStorage: "409",
		CodeUnauthorized: "401", CodeApplicationNotSecured: "401", CodeNoTokenGenerator: "401",
		CodeForbidden: "403", CodeForbiddenWhileCancelling: "403", CodeOnlyDeploymentUpdate: "403",
		CodeBadParameters: "400", CodeIllegalAction: "400", CodeUnknownAction: "400", CodeDependentExists: "400",
		CodeExistingRunningExecution: "400", CodeGlobalParallelRunningExecutionsLimitReached: "400",
		CodeNonexistentWorkflow: "400", CodeUnavailableWorkflow: "400", CodeIllegalExecutionParameters: "400",
		CodeNoSuchIncludeField: "400", CodeDeploymentCreation: "400", CodeDeploymentEnvironmentCreationInProgress: "400",
		CodeDeploymentEnvironmentCreationPending: "400", CodeMissingRequiredDeploymentInput: "400",
		CodeUnknownDeploymentInput: "400", CodeDeploymentInputEvaluation: "400", CodeConstraint: "400",
		CodeUnknownDeploymentSecret: "400", CodeDeploymentOutputsEvaluation: "400", CodeDeploymentCapabilitiesEvaluation: "400",
		CodeFunctionsEvaluation: "400", CodeDeploymentPluginNotFound: "400", CodeInvalidBlueprint: "400",
		CodeInvalidExceptionStatusUpdate: "400", CodeUnsupportedChangeInDeploymentUpdate: "400", CodeInvalidFilterRule: "400",
		CodeInvalidYAMLFormat: "400", CodeParamURLNotFound: "400", CodeDeploymentParentNotFound: "404",
		CodeImportedBlueprintNotFound: "404", CodeMissingPremiumPackage: "404", CodeBlueprintInUse: "405",
		CodePluginInUse: "405", CodeMethodNotAllowed: "405", CodeUnsupportedContentType: "415",
		CodeInternalServer: "500", CodeInsufficientMemory: "503", CodeInSnapshotRestore: "503",
		CodeMaintenanceModeActive: "503", CodeEnteringMaintenanceMode: "503",
	}
	var fromFile map[string]any
	if err := json.Unmarshal([]byte(golden(t, "error-codes.json")), &fromFile); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range fromFile {
		if strings.HasPrefix(k, "_") {
			continue
		}
		want[k] = fmt.Sprint(v)
	}
	if diff := cmp.Diff(want, constants); diff != "" {
		t.Errorf("error code constants vs error-codes.json (-want +got):\n%s", diff)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := srv.URL
		srv.Close()
		c, err := New(addr, WithBasicAuth(testUser, testPassword))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetDeployment(testCtx(t), "osb-a")
		checkTransport(t, err, "GetDeployment", true)
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Errorf("error %v does not wrap *url.Error", err)
		}
	})

	t.Run("connection closed without answer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		t.Cleanup(srv.Close)
		c, _ := New(srv.URL)
		_, err := c.ListDeployments(testCtx(t), ListOptions{})
		checkTransport(t, err, "ListDeployments", true)
	})

	t.Run("client timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		c, _ := New(srv.URL, WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond}))
		_, err := c.GetExecution(testCtx(t), "e1")
		checkTransport(t, err, "GetExecution", true)
	})

	t.Run("caller cancels", func(t *testing.T) {
		started := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		c, _ := New(srv.URL)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		_, err := c.GetExecution(ctx, "e1")
		checkTransport(t, err, "GetExecution", false)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not match context.Canceled", err)
		}
	})

	t.Run("caller deadline", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		c, _ := New(srv.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.GetExecution(ctx, "e1")
		checkTransport(t, err, "GetExecution", false)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not match context.DeadlineExceeded", err)
		}
	})

	t.Run("already cancelled context", func(t *testing.T) {
		fm := newFakeManager(t, always(200, `{}`))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := fm.client(t).GetBlueprint(ctx, "bp")
		checkTransport(t, err, "GetBlueprint", false)
		if n := len(fm.requests()); n != 0 {
			t.Errorf("%d requests reached the server", n)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		c, _ := New(srv.URL)
		_, err := c.Status(testCtx(t))
		checkTransport(t, err, "Status", false)
	})

	t.Run("truncated success body", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, `{"id": "osb-a", "blue`)
		}))
		t.Cleanup(srv.Close)
		c, _ := New(srv.URL)
		_, err := c.GetDeployment(testCtx(t), "osb-a")
		checkTransport(t, err, "GetDeployment", true)
	})
}

// checkTransport checks that err is a non-API error naming op, with the
// given IsTransient answer.
func checkTransport(t *testing.T, err error, op string, transient bool) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var ae *APIError
	if errors.As(err, &ae) {
		t.Fatalf("got *APIError %v, want a transport error", err)
	}
	if !strings.Contains(err.Error(), op) {
		t.Errorf("error %q does not name %s", err, op)
	}
	if got := IsTransient(err); got != transient {
		t.Errorf("IsTransient(%v) = %v, want %v", err, got, transient)
	}
	if got := IsTransient(fmt.Errorf("outer: %w", err)); got != transient {
		t.Errorf("IsTransient(wrapped %v) = %v, want %v", err, got, transient)
	}
}

func TestIsTransientPlainErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"EOF", fmt.Errorf("read: %w", io.EOF), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"wrapped ECONNRESET", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"url.Error", &url.Error{Op: "Get", URL: "http://m/api/v3.1/x", Err: errors.New("weird")}, true},
		{"context canceled", context.Canceled, false},
		{"url.Error wrapping cancel", &url.Error{Op: "Get", URL: "http://m", Err: context.Canceled}, false},
		{"deadline not from the caller", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"caller context marker", &callerContextError{err: context.DeadlineExceeded}, false},
		{"API 400", &APIError{Status: 400, Code: CodeBadParameters}, false},
		{"API 502", &APIError{Status: 502}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestLicenseAndInputCodes: the licence codes are licence errors, not input errors;
// an unknown secret and a function that cannot be evaluated are input errors.
func TestLicenseAndInputCodes(t *testing.T) {
	for code, want := range map[string][2]bool{
		CodeMissingCloudifyLicense:         {true, false},
		CodeExpiredCloudifyLicense:         {true, false},
		CodeUnknownDeploymentSecret:        {false, true},
		CodeFunctionsEvaluation:            {false, true},
		CodeConstraint:                     {false, true},
		CodeMissingRequiredDeploymentInput: {false, true},
		CodeBadParameters:                  {false, false},
	} {
		err := newAPIError("op", 400, []byte(`{"error_code": "`+code+`", "message": "x"}`))
		if got := [2]bool{IsLicenseError(err), IsInputError(err)}; got != want {
			t.Errorf("%s: IsLicenseError, IsInputError = %v, want %v", code, got, want)
		}
	}
}
