package workflow

import (
	"time"

	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Backoff decides when to look at a running Cloudify execution again. Waits grow with
// the time the operation has run (short at first, so quick workflows are seen quickly;
// long for long installs, so a 10-minute install costs about a dozen looks). When the
// execution reports progress (finished_operations of total_operations, Cloudify 6.0+),
// the wait aims just after the estimated end, bounded by the elapsed time (so a wrong
// estimate costs at most one doubling) and by MaxWithProgress; without progress it is
// capped at Max.
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
	wait := max(time.Duration(float64(elapsed)*b.Factor), b.Min)
	if eta, ok := estimateRemaining(elapsed, exec); ok {
		// Land a little after the estimated end.
		wait = min(wait, eta+eta/10+time.Second, b.MaxWithProgress)
	} else {
		wait = min(wait, b.Max)
	}
	return max(wait, b.Min).Round(time.Second)
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
