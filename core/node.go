// Package core is the Ankurah node: it ties a storage engine, a policy agent
// and (later) transports together, and gives applications transactions,
// reads and live queries.
//
//	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
//	if err != nil {
//		return err
//	}
//	defer node.Close()
//	c := node.Context(nil) // the caller's identity, as the policy agent sees it
//	trx := c.Begin()
//	album, err := trx.Create(ctx, "album")
//	if err != nil {
//		return err
//	}
//	album.Set("name", "Origin of Symmetry")
//	album.Set("year", 2001)
//	if err := trx.Commit(ctx); err != nil {
//		return err
//	}
//	lq, err := c.Query(ctx, "album", "year > ?", 2000) // lq.Subscribe(func(core.ChangeSet) {…})
//
// Inside, every change of the node's data — a local commit, a commit a
// client forwards, an offline commit with its outbox record, states received
// from a durable peer — goes through one write step (pipeline.go) and is
// published to the node's ordered change log (changelog.go), from which the
// reactor hands it to live queries, watches, live aggregates and subscribed
// peers in order. The reactor indexes live queries by their equality and
// range terms (reactor.go), by the references their paths follow
// (reactor_refs.go), by the entities and rows their includes hold
// (include.go) and, for full LIMIT windows, by the window's last row
// (reactor_bounded.go); LIMITed queries of one caller and selection share one
// hidden query (lqgroup.go). Readers never take the write lock: they
// reconcile what they read with the log. User callbacks run on goroutines of
// their live query or watch, never under a lock of the node. What differs
// between durable and ephemeral nodes is in role.go; the wire session's ids,
// outgoing queue and error table are in package session. A peer's frames
// go out through its writer goroutine, except that a client's request is
// sent by the goroutine that made it when nothing waits ahead of it. A
// commit never sends on another peer's connection: one peer that stops
// reading must not hold up anyone else's commit.
//
// Events are content-addressed and carry no author: a durable node records,
// for each event it accepts, the caller as its policy agent names it
// (policy.Identifier), the peer the commit came through and when it was
// received, in the reserved collection AttributionCollection, written in the
// commit's own storage batch and bounded to each entity's newest events
// (WithAttribution; attribution.go). Node.Attribution reads it for
// operators. Collections named "_ankurah" or beginning with "_ankurah_" are
// the framework's (ReservedCollection): no Context or peer request reads or
// writes them.
//
// Nothing in this package reads the wall clock or global randomness: both
// come from options, so a simulation can run many nodes deterministically.
package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/session"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Errors of the node, tested with errors.Is.
var (
	// ErrTransactionDone: the transaction was already committed or rolled back.
	ErrTransactionDone = errors.New("ankurah: transaction already ended")
	// ErrDeleted: the entity is deleted.
	ErrDeleted = errors.New("ankurah: entity deleted")
	// ErrRetriesExhausted: a commit kept conflicting with other writers.
	ErrRetriesExhausted = errors.New("ankurah: commit retries exhausted")
	// ErrClosed: the node or live query was closed.
	ErrClosed = errors.New("ankurah: closed")
	// ErrInvalidName: a collection or property name the node refuses (the
	// same error as limits.ErrInvalidName).
	ErrInvalidName = limits.ErrInvalidName
	// ErrLimit: something exceeded one of the node's limits (the same error
	// as limits.ErrExceeded); the message names the limit.
	ErrLimit = limits.ErrExceeded
	// ErrBusy: a durable peer refused a request for now (too many in flight
	// on the connection); retrying later may succeed.
	ErrBusy = errors.New("ankurah: peer busy")
	// ErrStale: a commit that had to be made on an entity's current state
	// was made on an older one (another write moved the entity meanwhile);
	// nothing was written. An ephemeral node's Transaction handles it
	// itself: it brings its copy current and makes its writes again.
	ErrStale = errors.New("ankurah: edit made on a state that is no longer current")
)

// Role says whether a node's storage is authoritative.
type Role int

const (
	// Durable nodes (servers) hold the authoritative copy of their data.
	Durable Role = iota
	// Ephemeral nodes (browsers, CLIs) cache what they ask durable peers for.
	Ephemeral
)

type config struct {
	role         Role
	now          func() time.Time
	random       io.Reader
	logger       *slog.Logger
	retries      int
	budget       int
	systemID     string
	cacheEntries int
	limits       limits.Limits
	shared       bool
	metrics      Metrics // nil: none (metrics.go)
	// attributionKeep: how many of an entity's newest events a durable
	// node records the author and time of (attribution.go).
	attributionKeep int
}

// Option configures a Node.
type Option func(*config)

// WithRole sets the node's role (Durable by default).
func WithRole(r Role) Option { return func(c *config) { c.role = r } }

// WithClock sets the clock the node stamps creations with (time.Now by default).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithRandom sets the source of randomness for nonces and ids (crypto/rand by default).
func WithRandom(r io.Reader) Option { return func(c *config) { c.random = r } }

// WithLogger sets the node's logger (slog.Default by default).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithCommitRetries bounds how often a commit merges and retries after another
// writer moved a head (10 by default). With shared storage (WithSharedStorage)
// a commit instead retries with backoff until its context ends.
func WithCommitRetries(n int) Option { return func(c *config) { c.retries = n } }

// WithComparisonBudget bounds the events a DAG comparison may visit
// (event.DefaultBudget by default).
func WithComparisonBudget(n int) Option { return func(c *config) { c.budget = n } }

// WithLimits sets the node's limits (limits.Default() by default; zero
// fields keep their defaults). NewNode refuses limits beyond their ceilings.
func WithLimits(l limits.Limits) Option { return func(c *config) { c.limits = l } }

// WithSystemID sets a durable node's system id (a fresh ULID by default).
// Clients that meet a different system id than last time drop their cache.
func WithSystemID(s string) Option { return func(c *config) { c.systemID = s } }

// Node is one Ankurah node: a storage engine, a policy agent, and the live
// queries and transactions of its callers. A Node is safe for concurrent use.
type Node struct {
	engine  storage.Engine
	agent   policy.Agent
	cfg     config
	id      id.ULID
	log     *slog.Logger
	reactor *reactor
	role    role          // what differs between durable and ephemeral (role.go)
	cache   *backendCache // decoded backends by entity and head (cache.go)

	randMu sync.Mutex

	collMu      sync.Mutex
	collections map[string]storage.Collection

	// commitMu orders storage writes with their publication in the change
	// log (clog), so an entity's batches are published in the order they
	// were stored. Readers never take it.
	commitMu sync.Mutex
	closed   bool
	isClosed atomic.Bool // closed, readable without commitMu

	// peers are the open connections; wg counts their goroutines, which
	// Close waits for.
	peersMu sync.Mutex
	peers   map[*Peer]struct{}
	wg      sync.WaitGroup
	// clog is the ordered change log every written batch is published to
	// (changelog.go); readers reconcile with it instead of taking commitMu.
	clog changeLog
	// queued is what waits in every peer's outgoing queue (bytes), held to
	// limits.ServerQueueBytes.
	queued *session.Budget

	upMu    sync.Mutex
	up      upstream
	drainMu sync.Mutex // held while the offline outbox is sent (client.go)

	// feed follows the engine's change feed (WithSharedStorage; feed.go).
	feed *follower

	rels relationSet // declared relations (relations.go)
}

// NewNode returns a node on engine whose access is decided by agent. It
// reads the engine (a durable node's system id, an ephemeral node's offline
// commits), bounded by ctx; ctx does not bound the node's life (Close does).
func NewNode(ctx context.Context, engine storage.Engine, agent policy.Agent, opts ...Option) (*Node, error) {
	if engine == nil {
		return nil, errors.New("ankurah: NewNode needs a storage engine")
	}
	if agent == nil {
		return nil, errors.New("ankurah: NewNode needs a policy agent (policy.Permissive{} allows everything)")
	}
	cfg := config{role: Durable, now: time.Now, random: rand.Reader, logger: slog.Default(), retries: 10, budget: 10000, cacheEntries: DefaultBackendCacheEntries, attributionKeep: DefaultAttributionKeep}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.limits.Validate(); err != nil {
		return nil, err
	}
	cfg.limits = cfg.limits.WithDefaults()
	if cfg.attributionKeep < 0 || cfg.attributionKeep > MaxAttributionKeep {
		return nil, fmt.Errorf("ankurah: WithAttribution(%d): record 0 (none) to %d events per entity", cfg.attributionKeep, MaxAttributionKeep)
	}
	n := &Node{engine: engine, agent: agent, cfg: cfg, log: cfg.logger, collections: map[string]storage.Collection{}, peers: map[*Peer]struct{}{},
		queued: session.NewBudget(int64(cfg.limits.ServerQueueBytes))}
	n.reactor = newReactor()
	n.role = roleFor(cfg.role, n)
	var err error
	if n.id, err = n.newULID(); err != nil {
		return nil, err
	}
	if cfg.role == Durable && cfg.systemID == "" {
		sid, err := n.storedSystemID(ctx)
		if err != nil {
			return nil, err
		}
		n.cfg.systemID = sid
	}
	n.cache = newBackendCache(n.cfg.cacheEntries)
	n.up = upstream{connected: make(chan struct{}), subs: map[uint64]*LiveQuery{}}
	if cfg.role == Ephemeral {
		if n.up.outbox, err = n.loadOutbox(ctx); err != nil {
			return nil, fmt.Errorf("ankurah: offline commits: %w", err)
		}
	}
	if cfg.shared {
		if err := n.startFollowing(ctx); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// ID returns the node's id.
func (n *Node) ID() id.ULID { return n.id }

// Role returns whether the node is durable or ephemeral.
func (n *Node) Role() Role { return n.cfg.role }

// SystemID returns a durable node's system id ("" for ephemeral nodes).
func (n *Node) SystemID() string { return n.cfg.systemID }

// Engine returns the node's storage engine.
func (n *Node) Engine() storage.Engine { return n.engine }

// Limits returns the limits the node enforces.
func (n *Node) Limits() limits.Limits { return n.cfg.limits }

// Agent returns the node's policy agent.
func (n *Node) Agent() policy.Agent { return n.agent }

// Close ends the node: every connection to a peer (accepted or connected)
// and every live query and watch ends, later calls return ErrClosed, and
// Close returns once the node's own goroutines have ended. It does not close
// the storage engine, which the caller opened. Closing twice is a no-op.
func (n *Node) Close() error {
	n.commitMu.Lock()
	already := n.closed
	n.closed = true
	n.commitMu.Unlock()
	n.peersMu.Lock() // after this, no peer goroutine starts (Peer.spawn)
	n.isClosed.Store(true)
	n.peersMu.Unlock()
	// Readers register live queries and watches under the log's lock after
	// checking isClosed: once this returns, none registers any more.
	n.clog.mu.Lock()
	//lint:ignore SA2001 an empty critical section, as a barrier
	n.clog.mu.Unlock()
	if already {
		n.wg.Wait()
		return nil
	}
	n.peersMu.Lock()
	peers := make([]*Peer, 0, len(n.peers))
	for p := range n.peers {
		peers = append(peers, p)
	}
	n.peersMu.Unlock()
	var faults sync.WaitGroup
	for _, p := range peers {
		faults.Add(1)
		go func() {
			defer faults.Done()
			p.fault(transport.CodeClosed, fmt.Errorf("%w: node shutting down", ErrClosed))
		}()
	}
	faults.Wait()
	if n.feed != nil {
		n.feed.cancel()
	}
	n.reactor.closeAll()
	n.wg.Wait()
	return nil
}

func (n *Node) newULID() (id.ULID, error) {
	n.randMu.Lock()
	defer n.randMu.Unlock()
	u, err := ulid.New(ulid.Timestamp(n.cfg.now()), n.cfg.random)
	if err != nil {
		return u, fmt.Errorf("ankurah: new ulid: %w", err)
	}
	return u, nil
}

func (n *Node) randomBytes(k int) ([]byte, error) {
	n.randMu.Lock()
	defer n.randMu.Unlock()
	b := make([]byte, k)
	if _, err := io.ReadFull(n.cfg.random, b); err != nil {
		return nil, fmt.Errorf("ankurah: random source: %w", err)
	}
	return b, nil
}

func (n *Node) collection(ctx context.Context, name string) (storage.Collection, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	n.collMu.Lock()
	defer n.collMu.Unlock()
	if c, ok := n.collections[name]; ok {
		return c, nil
	}
	c, err := n.engine.Collection(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("ankurah: open collection %q: %w", name, err)
	}
	n.collections[name] = c
	return c, nil
}

// readCollection opens a collection for reading. A collection the engine
// does not have (when it can tell, storage.CollectionLooker) reads as empty
// and is not created: reads never create collections.
func (n *Node) readCollection(ctx context.Context, name string) (storage.Collection, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	n.collMu.Lock()
	c, ok := n.collections[name]
	n.collMu.Unlock()
	if ok {
		return c, nil
	}
	lk, ok := n.engine.(storage.CollectionLooker)
	if !ok {
		return n.collection(ctx, name)
	}
	c, err := lk.LookupCollection(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return emptyCollection(name), nil
	}
	if err != nil {
		return nil, fmt.Errorf("ankurah: open collection %q: %w", name, err)
	}
	n.collMu.Lock()
	defer n.collMu.Unlock()
	if prev, ok := n.collections[name]; ok {
		return prev, nil
	}
	n.collections[name] = c
	return c, nil
}

// emptyCollection is a collection that does not exist (yet): it reads as empty.
type emptyCollection string

func (e emptyCollection) Name() string { return string(e) }
func (e emptyCollection) GetState(_ context.Context, eid id.EntityID) (entity.State, error) {
	return entity.State{}, storage.NotFound(string(e), eid)
}
func (emptyCollection) FetchStates(context.Context, *query.Bound) ([]entity.State, error) {
	return nil, nil
}
func (emptyCollection) GetEvents(context.Context, []id.EventID) ([]event.Event, error) {
	return nil, nil
}
func (emptyCollection) EntityEvents(context.Context, id.EntityID) ([]event.Event, error) {
	return nil, nil
}

// ValidateName checks a collection or property name: non-empty, at most 255
// bytes, valid UTF-8 without NUL (limits.ValidName). Names beginning with "_"
// are reserved for the framework and refused for properties set by
// applications.
func ValidateName(name string) error { return limits.ValidName(name) }

// Context binds a caller's identity (context data, as the policy agent
// understands it) to the node. All reads and writes go through a Context.
type Context struct {
	node  *Node
	cdata policy.ContextData
}

// Context returns a Context for a caller with the given context data.
func (n *Node) Context(cdata policy.ContextData) *Context { return &Context{node: n, cdata: cdata} }

// Node returns the context's node.
func (c *Context) Node() *Node { return c.node }

// Data returns the caller's context data.
func (c *Context) Data() policy.ContextData { return c.cdata }
