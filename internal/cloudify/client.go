package cloudify

import (
	"bytes"
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
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIPrefix is the path prefix of every call the client makes.
const APIPrefix = "/api/v3.1"

// DefaultTenant is the tenant sent in the Tenant header unless WithTenant is
// used. It is the manager's built-in tenant.
const DefaultTenant = "default_tenant"

// DefaultPageSize is the _size requested per page when ListOptions.PageSize is
// zero. It equals the manager's default_page_size.
const DefaultPageSize = 1000

// DefaultUserAgent is the User-Agent header sent unless WithUserAgent is used.
const DefaultUserAgent = "cfybroker-cloudify-client"

// Timeouts of the default HTTP client. PUT /deployments/{id} may block for up
// to 120 s on 6.2+ managers, so the response header timeout is well above it.
const (
	// DefaultDialTimeout bounds establishing a TCP connection.
	DefaultDialTimeout = 10 * time.Second
	// DefaultResponseHeaderTimeout bounds the wait for the response headers
	// once the request has been written (the "read timeout").
	DefaultResponseHeaderTimeout = 180 * time.Second
	// DefaultRequestTimeout bounds a whole request, body included.
	DefaultRequestTimeout = 300 * time.Second
)

// Bodies of error responses are read up to this many bytes.
const maxErrorBody = 1 << 20

// Client talks to one Cloudify manager on behalf of one tenant. A Client is
// safe for concurrent use by several goroutines.
type Client struct {
	base      string // scheme://host[/prefix]/api/v3.1, no trailing slash
	hc        *http.Client
	username  string
	password  string
	basicAuth bool
	token     string
	tenant    string
	userAgent string
	// fixedVersion, when set, replaces GET /version for choosing behaviour.
	fixedVersion string
	// onAPIError, when set, sees every *APIError before it is returned.
	onAPIError func(*APIError)
	// caBundle, when set, is PEM that New adds to the trusted roots (WithCABundle).
	caBundle []byte
	// callTimeout and callReserve bound each call (see WithCallTimeout).
	callTimeout, callReserve time.Duration

	mu      sync.Mutex
	version *VersionInfo // cached after the first successful GET /version
}

// Option configures a Client in New.
type Option func(*Client)

// WithBasicAuth makes the client send "Authorization: Basic ..." with the given
// credentials on every request. It is ignored for requests when WithToken is
// also given.
func WithBasicAuth(username, password string) Option {
	return func(c *Client) {
		c.username, c.password, c.basicAuth = username, password, true
	}
}

// WithToken makes the client send "Authentication-Token: <token>" instead of
// Basic auth. Both token formats work: the opaque tokens of 4.x–6.3 and the
// "ctok-<id>-<secret>" tokens of 6.4+.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithCredentials authenticates with token when it is set (WithToken), else with the
// username and password (WithBasicAuth): the choice every composition root makes from
// its configuration.
func WithCredentials(username, password, token string) Option {
	if token != "" {
		return WithToken(token)
	}
	return WithBasicAuth(username, password)
}

// WithTenant sets the value of the Tenant header. The default is
// DefaultTenant ("default_tenant").
func WithTenant(tenant string) Option {
	return func(c *Client) { c.tenant = tenant }
}

// WithHTTPClient replaces the default HTTP client. The caller is then
// responsible for its timeouts: the read timeout must exceed 120 s for
// synchronous deployment creation on 6.2+ managers. A nil client is ignored.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithManagerVersion sets the manager version (for example "6.3" or "7.0.4")
// used to choose release-dependent behaviour, so that the client does not call
// GET /version for that purpose. Client.Version still asks the manager.
func WithManagerVersion(v string) Option {
	return func(c *Client) { c.fixedVersion = strings.TrimSpace(v) }
}

// WithAPIErrorHook makes the client call hook with every *APIError it is about to
// return (a non-2xx answer), for metrics. The hook runs on the caller's goroutine,
// must be quick and must not keep or change the error. Transport errors are not
// APIErrors and are not passed. A nil hook is ignored.
func WithAPIErrorHook(hook func(*APIError)) Option {
	return func(c *Client) { c.onAPIError = hook }
}

// WithCABundle makes the client trust, besides the system's roots, the
// certificates in pem (one or more PEM "CERTIFICATE" blocks): the CA of a manager
// whose certificate a private CA issued. New applies it to the HTTP client in use
// (the default one, or a copy of the one WithHTTPClient gave, whose transport must
// then be an *http.Transport; the caller's client is left unchanged). New fails
// when pem holds no certificate. Empty pem is ignored.
func WithCABundle(pem []byte) Option {
	return func(c *Client) { c.caBundle = pem }
}

// WithCallTimeout bounds every call: it ends after timeout, or reserve before the
// deadline of the caller's context, whichever comes first, so that a manager that
// hangs gives the caller a clean error while it still has reserve to record it and
// answer (a Lambda function before its invocation timeout, a step before the
// runner's). A call ended so returns a transient error (IsTransient) that says no
// answer came in time; a call ended by the caller's own context stays a caller error.
// timeout 0 leaves calls to the caller's context and the HTTP client's timeouts.
func WithCallTimeout(timeout, reserve time.Duration) Option {
	return func(c *Client) { c.callTimeout, c.callReserve = timeout, max(reserve, 0) }
}

// errNoAnswer marks a call that WithCallTimeout ended.
var errNoAnswer = errors.New("no answer in time")

// IsNoAnswer reports whether err is a call that WithCallTimeout ended: the manager
// did not answer in time (a transient error).
func IsNoAnswer(err error) bool { return errors.Is(err, errNoAnswer) }

// callContext derives the context of one call (see WithCallTimeout).
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.callTimeout <= 0 {
		return ctx, func() {}
	}
	d := c.callTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)-c.callReserve)
	}
	return context.WithTimeoutCause(ctx, max(d, 0), errNoAnswer)
}

// WithUserAgent sets the User-Agent header. The default is DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client for the manager at baseURL, for example
// "https://manager" or "https://manager/api/v3.1"; the "/api/v3.1" suffix is
// optional and is added to every call. baseURL must be an absolute http or
// https URL without credentials, query or fragment; use WithBasicAuth or
// WithToken for credentials.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		// url.Parse errors quote the input, which may carry credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cloudify: invalid base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("cloudify: invalid base URL: scheme must be http or https, not %q", u.Scheme)
	case u.Host == "":
		return nil, errors.New("cloudify: invalid base URL: no host")
	case u.User != nil:
		return nil, errors.New("cloudify: invalid base URL: credentials in the URL are not supported, use WithBasicAuth")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, errors.New("cloudify: invalid base URL: query and fragment are not allowed")
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, APIPrefix)
	u.Path = strings.TrimRight(p, "/")
	u.RawPath = ""

	c := &Client{
		base:      u.Scheme + "://" + u.Host + u.EscapedPath() + APIPrefix,
		hc:        defaultHTTPClient(),
		tenant:    DefaultTenant,
		userAgent: DefaultUserAgent,
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if len(c.caBundle) > 0 {
		hc, err := withRootCAs(c.hc, c.caBundle)
		if err != nil {
			return nil, fmt.Errorf("cloudify: CA bundle: %w", err)
		}
		c.hc = hc
	}
	return c, nil
}

// withRootCAs returns a copy of hc whose transport trusts the system's roots and
// the certificates in pem.
func withRootCAs(hc *http.Client, pem []byte) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate found")
	}
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		dt, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return nil, errors.New("the default transport is not an *http.Transport")
		}
		tr = dt.Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("cannot add roots to a transport of type %T", hc.Transport)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.RootCAs = pool
	cp := *hc
	cp.Transport = tr
	return &cp, nil
}

// BaseURL returns the URL every path is appended to; it ends in "/api/v3.1".
func (c *Client) BaseURL() string { return c.base }

// Tenant returns the value sent in the Tenant header.
func (c *Client) Tenant() string { return c.tenant }

func defaultHTTPClient() *http.Client {
	var tr *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	tr.DialContext = (&net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = DefaultDialTimeout
	tr.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	return &http.Client{Transport: tr, Timeout: DefaultRequestTimeout}
}

// request describes one call to the manager.
type request struct {
	op     string     // client method name, for error messages
	method string     // HTTP method
	path   string     // escaped path below /api/v3.1, starting with "/"
	query  url.Values // may be nil
	body   any        // JSON-encoded when non-nil
	out    any        // decoded from a 2xx body when non-nil
}

// callerContextError marks a transport error caused by the caller's context
// ending; IsTransient reports false for it.
type callerContextError struct{ err error }

// Error returns the underlying transport error's text.
func (e *callerContextError) Error() string { return e.err.Error() }

// Unwrap returns the underlying transport error.
func (e *callerContextError) Unwrap() error { return e.err }

// do is the one function that sends requests. It returns the HTTP status of
// the answer. A non-2xx answer gives *APIError; a transport error is wrapped
// with the method name.
func (c *Client) do(ctx context.Context, r request) (int, error) {
	var body io.Reader
	if r.body != nil {
		payload, err := json.Marshal(r.body)
		if err != nil {
			return 0, fmt.Errorf("cloudify: %s: encoding request body: %w", r.op, err)
		}
		body = bytes.NewReader(payload)
	}
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	callCtx, cancel := c.callContext(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, r.method, target, body)
	if err != nil {
		return 0, fmt.Errorf("cloudify: %s: building request: %w", r.op, err)
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		// Exact value: the manager compares the whole header and answers 415
		// to "application/json; charset=utf-8".
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tenant != "" {
		req.Header.Set("Tenant", c.tenant)
	}
	switch {
	case c.token != "":
		req.Header.Set("Authentication-Token", c.token)
	case c.basicAuth:
		req.SetBasicAuth(c.username, c.password)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, c.transportError(ctx, callCtx, r.op, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		apiErr := newAPIError(r.op, resp.StatusCode, raw)
		if c.onAPIError != nil {
			c.onAPIError(apiErr)
		}
		return resp.StatusCode, apiErr
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, c.transportError(ctx, callCtx, r.op, fmt.Errorf("reading response body: %w", err))
	}
	if r.out == nil {
		return resp.StatusCode, nil
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp.StatusCode, fmt.Errorf("cloudify: %s: %s %s answered %d with an empty body", r.op, r.method, APIPrefix+r.path, resp.StatusCode)
	}
	if err := json.Unmarshal(raw, r.out); err != nil {
		return resp.StatusCode, fmt.Errorf("cloudify: %s: decoding %d response (%s): %w", r.op, resp.StatusCode, snippet(raw, 200), err)
	}
	return resp.StatusCode, nil
}

// transportError wraps a transport error: a caller's context that ended makes it a
// callerContextError; a call that WithCallTimeout ended says so and stays transient.
func (c *Client) transportError(ctx, callCtx context.Context, op string, err error) error {
	switch {
	case ctx.Err() != nil:
		err = &callerContextError{err: err}
	case errors.Is(context.Cause(callCtx), errNoAnswer):
		return fmt.Errorf("cloudify: %s: %w within the call timeout: %w", op, errNoAnswer, err)
	}
	return fmt.Errorf("cloudify: %s: %w", op, err)
}

// snippet returns the first n characters of b with runs of whitespace
// collapsed to one space.
func snippet(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n])
	}
	return s
}

// escapePath joins the segments into a path below /api/v3.1, escaping each.
func escapePath(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// needID returns an error when id is empty, so that a call never silently
// turns into a list request.
func needID(op, what, id string) error {
	if id == "" {
		return fmt.Errorf("cloudify: %s: empty %s", op, what)
	}
	return nil
}

func includeQuery(include []string) url.Values {
	if len(include) == 0 {
		return nil
	}
	return url.Values{"_include": {strings.Join(include, ",")}}
}

func formatBool(b bool) string { return strconv.FormatBool(b) }

// Version returns the manager's version, from GET /api/v3.1/version. The first
// successful answer is cached for the life of the Client; failures are not
// cached. Errors: *APIError for a non-2xx answer, a wrapped transport error
// otherwise.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	c.mu.Lock()
	if c.version != nil {
		v := *c.version
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()

	var v VersionInfo
	if _, err := c.do(ctx, request{op: "Version", method: http.MethodGet, path: "/version", out: &v}); err != nil {
		return VersionInfo{}, err
	}
	c.mu.Lock()
	c.version = &v
	c.mu.Unlock()
	return v, nil
}

// Status returns the manager's health, from GET /api/v3.1/status. Errors:
// *APIError for a non-2xx answer, a wrapped transport error otherwise.
func (c *Client) Status(ctx context.Context) (ManagerStatus, error) {
	var s ManagerStatus
	if _, err := c.do(ctx, request{op: "Status", method: http.MethodGet, path: "/status", out: &s}); err != nil {
		return ManagerStatus{}, err
	}
	return s, nil
}

// managerVersion returns the version used to choose behaviour: the one given
// with WithManagerVersion, else the cached GET /version answer. known is false
// when the version cannot be determined (an unparsable version string, or a
// non-transient error answer from GET /version). Transport errors, transient
// answers and the caller's context ending are returned as errors.
func (c *Client) managerVersion(ctx context.Context) (v ManagerVersion, known bool, err error) {
	s := c.fixedVersion
	if s == "" {
		vi, err := c.Version(ctx)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && !IsTransient(err) {
				return ManagerVersion{}, false, nil
			}
			return ManagerVersion{}, false, err
		}
		s = vi.Version
	}
	v, ok := ParseManagerVersion(s)
	return v, ok, nil
}
