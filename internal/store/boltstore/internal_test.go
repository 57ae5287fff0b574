package boltstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	bolt "go.etcd.io/bbolt"
)

func TestSchemaVersionRefused(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "broker.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInstances).Put([]byte("inst-1"), []byte(`{"schema":2,"id":"inst-1","version":1}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.GetInstance(t.Context(), "inst-1")
	if err == nil || errors.Is(err, broker.ErrNotFound) {
		t.Errorf("GetInstance of a record of schema 2: error %v, want a schema error", err)
	}
	in := broker.Instance{ID: "inst-1", Version: 1}
	if err := db.Commit(t.Context(), broker.Tx{Instances: []*broker.Instance{&in}}); err == nil || errors.Is(err, broker.ErrConflict) {
		t.Errorf("Commit over a record of schema 2: error %v, want a schema error", err)
	}
}

func TestActiveKeyOrder(t *testing.T) {
	times := []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC),
		time.Date(2025, 3, 14, 15, 9, 27, 0, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := string(activeKey(times[i-1], "z")), string(activeKey(times[i], "a"))
		if a >= b {
			t.Errorf("activeKey(%v) sorts at or after activeKey(%v)", times[i-1], times[i])
		}
	}
	if a, b := string(activeKey(times[5], "op-a")), string(activeKey(times[5], "op-b")); a >= b {
		t.Error("activeKey does not break ties by id")
	}
}
