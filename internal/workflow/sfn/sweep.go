package sfn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// Failer ends an operation as failed; *workflow.Engine implements it.
//
// Fail does nothing for an operation that has ended; it returns an error matching
// broker.ErrNotFound for an unknown operation, any other error is a fault.
type Failer interface {
	Fail(ctx context.Context, operationID, description string) error
}

// Defaults of Sweeper.
const (
	// DefaultStaleAfter is how long past its NextCheck an operation may go unlooked
	// at before the Sweeper checks on its execution. A healthy execution looks again
	// within a minute; one riding out a Cloudify outage in its Retry does not, and
	// DescribeExecution tells those apart.
	DefaultStaleAfter = 5 * time.Minute
	// DefaultMaxRestarts bounds the executions the Sweeper starts for one operation.
	DefaultMaxRestarts = 5
)

// Sweeper finds operations in progress that lost their driver, and restarts or fails
// them. Every field but Logger, Now, StaleAfter and MaxRestarts is required.
type Sweeper struct {
	Lister  broker.OperationLister
	Failer  Failer
	Starter *Starter
	// StaleAfter: see DefaultStaleAfter.
	StaleAfter time.Duration
	// MaxRestarts: see DefaultMaxRestarts. An operation whose executions all ended
	// without ending it, MaxRestarts times over, is failed.
	MaxRestarts int
	Logger      *slog.Logger
	Now         func() time.Time
}

// SweepResult counts what a sweep saw and did.
type SweepResult struct {
	// Active is the operations in progress; Stale those not looked at for StaleAfter.
	Active, Stale int
	// Running is the stale operations whose execution still runs (in its Retry).
	Running int
	// Restarted is the operations given a new execution.
	Restarted int
	// Failed is the operations failed (past their deadline, or out of restarts).
	Failed int
}

// Sweep looks at every operation in progress whose NextCheck is older than StaleAfter:
//
//   - past its deadline: failed as timed out (Failer.Fail);
//   - its latest execution still running: left alone (a step riding out faults);
//   - no execution, or every one ended: a new execution is started, named
//     ExecutionName(id, n) for the first n without one;
//   - MaxRestarts restarts used up: failed.
//
// It goes on after an error with one operation and returns the errors joined.
func (s *Sweeper) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	ops, err := s.Lister.ActiveOperations(ctx)
	if err != nil {
		return res, fmt.Errorf("sfn: sweep: list operations: %w", err)
	}
	res.Active = len(ops)
	now := s.now()
	staleAfter := s.StaleAfter
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	var errs []error
	for _, op := range ops {
		if op.Done() || op.NextCheck.After(now.Add(-staleAfter)) {
			continue
		}
		res.Stale++
		if err := s.sweepOne(ctx, op, now, &res); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

func (s *Sweeper) sweepOne(ctx context.Context, op broker.Operation, now time.Time, res *SweepResult) error {
	log := s.logger().With("operation_id", op.ID, "instance_id", op.InstanceID, "deployment_id", op.DeploymentID)
	if !op.Deadline.IsZero() && now.After(op.Deadline) {
		desc := fmt.Sprintf("timed out: the %s did not end by its deadline (%s)", op.Type, op.Deadline.Sub(op.CreatedAt).Round(time.Second))
		if err := s.fail(ctx, op.ID, desc); err != nil {
			return err
		}
		res.Failed++
		log.WarnContext(ctx, "operation past its deadline with no driver: failed")
		return nil
	}
	maxRestarts := s.MaxRestarts
	if maxRestarts <= 0 {
		maxRestarts = DefaultMaxRestarts
	}
	for attempt := 0; attempt <= maxRestarts; attempt++ {
		name := ExecutionName(op.ID, attempt)
		status, found, err := s.Starter.status(ctx, name)
		if err != nil {
			return fmt.Errorf("sfn: sweep %s: %w", op.ID, err)
		}
		if found && status == types.ExecutionStatusRunning {
			res.Running++
			log.InfoContext(ctx, "stale operation still driven", "sfn_execution_name", name)
			return nil
		}
		if found {
			continue // ended without ending the operation; try the next name
		}
		arn, err := s.Starter.start(ctx, op.ID, attempt)
		if err != nil {
			return fmt.Errorf("sfn: sweep %s: %w", op.ID, err)
		}
		res.Restarted++
		log.WarnContext(ctx, "operation had lost its driver: started a new execution", "sfn_execution_id", arn, "attempt", attempt)
		return nil
	}
	desc := fmt.Sprintf("the broker's workflow driver stopped %d times without ending the %s", maxRestarts+1, op.Type)
	if err := s.fail(ctx, op.ID, desc); err != nil {
		return err
	}
	res.Failed++
	log.WarnContext(ctx, "operation out of restarts: failed")
	return nil
}

func (s *Sweeper) fail(ctx context.Context, id, desc string) error {
	if err := s.Failer.Fail(ctx, id, desc); err != nil && !errors.Is(err, broker.ErrNotFound) {
		return fmt.Errorf("sfn: sweep %s: %w", id, err)
	}
	return nil
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Sweeper) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}
