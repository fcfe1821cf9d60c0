package session_test

import (
	"context"
	"errors"
	"sync"
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

// A Hold keeps the writer away while its answer is pushed, and Flush sends
// that answer on the holder's goroutine; a second frame waiting gives the
// queue back to the writer (so WaitRoom never waits on the holder); Hold is
// refused when something waits or is being sent; a Close ends the hold.
func TestOutbox_HoldAndFlushSendTheAnswerOnTheHoldersGoroutine(t *testing.T) {
	o := session.NewOutbox(func() int64 { return 1 << 20 }, 1<<20, nil)
	byWriter := make(chan byte, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f, ok := o.Take()
			if !ok {
				return
			}
			byWriter <- f[0]
		}
	}()
	var byHolder []byte
	flush := func(f []byte) error { byHolder = append(byHolder, f[0]); return nil }

	// The answer alone: sent by the holder, never seen by the writer.
	if !o.Hold() {
		t.Fatal("Hold refused on an idle outbox")
	}
	if o.Hold() {
		t.Fatal("a second Hold succeeded while the first stands")
	}
	if err := o.SendNow([]byte{1}, flush); err != nil {
		t.Fatal(err)
	}
	if len(byHolder) != 0 {
		t.Fatal("SendNow sent while a hold stands")
	}
	if err := o.Flush(flush); err != nil || string(byHolder) != "\x01" {
		t.Fatalf("Flush: err %v, sent %v; want [1]", err, byHolder)
	}
	select {
	case b := <-byWriter:
		t.Fatalf("the writer sent frame %d of a hold", b)
	case <-time.After(20 * time.Millisecond):
	}

	// Two frames while held: the writer sends both, in order; WaitRoom does
	// not wait on the holder; Flush then has nothing to send.
	if !o.Hold() {
		t.Fatal("Hold refused on an idle outbox")
	}
	o.Push([]byte{2})
	o.Push([]byte{3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.WaitRoom(ctx); err != nil {
		t.Fatalf("WaitRoom under a hold: %v", err)
	}
	if a, b := <-byWriter, <-byWriter; a != 2 || b != 3 {
		t.Fatalf("the writer sent %d, %d; want 2, 3", a, b)
	}
	if err := o.Flush(flush); err != nil || len(byHolder) != 1 {
		t.Fatalf("Flush after the hold ended: err %v, sent %v", err, byHolder)
	}

	// Refused while a frame waits for the writer.
	o2 := session.NewOutbox(func() int64 { return 1 << 20 }, 1<<20, nil)
	o2.Push([]byte{9})
	if o2.Hold() {
		t.Fatal("Hold succeeded with a frame waiting")
	}

	// A Close while held: Flush says so, the writer ends. (The writer
	// holds what it took until its next Take: Hold waits for that.)
	for deadline := time.Now().Add(10 * time.Second); !o.Hold(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Hold refused on an idle outbox")
		}
	}
	o.Push([]byte{4})
	o.Close()
	if err := o.Flush(flush); !errors.Is(err, session.ErrOutboxClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	<-done
}

// Holders, SendNow senders, pushers and the writer together: every frame
// leaves once, in push order, never two at once.
func TestOutbox_HoldKeepsOrderAndNeverOverlaps(t *testing.T) {
	o := session.NewOutbox(func() int64 { return 1 << 20 }, 1<<30, nil)
	mu := make(chan struct{}, 1)
	var got []int
	send := func(f []byte) error {
		select {
		case mu <- struct{}{}:
		default:
			t.Error("two sends at once")
		}
		got = append(got, int(f[0])|int(f[1])<<8)
		<-mu
		return nil
	}
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
	const n = 3000
	var pushMu sync.Mutex // one pusher at a time, so push order is known
	next := 0
	push := func(how int) {
		pushMu.Lock()
		f := []byte{byte(next), byte(next >> 8)}
		next++
		switch how {
		case 0:
			o.Push(f)
			pushMu.Unlock()
		case 1:
			o.SendNow(f, send)
			pushMu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/3; i++ {
				switch i % 3 {
				case 0, 1:
					push(i % 2)
				case 2:
					held := o.Hold()
					push(0)
					if held {
						o.Flush(send)
					}
				}
			}
		}()
	}
	wg.Wait()
	for {
		if k, _ := o.Len(); k == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // the writer's last send
	o.Close()
	<-done
	if len(got) != n {
		t.Fatalf("sent %d frames, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("frame %d sent at position %d", v, i)
		}
	}
}
