package text

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// Name is the registry name of the text backend.
const Name = "text"

func init() {
	property.Register(Name, func(state []byte) (property.Backend, error) { return Load(state) })
}

// Backend is the text property backend of one entity: one Yjs document whose
// root-level texts are the entity's text properties, keyed by property name.
// Event payloads are Yjs update v1 bytes, and State is the document as one
// update (Y.encodeStateAsUpdate), so any Yjs peer can read both.
//
// Client ids: a fork (a transaction) edits under a client id that no other
// history uses. It continues an id this process edited under before when the
// fork's document already holds everything ever written under that id here
// and no other open fork holds the id (a lease, released when the
// transaction takes its operations at commit); otherwise it draws a fresh
// random id (32 bits, like Yjs) that neither the document nor this process
// has seen. Continuing ids keeps the document's client list — and with it
// the state vector, the encoding and load times — from growing by one client
// per transaction. A rolled-back transaction never releases its lease, so
// its id, possibly half-used, is never continued. Ids are not written into
// State, and two processes only share an id by drawing the same random one,
// with a chance of about 2^-32 per pair.
type Backend struct {
	doc    *Doc
	ids    *idSource
	leased bool // a fork holding the lease of its client id until TakeOperations
}

var _ property.Backend = (*Backend)(nil)

// idSource draws client ids for a backend and its forks.
type idSource struct {
	mu    sync.Mutex
	draw  func() uint64
	drawn map[uint64]bool
}

func randomClientID() uint64 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("text: no randomness for a client id: " + err.Error())
	}
	return uint64(binary.LittleEndian.Uint32(b[:]))
}

// next draws an id that d does not know and that was not drawn before.
func (s *idSource) next(d *Doc) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		c := s.draw()
		if c > maxSafeInteger || s.drawn[c] || d.knows(c) || leases.used(c) {
			continue
		}
		s.drawn[c] = true
		return c
	}
}

// leases remembers, for every client id this process's transactions edited
// under, the clock after the last edit written, and which ids an open
// transaction holds.
var leases = &leaseTable{next: map[uint64]uint64{}, held: map[uint64]bool{}}

type leaseTable struct {
	mu   sync.Mutex
	next map[uint64]uint64
	held map[uint64]bool
}

func (l *leaseTable) used(c uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.next[c]
	return ok || l.held[c]
}

// reuse finds an id of d that can be continued and takes its lease.
func (l *leaseTable) reuse(d *Doc) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c, cs := range d.store {
		n, ok := l.next[c]
		if ok && !l.held[c] && cs.state() == n && d.pending[c] == nil {
			l.held[c] = true
			return c, true
		}
	}
	return 0, false
}

// hold takes the lease of a freshly drawn id.
func (l *leaseTable) hold(c uint64) {
	l.mu.Lock()
	l.held[c] = true
	l.mu.Unlock()
}

// release records that everything up to clock next was written under c and
// gives the id back.
func (l *leaseTable) release(c, next uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, c)
	if next > 0 {
		l.next[c] = next
	}
}

// knows reports whether the document holds structs (or pending structs or
// deletions) of client c.
func (d *Doc) knows(c uint64) bool {
	return d.store[c] != nil || d.pending[c] != nil || d.pendDS[c] != nil
}

// Option configures a Backend.
type Option func(*idSource)

// WithClientIDs makes the backend and its forks draw client ids from draw
// instead of crypto/rand: for reproducible tests only, since ids must never
// repeat across replicas. Draws above 2^53-1 (beyond what Yjs can read) are
// discarded.
func WithClientIDs(draw func() uint64) Option {
	return func(s *idSource) { s.draw = draw }
}

// New returns an empty text backend.
func New(opts ...Option) *Backend {
	b, _ := Load(nil, opts...)
	return b
}

// Load restores a backend from State's bytes (nil or empty: an empty one).
func Load(state []byte, opts ...Option) (*Backend, error) {
	ids := &idSource{draw: randomClientID, drawn: map[uint64]bool{}}
	for _, o := range opts {
		o(ids)
	}
	return load(state, ids)
}

func load(state []byte, ids *idSource) (*Backend, error) {
	d := NewDoc(0)
	if len(state) > 0 {
		if err := d.ApplyUpdate(state); err != nil {
			return nil, fmt.Errorf("%w: text state: %w", property.ErrInvalid, err)
		}
	}
	d.client = ids.next(d)
	return &Backend{doc: d, ids: ids}, nil
}

// Name returns "text".
func (b *Backend) Name() string { return Name }

// Doc returns the backend's document, for edits and Yjs interop.
func (b *Backend) Doc() *Doc { return b.doc }

// Fork returns an independent copy for a transaction, editing under a client
// id leased as the type's documentation describes. Edits of b not yet taken
// are in the copy's text but not in its operations.
func (b *Backend) Fork() property.Backend {
	c, ok := leases.reuse(b.doc)
	if !ok {
		c = b.ids.next(b.doc)
		leases.hold(c)
	}
	return &Backend{doc: b.doc.Clone(c), ids: b.ids, leased: true}
}

// TakeOperations returns the local edits since the previous call (since the
// fork, the first time) as one Yjs update, nil when there are none. On a
// fork it also ends the transaction's lease of its client id.
func (b *Backend) TakeOperations() ([]byte, error) {
	u := b.doc.TakeUpdate()
	if b.leased {
		b.leased = false
		leases.release(b.doc.client, b.doc.state(b.doc.client))
	}
	return u, nil
}

// Apply applies a Yjs update carried by event ev. Structs that depend on
// updates not seen yet wait inside the document until those arrive.
func (b *Backend) Apply(ev id.EventID, ops []byte) error {
	if len(ops) == 0 { // an event that carries no text edits
		return nil
	}
	if err := b.doc.ApplyUpdate(ops); err != nil {
		return fmt.Errorf("%w: text operations of event %s: %w", property.ErrInvalid, ev, err)
	}
	return nil
}

// State returns the document as one Yjs update; backends holding the same
// structs return the same bytes.
func (b *Backend) State() ([]byte, error) { return b.doc.EncodeStateAsUpdate(), nil }

// Values returns every text property as a string value.
func (b *Backend) Values() value.Fields {
	names := b.doc.Names()
	out := make([]value.Field, len(names))
	for i, n := range names {
		out[i] = value.Field{Name: n, Value: value.String(b.doc.Text(n))}
	}
	return value.MakeFields(out)
}
