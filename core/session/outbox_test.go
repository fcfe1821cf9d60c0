package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/session"
)

func frames(n, size int) [][]byte {
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = make([]byte, size)
	}
	return fs
}

// A queue past its frame or byte bound refuses the push that would pass it,
// names the bound, and refuses everything after; what was queued stays.
func TestOutbox_OverflowNamesTheBoundAndSticks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxFrames int64
		maxBytes  int
		push      int
		limit     string
	}{
		{"frames", 3, 1 << 20, 4, "frames waiting"},
		{"bytes", 100, 250, 3, "peer-queue-bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := session.NewOutbox(func() int64 { return tc.maxFrames }, tc.maxBytes, nil)
			var err error
			pushed := 0
			for _, f := range frames(tc.push, 100) {
				if err = o.Push(f); err != nil {
					break
				}
				pushed++
			}
			var over *session.OverflowError
			if !errors.As(err, &over) || !errors.Is(err, session.ErrOverflow) || over.Limit != tc.limit {
				t.Fatalf("push %d: err %v, want an overflow of %q", pushed+1, err, tc.limit)
			}
			if n, b := o.Len(); n != pushed || b != pushed*100 || over.Frames != pushed {
				t.Fatalf("after the overflow %d frames, %d bytes wait (error says %d); want the %d pushed before", n, b, over.Frames, pushed)
			}
			if err := o.Push([]byte{1}); !errors.Is(err, session.ErrOverflow) {
				t.Fatalf("a push after the overflow: %v, want ErrOverflow", err)
			}
		})
	}
}

// One frame larger than the byte bound, and a unit of several frames while
// less than half the bound waits, are accepted whole; the shared budget holds
// for every push and gets back what is taken or dropped.
func TestOutbox_UnitsAndTheSharedBudget(t *testing.T) {
	b := session.NewBudget(1000)
	o := session.NewOutbox(func() int64 { return 100 }, 200, b)
	if err := o.Push(make([]byte, 300)); err != nil {
		t.Fatalf("one frame over the byte bound into an empty queue: %v", err)
	}
	if f, ok := o.Take(); !ok || len(f) != 300 {
		t.Fatal("Take did not return the frame")
	}
	if err := o.Push(frames(4, 90)...); err != nil {
		t.Fatalf("a unit of 4 frames into an empty queue: %v", err)
	}
	if b.Used() != 360 {
		t.Fatalf("budget used %d, want 360", b.Used())
	}
	other := session.NewOutbox(func() int64 { return 100 }, 1000, b)
	var over *session.OverflowError
	if err := other.Push(make([]byte, 700)); !errors.As(err, &over) || over.Limit != "server-queue-bytes" {
		t.Fatalf("a push past the shared budget: %v, want an overflow of server-queue-bytes", err)
	}
	o.Close()
	if b.Used() != 0 {
		t.Fatalf("budget used %d after the queue closed, want 0", b.Used())
	}
	if err := o.Push([]byte{1}); !errors.Is(err, session.ErrOutboxClosed) {
		t.Fatalf("push after Close: %v", err)
	}
	if _, ok := o.Take(); ok {
		t.Fatal("Take after Close returned a frame")
	}
}

// WaitRoom returns once the writer took enough, when the outbox closes, or
// when its context ends.
func TestOutbox_WaitRoom(t *testing.T) {
	o := session.NewOutbox(func() int64 { return 100 }, 300, nil)
	for _, f := range frames(3, 100) {
		if err := o.Push(f); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := o.WaitRoom(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitRoom with nothing taken: %v, want the context's end", err)
	}
	done := make(chan error, 1)
	go func() { done <- o.WaitRoom(context.Background()) }()
	o.Take()
	o.Take()
	if err := <-done; err != nil {
		t.Fatalf("WaitRoom after the writer took two frames: %v", err)
	}
	go func() { done <- o.WaitRoom(context.Background()) }()
	o.Push(make([]byte, 200))
	o.Close()
	if err := <-done; err != nil && !errors.Is(err, session.ErrOutboxClosed) {
		t.Fatalf("WaitRoom at Close: %v", err)
	}
}

// SendNow sends on the caller's goroutine when the queue is idle and
// queues behind a frame the writer holds; frames leave one at a time and in
// push order whoever sends them, and a writer and senders running together
// never send two frames at once.
func TestOutbox_SendNowKeepsOrderAndNeverOverlaps(t *testing.T) {
	o := session.NewOutbox(func() int64 { return 1 << 20 }, 1<<30, nil)
	mu := make(chan struct{}, 1)
	var got []byte
	send := func(f []byte) error {
		select {
		case mu <- struct{}{}:
		default:
			t.Error("two sends at once")
		}
		got = append(got, f[0])
		<-mu
		return nil
	}
	// Idle: sent at once, nothing queued.
	if err := o.SendNow([]byte{0}, send); err != nil || len(got) != 1 {
		t.Fatalf("SendNow on an idle outbox: err %v, sent %v", err, got)
	}
	if n, _ := o.Len(); n != 0 {
		t.Fatalf("SendNow queued %d frames", n)
	}
	// The writer holds a frame: SendNow queues behind it.
	o.Push([]byte{1})
	f, _ := o.Take()
	send(f)
	if err := o.SendNow([]byte{2}, send); err != nil {
		t.Fatal(err)
	}
	if n, _ := o.Len(); n != 1 || len(got) != 2 {
		t.Fatalf("with the writer holding a frame: %d queued, sent %v; want 1 queued, [0 1]", n, got)
	}
	// The writer and sending pushers together: every frame once, in order.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f, ok := o.Take()
			if !ok {
				return
			}
			send(f)
		}
	}()
	for i := 3; i < 200; i++ {
		if i%2 == 0 {
			o.SendNow([]byte{byte(i)}, send)
		} else {
			o.Push([]byte{byte(i)})
		}
	}
	for {
		if n, _ := o.Len(); n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	o.Close()
	<-done
	if len(got) != 200 {
		t.Fatalf("sent %d frames, want 200", len(got))
	}
	for i, b := range got {
		if int(b) != i {
			t.Fatalf("frame %d sent at position %d: %v", b, i, got)
		}
	}
}
