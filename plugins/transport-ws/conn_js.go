//go:build js

package ws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"

	"github.com/ankurah/ankurah-go/core/transport"
)

// In the browser the connection is the page's own WebSocket, driven through
// syscall/js: no Go HTTP or TLS stack is linked into the wasm build (the
// browser does the handshake and TLS), which keeps what a page downloads
// small (bindings/wasm's size budget).
//
// The browser hands over every message as it arrives and cannot be made to
// wait, so received messages queue here until Recv takes them. The queue
// is bounded by bytes (jsQueueBytes): past it, the connection is closed
// ("client too slow: …") and the client reconnects and catches up, as after
// any lost connection. Sends wait while the browser's own send buffer holds
// more than jsSendBuffered bytes. A script may close a WebSocket only with
// status 1000 or 3000–4999, so every close this end makes is 1000 with its
// reason.

// jsQueueBytes bounds the received messages not yet taken by Recv: one
// frame of the largest size always fits, with room for a few small ones
// (it is Go heap in the page's wasm memory, which never shrinks).
const jsQueueBytes = transport.MaxFrameSize + 4<<20

// jsSendBuffered is how much the browser may hold unsent before Send waits.
const jsSendBuffered = 1 << 20

// keepaliveConfig: the browser's connections have no keepalive of their
// own (the server's pings, which the browser answers, watch them).
type keepaliveConfig struct{}

func (keepaliveConfig) now() func() int64 { return monotonic }

// liveness: nothing to track without a keepalive.
type liveness struct{}

func newLiveness(func() int64) *liveness { return nil }

// jsConn is a browser WebSocket as a transport.Connection.
type jsConn struct {
	ws       js.Value
	handlers []jsHandler

	mu      sync.Mutex
	queue   [][]byte
	queued  int
	closed  bool
	why     error         // why it closed, once closed
	arrived chan struct{} // signalled (cap 1) when a message or the close arrives
	done    chan struct{} // closed when the connection closed
}

// dial opens a WebSocket to url and waits until it is open, fails, or ctx
// ends.
func dial(ctx context.Context, url string, _ *liveness, _ keepaliveConfig) (transport.Connection, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.IsUndefined() {
		return nil, fmt.Errorf("%w: this JavaScript environment has no WebSocket", transport.ErrClosed)
	}
	var ws js.Value
	if err := jsCatch(func() { ws = ctor.New(url) }); err != nil {
		return nil, fmt.Errorf("ws: dial %s: %w", url, err)
	}
	ws.Set("binaryType", "arraybuffer")
	c := &jsConn{ws: ws, arrived: make(chan struct{}, 1), done: make(chan struct{})}
	opened := make(chan struct{})
	var openOnce sync.Once
	c.on("open", func(js.Value) { openOnce.Do(func() { close(opened) }) })
	c.on("message", c.onMessage)
	c.on("close", func(ev js.Value) {
		reason := ev.Get("reason").String()
		if reason == "" {
			reason = "no reason given"
		}
		code := ev.Get("code").Int()
		err := fmt.Errorf("%w: closed by the peer: %s (status %d)", transport.ErrClosed, reason, code)
		if code == 1006 || !ev.Get("wasClean").Bool() {
			// The browser's own status for a connection that ended (or
			// never opened) without a close frame.
			err = fmt.Errorf("%w: connection lost without a close frame (status %d)", transport.ErrClosed, code)
		}
		if code == 1009 {
			err = fmt.Errorf("%w: %w: closed by the peer: %s (status %d)", transport.ErrClosed, transport.ErrTooLarge, reason, code)
		}
		c.finish(err)
	})
	// "error" is followed by "close", which says why.
	select {
	case <-opened:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("ws: dial %s: %w", url, c.why)
	case <-ctx.Done():
		why := fmt.Sprintf("gave up connecting: %v", context.Cause(ctx))
		c.closeWith(why)
		c.finish(fmt.Errorf("%w: closed by us: %s", transport.ErrClosed, why))
		return nil, fmt.Errorf("ws: dial %s: %w: %w", url, transport.ErrClosed, context.Cause(ctx))
	}
}

// jsHandler is an event listener added to the WebSocket.
type jsHandler struct {
	event string
	fn    js.Func
}

// on registers a handler of one of the WebSocket's events. Handlers run on
// the browser's event loop and never block.
func (c *jsConn) on(event string, f func(js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		var ev js.Value
		if len(args) > 0 {
			ev = args[0]
		}
		f(ev)
		return nil
	})
	c.handlers = append(c.handlers, jsHandler{event, fn})
	c.ws.Call("addEventListener", event, fn)
}

// release removes and frees the event handlers (once the connection
// closed): the browser delivers nothing to them afterwards.
func (c *jsConn) release() {
	for _, h := range c.handlers {
		c.ws.Call("removeEventListener", h.event, h.fn)
		h.fn.Release()
	}
	c.handlers = nil
}

func (c *jsConn) onMessage(ev js.Value) {
	data := ev.Get("data")
	if data.Type() == js.TypeString {
		const why = "protocol: text message where binary frames are expected"
		c.closeWith(why)
		c.finish(fmt.Errorf("%w: %s", transport.ErrProtocol, why))
		return
	}
	n := data.Get("byteLength").Int()
	if n > transport.MaxFrameSize {
		why := fmt.Sprintf("message too big: %d bytes, over %d (the frame limit)", n, transport.MaxFrameSize)
		c.closeWith(why)
		c.finish(fmt.Errorf("%w: %w: closed by us: %s", transport.ErrClosed, transport.ErrTooLarge, why))
		return
	}
	frame := make([]byte, n)
	js.CopyBytesToGo(frame, js.Global().Get("Uint8Array").New(data))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.queued+n > jsQueueBytes {
		c.mu.Unlock()
		why := fmt.Sprintf("client too slow: %d bytes of messages unread", c.queued)
		c.closeWith(why)
		c.finish(fmt.Errorf("%w: closed by us: %s", transport.ErrClosed, why))
		return
	}
	c.queue = append(c.queue, frame)
	c.queued += n
	c.mu.Unlock()
	c.signal()
}

func (c *jsConn) signal() {
	select {
	case c.arrived <- struct{}{}:
	default:
	}
}

// finish records that the connection closed, and why (the first reason
// counts).
func (c *jsConn) finish(why error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.why = true, why
	c.mu.Unlock()
	close(c.done)
	c.signal()
	// Released once the browser is done dispatching the current event
	// (finish may run inside one of the handlers).
	var later js.Func
	later = js.FuncOf(func(js.Value, []js.Value) any {
		c.release()
		later.Release()
		return nil
	})
	js.Global().Call("setTimeout", later, 0)
}

// closeWith closes the WebSocket with status 1000 and reason.
func (c *jsConn) closeWith(reason string) {
	_ = jsCatch(func() { c.ws.Call("close", 1000, truncateReason(reason)) })
}

// Send sends frame as one binary message, waiting while the browser holds
// more than jsSendBuffered bytes unsent.
func (c *jsConn) Send(ctx context.Context, frame []byte) error {
	if len(frame) > transport.MaxFrameSize {
		return fmt.Errorf("%w: frame of %d bytes", transport.ErrTooLarge, len(frame))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", transport.ErrClosed, context.Cause(ctx))
	}
	for c.ws.Get("bufferedAmount").Int() > jsSendBuffered {
		select {
		case <-c.done:
			return c.why
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", transport.ErrClosed, context.Cause(ctx))
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case <-c.done:
		return c.why
	default:
	}
	if c.ws.Get("readyState").Int() != 1 { // OPEN
		return fmt.Errorf("%w: the WebSocket is not open", transport.ErrClosed)
	}
	buf := js.Global().Get("Uint8Array").New(len(frame))
	js.CopyBytesToJS(buf, frame)
	if err := jsCatch(func() { c.ws.Call("send", buf) }); err != nil {
		return fmt.Errorf("%w: %w", transport.ErrClosed, err)
	}
	return nil
}

// Recv returns the next message. If ctx ends first, the connection is
// closed ("gave up waiting for a message: …"), as outside the browser.
func (c *jsConn) Recv(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			f := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			c.queued -= len(f)
			more := len(c.queue) > 0
			c.mu.Unlock()
			if more {
				c.signal()
			}
			return f, nil
		}
		closed, why := c.closed, c.why
		c.mu.Unlock()
		if closed {
			return nil, why
		}
		select {
		case <-c.arrived:
		case <-ctx.Done():
			why := fmt.Sprintf("gave up waiting for a message: %v", context.Cause(ctx))
			c.closeWith(why)
			c.finish(fmt.Errorf("%w: closed by us: %s", transport.ErrClosed, why))
			return nil, fmt.Errorf("%w: %w (the connection is closed)", transport.ErrClosed, context.Cause(ctx))
		}
	}
}

// Close closes the connection normally.
func (c *jsConn) Close() error {
	const why = "connection closed by the client"
	c.closeWith(why)
	c.finish(fmt.Errorf("%w: closed by us: %s", transport.ErrClosed, why))
	return nil
}

// jsCatch runs f, turning a JavaScript exception it throws into an error.
func jsCatch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = errors.New(je.Error())
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}
