package core

import (
	"context"
	"errors"
	"testing"
)

// One watch bounds every send of a connection: a send that outlived the
// bound ends with errSendTimeout (a deadline error), and the next send gets
// a live context of its own.
func TestSendWatch_ABoundThatFiredLeavesTheNextSendALiveContext(t *testing.T) {
	var w sendWatch
	first := w.start()
	w.stop()
	if again := w.start(); again != first || again.Err() != nil {
		t.Fatalf("a send after one that ended in time got %v (err %v), want the same live context", again, again.Err())
	}
	w.cancel(errSendTimeout) // as the timer does when a send takes too long
	w.stop()
	if cause := context.Cause(first); !errors.Is(cause, errSendTimeout) || !errors.Is(cause, context.DeadlineExceeded) {
		t.Fatalf("the timed-out send's cause is %v", cause)
	}
	next := w.start()
	defer w.stop()
	if next == first || next.Err() != nil {
		t.Fatalf("the send after a timeout got the ended context (err %v)", next.Err())
	}
}
