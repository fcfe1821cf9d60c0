package core

import (
	"context"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/transport"
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

// A send the bound ended fails with a deadline error that says why.
func TestSendWatch_ATimedOutSendSaysItWasTheBound(t *testing.T) {
	a, _ := transport.Pipe()
	defer a.Close()
	for i := 0; i < 64; i++ { // fill the pipe: the next send waits
		if err := a.Send(context.Background(), []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	var w sendWatch
	ctx := w.start()
	w.cancel(errSendTimeout) // what the timer does after writeTimeout
	err := boundedSendErr(ctx, a.Send(ctx, []byte{2}))
	w.stop()
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errSendTimeout) {
		t.Fatalf("a timed-out send failed with %v", err)
	}
	if err := boundedSendErr(context.Background(), errors.New("x")); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a send that failed on its own is reported as timed out: %v", err)
	}
}
