// Package osbclient is the platform side of the Open Service Broker API (v2.17) that the
// Kubernetes controller speaks: every request carries a context, an
// X-Broker-API-Request-Identity, and, when the controller knows who asked, an
// X-Broker-API-Originating-Identity of the kubernetes platform.
//
// Mutating calls always send accepts_incomplete=true. A call answers either a response
// (Async says whether the broker runs the operation in the background) or an error: an
// *HTTPError for any status the route does not define as success, or a transport error
// (wrapped, see Unreached and errors.Is(err, context.DeadlineExceeded)).
//
// The Kubernetes project's OSB client (sigs.k8s.io/go-open-service-broker-client) is used
// by the broker's own tests; the controller needs what it lacks: contexts, the request
// identity header, and the 2.17 version header.
package osbclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// APIVersion is the X-Broker-API-Version the client sends.
const APIVersion = "2.17"

// maxBody bounds what the client reads of a response.
const maxBody = 8 << 20

// Config is how to reach and authenticate to one broker.
type Config struct {
	// URL is the broker's base URL; the OSB routes are under URL + "/v2".
	URL string
	// Username and Password are HTTP Basic credentials (when Token is empty).
	Username, Password string
	// Token is a bearer token.
	Token string
	// CABundle is a PEM bundle of the authorities trusted for the broker's certificate;
	// empty means the system's.
	CABundle []byte
	// InsecureSkipTLSVerify skips the certificate check.
	InsecureSkipTLSVerify bool
	// Timeout bounds each request (default 60 s).
	Timeout time.Duration
}

// Client calls one broker. It is safe for concurrent use.
type Client struct {
	base  string
	http  *http.Client
	basic [2]string
	token string
}

// New returns a client for cfg. It fails on a URL that is not http(s) or a CA bundle
// with no certificate.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("osbclient: broker URL %q is not an http(s) URL", cfg.URL)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipTLSVerify} //nolint:gosec // the operator's choice, from the broker's spec
	if len(cfg.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CABundle) {
			return nil, errors.New("osbclient: caBundle holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 16
	return &Client{
		base:  strings.TrimRight(cfg.URL, "/"),
		http:  &http.Client{Transport: tr, Timeout: timeout},
		basic: [2]string{cfg.Username, cfg.Password},
		token: cfg.Token,
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Identity is the Kubernetes user on whose behalf a request is made.
type Identity struct {
	Username string              `json:"username"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// header is the X-Broker-API-Originating-Identity value of the kubernetes platform.
func (id *Identity) header() string {
	b, _ := json.Marshal(id) // a struct of strings: cannot fail
	return "kubernetes " + base64.StdEncoding.EncodeToString(b)
}

// HTTPError is a broker answer with a status the route does not define as success.
type HTTPError struct {
	// Method and Route say which call it was ("PUT", "/v2/service_instances/:id").
	Method, Route string
	// StatusCode is the HTTP status.
	StatusCode int
	// ErrorCode is the body's "error" (e.g. ConcurrencyError), if any.
	ErrorCode string
	// Description is the body's "description", if any.
	Description string
	// RequestID is the X-Broker-API-Request-Identity the request carried.
	RequestID string
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("broker answered %s %s with %d", e.Method, e.Route, e.StatusCode)
	if e.ErrorCode != "" {
		s += " " + e.ErrorCode
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// StatusOf returns the HTTP status of an *HTTPError in err's chain, or 0.
func StatusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// IsGone reports a 410 (the instance or binding does not exist: a delete is done).
func IsGone(err error) bool { return StatusOf(err) == http.StatusGone }

// IsConcurrencyError reports a 422 ConcurrencyError: another operation runs; try later.
func IsConcurrencyError(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.StatusCode == http.StatusUnprocessableEntity && he.ErrorCode == "ConcurrencyError"
}

// IsServerError reports a 5xx answer.
func IsServerError(err error) bool { return StatusOf(err) >= 500 }

// Unreached reports a transport error that proves the broker did not receive the
// request (refused or unresolvable connection): no orphan can have been made. A timeout
// or a reset after sending is not unreached.
func Unreached(err error) bool {
	if StatusOf(err) != 0 {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// ---------------------------------------------------------------------------------------
// Catalog

// Catalog is GET /v2/catalog.
type Catalog struct {
	Services []Service `json:"services"`
}

// Service is one service of the catalog.
type Service struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	Description          string          `json:"description"`
	Bindable             bool            `json:"bindable"`
	InstancesRetrievable bool            `json:"instances_retrievable,omitempty"`
	BindingsRetrievable  bool            `json:"bindings_retrievable,omitempty"`
	PlanUpdateable       bool            `json:"plan_updateable,omitempty"`
	Tags                 []string        `json:"tags,omitempty"`
	Requires             []string        `json:"requires,omitempty"`
	Metadata             json.RawMessage `json:"metadata,omitempty"`
	Plans                []Plan          `json:"plans"`
}

// Plan is one plan of a service.
type Plan struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Free        *bool           `json:"free,omitempty"`
	Bindable    *bool           `json:"bindable,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Schemas     *Schemas        `json:"schemas,omitempty"`
}

// Schemas are a plan's parameter schemas.
type Schemas struct {
	ServiceInstance struct {
		Create *SchemaParameters `json:"create,omitempty"`
		Update *SchemaParameters `json:"update,omitempty"`
	} `json:"service_instance"`
	ServiceBinding struct {
		Create *SchemaParameters `json:"create,omitempty"`
	} `json:"service_binding"`
}

// SchemaParameters holds one JSON Schema.
type SchemaParameters struct {
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// Catalog fetches the broker's catalog. A catalog without services' ids, names or
// plans is an error.
func (c *Client) Catalog(ctx context.Context) (*Catalog, error) {
	var cat Catalog
	if _, err := c.do(ctx, http.MethodGet, "/v2/catalog", "/v2/catalog", nil, nil, nil, okStatus(200), &cat); err != nil {
		return nil, err
	}
	for i, s := range cat.Services {
		if s.ID == "" || s.Name == "" || len(s.Plans) == 0 {
			return nil, fmt.Errorf("osbclient: catalog service %d has no id, name or plans", i)
		}
		for j, p := range s.Plans {
			if p.ID == "" || p.Name == "" {
				return nil, fmt.Errorf("osbclient: catalog service %q plan %d has no id or name", s.Name, j)
			}
		}
	}
	return &cat, nil
}

// ---------------------------------------------------------------------------------------
// Instances

// ProvisionRequest is the body of a provision.
type ProvisionRequest struct {
	ServiceID        string         `json:"service_id"`
	PlanID           string         `json:"plan_id"`
	OrganizationGUID string         `json:"organization_guid"`
	SpaceGUID        string         `json:"space_guid"`
	Context          map[string]any `json:"context,omitempty"`
	Parameters       map[string]any `json:"parameters,omitempty"`
}

// UpdateRequest is the body of an update.
type UpdateRequest struct {
	ServiceID      string          `json:"service_id"`
	PlanID         string          `json:"plan_id,omitempty"`
	Context        map[string]any  `json:"context,omitempty"`
	Parameters     map[string]any  `json:"parameters,omitempty"`
	PreviousValues *PreviousValues `json:"previous_values,omitempty"`
}

// PreviousValues are an update's previous plan.
type PreviousValues struct {
	PlanID    string `json:"plan_id,omitempty"`
	ServiceID string `json:"service_id,omitempty"`
}

// Response is the answer to a mutating call.
type Response struct {
	// Async is true for 202: poll last_operation with Operation.
	Async bool
	// Operation is the broker's operation value (async only, may be empty).
	Operation string
	// DashboardURL is the instance's dashboard, when the broker sent one.
	DashboardURL *string
	// Credentials are a synchronous bind's credentials.
	Credentials map[string]any
	// StatusCode is the HTTP status.
	StatusCode int
}

type mutatingBody struct {
	Operation    string         `json:"operation,omitempty"`
	DashboardURL *string        `json:"dashboard_url,omitempty"`
	Credentials  map[string]any `json:"credentials,omitempty"`
}

func (c *Client) mutate(ctx context.Context, method, path, route string, q url.Values, body any, id *Identity, ok func(int) bool) (*Response, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("accepts_incomplete", "true")
	var b mutatingBody
	status, err := c.do(ctx, method, path, route, q, body, id, ok, &b)
	if err != nil {
		return nil, err
	}
	return &Response{Async: status == http.StatusAccepted, Operation: b.Operation, DashboardURL: b.DashboardURL, Credentials: b.Credentials, StatusCode: status}, nil
}

// Provision is PUT /v2/service_instances/:instance_id.
func (c *Client) Provision(ctx context.Context, instanceID string, r *ProvisionRequest, id *Identity) (*Response, error) {
	return c.mutate(ctx, http.MethodPut, "/v2/service_instances/"+url.PathEscape(instanceID), "/v2/service_instances/:instance_id",
		nil, r, id, okStatus(200, 201, 202))
}

// Update is PATCH /v2/service_instances/:instance_id.
func (c *Client) Update(ctx context.Context, instanceID string, r *UpdateRequest, id *Identity) (*Response, error) {
	return c.mutate(ctx, http.MethodPatch, "/v2/service_instances/"+url.PathEscape(instanceID), "/v2/service_instances/:instance_id",
		nil, r, id, okStatus(200, 202))
}

// Deprovision is DELETE /v2/service_instances/:instance_id. A 410 is an *HTTPError
// (IsGone): the instance is already gone.
func (c *Client) Deprovision(ctx context.Context, instanceID, serviceID, planID string, id *Identity) (*Response, error) {
	q := url.Values{"service_id": {serviceID}, "plan_id": {planID}}
	return c.mutate(ctx, http.MethodDelete, "/v2/service_instances/"+url.PathEscape(instanceID), "/v2/service_instances/:instance_id",
		q, nil, id, okStatus(200, 202))
}

// LastOperationRequest names the operation to poll.
type LastOperationRequest struct {
	ServiceID, PlanID, Operation string
}

// LastOperation is a last_operation answer.
type LastOperation struct {
	// State is "in progress", "succeeded" or "failed".
	State string `json:"state"`
	// Description is the broker's sentence about the operation.
	Description string `json:"description,omitempty"`
	// InstanceUsable is the broker's word on a failed update or deprovision.
	InstanceUsable *bool `json:"instance_usable,omitempty"`
	// RetryAfter is the broker's Retry-After, or 0.
	RetryAfter time.Duration `json:"-"`
}

// The last_operation states.
const (
	StateInProgress = "in progress"
	StateSucceeded  = "succeeded"
	StateFailed     = "failed"
)

// InstanceLastOperation is GET /v2/service_instances/:instance_id/last_operation. A 410
// (IsGone) ends a deprovision.
func (c *Client) InstanceLastOperation(ctx context.Context, instanceID string, r LastOperationRequest) (*LastOperation, error) {
	return c.lastOperation(ctx, "/v2/service_instances/"+url.PathEscape(instanceID)+"/last_operation",
		"/v2/service_instances/:instance_id/last_operation", r)
}

// BindingLastOperation is GET …/service_bindings/:binding_id/last_operation.
func (c *Client) BindingLastOperation(ctx context.Context, instanceID, bindingID string, r LastOperationRequest) (*LastOperation, error) {
	return c.lastOperation(ctx, "/v2/service_instances/"+url.PathEscape(instanceID)+"/service_bindings/"+url.PathEscape(bindingID)+"/last_operation",
		"/v2/service_instances/:instance_id/service_bindings/:binding_id/last_operation", r)
}

func (c *Client) lastOperation(ctx context.Context, path, route string, r LastOperationRequest) (*LastOperation, error) {
	q := url.Values{}
	if r.ServiceID != "" {
		q.Set("service_id", r.ServiceID)
	}
	if r.PlanID != "" {
		q.Set("plan_id", r.PlanID)
	}
	if r.Operation != "" {
		q.Set("operation", r.Operation)
	}
	var lo LastOperation
	hdr := http.Header{}
	if _, err := c.doHeader(ctx, http.MethodGet, path, route, q, nil, nil, okStatus(200), &lo, hdr); err != nil {
		return nil, err
	}
	switch lo.State {
	case StateInProgress, StateSucceeded, StateFailed:
	default:
		return nil, fmt.Errorf("osbclient: last_operation state %q is none of in progress, succeeded, failed", lo.State)
	}
	lo.RetryAfter = parseRetryAfter(hdr.Get("Retry-After"), time.Now())
	return &lo, nil
}

// parseRetryAfter reads seconds or an HTTP date; anything else is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ---------------------------------------------------------------------------------------
// Bindings

// BindRequest is the body of a bind.
type BindRequest struct {
	ServiceID  string         `json:"service_id"`
	PlanID     string         `json:"plan_id"`
	Context    map[string]any `json:"context,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// Bind is PUT …/service_bindings/:binding_id.
func (c *Client) Bind(ctx context.Context, instanceID, bindingID string, r *BindRequest, id *Identity) (*Response, error) {
	return c.mutate(ctx, http.MethodPut, "/v2/service_instances/"+url.PathEscape(instanceID)+"/service_bindings/"+url.PathEscape(bindingID),
		"/v2/service_instances/:instance_id/service_bindings/:binding_id", nil, r, id, okStatus(200, 201, 202))
}

// Unbind is DELETE …/service_bindings/:binding_id. A 410 is IsGone: already unbound.
func (c *Client) Unbind(ctx context.Context, instanceID, bindingID, serviceID, planID string, id *Identity) (*Response, error) {
	q := url.Values{"service_id": {serviceID}, "plan_id": {planID}}
	return c.mutate(ctx, http.MethodDelete, "/v2/service_instances/"+url.PathEscape(instanceID)+"/service_bindings/"+url.PathEscape(bindingID),
		"/v2/service_instances/:instance_id/service_bindings/:binding_id", q, nil, id, okStatus(200, 202))
}

// GetBinding is GET …/service_bindings/:binding_id: the credentials of a binding made
// asynchronously.
func (c *Client) GetBinding(ctx context.Context, instanceID, bindingID string) (map[string]any, error) {
	var b struct {
		Credentials map[string]any `json:"credentials"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v2/service_instances/"+url.PathEscape(instanceID)+"/service_bindings/"+url.PathEscape(bindingID),
		"/v2/service_instances/:instance_id/service_bindings/:binding_id", nil, nil, nil, okStatus(200), &b); err != nil {
		return nil, err
	}
	return b.Credentials, nil
}

// ---------------------------------------------------------------------------------------
// Transport

func okStatus(codes ...int) func(int) bool {
	return func(s int) bool {
		for _, c := range codes {
			if s == c {
				return true
			}
		}
		return false
	}
}

func (c *Client) do(ctx context.Context, method, path, route string, q url.Values, body any, id *Identity, ok func(int) bool, out any) (int, error) {
	return c.doHeader(ctx, method, path, route, q, body, id, ok, out, nil)
}

// doHeader sends one request and decodes a successful answer into out; respHeader, when
// not nil, receives the response's headers.
func (c *Client) doHeader(ctx context.Context, method, path, route string, q url.Values, body any, id *Identity, ok func(int) bool, out any, respHeader http.Header) (int, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("osbclient: encode %s %s: %w", method, route, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, fmt.Errorf("osbclient: %s %s: %w", method, route, err)
	}
	reqID := uuid.NewString()
	req.Header.Set("X-Broker-API-Version", APIVersion)
	req.Header.Set("X-Broker-API-Request-Identity", reqID)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id != nil && id.Username != "" {
		req.Header.Set("X-Broker-API-Originating-Identity", id.header())
	}
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.basic[0] != "" || c.basic[1] != "":
		req.SetBasicAuth(c.basic[0], c.basic[1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL carries no secret (query: ids only); keep the error's cause.
		return 0, fmt.Errorf("osbclient: %s %s (request %s): %w", method, route, reqID, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, fmt.Errorf("osbclient: read %s %s (request %s): %w", method, route, reqID, err)
	}
	if respHeader != nil {
		for k, v := range resp.Header {
			respHeader[k] = v
		}
	}
	if !ok(resp.StatusCode) {
		he := &HTTPError{Method: method, Route: route, StatusCode: resp.StatusCode, RequestID: reqID}
		var eb struct {
			Error       string `json:"error"`
			Description string `json:"description"`
		}
		if json.Unmarshal(data, &eb) == nil {
			he.ErrorCode, he.Description = eb.Error, truncate(eb.Description, 1024)
		}
		return resp.StatusCode, he
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("osbclient: %s %s answered %d with a body that is not the expected JSON (request %s): %w",
				method, route, resp.StatusCode, reqID, err)
		}
	}
	return resp.StatusCode, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
