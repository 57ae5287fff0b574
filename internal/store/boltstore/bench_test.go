package boltstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// Run with: go test -run '^$' -bench . -benchmem ./internal/store/boltstore

func BenchmarkGetInstance(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "broker.db"))
	defer db.Close()
	ctx := b.Context()
	in := broker.Instance{
		ID: "inst-1", ServiceID: "svc", PlanID: "plan", State: broker.InstanceReady,
		Context: []byte(`{"platform":"cloudfoundry"}`), CreatedAt: time.Now(), UpdatedAt: time.Now(),
	}
	if err := db.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.GetInstance(ctx, "inst-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitOperation measures one durable (fsynced) update of an operation in
// progress, index upkeep included.
func BenchmarkCommitOperation(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "broker.db"))
	defer db.Close()
	ctx := b.Context()
	op := broker.Operation{
		ID: "op-1", Type: broker.OpProvision, InstanceID: "inst-1", State: broker.StateInProgress,
		Labels: map[string]string{"instance": "inst-1"}, CreatedAt: time.Now(),
	}
	if err := db.Commit(ctx, broker.Tx{Operations: []*broker.Operation{&op}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		op.Steps++
		if err := db.Commit(ctx, broker.Tx{Operations: []*broker.Operation{&op}}); err != nil {
			b.Fatal(err)
		}
	}
}
