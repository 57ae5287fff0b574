package dynamostore

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Stats counts the requests a Table made to DynamoDB and the capacity they consumed.
type Stats struct {
	// Reads counts read requests: GetItem and every page of a Query.
	Reads int64
	// Writes counts write requests: PutItem, DeleteItem and TransactWriteItems (one
	// per transaction, whatever its items), failed conditional writes included.
	Writes int64
	// ReadUnits and WriteUnits add up the capacity units that DynamoDB reported as
	// consumed (on-demand tables bill request units of the same size). Failed requests
	// report none, although a failed conditional write is billed.
	ReadUnits  float64
	WriteUnits float64
}

// Sub returns the requests and units counted between an earlier snapshot and s.
func (s Stats) Sub(earlier Stats) Stats {
	return Stats{
		Reads:      s.Reads - earlier.Reads,
		Writes:     s.Writes - earlier.Writes,
		ReadUnits:  s.ReadUnits - earlier.ReadUnits,
		WriteUnits: s.WriteUnits - earlier.WriteUnits,
	}
}

// Stats returns what the Table has counted since New. Take a snapshot before and after
// a piece of work and Sub them to count that work alone.
func (t *Table) Stats() Stats {
	t.stats.mu.Lock()
	defer t.stats.mu.Unlock()
	return t.stats.s
}

// counters accumulates Stats; safe for concurrent use.
type counters struct {
	mu sync.Mutex
	s  Stats
}

// read counts one read request and the capacity it reported (nil: none).
func (c *counters) read(cc *types.ConsumedCapacity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Reads++
	c.s.ReadUnits += readUnits(cc)
}

// write counts one write request and the capacity it reported (nil: none).
func (c *counters) write(cc *types.ConsumedCapacity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Writes++
	c.s.WriteUnits += writeUnits(cc)
}

// readUnits returns the read units of a consumed capacity; the total when the
// response does not break it down.
func readUnits(cc *types.ConsumedCapacity) float64 {
	if cc == nil {
		return 0
	}
	if cc.ReadCapacityUnits != nil {
		return *cc.ReadCapacityUnits
	}
	return aws.ToFloat64(cc.CapacityUnits)
}

// writeUnits returns the write units of a consumed capacity; the total when the
// response does not break it down.
func writeUnits(cc *types.ConsumedCapacity) float64 {
	if cc == nil {
		return 0
	}
	if cc.WriteCapacityUnits != nil {
		return *cc.WriteCapacityUnits
	}
	return aws.ToFloat64(cc.CapacityUnits)
}

// sumCapacity adds up the per-table capacities of a transaction; nil for none.
func sumCapacity(ccs []types.ConsumedCapacity) *types.ConsumedCapacity {
	if len(ccs) == 0 {
		return nil
	}
	var read, write, total float64
	for _, cc := range ccs {
		read += aws.ToFloat64(cc.ReadCapacityUnits)
		write += aws.ToFloat64(cc.WriteCapacityUnits)
		total += aws.ToFloat64(cc.CapacityUnits)
	}
	sum := &types.ConsumedCapacity{CapacityUnits: aws.Float64(total)}
	if read != 0 || write != 0 {
		sum.ReadCapacityUnits, sum.WriteCapacityUnits = aws.Float64(read), aws.Float64(write)
	}
	return sum
}
