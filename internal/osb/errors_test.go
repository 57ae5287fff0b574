package osb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/osb"
)

// failingBroker fails every route with err.
func failingBroker(err error) *fakeBroker {
	return &fakeBroker{
		CatalogFn: func(context.Context) (broker.Catalog, error) { return broker.Catalog{}, err },
		ProvisionFn: func(context.Context, broker.ProvisionRequest) (broker.ProvisionResult, error) {
			return broker.ProvisionResult{}, err
		},
		UpdateFn: func(context.Context, broker.UpdateRequest) (broker.UpdateResult, error) {
			return broker.UpdateResult{}, err
		},
		DeprovisionFn: func(context.Context, broker.DeprovisionRequest) (broker.DeprovisionResult, error) {
			return broker.DeprovisionResult{}, err
		},
		LastOperationFn: func(context.Context, broker.LastOperationRequest) (broker.LastOperation, error) {
			return broker.LastOperation{}, err
		},
		FetchInstanceFn: func(context.Context, broker.FetchInstanceRequest) (broker.InstanceDetails, error) {
			return broker.InstanceDetails{}, err
		},
		BindFn: func(context.Context, broker.BindRequest) (broker.BindResult, error) {
			return broker.BindResult{}, err
		},
		FetchBindingFn: func(context.Context, broker.FetchBindingRequest) (broker.BindingDetails, error) {
			return broker.BindingDetails{}, err
		},
		UnbindFn: func(context.Context, broker.UnbindRequest) (broker.UnbindResult, error) {
			return broker.UnbindResult{}, err
		},
	}
}

func TestBrokerErrors(t *testing.T) {
	flags := func(e *broker.Error) *broker.Error {
		e.InstanceUsable, e.UpdateRepeatable = ptr(true), ptr(false)
		return e
	}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
		// wantFlagsBody is the body on update and deprovision ("" = same as wantBody).
		wantFlagsBody  string
		wantRetryAfter string
	}{
		{
			name: "invalid", err: broker.Errorf(broker.EInvalid, "plan %q does not belong to service %q", "p", "s"),
			wantStatus: 400, wantBody: `{"description":"plan \"p\" does not belong to service \"s\""}`,
		},
		{
			name: "not found", err: broker.Errorf(broker.ENotFound, "instance inst-1 does not exist"),
			wantStatus: 404, wantBody: `{"description":"instance inst-1 does not exist"}`,
		},
		{
			name: "gone", err: broker.Errorf(broker.EGone, "instance inst-1 does not exist"),
			wantStatus: 410, wantBody: `{}`,
		},
		{
			name: "conflict", err: broker.Errorf(broker.EConflict, "instance inst-1 exists with other attributes"),
			wantStatus: 409, wantBody: `{"description":"instance inst-1 exists with other attributes"}`,
		},
		{
			name: "conflict without message", err: &broker.Error{Code: broker.EConflict},
			wantStatus: 409, wantBody: `{}`,
		},
		{
			name: "async required", err: broker.Errorf(broker.EAsyncRequired, "ignored"),
			wantStatus: 422,
			wantBody:   `{"error":"AsyncRequired","description":"This service plan requires client support for asynchronous service operations."}`,
		},
		{
			name: "concurrency", err: broker.Errorf(broker.EConcurrency, "ignored"),
			wantStatus: 422,
			wantBody:   `{"error":"ConcurrencyError","description":"The Service Broker does not support concurrent requests that mutate the same resource."}`,
		},
		{
			name: "maintenance info conflict", err: broker.Errorf(broker.EMaintenanceInfoConflict, "maintenance_info.version 1.0.0 is not the catalog's 1.2.0"),
			wantStatus: 422,
			wantBody:   `{"error":"MaintenanceInfoConflict","description":"maintenance_info.version 1.0.0 is not the catalog's 1.2.0"}`,
		},
		{
			name: "maintenance info conflict without message", err: &broker.Error{Code: broker.EMaintenanceInfoConflict},
			wantStatus: 422,
			wantBody:   `{"error":"MaintenanceInfoConflict","description":"The maintenance_info.version field provided in the request does not match the maintenance_info.version field provided in the Service Broker's catalog."}`,
		},
		{
			name: "requires app", err: broker.Errorf(broker.ERequiresApp, "this plan binds applications only"),
			wantStatus: 422, wantBody: `{"error":"RequiresApp","description":"this plan binds applications only"}`,
		},
		{
			name: "unprocessable", err: broker.Errorf(broker.EUnprocessable, "plan plan-1 is not updateable"),
			wantStatus: 422, wantBody: `{"description":"plan plan-1 is not updateable"}`,
		},
		{
			name: "unavailable", err: broker.Errorf(broker.EUnavailable, "the Cloudify manager cannot be reached"),
			wantStatus: 503, wantBody: `{"description":"the Cloudify manager cannot be reached"}`, wantRetryAfter: "30",
		},
		{
			name: "wrapped", err: fmt.Errorf("broker: provision: %w", broker.Errorf(broker.EConflict, "exists")),
			wantStatus: 409, wantBody: `{"description":"exists"}`,
		},
		{
			name: "flags", err: flags(broker.Errorf(broker.EUnprocessable, "quota exceeded")),
			wantStatus: 422, wantBody: `{"description":"quota exceeded"}`,
			wantFlagsBody: `{"description":"quota exceeded","instance_usable":true,"update_repeatable":false}`,
		},
		{
			name: "flags on async required", err: flags(broker.Errorf(broker.EAsyncRequired, "")),
			wantStatus: 422,
			wantBody:   `{"error":"AsyncRequired","description":"This service plan requires client support for asynchronous service operations."}`,
			wantFlagsBody: `{"error":"AsyncRequired","description":"This service plan requires client support for asynchronous service operations.",` +
				`"instance_usable":true,"update_repeatable":false}`,
		},
		{
			name: "gone with flags", err: flags(broker.Errorf(broker.EGone, "gone")),
			wantStatus: 410, wantBody: `{}`, wantFlagsBody: `{"instance_usable":true,"update_repeatable":false}`,
		},
	}
	for _, tt := range tests {
		h := newHandler(t, failingBroker(tt.err))
		for _, rt := range allRoutes {
			t.Run(tt.name+"/"+rt.name, func(t *testing.T) {
				w := do(t, h, rt.method, rt.target, rt.body)
				want := tt.wantBody
				if tt.wantFlagsBody != "" && (rt.name == "update" || rt.name == "deprovision") {
					want = tt.wantFlagsBody
				}
				assertResponse(t, w, tt.wantStatus, want)
				if got := w.Header().Get("Retry-After"); got != tt.wantRetryAfter {
					t.Errorf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
				}
			})
		}
	}
}

func TestUnavailableRetryAfterConfigurable(t *testing.T) {
	cfg := testConfig(nil)
	cfg.UnavailableRetryAfter = 2500 * time.Millisecond
	h := osb.NewHandler(failingBroker(broker.Errorf(broker.EUnavailable, "down")), cfg)
	w := do(t, h, http.MethodGet, "/v2/catalog", "")
	if got := w.Header().Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want 3", got)
	}
}

func TestInternalErrors(t *testing.T) {
	const secret = "pq: password authentication failed for user cfy at 10.1.2.3"
	tests := []struct {
		name string
		err  error
	}{
		{"plain error", errors.New(secret)},
		{"wrapped plain error", fmt.Errorf("store: get instance: %w", errors.New(secret))},
		{"unknown code", &broker.Error{Code: "mystery", Message: secret}},
		{"empty code", &broker.Error{Message: secret}},
		{"context canceled", fmt.Errorf("%s: %w", secret, context.Canceled)},
	}
	for _, tt := range tests {
		for _, rt := range allRoutes {
			t.Run(tt.name+"/"+rt.name, func(t *testing.T) {
				var logs bytes.Buffer
				h := osb.NewHandler(failingBroker(tt.err), testConfig(&logs))
				w := do(t, h, rt.method, rt.target, rt.body, withHeader("X-Broker-API-Request-Identity", testRequestID))
				assertResponse(t, w, http.StatusInternalServerError, `{"description":"internal error, correlation id `+testRequestID+`"}`)
				if strings.Contains(w.Body.String(), "password") || strings.Contains(w.Body.String(), "10.1.2.3") {
					t.Errorf("the 500 body shows the error: %s", w.Body.Bytes())
				}
				if got := w.Header().Get("X-Broker-API-Request-Identity"); got != testRequestID {
					t.Errorf("request id = %q, want %q", got, testRequestID)
				}
				log := logs.String()
				if !strings.Contains(log, secret) || !strings.Contains(log, `"request_id":"`+testRequestID+`"`) {
					t.Errorf("the error is not logged with the request id:\n%s", log)
				}
			})
		}
	}
}

// TestGeneratedIDIsCorrelationID checks that a generated request id is the one the 500
// body names.
func TestGeneratedIDIsCorrelationID(t *testing.T) {
	h := newHandler(t, failingBroker(errors.New("boom")))
	w := do(t, h, http.MethodGet, "/v2/catalog", "")
	assertResponse(t, w, http.StatusInternalServerError, `{"description":"internal error, correlation id `+generatedID+`"}`)
	if got := w.Header().Get("X-Broker-API-Request-Identity"); got != generatedID {
		t.Errorf("request id = %q, want %q", got, generatedID)
	}
}
