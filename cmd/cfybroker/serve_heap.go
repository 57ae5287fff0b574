package main

import (
	"os"
	"runtime"
)

// heapFloor is the heap below which the embedded broker does not ask the garbage
// collector to run more often.
//
// The broker's live heap is small (its catalog, compiled schemas, a few records), so
// with Go's default pacing the collector runs every few megabytes allocated: under a
// platform's polling, several times a second, and each cycle scans the whole live heap
// and gives pages back to the system only to fault them in again. A CPU profile
// under wrk load showed 6% of the broker's time in the collector's marking alone
// (a bare net/http server: 1%) and five times its page faults. Counting heapFloor
// as live makes a cycle come after some tens of megabytes instead.
const heapFloor = 32 << 20

// reserveHeapFloor allocates heapFloor bytes that stay reachable until release is
// called, unless the operator tunes the collector (GOGC or GOMEMLIMIT set), which
// then decides alone. The bytes are never written: a large allocation comes from
// fresh, zeroed pages, so they count for the collector's pacing without being resident.
func reserveHeapFloor() (release func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	floor := make([]byte, heapFloor)
	return func() { runtime.KeepAlive(floor) }
}
