package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
	bolt "go.etcd.io/bbolt"
)

// Commit applies the transaction atomically: every condition is checked and every
// record written in one bbolt write transaction, so either all writes land or none.
// A record with Version 0 must be absent; any other must be stored with exactly that
// Version; a deleted binding must be stored with exactly its Version. When a
// condition fails Commit returns an error matching broker.ErrConflict and writes
// nothing. On success the Version of every written record is incremented in place.
//
// A transaction that names a record twice, holds a nil record, an empty id or a
// negative version is rejected before anything is read (not an ErrConflict).
func (db *DB) Commit(ctx context.Context, tx broker.Tx) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: commit: %w", err)
	}
	if err := store.ValidateTx(tx); err != nil {
		return fmt.Errorf("boltstore: commit: %w", err)
	}
	// The instances the transaction touches are answered from the file until the view
	// of operation statuses has its result (see statuses).
	pending := db.statuses.begin(tx)
	var changes []statusChange
	err := db.bolt.Update(func(btx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		w := writer{
			instances:  btx.Bucket(bucketInstances),
			operations: btx.Bucket(bucketOperations),
			bindings:   btx.Bucket(bucketBindings),
			active:     btx.Bucket(bucketActive),
		}
		for _, in := range tx.Instances {
			if err := w.putInstance(in); err != nil {
				return fmt.Errorf("instance %q: %w", in.ID, err)
			}
		}
		for _, op := range tx.Operations {
			if err := w.putOperation(op); err != nil {
				return fmt.Errorf("operation %q: %w", op.ID, err)
			}
		}
		for _, b := range tx.Bindings {
			if err := w.putBinding(b); err != nil {
				return fmt.Errorf("binding %q of instance %q: %w", b.ID, b.InstanceID, err)
			}
		}
		for _, b := range tx.DeleteBindings {
			if err := w.deleteBinding(b); err != nil {
				return fmt.Errorf("delete binding %q of instance %q: %w", b.ID, b.InstanceID, err)
			}
		}
		var err error
		changes, err = db.statuses.changes(btx, tx)
		return err
	})
	if err != nil {
		db.statuses.end(pending, nil)
		return fmt.Errorf("boltstore: commit: %w", err)
	}
	db.statuses.end(pending, changes)
	// Only now that the transaction is durable do the callers' records change.
	store.Committed(tx)
	return nil
}

// writer applies the records of one Commit inside its bbolt transaction.
type writer struct {
	instances, operations, bindings, active *bolt.Bucket
}

func (w writer) putInstance(in *broker.Instance) error {
	key := []byte(in.ID)
	if _, err := checkVersion(w.instances.Get(key), in.Version); err != nil {
		return err
	}
	data, err := encode(newInstanceItem(*in, in.Version+1))
	if err != nil {
		return err
	}
	return w.instances.Put(key, data)
}

func (w writer) putOperation(op *broker.Operation) error {
	key := []byte(op.ID)
	old, err := checkVersion(w.operations.Get(key), op.Version)
	if err != nil {
		return err
	}
	data, err := encode(newOperationItem(*op, op.Version+1))
	if err != nil {
		return err
	}
	if err := w.operations.Put(key, data); err != nil {
		return err
	}
	// Keep the index of operations in progress in step with the record.
	if old.State == string(broker.StateInProgress) {
		if err := w.active.Delete(activeKey(old.CreatedAt, op.ID)); err != nil {
			return err
		}
	}
	if op.State == broker.StateInProgress {
		return w.active.Put(activeKey(op.CreatedAt, op.ID), key)
	}
	return nil
}

func (w writer) putBinding(b *broker.Binding) error {
	var stored []byte
	if bucket := w.bindings.Bucket([]byte(b.InstanceID)); bucket != nil {
		stored = bucket.Get([]byte(b.ID))
	}
	if _, err := checkVersion(stored, b.Version); err != nil {
		return err
	}
	data, err := encode(newBindingItem(*b, b.Version+1))
	if err != nil {
		return err
	}
	bucket, err := w.bindings.CreateBucketIfNotExists([]byte(b.InstanceID))
	if err != nil {
		return err
	}
	return bucket.Put([]byte(b.ID), data)
}

func (w writer) deleteBinding(b *broker.Binding) error {
	bucket := w.bindings.Bucket([]byte(b.InstanceID))
	var stored []byte
	if bucket != nil {
		stored = bucket.Get([]byte(b.ID))
	}
	if stored == nil {
		return fmt.Errorf("absent, expected version %d: %w", b.Version, broker.ErrConflict)
	}
	if _, err := checkVersion(stored, b.Version); err != nil {
		return err
	}
	if err := bucket.Delete([]byte(b.ID)); err != nil {
		return err
	}
	// Drop the instance's bucket with its last binding.
	if k, _ := bucket.Cursor().First(); k == nil {
		return w.bindings.DeleteBucket([]byte(b.InstanceID))
	}
	return nil
}

// checkVersion checks the condition of a write: a record expected at version 0 must
// be absent (stored == nil), any other must be stored at exactly that version. It
// returns the head of the stored record, the zero headItem when there is none.
func checkVersion(stored []byte, want int64) (headItem, error) {
	var head headItem
	if stored == nil {
		if want != 0 {
			return head, fmt.Errorf("absent, expected version %d: %w", want, broker.ErrConflict)
		}
		return head, nil
	}
	if err := decode(stored, &head); err != nil {
		return head, err
	}
	if want == 0 {
		return head, fmt.Errorf("exists at version %d: %w", head.Version, broker.ErrConflict)
	}
	if head.Version != want {
		return head, fmt.Errorf("version %d stored, %d expected: %w", head.Version, want, broker.ErrConflict)
	}
	return head, nil
}

// activeKey is the index key of an operation in progress: its creation time as
// sign-flipped big-endian Unix seconds and nanoseconds, so that keys sort oldest
// first for any time, then its id.
func activeKey(createdAt time.Time, id string) []byte {
	k := make([]byte, 12+len(id))
	binary.BigEndian.PutUint64(k, uint64(createdAt.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(createdAt.Nanosecond()))
	copy(k[12:], id)
	return k
}
