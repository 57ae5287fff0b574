package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/google/go-cmp/cmp"
)

// workers is how many goroutines race in the concurrency tests.
const workers = 20

func testConcurrentCreate(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		ins   [workers]broker.Instance
		errs  [workers]error
	)
	for i := range workers {
		ins[i] = broker.Instance{ID: "inst-race", DashboardURL: fmt.Sprintf("https://dash/%d", i)}
		wg.Go(func() {
			<-start
			errs[i] = s.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&ins[i]}})
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("creates %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, broker.ErrConflict):
			t.Errorf("create %d: error %v, want one matching ErrConflict", i, err)
		case ins[i].Version != 0:
			t.Errorf("create %d failed but set Version %d", i, ins[i].Version)
		}
	}
	if winner < 0 {
		t.Fatal("no create succeeded")
	}
	if diff := cmp.Diff(ins[winner], mustGetInstance(t, s, "inst-race"), recordOpts); diff != "" {
		t.Errorf("stored instance is not the winner's (-want +got):\n%s", diff)
	}
}

func testConcurrentIncrements(t *testing.T, newStore factory) {
	const (
		perWorker = 5
		// maxAttempts bounds each worker's loop so that a store that never lets a
		// write through fails the test instead of hanging it.
		maxAttempts = 10000
	)
	s := newStore(t)
	ctx := t.Context()
	op := broker.Operation{ID: "op-count", State: broker.StateInProgress, CreatedAt: t0}
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&op}})

	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  [workers]error
	)
	for i := range workers {
		wg.Go(func() {
			<-start
			errs[i] = increment(ctx, s, op.ID, perWorker, maxAttempts)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}

	got := mustGetOperation(t, s, op.ID)
	if got.Steps != workers*perWorker {
		t.Errorf("Steps = %d, want %d: updates were lost", got.Steps, workers*perWorker)
	}
	if want := int64(1 + workers*perWorker); got.Version != want {
		t.Errorf("Version = %d, want %d", got.Version, want)
	}
	if active := mustActive(t, s); len(active) != 1 || active[0].ID != op.ID {
		t.Errorf("ActiveOperations = %v, want [%s] once", ids(active, operationID), op.ID)
	}
}

// increment adds n to the operation's Steps by read-modify-write, retrying on
// ErrConflict as the workflow engine does.
func increment(ctx context.Context, s broker.Store, id string, n, maxAttempts int) error {
	for attempt := 0; n > 0; attempt++ {
		if attempt == maxAttempts {
			return fmt.Errorf("%d increments left after %d attempts", n, maxAttempts)
		}
		op, err := s.GetOperation(ctx, id)
		if err != nil {
			return err
		}
		op.Steps++
		err = s.Commit(ctx, broker.Tx{Operations: []*broker.Operation{&op}})
		if errors.Is(err, broker.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		n--
	}
	return nil
}

func testCancelledContext(t *testing.T, newStore factory) {
	s := newStore(t)
	in := broker.Instance{ID: "inst-1"}
	op := broker.Operation{ID: "op-1", State: broker.StateInProgress, CreatedAt: t0}
	b := broker.Binding{InstanceID: "inst-1", ID: "b-1"}
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}, Bindings: []*broker.Binding{&b}})

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	created := broker.Instance{ID: "inst-cancelled"}
	updated := in
	calls := []struct {
		name string
		call func() error
	}{
		{"GetInstance", func() error { _, err := s.GetInstance(ctx, "inst-1"); return err }},
		{"GetOperation", func() error { _, err := s.GetOperation(ctx, "op-1"); return err }},
		{"GetBinding", func() error { _, err := s.GetBinding(ctx, "inst-1", "b-1"); return err }},
		{"Commit", func() error {
			updated.PlanID = "cancelled"
			return s.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&created, &updated}})
		}},
		{"GetCatalog", func() error { _, err := s.GetCatalog(ctx); return err }},
		{"PutCatalog", func() error { return s.PutCatalog(ctx, fullCatalog()) }},
		{"GetOverlay", func() error { _, err := s.GetOverlay(ctx); return err }},
		{"PutOverlay", func() error { return s.PutOverlay(ctx, []byte("overlay")) }},
		{"ActiveOperations", func() error { _, err := s.ActiveOperations(ctx); return err }},
		{"ListInstances", func() error { _, _, err := s.ListInstances(ctx, "", 10); return err }},
		{"ListBindings", func() error { _, err := s.ListBindings(ctx, "inst-1"); return err }},
	}
	for _, c := range calls {
		wantErr(t, c.name+" with a cancelled context", c.call(), context.Canceled)
	}

	// Nothing was written.
	_, err := s.GetInstance(t.Context(), "inst-cancelled")
	wantErr(t, "GetInstance after a cancelled create", err, broker.ErrNotFound)
	if diff := cmp.Diff(in, mustGetInstance(t, s, "inst-1"), recordOpts); diff != "" {
		t.Errorf("instance after a cancelled update (-want +got):\n%s", diff)
	}
	if created.Version != 0 || updated.Version != in.Version {
		t.Errorf("Versions after a cancelled Commit = %d, %d; want 0, %d", created.Version, updated.Version, in.Version)
	}
	_, err = s.GetCatalog(t.Context())
	wantErr(t, "GetCatalog after a cancelled put", err, broker.ErrNotFound)
	_, err = s.GetOverlay(t.Context())
	wantErr(t, "GetOverlay after a cancelled put", err, broker.ErrNotFound)
}
