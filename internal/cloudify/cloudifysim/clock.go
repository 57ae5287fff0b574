package cloudifysim

import (
	"sync"
	"time"
)

// Clock is the simulator's source of time. Execution progress, timestamps and
// token expiry are all derived from it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// realClock is the wall clock. The simulator recognises it to decide whether a
// synchronous deployment create may really wait.
type realClock struct{}

// Now returns time.Now in UTC.
func (realClock) Now() time.Time { return time.Now().UTC() }

// ManualClock is a Clock that only moves when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a ManualClock set to t.
func NewManualClock(t time.Time) *ManualClock {
	return &ManualClock{t: t.UTC()}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backwards if d is negative).
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set sets the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t.UTC()
	c.mu.Unlock()
}

// timeFormat is the manager's timestamp layout: UTC, milliseconds, "Z".
const timeFormat = "2006-01-02T15:04:05.000Z"

// fmtTime renders t in the manager's layout, or nil for the zero time.
func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeFormat)
}

// SpeedClock is the real time since Start run Factor times faster, so that the
// simulator's workflows take seconds in a demo or a test.
type SpeedClock struct {
	Start  time.Time
	Factor float64
}

// NewSpeedClock returns a SpeedClock that starts now; a factor of 0 or less is 1.
func NewSpeedClock(factor float64) SpeedClock {
	if factor <= 0 {
		factor = 1
	}
	return SpeedClock{Start: time.Now().UTC(), Factor: factor}
}

// Now is Start plus the real time elapsed since, times Factor, in UTC.
func (c SpeedClock) Now() time.Time {
	return c.Start.Add(time.Duration(float64(time.Since(c.Start)) * c.Factor)).UTC()
}
