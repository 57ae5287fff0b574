package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/google/go-cmp/cmp"
)

func testActiveOperations(t *testing.T, newStore factory) {
	s := newStore(t)
	at := func(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }
	// Ids sort differently from creation times, and records are written out of order.
	a := broker.Operation{ID: "op-a", State: broker.StateInProgress, CreatedAt: at(3)}
	b := broker.Operation{ID: "op-b", State: broker.StateInProgress, CreatedAt: at(1)}
	c := broker.Operation{ID: "op-c", State: broker.StateSucceeded, CreatedAt: at(2)}
	d := broker.Operation{ID: "op-d", State: broker.StateInProgress, CreatedAt: at(0)}
	e := broker.Operation{ID: "op-e", State: broker.StateFailed, CreatedAt: at(4)}
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&a, &b}})
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&c}})
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&e, &d}})

	check := func(when string, want ...broker.Operation) {
		t.Helper()
		if diff := cmp.Diff(want, mustActive(t, s), recordOpts); diff != "" {
			t.Errorf("ActiveOperations %s (-want +got):\n%s", when, diff)
		}
	}
	check("after create", d, b, a)

	// Writing an operation that stays in progress lists it once, in its place.
	b.Steps++
	b.Phase = "next"
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&b}})
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&b}})
	check("after updates in progress", d, b, a)

	d.State = broker.StateSucceeded
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&d}})
	check("after one succeeded", b, a)

	a.State = broker.StateFailed
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&a}})
	check("after one failed", b)

	// Ended operations stay ended when written again.
	a.Description = "failed: timed out"
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&a}})
	check("after writing an ended operation", b)

	b.State = broker.StateSucceeded
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&b}})
	check("after all ended")
}

func testListInstancesPaging(t *testing.T, newStore factory) {
	s := newStore(t)
	// Written out of id order, one Tx with several and several Txs.
	all := []string{"i-01", "i-02", "i-03", "i-04", "i-05", "i-06", "i-07"}
	written := make(map[string]broker.Instance)
	for _, batch := range [][]string{{"i-05", "i-02"}, {"i-07"}, {"i-01", "i-06", "i-03"}, {"i-04"}} {
		var tx broker.Tx
		for _, id := range batch {
			in := broker.Instance{ID: id, PlanID: "plan-" + id}
			tx.Instances = append(tx.Instances, &in)
		}
		mustCommit(t, s, tx)
		for _, in := range tx.Instances {
			written[in.ID] = *in
		}
	}
	for _, limit := range []int{1, 2, 3, 6, 7, 8, 100} {
		got := mustListAllInstances(t, s, limit)
		if diff := cmp.Diff(all, ids(got, instanceID)); diff != "" {
			t.Errorf("ids listed with limit %d (-want +got):\n%s", limit, diff)
		}
		for _, in := range got {
			if diff := cmp.Diff(written[in.ID], in, recordOpts); diff != "" {
				t.Errorf("instance %s listed with limit %d (-want +got):\n%s", in.ID, limit, diff)
			}
		}
	}
	// A full first page says whether there is more.
	page, next, err := s.ListInstances(t.Context(), "", 3)
	if err != nil || len(page) != 3 || next == "" {
		t.Errorf("ListInstances(\"\", 3) = %v, %q, %v; want 3 instances and a cursor", ids(page, instanceID), next, err)
	}
}

func testListInstancesAfter(t *testing.T, newStore factory) {
	s := newStore(t)
	var tx broker.Tx
	for _, id := range []string{"i-01", "i-02", "i-03", "i-04", "i-05"} {
		tx.Instances = append(tx.Instances, &broker.Instance{ID: id})
	}
	mustCommit(t, s, tx)
	tests := []struct {
		after string
		want  []string
	}{
		{"", []string{"i-01", "i-02", "i-03", "i-04", "i-05"}},
		{"i-01", []string{"i-02", "i-03", "i-04", "i-05"}},
		{"i-025", []string{"i-03", "i-04", "i-05"}},
		{"i-04", []string{"i-05"}},
		{"i-05", nil},
		{"z", nil},
	}
	for _, tt := range tests {
		got, next, err := s.ListInstances(t.Context(), tt.after, 100)
		if err != nil {
			t.Fatalf("ListInstances(%q, 100): %v", tt.after, err)
		}
		if diff := cmp.Diff(tt.want, ids(got, instanceID), recordOpts); diff != "" {
			t.Errorf("ListInstances(%q, 100) ids (-want +got):\n%s", tt.after, diff)
		}
		if next != "" {
			t.Errorf("ListInstances(%q, 100) cursor = %q, want \"\" at the end", tt.after, next)
		}
	}
}

func testListBindings(t *testing.T, newStore factory) {
	s := newStore(t)
	// inst-1 is a prefix of inst-10, and both have a binding b-1.
	var tx broker.Tx
	for _, k := range [][2]string{{"inst-1", "b-2"}, {"inst-1", "b-1"}, {"inst-10", "b-1"}, {"inst-1", "b-3"}, {"inst-2", "b-9"}} {
		b := fullBinding(k[0], k[1])
		b.AppGUID = "app-" + k[0] + "-" + k[1]
		tx.Bindings = append(tx.Bindings, &b)
	}
	mustCommit(t, s, tx)
	want := func(instanceID string, bindingIDs ...string) []broker.Binding {
		var out []broker.Binding
		for _, id := range bindingIDs {
			b := fullBinding(instanceID, id)
			b.AppGUID = "app-" + instanceID + "-" + id
			b.Version = 1
			out = append(out, b)
		}
		return out
	}
	tests := []struct {
		instanceID string
		want       []broker.Binding
	}{
		{"inst-1", want("inst-1", "b-1", "b-2", "b-3")},
		{"inst-10", want("inst-10", "b-1")},
		{"inst-2", want("inst-2", "b-9")},
		{"inst-3", nil},
		{"inst", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, mustListBindings(t, s, tt.instanceID), recordOpts); diff != "" {
			t.Errorf("ListBindings(%q) (-want +got):\n%s", tt.instanceID, diff)
		}
	}
	if diff := cmp.Diff(want("inst-10", "b-1")[0], mustGetBinding(t, s, "inst-10", "b-1"), recordOpts); diff != "" {
		t.Errorf("GetBinding(inst-10, b-1) (-want +got):\n%s", diff)
	}
}

func testCatalog(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	_, err := s.GetCatalog(ctx)
	wantErr(t, "GetCatalog before PutCatalog", err, broker.ErrNotFound)

	c := fullCatalog()
	if err := s.PutCatalog(ctx, c); err != nil {
		t.Fatalf("PutCatalog: %v", err)
	}
	got, err := s.GetCatalog(ctx)
	if err != nil {
		t.Fatalf("GetCatalog: %v", err)
	}
	if diff := cmp.Diff(fullCatalog(), got, catalogOpts); diff != "" {
		t.Errorf("GetCatalog (-want +got):\n%s", diff)
	}
	checkUTC(t, got)

	// A put replaces the whole catalog: nothing of the first one remains.
	c2 := broker.Catalog{ETag: "etag-2", SyncedAt: t0.Add(time.Hour), Services: []broker.Service{{ID: "svc-2", Name: "queue", Plans: []broker.Plan{{ID: "plan-q", Name: "q"}}}}}
	if err := s.PutCatalog(ctx, c2); err != nil {
		t.Fatalf("PutCatalog (replace): %v", err)
	}
	got, err = s.GetCatalog(ctx)
	if err != nil {
		t.Fatalf("GetCatalog: %v", err)
	}
	if diff := cmp.Diff(c2, got, catalogOpts); diff != "" {
		t.Errorf("GetCatalog after replace (-want +got):\n%s", diff)
	}
}

func testOverlay(t *testing.T, newStore factory) {
	s := newStore(t)
	ctx := t.Context()
	_, err := s.GetOverlay(ctx)
	wantErr(t, "GetOverlay before PutOverlay", err, broker.ErrNotFound)

	docs := [][]byte{
		[]byte("services:\n  - id: svc-db\n    plans: [small]\n"),
		{0, 1, 2, 0xff},
		[]byte(`{"services":{}}`),
		{},
	}
	for i, doc := range docs {
		if err := s.PutOverlay(ctx, bytes.Clone(doc)); err != nil {
			t.Fatalf("PutOverlay #%d: %v", i, err)
		}
		got, err := s.GetOverlay(ctx)
		if err != nil {
			t.Fatalf("GetOverlay after put #%d: %v", i, err)
		}
		if got == nil || !bytes.Equal(got, doc) {
			t.Errorf("GetOverlay after put #%d = %q, want %q (non-nil)", i, got, doc)
		}
	}
}
