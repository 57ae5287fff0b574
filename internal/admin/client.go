package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// Client calls the admin HTTP API of a running broker. Its methods are those of
// Service, with the same results and error codes (an *Error carries the code and
// message the broker answered).
type Client struct {
	base       *url.URL
	username   string
	password   string
	httpClient *http.Client
}

// NewClient returns a client of the broker at baseURL (such as http://127.0.0.1:8080)
// with its Basic-auth credentials. hc nil takes an http.Client without a timeout:
// callers bound each call with its context.
func NewClient(baseURL, username, password string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("admin: broker URL %q: want http(s)://host:port", baseURL)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: u, username: username, password: password, httpClient: hc}, nil
}

// URL returns the broker's base URL.
func (c *Client) URL() string { return c.base.String() }

// Catalog is Service.Catalog over HTTP.
func (c *Client) Catalog(ctx context.Context) (broker.Catalog, error) {
	var out broker.Catalog
	return out, c.call(ctx, http.MethodGet, "catalog", nil, nil, &out)
}

// OSBCatalog is Service.OSBCatalog over HTTP.
func (c *Client) OSBCatalog(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.call(ctx, http.MethodGet, "catalog/osb", nil, nil, &out)
}

// Overlay is Service.Overlay over HTTP.
func (c *Client) Overlay(ctx context.Context) (OverlayDocument, error) {
	var out OverlayDocument
	return out, c.call(ctx, http.MethodGet, "overlay", nil, nil, &out)
}

// Rebuild is Service.Rebuild over HTTP; with progress set, the broker streams its
// progress reports.
func (c *Client) Rebuild(ctx context.Context, req RebuildRequest, progress func(Progress)) (RebuildResult, error) {
	var out RebuildResult
	if progress == nil {
		return out, c.call(ctx, http.MethodPost, "catalog/rebuild", nil, req, &out)
	}
	resp, err := c.do(ctx, http.MethodPost, "catalog/rebuild", nil, req, ContentTypeNDJSON)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ContentTypeNDJSON) {
		return out, c.decode(resp, &out)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var line streamLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return out, fmt.Errorf("admin: rebuild: malformed stream line: %w", err)
		}
		switch {
		case line.Progress != nil:
			progress(*line.Progress)
		case line.Error != nil:
			return out, answerError(http.StatusOK, *line.Error)
		case line.Result != nil:
			return *line.Result, nil
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("admin: rebuild: %w", err)
	}
	return out, errors.New("admin: rebuild: the broker ended the stream without a result")
}

// Instances is Service.Instances over HTTP.
func (c *Client) Instances(ctx context.Context, f InstanceFilter) ([]InstanceView, error) {
	q := url.Values{}
	if f.All {
		q.Set("all", "true")
	}
	var out []InstanceView
	return out, c.call(ctx, http.MethodGet, "instances", q, nil, &out)
}

// Instance is Service.Instance over HTTP.
func (c *Client) Instance(ctx context.Context, id string) (InstanceDetail, error) {
	var out InstanceDetail
	return out, c.call(ctx, http.MethodGet, "instances/"+url.PathEscape(id), nil, nil, &out)
}

// Operations is Service.Operations over HTTP.
func (c *Client) Operations(ctx context.Context, f OperationFilter) ([]OperationView, error) {
	q := url.Values{}
	if f.FailedSince > 0 {
		q.Set("failed_since", f.FailedSince.String())
	}
	var out []OperationView
	return out, c.call(ctx, http.MethodGet, "operations", q, nil, &out)
}

// RetryOperation is Service.RetryOperation over HTTP.
func (c *Client) RetryOperation(ctx context.Context, id string) (RetryResult, error) {
	var out RetryResult
	return out, c.call(ctx, http.MethodPost, "operations/"+url.PathEscape(id)+"/retry", nil, nil, &out)
}

// AbandonOperation is Service.AbandonOperation over HTTP.
func (c *Client) AbandonOperation(ctx context.Context, id, reason string) (OperationView, error) {
	var out OperationView
	return out, c.call(ctx, http.MethodPost, "operations/"+url.PathEscape(id)+"/abandon", nil, abandonRequest{Reason: reason}, &out)
}

// Reconcile is Service.Reconcile over HTTP.
func (c *Client) Reconcile(ctx context.Context, req ReconcileRequest) (ReconcileReport, error) {
	var out ReconcileReport
	return out, c.call(ctx, http.MethodPost, "reconcile", nil, req, &out)
}

// call sends a request and decodes the answer into out.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	resp, err := c.do(ctx, method, path, q, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return c.decode(resp, out)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any, accept string) (*http.Response, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + Prefix + path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("admin: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	req.SetBasicAuth(c.username, c.password)
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, &Error{Code: EUnavailable, Message: fmt.Sprintf("cannot reach the broker at %s: %v", c.base, err), Err: err}
	}
	return resp, nil
}

// decode reads a JSON answer into out, or turns an error answer into an error.
func (c *Client) decode(resp *http.Response, out any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("admin: read answer: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("admin: malformed answer from %s: %w", c.base, err)
		}
		return nil
	}
	var body errorBody
	if json.Unmarshal(data, &body) != nil || body.Error == "" {
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("admin: %s has no admin API (404): is it a cfybroker with the operator API?", c.base)
		}
		return fmt.Errorf("admin: %s answered %s", c.base, resp.Status)
	}
	return answerError(resp.StatusCode, body)
}

// answerError turns an error body back into the error the broker met.
func answerError(status int, body errorBody) error {
	switch code := Code(body.Error); code {
	case ENotFound, EInvalid, EConflict, EUnavailable:
		return &Error{Code: code, Message: body.Description, Problems: body.Problems}
	}
	if body.Error == CodeOff {
		return errors.New("admin: " + offMessage)
	}
	if status == http.StatusUnauthorized {
		return errors.New("admin: the broker refused the credentials: give the operator's (--username and --password, or CFYBROKER_ADMIN_USERNAME and CFYBROKER_ADMIN_PASSWORD), not the platform's")
	}
	if body.CorrelationID != "" {
		return fmt.Errorf("admin: the broker failed (correlation id %s; see its log)", body.CorrelationID)
	}
	return fmt.Errorf("admin: the broker answered %d: %s", status, body.Description)
}
