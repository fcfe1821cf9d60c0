// Package event defines Event, one atomic change to one entity, its Clock,
// the canonical CBOR encoding that gives an event its id, and the comparison
// of clocks over the event DAG that merges use.
package event

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/id"
)

// Errors of this package, tested with errors.Is.
var (
	// ErrInvalid is wrapped by every error about a malformed or inconsistent event.
	ErrInvalid = errors.New("event: invalid")
	// ErrTooLarge reports an encoded event or clock beyond the decoder's size limit.
	ErrTooLarge = errors.New("event: too large")
	// ErrBudgetExceeded reports a DAG comparison that needed to visit more
	// events than its budget allows. Nothing is changed when it is returned.
	ErrBudgetExceeded = errors.New("event: comparison budget exceeded")
	// ErrMissingParent reports an ancestor event that the source does not have.
	ErrMissingParent = errors.New("event: missing ancestor")
)

// MaxEncodedSize is the largest encoded event Decode accepts (16 MiB).
const MaxEncodedSize = 16 << 20

// NonceSize is the length of a genesis event's random nonce.
const NonceSize = 16

// Event is one atomic change to one entity. A genesis event (no parents)
// creates the entity; its id is the entity's id, so its encoding omits the
// entity id and carries a random nonce and a timestamp instead.
type Event struct {
	Collection string
	// Entity is the entity the event changes. For a genesis event it equals
	// the event's own id and is filled in by Decode and NewGenesis.
	Entity id.EntityID
	// Parent is the entity head the event was made on; empty for genesis.
	Parent Clock
	// Operations holds each backend's operations, keyed by backend name.
	Operations map[string][]byte
	// Nonce (genesis only) makes identical creations distinct.
	Nonce []byte
	// Timestamp (genesis only) is the creation time in Unix milliseconds, from the node's clock.
	Timestamp int64

	// id is the hash of the fields above, remembered where the event is
	// made or decoded (New, NewGenesis, Decode) so ID need not encode and
	// hash it again; hasID says it is set. It is never read from the wire:
	// Decode computes it from the content it decoded.
	id    id.EventID
	hasID bool
}

type wire struct {
	Collection string            `cbor:"1,keyasint"`
	Entity     []byte            `cbor:"2,keyasint,omitempty"`
	Parent     Clock             `cbor:"3,keyasint,omitempty"`
	Operations map[string][]byte `cbor:"4,keyasint,omitempty"`
	Nonce      []byte            `cbor:"5,keyasint,omitempty"`
	Timestamp  int64             `cbor:"6,keyasint,omitempty"`
}

var (
	encMode = must(cbor.CoreDetEncOptions().EncMode())
	decMode = must(cbor.DecOptions{
		MaxNestedLevels:   8,
		MaxArrayElements:  1 << 16,
		MaxMapPairs:       1 << 12,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode())
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// EncMode is the deterministic CBOR encoding used for everything hashed,
// stored or sent (core deterministic encoding).
func EncMode() cbor.EncMode { return encMode }

// IsGenesis reports whether e creates its entity.
func (e *Event) IsGenesis() bool { return len(e.Parent) == 0 }

// Encode returns the canonical encoding of e, the bytes its id is the hash
// of: core deterministic CBOR of its wire form, written without reflection.
func (e *Event) Encode() ([]byte, error) {
	if !handWritten {
		return encMode.Marshal(e.wire())
	}
	return appendEvent(make([]byte, 0, encodedSize(e)), e), nil
}

// wire returns e's wire form, what the generic encoder writes.
func (e *Event) wire() wire {
	w := wire{Collection: e.Collection, Parent: e.Parent, Operations: e.Operations, Nonce: e.Nonce, Timestamp: e.Timestamp}
	if !e.IsGenesis() {
		// A copy: a slice of e's own array would make every *Event
		// that is hashed or encoded live on the heap.
		w.Entity = bytes.Clone(e.Entity[:])
	}
	if len(w.Operations) == 0 {
		w.Operations = nil
	}
	return w
}

// ID returns the SHA-256 of e's canonical encoding. An event made by New or
// NewGenesis, or decoded by Decode, remembers its id: change the fields of
// such an event only through a fresh Event value (a struct literal copying
// them), never in place, or its ID no longer matches its content.
func (e *Event) ID() id.EventID {
	if e.hasID {
		return e.id
	}
	return e.computeID()
}

// computeID hashes e's canonical encoding.
func (e *Event) computeID() id.EventID {
	if !handWritten {
		b, err := e.Encode()
		if err != nil {
			panic(fmt.Sprintf("event: encode: %v", err)) // cannot happen for these field types
		}
		return sha256.Sum256(b)
	}
	var buf [512]byte
	return sha256.Sum256(appendEvent(buf[:0], e))
}

// Validate checks the genesis rules and the clock order.
func (e *Event) Validate() error {
	if e.Collection == "" {
		return fmt.Errorf("%w: empty collection", ErrInvalid)
	}
	if e.IsGenesis() {
		if len(e.Nonce) != NonceSize {
			return fmt.Errorf("%w: genesis nonce of %d bytes, want %d", ErrInvalid, len(e.Nonce), NonceSize)
		}
		if eid := e.ID(); id.EntityID(eid) != e.Entity && !e.Entity.IsZero() {
			return fmt.Errorf("%w: genesis event %s names entity %s", ErrInvalid, eid, e.Entity)
		}
		return nil
	}
	if len(e.Nonce) != 0 || e.Timestamp != 0 {
		return fmt.Errorf("%w: nonce or timestamp on a non-genesis event", ErrInvalid)
	}
	if e.Entity.IsZero() {
		return fmt.Errorf("%w: non-genesis event without entity id", ErrInvalid)
	}
	return e.Parent.Validate()
}

// Decode parses an encoded event, checks it and fills in the entity id of a
// genesis event. Inputs over MaxEncodedSize are refused.
func Decode(b []byte) (Event, error) {
	if len(b) > MaxEncodedSize {
		return Event{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxEncodedSize)
	}
	w, ok := wire{}, false
	if handWritten {
		w, ok = readWire(b)
	}
	if !ok {
		var err error
		if w, err = decodeWireGeneral(b); err != nil {
			return Event{}, err
		}
	}
	e := Event{Collection: w.Collection, Parent: w.Parent, Operations: w.Operations, Nonce: w.Nonce, Timestamp: w.Timestamp}
	if len(w.Entity) > 0 {
		if e.IsGenesis() {
			return Event{}, fmt.Errorf("%w: genesis event carries an entity id", ErrInvalid)
		}
		eid, err := id.EntityFromBytes(w.Entity)
		if err != nil {
			return Event{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		e.Entity = eid
	}
	if e.IsGenesis() {
		// The entity id is the hash of these very bytes once re-encoded; a
		// genesis event needs no other check than its nonce.
		if len(e.Nonce) != NonceSize {
			return Event{}, fmt.Errorf("%w: genesis nonce of %d bytes, want %d", ErrInvalid, len(e.Nonce), NonceSize)
		}
		if e.Collection == "" {
			return Event{}, fmt.Errorf("%w: empty collection", ErrInvalid)
		}
		e.id, e.hasID = e.computeID(), true
		e.Entity = id.EntityID(e.id)
		return e, nil
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	// Hashed once here, from the decoded content (what the sender claims
	// about the event is never taken for its id), and remembered.
	e.id, e.hasID = e.computeID(), true
	return e, nil
}

// decodeWireGeneral reads b with the generic decoder (its own function, so
// that only this path puts a wire form on the heap).
func decodeWireGeneral(b []byte) (wire, error) {
	var w wire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return wire{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return w, nil
}

// AppendCBOR appends e's canonical encoding (Encode's) to dst, for encoders
// of messages that carry events.
func (e *Event) AppendCBOR(dst []byte) []byte {
	if !handWritten {
		b, _ := e.Encode()
		return append(dst, b...)
	}
	return appendEvent(dst, e)
}

// MarshalCBOR encodes e canonically (the encoding its id is the hash of).
func (e Event) MarshalCBOR() ([]byte, error) { return e.Encode() }

// UnmarshalCBOR decodes and validates an event.
func (e *Event) UnmarshalCBOR(b []byte) error {
	d, err := Decode(b)
	if err != nil {
		return err
	}
	*e = d
	return nil
}

// NewGenesis makes the event that creates an entity of collection, with the
// given operations, nonce and timestamp, and fills in its entity id.
func NewGenesis(collection string, ops map[string][]byte, nonce []byte, timestamp int64) Event {
	e := Event{Collection: collection, Operations: ops, Nonce: nonce, Timestamp: timestamp}
	e.id, e.hasID = e.computeID(), true
	e.Entity = id.EntityID(e.id)
	return e
}

// New makes the (non-genesis) event that changes entity of collection,
// made on the head parent, with the given operations, and remembers its id.
func New(collection string, entity id.EntityID, parent Clock, ops map[string][]byte) Event {
	e := Event{Collection: collection, Entity: entity, Parent: parent, Operations: ops}
	e.id, e.hasID = e.computeID(), true
	return e
}

// Clock is a set of event ids (an entity head, or an event's parents), kept
// sorted by id bytes and without duplicates.
type Clock []id.EventID

// NewClock returns a sorted, duplicate-free clock of ids.
func NewClock(ids ...id.EventID) Clock {
	c := slices.Clone(ids)
	slices.SortFunc(c, func(a, b id.EventID) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(c)
}

// Validate checks that c is sorted and duplicate-free.
func (c Clock) Validate() error {
	for i := 1; i < len(c); i++ {
		if bytes.Compare(c[i-1][:], c[i][:]) >= 0 {
			return fmt.Errorf("%w: clock not sorted or has duplicates", ErrInvalid)
		}
	}
	return nil
}

// Equal reports whether two clocks hold the same ids.
func (c Clock) Equal(o Clock) bool { return slices.Equal(c, o) }

// Contains reports whether c holds e.
func (c Clock) Contains(e id.EventID) bool {
	_, ok := slices.BinarySearchFunc(c, e, func(a, b id.EventID) int { return bytes.Compare(a[:], b[:]) })
	return ok
}

// String renders the clock as its ids.
func (c Clock) String() string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range c {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.String())
	}
	b.WriteByte(']')
	return b.String()
}

// Advance returns the head after applying e on top of c: e's parents leave
// the head and e joins it.
func (c Clock) Advance(e id.EventID, parents Clock) Clock {
	out := make(Clock, 0, len(c)+1)
	for _, x := range c {
		if !parents.Contains(x) {
			out = append(out, x)
		}
	}
	return NewClock(append(out, e)...)
}

// EncodeClock returns the canonical encoding of a clock.
func EncodeClock(c Clock) ([]byte, error) {
	return appendClock(make([]byte, 0, 9+(2+id.Size)*len(c)), c), nil
}

// DecodeClock parses and checks an encoded clock.
func DecodeClock(b []byte) (Clock, error) {
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: clock of %d bytes", ErrTooLarge, len(b))
	}
	var c Clock
	if err := decMode.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: clock: %v", ErrInvalid, err)
	}
	return c, c.Validate()
}
