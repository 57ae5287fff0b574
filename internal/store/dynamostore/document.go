package dynamostore

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
)

const (
	// defaultChunkSize is the most compressed bytes one item holds: DynamoDB items are
	// limited to 400 KB, attribute names and the other attributes included.
	defaultChunkSize = 350 * 1024
	// defaultMaxChunks bounds a document to what one transaction writes: the chunks
	// and the manifest (or the deletes of the previous document's chunks) make at most
	// 10 items, the limit of DynamoDB Local's 2020 build (DynamoDB allows 100), and
	// stay under DynamoDB's 4 MB per transaction.
	defaultMaxChunks = 9
	// documentAttempts is how often a put retries after racing with another put, and a
	// get after racing with a put.
	documentAttempts = 5
	// encodingGzip is the only encoding written.
	encodingGzip = "gzip"
)

// errDocumentRace says that another put changed a document during a put or a get.
var errDocumentRace = errors.New("document changed concurrently")

// GetCatalog returns the catalog last put, or an error matching broker.ErrNotFound
// before the first PutCatalog.
func (t *Table) GetCatalog(ctx context.Context) (broker.Catalog, error) {
	doc, err := t.getDocument(ctx, pkCatalog, typeCatalog)
	if err != nil {
		return broker.Catalog{}, fmt.Errorf("dynamostore: get catalog: %w", err)
	}
	var c broker.Catalog
	if err := json.Unmarshal(doc, &c); err != nil {
		return broker.Catalog{}, fmt.Errorf("dynamostore: get catalog: decode: %w", err)
	}
	c.SyncedAt = c.SyncedAt.UTC()
	return c, nil
}

// PutCatalog replaces the catalog. The catalog is stored as its JSON document,
// compressed, in one item or, when larger than one item holds, in chunk items written
// in one transaction (see the package documentation). It fails, writing nothing, when
// the compressed document exceeds 3,150 KB.
func (t *Table) PutCatalog(ctx context.Context, c broker.Catalog) error {
	c.SyncedAt = c.SyncedAt.UTC()
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("dynamostore: put catalog: encode: %w", err)
	}
	if err := t.putDocument(ctx, pkCatalog, typeCatalog, doc); err != nil {
		return fmt.Errorf("dynamostore: put catalog: %w", err)
	}
	return nil
}

// GetOverlay returns the overlay document last put (never nil), or an error matching
// broker.ErrNotFound before the first PutOverlay.
func (t *Table) GetOverlay(ctx context.Context) ([]byte, error) {
	doc, err := t.getDocument(ctx, pkOverlay, typeOverlay)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: get overlay: %w", err)
	}
	return doc, nil
}

// PutOverlay replaces the overlay document, stored like the catalog.
func (t *Table) PutOverlay(ctx context.Context, doc []byte) error {
	if err := t.putDocument(ctx, pkOverlay, typeOverlay, doc); err != nil {
		return fmt.Errorf("dynamostore: put overlay: %w", err)
	}
	return nil
}

// putDocument stores doc compressed under the partition pk, retrying when another put
// of the same document races with it (the last put wins, as the interface implies).
func (t *Table) putDocument(ctx context.Context, pk, typ string, doc []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	z, err := compress(doc)
	if err != nil {
		return err
	}
	if limit := t.chunkSize * t.maxChunks; len(z) > limit {
		return fmt.Errorf("document is %d bytes compressed (%d uncompressed); the DynamoDB engine stores at most %d", len(z), len(doc), limit)
	}
	for range documentAttempts {
		err = t.putDocumentOnce(ctx, pk, typ, z)
		if !errors.Is(err, errDocumentRace) {
			return err
		}
	}
	return err
}

// putDocumentOnce writes the compressed document z in place of the stored one, on
// condition that the stored manifest is still the one it read.
func (t *Table) putDocumentOnce(ctx context.Context, pk, typ string, z []byte) error {
	old, err := t.getManifest(ctx, pk, typ)
	if err != nil && !errors.Is(err, broker.ErrNotFound) {
		return err
	}
	sum := sha256.Sum256(z)
	m := documentItem{
		itemHeader: newHeader(itemKey{PK: pk, SK: skMeta}, typ),
		Encoding:   encodingGzip,
		Generation: randomWriteID(),
		SHA256:     hex.EncodeToString(sum[:]),
		Size:       len(z),
		PutAt:      formatTime(t.now()),
	}
	chunks := split(z, t.chunkSize)
	if len(chunks) == 1 {
		m.Data = chunks[0]
	} else {
		m.Chunks = len(chunks)
	}
	var cond expression.ConditionBuilder
	if old == nil {
		cond = expression.AttributeNotExists(expression.Name(AttrPK))
	} else {
		cond = expression.Name("generation").Equal(expression.Value(old.Generation))
	}
	manifest, err := marshalItem(m)
	if err != nil {
		return err
	}
	ws := []write{{what: typ + " manifest", key: m.itemKey, item: manifest, cond: cond}}
	oldChunks := 0
	if old != nil {
		oldChunks = old.Chunks
	}
	if m.Chunks == 0 && oldChunks == 0 {
		// The common case: one item before and after.
		err := t.commitOneDocument(ctx, ws[0])
		if errors.Is(err, broker.ErrConflict) {
			return errDocumentRace
		}
		return err
	}

	items := make([]types.TransactWriteItem, 0, 1+max(m.Chunks, oldChunks))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return err
	}
	items = append(items, types.TransactWriteItem{Put: &types.Put{
		TableName:                 aws.String(t.name),
		Item:                      manifest,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}})
	for i := 1; i <= m.Chunks; i++ {
		c := chunkItem{itemHeader: newHeader(chunkKey(pk, i), chunkType(typ)), Generation: m.Generation, Data: chunks[i-1]}
		av, err := marshalItem(c)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(t.name), Item: av}})
		ws = append(ws, write{what: fmt.Sprintf("%s chunk %d", typ, i)})
	}
	// Chunks of the old document past the new one's go: nothing may linger unnamed.
	for i := m.Chunks + 1; i <= oldChunks; i++ {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(t.name), Key: chunkKey(pk, i).attributes()}})
		ws = append(ws, write{what: fmt.Sprintf("delete %s chunk %d", typ, i)})
	}
	err = t.transact(ctx, items, ws)
	if errors.Is(err, broker.ErrConflict) {
		return errDocumentRace
	}
	return err
}

// commitOneDocument puts a manifest that holds its whole document.
func (t *Table) commitOneDocument(ctx context.Context, w write) error {
	expr, err := expression.NewBuilder().WithCondition(w.cond).Build()
	if err != nil {
		return err
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
	return mapWriteError(err, []write{w})
}

// getManifest reads the manifest of a document, or broker.ErrNotFound.
func (t *Table) getManifest(ctx context.Context, pk, typ string) (*documentItem, error) {
	var m documentItem
	if err := t.get(ctx, itemKey{PK: pk, SK: skMeta}, typ, &m); err != nil {
		return nil, err
	}
	if m.Encoding != encodingGzip {
		return nil, fmt.Errorf("item %s: unknown encoding %q", m.itemKey, m.Encoding)
	}
	return &m, nil
}

// getDocument returns the document stored under the partition pk (never nil), or
// broker.ErrNotFound. A manifest and its chunks are read in two requests, so a get
// that races with a put reads again.
func (t *Table) getDocument(ctx context.Context, pk, typ string) ([]byte, error) {
	var err error
	for range documentAttempts {
		var doc []byte
		doc, err = t.getDocumentOnce(ctx, pk, typ)
		if !errors.Is(err, errDocumentRace) {
			return doc, err
		}
	}
	return nil, err
}

func (t *Table) getDocumentOnce(ctx context.Context, pk, typ string) ([]byte, error) {
	m, err := t.getManifest(ctx, pk, typ)
	if err != nil {
		return nil, err
	}
	z := m.Data
	if m.Chunks > 0 {
		chunks := make([][]byte, m.Chunks)
		kc := expression.Key(AttrPK).Equal(expression.Value(pk)).And(expression.Key(AttrSK).BeginsWith(skChunkPrefix))
		err := t.query(ctx, kc, queryOptions{consistent: true}, func(item map[string]types.AttributeValue) (bool, error) {
			var c chunkItem
			if err := decodeItem(item, chunkType(typ), &c); err != nil {
				return false, err
			}
			var n int
			if _, err := fmt.Sscanf(c.SK, skChunkPrefix+"%d", &n); err != nil || n < 1 {
				return false, fmt.Errorf("item %s: malformed chunk key", c.itemKey)
			}
			if n > m.Chunks {
				return false, nil // chunks sort by number: the rest are past the end
			}
			if c.Generation != m.Generation {
				return false, errDocumentRace
			}
			chunks[n-1] = c.Data
			return true, nil
		})
		if err != nil {
			return nil, err
		}
		z = bytes.Join(chunks, nil)
	}
	sum := sha256.Sum256(z)
	if len(z) != m.Size || hex.EncodeToString(sum[:]) != m.SHA256 {
		if m.Chunks > 0 {
			return nil, errDocumentRace
		}
		return nil, fmt.Errorf("item %s: stored document does not match its checksum", m.itemKey)
	}
	return decompress(z)
}

// split cuts data into parts of at most size bytes; always at least one part.
func split(data []byte, size int) [][]byte {
	if len(data) <= size {
		return [][]byte{data}
	}
	var parts [][]byte
	for len(data) > 0 {
		n := min(size, len(data))
		parts = append(parts, data[:n])
		data = data[n:]
	}
	return parts
}

// compress returns doc gzip-compressed.
func compress(doc []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(doc); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decompress returns the document that z compresses (never nil).
func decompress(z []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if doc == nil {
		doc = []byte{}
	}
	return doc, nil
}
