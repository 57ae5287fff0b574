package osb

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// OSB headers, in the canonical form net/http stores them.
const (
	headerAPIVersion          = "X-Broker-Api-Version"
	headerRequestIdentity     = "X-Broker-Api-Request-Identity"
	headerOriginatingIdentity = "X-Broker-Api-Originating-Identity"
	headerContentType         = "Content-Type"
	headerContentLength       = "Content-Length"
	headerRetryAfter          = "Retry-After"
	headerETag                = "Etag"
	headerIfNoneMatch         = "If-None-Match"
	headerAllow               = "Allow"
	headerWWWAuthenticate     = "Www-Authenticate"
	headerAuthorization       = "Authorization"
)

// Shared header values; net/http only reads them.
var (
	jsonContentType = []string{"application/json"}
	basicChallenge  = []string{`Basic realm="cfybroker"`}
)

// exchange is one request and what the handler learnt about it, for the endpoint and
// for the log line.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	route *route
	start time.Time
	info  broker.RequestInfo

	instanceID string
	binding    string
	status     int
	// err is what the broker (or parsing) returned, for the log line.
	err error
	// quiet marks a poll (see pollLog); answer identifies its answer when answerSet
	// (else the body written is hashed).
	quiet     bool
	answer    uint64
	answerSet bool
	// body is an endpoint's rendered answer, returned as &x.body so that handing it
	// to writeJSON boxes a pointer, not a slice.
	body rawJSON
	// buf is the space body is rendered into; it stays with the exchange.
	buf [256]byte
}

// exchangePool recycles exchanges: one per request otherwise, on the hot path.
var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// releaseExchange returns x to the pool once the request is answered and logged; it
// keeps nothing of the request.
func releaseExchange(x *exchange) {
	*x = exchange{}
	exchangePool.Put(x)
}

// firstValue is h.Get(key) for a key in canonical form.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// maxRequestIDLength bounds the X-Broker-API-Request-Identity taken from a request.
const maxRequestIDLength = 128

// validRequestID reports whether a request identity may be echoed and logged: 1 to
// maxRequestIDLength printable ASCII characters. Any other is replaced by a generated
// one, since it is echoed and logged before the credentials are checked.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// serve runs the checks every request goes through (see the package doc for their
// order), then the endpoint, then logs one line.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, rt *route, instanceID, bindingID string) {
	x := exchangePool.Get().(*exchange)
	*x = exchange{w: w, r: r, route: rt, start: h.now()}
	defer releaseExchange(x)
	// The headers are read by their canonical names, without Header.Get's
	// canonicalization. A request identity taken from the request is echoed with the
	// request's own value slice, which net/http copies at WriteHeader and nobody
	// changes: no allocation.
	ids := r.Header[headerRequestIdentity]
	if len(ids) > 0 && validRequestID(ids[0]) {
		x.info.RequestID = ids[0]
		if len(ids) > 1 {
			ids = ids[:1:1]
		}
	} else {
		x.info.RequestID = h.newRequestID()
		ids = []string{x.info.RequestID}
	}
	w.Header()[headerRequestIdentity] = ids
	x.info.APIVersion = firstValue(r.Header, headerAPIVersion)
	defer h.finish(x)

	if status, description := h.checkVersion(x.info.APIVersion); status != 0 {
		h.writeJSON(x, status, errorBody{Description: description})
		return
	}
	if !h.creds.Authorized(r) {
		w.Header()[headerWWWAuthenticate] = basicChallenge
		h.writeJSON(x, http.StatusUnauthorized, errorBody{Description: "missing or invalid credentials"})
		return
	}
	ep, ok := rt.methods[r.Method]
	if !ok {
		if rt.pattern == "" {
			h.writeJSON(x, http.StatusNotFound, errorBody{
				Description: fmt.Sprintf("no such route: %s %s", r.Method, r.URL.Path),
			})
			return
		}
		w.Header()[headerAllow] = rt.allow
		h.writeJSON(x, http.StatusMethodNotAllowed, errorBody{
			Description: fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, rt.pattern, rt.allow[0]),
		})
		return
	}
	x.quiet = ep.poll
	x.instanceID, x.binding = instanceID, bindingID
	id, err := parseIdentity(firstValue(r.Header, headerOriginatingIdentity))
	if err != nil {
		h.writeError(x, err, false)
		return
	}
	x.info.Identity = id

	status, body, err := ep.serve(x)
	if err != nil {
		h.writeError(x, err, ep.failureFlags)
		return
	}
	h.writeJSON(x, status, body)
}

// checkVersion returns 0 for a supported X-Broker-API-Version, else the status and
// description to answer with.
func (h *handler) checkVersion(v string) (int, string) {
	if v == "" {
		return h.missingVer, "X-Broker-API-Version header is missing; " + h.versionHint
	}
	got, ok := parseAPIVersion(v)
	if !ok || got.less(h.minVersion) || h.maxVersion.less(got) {
		if len(v) > 32 {
			v = v[:32]
		}
		return http.StatusPreconditionFailed, fmt.Sprintf("X-Broker-API-Version %q is not supported; %s", v, h.versionHint)
	}
	return 0, ""
}

// parseAPIVersion parses "MAJOR.MINOR", both plain decimal numbers.
func parseAPIVersion(v string) (APIVersion, bool) {
	dot := -1
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '.' && dot < 0:
			dot = i
		case c < '0' || c > '9':
			return APIVersion{}, false
		}
	}
	if dot <= 0 || dot == len(v)-1 {
		return APIVersion{}, false
	}
	major, err1 := strconv.Atoi(v[:dot])
	minor, err2 := strconv.Atoi(v[dot+1:])
	if err1 != nil || err2 != nil {
		return APIVersion{}, false
	}
	return APIVersion{Major: major, Minor: minor}, true
}

// errorBody is the OSB error body.
type errorBody struct {
	Error            string `json:"error,omitempty"`
	Description      string `json:"description,omitempty"`
	InstanceUsable   *bool  `json:"instance_usable,omitempty"`
	UpdateRepeatable *bool  `json:"update_repeatable,omitempty"`
}

// Descriptions of the OSB error codes. The Kubernetes OSB client
// (sigs.k8s.io/go-open-service-broker-client/v2, IsAsyncRequiredError,
// IsConcurrencyError, IsAppGUIDRequiredError) matches the error code and the
// description exactly, so these are its strings. Its ConcurrencyError description
// differs from the example in the OSB spec's prose; the client's is the one that
// matters to a platform.
const (
	descAsyncRequired           = "This service plan requires client support for asynchronous service operations."
	descConcurrencyError        = "The Service Broker does not support concurrent requests that mutate the same resource."
	descMaintenanceInfoConflict = "The maintenance_info.version field provided in the request does not match the maintenance_info.version field provided in the Service Broker's catalog."
	descRequiresApp             = "This service supports generation of credentials through binding an application only."
	descServiceUnavailable      = "The service is temporarily unavailable; try again later."
)

// writeError translates err into an OSB error response. It is the only place that
// does: request-parsing errors are *broker.Error values too, with EInvalid.
// failureFlags copies InstanceUsable and UpdateRepeatable (update and deprovision).
func (h *handler) writeError(x *exchange, err error, failureFlags bool) {
	x.err = err
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		// 400, not 413: OSB gives 400 for every request the broker cannot accept, and
		// platforms treat other 4xx answers as unexpected.
		h.writeJSON(x, http.StatusBadRequest, errorBody{
			Description: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit),
		})
		return
	}
	var e *broker.Error
	if !errors.As(err, &e) {
		h.internalError(x)
		return
	}
	body := errorBody{Description: e.Message}
	var status int
	switch e.Code {
	case broker.EInvalid:
		status = http.StatusBadRequest
	case broker.ENotFound:
		status = http.StatusNotFound
	case broker.EGone:
		// OSB: 410 with an empty object.
		status, body = http.StatusGone, errorBody{}
	case broker.EConflict:
		status = http.StatusConflict
	case broker.EAsyncRequired:
		status, body = http.StatusUnprocessableEntity, errorBody{Error: "AsyncRequired", Description: descAsyncRequired}
	case broker.EConcurrency:
		status, body = http.StatusUnprocessableEntity, errorBody{Error: "ConcurrencyError", Description: descConcurrencyError}
	case broker.EMaintenanceInfoConflict:
		status, body.Error = http.StatusUnprocessableEntity, "MaintenanceInfoConflict"
		if body.Description == "" {
			body.Description = descMaintenanceInfoConflict
		}
	case broker.ERequiresApp:
		status, body.Error = http.StatusUnprocessableEntity, "RequiresApp"
		if body.Description == "" {
			body.Description = descRequiresApp
		}
	case broker.EUnprocessable:
		status = http.StatusUnprocessableEntity
	case broker.EUnavailable:
		status = http.StatusServiceUnavailable
		if body.Description == "" {
			body.Description = descServiceUnavailable
		}
		x.w.Header()[headerRetryAfter] = h.unavailableRetryAfter
	default:
		h.internalError(x)
		return
	}
	if failureFlags {
		body.InstanceUsable, body.UpdateRepeatable = e.InstanceUsable, e.UpdateRepeatable
	}
	h.writeJSON(x, status, body)
}

// internalError answers 500 with the request id as correlation id and nothing of the
// error, which goes to the log line only.
func (h *handler) internalError(x *exchange) {
	h.writeJSON(x, http.StatusInternalServerError, errorBody{
		Description: "internal error, correlation id " + x.info.RequestID,
	})
}

// rawJSON is a body that is already JSON (the pre-rendered catalog).
type rawJSON []byte

// writeJSON writes the status and body: nil writes no body (304), rawJSON as it is,
// anything else marshalled.
func (h *handler) writeJSON(x *exchange, status int, body any) {
	var b []byte
	switch v := body.(type) {
	case nil:
	case rawJSON:
		b = v
	case *rawJSON:
		b = *v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			x.err = fmt.Errorf("osb: marshal %d response: %w", status, err)
			status = http.StatusInternalServerError
			b, _ = json.Marshal(errorBody{Description: "internal error, correlation id " + x.info.RequestID})
		}
	}
	if b != nil {
		x.w.Header()[headerContentType] = jsonContentType
	}
	if x.quiet && !x.answerSet {
		x.answer, x.answerSet = answerHash(b), true
	}
	x.status = status
	x.w.WriteHeader(status)
	if b != nil {
		_, _ = x.w.Write(b)
	}
}

// finish turns a panic of the broker into a 500 and logs the request's one line.
func (h *handler) finish(x *exchange) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		x.err = fmt.Errorf("osb: panic: %v\n%s", p, debug.Stack())
		if x.status == 0 {
			h.internalError(x)
		}
	}
	level := slog.LevelInfo
	if x.status >= 500 {
		level = slog.LevelError
	}
	level, unchanged := h.pollLevel(x, level)
	ctx := x.r.Context()
	if !h.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("method", x.r.Method),
		slog.String("route", x.route.pattern),
		slog.Int("status", x.status),
		slog.Float64("duration_ms", float64(h.now().Sub(x.start))/float64(time.Millisecond)),
		slog.String("request_id", x.info.RequestID),
		slog.String("instance_id", x.instanceID),
		slog.String("binding_id", x.binding),
		slog.String("identity_platform", x.info.Identity.Platform),
		slog.String("identity_user", x.info.Identity.User),
		slog.String("api_version", x.info.APIVersion),
	)
	if x.route.pattern == "" {
		// Unknown routes: the path is all there is to go by (ids are not secrets).
		attrs = append(attrs, slog.String("path", x.r.URL.Path))
	}
	if x.err != nil {
		attrs = append(attrs, slog.String("error", x.err.Error()))
	}
	if unchanged > 0 {
		attrs = append(attrs, slog.Int64("unchanged_polls", unchanged))
	}
	h.logger.LogAttrs(ctx, level, "osb request", attrs...)
}

// retryAfterSeconds renders d as a Retry-After value: whole seconds, rounded up, at
// least 1.
func retryAfterSeconds(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(int64(s), 10)
}
