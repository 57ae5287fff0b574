package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/google/go-cmp/cmp"
)

// TestCatalog: the published catalog is read from broker state and reused for the
// CatalogTTL; before the first sync it is empty; a read fault is returned matching
// its cause and not remembered.
func TestCatalog(t *testing.T) {
	e := newEnv(t)
	reads := 0
	var readErr error
	e.catalog.GetCatalogFn = func(context.Context) (broker.Catalog, error) {
		reads++
		if readErr != nil {
			return broker.Catalog{}, readErr
		}
		return testCatalog(), nil
	}
	ctx := context.Background()
	for _, at := range []time.Duration{0, 4 * time.Second} {
		e.now = t0.Add(at)
		c, err := e.uc.Catalog(ctx)
		if err != nil || c.ETag != "etag-1" {
			t.Fatalf("at %s: catalog %q, %v", at, c.ETag, err)
		}
	}
	if reads != 1 {
		t.Errorf("%d reads within the TTL, want 1", reads)
	}
	boom := errors.New("boom")
	readErr = boom
	e.now = t0.Add(5 * time.Second)
	_, err := e.uc.Catalog(ctx)
	wantFault(t, err, boom)
	readErr = broker.ErrNotFound
	c, err := e.uc.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(broker.Catalog{Services: []broker.Service{}, ETag: "empty"}, c); diff != "" {
		t.Errorf("catalog before the first sync (-want +got)\n%s", diff)
	}
	if reads != 3 {
		t.Errorf("%d reads, want 3 (a fault is not remembered)", reads)
	}
}

// TestNewDefaults: with a zero Config, operation ids are the type and a UUID, and no
// dashboard_url is given.
func TestNewDefaults(t *testing.T) {
	e := newEnv(t)
	uc := broker.New(e.store, e.catalog, e.starter, e.creds, e.sealer, broker.Config{})
	res, err := uc.Provision(context.Background(), provisionRequest())
	if err != nil {
		t.Fatal(err)
	}
	id, ok := strings.CutPrefix(res.Operation, "provision-")
	if !ok || len(id) != 36 || res.DashboardURL != "" {
		t.Errorf("result %+v, want a provision-<uuid> operation and no dashboard_url", res)
	}
	op := e.operation(t, res.Operation)
	if d := op.Deadline.Sub(op.CreatedAt); d < 2*time.Hour {
		t.Errorf("default deadline %s after creation, want 2h", d)
	}
}

// TestErrorText: an *Error reads as its code and message, and its cause when it has
// one, which errors.Is finds.
func TestErrorText(t *testing.T) {
	boom := errors.New("boom")
	e := &broker.Error{Code: broker.EUnavailable, Message: "the manager cannot be reached", Err: boom}
	if got := e.Error(); got != "unavailable: the manager cannot be reached: boom" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", e), boom) {
		t.Error("the cause is not found through the error")
	}
	if got := broker.Errorf(broker.EGone, "binding %s does not exist", "b-1").Error(); got != "gone: binding b-1 does not exist" {
		t.Errorf("Error() = %q", got)
	}
	if broker.ErrorCode(boom) != "" || broker.ErrorMessage(boom) != "" {
		t.Error("a plain error has a code or a message")
	}
}

// TestIdentityString: the identity as logged.
func TestIdentityString(t *testing.T) {
	if got := (broker.Identity{Platform: "kubernetes", User: "alice"}).String(); got != "kubernetes/alice" {
		t.Errorf("String() = %q", got)
	}
	if got := (broker.Identity{}).String(); got != "" {
		t.Errorf("absent identity: String() = %q", got)
	}
}
