package dynamostore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
)

var _ broker.StatusReader = (*Table)(nil)

// A poll without the operation's id needs the instance's current operation: the
// instance item names it, and its status is in the operation's own item, in another
// partition. Rather than copy the status into the instance's partition at every step
// (a transaction instead of a PutItem: more than twice the write units of every step,
// for polls that a platform following OSB never sends), the Table remembers which
// operation it last found current for an instance (currentOps) and reads that
// operation's partition alone, where a successor item says whether it still is:
//
//	item                PK                  SK
//	successor           OP#<id>             NEXT
//
// Commit writes the successor item of an operation in the transaction that makes the
// instance name another operation (see successorWrites), so a consistent Query of
// OP#<id> that finds the operation of the instance and no successor proves the
// operation is still the instance's current one. Otherwise, and when nothing is
// remembered, the poll reads the instance item and then its operation.
const (
	skNext        = "NEXT"
	typeSuccessor = "operation_successor"
	attrNext      = "next_operation_id"
)

func successorKey(operationID string) itemKey {
	return itemKey{PK: pkOperationPrefix + operationID, SK: skNext}
}

// successorItem says that the instance named another operation after this one.
type successorItem struct {
	itemHeader
	InstanceID string `dynamodbav:"instance_id"`
	Next       string `dynamodbav:"next_operation_id,omitempty"`
	At         string `dynamodbav:"at,omitempty"`
}

// currentOpsMaxAge bounds how long a remembered current operation is used. A
// successor item expires (time to live) after the retention from its write, so an
// entry younger than the retention finds every successor item written since it was
// made: the bound keeps that so for any retention of more than twice its value
// (below, nothing is remembered).
const currentOpsMaxAge = 10 * time.Minute

// maxCurrentOps bounds the instances remembered; past it the memory starts over.
const maxCurrentOps = 1 << 14

// currentOps remembers, per instance, the operation a poll found current, and when.
type currentOps struct {
	mu sync.Mutex
	m  map[string]currentOp
}

type currentOp struct {
	id string
	at time.Time
}

// get returns the operation remembered for the instance, "" for none or one too old.
func (c *currentOps) get(instanceID string, now time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[instanceID]
	if !ok || now.Sub(e.at) >= currentOpsMaxAge || now.Before(e.at) {
		return ""
	}
	return e.id
}

// put remembers the instance's current operation as found at the time.
func (c *currentOps) put(instanceID, operationID string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCurrentOps {
		c.m = make(map[string]currentOp)
	}
	c.m[instanceID] = currentOp{id: operationID, at: at}
}

// forget drops what is remembered of the instance.
func (c *currentOps) forget(instanceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, instanceID)
}

// remembering reports whether the Table may use currentOps: successor items must
// outlive every entry (see currentOpsMaxAge).
func (t *Table) remembering() bool {
	return t.retention <= 0 || t.retention > 2*currentOpsMaxAge
}

// statusItem is the part of an operationItem that last_operation answers from.
type statusItem struct {
	itemHeader
	ID          string `dynamodbav:"id"`
	Type        string `dynamodbav:"operation_type,omitempty"`
	InstanceID  string `dynamodbav:"instance_id,omitempty"`
	State       string `dynamodbav:"state,omitempty"`
	Description string `dynamodbav:"description,omitempty"`
	NextCheck   string `dynamodbav:"next_check,omitempty"`
}

func (it statusItem) status() broker.OperationStatus {
	return broker.OperationStatus{ID: it.ID, InstanceID: it.InstanceID, Type: broker.OperationType(it.Type),
		State: broker.OperationState(it.State), Description: it.Description, NextCheck: parseTime(it.NextCheck)}
}

// statusAttrs are the attributes a poll reads of an operation item.
var statusAttrs = []string{AttrPK, AttrSK, "type", "schema", AttrExpiresAt, "id", "operation_type", "instance_id", "state", "description", "next_check"}

// OperationStatus returns the status of the operation named operationID when it
// exists, belongs to the instance and acts on the instance (not on one of its
// bindings), else that of the instance's current operation (operationID may be
// empty), or an error matching broker.ErrNotFound.
//
// Reads. A poll that names its operation, as OSB requires of a platform whenever the
// broker answered one (it always does), is one eventually consistent GetItem of the
// operation item (half the read units of a consistent one), projected to what the
// answer needs. Eventual consistency is correct there because of what a stale read
// can be: an operation either is not there yet (it was created a moment ago) or is
// there in an earlier state of its own. The first is checked with consistent reads
// (below), so a poll never answers "does not exist" for an operation that does. The
// second answers "in progress" with the previous step's description for a moment
// after a step or the end was written (typically under a second): the platform asks
// again after Retry-After, and an ended operation never changes again, so a read
// that sees it ended is exact.
//
// A poll without the operation (or naming one that is not the instance's) is one
// consistent Query of the partition of the operation this Table last found current
// for the instance, less than currentOpsMaxAge ago: the operation item and, if the
// instance has named another operation since, its successor item. Without a
// successor that operation is still the instance's, and answers. Otherwise (the
// first such poll of an instance in this process, an entry too old, an operation
// that is no longer current) the instance item and then its operation are read, two
// consistent GetItems, and the operation is remembered. These reads are consistent
// because eventual consistency is not correct there: after a deprovision and a new
// provision with the same id, a stale read of the instance or of the successor names
// the old, succeeded deprovision, and the poll would answer 410 Gone for an instance
// being provisioned.
func (t *Table) OperationStatus(ctx context.Context, instanceID, operationID string) (broker.OperationStatus, error) {
	st, err := t.operationStatus(ctx, instanceID, operationID)
	if err != nil {
		return broker.OperationStatus{}, fmt.Errorf("dynamostore: operation status of instance %q: %w", instanceID, err)
	}
	return st, nil
}

func (t *Table) operationStatus(ctx context.Context, instanceID, operationID string) (broker.OperationStatus, error) {
	if operationID != "" {
		st, ok, err := t.readStatus(ctx, operationID, false)
		if err != nil {
			return broker.OperationStatus{}, err
		}
		if ok && st.InstanceID == instanceID && !st.Type.OnBinding() {
			return st, nil
		}
	}
	if !t.remembering() {
		return t.currentStatus(ctx, instanceID)
	}
	if id := t.current.get(instanceID, t.now()); id != "" {
		st, ok, err := t.readIfCurrent(ctx, id, instanceID)
		if err != nil {
			return broker.OperationStatus{}, err
		}
		if ok {
			return st, nil
		}
		t.current.forget(instanceID)
	}
	at := t.now()
	st, err := t.currentStatus(ctx, instanceID)
	if err == nil {
		t.current.put(instanceID, st.ID, at)
	}
	return st, err
}

// currentStatus reads the instance item, then the status of the operation it names.
func (t *Table) currentStatus(ctx context.Context, instanceID string) (broker.OperationStatus, error) {
	item, err := t.getProjected(ctx, instanceKey(instanceID), true, AttrPK, AttrSK, "type", "schema", "operation_id")
	if err != nil {
		return broker.OperationStatus{}, err
	}
	if item == nil {
		return broker.OperationStatus{}, broker.ErrNotFound
	}
	var in struct {
		itemHeader
		OperationID string `dynamodbav:"operation_id,omitempty"`
	}
	if err := decodeItem(item, typeInstance, &in); err != nil {
		return broker.OperationStatus{}, err
	}
	if in.OperationID == "" {
		return broker.OperationStatus{}, fmt.Errorf("instance has no operation: %w", broker.ErrNotFound)
	}
	st, ok, err := t.readStatus(ctx, in.OperationID, true)
	if err != nil {
		return broker.OperationStatus{}, err
	}
	if !ok {
		return broker.OperationStatus{}, fmt.Errorf("operation %q: %w", in.OperationID, broker.ErrNotFound)
	}
	return st, nil
}

// readIfCurrent reads, in one consistent Query of the operation's partition, its
// status and its successor item; ok is true when the operation exists, acts on the
// instance and has no successor: it is the instance's current operation.
func (t *Table) readIfCurrent(ctx context.Context, operationID, instanceID string) (_ broker.OperationStatus, ok bool, _ error) {
	if err := ctx.Err(); err != nil {
		return broker.OperationStatus{}, false, err
	}
	// The partition holds the operation (META) and its successor (NEXT), nothing else.
	kc := expression.Key(AttrPK).Equal(expression.Value(operationKey(operationID).PK)).
		And(expression.Key(AttrSK).Between(expression.Value(skMeta), expression.Value(skNext)))
	names := make([]expression.NameBuilder, 0, len(statusAttrs))
	for _, a := range statusAttrs {
		names = append(names, expression.Name(a))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(kc).
		WithProjection(expression.NamesList(expression.Name(attrNext), names...)).Build()
	if err != nil {
		return broker.OperationStatus{}, false, err
	}
	out, err := t.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(t.name),
		KeyConditionExpression:    expr.KeyCondition(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
	})
	t.stats.read(outCapacity(out, err, func(o *dynamodb.QueryOutput) *types.ConsumedCapacity { return o.ConsumedCapacity }))
	if err != nil {
		return broker.OperationStatus{}, false, err
	}
	var st *broker.OperationStatus
	for _, item := range out.Items {
		sk, _ := item[AttrSK].(*types.AttributeValueMemberS)
		if sk == nil || sk.Value != skMeta {
			return broker.OperationStatus{}, false, nil // a successor: no longer current
		}
		var it statusItem
		if err := decodeItem(item, typeOperation, &it); err != nil {
			return broker.OperationStatus{}, false, err
		}
		// An operation past its expiry may outlive its instance's tombstone (both
		// expire together, DynamoDB deletes them in any order): the instance decides.
		if it.ExpiresAt != 0 && t.now().Unix() >= it.ExpiresAt {
			return broker.OperationStatus{}, false, nil
		}
		s := it.status()
		st = &s
	}
	if st == nil || st.InstanceID != instanceID || st.Type.OnBinding() {
		return broker.OperationStatus{}, false, nil
	}
	return *st, true, nil
}

// successorWrites returns, for each instance the transaction writes with another
// operation than the one it has stored, the put of that stored operation's successor
// item. It reads each instance the transaction updates (Version above 0),
// consistently; a stored instance at another Version than the transaction expects
// makes the transaction fail its condition anyway, and gets none.
func (t *Table) successorWrites(ctx context.Context, tx broker.Tx, writeID string, now time.Time) ([]write, error) {
	var ws []write
	for _, in := range tx.Instances {
		if in.Version == 0 {
			continue
		}
		item, err := t.getProjected(ctx, instanceKey(in.ID), true, AttrPK, AttrSK, "type", "schema", "operation_id", attrVersion)
		if err != nil {
			return nil, fmt.Errorf("read instance %q: %w", in.ID, err)
		}
		if item == nil {
			continue
		}
		var stored struct {
			itemHeader
			OperationID string `dynamodbav:"operation_id,omitempty"`
			Version     int64  `dynamodbav:"version"`
		}
		if err := decodeItem(item, typeInstance, &stored); err != nil {
			return nil, fmt.Errorf("read instance %q: %w", in.ID, err)
		}
		if stored.Version != in.Version || stored.OperationID == "" || stored.OperationID == in.OperationID {
			continue
		}
		h := newHeader(successorKey(stored.OperationID), typeSuccessor)
		h.ExpiresAt, h.WriteID = expiry(time.Time{}, now, t.retention), writeID
		av, err := marshalItem(successorItem{itemHeader: h, InstanceID: in.ID, Next: in.OperationID, At: formatTime(now)})
		if err != nil {
			return nil, err
		}
		ws = append(ws, write{what: fmt.Sprintf("successor of operation %q", stored.OperationID), key: h.itemKey, item: av, writeID: writeID})
	}
	return ws, nil
}

// readStatus reads the status part of an operation; ok is false when there is none.
func (t *Table) readStatus(ctx context.Context, id string, consistent bool) (broker.OperationStatus, bool, error) {
	item, err := t.getProjected(ctx, operationKey(id), consistent, statusAttrs...)
	if err != nil || item == nil {
		return broker.OperationStatus{}, false, err
	}
	var it statusItem
	if err := decodeItem(item, typeOperation, &it); err != nil {
		return broker.OperationStatus{}, false, err
	}
	return it.status(), true, nil
}

// getProjected reads the named attributes of one item; nil when there is none.
func (t *Table) getProjected(ctx context.Context, key itemKey, consistent bool, attrs ...string) (map[string]types.AttributeValue, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	names := make([]expression.NameBuilder, 0, len(attrs))
	for _, a := range attrs {
		names = append(names, expression.Name(a))
	}
	expr, err := expression.NewBuilder().WithProjection(expression.NamesList(names[0], names[1:]...)).Build()
	if err != nil {
		return nil, err
	}
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(t.name),
		Key:                      key.attributes(),
		ConsistentRead:           aws.Bool(consistent),
		ProjectionExpression:     expr.Projection(),
		ExpressionAttributeNames: expr.Names(),
		ReturnConsumedCapacity:   types.ReturnConsumedCapacityTotal,
	})
	t.stats.read(outCapacity(out, err, func(o *dynamodb.GetItemOutput) *types.ConsumedCapacity { return o.ConsumedCapacity }))
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}
