package workflow

import (
	"time"

	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Backoff decides when to look at a running Cloudify execution again.
//
// Without progress information the waits grow with the time the operation has run
// (Factor × elapsed: short at first, so quick workflows are seen quickly, long for long
// installs), capped at Max.
//
// When the execution reports progress (finished_operations of total_operations,
// Cloudify 6.0+), the engine extrapolates the remaining time linearly and aims at the
// end: far from it, it looks again a little before the estimated end (so a wrong
// estimate is corrected by a fresh one); near it (the remaining time under a tenth of the
// elapsed time), a little after it. The detection delay then stays within about a tenth
// of the elapsed time while a 10-minute install costs about a dozen looks. The wait is
// still bounded by twice Factor × elapsed (linear extrapolation of counters that lag
// tends to overestimate what remains, and the aim is before the estimated end) and by
// MaxWithProgress.
type Backoff struct {
	// Min is the shortest wait (default 2 s).
	Min time.Duration
	// Max is the longest wait without progress information (default 60 s).
	Max time.Duration
	// MaxWithProgress is the longest wait with progress information (default 10 min).
	MaxWithProgress time.Duration
	// Factor is the wait as a share of the elapsed time (default 1.0: each wait as long
	// as the operation has run so far).
	Factor float64
}

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = 2 * time.Second
	}
	if b.Max <= 0 {
		b.Max = 60 * time.Second
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	if b.Factor <= 0 {
		b.Factor = 1.0
	}
	if b.MaxWithProgress < b.Max {
		b.MaxWithProgress = max(b.Max, 10*time.Minute)
	}
	return b
}

// Next returns the wait after a look at an unfinished execution, elapsed after the
// operation started. exec may be nil.
func (b Backoff) Next(elapsed time.Duration, exec *cloudify.Execution) time.Duration {
	b = b.withDefaults()
	grow := max(time.Duration(float64(elapsed)*b.Factor), b.Min)
	wait := min(grow, b.Max)
	if eta, ok := estimateRemaining(elapsed, exec); ok {
		tenth := elapsed / 10
		if eta <= tenth {
			wait = eta + eta/10 + time.Second // just after the end
		} else {
			wait = min(eta-tenth/2, 2*grow, b.MaxWithProgress) // a little before it
		}
	}
	wait = max(wait, b.Min)
	if wait >= time.Second {
		wait = wait.Round(time.Second) // whole seconds, as a Wait state takes them
	}
	return wait
}

// Short is the wait while Cloudify prepares something that takes seconds (an
// environment being created, a cancel taking effect, a delete finishing).
func (b Backoff) Short() time.Duration { return b.withDefaults().Min }

// estimateRemaining extrapolates an execution's progress linearly.
func estimateRemaining(elapsed time.Duration, exec *cloudify.Execution) (time.Duration, bool) {
	if exec == nil || exec.Status != cloudify.Started || exec.TotalOperations <= 0 ||
		exec.FinishedOperations <= 0 || exec.FinishedOperations >= exec.TotalOperations || elapsed <= 0 {
		return 0, false
	}
	done := float64(exec.FinishedOperations) / float64(exec.TotalOperations)
	return time.Duration(float64(elapsed) * (1 - done) / done), true
}
