package boltstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/store/storetest"
	"github.com/google/go-cmp/cmp"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Engine {
		return mustOpen(t, filepath.Join(t.TempDir(), "broker.db"))
	})
}

// mustOpen opens a DB; the caller closes it.
func mustOpen(t testing.TB, path string, opts ...boltstore.Option) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "broker.db")
	db := mustOpen(t, path)
	in := broker.Instance{ID: "inst-1", State: broker.InstanceReady, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)}
	op := broker.Operation{ID: "op-1", InstanceID: "inst-1", State: broker.StateInProgress, Labels: map[string]string{"k": "v"}}
	b := broker.Binding{InstanceID: "inst-1", ID: "b-1", Parameters: []byte{1, 2, 3}}
	if err := db.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}, Bindings: []*broker.Binding{&b}}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	c := broker.Catalog{ETag: "e1", Services: []broker.Service{{ID: "svc", Name: "svc"}}}
	if err := db.PutCatalog(ctx, c); err != nil {
		t.Fatalf("PutCatalog: %v", err)
	}
	if err := db.PutOverlay(ctx, []byte("overlay")); err != nil {
		t.Fatalf("PutOverlay: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %v, want 0600", perm)
	}

	db = mustOpen(t, path)
	defer db.Close()
	gotIn, err := db.GetInstance(ctx, "inst-1")
	if err != nil {
		t.Fatalf("GetInstance: %v", err)
	}
	if diff := cmp.Diff(in, gotIn); diff != "" {
		t.Errorf("instance after reopen (-want +got):\n%s", diff)
	}
	active, err := db.ActiveOperations(ctx)
	if err != nil {
		t.Fatalf("ActiveOperations: %v", err)
	}
	if diff := cmp.Diff([]broker.Operation{op}, active); diff != "" {
		t.Errorf("active operations after reopen (-want +got):\n%s", diff)
	}
	gotB, err := db.GetBinding(ctx, "inst-1", "b-1")
	if err != nil {
		t.Fatalf("GetBinding: %v", err)
	}
	if diff := cmp.Diff(b, gotB); diff != "" {
		t.Errorf("binding after reopen (-want +got):\n%s", diff)
	}
	gotC, err := db.GetCatalog(ctx)
	if err != nil {
		t.Fatalf("GetCatalog: %v", err)
	}
	if diff := cmp.Diff(c, gotC); diff != "" {
		t.Errorf("catalog after reopen (-want +got):\n%s", diff)
	}
	overlay, err := db.GetOverlay(ctx)
	if err != nil || string(overlay) != "overlay" {
		t.Errorf("GetOverlay after reopen = %q, %v; want \"overlay\"", overlay, err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.db")
	db := mustOpen(t, path)
	defer db.Close()

	// bbolt locks the file with flock, which conflicts between two open files even
	// in one process, so this stands for a second process. Were the timeout not
	// honoured, the test would hang rather than fail.
	second, err := boltstore.Open(path, boltstore.WithLockTimeout(50*time.Millisecond))
	if err == nil {
		second.Close()
		t.Fatal("second Open succeeded, want an error")
	}
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Errorf("second Open: error %v, want one matching ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("second Open: error %q does not name the file", err)
	}

	// Once the first closes, the file opens again.
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	mustOpen(t, path, boltstore.WithLockTimeout(50*time.Millisecond)).Close()
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := boltstore.Open(filepath.Join(dir, "missing", "broker.db"))
	if err == nil || errors.Is(err, boltstore.ErrLocked) {
		t.Errorf("Open in a missing directory: error %v, want a non-lock error", err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a bolt file ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := boltstore.Open(garbage); err == nil {
		db.Close()
		t.Error("Open of a file that is not a bbolt file succeeded")
	}
}

func TestListInstancesLimit(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "broker.db"))
	defer db.Close()
	for _, limit := range []int{0, -1} {
		if _, _, err := db.ListInstances(t.Context(), "", limit); err == nil {
			t.Errorf("ListInstances with limit %d succeeded, want an error", limit)
		}
	}
}

func TestCommitInvalid(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "broker.db"))
	defer db.Close()
	tests := []struct {
		name string
		tx   broker.Tx
	}{
		{"nil instance", broker.Tx{Instances: []*broker.Instance{nil}}},
		{"nil operation", broker.Tx{Operations: []*broker.Operation{nil}}},
		{"nil binding", broker.Tx{Bindings: []*broker.Binding{nil}}},
		{"nil delete", broker.Tx{DeleteBindings: []*broker.Binding{nil}}},
		{"empty instance id", broker.Tx{Instances: []*broker.Instance{{}}}},
		{"empty operation id", broker.Tx{Operations: []*broker.Operation{{}}}},
		{"empty binding id", broker.Tx{Bindings: []*broker.Binding{{InstanceID: "inst-1"}}}},
		{"empty binding instance id", broker.Tx{Bindings: []*broker.Binding{{ID: "b-1"}}}},
		{"negative version", broker.Tx{Instances: []*broker.Instance{{ID: "inst-1", Version: -1}}}},
	}
	for _, tt := range tests {
		err := db.Commit(t.Context(), tt.tx)
		if err == nil || errors.Is(err, broker.ErrConflict) {
			t.Errorf("Commit(%s) = %v, want an error not matching ErrConflict", tt.name, err)
		}
	}
}
