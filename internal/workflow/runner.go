package workflow

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// Stepper advances one operation by one step (Engine implements it).
type Stepper interface {
	Step(ctx context.Context, operationID string) (TaskOutput, error)
}

// RunnerConfig tunes a Runner. Zero values take the defaults.
type RunnerConfig struct {
	// Concurrency bounds the steps running at once (default 8).
	Concurrency int
	// SweepInterval is how often unfinished operations are re-read from the store, so
	// that none is forgotten (default 1 minute).
	SweepInterval time.Duration
	// RetryMin and RetryMax bound the wait after a failed step (default 1 s and 60 s).
	RetryMin, RetryMax time.Duration
	// StepTimeout bounds one step (default 3 minutes: a deployment create may block).
	StepTimeout time.Duration
	Logger      *slog.Logger
}

// Runner is the in-process driver of the embedded shape: it runs due steps
// concurrently (bounded), resumes every unfinished operation from the store on start
// and on every sweep, and stops cleanly. It implements broker.Starter.
type Runner struct {
	stepper Stepper
	lister  broker.OperationLister
	cfg     RunnerConfig

	mu       sync.Mutex
	queue    dueQueue
	queued   map[string]*dueItem
	running  map[string]bool
	failures map[string]int
	wake     chan struct{}
}

var _ broker.Starter = (*Runner)(nil)

// NewRunner returns a Runner; call Run to start it.
func NewRunner(stepper Stepper, lister broker.OperationLister, cfg RunnerConfig) *Runner {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 3 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		stepper: stepper, lister: lister, cfg: cfg,
		queued: map[string]*dueItem{}, running: map[string]bool{}, failures: map[string]int{},
		wake: make(chan struct{}, 1),
	}
}

// Start schedules an operation's first step now. It never fails: a Runner that is not
// running yet picks the operation up when Run starts.
func (r *Runner) Start(_ context.Context, op broker.Operation) error {
	r.schedule(op.ID, time.Now())
	return nil
}

// schedule makes the operation due at t (earlier wins if it is already queued).
func (r *Runner) schedule(id string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if it, ok := r.queued[id]; ok {
		if t.Before(it.due) {
			it.due = t
			heap.Fix(&r.queue, it.index)
		}
	} else {
		it := &dueItem{id: id, due: t}
		heap.Push(&r.queue, it)
		r.queued[id] = it
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// sweep schedules every unfinished operation at its NextCheck.
func (r *Runner) sweep(ctx context.Context) {
	ops, err := r.lister.ActiveOperations(ctx)
	if err != nil {
		r.cfg.Logger.WarnContext(ctx, "cannot list unfinished operations", "error", err)
		return
	}
	for _, op := range ops {
		r.mu.Lock()
		busy := r.running[op.ID]
		_, queued := r.queued[op.ID]
		r.mu.Unlock()
		if !busy && !queued {
			r.schedule(op.ID, op.NextCheck)
		}
	}
}

// Run drives operations until ctx is done, then waits for the steps in flight.
func (r *Runner) Run(ctx context.Context) error {
	r.sweep(ctx)
	sem := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	sweep := time.NewTicker(r.cfg.SweepInterval)
	defer sweep.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		id, wait := r.nextDue()
		if id != "" {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				r.runStep(ctx, id)
			}()
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-timer.C:
		case <-sweep.C:
			r.sweep(ctx)
		}
	}
}

// nextDue pops a due operation that is not running, or says how long to wait.
func (r *Runner) nextDue() (string, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for r.queue.Len() > 0 {
		it := r.queue[0]
		if it.due.After(now) {
			return "", it.due.Sub(now)
		}
		heap.Pop(&r.queue)
		delete(r.queued, it.id)
		if r.running[it.id] {
			continue // it reschedules itself when its step ends
		}
		r.running[it.id] = true
		return it.id, 0
	}
	return "", time.Hour
}

func (r *Runner) runStep(ctx context.Context, id string) {
	// A step in flight finishes even when the runner is asked to stop, so that what it
	// did on Cloudify is recorded.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StepTimeout)
	out, err := r.stepper.Step(sctx, id)
	cancel()
	r.mu.Lock()
	delete(r.running, id)
	n := r.failures[id]
	if err != nil {
		n++
		r.failures[id] = n
	} else {
		delete(r.failures, id)
	}
	r.mu.Unlock()
	switch {
	case errors.Is(err, broker.ErrNotFound):
		r.cfg.Logger.WarnContext(ctx, "operation vanished from the store", "operation_id", id)
	case err != nil:
		wait := min(r.cfg.RetryMin<<min(n-1, 16), r.cfg.RetryMax)
		r.cfg.Logger.WarnContext(ctx, "step failed; retrying", "operation_id", id, "attempt", n, "retry_in_s", wait.Seconds(), "error", err)
		r.schedule(id, time.Now().Add(wait))
	case !out.Done:
		wait := out.WaitExact
		if wait <= 0 {
			wait = out.Wait()
		}
		r.schedule(id, time.Now().Add(wait))
	}
}

// dueItem is one scheduled operation in the heap.
type dueItem struct {
	id    string
	due   time.Time
	index int
}

// dueQueue is a min-heap of dueItems by due time.
type dueQueue []*dueItem

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q dueQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i]; q[i].index = i; q[j].index = j }
func (q *dueQueue) Push(x any)        { it := x.(*dueItem); it.index = len(*q); *q = append(*q, it) }
func (q *dueQueue) Pop() any          { old := *q; n := len(old); it := old[n-1]; *q = old[:n-1]; return it }
