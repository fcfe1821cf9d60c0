// Package policy defines Agent, which decides who may read and write what on
// a node, and Permissive, the agent that allows everything.
//
// The node consults its agent on every path: when a peer authenticates, when
// a collection is opened, to narrow every fetch and subscription, before
// returning an entity or sending an event, before committing any event (with
// the entity's state before and after), and on everything received from peers.
package policy

import (
	"context"
	"errors"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
)

// Errors of this package, tested with errors.Is.
var (
	// ErrAccessDenied: the caller may not do what it asked.
	ErrAccessDenied = errors.New("policy: access denied")
	// ErrUnauthenticated: credentials missing, unknown, expired or forged.
	ErrUnauthenticated = errors.New("policy: unauthenticated")
	// ErrInvalid: data received from a peer failed validation.
	ErrInvalid = errors.New("policy: invalid")
)

// ContextData is what an agent knows of a caller (its identity, roles,
// claims). Agents define their own concrete types.
type ContextData any

// Peer describes the remote node a message came from.
type Peer struct {
	NodeID  string
	Durable bool
}

// Agent decides access. Every method returns nil to allow, or an error
// wrapping ErrAccessDenied (or ErrUnauthenticated, ErrInvalid) to refuse.
// The states and events an Agent is handed are the node's own (shared with
// its live queries, and with an in-process engine's store): it reads them
// and never modifies them. A node calls its Agent from many goroutines at
// once (each connection's, each caller's, its live queries'), so an Agent
// is safe for concurrent use. One order is kept: a client asks
// ValidateState about the states its durable peer sends one at a time, in
// the order it stores them, each part of an answer after the part before
// it is stored.
type Agent interface {
	// Authenticate turns a peer's credentials (from the handshake or a later
	// refresh) into context data.
	Authenticate(ctx context.Context, peer Peer, credentials []byte) (ContextData, error)
	// CanAccessCollection reports whether cdata may use the collection at all.
	CanAccessCollection(ctx context.Context, cdata ContextData, collection string) error
	// ReadFilter returns a predicate (with bound values, never spliced text)
	// that every fetch and subscription of cdata on collection is ANDed with,
	// or nil for no restriction.
	ReadFilter(ctx context.Context, cdata ContextData, collection string) (query.Expr, error)
	// CheckRead reports whether cdata may see an entity.
	CheckRead(ctx context.Context, cdata ContextData, state *entity.State) error
	// CheckEventRead reports whether cdata may receive an event. after is the
	// state the event produced (the entity as of that event, not as it is
	// now), so an entity that changed owner does not make its old events
	// readable to the new reader, nor its new events to the old one.
	CheckEventRead(ctx context.Context, cdata ContextData, ev *event.Event, after *entity.State) error
	// CheckEvent reports whether cdata may commit ev, which turns before
	// (nil for a creation) into after.
	CheckEvent(ctx context.Context, cdata ContextData, ev *event.Event, before, after *entity.State) error
	// ValidateEvent checks an event received from a peer before it is applied.
	ValidateEvent(ctx context.Context, peer Peer, ev *event.Event) error
	// ValidateState checks a state received from a durable peer before it is stored.
	ValidateState(ctx context.Context, peer Peer, state *entity.State) error
}

// Expiring is context data whose credentials stop being valid at a moment:
// a token with an expiry, say. A durable node stops serving a connection whose
// context data has expired (by the node's clock) — its requests are refused
// with ErrUnauthenticated and its subscriptions pause — until the peer
// refreshes its credentials.
type Expiring interface {
	// ExpiresAt returns the moment the credentials stop being valid (any
	// leeway included); the zero time means never.
	ExpiresAt() time.Time
}

// Identifier is an Agent that can name a caller. A durable node records the
// name with every event it accepts (who wrote it, shown to operators by the
// inspector of ankurah serve); an agent without it leaves the author unknown.
// The name must not be a secret (a token, a password): it is stored beside
// the data and shown to administrators.
type Identifier interface {
	// Identify returns a short, stable name for cdata (a user id, a token's
	// subject), or "" when the caller has none.
	Identify(cdata ContextData) string
}

// Permissive allows everything; for development, tests, and nodes that
// trust every caller. Authenticate returns the credentials as context data.
type Permissive struct{}

var _ Agent = Permissive{}

// Authenticate accepts any credentials.
func (Permissive) Authenticate(_ context.Context, _ Peer, credentials []byte) (ContextData, error) {
	return string(credentials), nil
}

// CanAccessCollection allows every collection.
func (Permissive) CanAccessCollection(context.Context, ContextData, string) error { return nil }

// ReadFilter imposes no filter.
func (Permissive) ReadFilter(context.Context, ContextData, string) (query.Expr, error) {
	return nil, nil
}

// CheckRead allows every read.
func (Permissive) CheckRead(context.Context, ContextData, *entity.State) error { return nil }

// CheckEventRead allows every event read.
func (Permissive) CheckEventRead(context.Context, ContextData, *event.Event, *entity.State) error {
	return nil
}

// CheckEvent allows every write.
func (Permissive) CheckEvent(context.Context, ContextData, *event.Event, *entity.State, *entity.State) error {
	return nil
}

// ValidateEvent accepts every well-formed event.
func (Permissive) ValidateEvent(context.Context, Peer, *event.Event) error { return nil }

// ValidateState accepts every well-formed state.
func (Permissive) ValidateState(context.Context, Peer, *entity.State) error { return nil }
