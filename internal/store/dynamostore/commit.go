package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
)

// Commit applies the transaction atomically. A record with Version 0 must be absent
// (attribute_not_exists(PK)); any other must be stored with exactly that Version
// (version = :v); a deleted binding must be stored with exactly its Version. Beside
// the records, a Tx that makes an instance name another operation than the stored one
// also writes that stored operation's successor item (see successorWrites), without a
// condition; to know, Commit reads every instance the Tx updates, consistently. A Tx
// of one write is one conditional PutItem or DeleteItem; a larger one is one
// TransactWriteItems, so either every write lands or none does. When a condition
// fails Commit returns an error matching broker.ErrConflict that names the records
// whose condition failed, and writes nothing. On success the Version of every written
// record is incremented in place; on failure no Version changes.
//
// A transaction that names a record twice, holds a nil record, an empty id or a
// negative version, or comes to more than MaxTransactItems writes with its successor
// items, is rejected before any request but those reads (not an ErrConflict).
func (t *Table) Commit(ctx context.Context, tx broker.Tx) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamostore: commit: %w", err)
	}
	if err := store.ValidateTx(tx); err != nil {
		return fmt.Errorf("dynamostore: commit: %w", err)
	}
	writes, err := t.writes(ctx, tx, t.newWriteID())
	if err != nil {
		return fmt.Errorf("dynamostore: commit: %w", err)
	}
	switch n := len(writes); {
	case n == 0:
		return nil
	case n > MaxTransactItems:
		return fmt.Errorf("dynamostore: commit: %d writes in one Tx (records and successor items); DynamoDB writes at most %d in one transaction", n, MaxTransactItems)
	case n == 1:
		err = t.commitOne(ctx, writes[0])
	default:
		err = t.commitMany(ctx, writes)
	}
	if err != nil {
		return fmt.Errorf("dynamostore: commit: %w", err)
	}
	// Only now that the write is durable do the callers' records change.
	store.Committed(tx)
	return nil
}

// write is one conditional write of a Commit.
type write struct {
	// what names the record in errors.
	what string
	key  itemKey
	// item is the item to put; nil for a delete.
	item map[string]types.AttributeValue
	// writeID is the item's write_id, when item is set.
	writeID string
	// cond is the write's condition; unset for none (a successor item).
	cond expression.ConditionBuilder
}

// expression returns the condition of w, if it has one, as an expression.
func (w write) expression() (expression.Expression, error) {
	if !w.cond.IsSet() {
		return expression.Expression{}, nil
	}
	return expression.NewBuilder().WithCondition(w.cond).Build()
}

// writes returns the conditional writes of the transaction, every put item marked
// with writeID.
func (t *Table) writes(ctx context.Context, tx broker.Tx, writeID string) ([]write, error) {
	now := t.now()
	var ws []write
	put := func(what string, key itemKey, version int64, item any) error {
		av, err := marshalItem(item)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		ws = append(ws, write{what: what, key: key, item: av, writeID: writeID, cond: versionCondition(version)})
		return nil
	}
	for _, in := range tx.Instances {
		it := newInstanceItem(*in, in.Version+1, now, t.retention)
		it.WriteID = writeID
		if err := put(describe("instance", in.ID, "", in.Version), it.itemKey, in.Version, it); err != nil {
			return nil, err
		}
	}
	for _, op := range tx.Operations {
		it := newOperationItem(*op, op.Version+1, now, t.retention)
		it.WriteID = writeID
		if err := put(describe("operation", op.ID, "", op.Version), it.itemKey, op.Version, it); err != nil {
			return nil, err
		}
	}
	for _, b := range tx.Bindings {
		it := newBindingItem(*b, b.Version+1)
		it.WriteID = writeID
		if err := put(describe("binding", b.ID, b.InstanceID, b.Version), it.itemKey, b.Version, it); err != nil {
			return nil, err
		}
	}
	for _, b := range tx.DeleteBindings {
		ws = append(ws, write{
			what: "delete " + describe("binding", b.ID, b.InstanceID, b.Version),
			key:  bindingKey(b.InstanceID, b.ID),
			// A delete needs the record at its version, even at Version 0 (never stored).
			cond: expression.Name(attrVersion).Equal(expression.Value(b.Version)),
		})
	}
	next, err := t.successorWrites(ctx, tx, writeID, now)
	if err != nil {
		return nil, err
	}
	return append(ws, next...), nil
}

// describe names a record and the version a write expects, for errors.
func describe(kind, id, instanceID string, version int64) string {
	s := fmt.Sprintf("%s %q", kind, id)
	if instanceID != "" {
		s += fmt.Sprintf(" of instance %q", instanceID)
	}
	if version == 0 {
		return s + " (new)"
	}
	return fmt.Sprintf("%s (version %d)", s, version)
}

// versionCondition is the condition of a put: absent for version 0, stored at exactly
// the version otherwise.
func versionCondition(version int64) expression.ConditionBuilder {
	if version == 0 {
		return expression.AttributeNotExists(expression.Name(AttrPK))
	}
	return expression.Name(attrVersion).Equal(expression.Value(version))
}

// commitOne applies a single write with PutItem or DeleteItem.
func (t *Table) commitOne(ctx context.Context, w write) error {
	expr, err := w.expression()
	if err != nil {
		return fmt.Errorf("%s: %w", w.what, err)
	}
	if w.item == nil {
		out, err := t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String(t.name),
			Key:                       w.key.attributes(),
			ConditionExpression:       expr.Condition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
		})
		t.stats.write(outCapacity(out, err, func(o *dynamodb.DeleteItemOutput) *types.ConsumedCapacity { return o.ConsumedCapacity }))
		return mapWriteError(err, []write{w})
	}
	out, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(t.name),
		Item:                      w.item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
	})
	t.stats.write(outCapacity(out, err, func(o *dynamodb.PutItemOutput) *types.ConsumedCapacity { return o.ConsumedCapacity }))
	err = mapWriteError(err, []write{w})
	if errors.Is(err, broker.ErrConflict) && ctx.Err() == nil {
		// The condition may have failed on this very put: the SDK retries a request
		// whose response was lost, and the retry meets the item the first try wrote.
		if landed, rerr := t.landed(ctx, w); rerr == nil && landed {
			return nil
		}
	}
	return err
}

// landed reports whether the stored item is the one w put (it carries w's write_id).
func (t *Table) landed(ctx context.Context, w write) (bool, error) {
	item, err := t.getItem(ctx, w.key)
	if err != nil || item == nil {
		return false, err
	}
	id, ok := item[attrWriteID].(*types.AttributeValueMemberS)
	return ok && id.Value == w.writeID, nil
}

// commitMany applies the writes in one TransactWriteItems. The SDK gives the request
// an idempotency token, so that its own retries do not apply it twice.
func (t *Table) commitMany(ctx context.Context, ws []write) error {
	items := make([]types.TransactWriteItem, 0, len(ws))
	for _, w := range ws {
		expr, err := w.expression()
		if err != nil {
			return fmt.Errorf("%s: %w", w.what, err)
		}
		if w.item == nil {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{
				TableName:                 aws.String(t.name),
				Key:                       w.key.attributes(),
				ConditionExpression:       expr.Condition(),
				ExpressionAttributeNames:  expr.Names(),
				ExpressionAttributeValues: expr.Values(),
			}})
			continue
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                 aws.String(t.name),
			Item:                      w.item,
			ConditionExpression:       expr.Condition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
		}})
	}
	return t.transact(ctx, items, ws)
}

// transact runs one TransactWriteItems; ws describes its items, in order, for errors.
func (t *Table) transact(ctx context.Context, items []types.TransactWriteItem, ws []write) error {
	out, err := t.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems:          items,
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	})
	var capacity []types.ConsumedCapacity
	if err == nil && out != nil {
		capacity = out.ConsumedCapacity
	}
	t.stats.write(sumCapacity(capacity))
	return mapWriteError(err, ws)
}
