//go:build !js

package ws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core/transport"
)

// keepaliveConfig sets a connection's keepalive; the zero value disables it.
type keepaliveConfig struct {
	// interval: a quiet peer is pinged this often (unless a message is
	// being written).
	interval time.Duration
	// timeout: the connection is closed when, for this long, nothing arrived
	// from the peer (and nothing of ours was accepted by the network) while
	// a Recv or Send was waiting.
	timeout time.Duration
	// Tests drive the keepalive with their own clock (monotonic
	// nanoseconds) and checks; nil: the real clock and a ticker.
	clock func() int64
	ticks <-chan time.Time
}

// now returns the keepalive's clock.
func (k keepaliveConfig) now() func() int64 {
	if k.clock != nil {
		return k.clock
	}
	return monotonic
}

// Sizes of the pieces large messages are read and written in: each piece is
// a sign of life, and control frames fit between written pieces.
const (
	writeChunk  = 16 << 10
	readChunk   = 16 << 10
	keepReadBuf = 64 << 10
)

// liveness is what the keepalive knows of one connection's traffic. It is
// created before the websocket (its ping and pong callbacks go into the
// dial or accept options).
type liveness struct {
	now     func() int64
	last    atomic.Int64 // time of the last sign of life
	reading atomic.Int32 // Recv calls in progress
	writing atomic.Int32 // Send calls in progress
}

func newLiveness(now func() int64) *liveness {
	l := &liveness{now: now}
	l.touch()
	return l
}

func (l *liveness) touch() { l.last.Store(l.now()) }

// dial opens a client connection to url (outside the browser: coder/websocket).
func dial(ctx context.Context, url string, live *liveness, ka keepaliveConfig) (transport.Connection, error) {
	wc, _, err := websocket.Dial(ctx, url, dialOptions(live))
	if err != nil {
		return nil, err
	}
	return newConn(wc, live, ka, "client"), nil
}

// closeReason is why this end closed a connection.
type closeReason struct {
	code   websocket.StatusCode
	reason string
}

// conn adapts a websocket connection to transport.Connection: one binary
// message per frame.
type conn struct {
	c    *websocket.Conn
	live *liveness
	side string // "client" or "server", for the normal close reason
	stop context.CancelFunc
	done <-chan struct{} // closed when the connection is closed by us

	pinging atomic.Bool

	closeOnce sync.Once
	closeErr  error
	reason    atomic.Pointer[closeReason]

	// rmu serializes Recv; rbuf is its scratch buffer, reused across
	// messages (at most keepReadBuf is kept), so a small message costs a
	// copy of its own size, not a fresh 16 KiB read buffer. rhint is the
	// size of the buffer a message that outgrows the scratch buffer moves
	// to after a large one (the parts of a streamed answer come one after
	// another at about the same size): one allocation of about the
	// message's size, where growing by doubling from 16 KiB allocates four
	// times it and copies it twice. A small message after a large one
	// stays in the scratch buffer.
	rmu   sync.Mutex
	rbuf  []byte
	rhint int

	// wsem serializes Send (a caller whose context ends while it waits
	// for an earlier message gets an error; the connection stays).
	wsem chan struct{}
	// recvWatch and sendWatch end the connection when the context of a
	// Recv or Send in progress ends (see ctxWatch).
	recvWatch, sendWatch ctxWatch
}

// newConn wraps c, whose ping and pong callbacks feed live, and starts its
// keepalive (none when ka is the zero value).
func newConn(c *websocket.Conn, live *liveness, ka keepaliveConfig, side string) *conn {
	// One byte over the limit so that Recv, not the library, notices an
	// oversized message and closes with a reason of its own.
	c.SetReadLimit(transport.MaxFrameSize + 1)
	ctx, stop := context.WithCancel(context.Background())
	cn := &conn{c: c, live: live, side: side, stop: stop, done: ctx.Done(), wsem: make(chan struct{}, 1)}
	cn.recvWatch.end, cn.sendWatch.end = cn.abandonRecv, cn.abandonSend
	if ka.interval > 0 && ka.timeout > 0 {
		go cn.keepalive(ctx, ka)
	}
	return cn
}

func (c *conn) keepalive(ctx context.Context, ka keepaliveConfig) {
	ticks := ka.ticks
	if ticks == nil {
		t := time.NewTicker(max(min(ka.interval, ka.timeout)/3, time.Millisecond))
		defer t.Stop()
		ticks = t.C
	}
	now := ka.now()
	lastPing := now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		t := now()
		waiting := c.live.reading.Load() > 0 || c.live.writing.Load() > 0
		if waiting && time.Duration(t-c.live.last.Load()) >= ka.timeout {
			c.closeWith(StatusKeepaliveTimeout, fmt.Sprintf("keepalive: nothing heard from the peer for %s", ka.timeout))
			return
		}
		// Ping only a quiet peer, and not while a message is being written:
		// a ping that cannot be written within 5 s (the peer reads nothing
		// and the buffers are full) makes the library drop the connection.
		quiet := time.Duration(t-c.live.last.Load()) >= ka.interval
		if quiet && time.Duration(t-lastPing) >= ka.interval && c.live.writing.Load() == 0 && !c.pinging.Swap(true) {
			lastPing = t
			go c.ping(ctx, ka.timeout)
		}
	}
}

// ping sends a ping; its pong is noticed by onPong (and only while someone
// reads), so the result does not matter here. The ping's context does not
// end with the keepalive's: the library closes a connection whose write's
// context ends mid-write, and a keepalive that closes the connection with
// a reason (closeWith) stops itself first — the peer would get no close
// frame. The ping ends with its pong, its timeout or the connection.
func (c *conn) ping(ctx context.Context, timeout time.Duration) {
	defer c.pinging.Store(false)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	_ = c.c.Ping(pctx)
}

// closeWith closes the connection once, with a status and a reason the peer
// sees (and our own Recv reports).
func (c *conn) closeWith(code websocket.StatusCode, reason string) error {
	c.closeOnce.Do(func() {
		c.reason.Store(&closeReason{code: code, reason: reason})
		c.stop()
		c.recvWatch.release()
		c.sendWatch.release()
		c.closeErr = c.c.Close(code, truncateReason(reason))
	})
	return c.closeErr
}

// abandonSend ends the connection at once, without a close frame: a send
// whose context ended while the network would not take its bytes (a close
// frame would wait behind them). It is what the library does itself when a
// write's context ends; the reason is kept for Send's error.
func (c *conn) abandonSend(ctx context.Context) {
	c.closeOnce.Do(func() {
		c.reason.Store(&closeReason{code: websocket.StatusGoingAway, reason: fmt.Sprintf("gave up sending a message: %v", context.Cause(ctx))})
		c.stop()
		c.recvWatch.release()
		c.sendWatch.release()
		c.closeErr = c.c.CloseNow()
	})
}

// abandonRecv closes the connection with a reason when a Recv's context
// ends (the library would drop it without a word).
func (c *conn) abandonRecv(ctx context.Context) {
	c.closeWith(websocket.StatusGoingAway, fmt.Sprintf("gave up waiting for a message: %v", context.Cause(ctx)))
}

// ctxWatch runs its end function when the context of a call in progress
// ends — the connection cannot finish a read or write half done, so it is
// closed. A peer passes the same long-lived context call after call, so the
// watch registers one context.AfterFunc per distinct context (told apart by
// their Done channels) and keeps it while the calls come, instead of one
// registration (and its allocations) per message; a context that ends while
// no call is in progress ends nothing. A call under another context while
// one is in progress gets a registration of its own.
type ctxWatch struct {
	end func(context.Context) // set once, before the first call

	mu   sync.Mutex
	done <-chan struct{} // of the registered context; nil: none
	// quiet is context.WithoutCancel of the registered context, given to the
	// library for every call under the same Done channel: the library reads
	// only a context's end (which quiet lacks by design), never its values.
	quiet    context.Context
	stop     func() bool
	active   int  // calls in progress under the registered context
	released bool // the connection is closed: nothing more to watch
}

// enter watches ctx for one call; the caller calls leave with own when the
// call ends, and gives the library quiet — ctx's values without its end, so
// the library registers nothing per call. end runs (in a goroutine of its
// own) if ctx ends before leave.
func (w *ctxWatch) enter(ctx context.Context) (own func() bool, quiet context.Context) {
	done := ctx.Done()
	if done == nil {
		return nil, ctx // ends never: nothing to watch
	}
	w.mu.Lock()
	switch {
	case w.released:
		w.mu.Unlock()
		return nil, context.WithoutCancel(ctx)
	case w.done == done:
		w.active++
		quiet = w.quiet
		w.mu.Unlock()
	case w.active == 0:
		if w.stop != nil {
			w.stop()
		}
		w.done, w.active = done, 1
		w.quiet = context.WithoutCancel(ctx)
		quiet = w.quiet
		end := w.end
		w.stop = context.AfterFunc(ctx, func() {
			w.mu.Lock()
			live := w.done == done && w.active > 0
			w.mu.Unlock()
			if live {
				end(ctx)
			}
		})
		w.mu.Unlock()
	default:
		w.mu.Unlock()
		end := w.end
		return context.AfterFunc(ctx, func() { end(ctx) }), context.WithoutCancel(ctx)
	}
	if ctx.Err() != nil {
		// Ended before the call was counted: the registration may have run
		// and found nothing in progress.
		go w.end(ctx)
	}
	return nil, quiet
}

// leave ends a call enter watched.
func (w *ctxWatch) leave(own func() bool) {
	if own != nil {
		own()
		return
	}
	w.mu.Lock()
	if w.active > 0 {
		w.active--
	}
	w.mu.Unlock()
}

// release drops the registration (the connection is closed).
func (w *ctxWatch) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.released = true
	if w.stop != nil {
		w.stop()
		w.stop, w.done, w.quiet, w.active = nil, nil, nil, 0
	}
}

// Send writes frame as one binary message, in fragments when it is large.
func (c *conn) Send(ctx context.Context, frame []byte) error {
	if len(frame) > transport.MaxFrameSize {
		return fmt.Errorf("%w: frame of %d bytes", transport.ErrTooLarge, len(frame))
	}
	if c.live.writing.Add(1) == 1 && c.live.reading.Load() == 0 {
		c.live.touch() // nobody was waiting on the peer until now
	}
	defer c.live.writing.Add(-1)
	if ctx.Err() != nil {
		return fmt.Errorf("%w: gave up waiting to send: %w", transport.ErrClosed, context.Cause(ctx))
	}
	select {
	case c.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: gave up waiting to send: %w", transport.ErrClosed, context.Cause(ctx))
	case <-c.done:
		return c.sendErr(net.ErrClosed)
	}
	defer func() { <-c.wsem }()
	// The library is given a context that does not end (so it registers
	// nothing per frame); the watch ends the connection if ctx ends while
	// the message is being written, as the library would.
	own, wctx := c.sendWatch.enter(ctx)
	defer c.sendWatch.leave(own)
	if len(frame) <= writeChunk {
		if err := c.c.Write(wctx, websocket.MessageBinary, frame); err != nil {
			return c.sendErrCtx(ctx, err)
		}
		c.live.touch()
		return nil
	}
	w, err := c.c.Writer(wctx, websocket.MessageBinary)
	if err != nil {
		return c.sendErrCtx(ctx, err)
	}
	for off := 0; off < len(frame); off += writeChunk {
		if _, err := w.Write(frame[off:min(off+writeChunk, len(frame))]); err != nil {
			// The message is cut short: nothing more can be sent on it.
			c.closeWith(websocket.StatusInternalError, fmt.Sprintf("send failed mid-message: %v", err))
			return c.sendErrCtx(ctx, err)
		}
		c.live.touch() // the network took this piece
	}
	if err := w.Close(); err != nil {
		c.closeWith(websocket.StatusInternalError, fmt.Sprintf("send failed mid-message: %v", err))
		return c.sendErrCtx(ctx, err)
	}
	return nil
}

func (c *conn) sendErr(err error) error {
	return c.sendErrCtx(context.Background(), err)
}

// sendErrCtx is sendErr for a Send whose context may have ended: the error
// then names the context's cause.
func (c *conn) sendErrCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w (the connection is closed)", transport.ErrClosed, context.Cause(ctx))
	}
	if r := c.reason.Load(); r != nil {
		return fmt.Errorf("%w: closed by us: %s (status %d)", transport.ErrClosed, r.reason, int(r.code))
	}
	return fmt.Errorf("%w: %w", transport.ErrClosed, err)
}

// Recv reads one binary message. A text message or one over
// transport.MaxFrameSize closes the connection with a reason.
func (c *conn) Recv(ctx context.Context) ([]byte, error) {
	c.live.reading.Add(1)
	c.live.touch() // whatever waited while nobody read is not the peer's silence
	defer c.live.reading.Add(-1)
	// The library drops the connection without a word when a read's context
	// ends; close it with a reason instead (the read then ends with it).
	own, rctx := c.recvWatch.enter(ctx)
	defer c.recvWatch.leave(own)
	typ, r, err := c.c.Reader(rctx)
	if err != nil {
		return nil, c.recvErr(ctx, err)
	}
	c.live.touch()
	if typ != websocket.MessageBinary {
		const why = "protocol: text message where binary frames are expected"
		c.closeWith(websocket.StatusUnsupportedData, why)
		return nil, fmt.Errorf("%w: %s", transport.ErrProtocol, why)
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	// A message is read into the scratch buffer first; one that outgrows
	// it moves, once, to a buffer of the hint's size (after a large one),
	// so a small message after a large one allocates no large buffer.
	buf := c.rbuf[:0]
	for {
		if len(buf) > keepReadBuf && c.rhint > cap(buf) {
			buf = append(make([]byte, 0, c.rhint), buf...)
		}
		if cap(buf)-len(buf) < readChunk/4 {
			// Doubling: a large message costs about twice its size in
			// allocations and copies, not the five times that growing
			// by one chunk at a time (append's 1.25× past 256) costs.
			buf = slices.Grow(buf, max(readChunk, len(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), len(buf)+readChunk)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			c.live.touch()
		}
		if len(buf) > transport.MaxFrameSize {
			why := fmt.Sprintf("message too big: over %d bytes (the frame limit)", transport.MaxFrameSize)
			c.closeWith(websocket.StatusMessageTooBig, why)
			return nil, fmt.Errorf("%w: %s", transport.ErrTooLarge, why)
		}
		if err == io.EOF {
			if len(buf) > keepReadBuf {
				// A large message keeps its buffer (never the scratch
				// buffer's: that holds at most keepReadBuf); the next one
				// is read into one of this size and an eighth more.
				c.rhint = min(len(buf)+len(buf)/8+readChunk, transport.MaxFrameSize+readChunk)
				return buf, nil
			}
			c.rhint = 0
			if cap(buf) <= keepReadBuf {
				c.rbuf = buf[:0]
			} // else: a message smaller than the hint; the scratch buffer stays
			return bytes.Clone(buf), nil
		}
		if err != nil {
			return nil, c.recvErr(ctx, err)
		}
	}
}

// recvErr says why a read failed: which end closed and its reason (and
// the context's error, if Recv's context ended).
func (c *conn) recvErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w (the connection is closed)", transport.ErrClosed, context.Cause(ctx))
	}
	if r := c.reason.Load(); r != nil {
		if r.code == websocket.StatusMessageTooBig {
			return fmt.Errorf("%w: %w: closed by us: %s (status %d)", transport.ErrClosed, transport.ErrTooLarge, r.reason, int(r.code))
		}
		return fmt.Errorf("%w: closed by us: %s (status %d)", transport.ErrClosed, r.reason, int(r.code))
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		reason := ce.Reason
		if reason == "" {
			reason = "no reason given"
		}
		if ce.Code == websocket.StatusMessageTooBig {
			return fmt.Errorf("%w: %w: closed by the peer: %s (status %d)", transport.ErrClosed, transport.ErrTooLarge, reason, int(ce.Code))
		}
		return fmt.Errorf("%w: closed by the peer: %s (status %d)", transport.ErrClosed, reason, int(ce.Code))
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return fmt.Errorf("%w: %w: %w", transport.ErrClosed, transport.ErrTooLarge, err)
	}
	return fmt.Errorf("%w: connection lost without a close frame: %w", transport.ErrClosed, err)
}

// Close closes the connection normally (status 1000, naming the side).
func (c *conn) Close() error {
	return c.closeWith(websocket.StatusNormalClosure, "connection closed by the "+c.side)
}
