package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
)

var _ store.Engine = (*Table)(nil)

// Key and index names of the table. The CDK app defines the table with the same names.
const (
	// AttrPK is the partition key, a string.
	AttrPK = "PK"
	// AttrSK is the sort key, a string.
	AttrSK = "SK"
	// IndexGSI1 is the global secondary index of instances and operations in progress.
	// It projects every attribute.
	IndexGSI1 = "GSI1"
	// AttrGSI1PK is the partition key of IndexGSI1, a string.
	AttrGSI1PK = "GSI1PK"
	// AttrGSI1SK is the sort key of IndexGSI1, a string.
	AttrGSI1SK = "GSI1SK"
	// AttrExpiresAt is the time-to-live attribute, a number of seconds since the Unix
	// epoch.
	AttrExpiresAt = "expires_at"
)

// DefaultRetention is how long finished operations and instance tombstones are kept
// unless WithRetention says otherwise.
const DefaultRetention = 30 * 24 * time.Hour

// MaxTransactItems is the most items DynamoDB writes in one TransactWriteItems, and so
// the most records (written and deleted) one Commit may hold.
const MaxTransactItems = 100

// API is the part of the DynamoDB client that a Table uses; *dynamodb.Client
// satisfies it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Table is a broker store in one DynamoDB table (see the package documentation for
// its design). It is safe for concurrent use by multiple goroutines.
type Table struct {
	client    API
	name      string
	now       func() time.Time
	retention time.Duration
	// chunkSize is the most compressed bytes a catalog or overlay item holds.
	chunkSize int
	// maxChunks bounds the chunks of one document.
	maxChunks int
	// newWriteID returns the token that marks the items of one Commit.
	newWriteID func() string
	stats      counters
	// current remembers the operation a poll found current for an instance (see
	// OperationStatus).
	current currentOps
}

// Option configures New.
type Option func(*Table)

// WithNow sets the clock used for expiry times when a record has no time of its own
// (default time.Now).
func WithNow(now func() time.Time) Option {
	return func(t *Table) {
		if now != nil {
			t.now = now
		}
	}
}

// WithRetention sets how long finished operations and instance tombstones are kept
// before DynamoDB's time to live deletes them. Zero or less disables expiry: no item
// gets an expires_at.
func WithRetention(d time.Duration) Option {
	return func(t *Table) { t.retention = d }
}

// New returns a Table that keeps broker state in the named table through client. The
// table must exist with the design of CreateTable. New makes no request.
func New(client API, table string, opts ...Option) *Table {
	t := &Table{
		client:     client,
		name:       table,
		now:        time.Now,
		retention:  DefaultRetention,
		chunkSize:  defaultChunkSize,
		maxChunks:  defaultMaxChunks,
		newWriteID: randomWriteID,
	}
	for _, opt := range opts {
		opt(t)
	}
	return t
}

// Name returns the name of the DynamoDB table.
func (t *Table) Name() string { return t.name }

// Close does nothing: the Table holds no resources of its own (the client belongs to
// the caller). It returns nil.
func (t *Table) Close() error { return nil }

// GetInstance returns the instance with the id, or an error matching
// broker.ErrNotFound.
func (t *Table) GetInstance(ctx context.Context, id string) (broker.Instance, error) {
	var it instanceItem
	if err := t.get(ctx, instanceKey(id), typeInstance, &it); err != nil {
		return broker.Instance{}, fmt.Errorf("dynamostore: get instance %q: %w", id, err)
	}
	return it.instance(), nil
}

// GetOperation returns the operation with the id, or an error matching
// broker.ErrNotFound.
func (t *Table) GetOperation(ctx context.Context, id string) (broker.Operation, error) {
	var it operationItem
	if err := t.get(ctx, operationKey(id), typeOperation, &it); err != nil {
		return broker.Operation{}, fmt.Errorf("dynamostore: get operation %q: %w", id, err)
	}
	return it.operation(), nil
}

// GetBinding returns the binding of the instance with the id, or an error matching
// broker.ErrNotFound.
func (t *Table) GetBinding(ctx context.Context, instanceID, bindingID string) (broker.Binding, error) {
	var it bindingItem
	if err := t.get(ctx, bindingKey(instanceID, bindingID), typeBinding, &it); err != nil {
		return broker.Binding{}, fmt.Errorf("dynamostore: get binding %q of instance %q: %w", bindingID, instanceID, err)
	}
	return it.binding(), nil
}

// ActiveOperations returns every operation in progress, oldest first (by CreatedAt,
// then id). It queries IndexGSI1, which is eventually consistent: an operation
// written in the last moment may be missing or listed in its previous state.
func (t *Table) ActiveOperations(ctx context.Context) ([]broker.Operation, error) {
	kc := expression.Key(AttrGSI1PK).Equal(expression.Value(gsiActiveOperation))
	var ops []broker.Operation
	err := t.query(ctx, kc, queryOptions{index: IndexGSI1}, func(item map[string]types.AttributeValue) (bool, error) {
		var it operationItem
		if err := decodeItem(item, typeOperation, &it); err != nil {
			return false, err
		}
		ops = append(ops, it.operation())
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: active operations: %w", err)
	}
	return ops, nil
}

// ListInstances returns up to limit instances with ids after the cursor, in id order,
// and the cursor for the next page ("" at the end). The cursor is the last id
// returned; limit must be positive. It queries IndexGSI1 (no Scan), which is
// eventually consistent: an instance written in the last moment may be missing or
// listed in its previous state.
func (t *Table) ListInstances(ctx context.Context, after string, limit int) ([]broker.Instance, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("dynamostore: list instances: limit %d is not positive", limit)
	}
	kc := expression.Key(AttrGSI1PK).Equal(expression.Value(gsiInstance))
	if after != "" {
		kc = kc.And(expression.Key(AttrGSI1SK).GreaterThan(expression.Value(after)))
	}
	var list []broker.Instance
	// One more than asked tells whether there is a next page.
	err := t.query(ctx, kc, queryOptions{index: IndexGSI1, limit: limit + 1}, func(item map[string]types.AttributeValue) (bool, error) {
		var it instanceItem
		if err := decodeItem(item, typeInstance, &it); err != nil {
			return false, err
		}
		list = append(list, it.instance())
		return len(list) <= limit, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("dynamostore: list instances: %w", err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	return list, next, nil
}

// ListBindings returns the bindings of an instance in id order; none (and no error)
// when the instance has none or does not exist. It is one consistent Query of the
// instance's partition.
func (t *Table) ListBindings(ctx context.Context, instanceID string) ([]broker.Binding, error) {
	kc := expression.Key(AttrPK).Equal(expression.Value(instancePK(instanceID))).
		And(expression.Key(AttrSK).BeginsWith(skBindingPrefix))
	var list []broker.Binding
	err := t.query(ctx, kc, queryOptions{consistent: true}, func(item map[string]types.AttributeValue) (bool, error) {
		var it bindingItem
		if err := decodeItem(item, typeBinding, &it); err != nil {
			return false, err
		}
		list = append(list, it.binding())
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: list bindings of instance %q: %w", instanceID, err)
	}
	return list, nil
}

// get reads one item consistently into it, checking its type and schema. It returns
// broker.ErrNotFound when there is no item with the key.
func (t *Table) get(ctx context.Context, key itemKey, typ string, it any) error {
	item, err := t.getItem(ctx, key)
	if err != nil {
		return err
	}
	if item == nil {
		return broker.ErrNotFound
	}
	return decodeItem(item, typ, it)
}

// getItem reads one item consistently; nil when there is none.
func (t *Table) getItem(ctx context.Context, key itemKey) (map[string]types.AttributeValue, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              aws.String(t.name),
		Key:                    key.attributes(),
		ConsistentRead:         aws.Bool(true),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
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

// queryOptions shape one query.
type queryOptions struct {
	index      string // "" for the table
	consistent bool   // only for the table: GSIs have no consistent reads
	limit      int    // items per page; 0 for DynamoDB's default (1 MB a page)
}

// query runs a Query page after page, calling fn with each item in sort-key order
// until fn returns false, an error, or the items run out.
func (t *Table) query(ctx context.Context, kc expression.KeyConditionBuilder, o queryOptions, fn func(map[string]types.AttributeValue) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(t.name),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
	}
	if o.index != "" {
		in.IndexName = aws.String(o.index)
	} else {
		in.ConsistentRead = aws.Bool(o.consistent)
	}
	if o.limit > 0 {
		in.Limit = aws.Int32(int32(min(o.limit, maxQueryLimit)))
	}
	for {
		out, err := t.client.Query(ctx, in)
		t.stats.read(outCapacity(out, err, func(o *dynamodb.QueryOutput) *types.ConsumedCapacity { return o.ConsumedCapacity }))
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			more, err := fn(item)
			if err != nil || !more {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// maxQueryLimit caps the Limit of one Query page.
const maxQueryLimit = 1000

// decodeItem unmarshals a stored item into it after checking its type and schema.
func decodeItem(item map[string]types.AttributeValue, typ string, it any) error {
	var h itemHeader
	if err := attributevalue.UnmarshalMap(item, &h); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	if err := h.check(typ); err != nil {
		return err
	}
	if err := attributevalue.UnmarshalMap(item, it); err != nil {
		return fmt.Errorf("decode %s item %s/%s: %w", typ, h.PK, h.SK, err)
	}
	return nil
}

// outCapacity returns the consumed capacity of a response, nil when there is none.
func outCapacity[O any](out *O, err error, capacity func(*O) *types.ConsumedCapacity) *types.ConsumedCapacity {
	if err != nil || out == nil {
		return nil
	}
	return capacity(out)
}
