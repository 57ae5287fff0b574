package sfn_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
	"github.com/cfybroker/cfybroker/internal/workflow"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// Engine.Fail is the Failer of the Sweeper and what the step function calls from
// MarkFailed; these tests pin its rules on a real store.

var _ sfn.Failer = (*workflow.Engine)(nil)

func mustStore(t *testing.T) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// record stores an instance and its operation in progress.
func record(t *testing.T, db *boltstore.DB, typ broker.OperationType, instState broker.InstanceState) (broker.Instance, broker.Operation) {
	t.Helper()
	now := time.Now().UTC()
	op := broker.Operation{ID: string(typ) + "-1", Type: typ, InstanceID: "i-1", State: broker.StateInProgress,
		PlanID: "new-plan", Deadline: now.Add(time.Hour), NextCheck: now, CreatedAt: now, UpdatedAt: now}
	inst := broker.Instance{ID: "i-1", PlanID: "old-plan", State: instState, OperationID: op.ID, OperationType: typ,
		OperationState: broker.StateInProgress, CreatedAt: now, UpdatedAt: now}
	if err := db.Commit(context.Background(), broker.Tx{Instances: []*broker.Instance{&inst}, Operations: []*broker.Operation{&op}}); err != nil {
		t.Fatal(err)
	}
	return inst, op
}

func TestEngineFail(t *testing.T) {
	tests := []struct {
		typ           broker.OperationType
		before, after broker.InstanceState
	}{
		{broker.OpProvision, broker.InstanceProvisioning, broker.InstanceFailed},
		{broker.OpDeprovision, broker.InstanceDeprovisioning, broker.InstanceFailed},
		{broker.OpUpdate, broker.InstanceReady, broker.InstanceReady},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			ctx := context.Background()
			db := mustStore(t)
			_, op := record(t, db, tt.typ, tt.before)
			e := &workflow.Engine{Store: db}
			if err := e.Fail(ctx, op.ID, "the broker gave up"); err != nil {
				t.Fatal(err)
			}
			got, _ := db.GetOperation(ctx, op.ID)
			if got.State != broker.StateFailed || got.Description != "the broker gave up" || got.EndedAt.IsZero() || !got.NextCheck.IsZero() {
				t.Errorf("operation after Fail: %+v", got)
			}
			inst, _ := db.GetInstance(ctx, "i-1")
			if inst.State != tt.after || inst.OperationState != broker.StateFailed || inst.PlanID != "old-plan" {
				t.Errorf("instance after Fail: state %s, operation state %s, plan %s", inst.State, inst.OperationState, inst.PlanID)
			}
			// Idempotent: a second Fail (another execution, a retried task) changes nothing.
			if err := e.Fail(ctx, op.ID, "something else"); err != nil {
				t.Fatal(err)
			}
			again, _ := db.GetOperation(ctx, op.ID)
			if again.Description != "the broker gave up" || again.Version != got.Version {
				t.Errorf("second Fail rewrote the operation: %+v", again)
			}
		})
	}
}

func TestEngineFailLeavesEndedOperations(t *testing.T) {
	ctx := context.Background()
	db := mustStore(t)
	_, op := record(t, db, broker.OpProvision, broker.InstanceProvisioning)
	op.State = broker.StateSucceeded
	if err := db.Commit(ctx, broker.Tx{Operations: []*broker.Operation{&op}}); err != nil {
		t.Fatal(err)
	}
	e := &workflow.Engine{Store: db}
	if err := e.Fail(ctx, op.ID, "too late"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetOperation(ctx, op.ID); got.State != broker.StateSucceeded {
		t.Errorf("Fail changed a succeeded operation: %+v", got)
	}
	if err := e.Fail(ctx, "no-such-op", "x"); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("Fail of an unknown operation = %v, want ErrNotFound", err)
	}
}

// conflictOnce is a store whose first Commit loses to a concurrent writer that ends
// the operation.
type conflictOnce struct {
	*boltstore.DB
	fired bool
}

func (s *conflictOnce) Commit(ctx context.Context, tx broker.Tx) error {
	if !s.fired {
		s.fired = true
		op, _ := s.GetOperation(ctx, tx.Operations[0].ID)
		op.State, op.Description = broker.StateSucceeded, "installed meanwhile"
		if err := s.DB.Commit(ctx, broker.Tx{Operations: []*broker.Operation{&op}}); err != nil {
			return err
		}
	}
	return s.DB.Commit(ctx, tx)
}

func TestEngineFailLosesToAConcurrentEnd(t *testing.T) {
	ctx := context.Background()
	db := mustStore(t)
	_, op := record(t, db, broker.OpProvision, broker.InstanceProvisioning)
	e := &workflow.Engine{Store: &conflictOnce{DB: db}}
	if err := e.Fail(ctx, op.ID, "gave up"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetOperation(ctx, op.ID); got.State != broker.StateSucceeded || got.Description != "installed meanwhile" {
		t.Errorf("operation = %s %q, want the concurrent success kept", got.State, got.Description)
	}
}
