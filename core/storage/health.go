package storage

import "context"

// Healther is an Engine that can tell whether it is able to serve right now:
// an engine in another process (that process may have died and be
// restarting) or behind a network connection. A server's health endpoint
// reports it; an engine without it is taken to be healthy while it is open.
type Healther interface {
	// Health returns nil when the engine can serve calls, or an error saying
	// why not (wrapping ErrUnavailable while it is expected to recover, and
	// ErrClosed after Close).
	Health(ctx context.Context) error
}
