package dynamostore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/google/go-cmp/cmp"
)

// These tests need no server: they check the mapping of records to items, of
// DynamoDB errors to the domain's, and the requests that Commit makes.

var (
	zone = time.FixedZone("UTC+05:30", 5*3600+30*60)
	t0   = time.Date(2025, 3, 14, 15, 9, 26, 535897932, zone)
	// clock is the Table's "now" in these tests.
	clock = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
)

func fullInstance() broker.Instance {
	return broker.Instance{
		ID: "inst-1", ServiceID: "svc", PlanID: "plan", OrganizationGUID: "org", SpaceGUID: "space",
		Context:     json.RawMessage(`{"platform": "cloudfoundry", "x":"<&>"}`),
		Fingerprint: "fp", Parameters: []byte{0, 1, 0xff}, DeploymentID: "dep", BlueprintID: "bp",
		MaintenanceVersion: "1.2.3", DashboardURL: "https://dash", State: broker.InstanceReady,
		OperationID: "op-1", OperationType: broker.OpProvision, OperationState: broker.StateSucceeded,
		CreatedAt: t0, UpdatedAt: t0.Add(time.Minute), Version: 4,
	}
}

func fullOperation() broker.Operation {
	return broker.Operation{
		ID: "op-1", Type: broker.OpUpdate, InstanceID: "inst-1", State: broker.StateInProgress,
		Description: "updating «x»", Phase: "await", DeploymentID: "dep", BlueprintID: "bp",
		ServiceID: "svc", PlanID: "large", PreviousPlanID: "small", MaintenanceVersion: "1.3.0",
		Inputs: []byte{0xde, 0xad, 0}, Parameters: []byte{0}, Fingerprint: "fp",
		Labels:      map[string]string{"a": "b", "empty": ""},
		ExecutionID: "ex", UpdateID: "up", SupersededBy: "op-2",
		Deadline: t0.Add(time.Hour), NextCheck: t0.Add(time.Second + 1), Steps: 3, Retries: 1,
		RequestID: "req", Identity: "user", CreatedAt: t0, UpdatedAt: t0.Add(time.Minute),
		EndedAt: t0.Add(2 * time.Minute), CloudifyEndedAt: t0.Add(90 * time.Second), Version: 2,
	}
}

func fullBinding() broker.Binding {
	return broker.Binding{
		InstanceID: "inst-1", ID: "b-1", ServiceID: "svc", PlanID: "plan", AppGUID: "app",
		Fingerprint: "fp", Parameters: []byte{9, 0}, Context: json.RawMessage(`{"a":1}`),
		CreatedAt: t0, Version: 1,
	}
}

// roundTrip marshals an item struct and decodes the attribute map into out.
func roundTrip(t *testing.T, item any, typ string, out any) map[string]types.AttributeValue {
	t.Helper()
	av, err := marshalItem(item)
	if err != nil {
		t.Fatalf("marshalItem: %v", err)
	}
	if err := decodeItem(av, typ, out); err != nil {
		t.Fatalf("decodeItem: %v", err)
	}
	return av
}

func TestItemRoundTrip(t *testing.T) {
	utc := func(tm time.Time) time.Time { return tm.UTC() }
	t.Run("instance", func(t *testing.T) {
		in := fullInstance()
		var it instanceItem
		roundTrip(t, newInstanceItem(in, in.Version, clock, DefaultRetention), typeInstance, &it)
		want := in
		want.CreatedAt, want.UpdatedAt = utc(in.CreatedAt), utc(in.UpdatedAt)
		if diff := cmp.Diff(want, it.instance()); diff != "" {
			t.Errorf("instance (-want +got):\n%s", diff)
		}
	})
	t.Run("operation", func(t *testing.T) {
		op := fullOperation()
		var it operationItem
		roundTrip(t, newOperationItem(op, op.Version, clock, DefaultRetention), typeOperation, &it)
		want := op
		for _, tm := range []*time.Time{&want.Deadline, &want.NextCheck, &want.CreatedAt, &want.UpdatedAt, &want.EndedAt, &want.CloudifyEndedAt} {
			*tm = utc(*tm)
		}
		if diff := cmp.Diff(want, it.operation()); diff != "" {
			t.Errorf("operation (-want +got):\n%s", diff)
		}
	})
	t.Run("binding", func(t *testing.T) {
		b := fullBinding()
		var it bindingItem
		roundTrip(t, newBindingItem(b, b.Version), typeBinding, &it)
		want := b
		want.CreatedAt = utc(b.CreatedAt)
		if diff := cmp.Diff(want, it.binding()); diff != "" {
			t.Errorf("binding (-want +got):\n%s", diff)
		}
	})
	t.Run("zero values", func(t *testing.T) {
		var it operationItem
		av := roundTrip(t, newOperationItem(broker.Operation{ID: "op-0"}, 1, clock, DefaultRetention), typeOperation, &it)
		if diff := cmp.Diff(broker.Operation{ID: "op-0", Version: 1}, it.operation()); diff != "" {
			t.Errorf("operation (-want +got):\n%s", diff)
		}
		// Empty fields are absent, not stored as empty values.
		var names []string
		for name := range av {
			names = append(names, name)
		}
		want := map[string]bool{"PK": true, "SK": true, "type": true, "schema": true, "id": true, "version": true}
		for _, name := range names {
			if !want[name] {
				t.Errorf("zero operation stored attribute %q", name)
			}
		}
	})
}

func TestItemAttributes(t *testing.T) {
	const ret = 10 * 24 * time.Hour
	inProgress := fullOperation()
	succeeded := fullOperation()
	succeeded.State = broker.StateSucceeded
	failedNoEnd := fullOperation()
	failedNoEnd.State, failedNoEnd.EndedAt = broker.StateFailed, time.Time{}
	failedNoTimes := broker.Operation{ID: "op-9", State: broker.StateFailed}
	tombstone := fullInstance()
	tombstone.State = broker.InstanceGone
	tombstoneNoTime := broker.Instance{ID: "inst-9", State: broker.InstanceGone}

	tests := []struct {
		name string
		item any
		want itemHeader
	}{
		{"live instance", newInstanceItem(fullInstance(), 1, clock, ret),
			itemHeader{itemKey: itemKey{"INSTANCE#inst-1", "META"}, GSI1PK: "INSTANCE", GSI1SK: "inst-1"}},
		{"tombstone", newInstanceItem(tombstone, 1, clock, ret),
			itemHeader{itemKey: itemKey{"INSTANCE#inst-1", "META"}, GSI1PK: "INSTANCE", GSI1SK: "inst-1", ExpiresAt: t0.Add(time.Minute + ret).Unix()}},
		{"tombstone without times", newInstanceItem(tombstoneNoTime, 1, clock, ret),
			itemHeader{itemKey: itemKey{"INSTANCE#inst-9", "META"}, GSI1PK: "INSTANCE", GSI1SK: "inst-9", ExpiresAt: clock.Add(ret).Unix()}},
		{"tombstone, no retention", newInstanceItem(tombstone, 1, clock, 0),
			itemHeader{itemKey: itemKey{"INSTANCE#inst-1", "META"}, GSI1PK: "INSTANCE", GSI1SK: "inst-1"}},
		{"operation in progress", newOperationItem(inProgress, 1, clock, ret),
			itemHeader{itemKey: itemKey{"OP#op-1", "META"}, GSI1PK: "ACTIVE_OP", GSI1SK: "2025-03-14T09:39:26.535897932Z#op-1"}},
		{"operation succeeded", newOperationItem(succeeded, 1, clock, ret),
			itemHeader{itemKey: itemKey{"OP#op-1", "META"}, ExpiresAt: t0.Add(2*time.Minute + ret).Unix()}},
		{"operation failed without EndedAt", newOperationItem(failedNoEnd, 1, clock, ret),
			itemHeader{itemKey: itemKey{"OP#op-1", "META"}, ExpiresAt: t0.Add(time.Minute + ret).Unix()}},
		{"operation failed without times", newOperationItem(failedNoTimes, 1, clock, ret),
			itemHeader{itemKey: itemKey{"OP#op-9", "META"}, ExpiresAt: clock.Add(ret).Unix()}},
		{"binding", newBindingItem(fullBinding(), 1),
			itemHeader{itemKey: itemKey{"INSTANCE#inst-1", "BINDING#b-1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			av, err := marshalItem(tt.item)
			if err != nil {
				t.Fatal(err)
			}
			var got itemHeader
			if err := attributevalue.UnmarshalMap(av, &got); err != nil {
				t.Fatal(err)
			}
			got.Kind, got.Schema = "", 0
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(itemHeader{})); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			// The time to live is a number, as DynamoDB requires.
			if e, ok := av[AttrExpiresAt]; ok {
				if _, isN := e.(*types.AttributeValueMemberN); !isN {
					t.Errorf("%s is %T, want a number", AttrExpiresAt, e)
				}
			}
		})
	}
}

func TestActiveSortKeyOrder(t *testing.T) {
	times := []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 0),
		time.Date(2025, 3, 14, 16, 9, 26, 0, zone), // 10:39:26 UTC
		time.Date(2025, 3, 14, 15, 9, 26, 500000000, time.UTC),
		time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC),
		time.Date(2025, 3, 14, 15, 9, 27, 0, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		if !times[i-1].Before(times[i]) {
			t.Fatalf("test times out of order at %d", i)
		}
		a, b := activeSortKey(times[i-1], "z"), activeSortKey(times[i], "a")
		if a >= b {
			t.Errorf("activeSortKey(%v) = %q sorts at or after activeSortKey(%v) = %q", times[i-1], a, times[i], b)
		}
	}
	if a, b := activeSortKey(t0, "op-a"), activeSortKey(t0, "op-b"); a >= b {
		t.Error("activeSortKey does not break ties by id")
	}
}

func TestDecodeRefuses(t *testing.T) {
	av, err := marshalItem(newInstanceItem(fullInstance(), 1, clock, 0))
	if err != nil {
		t.Fatal(err)
	}
	var it instanceItem
	if err := decodeItem(av, typeOperation, &it); err == nil {
		t.Error("decodeItem of an instance as an operation succeeded")
	}
	av["schema"] = &types.AttributeValueMemberN{Value: "2"}
	if err := decodeItem(av, typeInstance, &it); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("decodeItem of schema 2: error %v, want a schema error", err)
	}
}

func TestMapWriteError(t *testing.T) {
	ws := []write{{what: `instance "inst-1" (version 1)`}, {what: `operation "op-1" (new)`}}
	// opError wraps err as the SDK does.
	opError := func(err error) error {
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "TransactWriteItems", Err: err}
	}
	canceled := func(codes ...string) error {
		var reasons []types.CancellationReason
		for _, c := range codes {
			reasons = append(reasons, types.CancellationReason{Code: aws.String(c)})
		}
		return opError(&types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons})
	}
	other := opError(&types.ProvisionedThroughputExceededException{Message: aws.String("slow down")})
	validation := canceled("None", "ValidationError")
	tests := []struct {
		name     string
		err      error
		ws       []write
		conflict bool
		mention  string // in the message
		same     bool   // err comes back unchanged
	}{
		{name: "nil", err: nil, same: true},
		{name: "condition failed", err: opError(&types.ConditionalCheckFailedException{Message: aws.String("failed")}), ws: ws[:1], conflict: true, mention: `instance "inst-1"`},
		{name: "condition failed, wrapped", err: fmt.Errorf("x: %w", opError(&types.ConditionalCheckFailedException{})), ws: ws[:1], conflict: true},
		{name: "second item failed", err: canceled("None", "ConditionalCheckFailed"), ws: ws, conflict: true, mention: `operation "op-1"`},
		{name: "both failed", err: canceled("ConditionalCheckFailed", "ConditionalCheckFailed"), ws: ws, conflict: true, mention: `instance "inst-1" (version 1), operation "op-1"`},
		{name: "transaction conflict", err: canceled("TransactionConflict", "None"), ws: ws, conflict: true, mention: "another transaction"},
		{name: "validation", err: validation, ws: ws, same: true},
		{name: "throughput", err: other, ws: ws, same: true},
		{name: "more reasons than writes", err: canceled("None", "None", "ConditionalCheckFailed"), ws: ws, conflict: true, mention: "item 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mapWriteError(tt.err, tt.ws)
			if errors.Is(got, broker.ErrConflict) != tt.conflict {
				t.Errorf("mapWriteError = %v; matches ErrConflict: %v, want %v", got, !tt.conflict, tt.conflict)
			}
			if tt.same && got != tt.err {
				t.Errorf("mapWriteError = %v, want the error unchanged", got)
			}
			if tt.mention != "" && !strings.Contains(got.Error(), tt.mention) {
				t.Errorf("mapWriteError = %q, want it to mention %q", got, tt.mention)
			}
		})
	}
}

// fakeAPI is an API whose methods call its fields; a nil field fails the call.
type fakeAPI struct {
	getItem  func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
	putItem  func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error)
	delItem  func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error)
	query    func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error)
	transact func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error)
}

var errUnexpected = errors.New("unexpected call")

func (f *fakeAPI) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.getItem == nil {
		return nil, fmt.Errorf("GetItem: %w", errUnexpected)
	}
	return f.getItem(in)
}

func (f *fakeAPI) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if f.putItem == nil {
		return nil, fmt.Errorf("PutItem: %w", errUnexpected)
	}
	return f.putItem(in)
}

func (f *fakeAPI) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if f.delItem == nil {
		return nil, fmt.Errorf("DeleteItem: %w", errUnexpected)
	}
	return f.delItem(in)
}

func (f *fakeAPI) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if f.query == nil {
		return nil, fmt.Errorf("Query: %w", errUnexpected)
	}
	return f.query(in)
}

func (f *fakeAPI) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if f.transact == nil {
		return nil, fmt.Errorf("TransactWriteItems: %w", errUnexpected)
	}
	return f.transact(in)
}

var _ API = (*fakeAPI)(nil)
var _ API = (*dynamodb.Client)(nil)
var _ AdminAPI = (*dynamodb.Client)(nil)

// condition renders a condition expression with its names and values substituted,
// for assertions.
func condition(expr *string, names map[string]string, values map[string]types.AttributeValue) string {
	s := aws.ToString(expr)
	for k, v := range names {
		s = strings.ReplaceAll(s, k, v)
	}
	for k, v := range values {
		var rendered string
		switch v := v.(type) {
		case *types.AttributeValueMemberN:
			rendered = v.Value
		case *types.AttributeValueMemberS:
			rendered = fmt.Sprintf("%q", v.Value)
		default:
			rendered = fmt.Sprintf("%T", v)
		}
		s = strings.ReplaceAll(s, k, rendered)
	}
	return s
}

// noStoredInstance answers the read of the stored instance that precedes an update
// (successorWrites): there is none.
func noStoredInstance(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

func newFakeTable(f *fakeAPI) *Table {
	return New(f, "broker", WithNow(func() time.Time { return clock }))
}

func TestCommitSinglePut(t *testing.T) {
	tests := []struct {
		name    string
		version int64
		want    string
	}{
		{"create", 0, "attribute_not_exists (PK)"},
		{"update", 3, "version = 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *dynamodb.PutItemInput
			f := &fakeAPI{putItem: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				got = in
				return &dynamodb.PutItemOutput{ConsumedCapacity: &types.ConsumedCapacity{CapacityUnits: aws.Float64(1)}}, nil
			}, getItem: noStoredInstance}
			tbl := newFakeTable(f)
			in := broker.Instance{ID: "inst-1", Version: tt.version}
			if err := tbl.Commit(t.Context(), broker.Tx{Instances: []*broker.Instance{&in}}); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if in.Version != tt.version+1 {
				t.Errorf("Version = %d, want %d", in.Version, tt.version+1)
			}
			if aws.ToString(got.TableName) != "broker" {
				t.Errorf("TableName = %q", aws.ToString(got.TableName))
			}
			if c := condition(got.ConditionExpression, got.ExpressionAttributeNames, got.ExpressionAttributeValues); c != tt.want {
				t.Errorf("condition = %q, want %q", c, tt.want)
			}
			if v := got.Item["version"].(*types.AttributeValueMemberN).Value; v != fmt.Sprint(tt.version+1) {
				t.Errorf("stored version = %s, want %d", v, tt.version+1)
			}
			// An update reads the stored instance first (successorWrites).
			if s, reads := tbl.Stats(), min(tt.version, 1); s != (Stats{Reads: reads, Writes: 1, WriteUnits: 1}) {
				t.Errorf("Stats = %+v, want %d reads and one write of one unit", s, reads)
			}
		})
	}
}

func TestCommitSingleDelete(t *testing.T) {
	var got *dynamodb.DeleteItemInput
	f := &fakeAPI{delItem: func(in *dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error) {
		got = in
		return &dynamodb.DeleteItemOutput{}, nil
	}}
	b := broker.Binding{InstanceID: "inst-1", ID: "b-1", Version: 2}
	if err := newFakeTable(f).Commit(t.Context(), broker.Tx{DeleteBindings: []*broker.Binding{&b}}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if c := condition(got.ConditionExpression, got.ExpressionAttributeNames, got.ExpressionAttributeValues); c != "version = 2" {
		t.Errorf("condition = %q", c)
	}
	want := itemKey{"INSTANCE#inst-1", "BINDING#b-1"}.attributes()
	if diff := cmp.Diff(want, got.Key, cmp.AllowUnexported(types.AttributeValueMemberS{})); diff != "" {
		t.Errorf("Key (-want +got):\n%s", diff)
	}
	if b.Version != 2 {
		t.Errorf("a delete changed the Version to %d", b.Version)
	}
}

func TestCommitTransaction(t *testing.T) {
	var got *dynamodb.TransactWriteItemsInput
	f := &fakeAPI{transact: func(in *dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
		got = in
		return &dynamodb.TransactWriteItemsOutput{ConsumedCapacity: []types.ConsumedCapacity{
			{TableName: aws.String("broker"), CapacityUnits: aws.Float64(6), WriteCapacityUnits: aws.Float64(6)},
		}}, nil
	}, getItem: noStoredInstance}
	tbl := newFakeTable(f)
	in := broker.Instance{ID: "inst-1", Version: 1}
	op := broker.Operation{ID: "op-1", State: broker.StateInProgress}
	del := broker.Binding{InstanceID: "inst-1", ID: "b-1", Version: 1}
	if err := tbl.Commit(t.Context(), broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}, DeleteBindings: []*broker.Binding{&del}}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if len(got.TransactItems) != 3 {
		t.Fatalf("%d transaction items, want 3", len(got.TransactItems))
	}
	var conds []string
	var writeIDs []string
	for _, it := range got.TransactItems {
		switch {
		case it.Put != nil:
			conds = append(conds, condition(it.Put.ConditionExpression, it.Put.ExpressionAttributeNames, it.Put.ExpressionAttributeValues))
			writeIDs = append(writeIDs, it.Put.Item["write_id"].(*types.AttributeValueMemberS).Value)
		case it.Delete != nil:
			conds = append(conds, "delete: "+condition(it.Delete.ConditionExpression, it.Delete.ExpressionAttributeNames, it.Delete.ExpressionAttributeValues))
		}
	}
	if diff := cmp.Diff([]string{"version = 1", "attribute_not_exists (PK)", "delete: version = 1"}, conds); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if len(writeIDs) != 2 || writeIDs[0] == "" || writeIDs[0] != writeIDs[1] {
		t.Errorf("write_ids = %q, want one token on every put", writeIDs)
	}
	if in.Version != 2 || op.Version != 1 || del.Version != 1 {
		t.Errorf("Versions = %d, %d, %d; want 2, 1, 1", in.Version, op.Version, del.Version)
	}
	if s := tbl.Stats(); s != (Stats{Reads: 1, Writes: 1, WriteUnits: 6}) {
		t.Errorf("Stats = %+v, want one read (the instance) and one write of six units", s)
	}
}

// TestCommitSuccessor: a Tx that makes an instance name another operation than the
// stored one writes that operation's successor item, unconditionally, in the same
// transaction; any other Tx writes none. Commit reads every instance it updates.
func TestCommitSuccessor(t *testing.T) {
	stored := func(opID string, version int64) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "INSTANCE#inst-1"}, "SK": &types.AttributeValueMemberS{Value: "META"},
			"type": &types.AttributeValueMemberS{Value: "instance"}, "schema": &types.AttributeValueMemberN{Value: fmt.Sprint(schemaVersion)},
			"operation_id": &types.AttributeValueMemberS{Value: opID}, "version": &types.AttributeValueMemberN{Value: fmt.Sprint(version)},
		}
	}
	newOp := broker.Operation{ID: "op-2", InstanceID: "inst-1", Type: broker.OpUpdate, State: broker.StateInProgress}
	tests := []struct {
		name   string
		stored map[string]types.AttributeValue // nil: no instance stored
		in     broker.Instance
		ops    []broker.Operation
		reads  int64
		want   []string // the writes: "put PK/SK if condition", "put PK/SK: next"
	}{
		{"a new operation", stored("op-1", 4), broker.Instance{ID: "inst-1", OperationID: "op-2", Version: 4}, []broker.Operation{newOp}, 1,
			[]string{"put INSTANCE#inst-1/META if version = 4", "put OP#op-2/META if attribute_not_exists (PK)", "put OP#op-1/NEXT: op-2"}},
		{"the same operation", stored("op-1", 4), broker.Instance{ID: "inst-1", OperationID: "op-1", Version: 4}, nil, 1,
			[]string{"put INSTANCE#inst-1/META if version = 4"}},
		{"stored at another version", stored("op-1", 5), broker.Instance{ID: "inst-1", OperationID: "op-2", Version: 4}, []broker.Operation{newOp}, 1,
			[]string{"put INSTANCE#inst-1/META if version = 4", "put OP#op-2/META if attribute_not_exists (PK)"}},
		{"stored without an operation", stored("", 4), broker.Instance{ID: "inst-1", OperationID: "op-2", Version: 4}, []broker.Operation{newOp}, 1,
			[]string{"put INSTANCE#inst-1/META if version = 4", "put OP#op-2/META if attribute_not_exists (PK)"}},
		{"a new instance", nil, broker.Instance{ID: "inst-1", OperationID: "op-2"}, []broker.Operation{newOp}, 0,
			[]string{"put INSTANCE#inst-1/META if attribute_not_exists (PK)", "put OP#op-2/META if attribute_not_exists (PK)"}},
	}
	key := func(k map[string]types.AttributeValue) string {
		return k["PK"].(*types.AttributeValueMemberS).Value + "/" + k["SK"].(*types.AttributeValueMemberS).Value
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			describe := func(item map[string]types.AttributeValue, cond *string, names map[string]string, values map[string]types.AttributeValue) string {
				if cond == nil {
					return "put " + key(item) + ": " + item["next_operation_id"].(*types.AttributeValueMemberS).Value
				}
				return "put " + key(item) + " if " + condition(cond, names, values)
			}
			f := &fakeAPI{
				getItem: func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
					if !aws.ToBool(in.ConsistentRead) || key(in.Key) != "INSTANCE#inst-1/META" {
						t.Errorf("GetItem %s, consistent %v", key(in.Key), aws.ToBool(in.ConsistentRead))
					}
					return &dynamodb.GetItemOutput{Item: tt.stored}, nil
				},
				putItem: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
					got = append(got, describe(in.Item, in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues))
					return &dynamodb.PutItemOutput{}, nil
				},
				transact: func(in *dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
					for _, it := range in.TransactItems {
						got = append(got, describe(it.Put.Item, it.Put.ConditionExpression, it.Put.ExpressionAttributeNames, it.Put.ExpressionAttributeValues))
					}
					return &dynamodb.TransactWriteItemsOutput{}, nil
				},
			}
			tbl := newFakeTable(f)
			in, ops := tt.in, make([]*broker.Operation, len(tt.ops))
			for i := range tt.ops {
				op := tt.ops[i]
				ops[i] = &op
			}
			if err := tbl.Commit(t.Context(), broker.Tx{Instances: []*broker.Instance{&in}, Operations: ops}); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			if r := tbl.Stats().Reads; r != tt.reads {
				t.Errorf("%d reads, want %d", r, tt.reads)
			}
		})
	}
}

func TestCommitConflict(t *testing.T) {
	ccf := &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "PutItem", Err: &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}}
	t.Run("another writer", func(t *testing.T) {
		f := &fakeAPI{
			putItem: func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) { return nil, ccf },
			getItem: func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				if in.ProjectionExpression != nil {
					return noStoredInstance(in)
				}
				return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{"write_id": &types.AttributeValueMemberS{Value: "theirs"}}}, nil
			},
		}
		in := broker.Instance{ID: "inst-1", Version: 1}
		err := newFakeTable(f).Commit(t.Context(), broker.Tx{Instances: []*broker.Instance{&in}})
		if !errors.Is(err, broker.ErrConflict) || !strings.Contains(err.Error(), `instance "inst-1" (version 1)`) {
			t.Errorf("Commit = %v, want a conflict naming the instance", err)
		}
		if in.Version != 1 {
			t.Errorf("Version = %d after a conflict, want 1", in.Version)
		}
	})
	t.Run("own retried put", func(t *testing.T) {
		// The first try landed and its response was lost; the SDK's retry failed the
		// condition against the item the first try wrote.
		var put map[string]types.AttributeValue
		f := &fakeAPI{
			putItem: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) { put = in.Item; return nil, ccf },
			getItem: func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				if in.ProjectionExpression != nil {
					return noStoredInstance(in)
				}
				return &dynamodb.GetItemOutput{Item: put}, nil
			},
		}
		tbl := newFakeTable(f)
		in := broker.Instance{ID: "inst-1", Version: 1}
		if err := tbl.Commit(t.Context(), broker.Tx{Instances: []*broker.Instance{&in}}); err != nil {
			t.Fatalf("Commit = %v, want success", err)
		}
		if in.Version != 2 {
			t.Errorf("Version = %d, want 2", in.Version)
		}
		if s := tbl.Stats(); s.Reads != 2 || s.Writes != 1 {
			t.Errorf("Stats = %+v, want two reads (the instance before, the item after) and one write", s)
		}
	})
}

func TestCommitRejects(t *testing.T) {
	f := &fakeAPI{} // any request fails the test through errUnexpected
	many := broker.Tx{}
	for i := range MaxTransactItems + 1 {
		many.Bindings = append(many.Bindings, &broker.Binding{InstanceID: "inst-1", ID: fmt.Sprintf("b-%03d", i)})
	}
	tests := []struct {
		name string
		tx   broker.Tx
		want string
	}{
		{"too many records", many, "at most 100"},
		{"nil instance", broker.Tx{Instances: []*broker.Instance{nil}}, "nil instance"},
		{"empty id", broker.Tx{Operations: []*broker.Operation{{}}}, "empty id"},
		{"binding without instance", broker.Tx{Bindings: []*broker.Binding{{ID: "b-1"}}}, "empty id"},
		{"negative version", broker.Tx{Instances: []*broker.Instance{{ID: "i", Version: -1}}}, "negative version"},
		{"written and deleted", broker.Tx{
			Bindings:       []*broker.Binding{{InstanceID: "i", ID: "b", Version: 1}},
			DeleteBindings: []*broker.Binding{{InstanceID: "i", ID: "b", Version: 1}},
		}, "named twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newFakeTable(f).Commit(t.Context(), tt.tx)
			if err == nil || errors.Is(err, broker.ErrConflict) || errors.Is(err, errUnexpected) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Commit = %v, want an error mentioning %q, made before any request", err, tt.want)
			}
		})
	}
	if err := newFakeTable(f).Commit(t.Context(), broker.Tx{}); err != nil {
		t.Errorf("Commit of an empty Tx = %v, want nil and no request", err)
	}
}

func TestSplitAndCompress(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 11, 35} {
		data := bytes.Repeat([]byte{'x'}, n)
		parts := split(data, 10)
		if want := max(1, (n+9)/10); len(parts) != want {
			t.Errorf("split(%d bytes, 10) = %d parts, want %d", n, len(parts), want)
		}
		for _, p := range parts {
			if len(p) > 10 {
				t.Errorf("split(%d bytes, 10) made a part of %d bytes", n, len(p))
			}
		}
		if got := bytes.Join(parts, nil); !bytes.Equal(got, data) {
			t.Errorf("split(%d bytes) does not join back", n)
		}
	}
	for _, doc := range [][]byte{nil, {}, []byte("overlay"), bytes.Repeat([]byte("catalog "), 1000)} {
		z, err := compress(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decompress(z)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || !bytes.Equal(got, doc) {
			t.Errorf("compress round trip of %d bytes = %d bytes (nil: %v)", len(doc), len(got), got == nil)
		}
	}
}

func TestDocumentTooLarge(t *testing.T) {
	f := &fakeAPI{} // no request may be made
	tbl := New(f, "broker", WithChunking(16, 2))
	doc := make([]byte, 200)
	for i := range doc {
		doc[i] = byte(i*7919 + i*i) // hardly compressible
	}
	err := tbl.PutOverlay(t.Context(), doc)
	if err == nil || errors.Is(err, errUnexpected) || !strings.Contains(err.Error(), "at most 32") {
		t.Errorf("PutOverlay of a document over the limit = %v, want a size error before any request", err)
	}
}

func TestStatsSub(t *testing.T) {
	a := Stats{Reads: 5, Writes: 3, ReadUnits: 2.5, WriteUnits: 3}
	b := Stats{Reads: 9, Writes: 4, ReadUnits: 4, WriteUnits: 5}
	if got, want := b.Sub(a), (Stats{Reads: 4, Writes: 1, ReadUnits: 1.5, WriteUnits: 2}); got != want {
		t.Errorf("Sub = %+v, want %+v", got, want)
	}
}

func TestCancelledContextMakesNoRequest(t *testing.T) {
	f := &fakeAPI{}
	tbl := newFakeTable(f)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	in := broker.Instance{ID: "inst-1"}
	calls := map[string]error{
		"Commit":      tbl.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}}),
		"PutCatalog":  tbl.PutCatalog(ctx, broker.Catalog{}),
		"GetInstance": func() error { _, err := tbl.GetInstance(ctx, "inst-1"); return err }(),
		"ListBindings": func() error {
			_, err := tbl.ListBindings(ctx, "inst-1")
			return err
		}(),
	}
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s = %v, want context.Canceled", name, err)
		}
	}
	if s := tbl.Stats(); s != (Stats{}) {
		t.Errorf("Stats = %+v, want no request", s)
	}
}
