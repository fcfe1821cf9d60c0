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

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core/transport"
)

// conn adapts a websocket connection to transport.Connection: one binary
// message per frame.
type conn struct{ c *websocket.Conn }

func newConn(c *websocket.Conn) *conn {
	c.SetReadLimit(transport.MaxFrameSize)
	return &conn{c: c}
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

func (c *conn) Close() error { return c.c.Close(websocket.StatusNormalClosure, "") }
