package dynamostore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
)

// Cancellation reason codes of a TransactionCanceledException that mean a conflict.
const (
	// reasonConditionFailed: the item's condition did not hold.
	reasonConditionFailed = "ConditionalCheckFailed"
	// reasonTransactionConflict: another transaction was writing the item. The caller
	// should re-read and decide again, as after a failed condition, so it is a
	// conflict too.
	reasonTransactionConflict = "TransactionConflict"
)

// mapWriteError returns nil for nil, an error matching broker.ErrConflict that names
// the records concerned when err says a condition failed, and err otherwise. ws are
// the writes of the request, in the order of its items.
func mapWriteError(err error, ws []write) error {
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		what := "record"
		if len(ws) == 1 {
			what = ws[0].what
		}
		return fmt.Errorf("%s: condition failed: %w", what, broker.ErrConflict)
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		var failed []string
		for i, r := range tce.CancellationReasons {
			code := aws.ToString(r.Code)
			if code != reasonConditionFailed && code != reasonTransactionConflict {
				continue
			}
			what := fmt.Sprintf("item %d", i)
			if i < len(ws) {
				what = ws[i].what
			}
			if code == reasonTransactionConflict {
				what += " (being written by another transaction)"
			}
			failed = append(failed, what)
		}
		if len(failed) > 0 {
			return fmt.Errorf("%s: condition failed: %w", strings.Join(failed, ", "), broker.ErrConflict)
		}
	}
	return err
}
