// Package dynamostore is the DynamoDB storage engine: broker state in one DynamoDB
// table, for the Lambda deployment. Table implements store.Engine.
//
// # Table design
//
// One table, on-demand (PAY_PER_REQUEST) billing, with a string partition key PK and a
// string sort key SK, one global secondary index GSI1 (keys GSI1PK and GSI1SK,
// projecting every attribute) and time to live on the number attribute expires_at.
// CreateTable creates it; the CDK app defines the same table from the exported
// constants (AttrPK, AttrSK, IndexGSI1, AttrGSI1PK, AttrGSI1SK, AttrExpiresAt).
//
//	item                PK                  SK                   GSI1PK     GSI1SK
//	instance            INSTANCE#<id>       META                 INSTANCE   <id>
//	binding             INSTANCE#<id>       BINDING#<binding>    -          -
//	operation           OP#<id>             META                 ACTIVE_OP  <created_at>#<id>   (in progress only)
//	successor           OP#<id>             NEXT                 -          -
//	catalog manifest    CATALOG             META                 -          -
//	catalog chunk       CATALOG             CHUNK#<nnnn>         -          -
//	overlay             OVERLAY             META                 -          -
//	overlay chunk       OVERLAY             CHUNK#<nnnn>         -          -
//
// An instance and its bindings share a partition, so ListBindings is one Query on
// PK = INSTANCE#<id> and SK beginning with BINDING#. An operation's successor item
// says that its instance has named another operation since (which one, and when); it
// is written in the transaction that makes the instance name it, so that a
// last_operation poll without the operation's id can read the operation it last found
// current, and learn that it still is, in one Query (see OperationStatus).
//
// GSI1 is overloaded and sparse: it holds every instance under GSI1PK = INSTANCE,
// sorted by id, so that ListInstances is a Query that pages in id order (no Scan); and
// the operations in progress under GSI1PK = ACTIVE_OP, sorted by creation time then id,
// so that ActiveOperations is a Query. An operation carries GSI1PK and GSI1SK only
// while its State is "in progress"; every write puts the whole item, so the write that
// ends an operation drops it from the index. <created_at> is fixed-width UTC with nine
// fractional digits (2006-01-02T15:04:05.000000000Z), so that it sorts as text.
// GSI reads are eventually consistent: a write shows in ListInstances and
// ActiveOperations typically within a second (at once on DynamoDB Local). Those lists
// serve operators and the workflow driver, never an OSB request: a caller that acts on
// a listed record re-reads it with a consistent Get, and Commit's conditions catch a
// stale one. Both index partitions are single keys, which suits a broker's write rate
// (far below the 1,000 writes a second of one partition).
//
// Every item carries "type" (instance, binding, operation, operation_successor,
// catalog, catalog_chunk, overlay, overlay_chunk), "schema" (the stored format's version; items of another version are refused
// rather than misread) and, for instances, operations and bindings, "version" (the
// optimistic-concurrency version of the domain record). Data attributes are snake_case
// copies of the domain fields; times are the same fixed-width UTC strings as above
// (absent when zero), sealed parameters and platform contexts are binary attributes,
// byte for byte. Item structs are unexported and separate from the domain types.
//
// # Time to live
//
// DynamoDB deletes an item some time (up to days) after the epoch second in its
// expires_at has passed. The engine sets it on two kinds of item, and only there:
//
//   - a finished operation (succeeded or failed): EndedAt (UpdatedAt, or now, when
//     EndedAt is zero) plus the retention, 30 days unless WithRetention says otherwise;
//   - an instance tombstone (State gone): UpdatedAt (or now) plus the retention;
//   - a successor item: its write plus the retention.
//
// A write that makes the record live again (a new provision over a tombstone) clears
// it. Live instances, operations in progress, bindings, the catalog and the overlay
// never expire. After expiry GetOperation of an old operation id answers not found,
// as it does for an id never used. WithRetention(0) disables expiry. DynamoDB Local
// accepts the TTL setting but never deletes expired items.
//
// # Writes
//
// Commit writes each record under its own condition: attribute_not_exists(PK) for
// Version 0, version = :v otherwise (a delete always checks version = :v), and stores
// Version+1; the successor items it adds go without a condition (it reads each
// instance a Tx updates, to know its stored operation). A Tx of one write is one
// PutItem or DeleteItem (a workflow step: the operation alone); a larger one is one
// TransactWriteItems, which DynamoDB limits to 100 items (Commit refuses more before
// calling; DynamoDB Local's 2020 build still refuses more than 10, far above the few
// records of the broker's transactions). A failed condition (ConditionalCheckFailedException, or a
// TransactionCanceledException whose reasons include ConditionalCheckFailed or
// TransactionConflict) is reported as broker.ErrConflict.
//
// The SDK retries a request whose response was lost. TransactWriteItems carries an
// idempotency token, so a retry of a transaction that landed succeeds again. A single
// PutItem has no such token: its retry would fail its own condition. So every put
// item carries a random "write_id", and when a single put fails its condition the
// engine reads the item back (consistently) and reports success if it holds this
// Commit's write_id.
//
// # Catalog and overlay
//
// The catalog is stored as its JSON document, gzip-compressed, in a binary attribute
// of the CATALOG/META manifest item, and the overlay likewise under OVERLAY/META. A
// document whose compressed form exceeds 350 KB (DynamoDB items are limited to 400 KB)
// is split into chunk items CHUNK#0001, CHUNK#0002, … written together with the
// manifest in one TransactWriteItems, which also deletes the chunks of the previous
// document that the new one does not overwrite. The manifest names the document's
// generation, chunk count and SHA-256; a reader checks them and reads again if a put
// raced with it, and the manifest is written on condition that it is still the one
// the put read, so racing puts retry and the last one wins whole. A document over
// 3,150 KB compressed (nine chunks: with the manifest, ten items, the most a
// transaction holds on DynamoDB Local, and under the 4 MB a transaction holds on
// DynamoDB) is refused with an error and nothing is written. A catalog's JSON
// compresses several times over, so a usual catalog fits the manifest: a get is one
// request, a put two (the manifest is read first).
//
// # Reads and writes counted
//
// Every request asks DynamoDB for its consumed capacity. Stats returns how many read
// and write requests the Table made and the capacity units they consumed, so that
// callers can report DynamoDB usage per lifecycle.
package dynamostore
