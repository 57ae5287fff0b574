package osb

import (
	"log/slog"
	"sync"
)

// Request logging of polls. A platform polls last_operation for every operation in
// flight every few seconds, for as long as it runs, and reads the catalog on its own
// schedule: one INFO line for each of those requests costs a tenth of the broker's
// throughput and fills disks with lines that say nothing new. So a poll whose answer
// is the same as the previous poll's of the same resource is logged at DEBUG; the
// first poll, every changed answer and every error are logged at INFO, and that line
// counts the polls with an unchanged answer since the previous INFO line of the
// resource (unchanged_polls). Every request that changes anything, and every error,
// is logged at INFO, always. Every line carries the request's
// X-Broker-API-Request-Identity (request_id); at DEBUG every poll has its line.

// maxPollKeys bounds the memory of the answers: past it the memory starts over (each
// resource's next poll is then logged at INFO once more).
const maxPollKeys = 1 << 14

// pollKey names a polled resource: the route and the ids in its path.
type pollKey struct {
	route             *route
	instance, binding string
}

// pollAnswer is the last answer given for a resource and the polls that repeated it.
type pollAnswer struct {
	answer    uint64
	unchanged int64
}

// pollLog remembers the last answer of every polled resource.
type pollLog struct {
	mu   sync.Mutex
	last map[pollKey]*pollAnswer
}

// observe records an answer and returns whether it differs from the previous one
// for the resource (true for the first), and how many polls repeated the previous
// answer since it was last reported.
func (p *pollLog) observe(k pollKey, answer uint64) (changed bool, unchanged int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.last[k]
	if ok && a.answer == answer {
		a.unchanged++
		return false, 0
	}
	if !ok {
		if p.last == nil || len(p.last) >= maxPollKeys {
			p.last = make(map[pollKey]*pollAnswer)
		}
		a = &pollAnswer{}
		p.last[k] = a
	}
	unchanged, a.answer, a.unchanged = a.unchanged, answer, 0
	return true, unchanged
}

// forget drops what is known of a resource's answers.
func (p *pollLog) forget(k pollKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.last, k)
}

// pollLevel returns the level of a request's log line: DEBUG for a successful poll
// that repeats its resource's previous answer, else level; and the count of repeated
// polls to report with an INFO line (0: none).
func (h *handler) pollLevel(x *exchange, level slog.Level) (slog.Level, int64) {
	if !x.quiet {
		return level, 0
	}
	k := pollKey{route: x.route, instance: x.instanceID, binding: x.binding}
	if x.err != nil || x.status >= 400 || level != slog.LevelInfo {
		// An error is always logged as it is; the next answer counts as changed.
		h.polls.forget(k)
		return level, 0
	}
	answer := x.answer
	if !x.answerSet {
		answer = 0
	}
	changed, unchanged := h.polls.observe(k, answer*31+uint64(x.status))
	if !changed {
		return slog.LevelDebug, 0
	}
	return level, unchanged
}

// answerHash identifies an answer: FNV-1a of its bytes (hash/fnv's, without the
// allocation of its interface).
func answerHash[T string | []byte](b T) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= prime
	}
	return h
}
