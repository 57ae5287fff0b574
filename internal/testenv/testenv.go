// Package testenv holds the helpers that the tests of several packages share: the
// probe verdict for tests that need a local service (skip on a developer's machine,
// fail in CI), and a buffer safe for concurrent writers. Only tests import it; the
// shipped binaries link none of it (.ci/check-deps).
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
)

// InCI reports whether the tests run in CI (the CI environment variable is set), where
// every local service a test needs must be there.
func InCI() bool { return os.Getenv("CI") != "" }

// SkipOrFail ends a test that cannot run because a local service or tool is missing:
// it skips with the message locally, and fails with it in CI. The message should name
// the make target that provides what is missing.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers, such as the output of a
// subprocess or of a logger that several goroutines share. The zero value is empty and
// ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
