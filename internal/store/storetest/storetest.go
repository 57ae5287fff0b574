// Package storetest is the contract that every storage engine passes. An engine's
// tests call Run with a constructor for an empty store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Engine {
//			db, err := boltstore.Open(filepath.Join(t.TempDir(), "broker.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return db
//		})
//	}
//
// The suite uses only the store.Engine interface and never sleeps or measures time,
// so it runs unchanged against an embedded file and against a remote service such as
// DynamoDB Local.
package storetest

import (
	"testing"

	"github.com/cfybroker/cfybroker/internal/store"
)

// factory makes a fresh, empty store for one test and closes it when the test ends.
type factory func(t *testing.T) store.Engine

// Run runs the contract suite, one sub-test per property, each on its own store.
//
// newStore must return an empty, ready store and arrange with t.Cleanup to remove
// whatever backs it (a file, a table); Run closes the store at the end of each
// sub-test and reports an error from Close. Sub-tests run one after another.
//
// Besides the error contracts in the domain's interface docs (broker.Store,
// broker.CatalogStore, broker.OperationLister, broker.InstanceLister), the suite holds
// every engine to these rules:
//
//   - Times come back in UTC with at least millisecond precision: finer digits may be
//     dropped (truncated, never rounded), so the suite compares times with Equal after
//     truncating both to the millisecond. The zero time comes back as the zero time.
//   - Byte fields (json.RawMessage, []byte) come back byte for byte. A nil and an empty
//     slice or map may come back as either.
//   - Records are values: changing a struct after Commit, or one returned by a Get,
//     does not change what is stored.
//   - Deleting a binding that is absent, or stored with another Version, fails with
//     ErrConflict. A binding may be created again after it is deleted.
//   - A Tx that names one record twice fails, writes nothing and does not match
//     ErrConflict (it is a caller's bug, not a race, and must not be retried).
//   - Commit leaves the callers' Versions unchanged when it fails.
//   - ActiveOperations lists exactly the operations whose stored State is
//     broker.StateInProgress, oldest CreatedAt first.
//   - ListInstances pages by id; the cursor it returns is opaque to callers, but an
//     instance id passed as the cursor lists the ids after it.
//   - ListBindings, ListInstances and ActiveOperations return an empty list and no
//     error when there is nothing to list; GetOverlay returns a non-nil document
//     after a PutOverlay of an empty one.
//   - An engine that is a broker.StatusReader answers OperationStatus from what is
//     committed: a Commit shows in the next poll, a failed one never, and a poll
//     during a Commit sees the state before it or after it. (Engines without the
//     capability skip these sub-tests.)
//   - Every method fails with an error matching context.Canceled when its context
//     is cancelled before the call, and Commit and the Puts then write nothing.
func Run(t *testing.T, newStore func(t *testing.T) store.Engine) {
	t.Helper()
	open := func(t *testing.T) store.Engine {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		fn   func(*testing.T, factory)
	}{
		{"GetMissing", testGetMissing},
		{"EmptyStore", testEmptyStore},
		{"CreateSetsVersion", testCreateSetsVersion},
		{"CreateTwiceConflicts", testCreateTwiceConflicts},
		{"UpdateIncrementsVersion", testUpdateIncrementsVersion},
		{"StaleVersionConflicts", testStaleVersionConflicts},
		{"TxAtomic", testTxAtomic},
		{"TxInvalid", testTxInvalid},
		{"DeleteBindings", testDeleteBindings},
		{"RoundTripAllFields", testRoundTripAllFields},
		{"RoundTripZeroValues", testRoundTripZeroValues},
		{"RecordsAreValues", testRecordsAreValues},
		{"ActiveOperations", testActiveOperations},
		{"ListInstancesPaging", testListInstancesPaging},
		{"ListInstancesAfter", testListInstancesAfter},
		{"ListBindings", testListBindings},
		{"Catalog", testCatalog},
		{"Overlay", testOverlay},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"CancelledContext", testCancelledContext},
		{"OperationStatus", testOperationStatus},
		{"OperationStatusConcurrent", testOperationStatusConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}
