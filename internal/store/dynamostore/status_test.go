package dynamostore_test

import (
	"testing"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// TestOperationStatusReads counts the DynamoDB reads of a last_operation poll: one
// eventually consistent GetItem when the poll names its operation; two consistent ones
// without it, or when the named operation is not the instance's.
func TestOperationStatusReads(t *testing.T) {
	tbl, _ := newTable(t)
	ctx := t.Context()
	in := broker.Instance{ID: "inst-1", OperationID: "op-1"}
	op := broker.Operation{ID: "op-1", InstanceID: "inst-1", Type: broker.OpProvision, State: broker.StateInProgress, Description: "installing"}
	other := broker.Operation{ID: "op-9", InstanceID: "inst-9", State: broker.StateInProgress}
	if err := tbl.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op, &other}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		operation string
		reads     int64
		units     float64
	}{
		{"named", "op-1", 1, 0.5},
		{"unnamed", "", 2, 2},
		{"another instance's operation named", "op-9", 3, 2.5},
	} {
		before := tbl.Stats()
		st, err := tbl.OperationStatus(ctx, "inst-1", tt.operation)
		if err != nil || st.ID != "op-1" || st.Description != "installing" || st.Type != broker.OpProvision {
			t.Errorf("%s: OperationStatus = %+v, %v; want op-1", tt.name, st, err)
		}
		got := tbl.Stats().Sub(before)
		if got.Reads != tt.reads {
			t.Errorf("%s: %d reads, want %d", tt.name, got.Reads, tt.reads)
		}
		// DynamoDB bills an eventually consistent read of up to 4 KB half a unit, a
		// consistent one a unit.
		if got.ReadUnits != tt.units {
			t.Errorf("%s: %v read units, want %v", tt.name, got.ReadUnits, tt.units)
		}
	}
}
