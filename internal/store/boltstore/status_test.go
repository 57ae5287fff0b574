package boltstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// TestOperationStatusFromMemory: a poll of an instance's current operation opens no
// bbolt transaction; a poll naming an older operation reads the file.
func TestOperationStatusFromMemory(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "broker.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	in := broker.Instance{ID: "inst-1", OperationID: "op-2"}
	old := broker.Operation{ID: "op-1", InstanceID: "inst-1", State: broker.StateSucceeded, Description: "installed"}
	cur := broker.Operation{ID: "op-2", InstanceID: "inst-1", State: broker.StateInProgress, Description: "updating"}
	if err := db.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&old, &cur}}); err != nil {
		t.Fatal(err)
	}
	txs := func() int { return db.bolt.Stats().TxN }
	before := txs()
	for _, name := range []string{"", "op-2"} {
		st, err := db.OperationStatus(ctx, "inst-1", name)
		if err != nil || st.ID != "op-2" || st.Description != "updating" {
			t.Errorf("OperationStatus(inst-1, %q) = %+v, %v; want op-2 updating", name, st, err)
		}
	}
	if _, err := db.OperationStatus(ctx, "nope", ""); err == nil {
		t.Error("OperationStatus of an unknown instance: no error")
	}
	if n := txs() - before; n != 0 {
		t.Errorf("polls of the current operation opened %d read transactions, want 0", n)
	}
	st, err := db.OperationStatus(ctx, "inst-1", "op-1")
	if err != nil || st.ID != "op-1" || st.Description != "installed" {
		t.Errorf("OperationStatus(inst-1, op-1) = %+v, %v; want op-1 installed", st, err)
	}
	if n := txs() - before; n != 1 {
		t.Errorf("a poll of an older operation opened %d read transactions, want 1", n)
	}
}

// TestOperationStatusAfterReopen: the view is rebuilt from the file at Open.
func TestOperationStatusAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	next := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := broker.Instance{ID: "inst-1", OperationID: "op-1"}
	op := broker.Operation{ID: "op-1", Type: broker.OpProvision, InstanceID: "inst-1", State: broker.StateInProgress, Description: "installing", NextCheck: next}
	bare := broker.Instance{ID: "inst-2"}
	if err := db.Commit(t.Context(), broker.Tx{Instances: []*broker.Instance{&in, &bare}, Operations: []*broker.Operation{&op}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := db.bolt.Stats().TxN
	st, err := db.OperationStatus(t.Context(), "inst-1", "")
	if err != nil || st != op.Status() {
		t.Errorf("OperationStatus after reopen = %+v, %v; want %+v", st, err, op.Status())
	}
	if _, err := db.OperationStatus(t.Context(), "inst-2", ""); err == nil {
		t.Error("OperationStatus of an instance without an operation after reopen: no error")
	}
	if n := db.bolt.Stats().TxN - before; n != 0 {
		t.Errorf("polls after reopen opened %d read transactions, want 0", n)
	}
}
