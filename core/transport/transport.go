// Package transport defines how nodes talk: a Connection carries byte
// frames, and the wire protocol (messages.go) is encoded into those frames.
// Every transport — the in-process Pipe included — therefore exercises the
// same decoders, with the same size limits.
package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ankurah/ankurah-go/core/limits"
)

// Errors of this package, tested with errors.Is.
var (
	// ErrClosed: the connection is closed.
	ErrClosed = errors.New("transport: connection closed")
	// ErrTooLarge: a frame or message beyond the size limit.
	ErrTooLarge = errors.New("transport: message too large")
	// ErrProtocol: a malformed or unexpected message.
	ErrProtocol = errors.New("transport: protocol error")
	// ErrVersion: the peers speak different protocol versions.
	ErrVersion = errors.New("transport: protocol version mismatch")
)

// MaxFrameSize is the largest frame the protocol accepts (32 MiB).
const MaxFrameSize = limits.CeilingFrameBytes

// Connection carries frames between two nodes, in order. Send and Recv may
// be called from different goroutines; Close unblocks both.
type Connection interface {
	Send(ctx context.Context, frame []byte) error
	Recv(ctx context.Context) ([]byte, error)
	Close() error
}

// Pipe returns the two ends of an in-process connection.
func Pipe() (Connection, Connection) {
	ab := make(chan []byte, 64)
	ba := make(chan []byte, 64)
	done := make(chan struct{})
	var once sync.Once
	closeFn := func() { once.Do(func() { close(done) }) }
	return &pipeEnd{in: ba, out: ab, done: done, close: closeFn}, &pipeEnd{in: ab, out: ba, done: done, close: closeFn}
}

type pipeEnd struct {
	in, out chan []byte
	done    chan struct{}
	close   func()
}

func (p *pipeEnd) Send(ctx context.Context, frame []byte) error {
	if len(frame) > MaxFrameSize {
		return fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, len(frame))
	}
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	select {
	case p.out <- append([]byte(nil), frame...):
		return nil
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeEnd) Recv(ctx context.Context) ([]byte, error) {
	select {
	case f := <-p.in:
		return f, nil
	case <-p.done:
		// Deliver what was sent before the close.
		select {
		case f := <-p.in:
			return f, nil
		default:
		}
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeEnd) Close() error { p.close(); return nil }
