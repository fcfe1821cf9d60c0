// Package ws carries Ankurah's sync protocol over WebSockets
// (github.com/coder/websocket): Server is a plain http.Handler that durable
// nodes mount at /ws in any mux, and Dial connects an ephemeral node to it,
// reconnecting with jittered exponential backoff. The client also builds for
// GOOS=js GOARCH=wasm, where the browser's WebSocket carries the frames.
package ws

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core/transport"
)

// Keepalive: every connection pings its peer this often and closes when a
// pong does not come back in time, so a vanished peer is noticed even when
// nothing is being sent.
const (
	pingInterval = 30 * time.Second
	pingTimeout  = 15 * time.Second
)

// conn adapts a websocket connection to transport.Connection: one binary
// message per frame.
type conn struct {
	c    *websocket.Conn
	stop context.CancelFunc
}

func newConn(c *websocket.Conn) *conn {
	c.SetReadLimit(transport.MaxFrameSize)
	ctx, stop := context.WithCancel(context.Background())
	go keepalive(ctx, c)
	return &conn{c: c, stop: stop}
}

func keepalive(ctx context.Context, c *websocket.Conn) {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err := c.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			c.Close(websocket.StatusGoingAway, "keepalive ping unanswered")
			return
		}
	}
}

func (c *conn) Send(ctx context.Context, frame []byte) error {
	if len(frame) > transport.MaxFrameSize {
		return fmt.Errorf("%w: frame of %d bytes", transport.ErrTooLarge, len(frame))
	}
	if err := c.c.Write(ctx, websocket.MessageBinary, frame); err != nil {
		return fmt.Errorf("%w: %v", transport.ErrClosed, err)
	}
	return nil
}

func (c *conn) Recv(ctx context.Context) ([]byte, error) {
	typ, b, err := c.c.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) && ce.Code == websocket.StatusMessageTooBig {
			return nil, fmt.Errorf("%w: %v", transport.ErrTooLarge, err)
		}
		return nil, fmt.Errorf("%w: %v", transport.ErrClosed, err)
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w: text message where binary frames are expected", transport.ErrProtocol)
	}
	return b, nil
}

func (c *conn) Close() error {
	c.stop()
	return c.c.Close(websocket.StatusNormalClosure, "")
}
