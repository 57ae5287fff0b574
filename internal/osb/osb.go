// Package osb serves the Open Service Broker API 2.17 over net/http.
//
// NewHandler turns a Broker (the use cases of internal/broker) into an http.Handler
// for every OSB route:
//
//	GET    /v2/catalog
//	PUT    /v2/service_instances/{instance_id}                      provision
//	GET    /v2/service_instances/{instance_id}                      fetch instance
//	PATCH  /v2/service_instances/{instance_id}                      update
//	DELETE /v2/service_instances/{instance_id}                      deprovision
//	GET    /v2/service_instances/{instance_id}/last_operation
//	PUT    /v2/service_instances/{instance_id}/service_bindings/{binding_id}   bind
//	GET    /v2/service_instances/{instance_id}/service_bindings/{binding_id}   fetch binding
//	DELETE /v2/service_instances/{instance_id}/service_bindings/{binding_id}   unbind
//	GET    /v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation
//
// The package owns everything that is HTTP: the X-Broker-API-* headers, Basic auth,
// query and body parsing, status codes, and the translation of *broker.Error values
// into OSB error bodies, which happens in exactly one function (writeError). The
// broker package never sees an *http.Request and this package never decides a use case.
//
// # Order of checks
//
// Every request, whatever its path and method, goes through the same steps, and the
// first one that fails answers:
//
//  1. X-Broker-API-Request-Identity is taken from the request, or generated with
//     Config.NewRequestID when absent, and echoed on every response, errors included.
//  2. X-Broker-API-Version must be "MAJOR.MINOR" within [MinAPIVersion, MaxAPIVersion]
//     (2.13 to 2.17 by default). Missing or empty answers Config.MissingVersionStatus
//     (412 by default, as osb-checker and brokerapi expect, although the spec only
//     says a broker MAY answer 400); unparsable or out of range answers 412.
//  3. HTTP Basic auth against every configured credential: 401 with
//     WWW-Authenticate: Basic realm="cfybroker".
//  4. The route: an unknown path answers 404, a known path with another method 405
//     with an Allow header. Both have an OSB JSON error body.
//  5. X-Broker-API-Originating-Identity, when present, must be
//     "<platform> <base64 of a JSON object>" (else 400).
//  6. Query parameters, then the body (400, also over Config.MaxBodyBytes).
//  7. The Broker method; its error goes through writeError.
//
// The version comes before auth because it is a property of the protocol, not of the
// caller: a platform speaking the wrong version learns what to change even before its
// credentials are right, and the check reads no secret, so it can reveal nothing but
// the supported range, which is public anyway.
//
// # Bodies
//
// Unknown fields are ignored, as OSB requires. A body must be one JSON object with
// nothing after it. Content-Type must be application/json or any "+json" type, with
// any parameters, or be absent; any other is refused with 400. A field of the wrong
// type is refused with a description naming the field. JSON null counts as absent for
// every optional field.
//
// Provision requires service_id and plan_id always, and organization_guid and
// space_guid only when context is absent: OSB 2.17 still lists them as required but
// deprecates them in favour of context, which carries the same information (and more)
// for Cloud Foundry and names the namespace for Kubernetes. Platforms that send only
// context are accepted; a request with neither gives the broker nothing to scope the
// instance by and is refused.
package osb

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cfybroker/cfybroker/internal/basicauth"
	"github.com/cfybroker/cfybroker/internal/broker"
)

// Broker is what the OSB surface needs from the broker's use cases: one method per
// route. Every method returns either a result or an error; errors that carry OSB
// meaning are (or wrap) a *broker.Error, whose Code picks the status and whose
// Message is shown to the platform user. Any other error answers 500 with a
// correlation id and is logged, never shown.
type Broker interface {
	// Catalog serves GET /v2/catalog. The returned ETag identifies the content; the
	// handler renders each ETag once and answers If-None-Match with 304.
	Catalog(ctx context.Context) (broker.Catalog, error)
	// Provision serves PUT /v2/service_instances/{instance_id}: 202 when the result is
	// Async, else 200. Errors: EInvalid, EConflict, EAsyncRequired,
	// EMaintenanceInfoConflict, EConcurrency, EUnavailable.
	Provision(ctx context.Context, req broker.ProvisionRequest) (broker.ProvisionResult, error)
	// Update serves PATCH /v2/service_instances/{instance_id}: 202 when Async, else
	// 200. Errors: EInvalid, ENotFound, EUnprocessable, EAsyncRequired,
	// EMaintenanceInfoConflict, EConcurrency, EUnavailable; InstanceUsable and
	// UpdateRepeatable of the error are reported.
	Update(ctx context.Context, req broker.UpdateRequest) (broker.UpdateResult, error)
	// Deprovision serves DELETE /v2/service_instances/{instance_id}: 202 when Async,
	// else 200. Errors: EGone for an unknown instance, EAsyncRequired, EConcurrency,
	// EUnavailable; InstanceUsable and UpdateRepeatable of the error are reported.
	Deprovision(ctx context.Context, req broker.DeprovisionRequest) (broker.DeprovisionResult, error)
	// LastOperation serves GET /v2/service_instances/{instance_id}/last_operation and,
	// with BindingID set, GET
	// /v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation.
	// Errors: ENotFound, EGone (only after a finished asynchronous delete), EInvalid.
	LastOperation(ctx context.Context, req broker.LastOperationRequest) (broker.LastOperation, error)
	// FetchInstance serves GET /v2/service_instances/{instance_id}. Errors: ENotFound
	// (unknown or still provisioning), EConcurrency (while updating).
	FetchInstance(ctx context.Context, req broker.FetchInstanceRequest) (broker.InstanceDetails, error)
	// Bind serves PUT /v2/service_instances/{instance_id}/service_bindings/{binding_id}:
	// 200 when the result is Existing, else 201. Errors: EInvalid, ENotFound,
	// EConflict, ERequiresApp, EConcurrency, EAsyncRequired, EUnavailable.
	Bind(ctx context.Context, req broker.BindRequest) (broker.BindResult, error)
	// FetchBinding serves GET
	// /v2/service_instances/{instance_id}/service_bindings/{binding_id}. Errors:
	// ENotFound, EUnavailable.
	FetchBinding(ctx context.Context, req broker.FetchBindingRequest) (broker.BindingDetails, error)
	// Unbind serves DELETE
	// /v2/service_instances/{instance_id}/service_bindings/{binding_id}: 200 on
	// success. Errors: EGone for an unknown binding, EConcurrency, EUnavailable.
	Unbind(ctx context.Context, req broker.UnbindRequest) (broker.UnbindResult, error)
}

// Credential is one accepted pair of HTTP Basic credentials (see basicauth).
type Credential = basicauth.Credential

// APIVersion is an OSB API version, MAJOR.MINOR.
type APIVersion struct {
	Major, Minor int
}

// String returns "MAJOR.MINOR".
func (v APIVersion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

func (v APIVersion) less(w APIVersion) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

// Defaults of Config.
const (
	// DefaultMaxBodyBytes is the body limit when Config.MaxBodyBytes is 0.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultUnavailableRetryAfter is the Retry-After of a 503 when
	// Config.UnavailableRetryAfter is 0.
	DefaultUnavailableRetryAfter = 30 * time.Second
)

// Config configures NewHandler. The zero value of every field but Credentials
// selects a default.
type Config struct {
	// Credentials are the accepted Basic-auth pairs. Several may be valid at once so
	// that a password can be rotated without downtime: add the new pair, move the
	// platform over, remove the old pair. With none, every request is refused with 401.
	// Both fields are compared in constant time against every credential, without
	// stopping at the first match.
	Credentials []Credential
	// MaxBodyBytes limits request bodies; larger ones are refused with 400.
	// Default DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// Logger receives one line per request. Default: discard.
	Logger *slog.Logger
	// NewRequestID makes a request id when X-Broker-API-Request-Identity is absent.
	// Default: a random UUID.
	NewRequestID func() string
	// MinAPIVersion and MaxAPIVersion bound the accepted X-Broker-API-Version.
	// Default 2.13 and 2.17.
	MinAPIVersion APIVersion
	MaxAPIVersion APIVersion
	// MissingVersionStatus answers a request without X-Broker-API-Version (or with an
	// empty one): http.StatusPreconditionFailed (the default) or http.StatusBadRequest.
	MissingVersionStatus int
	// UnavailableRetryAfter is sent as Retry-After with 503 (broker.EUnavailable).
	// Default DefaultUnavailableRetryAfter; rounded up to whole seconds.
	UnavailableRetryAfter time.Duration
	// Now tells the time, for request durations. Default time.Now.
	Now func() time.Time
}

// NewHandler returns the OSB API handler for b. It panics when b is nil or cfg is
// inconsistent (a credential with an empty username or password, MinAPIVersion above
// MaxAPIVersion, a MissingVersionStatus other than 400 or 412): these are
// programming errors of the composition root.
func NewHandler(b Broker, cfg Config) http.Handler {
	if b == nil {
		panic("osb: NewHandler with a nil Broker")
	}
	h := &handler{
		b:            b,
		maxBody:      cfg.MaxBodyBytes,
		logger:       cfg.Logger,
		newRequestID: cfg.NewRequestID,
		minVersion:   cfg.MinAPIVersion,
		maxVersion:   cfg.MaxAPIVersion,
		missingVer:   cfg.MissingVersionStatus,
		now:          cfg.Now,
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.newRequestID == nil {
		h.newRequestID = uuid.NewString
	}
	if h.minVersion == (APIVersion{}) {
		h.minVersion = APIVersion{2, 13}
	}
	if h.maxVersion == (APIVersion{}) {
		h.maxVersion = APIVersion{2, 17}
	}
	if h.maxVersion.less(h.minVersion) {
		panic(fmt.Sprintf("osb: MinAPIVersion %s is above MaxAPIVersion %s", h.minVersion, h.maxVersion))
	}
	switch h.missingVer {
	case 0:
		h.missingVer = http.StatusPreconditionFailed
	case http.StatusPreconditionFailed, http.StatusBadRequest:
	default:
		panic(fmt.Sprintf("osb: MissingVersionStatus %d is neither 400 nor 412", h.missingVer))
	}
	if h.now == nil {
		h.now = time.Now
	}
	retryAfter := cfg.UnavailableRetryAfter
	if retryAfter <= 0 {
		retryAfter = DefaultUnavailableRetryAfter
	}
	h.unavailableRetryAfter = []string{retryAfterSeconds(retryAfter)}
	creds, err := basicauth.NewVerifier(cfg.Credentials)
	if err != nil {
		panic("osb: " + err.Error())
	}
	h.creds = creds
	h.versionHint = fmt.Sprintf("supported versions are %s to %s", h.minVersion, h.maxVersion)
	h.routes()
	return h
}

// handler is the http.Handler that NewHandler returns.
type handler struct {
	b                     Broker
	creds                 *basicauth.Verifier
	maxBody               int64
	logger                *slog.Logger
	newRequestID          func() string
	minVersion            APIVersion
	maxVersion            APIVersion
	missingVer            int
	versionHint           string
	unavailableRetryAfter []string
	now                   func() time.Time

	// The routes, and notFound for every other path.
	notFound, catalogRoute, instanceRoute, instanceLastOpRoute, bindingRoute, bindingLastOpRoute *route
	// catalog is the last rendered catalog, keyed by its ETag.
	catalog atomic.Pointer[renderedCatalog]
	// polls remembers the last answer of every polled resource, for the log.
	polls pollLog
}

// endpoint is one method of one route.
type endpoint struct {
	serve func(x *exchange) (status int, body any, err error)
	// failureFlags copies InstanceUsable and UpdateRepeatable of a *broker.Error into
	// the error body; OSB defines them for failed updates and deprovisions only.
	failureFlags bool
	// poll marks what platforms poll (catalog, last_operation): a repeated answer is
	// logged at DEBUG (see pollLog).
	poll bool
}

// route is one path pattern and its methods.
type route struct {
	pattern string
	methods map[string]endpoint
	allow   []string // the Allow header of a 405
}

// Patterns of the OSB routes.
const (
	patternCatalog              = "/v2/catalog"
	patternInstance             = "/v2/service_instances/{instance_id}"
	patternInstanceLastOp       = "/v2/service_instances/{instance_id}/last_operation"
	patternBinding              = "/v2/service_instances/{instance_id}/service_bindings/{binding_id}"
	patternBindingLastOperation = "/v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation"
)

// routes builds the routing table. Patterns carry no method: each route dispatches on
// the method itself, so that a wrong method gets an OSB JSON body and so that version
// and auth are checked before the route answers 404 or 405.
func (h *handler) routes() {
	h.notFound = &route{}
	h.catalogRoute = &route{pattern: patternCatalog, methods: map[string]endpoint{
		http.MethodGet: {serve: h.getCatalog, poll: true},
	}}
	h.instanceRoute = &route{pattern: patternInstance, methods: map[string]endpoint{
		http.MethodPut:    {serve: h.provision},
		http.MethodGet:    {serve: h.fetchInstance},
		http.MethodPatch:  {serve: h.update, failureFlags: true},
		http.MethodDelete: {serve: h.deprovision, failureFlags: true},
	}}
	h.instanceLastOpRoute = &route{pattern: patternInstanceLastOp, methods: map[string]endpoint{
		http.MethodGet: {serve: h.lastOperation, poll: true},
	}}
	h.bindingRoute = &route{pattern: patternBinding, methods: map[string]endpoint{
		http.MethodPut:    {serve: h.bind},
		http.MethodGet:    {serve: h.fetchBinding},
		http.MethodDelete: {serve: h.unbind},
	}}
	h.bindingLastOpRoute = &route{pattern: patternBindingLastOperation, methods: map[string]endpoint{
		http.MethodGet: {serve: h.lastOperation, poll: true},
	}}
	for _, rt := range []*route{h.catalogRoute, h.instanceRoute, h.instanceLastOpRoute, h.bindingRoute, h.bindingLastOpRoute} {
		methods := make([]string, 0, len(rt.methods))
		for m := range rt.methods {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		rt.allow = []string{strings.Join(methods, ", ")}
	}
}

// ServeHTTP routes the request. A path that is not clean (//, /./, /../) goes to the
// 404 route: http.ServeMux would answer it with a bare redirect, without the OSB
// headers and checks.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isCleanPath(r.URL.Path) {
		h.serve(w, r, h.notFound, "", "")
		return
	}
	rt, instanceID, bindingID := h.match(r.URL.EscapedPath())
	h.serve(w, r, rt, instanceID, bindingID)
}

// match returns the route of a clean escaped path and the ids it holds, as
// http.ServeMux would route the patterns above (and "/" for the rest): segment by
// segment, each unescaped before it is compared or taken as an id, a wildcard
// standing for one non-empty segment and a trailing slash matching no pattern. It is
// the mux's result without its routing tree, its locks and Request.SetPathValue, on
// the path that platforms poll.
func (h *handler) match(p string) (rt *route, instanceID, bindingID string) {
	var seg [6]string
	n := 0
	rest, ok := strings.CutPrefix(p, "/")
	for ok {
		if n == len(seg) {
			return h.notFound, "", ""
		}
		seg[n], rest, ok = strings.Cut(rest, "/")
		if strings.IndexByte(seg[n], '%') >= 0 {
			seg[n] = pathUnescape(seg[n])
		}
		n++
	}
	if n < 2 || seg[0] != "v2" {
		return h.notFound, "", ""
	}
	if n == 2 {
		if seg[1] == "catalog" {
			return h.catalogRoute, "", ""
		}
		return h.notFound, "", ""
	}
	if seg[1] != "service_instances" || seg[2] == "" {
		return h.notFound, "", ""
	}
	switch {
	case n == 3:
		return h.instanceRoute, seg[2], ""
	case n == 4 && seg[3] == "last_operation":
		return h.instanceLastOpRoute, seg[2], ""
	case n >= 5 && seg[3] == "service_bindings" && seg[4] != "":
		switch {
		case n == 5:
			return h.bindingRoute, seg[2], seg[4]
		case n == 6 && seg[5] == "last_operation":
			return h.bindingLastOpRoute, seg[2], seg[4]
		}
	}
	return h.notFound, "", ""
}

// pathUnescape unescapes a path segment as http.ServeMux does: an invalid escape
// leaves the segment as it is.
func pathUnescape(s string) string {
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// isCleanPath reports whether the mux would route p as it is, without redirecting.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' || i+1 == len(p) {
			continue
		}
		rest := p[i+1:]
		switch {
		case rest[0] == '/',
			rest == ".", rest == "..",
			strings.HasPrefix(rest, "./"), strings.HasPrefix(rest, "../"):
			return false
		}
	}
	return true
}
