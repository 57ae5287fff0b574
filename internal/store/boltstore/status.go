package boltstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	bolt "go.etcd.io/bbolt"
)

var _ broker.StatusReader = (*DB)(nil)

// statuses is the in-memory view of what last_operation answers from: the status of
// every instance's current operation. A bbolt file is locked by the one process that
// opens it, and every write goes through Commit, so the view can be kept exactly in
// step with the file: Open fills it from the file, and Commit works out the statuses
// its transaction changes inside the bbolt transaction and puts them in the view
// only once that transaction is durable.
//
// While a Commit that touches an instance is in flight (from before its bbolt
// transaction starts to after the view has its result), the instance is pending and
// OperationStatus reads the file instead: so a poll is never answered ahead of what
// is committed (the view changes only after the commit) nor behind it (during the
// window between the commit and the view's update, the file answers).
type statuses struct {
	mu sync.RWMutex
	// current maps an instance id to the status of its current operation; an
	// instance without an operation has none.
	current map[string]broker.OperationStatus
	// known holds every instance id, with or without an operation.
	known map[string]struct{}
	// pending counts the Commits in flight per instance id.
	pending map[string]int
}

func newStatuses() *statuses {
	return &statuses{current: map[string]broker.OperationStatus{}, known: map[string]struct{}{}, pending: map[string]int{}}
}

// load fills the view from the file, in one read transaction.
func (s *statuses) load(tx *bolt.Tx) error {
	ops := tx.Bucket(bucketOperations)
	return tx.Bucket(bucketInstances).ForEach(func(k, v []byte) error {
		var in instancePointer
		if err := decode(v, &in); err != nil {
			return fmt.Errorf("instance %q: %w", k, err)
		}
		s.known[string(k)] = struct{}{}
		if in.OperationID == "" {
			return nil
		}
		st, ok, err := readStatus(ops, in.OperationID)
		if err != nil {
			return fmt.Errorf("operation %q of instance %q: %w", in.OperationID, k, err)
		}
		if ok {
			s.current[string(k)] = st
		}
		return nil
	})
}

// begin marks the instances a Commit touches as pending and returns them.
func (s *statuses) begin(tx broker.Tx) []string {
	ids := make([]string, 0, len(tx.Instances)+len(tx.Operations))
	for _, in := range tx.Instances {
		ids = append(ids, in.ID)
	}
	for _, op := range tx.Operations {
		ids = append(ids, op.InstanceID)
	}
	s.mu.Lock()
	for _, id := range ids {
		s.pending[id]++
	}
	s.mu.Unlock()
	return ids
}

// end applies what a Commit changed (nil when it failed) and clears its pending marks.
func (s *statuses) end(ids []string, changes []statusChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range changes {
		s.known[c.instanceID] = struct{}{}
		if c.has {
			s.current[c.instanceID] = c.status
		} else {
			delete(s.current, c.instanceID)
		}
	}
	for _, id := range ids {
		if s.pending[id]--; s.pending[id] <= 0 {
			delete(s.pending, id)
		}
	}
}

// lookup returns the view's status of an instance's current operation; usable is
// false while a Commit touching the instance is in flight.
func (s *statuses) lookup(instanceID string) (st broker.OperationStatus, has, known, usable bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.pending[instanceID] > 0 {
		return broker.OperationStatus{}, false, false, false
	}
	st, has = s.current[instanceID]
	_, known = s.known[instanceID]
	return st, has, known, true
}

// statusChange is the status of an instance's current operation after a Commit.
type statusChange struct {
	instanceID string
	status     broker.OperationStatus
	has        bool
}

// changes works out, inside a Commit's bbolt transaction and after its writes, the
// statuses the transaction changes: for each instance it writes, its current
// operation (written by the same transaction or already stored); for each operation
// it writes that is its instance's current one, that operation.
func (s *statuses) changes(btx *bolt.Tx, tx broker.Tx) ([]statusChange, error) {
	written := make(map[string]*broker.Operation, len(tx.Operations))
	for _, op := range tx.Operations {
		written[op.ID] = op
	}
	ops := tx.Operations
	out := make([]statusChange, 0, len(tx.Instances)+len(tx.Operations))
	done := make(map[string]bool, len(tx.Instances))
	statusOf := func(id string) (broker.OperationStatus, bool, error) {
		if op, ok := written[id]; ok {
			return op.Status(), true, nil
		}
		return readStatus(btx.Bucket(bucketOperations), id)
	}
	for _, in := range tx.Instances {
		done[in.ID] = true
		c := statusChange{instanceID: in.ID}
		if in.OperationID != "" {
			st, ok, err := statusOf(in.OperationID)
			if err != nil {
				return nil, fmt.Errorf("status of instance %q: %w", in.ID, err)
			}
			c.status, c.has = st, ok
		}
		out = append(out, c)
	}
	for _, op := range ops {
		if done[op.InstanceID] {
			continue
		}
		// Only the instance's current operation is in the view. The stored instance
		// is read (not the view) so that the answer is the file's, whatever the view.
		data := btx.Bucket(bucketInstances).Get([]byte(op.InstanceID))
		if data == nil {
			continue
		}
		var in instancePointer
		if err := decode(data, &in); err != nil {
			return nil, fmt.Errorf("instance %q: %w", op.InstanceID, err)
		}
		if in.OperationID == op.ID {
			done[op.InstanceID] = true
			out = append(out, statusChange{instanceID: op.InstanceID, status: op.Status(), has: true})
		}
	}
	return out, nil
}

// OperationStatus returns the status of the operation named operationID when it
// exists, belongs to the instance and acts on the instance (not on one of its
// bindings), else that of the instance's current operation (operationID may be
// empty), or an error matching broker.ErrNotFound. The instance's current operation
// is answered from memory, without a bbolt transaction, whether the poll names it or
// not (the two cost the same); an older operation named by the poll, or an instance
// that a Commit in flight touches, from the file in one read transaction.
func (db *DB) OperationStatus(ctx context.Context, instanceID, operationID string) (broker.OperationStatus, error) {
	if err := ctx.Err(); err != nil {
		return broker.OperationStatus{}, fmt.Errorf("boltstore: operation status of instance %q: %w", instanceID, err)
	}
	st, has, known, usable := db.statuses.lookup(instanceID)
	if usable && (operationID == "" || has && st.ID == operationID) {
		switch {
		case has:
			return st, nil
		case known:
			return broker.OperationStatus{}, fmt.Errorf("boltstore: instance %q has no operation: %w", instanceID, broker.ErrNotFound)
		default:
			return broker.OperationStatus{}, fmt.Errorf("boltstore: instance %q: %w", instanceID, broker.ErrNotFound)
		}
	}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		ops := tx.Bucket(bucketOperations)
		if operationID != "" {
			named, ok, err := readStatus(ops, operationID)
			if err != nil {
				return err
			}
			if ok && named.InstanceID == instanceID && !named.Type.OnBinding() {
				st = named
				return nil
			}
		}
		data := tx.Bucket(bucketInstances).Get([]byte(instanceID))
		if data == nil {
			return broker.ErrNotFound
		}
		var in instancePointer
		if err := decode(data, &in); err != nil {
			return err
		}
		cur, ok, err := readStatus(ops, in.OperationID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no operation: %w", broker.ErrNotFound)
		}
		st = cur
		return nil
	})
	if err != nil {
		return broker.OperationStatus{}, fmt.Errorf("boltstore: operation status of instance %q: %w", instanceID, err)
	}
	return st, nil
}

// readStatus decodes the status part of a stored operation; ok is false when there is
// no operation with the id.
func readStatus(ops *bolt.Bucket, id string) (broker.OperationStatus, bool, error) {
	if id == "" {
		return broker.OperationStatus{}, false, nil
	}
	data := ops.Get([]byte(id))
	if data == nil {
		return broker.OperationStatus{}, false, nil
	}
	var it statusItem
	if err := decode(data, &it); err != nil {
		return broker.OperationStatus{}, false, err
	}
	return broker.OperationStatus{ID: it.ID, InstanceID: it.InstanceID, Type: broker.OperationType(it.Type),
		State: broker.OperationState(it.State), Description: it.Description, NextCheck: it.NextCheck}, true, nil
}

// statusItem is the part of an operationItem that last_operation answers from.
type statusItem struct {
	header
	ID          string    `json:"id"`
	Type        string    `json:"type,omitempty"`
	InstanceID  string    `json:"instance_id,omitempty"`
	State       string    `json:"state,omitempty"`
	Description string    `json:"description,omitempty"`
	NextCheck   time.Time `json:"next_check,omitzero"`
}

// instancePointer is the part of an instanceItem that names its current operation.
type instancePointer struct {
	header
	OperationID string `json:"operation_id,omitempty"`
}
