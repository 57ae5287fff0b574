package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
)

var _ broker.StatusReader = (*Table)(nil)

// OperationStatus returns the status of the operation named operationID when it
// exists and belongs to the instance, else that of the instance's current operation
// (operationID may be empty), or an error matching broker.ErrNotFound.
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
// A poll without the operation (or naming one that is not the instance's) reads the
// instance item, then its current operation: two GetItems, both consistent. An
// eventually consistent read of the instance is not correct: after a deprovision and a
// new provision with the same id, a stale instance item names the old, succeeded
// deprovision, and the poll would answer 410 Gone for an instance being provisioned.
// Making this case one read would mean copying the operation's status into the
// instance item at every step (a TransactWriteItems of two items instead of one
// PutItem: four times the write units of a step, which cost five times a read unit)
// for polls that a platform following OSB never sends.
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
		if ok && st.InstanceID == instanceID {
			return st, nil
		}
	}
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

// readStatus reads the status part of an operation; ok is false when there is none.
func (t *Table) readStatus(ctx context.Context, id string, consistent bool) (broker.OperationStatus, bool, error) {
	item, err := t.getProjected(ctx, operationKey(id), consistent,
		AttrPK, AttrSK, "type", "schema", "id", "operation_type", "instance_id", "state", "description", "next_check")
	if err != nil || item == nil {
		return broker.OperationStatus{}, false, err
	}
	var it statusItem
	if err := decodeItem(item, typeOperation, &it); err != nil {
		return broker.OperationStatus{}, false, err
	}
	return broker.OperationStatus{ID: it.ID, InstanceID: it.InstanceID, Type: broker.OperationType(it.Type),
		State: broker.OperationState(it.State), Description: it.Description, NextCheck: parseTime(it.NextCheck)}, true, nil
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
