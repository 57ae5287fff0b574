package storetest

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
)

// statusReader returns the engine as a broker.StatusReader, or skips the test when it
// is not one (the capability is optional).
func statusReader(t *testing.T, s store.Engine) broker.StatusReader {
	t.Helper()
	r, ok := s.(broker.StatusReader)
	if !ok {
		t.Skipf("%T is not a broker.StatusReader", s)
	}
	return r
}

func mustStatus(t *testing.T, r broker.StatusReader, instanceID, operationID string) broker.OperationStatus {
	t.Helper()
	st, err := r.OperationStatus(t.Context(), instanceID, operationID)
	if err != nil {
		t.Fatalf("OperationStatus(%q, %q): %v", instanceID, operationID, err)
	}
	return st
}

func checkStatus(t *testing.T, what string, got broker.OperationStatus, want broker.Operation) {
	t.Helper()
	w := want.Status()
	if got.ID != w.ID || got.InstanceID != w.InstanceID || got.Type != w.Type || got.State != w.State ||
		got.Description != w.Description || !got.NextCheck.Truncate(time.Millisecond).Equal(w.NextCheck.Truncate(time.Millisecond)) {
		t.Errorf("%s: OperationStatus = %+v, want %+v", what, got, w)
	}
}

// testOperationStatus: the status of the named operation when it is the instance's
// (and not one of its bindings'), else of the instance's current one; ErrNotFound for an unknown instance or one
// without an operation; every Commit shows at once, a failed one never.
func testOperationStatus(t *testing.T, open factory) {
	s := open(t)
	r := statusReader(t, s)
	ctx := t.Context()

	if _, err := r.OperationStatus(ctx, "nope", ""); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("unknown instance: err = %v, want ErrNotFound", err)
	}
	if _, err := r.OperationStatus(ctx, "nope", "op-nope"); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("unknown instance and operation: err = %v, want ErrNotFound", err)
	}

	in := fullInstance("st-1")
	in.OperationID, in.OperationState = "op-st-1", broker.StateInProgress
	op := fullOperation("op-st-1", in.ID)
	op.Type, op.Description = broker.OpProvision, "creating"
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}})
	checkStatus(t, "after create, unnamed", mustStatus(t, r, in.ID, ""), op)
	checkStatus(t, "after create, named", mustStatus(t, r, in.ID, op.ID), op)
	checkStatus(t, "after create, unknown name", mustStatus(t, r, in.ID, "op-unknown"), op)

	// A step: the operation alone changes.
	op.Description, op.NextCheck = "installing (3 of 12)", op.NextCheck.Add(time.Minute)
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&op}})
	checkStatus(t, "after a step", mustStatus(t, r, in.ID, ""), op)

	// A failed write changes nothing.
	stale := op
	stale.Version--
	stale.Description = "never"
	if err := s.Commit(ctx, broker.Tx{Operations: []*broker.Operation{&stale}}); !errors.Is(err, broker.ErrConflict) {
		t.Fatalf("stale Commit: err = %v, want ErrConflict", err)
	}
	checkStatus(t, "after a failed write", mustStatus(t, r, in.ID, ""), op)

	// The end: operation and instance together.
	op.State, op.Description, op.NextCheck = broker.StateSucceeded, "installed", time.Time{}
	in.State, in.OperationState = broker.InstanceReady, broker.StateSucceeded
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}})
	checkStatus(t, "after the end", mustStatus(t, r, in.ID, op.ID), op)

	// A newer operation becomes current; the older one can still be named.
	op2 := fullOperation("op-st-1b", in.ID)
	in.OperationID, in.OperationType, in.OperationState = op2.ID, op2.Type, broker.StateInProgress
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op2}})
	checkStatus(t, "newer, unnamed", mustStatus(t, r, in.ID, ""), op2)
	checkStatus(t, "newer, named", mustStatus(t, r, in.ID, op2.ID), op2)
	checkStatus(t, "older, named", mustStatus(t, r, in.ID, op.ID), op)
	op.Description = "installed, then annotated"
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&op}})
	checkStatus(t, "older changed, named", mustStatus(t, r, in.ID, op.ID), op)
	checkStatus(t, "older changed, unnamed", mustStatus(t, r, in.ID, ""), op2)

	// An operation on one of the instance's bindings is not the instance's.
	bindOp := fullOperation("op-st-1-bind", in.ID)
	bindOp.Type, bindOp.BindingID, bindOp.Description = broker.OpBind, "b-st-1", "creating credentials"
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&bindOp}})
	checkStatus(t, "a binding's operation named", mustStatus(t, r, in.ID, bindOp.ID), op2)
	checkStatus(t, "unnamed after a binding's operation", mustStatus(t, r, in.ID, ""), op2)
	bindOp.Description = "credentials created"
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&bindOp}})
	checkStatus(t, "unnamed after a binding's step", mustStatus(t, r, in.ID, ""), op2)

	// An operation of another instance is not this one's.
	other := fullInstance("st-2")
	other.OperationID = "op-st-2"
	otherOp := fullOperation("op-st-2", other.ID)
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&other}, Operations: []*broker.Operation{&otherOp}})
	checkStatus(t, "another instance's operation named", mustStatus(t, r, in.ID, otherOp.ID), op2)

	// An instance without an operation, and one whose operation is missing.
	bare := fullInstance("st-3")
	bare.OperationID = ""
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&bare}})
	if _, err := r.OperationStatus(ctx, bare.ID, ""); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("instance without an operation: err = %v, want ErrNotFound", err)
	}
	dangling := fullInstance("st-4")
	dangling.OperationID = "op-never-written"
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&dangling}})
	if _, err := r.OperationStatus(ctx, dangling.ID, ""); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("instance whose operation is missing: err = %v, want ErrNotFound", err)
	}
	// Its operation written later shows.
	late := fullOperation("op-never-written", dangling.ID)
	mustCommit(t, s, broker.Tx{Operations: []*broker.Operation{&late}})
	checkStatus(t, "operation written after its instance", mustStatus(t, r, dangling.ID, ""), late)
}

// testOperationStatusConcurrent: while one writer commits steps of an operation,
// polls never see a step that has not been committed yet nor miss one that was
// committed before they started.
func testOperationStatusConcurrent(t *testing.T, open factory) {
	s := open(t)
	r := statusReader(t, s)
	in := fullInstance("stc-1")
	in.OperationID = "op-stc-1"
	op := fullOperation("op-stc-1", in.ID)
	op.Description = "0"
	mustCommit(t, s, broker.Tx{Instances: []*broker.Instance{&in}, Operations: []*broker.Operation{&op}})

	const steps = 60
	var started, committed atomic.Int64 // the last step whose Commit began, and ended
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 16)
	report := func(msg string) {
		select {
		case errs <- msg:
		default:
		}
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				lo := committed.Load()
				st, err := r.OperationStatus(t.Context(), in.ID, "")
				hi := started.Load()
				if err != nil {
					report("OperationStatus: " + err.Error())
					return
				}
				n, err := strconv.ParseInt(st.Description, 10, 64)
				if err != nil || n < lo || n > hi {
					report("poll saw step " + st.Description + ", committed at least " + strconv.FormatInt(lo, 10) +
						" before it began and at most " + strconv.FormatInt(hi, 10) + " begun when it ended")
					return
				}
			}
		}()
	}
	for i := int64(1); i <= steps; i++ {
		op.Description = strconv.FormatInt(i, 10)
		started.Store(i)
		if err := s.Commit(t.Context(), broker.Tx{Operations: []*broker.Operation{&op}}); err != nil {
			t.Errorf("Commit step %d: %v", i, err)
			break
		}
		committed.Store(i)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if st := mustStatus(t, r, in.ID, ""); st.Description != strconv.Itoa(steps) {
		t.Errorf("after the last step: description %q, want %q", st.Description, strconv.Itoa(steps))
	}
}
