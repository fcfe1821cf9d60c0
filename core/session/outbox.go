package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrOverflow is returned by Outbox.Push once the queue passed one of its
// bounds: the peer does not read fast enough, and its connection should end.
var ErrOverflow = errors.New("session: outgoing queue full")

// ErrOutboxClosed is returned by Outbox.Push and WaitRoom after Close.
var ErrOutboxClosed = errors.New("session: outgoing queue closed")

// Budget is a byte budget shared by the outgoing queues of many
// connections (a server's limit on what waits for all its peers).
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget { return &Budget{max: max} }

// Used returns the bytes queued against the budget now.
func (b *Budget) Used() int64 { return b.used.Load() }

// OverflowError says which bound a Push passed and what was waiting then.
type OverflowError struct {
	Limit  string // "frames waiting", "peer-queue-bytes" or "server-queue-bytes"
	Frames int    // frames waiting
	Bytes  int    // bytes waiting
}

func (e *OverflowError) Error() string {
	return fmt.Sprintf("%v (%d frames, %d bytes waiting; limit %s)", ErrOverflow, e.Frames, e.Bytes, e.Limit)
}

// Unwrap makes errors.Is(err, ErrOverflow) hold.
func (e *OverflowError) Unwrap() error { return ErrOverflow }

// Outbox is one connection's queue of outgoing frames: anyone may Push
// without blocking (often under a lock of the node), one writer Takes them
// in order and sends them. It is bounded in frames and bytes, and charges
// a Budget shared with other connections.
//
// A goroutine on a latency-critical path may send on its own goroutine
// instead of waking the writer: SendNow sends one frame when nothing waits,
// and Hold, around work that pushes its answer (often under a lock of the
// node), keeps the writer away until Flush sends that answer. The writer and
// these never send at the same time, and frames leave in push order
// whoever sends them.
//
// Overflow: a Push that would pass a bound queues nothing and returns an
// *OverflowError, and the outbox refuses every later Push with ErrOverflow;
// the caller ends the connection. One frame — or one unit of several frames
// pushed together while less than half of MaxBytes waits — is always
// accepted into a queue within its bounds, so one large answer never counts
// as slowness; the shared budget holds for every push.
type Outbox struct {
	maxFrames func() int64
	maxBytes  int
	budget    *Budget

	mu     sync.Mutex
	cond   *sync.Cond
	frames [][]byte
	bytes  int
	full   bool
	closed bool
	// taken: the writer holds a frame it took (until its next Take);
	// sending: a SendNow is sending. Either excludes the other, so frames
	// leave one at a time and in order.
	taken, sending bool
	// held: a Hold keeps the writer from taking frames until its Flush;
	// a second waiting frame gives them back to the writer (held false).
	held bool
	// room, made by the first WaitRoom that has to wait, is closed (and
	// set to nil) when a frame is taken or the outbox closes.
	room chan struct{}
}

// NewOutbox returns an outbox bounded to maxFrames (read at every push,
// so it may change) and maxBytes, charging budget (nil: none).
func NewOutbox(maxFrames func() int64, maxBytes int, budget *Budget) *Outbox {
	o := &Outbox{maxFrames: maxFrames, maxBytes: maxBytes, budget: budget}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// Push queues frames as one unit, or none of them (see Outbox).
func (o *Outbox) Push(frames ...[]byte) error {
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return ErrOutboxClosed
	case o.full:
		return ErrOverflow
	}
	unit := len(frames) > 1 && o.bytes < o.maxBytes/2
	var why string
	switch {
	case len(o.frames) > 0 && int64(len(o.frames)+len(frames)) > o.maxFrames() && !unit:
		why = "frames waiting"
	case len(o.frames) > 0 && o.bytes+size > o.maxBytes && !unit:
		why = "peer-queue-bytes"
	case o.budget != nil && o.budget.used.Load()+int64(size) > o.budget.max:
		why = "server-queue-bytes"
	}
	if why != "" {
		o.full = true
		return &OverflowError{Limit: why, Frames: len(o.frames), Bytes: o.bytes}
	}
	o.frames = append(o.frames, frames...)
	o.bytes += size
	if o.budget != nil {
		o.budget.used.Add(int64(size))
	}
	if o.held {
		if len(o.frames) == 1 {
			return nil // the holder's Flush sends it, without waking the writer
		}
		// More than the holder's answer waits: the writer sends them all
		// (and WaitRoom, which waits for the writer, never waits on the
		// holder).
		o.held = false
	}
	o.cond.Signal()
	return nil
}

// Hold keeps the writer from sending until Flush, when nothing is being
// sent and nothing waits, and reports whether it did: the caller pushes its
// answer meanwhile (from under its locks) and Flush sends it on the calling
// goroutine, saving the writer's wake. Once more than one frame waits, the
// hold ends and the writer sends them; frames leave in push order either
// way. A Hold that returned true must be followed by Flush, soon: frames
// other goroutines push meanwhile wait for it.
func (o *Outbox) Hold() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.full || o.held || o.taken || o.sending || len(o.frames) > 0 {
		return false
	}
	o.held = true
	return true
}

// Flush ends a Hold: it sends, through send on the calling goroutine, the
// frame that waits (if the hold still stands), then lets the writer send
// whatever came after. Its error is send's (the frame is lost then, as with
// the writer; the caller ends the connection) or ErrOutboxClosed.
func (o *Outbox) Flush(send func([]byte) error) error {
	o.mu.Lock()
	if !o.held {
		o.mu.Unlock()
		return nil // given back to the writer, or never held
	}
	if o.closed {
		o.held = false
		o.mu.Unlock()
		return ErrOutboxClosed
	}
	var frame []byte
	if len(o.frames) > 0 {
		frame = o.pop()
		o.sending = true // sent as SendNow sends: the writer waits, Pushes queue
	}
	o.held = false
	o.mu.Unlock()
	if frame == nil {
		return nil
	}
	return o.sendClaimed(frame, send)
}

// sendClaimed sends frame through send, o.sending set by the caller (o.mu
// not held), then gives the queue back to the writer, waking it for what
// was pushed meanwhile.
func (o *Outbox) sendClaimed(frame []byte, send func([]byte) error) error {
	err := send(frame)
	o.mu.Lock()
	o.sending = false
	if len(o.frames) > 0 {
		o.cond.Signal() // pushed while the frame was sent: the writer's
	}
	o.mu.Unlock()
	return err
}

// Take returns the next frame, waiting for one; ok is false once the
// outbox is closed. The writer sends the frame before it calls Take again:
// until then SendNow queues behind it.
func (o *Outbox) Take() (frame []byte, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taken = false // the writer has sent what it took before
	for (len(o.frames) == 0 || o.sending || o.held) && !o.closed {
		o.cond.Wait()
	}
	if o.closed {
		return nil, false
	}
	o.taken = true
	return o.pop(), true
}

// pop removes the first frame (o.mu held, a frame waiting).
func (o *Outbox) pop() []byte {
	frame := o.frames[0]
	o.frames[0] = nil
	if len(o.frames) == 1 {
		o.frames = o.frames[:0] // empty: the next Push reuses the array
	} else {
		o.frames = o.frames[1:]
	}
	o.bytes -= len(frame)
	if o.budget != nil {
		o.budget.used.Add(-int64(len(frame)))
	}
	if o.room != nil {
		close(o.room)
		o.room = nil
	}
	return frame
}

// SendNow sends frame through send on the calling goroutine when nothing
// waits and nothing is being sent — without waking the writer — and
// otherwise queues it like Push. Its error is Push's, or send's (the frame
// is lost then, as with the writer; the caller ends the connection). Call
// it only where blocking on the network is allowed.
func (o *Outbox) SendNow(frame []byte, send func([]byte) error) error {
	o.mu.Lock()
	if o.closed || o.full || len(o.frames) > 0 || o.taken || o.sending || o.held {
		o.mu.Unlock()
		return o.Push(frame)
	}
	o.sending = true
	o.mu.Unlock()
	return o.sendClaimed(frame, send)
}

// WaitRoom blocks until less than half of the byte bound (or at most one
// frame) waits, the outbox closes (ErrOutboxClosed) or ctx ends. Senders
// of streamed results call it between parts, never under a lock, so a
// large answer flows at the pace the peer reads it.
func (o *Outbox) WaitRoom(ctx context.Context) error {
	for {
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return ErrOutboxClosed
		}
		if o.bytes < o.maxBytes/2 || len(o.frames) <= 1 {
			o.mu.Unlock()
			return nil
		}
		if o.room == nil {
			o.room = make(chan struct{})
		}
		room := o.room
		o.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Len returns the frames and bytes waiting.
func (o *Outbox) Len() (frames, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.frames), o.bytes
}

// Close drops what waits (returning it to the budget) and wakes the
// writer and every WaitRoom; it reports whether this call closed it.
func (o *Outbox) Close() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.closed = true
	if o.budget != nil {
		o.budget.used.Add(-int64(o.bytes))
	}
	o.frames, o.bytes = nil, 0
	o.cond.Broadcast()
	if o.room != nil {
		close(o.room)
		o.room = nil
	}
	return true
}
