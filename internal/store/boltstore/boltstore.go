// Package boltstore is the embedded storage engine: broker state in one bbolt file,
// for the operator CLI and the embedded server.
//
// The file holds these buckets:
//
//   - instances: instance id → instance record;
//   - operations: operation id → operation record;
//   - bindings: one nested bucket per instance id, binding id → binding record;
//   - active: the operations in progress, keyed by creation time then id so that a
//     cursor walks them oldest first. It is written in the same bbolt transaction as
//     the operation record, so it is never stale;
//   - meta: the catalog and the operator's overlay.
//
// Records are JSON documents of unexported item structs, not of the domain structs, so
// that renaming a domain field does not change the stored format; each carries a
// schema version. Times are stored in UTC with nanosecond precision.
//
// A bbolt file is locked by the process that opens it. A second Open of the same file
// waits for the lock for a short, configurable time and then fails with an error
// matching ErrLocked, instead of hanging.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var _ store.Engine = (*DB)(nil)

// DefaultLockTimeout is how long Open waits for the file lock unless WithLockTimeout
// says otherwise.
const DefaultLockTimeout = time.Second

// ErrLocked is returned (wrapped) by Open when another process holds the file.
var ErrLocked = errors.New("database file is in use by another process")

// Bucket names.
var (
	bucketInstances  = []byte("instances")
	bucketOperations = []byte("operations")
	bucketBindings   = []byte("bindings")
	bucketActive     = []byte("active")
	bucketMeta       = []byte("meta")
)

// Keys in the meta bucket.
var (
	keyCatalog = []byte("catalog")
	keyOverlay = []byte("overlay")
)

// DB is a broker store in a bbolt file. It is safe for concurrent use by multiple
// goroutines; bbolt runs one write transaction at a time.
type DB struct {
	bolt *bolt.DB
	// statuses answers last_operation polls from memory (see OperationStatus).
	statuses *statuses
}

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for another process to release the file
// before failing with ErrLocked. Zero or less keeps DefaultLockTimeout (bbolt would
// otherwise wait forever).
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// Open opens the bbolt file at path, creating it with mode 0600 if it does not exist,
// and creates the buckets it lacks. It fails with an error matching ErrLocked when
// another process holds the file for longer than the lock timeout. The caller must
// Close the DB.
func Open(path string, opts ...Option) (*DB, error) {
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: %w (waited %v)", path, ErrLocked, o.lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketInstances, bucketOperations, bucketBindings, bucketActive, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	st := newStatuses()
	if err := bdb.View(st.load); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("boltstore: open %s: operation statuses: %w", path, err)
	}
	return &DB{bolt: bdb, statuses: st}, nil
}

// Close closes the file and releases its lock.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// view runs fn in a read transaction after checking ctx. bbolt transactions cannot be
// interrupted, so cancellation is honoured only before one starts.
func (db *DB) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

// GetInstance returns the instance with the id, or an error matching
// broker.ErrNotFound.
func (db *DB) GetInstance(ctx context.Context, id string) (broker.Instance, error) {
	var in broker.Instance
	err := db.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketInstances).Get([]byte(id))
		if data == nil {
			return broker.ErrNotFound
		}
		var it instanceItem
		if err := decode(data, &it); err != nil {
			return err
		}
		in = it.instance()
		return nil
	})
	if err != nil {
		return broker.Instance{}, fmt.Errorf("boltstore: get instance %q: %w", id, err)
	}
	return in, nil
}

// GetOperation returns the operation with the id, or an error matching
// broker.ErrNotFound.
func (db *DB) GetOperation(ctx context.Context, id string) (broker.Operation, error) {
	var op broker.Operation
	err := db.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketOperations).Get([]byte(id))
		if data == nil {
			return broker.ErrNotFound
		}
		var it operationItem
		if err := decode(data, &it); err != nil {
			return err
		}
		op = it.operation()
		return nil
	})
	if err != nil {
		return broker.Operation{}, fmt.Errorf("boltstore: get operation %q: %w", id, err)
	}
	return op, nil
}

// GetBinding returns the binding of the instance with the id, or an error matching
// broker.ErrNotFound.
func (db *DB) GetBinding(ctx context.Context, instanceID, bindingID string) (broker.Binding, error) {
	var b broker.Binding
	err := db.view(ctx, func(tx *bolt.Tx) error {
		bucket := tx.Bucket(bucketBindings).Bucket([]byte(instanceID))
		if bucket == nil {
			return broker.ErrNotFound
		}
		data := bucket.Get([]byte(bindingID))
		if data == nil {
			return broker.ErrNotFound
		}
		var it bindingItem
		if err := decode(data, &it); err != nil {
			return err
		}
		b = it.binding()
		return nil
	})
	if err != nil {
		return broker.Binding{}, fmt.Errorf("boltstore: get binding %q of instance %q: %w", bindingID, instanceID, err)
	}
	return b, nil
}

// ActiveOperations returns every operation in progress, oldest first (by CreatedAt,
// then id).
func (db *DB) ActiveOperations(ctx context.Context) ([]broker.Operation, error) {
	var ops []broker.Operation
	err := db.view(ctx, func(tx *bolt.Tx) error {
		operations := tx.Bucket(bucketOperations)
		return tx.Bucket(bucketActive).ForEach(func(_, id []byte) error {
			data := operations.Get(id)
			if data == nil {
				return fmt.Errorf("index names operation %q, which does not exist", id)
			}
			var it operationItem
			if err := decode(data, &it); err != nil {
				return fmt.Errorf("operation %q: %w", id, err)
			}
			ops = append(ops, it.operation())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: active operations: %w", err)
	}
	return ops, nil
}

// ListInstances returns up to limit instances with ids after the cursor, in id order,
// and the cursor for the next page ("" at the end). The cursor is the last id
// returned; limit must be positive.
func (db *DB) ListInstances(ctx context.Context, after string, limit int) ([]broker.Instance, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("boltstore: list instances: limit %d is not positive", limit)
	}
	var (
		list []broker.Instance
		next string
	)
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketInstances).Cursor()
		var k, v []byte
		if after == "" {
			k, v = c.First()
		} else if k, v = c.Seek([]byte(after)); k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(list) < limit; k, v = c.Next() {
			var it instanceItem
			if err := decode(v, &it); err != nil {
				return fmt.Errorf("instance %q: %w", k, err)
			}
			list = append(list, it.instance())
		}
		if k != nil {
			next = list[len(list)-1].ID
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("boltstore: list instances: %w", err)
	}
	return list, next, nil
}

// ListBindings returns the bindings of an instance in id order; none (and no error)
// when the instance has none or does not exist.
func (db *DB) ListBindings(ctx context.Context, instanceID string) ([]broker.Binding, error) {
	var list []broker.Binding
	err := db.view(ctx, func(tx *bolt.Tx) error {
		bucket := tx.Bucket(bucketBindings).Bucket([]byte(instanceID))
		if bucket == nil {
			return nil
		}
		return bucket.ForEach(func(k, v []byte) error {
			var it bindingItem
			if err := decode(v, &it); err != nil {
				return fmt.Errorf("binding %q: %w", k, err)
			}
			list = append(list, it.binding())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: list bindings of instance %q: %w", instanceID, err)
	}
	return list, nil
}

// GetCatalog returns the catalog last put, or an error matching broker.ErrNotFound
// before the first PutCatalog.
func (db *DB) GetCatalog(ctx context.Context) (broker.Catalog, error) {
	var c broker.Catalog
	err := db.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketMeta).Get(keyCatalog)
		if data == nil {
			return broker.ErrNotFound
		}
		var it catalogItem
		if err := decode(data, &it); err != nil {
			return err
		}
		c = it.Catalog
		return nil
	})
	if err != nil {
		return broker.Catalog{}, fmt.Errorf("boltstore: get catalog: %w", err)
	}
	return c, nil
}

// PutCatalog replaces the catalog.
func (db *DB) PutCatalog(ctx context.Context, c broker.Catalog) error {
	c.SyncedAt = c.SyncedAt.UTC()
	if err := db.put(ctx, keyCatalog, catalogItem{header: current, Catalog: c}); err != nil {
		return fmt.Errorf("boltstore: put catalog: %w", err)
	}
	return nil
}

// GetOverlay returns the overlay document last put (never nil), or an error matching
// broker.ErrNotFound before the first PutOverlay.
func (db *DB) GetOverlay(ctx context.Context) ([]byte, error) {
	var doc []byte
	err := db.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketMeta).Get(keyOverlay)
		if data == nil {
			return broker.ErrNotFound
		}
		var it overlayItem
		if err := decode(data, &it); err != nil {
			return err
		}
		doc = it.Doc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: get overlay: %w", err)
	}
	if doc == nil {
		doc = []byte{}
	}
	return doc, nil
}

// PutOverlay replaces the overlay document.
func (db *DB) PutOverlay(ctx context.Context, doc []byte) error {
	if err := db.put(ctx, keyOverlay, overlayItem{header: current, Doc: doc}); err != nil {
		return fmt.Errorf("boltstore: put overlay: %w", err)
	}
	return nil
}

// put writes one item to the meta bucket, unconditionally.
func (db *DB) put(ctx context.Context, key []byte, item any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := encode(item)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(key, data)
	})
}
