package dynamostore_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
)

// pollReads polls the instance and checks the answer's operation and description, and
// the DynamoDB reads and read units the poll took.
func pollReads(t *testing.T, tbl *dynamostore.Table, name, instanceID, operation, wantID, wantDescription string, reads int64, units float64) {
	t.Helper()
	before := tbl.Stats()
	st, err := tbl.OperationStatus(t.Context(), instanceID, operation)
	if err != nil || st.ID != wantID || st.Description != wantDescription {
		t.Errorf("%s: OperationStatus = %+v, %v; want %s, %q", name, st, err, wantID, wantDescription)
	}
	got := tbl.Stats().Sub(before)
	if got.Reads != reads {
		t.Errorf("%s: %d reads, want %d", name, got.Reads, reads)
	}
	// DynamoDB bills an eventually consistent read of up to 4 KB half a unit, a
	// consistent one a unit (a Query: its items' sizes added up).
	if got.ReadUnits != units {
		t.Errorf("%s: %v read units, want %v", name, got.ReadUnits, units)
	}
}

func mustCommit(t *testing.T, tbl *dynamostore.Table, tx broker.Tx) {
	t.Helper()
	if err := tbl.Commit(t.Context(), tx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestOperationStatusReads counts the DynamoDB reads of a last_operation poll: one
// eventually consistent GetItem when the poll names its operation; without it, the
// instance and its operation the first time, then one consistent Query of the
// operation's partition (the operation and its successor item, if any) while the
// instance names the same operation.
func TestOperationStatusReads(t *testing.T) {
	tbl, _ := newTable(t)
	in := broker.Instance{ID: "inst-1", OperationID: "op-1"}
	op := broker.Operation{ID: "op-1", InstanceID: "inst-1", Type: broker.OpProvision, State: broker.StateInProgress, Description: "installing"}
	other := broker.Operation{ID: "op-9", InstanceID: "inst-9", State: broker.StateInProgress}
	bind := broker.Operation{ID: "bind-1", InstanceID: "inst-1", BindingID: "b-1", Type: broker.OpBind, State: broker.StateInProgress}
	mustCommit(t, tbl, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op, &other, &bind}})

	pollReads(t, tbl, "named", "inst-1", "op-1", "op-1", "installing", 1, 0.5)
	pollReads(t, tbl, "unnamed, first", "inst-1", "", "op-1", "installing", 2, 2)
	pollReads(t, tbl, "unnamed", "inst-1", "", "op-1", "installing", 1, 1)
	pollReads(t, tbl, "another instance's operation named", "inst-1", "op-9", "op-1", "installing", 2, 1.5)
	pollReads(t, tbl, "a binding's operation named", "inst-1", "bind-1", "op-1", "installing", 2, 1.5)

	// A step writes the operation alone, a PutItem: the next poll sees it in one read.
	op.Description = "installing (2 of 5)"
	mustCommit(t, tbl, broker.Tx{Operations: []*broker.Operation{&op}})
	pollReads(t, tbl, "unnamed after a step", "inst-1", "", "op-1", "installing (2 of 5)", 1, 1)

	// The end, with the instance: it still names op-1.
	op.State, op.Description = broker.StateSucceeded, "installed"
	in.OperationState = broker.StateSucceeded
	mustCommit(t, tbl, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}})
	pollReads(t, tbl, "unnamed after the end", "inst-1", "", "op-1", "installed", 1, 1)

	// A new operation: op-1 has a successor, so the instance is read again, once.
	op2 := broker.Operation{ID: "op-2", InstanceID: "inst-1", Type: broker.OpUpdate, State: broker.StateInProgress, Description: "updating"}
	in.OperationID = op2.ID
	mustCommit(t, tbl, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op2}})
	pollReads(t, tbl, "unnamed after a new operation", "inst-1", "", "op-2", "updating", 3, 3)
	pollReads(t, tbl, "unnamed on the new operation", "inst-1", "", "op-2", "updating", 1, 1)
	pollReads(t, tbl, "the older operation named", "inst-1", "op-1", "op-1", "installed", 1, 0.5)
}

// TestOperationStatusSuccessor: a poll without the operation never answers an
// operation the instance no longer names, whichever Table (another process) wrote
// the change; and an operation whose instance is re-provisioned after a deprovision
// is not answered for the new one.
func TestOperationStatusSuccessor(t *testing.T) {
	tbl, client := newTable(t)
	writer := dynamostore.New(client, tbl.Name()) // another process: the step function, another api container
	in := broker.Instance{ID: "inst-1", OperationID: "dep-1", State: broker.InstanceDeprovisioning}
	dep := broker.Operation{ID: "dep-1", InstanceID: "inst-1", Type: broker.OpDeprovision, State: broker.StateInProgress, Description: "deleting"}
	mustCommit(t, writer, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&dep}})
	pollReads(t, tbl, "deprovisioning", "inst-1", "", "dep-1", "deleting", 2, 2)

	dep.State, dep.Description = broker.StateSucceeded, "deleted"
	in.State, in.OperationState = broker.InstanceGone, broker.StateSucceeded
	mustCommit(t, writer, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&dep}})
	pollReads(t, tbl, "deprovisioned", "inst-1", "", "dep-1", "deleted", 1, 1)

	// Provisioned again over the tombstone.
	prov := broker.Operation{ID: "prov-2", InstanceID: "inst-1", Type: broker.OpProvision, State: broker.StateInProgress, Description: "creating"}
	in.State, in.OperationID, in.OperationState = broker.InstanceProvisioning, prov.ID, broker.StateInProgress
	mustCommit(t, writer, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&prov}})
	pollReads(t, tbl, "provisioned again", "inst-1", "", "prov-2", "creating", 3, 3)

	// The instance named dep-1 again (an operator's doing): dep-1 keeps its successor
	// item, so polls read the instance every time, and answer dep-1.
	in.OperationID = dep.ID
	mustCommit(t, writer, broker.Tx{Instances: []*broker.Instance{&in}})
	pollReads(t, tbl, "back to an older operation", "inst-1", "", "dep-1", "deleted", 3, 3)
	pollReads(t, tbl, "back to an older operation, again", "inst-1", "", "dep-1", "deleted", 3, 3)

	// The operation remembered is gone (expired): the instance is read.
	in.OperationID = prov.ID
	mustCommit(t, writer, broker.Tx{Instances: []*broker.Instance{&in}})
	pollReads(t, tbl, "forward again", "inst-1", "", "prov-2", "creating", 3, 3)
	if _, err := client.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(tbl.Name()), Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "OP#prov-2"}, "SK": &types.AttributeValueMemberS{Value: "META"},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.OperationStatus(t.Context(), "inst-1", ""); err == nil {
		t.Errorf("OperationStatus of an instance whose operation is gone: no error")
	}
}
