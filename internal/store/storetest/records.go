package storetest

import (
	"errors"
	"testing"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
	"github.com/google/go-cmp/cmp"
)

func testGetMissing(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	in := broker.Instance{ID: "inst-1"}
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}})

	_, err := s.GetInstance(ctx, "inst-missing")
	wantErr(t, "GetInstance of a missing instance", err, broker.ErrNotFound)
	_, err = s.GetOperation(ctx, "op-missing")
	wantErr(t, "GetOperation of a missing operation", err, broker.ErrNotFound)
	_, err = s.GetBinding(ctx, "inst-missing", "b-1")
	wantErr(t, "GetBinding of a missing instance", err, broker.ErrNotFound)
	_, err = s.GetBinding(ctx, "inst-1", "b-missing")
	wantErr(t, "GetBinding of a missing binding of an existing instance", err, broker.ErrNotFound)
	_, err = s.GetCatalog(ctx)
	wantErr(t, "GetCatalog before PutCatalog", err, broker.ErrNotFound)
	_, err = s.GetOverlay(ctx)
	wantErr(t, "GetOverlay before PutOverlay", err, broker.ErrNotFound)
}

func testEmptyStore(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	if ops := mustActive(t, s); len(ops) != 0 {
		t.Errorf("ActiveOperations = %v, want none", ids(ops, operationID))
	}
	list, next, err := s.ListInstances(ctx, "", 10)
	if err != nil || len(list) != 0 || next != "" {
		t.Errorf("ListInstances = %v, %q, %v; want none, \"\", nil", ids(list, instanceID), next, err)
	}
	if bs := mustListBindings(t, s, "inst-1"); len(bs) != 0 {
		t.Errorf("ListBindings = %v, want none", ids(bs, bindingID))
	}
	if err := s.Commit(ctx, broker.Tx{}); err != nil {
		t.Errorf("Commit of an empty Tx: %v", err)
	}
}

func testCreateSetsVersion(t *testing.T, newStore factory) {
	s := newStore(t)
	in := broker.Instance{ID: "inst-1", State: broker.InstanceProvisioning}
	op := broker.Operation{ID: "op-1", InstanceID: "inst-1", State: broker.StateInProgress, CreatedAt: t0}
	b := broker.Binding{InstanceID: "inst-1", ID: "b-1"}
	mustCommit(t, s, broker.Tx{
		Instances:  []*broker.Instance{&in},
		Operations: []*broker.Operation{&op},
		Bindings:   []*broker.Binding{&b},
	})
	if in.Version != 1 || op.Version != 1 || b.Version != 1 {
		t.Errorf("Versions after create = %d, %d, %d; want 1, 1, 1", in.Version, op.Version, b.Version)
	}
	if diff := cmp.Diff(in, mustGetInstance(t, s, "inst-1"), recordOpts); diff != "" {
		t.Errorf("GetInstance mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(op, mustGetOperation(t, s, "op-1"), recordOpts); diff != "" {
		t.Errorf("GetOperation mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(b, mustGetBinding(t, s, "inst-1", "b-1"), recordOpts); diff != "" {
		t.Errorf("GetBinding mismatch (-want +got):\n%s", diff)
	}
}

func testCreateTwiceConflicts(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	in := broker.Instance{ID: "inst-1", PlanID: "first"}
	op := broker.Operation{ID: "op-1", Phase: "first"}
	b := broker.Binding{InstanceID: "inst-1", ID: "b-1", AppGUID: "first"}
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}})
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&op}})
	mustCommit(t, s, broker.Tx{Bindings: []*broker.Binding{&b}})

	in2 := broker.Instance{ID: "inst-1", PlanID: "second"}
	wantErr(t, "second create of an instance", s.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in2}}), broker.ErrConflict)
	op2 := broker.Operation{ID: "op-1", Phase: "second"}
	wantErr(t, "second create of an operation", s.Commit(ctx, broker.Tx{Operations: []*broker.Operation{&op2}}), broker.ErrConflict)
	b2 := broker.Binding{InstanceID: "inst-1", ID: "b-1", AppGUID: "second"}
	wantErr(t, "second create of a binding", s.Commit(ctx, broker.Tx{Bindings: []*broker.Binding{&b2}}), broker.ErrConflict)

	if in2.Version != 0 || op2.Version != 0 || b2.Version != 0 {
		t.Errorf("Versions after failed creates = %d, %d, %d; want 0, 0, 0", in2.Version, op2.Version, b2.Version)
	}
	if diff := cmp.Diff(in, mustGetInstance(t, s, "inst-1"), recordOpts); diff != "" {
		t.Errorf("instance changed by a failed create (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(op, mustGetOperation(t, s, "op-1"), recordOpts); diff != "" {
		t.Errorf("operation changed by a failed create (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(b, mustGetBinding(t, s, "inst-1", "b-1"), recordOpts); diff != "" {
		t.Errorf("binding changed by a failed create (-want +got):\n%s", diff)
	}
}

func testUpdateIncrementsVersion(t *testing.T, newStore factory) {
	s := newStore(t)
	in := broker.Instance{ID: "inst-1", State: broker.InstanceProvisioning}
	op := broker.Operation{ID: "op-1", State: broker.StateInProgress, CreatedAt: t0}
	b := broker.Binding{InstanceID: "inst-1", ID: "b-1"}
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}, Bindings: []*broker.Binding{&b}})

	for want := int64(2); want <= 4; want++ {
		in.State = broker.InstanceReady
		in.DashboardURL = "https://dash/" + string(rune('a'+want))
		op.Steps++
		b.AppGUID = in.DashboardURL
		mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}, Bindings: []*broker.Binding{&b}})
		if in.Version != want || op.Version != want || b.Version != want {
			t.Fatalf("Versions after update = %d, %d, %d; want %d", in.Version, op.Version, b.Version, want)
		}
		if diff := cmp.Diff(in, mustGetInstance(t, s, "inst-1"), recordOpts); diff != "" {
			t.Errorf("instance after update (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(op, mustGetOperation(t, s, "op-1"), recordOpts); diff != "" {
			t.Errorf("operation after update (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(b, mustGetBinding(t, s, "inst-1", "b-1"), recordOpts); diff != "" {
			t.Errorf("binding after update (-want +got):\n%s", diff)
		}
	}
}

func testStaleVersionConflicts(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	in := broker.Instance{ID: "inst-1", PlanID: "p1"}
	op := broker.Operation{ID: "op-1", Phase: "p1"}
	b := broker.Binding{InstanceID: "inst-1", ID: "b-1", PlanID: "p1"}
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}, Bindings: []*broker.Binding{&b}})
	// Move every record to Version 2, leaving stale copies at Version 1.
	staleIn, staleOp, staleB := in, op, b
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}, Bindings: []*broker.Binding{&b}})

	tests := []struct {
		name string
		tx   broker.Tx
	}{
		{"instance behind", broker.Tx{Instances: []*broker.Instance{{ID: "inst-1", PlanID: "stale", Version: staleIn.Version}}}},
		{"instance ahead", broker.Tx{Instances: []*broker.Instance{{ID: "inst-1", PlanID: "stale", Version: 3}}}},
		{"operation behind", broker.Tx{Operations: []*broker.Operation{{ID: "op-1", Phase: "stale", Version: staleOp.Version}}}},
		{"binding behind", broker.Tx{Bindings: []*broker.Binding{{InstanceID: "inst-1", ID: "b-1", PlanID: "stale", Version: staleB.Version}}}},
		{"instance absent", broker.Tx{Instances: []*broker.Instance{{ID: "inst-absent", Version: 1}}}},
		{"operation absent", broker.Tx{Operations: []*broker.Operation{{ID: "op-absent", Version: 1}}}},
		{"binding absent", broker.Tx{Bindings: []*broker.Binding{{InstanceID: "inst-1", ID: "b-absent", Version: 1}}}},
	}
	for _, tt := range tests {
		err := s.Commit(ctx, tt.tx)
		wantErr(t, tt.name, err, broker.ErrConflict)
	}

	if diff := cmp.Diff(in, mustGetInstance(t, s, "inst-1"), recordOpts); diff != "" {
		t.Errorf("instance changed by stale writes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(op, mustGetOperation(t, s, "op-1"), recordOpts); diff != "" {
		t.Errorf("operation changed by stale writes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(b, mustGetBinding(t, s, "inst-1", "b-1"), recordOpts); diff != "" {
		t.Errorf("binding changed by stale writes (-want +got):\n%s", diff)
	}
	_, err := s.GetInstance(ctx, "inst-absent")
	wantErr(t, "GetInstance after an update of an absent instance", err, broker.ErrNotFound)
	_, err = s.GetOperation(ctx, "op-absent")
	wantErr(t, "GetOperation after an update of an absent operation", err, broker.ErrNotFound)
	_, err = s.GetBinding(ctx, "inst-1", "b-absent")
	wantErr(t, "GetBinding after an update of an absent binding", err, broker.ErrNotFound)
}

// atomicState is everything the TxAtomic test can observe.
type atomicState struct {
	Instances  []broker.Instance
	Operations map[string]*broker.Operation
	Bindings   []broker.Binding
	Active     []broker.Operation
}

func testTxAtomic(t *testing.T, newStore factory) {
	// seed stores: instances inst-1 and inst-2; operations op-1 (in progress) and op-x
	// (succeeded); bindings b-1, b-2 and b-x of inst-1; all at Version 1.
	seed := func(t *testing.T) storeUnderTest {
		s := newStore(t)
		mustCommit(t, s, broker.Tx{
			Instances: []*broker.Instance{
				{ID: "inst-1", State: broker.InstanceReady, DashboardURL: "https://old"},
				{ID: "inst-2", State: broker.InstanceReady},
			},
			Operations: []*broker.Operation{
				{ID: "op-1", InstanceID: "inst-1", State: broker.StateInProgress, CreatedAt: t0},
				{ID: "op-x", InstanceID: "inst-2", State: broker.StateSucceeded, CreatedAt: t0},
			},
			Bindings: []*broker.Binding{
				{InstanceID: "inst-1", ID: "b-1"},
				{InstanceID: "inst-1", ID: "b-2"},
				{InstanceID: "inst-1", ID: "b-x"},
			},
		})
		return storeUnderTest{t: t, s: s}
	}
	// tx writes every kind of record, each under a condition that holds on the seed.
	tx := func() broker.Tx {
		return broker.Tx{
			Instances: []*broker.Instance{
				{ID: "inst-1", State: broker.InstanceReady, DashboardURL: "https://new", Version: 1},
			},
			Operations: []*broker.Operation{
				{ID: "op-1", InstanceID: "inst-1", State: broker.StateSucceeded, CreatedAt: t0, Version: 1},
				{ID: "op-2", InstanceID: "inst-1", State: broker.StateInProgress, CreatedAt: t0.Add(1e9)},
			},
			Bindings:       []*broker.Binding{{InstanceID: "inst-1", ID: "b-3"}},
			DeleteBindings: []*broker.Binding{{InstanceID: "inst-1", ID: "b-2", Version: 1}},
		}
	}

	t.Run("all conditions hold", func(t *testing.T) {
		u := seed(t)
		tx := tx()
		mustCommit(t, u.s, tx)
		got := u.observe()
		want := atomicState{
			Instances: []broker.Instance{
				{ID: "inst-1", State: broker.InstanceReady, DashboardURL: "https://new", Version: 2},
				{ID: "inst-2", State: broker.InstanceReady, Version: 1},
			},
			Operations: map[string]*broker.Operation{
				"op-1": {ID: "op-1", InstanceID: "inst-1", State: broker.StateSucceeded, CreatedAt: t0, Version: 2},
				"op-2": {ID: "op-2", InstanceID: "inst-1", State: broker.StateInProgress, CreatedAt: t0.Add(1e9), Version: 1},
				"op-x": {ID: "op-x", InstanceID: "inst-2", State: broker.StateSucceeded, CreatedAt: t0, Version: 1},
			},
			Bindings: []broker.Binding{
				{InstanceID: "inst-1", ID: "b-1", Version: 1},
				{InstanceID: "inst-1", ID: "b-3", Version: 1},
				{InstanceID: "inst-1", ID: "b-x", Version: 1},
			},
			Active: []broker.Operation{
				{ID: "op-2", InstanceID: "inst-1", State: broker.StateInProgress, CreatedAt: t0.Add(1e9), Version: 1},
			},
		}
		if diff := cmp.Diff(want, got, recordOpts); diff != "" {
			t.Errorf("state after a successful Tx (-want +got):\n%s", diff)
		}
	})

	// Each case breaks one condition of the Tx; the first ones fail early in the Tx,
	// the last ones after every other record was handled.
	tests := []struct {
		name    string
		breakTx func(*broker.Tx)
	}{
		{"stale instance", func(tx *broker.Tx) { tx.Instances[0].Version = 7 }},
		{"instance exists", func(tx *broker.Tx) {
			tx.Instances = append(tx.Instances, &broker.Instance{ID: "inst-2"})
		}},
		{"instance absent", func(tx *broker.Tx) {
			tx.Instances = append(tx.Instances, &broker.Instance{ID: "inst-9", Version: 1})
		}},
		{"stale operation", func(tx *broker.Tx) { tx.Operations[0].Version = 7 }},
		{"operation exists", func(tx *broker.Tx) {
			tx.Operations = append(tx.Operations, &broker.Operation{ID: "op-x", State: broker.StateInProgress})
		}},
		{"binding exists", func(tx *broker.Tx) {
			tx.Bindings = append(tx.Bindings, &broker.Binding{InstanceID: "inst-1", ID: "b-x"})
		}},
		{"stale binding", func(tx *broker.Tx) {
			tx.Bindings = append(tx.Bindings, &broker.Binding{InstanceID: "inst-1", ID: "b-1", Version: 5})
		}},
		{"stale delete", func(tx *broker.Tx) { tx.DeleteBindings[0].Version = 9 }},
		{"absent delete", func(tx *broker.Tx) {
			tx.DeleteBindings = append(tx.DeleteBindings, &broker.Binding{InstanceID: "inst-1", ID: "b-9", Version: 1})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := seed(t)
			before := u.observe()
			tx := tx()
			tt.breakTx(&tx)
			versions := txVersions(tx)

			wantErr(t, "Commit", u.s.Commit(t.Context(), tx), broker.ErrConflict)

			if diff := cmp.Diff(before, u.observe(), recordOpts); diff != "" {
				t.Errorf("a failed Tx wrote (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(versions, txVersions(tx)); diff != "" {
				t.Errorf("a failed Tx changed the callers' Versions (-before +after):\n%s", diff)
			}
		})
	}
}

// storeUnderTest pairs a store with its test for observe.
type storeUnderTest struct {
	t *testing.T
	s store.Engine
}

func (u storeUnderTest) observe() atomicState {
	u.t.Helper()
	st := atomicState{
		Instances:  mustListAllInstances(u.t, u.s, 100),
		Operations: make(map[string]*broker.Operation),
		Bindings:   mustListBindings(u.t, u.s, "inst-1"),
		Active:     mustActive(u.t, u.s),
	}
	for _, id := range []string{"op-1", "op-2", "op-x"} {
		op, err := u.s.GetOperation(u.t.Context(), id)
		switch {
		case errors.Is(err, broker.ErrNotFound):
			st.Operations[id] = nil
		case err != nil:
			u.t.Fatalf("GetOperation(%q): %v", id, err)
		default:
			st.Operations[id] = &op
		}
	}
	return st
}

// txVersions lists the Versions a Tx carries, in order.
func txVersions(tx broker.Tx) []int64 {
	var v []int64
	for _, in := range tx.Instances {
		v = append(v, in.Version)
	}
	for _, op := range tx.Operations {
		v = append(v, op.Version)
	}
	for _, b := range tx.Bindings {
		v = append(v, b.Version)
	}
	for _, b := range tx.DeleteBindings {
		v = append(v, b.Version)
	}
	return v
}

func testTxInvalid(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	b := broker.Binding{InstanceID: "inst-1", ID: "b-1"}
	mustCommit(t, s, broker.Tx{Bindings: []*broker.Binding{&b}})

	tests := []struct {
		name string
		tx   broker.Tx
	}{
		{"instance twice", broker.Tx{Instances: []*broker.Instance{{ID: "inst-d"}, {ID: "inst-d", PlanID: "other"}}}},
		{"operation twice", broker.Tx{Operations: []*broker.Operation{{ID: "op-d"}, {ID: "op-d", Phase: "other"}}}},
		{"binding written and deleted", broker.Tx{
			Instances:      []*broker.Instance{{ID: "inst-d"}},
			Bindings:       []*broker.Binding{{InstanceID: "inst-1", ID: "b-1", AppGUID: "other", Version: 1}},
			DeleteBindings: []*broker.Binding{{InstanceID: "inst-1", ID: "b-1", Version: 1}},
		}},
	}
	for _, tt := range tests {
		err := s.Commit(ctx, tt.tx)
		if err == nil || errors.Is(err, broker.ErrConflict) {
			t.Errorf("Commit(%s) = %v, want an error not matching ErrConflict", tt.name, err)
		}
	}
	_, err := s.GetInstance(ctx, "inst-d")
	wantErr(t, "GetInstance after invalid Txs", err, broker.ErrNotFound)
	_, err = s.GetOperation(ctx, "op-d")
	wantErr(t, "GetOperation after invalid Txs", err, broker.ErrNotFound)
	if diff := cmp.Diff(b, mustGetBinding(t, s, "inst-1", "b-1"), recordOpts); diff != "" {
		t.Errorf("binding changed by an invalid Tx (-want +got):\n%s", diff)
	}
}

func testDeleteBindings(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	b1 := broker.Binding{InstanceID: "inst-1", ID: "b-1", AppGUID: "app-1"}
	b2 := broker.Binding{InstanceID: "inst-1", ID: "b-2", AppGUID: "app-2"}
	mustCommit(t, s, broker.Tx{Bindings: []*broker.Binding{&b1, &b2}})
	b1.AppGUID = "app-1b"
	mustCommit(t, s, broker.Tx{Bindings: []*broker.Binding{&b1}}) // b-1 at Version 2

	stale := b1
	stale.Version = 1
	wantErr(t, "delete with a stale Version", s.Commit(ctx, broker.Tx{DeleteBindings: []*broker.Binding{&stale}}), broker.ErrConflict)
	if diff := cmp.Diff(b1, mustGetBinding(t, s, "inst-1", "b-1"), recordOpts); diff != "" {
		t.Errorf("binding after a stale delete (-want +got):\n%s", diff)
	}
	unborn := broker.Binding{InstanceID: "inst-1", ID: "b-1"}
	wantErr(t, "delete with Version 0", s.Commit(ctx, broker.Tx{DeleteBindings: []*broker.Binding{&unborn}}), broker.ErrConflict)
	absent := broker.Binding{InstanceID: "inst-1", ID: "b-absent", Version: 1}
	wantErr(t, "delete of an absent binding", s.Commit(ctx, broker.Tx{DeleteBindings: []*broker.Binding{&absent}}), broker.ErrConflict)

	deleted := b1
	mustCommit(t, s, broker.Tx{DeleteBindings: []*broker.Binding{&deleted}})
	_, err := s.GetBinding(ctx, "inst-1", "b-1")
	wantErr(t, "GetBinding after delete", err, broker.ErrNotFound)
	if diff := cmp.Diff([]broker.Binding{b2}, mustListBindings(t, s, "inst-1"), recordOpts); diff != "" {
		t.Errorf("ListBindings after delete (-want +got):\n%s", diff)
	}
	wantErr(t, "second delete", s.Commit(ctx, broker.Tx{DeleteBindings: []*broker.Binding{&deleted}}), broker.ErrConflict)

	// The last binding of an instance goes too, and a binding can be created again.
	mustCommit(t, s, broker.Tx{DeleteBindings: []*broker.Binding{&b2}})
	if bs := mustListBindings(t, s, "inst-1"); len(bs) != 0 {
		t.Errorf("ListBindings after deleting all = %v, want none", ids(bs, bindingID))
	}
	again := broker.Binding{InstanceID: "inst-1", ID: "b-1", AppGUID: "app-again"}
	mustCommit(t, s, broker.Tx{Bindings: []*broker.Binding{&again}})
	if again.Version != 1 {
		t.Errorf("Version of a binding created again = %d, want 1", again.Version)
	}
	if diff := cmp.Diff(again, mustGetBinding(t, s, "inst-1", "b-1"), recordOpts); diff != "" {
		t.Errorf("binding created again (-want +got):\n%s", diff)
	}
}

func testRoundTripAllFields(t *testing.T, newStore factory) {
	s := newStore(t)
	in := fullInstance("inst-1")
	op := fullOperation("op-1", "inst-1")
	b := fullBinding("inst-1", "b-1")
	requireFull(t, in)
	requireFull(t, op)
	requireFull(t, b)
	mustCommit(t, s, broker.Tx{
		Instances:  []*broker.Instance{&in},
		Operations: []*broker.Operation{&op},
		Bindings:   []*broker.Binding{&b},
	})

	gotIn := mustGetInstance(t, s, "inst-1")
	if diff := cmp.Diff(in, gotIn, recordOpts); diff != "" {
		t.Errorf("GetInstance (-want +got):\n%s", diff)
	}
	checkUTC(t, gotIn)
	gotOp := mustGetOperation(t, s, "op-1")
	if diff := cmp.Diff(op, gotOp, recordOpts); diff != "" {
		t.Errorf("GetOperation (-want +got):\n%s", diff)
	}
	checkUTC(t, gotOp)
	gotB := mustGetBinding(t, s, "inst-1", "b-1")
	if diff := cmp.Diff(b, gotB, recordOpts); diff != "" {
		t.Errorf("GetBinding (-want +got):\n%s", diff)
	}
	checkUTC(t, gotB)

	// The listings return the same records.
	if diff := cmp.Diff([]broker.Instance{in}, mustListAllInstances(t, s, 10), recordOpts); diff != "" {
		t.Errorf("ListInstances (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]broker.Operation{op}, mustActive(t, s), recordOpts); diff != "" {
		t.Errorf("ActiveOperations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]broker.Binding{b}, mustListBindings(t, s, "inst-1"), recordOpts); diff != "" {
		t.Errorf("ListBindings (-want +got):\n%s", diff)
	}
}

func testRoundTripZeroValues(t *testing.T, newStore factory) {
	s := newStore(t)
	in := broker.Instance{ID: "inst-0"}
	op := broker.Operation{ID: "op-0"}
	b := broker.Binding{InstanceID: "inst-0", ID: "b-0"}
	mustCommit(t, s, broker.Tx{
		Instances:  []*broker.Instance{&in},
		Operations: []*broker.Operation{&op},
		Bindings:   []*broker.Binding{&b},
	})
	gotIn := mustGetInstance(t, s, "inst-0")
	if diff := cmp.Diff(broker.Instance{ID: "inst-0", Version: 1}, gotIn, recordOpts); diff != "" {
		t.Errorf("GetInstance (-want +got):\n%s", diff)
	}
	gotOp := mustGetOperation(t, s, "op-0")
	if diff := cmp.Diff(broker.Operation{ID: "op-0", Version: 1}, gotOp, recordOpts); diff != "" {
		t.Errorf("GetOperation (-want +got):\n%s", diff)
	}
	gotB := mustGetBinding(t, s, "inst-0", "b-0")
	if diff := cmp.Diff(broker.Binding{InstanceID: "inst-0", ID: "b-0", Version: 1}, gotB, recordOpts); diff != "" {
		t.Errorf("GetBinding (-want +got):\n%s", diff)
	}
	// The comparer truncates; zero times must stay exactly zero.
	if !gotIn.CreatedAt.IsZero() || !gotOp.Deadline.IsZero() || !gotOp.EndedAt.IsZero() || !gotB.CreatedAt.IsZero() {
		t.Errorf("zero times came back as %v, %v, %v, %v", gotIn.CreatedAt, gotOp.Deadline, gotOp.EndedAt, gotB.CreatedAt)
	}
	if ops := mustActive(t, s); len(ops) != 0 {
		t.Errorf("ActiveOperations = %v, want none (no operation is in progress)", ids(ops, operationID))
	}
}

func testRecordsAreValues(t *testing.T, newStore factory) {
	s := newStore(t)
	in := fullInstance("inst-1")
	op := fullOperation("op-1", "inst-1")
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}})
	wantIn, wantOp := fullInstance("inst-1"), fullOperation("op-1", "inst-1")
	wantIn.Version, wantOp.Version = 1, 1

	// Changing what was written does not change what is stored.
	in.Context[1] = 'X'
	in.Parameters[0] = 42
	op.Labels["tier"] = "changed"
	op.Inputs[0] = 42
	gotIn, gotOp := mustGetInstance(t, s, "inst-1"), mustGetOperation(t, s, "op-1")
	if diff := cmp.Diff(wantIn, gotIn, recordOpts); diff != "" {
		t.Errorf("instance after changing the written struct (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOp, gotOp, recordOpts); diff != "" {
		t.Errorf("operation after changing the written struct (-want +got):\n%s", diff)
	}

	// Nor does changing what was read.
	gotIn.Context[1] = 'Y'
	gotIn.Parameters[0] = 43
	gotOp.Labels["tier"] = "read and changed"
	gotOp.Inputs[0] = 43
	if diff := cmp.Diff(wantIn, mustGetInstance(t, s, "inst-1"), recordOpts); diff != "" {
		t.Errorf("instance after changing a read struct (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOp, mustGetOperation(t, s, "op-1"), recordOpts); diff != "" {
		t.Errorf("operation after changing a read struct (-want +got):\n%s", diff)
	}
}
