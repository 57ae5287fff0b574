package cloudify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCallTimeout: with WithCallTimeout, a manager that never answers gives a
// transient error that says so, when the call's own timeout ends it and when the
// reserve before the caller's deadline does (the caller's context still live); a
// call ended by the caller's context stays a caller error, not transient.
func TestCallTimeout(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })

	short, err := New(hung.URL, WithCallTimeout(50*time.Millisecond, 0), WithManagerVersion("7.0.4"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = short.GetExecution(context.Background(), "e1")
	if !IsTransient(err) || !strings.Contains(err.Error(), "no answer in time") {
		t.Errorf("call timeout: %v (transient %v), want a transient 'no answer in time'", err, IsTransient(err))
	}

	// A long call timeout, but the caller's deadline is near: the reserve before it ends
	// the call while the caller's context is still live.
	reserved, err := New(hung.URL, WithCallTimeout(time.Hour, time.Hour-50*time.Millisecond), WithManagerVersion("7.0.4"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err = reserved.GetExecution(ctx, "e1")
	if ctx.Err() != nil || !IsTransient(err) || !strings.Contains(err.Error(), "no answer in time") {
		t.Errorf("reserve before the caller's deadline: %v (caller context %v)", err, ctx.Err())
	}

	// The caller's own cancellation is not a manager fault.
	cctx, ccancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); ccancel() }()
	long, err := New(hung.URL, WithCallTimeout(time.Hour, 0), WithManagerVersion("7.0.4"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = long.GetExecution(cctx, "e1"); err == nil || IsTransient(err) {
		t.Errorf("caller cancelled: %v, want a non-transient error", err)
	}
}
