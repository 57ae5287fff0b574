package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// failAttempts bounds the read-modify-write rounds of Fail when concurrent writers
// keep winning.
const failAttempts = 5

// Fail ends an unfinished operation as failed with description (shown to the platform
// as last_operation's description), and applies the end to its instance by the same
// rules as Step: a failed provision leaves the instance failed, a failed deprovision
// leaves it failed, a failed update leaves it as it was (ready); a failed bind leaves
// its binding failed (nothing on the manager is cleaned up here: an unbind or the
// deprovision revokes it), a failed unbind leaves it bound. Drivers call it when
// they give up on an operation: a state machine whose step faults exhausted their
// retries, a sweep that finds an operation past its deadline with no driver left.
//
// Fail writes under the records' version conditions, so it races safely with Step:
// when another writer wins, Fail reads again and, if the operation has ended
// meanwhile (succeeded or failed), leaves it as it is. Calling it for an operation
// that has ended does nothing, so it is idempotent.
//
// Errors: one matching broker.ErrNotFound when the operation does not exist; any other
// error is a fault (the store unavailable, or conflicts that outlasted the retries)
// after which Fail may simply be called again.
func (e *Engine) Fail(ctx context.Context, operationID, description string) error {
	var err error
	for range failAttempts {
		var done bool
		done, err = e.failOnce(ctx, operationID, description)
		if done || err != nil && !errors.Is(err, broker.ErrConflict) {
			return err
		}
	}
	return err
}

// failOnce does one read-modify-write round; done is true when the operation is
// failed (by this round) or had ended already.
func (e *Engine) failOnce(ctx context.Context, operationID, description string) (bool, error) {
	op, err := e.Store.GetOperation(ctx, operationID)
	if err != nil {
		return false, fmt.Errorf("fail %s: read operation: %w", operationID, err)
	}
	if op.Done() {
		return true, nil
	}
	now := e.now()
	op.State = broker.StateFailed
	op.Description = trim(description)
	op.EndedAt, op.UpdatedAt = now, now
	op.NextCheck = time.Time{}
	tx := broker.Tx{Operations: []*broker.Operation{&op}}
	if err := e.applyEnd(ctx, op, &tx, false, now); err != nil {
		return false, fmt.Errorf("fail %s: %w", op.ID, err)
	}
	if err := e.Store.Commit(ctx, tx); err != nil {
		return false, fmt.Errorf("fail %s: write operation: %w", op.ID, err)
	}
	e.logger().InfoContext(ctx, "operation ended", "operation_id", op.ID, "instance_id", op.InstanceID,
		"deployment_id", op.DeploymentID, "operation_type", string(op.Type), "request_id", op.RequestID,
		"state", string(op.State), "description", op.Description, "steps", op.Steps,
		"duration_ms", now.Sub(op.CreatedAt).Milliseconds(), "execution_id", op.ExecutionID)
	return true, nil
}
