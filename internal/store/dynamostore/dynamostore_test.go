package dynamostore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	mathrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
	"github.com/cfybroker/cfybroker/internal/store/storetest"
	"github.com/cfybroker/cfybroker/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// The tests in this file run against DynamoDB Local at $AWS_ENDPOINT_URL_DYNAMODB
// (default http://127.0.0.1:8000), each on a fresh table. Start it with
// `make local-aws`. When it is not reachable they skip, or fail when CI is set.

const defaultEndpoint = "http://127.0.0.1:8000"

var (
	probeOnce sync.Once
	probeErr  error
)

// localClient returns a client for DynamoDB Local, skipping the test (failing it in
// CI) when DynamoDB Local is not reachable.
func localClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		endpoint = defaultEndpoint
	}
	probeOnce.Do(func() { probeErr = probe(endpoint) })
	if probeErr != nil {
		testenv.SkipOrFail(t, "DynamoDB Local is not reachable at %s: %v; start it with `make local-aws`", endpoint, probeErr)
	}
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	})
}

// probe checks that something accepts connections at the endpoint.
func probe(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(u.Hostname(), port), 2*time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

// newTable creates a table with a random name, deleted when the test ends.
func newTable(t *testing.T, opts ...dynamostore.Option) (*dynamostore.Table, *dynamodb.Client) {
	t.Helper()
	client := localClient(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cfybroker-test-" + hex.EncodeToString(b[:])
	if err := dynamostore.CreateTable(t.Context(), client, name); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("DeleteTable %s: %v", name, err)
		}
	})
	return dynamostore.New(client, name, opts...), client
}

func TestContract(t *testing.T) {
	localClient(t) // skip once rather than in every sub-test
	storetest.Run(t, func(t *testing.T) store.Engine {
		tbl, _ := newTable(t)
		return tbl
	})
}

func TestCreateTable(t *testing.T) {
	tbl, client := newTable(t)
	ctx := t.Context()
	err := dynamostore.CreateTable(ctx, client, tbl.Name())
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Errorf("CreateTable of an existing table: error %v, want a ResourceInUseException", err)
	}
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tbl.Name())})
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.Table.BillingModeSummary; got == nil || got.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode = %+v, want PAY_PER_REQUEST", got)
	}
	if n := len(desc.Table.GlobalSecondaryIndexes); n != 1 || aws.ToString(desc.Table.GlobalSecondaryIndexes[0].IndexName) != dynamostore.IndexGSI1 {
		t.Errorf("indexes = %d, want %s", n, dynamostore.IndexGSI1)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tbl.Name())})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != dynamostore.AttrExpiresAt {
		t.Errorf("time to live = %+v, want enabled on %s", d, dynamostore.AttrExpiresAt)
	}
}

// rawItem reads an item as stored.
func rawItem(t *testing.T, client *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem %s/%s: %v", pk, sk, err)
	}
	return out.Item
}

// indexAndExpiry is the part of a stored item that depends on the record's state.
type indexAndExpiry struct {
	GSI1PK    string `dynamodbav:"GSI1PK"`
	GSI1SK    string `dynamodbav:"GSI1SK"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

func TestIndexAndExpiry(t *testing.T) {
	const retention = 48 * time.Hour
	tbl, client := newTable(t, dynamostore.WithRetention(retention))
	ctx := t.Context()
	created := time.Date(2025, 3, 14, 15, 9, 26, 5e8, time.UTC)
	in := broker.Instance{ID: "inst-1", State: broker.InstanceProvisioning, UpdatedAt: created, OperationID: "op-1"}
	op := broker.Operation{ID: "op-1", InstanceID: "inst-1", State: broker.StateInProgress, CreatedAt: created}
	if err := tbl.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}}); err != nil {
		t.Fatal(err)
	}
	check := func(when, pk string, want indexAndExpiry) {
		t.Helper()
		var got indexAndExpiry
		if err := attributevalue.UnmarshalMap(rawItem(t, client, tbl.Name(), pk, "META"), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: %s (-want +got):\n%s", when, pk, diff)
		}
	}
	check("in progress", "OP#op-1", indexAndExpiry{GSI1PK: "ACTIVE_OP", GSI1SK: "2025-03-14T15:09:26.500000000Z#op-1"})
	check("live", "INSTANCE#inst-1", indexAndExpiry{GSI1PK: "INSTANCE", GSI1SK: "inst-1"})

	ended := created.Add(time.Hour)
	op.State, op.EndedAt = broker.StateSucceeded, ended
	in.State, in.UpdatedAt = broker.InstanceGone, ended
	if err := tbl.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}}); err != nil {
		t.Fatal(err)
	}
	check("ended", "OP#op-1", indexAndExpiry{ExpiresAt: ended.Add(retention).Unix()})
	check("tombstone", "INSTANCE#inst-1", indexAndExpiry{GSI1PK: "INSTANCE", GSI1SK: "inst-1", ExpiresAt: ended.Add(retention).Unix()})

	// A new provision over the tombstone makes the instance live again.
	in.State = broker.InstanceProvisioning
	if err := tbl.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}}); err != nil {
		t.Fatal(err)
	}
	check("provisioned again", "INSTANCE#inst-1", indexAndExpiry{GSI1PK: "INSTANCE", GSI1SK: "inst-1"})

	// The instance naming another operation gives the previous one a successor item,
	// which expires after the retention from its write (now: the Table's clock).
	op2 := broker.Operation{ID: "op-2", InstanceID: "inst-1", State: broker.StateInProgress, CreatedAt: created}
	in.OperationID = op2.ID
	before := time.Now()
	if err := tbl.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op2}}); err != nil {
		t.Fatal(err)
	}
	var next struct {
		indexAndExpiry
		Next string `dynamodbav:"next_operation_id"`
	}
	if err := attributevalue.UnmarshalMap(rawItem(t, client, tbl.Name(), "OP#op-1", "NEXT"), &next); err != nil {
		t.Fatal(err)
	}
	if next.Next != "op-2" || next.GSI1PK != "" || next.ExpiresAt < before.Add(retention).Unix() || next.ExpiresAt > time.Now().Add(retention).Unix() {
		t.Errorf("successor of op-1 = %+v, want op-2 expiring %s after now", next, retention)
	}
}

// bigCatalog returns a catalog whose JSON document hardly compresses: its metadata
// holds n pseudo-random bytes (the same for the same etag), base64-encoded.
func bigCatalog(t *testing.T, etag string, n int) broker.Catalog {
	t.Helper()
	var seed [32]byte
	copy(seed[:], etag)
	noise := make([]byte, n)
	_, _ = mathrand.NewChaCha8(seed).Read(noise)
	return broker.Catalog{
		ETag:     etag,
		SyncedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Services: []broker.Service{{
			ID: "svc", Name: "svc", Metadata: map[string]any{"noise": base64.StdEncoding.EncodeToString(noise)},
			Plans: []broker.Plan{{ID: "plan", Name: "plan"}},
		}},
	}
}

// chunkCount returns how many chunk items the partition holds.
func chunkCount(t *testing.T, client *dynamodb.Client, table, pk string) int {
	t.Helper()
	out, err := client.Query(t.Context(), &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :chunk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":    &types.AttributeValueMemberS{Value: pk},
			":chunk": &types.AttributeValueMemberS{Value: "CHUNK#"},
		},
		Select:         types.SelectCount,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("Query chunks of %s: %v", pk, err)
	}
	return int(out.Count)
}

func mustCatalog(t *testing.T, tbl *dynamostore.Table, want broker.Catalog) {
	t.Helper()
	got, err := tbl.GetCatalog(t.Context())
	if err != nil {
		t.Fatalf("GetCatalog: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetCatalog (-want +got):\n%s", diff)
	}
}

func TestCatalogChunks(t *testing.T) {
	// 1 KB chunks, at most 9 (as with the real sizes): a few KB of noise spans
	// several chunks.
	tbl, client := newTable(t, dynamostore.WithChunking(1024, 9))
	ctx := t.Context()
	put := func(name string, c broker.Catalog) int {
		t.Helper()
		if err := tbl.PutCatalog(ctx, c); err != nil {
			t.Fatalf("PutCatalog (%s): %v", name, err)
		}
		mustCatalog(t, tbl, c)
		return chunkCount(t, client, tbl.Name(), "CATALOG")
	}
	large := put("large", bigCatalog(t, "e1", 4000)) // about 4 KB compressed
	if large < 4 {
		t.Errorf("large catalog in %d chunk items, want at least 4", large)
	}
	// A smaller document leaves no chunk of the larger one behind.
	if n := put("smaller", bigCatalog(t, "e2", 2000)); n < 2 || n >= large {
		t.Errorf("smaller catalog in %d chunk items, want 2 to %d", n, large-1)
	}
	if n := put("one item", bigCatalog(t, "e3", 10)); n != 0 {
		t.Errorf("small catalog: %d chunk items, want 0", n)
	}
	last := bigCatalog(t, "e4", 4000)
	if n := put("large again", last); n != large {
		t.Errorf("large catalog again in %d chunk items, want %d", n, large)
	}

	// Over the limit: refused, and the stored catalog stays.
	err := tbl.PutCatalog(ctx, bigCatalog(t, "too-big", 9000))
	if err == nil || errors.Is(err, broker.ErrConflict) {
		t.Errorf("PutCatalog over the limit = %v, want a size error", err)
	}
	mustCatalog(t, tbl, last)

	// The largest document takes nine chunks: with the manifest, ten items in one
	// transaction, as many as DynamoDB Local takes. Replacing it with a small one
	// deletes nine chunks in one transaction.
	most := 0
	for n := 6000; n < 12000; n += 250 {
		err := tbl.PutCatalog(ctx, bigCatalog(t, "grow", n))
		if err != nil {
			if errors.Is(err, broker.ErrConflict) || !strings.Contains(err.Error(), "at most") {
				t.Fatalf("PutCatalog of %d bytes of noise: %v", n, err)
			}
			break
		}
		most = max(most, chunkCount(t, client, tbl.Name(), "CATALOG"))
	}
	if most != 9 {
		t.Errorf("the largest catalog stored took %d chunk items, want 9", most)
	}
	if n := put("small after the largest", bigCatalog(t, "e5", 10)); n != 0 {
		t.Errorf("small catalog after the largest: %d chunk items, want 0", n)
	}

	// The overlay is stored the same way, under its own partition.
	overlay := []byte(bigCatalog(t, "overlay", 3000).Services[0].Metadata["noise"].(string))
	if err := tbl.PutOverlay(ctx, overlay); err != nil {
		t.Fatalf("PutOverlay: %v", err)
	}
	got, err := tbl.GetOverlay(ctx)
	if err != nil || string(got) != string(overlay) {
		t.Errorf("GetOverlay = %d bytes, %v; want the %d bytes put", len(got), err, len(overlay))
	}
	if n := chunkCount(t, client, tbl.Name(), "OVERLAY"); n < 2 {
		t.Errorf("overlay in %d chunk items, want several", n)
	}
}

func TestCatalogOverOneItem(t *testing.T) {
	// With the real limits: a catalog of 1 MB that hardly compresses needs three items.
	tbl, client := newTable(t)
	c := bigCatalog(t, "big", 750_000)
	if err := tbl.PutCatalog(t.Context(), c); err != nil {
		t.Fatalf("PutCatalog: %v", err)
	}
	mustCatalog(t, tbl, c)
	if n := chunkCount(t, client, tbl.Name(), "CATALOG"); n != 3 {
		t.Errorf("%d chunk items, want 3", n)
	}
}

func TestConcurrentCatalogPuts(t *testing.T) {
	tbl, client := newTable(t, dynamostore.WithChunking(1024, 9))
	ctx := t.Context()
	const writers = 4
	catalogs := make([]broker.Catalog, writers)
	for i := range catalogs {
		catalogs[i] = bigCatalog(t, "etag-"+strconv.Itoa(i), 1000*(i+1))
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() { errs[i] = tbl.PutCatalog(ctx, catalogs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("PutCatalog %d: %v", i, err)
		}
	}
	got, err := tbl.GetCatalog(ctx)
	if err != nil {
		t.Fatalf("GetCatalog: %v", err)
	}
	winner := -1
	for i, c := range catalogs {
		if c.ETag == got.ETag {
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("GetCatalog returned etag %q, written by nobody", got.ETag)
	}
	mustCatalog(t, tbl, catalogs[winner])
	// No chunk of a losing put lingers past the winner's.
	z := chunkCount(t, client, tbl.Name(), "CATALOG")
	if err := tbl.PutCatalog(ctx, bigCatalog(t, "small", 10)); err != nil {
		t.Fatal(err)
	}
	if n := chunkCount(t, client, tbl.Name(), "CATALOG"); n != 0 {
		t.Errorf("%d chunk items left after a small put (%d before), want 0", n, z)
	}
}

func TestStats(t *testing.T) {
	tbl, _ := newTable(t)
	ctx := t.Context()
	before := tbl.Stats()
	in := broker.Instance{ID: "inst-1"}
	op := broker.Operation{ID: "op-1", State: broker.StateInProgress}
	if err := tbl.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.GetInstance(ctx, "inst-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.ActiveOperations(ctx); err != nil {
		t.Fatal(err)
	}
	got := tbl.Stats().Sub(before)
	if got.Reads != 2 || got.Writes != 1 {
		t.Errorf("Stats = %+v, want 2 reads and 1 write", got)
	}
	t.Logf("one transaction of two items, a GetItem and a Query: %+v", got)
}
