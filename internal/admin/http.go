package admin

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cfybroker/cfybroker/internal/basicauth"
)

// Prefix is the path under which NewHandler serves the API.
const Prefix = "/admin/v1/"

// ContentTypeNDJSON is the media type of a streamed rebuild.
const ContentTypeNDJSON = "application/x-ndjson"

// maxRequestBody bounds request bodies (an overlay is a few kilobytes to a megabyte).
const maxRequestBody = 8 << 20

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Credentials are the accepted Basic-auth pairs: the operator's, never the OSB
	// API's (a platform's credential must not rewrite the catalog or abandon
	// operations). Several pairs allow a rotation. With none, the API is off: every
	// request is answered 404 with the code "admin_off" and how to turn it on. Both
	// fields are compared in constant time against every pair.
	Credentials []basicauth.Credential
	// Logger receives one line per request and the faults (default: discard).
	Logger *slog.Logger
	// NewRequestID makes correlation ids (default: random UUIDs).
	NewRequestID func() string
}

// NewHandler returns the admin HTTP API (see the package comment) over svc. It panics
// on a credential with an empty username or password, a programming error of the
// composition root.
func NewHandler(svc *Service, cfg HandlerConfig) http.Handler {
	h := &handler{svc: svc, log: cfg.Logger, newID: cfg.NewRequestID}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.newID == nil {
		h.newID = uuid.NewString
	}
	creds, err := basicauth.NewVerifier(cfg.Credentials)
	if err != nil {
		panic("admin: " + err.Error())
	}
	h.creds = creds
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"catalog", h.wrap(h.catalog))
	mux.HandleFunc("GET "+Prefix+"catalog/osb", h.wrap(h.osbCatalog))
	mux.HandleFunc("GET "+Prefix+"overlay", h.wrap(h.overlay))
	mux.HandleFunc("POST "+Prefix+"catalog/rebuild", h.rebuild)
	mux.HandleFunc("GET "+Prefix+"instances", h.wrap(h.instances))
	mux.HandleFunc("GET "+Prefix+"instances/{id}", h.wrap(h.instance))
	mux.HandleFunc("GET "+Prefix+"operations", h.wrap(h.operations))
	mux.HandleFunc("POST "+Prefix+"operations/{id}/retry", h.wrap(h.retry))
	mux.HandleFunc("POST "+Prefix+"operations/{id}/abandon", h.wrap(h.abandon))
	// Reconcile walks every instance and deployment: it may outlast the write timeout.
	mux.HandleFunc("POST "+Prefix+"reconcile", withoutWriteDeadline(h.wrap(h.reconcile)))
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: string(ENotFound), Description: "no such admin route: " + r.Method + " " + r.URL.Path})
	})
	h.mux = mux
	return h
}

// CodeOff is the error code of every answer of the API when it is off (no operator
// credentials configured).
const CodeOff = "admin_off"

// offMessage says how to turn the API on.
const offMessage = "the broker's admin API is off: start it with operator credentials, --admin-username and --admin-password (CFYBROKER_ADMIN_USERNAME, CFYBROKER_ADMIN_PASSWORD)"

type handler struct {
	svc   *Service
	creds *basicauth.Verifier
	log   *slog.Logger
	newID func() string
	mux   *http.ServeMux
}

// errorBody is the body of every error answer.
type errorBody struct {
	Error         string `json:"error"`
	Description   string `json:"description"`
	CorrelationID string `json:"correlation_id,omitempty"`
	// Problems are those of *Error (an overlay's, located by line and field).
	Problems []Problem `json:"problems,omitempty"`
}

// ServeHTTP checks the credentials, then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if h.creds.Len() == 0 {
		writeJSON(w, http.StatusNotFound, errorBody{Error: CodeOff, Description: offMessage})
		return
	}
	if !h.creds.Authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="cfybroker"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "unauthorized", Description: "wrong or missing credentials"})
		h.log.WarnContext(r.Context(), "admin request refused", "method", r.Method, "path", r.URL.Path, "status", http.StatusUnauthorized)
		return
	}
	h.mux.ServeHTTP(w, r)
	h.log.InfoContext(r.Context(), "admin request", "method", r.Method, "path", r.URL.Path, "duration_ms", time.Since(start).Milliseconds())
}

// withoutWriteDeadline lifts the server's write timeout for a long route.
func withoutWriteDeadline(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		next(w, r)
	}
}

// wrap turns a route function into a handler that writes its result or its error.
func (h *handler) wrap(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// writeError answers an error: an *Error with its code's status and message, anything
// else with 500, a correlation id and no internal text.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := h.errorAnswer(r, err)
	writeJSON(w, status, body)
}

func (h *handler) errorAnswer(r *http.Request, err error) (int, errorBody) {
	var e *Error
	if errors.As(err, &e) {
		if e.Err != nil {
			h.log.WarnContext(r.Context(), "admin request failed", "path", r.URL.Path, "code", string(e.Code), "error", err)
		}
		return e.Code.status(), errorBody{Error: string(e.Code), Description: e.Message, Problems: e.Problems}
	}
	id := h.newID()
	h.log.ErrorContext(r.Context(), "admin request fault", "path", r.URL.Path, "correlation_id", id, "error", err)
	return http.StatusInternalServerError, errorBody{Error: "internal", Description: "internal error; the broker's log has the details", CorrelationID: id}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// decodeBody reads an optional JSON body into v.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return Errorf(EInvalid, "cannot read the request body: %v", err)
	}
	if len(body) > maxRequestBody {
		return Errorf(EInvalid, "the request body is larger than %d bytes", maxRequestBody)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(EInvalid, "malformed request body: %v", err)
	}
	return nil
}

func (h *handler) catalog(r *http.Request) (any, error) { return h.svc.Catalog(r.Context()) }

func (h *handler) osbCatalog(r *http.Request) (any, error) { return h.svc.OSBCatalog(r.Context()) }

func (h *handler) overlay(r *http.Request) (any, error) { return h.svc.Overlay(r.Context()) }

func (h *handler) instances(r *http.Request) (any, error) {
	all, err := queryBool(r, "all")
	if err != nil {
		return nil, err
	}
	return h.svc.Instances(r.Context(), InstanceFilter{All: all})
}

func (h *handler) instance(r *http.Request) (any, error) {
	return h.svc.Instance(r.Context(), r.PathValue("id"))
}

func (h *handler) operations(r *http.Request) (any, error) {
	var f OperationFilter
	if v := r.URL.Query().Get("failed_since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, Errorf(EInvalid, "failed_since %q is not a duration such as 168h", v)
		}
		f.FailedSince = d
	}
	return h.svc.Operations(r.Context(), f)
}

func (h *handler) retry(r *http.Request) (any, error) {
	return h.svc.RetryOperation(r.Context(), r.PathValue("id"))
}

// abandonRequest is the body of POST /admin/v1/operations/{id}/abandon.
type abandonRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (h *handler) abandon(r *http.Request) (any, error) {
	var req abandonRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	return h.svc.AbandonOperation(r.Context(), r.PathValue("id"), req.Reason)
}

func (h *handler) reconcile(r *http.Request) (any, error) {
	var req ReconcileRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	return h.svc.Reconcile(r.Context(), req)
}

// streamLine is one line of a streamed rebuild.
type streamLine struct {
	Progress *Progress      `json:"progress,omitempty"`
	Result   *RebuildResult `json:"result,omitempty"`
	Error    *errorBody     `json:"error,omitempty"`
}

// rebuild serves POST /admin/v1/catalog/rebuild, streaming progress when the client
// accepts NDJSON.
func (h *handler) rebuild(w http.ResponseWriter, r *http.Request) {
	var req RebuildRequest
	if err := decodeBody(r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	// A large manager takes longer than the server's write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	if !strings.Contains(r.Header.Get("Accept"), ContentTypeNDJSON) {
		res, err := h.svc.Rebuild(r.Context(), req, nil)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	w.Header().Set("Content-Type", ContentTypeNDJSON)
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	res, err := h.svc.Rebuild(r.Context(), req, func(p Progress) {
		_ = enc.Encode(streamLine{Progress: &p})
		_ = rc.Flush()
	})
	if err != nil {
		_, body := h.errorAnswer(r, err)
		_ = enc.Encode(streamLine{Error: &body})
		return
	}
	_ = enc.Encode(streamLine{Result: &res})
}

func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, Errorf(EInvalid, "%s=%q: want true or false", name, v)
	}
	return b, nil
}
