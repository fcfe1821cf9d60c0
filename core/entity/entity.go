// Package entity defines State, what storage keeps of one entity: its id,
// collection, head clock, one state buffer per property backend, and the
// property values those backends materialize (what queries, indexes and SQL
// columns see). Engines never decode backend state; they index Values.
package entity

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// DeletedProperty is the LWW property whose value true marks a deleted
// entity. Names beginning with "_" are reserved for the framework.
const DeletedProperty = "_deleted"

// ErrInvalid is wrapped by errors about malformed encoded states.
var ErrInvalid = errors.New("entity: invalid state")

// MaxEncodedSize is the largest encoded state Decode accepts (64 MiB).
const MaxEncodedSize = 64 << 20

// State is the stored form of one entity.
type State struct {
	ID         id.EntityID  `cbor:"1,keyasint"`
	Collection string       `cbor:"2,keyasint"`
	Head       event.Clock  `cbor:"3,keyasint"`
	Backends   Backends     `cbor:"4,keyasint,omitempty"`
	Values     value.Fields `cbor:"5,keyasint,omitempty"`
}

// Deleted reports whether the entity carries the delete tombstone.
func (s *State) Deleted() bool {
	b, _ := s.Values.Get(DeletedProperty).AsBool()
	return b
}

// Value returns a materialized property value, NULL when absent.
func (s *State) Value(name string) value.Value { return s.Values.Get(name) }

// Clone returns a deep copy of s.
func (s State) Clone() State {
	c := s
	c.Head = append(event.Clock(nil), s.Head...)
	c.Backends = s.Backends.Clone()
	c.Values = s.Values.Clone()
	return c
}

// fields is State as the generic encoder and decoders see it, without its
// methods and with its backends as the map of name to state they are
// encoded as.
type fields struct {
	ID         id.EntityID            `cbor:"1,keyasint"`
	Collection string                 `cbor:"2,keyasint"`
	Head       event.Clock            `cbor:"3,keyasint"`
	Backends   map[string][]byte      `cbor:"4,keyasint,omitempty"`
	Values     map[string]value.Value `cbor:"5,keyasint,omitempty"`
}

// generic returns s as the generic codec sees it (sharing its contents).
func (s *State) generic() *fields {
	return &fields{ID: s.ID, Collection: s.Collection, Head: s.Head, Backends: s.Backends.Map(), Values: s.Values.Map()}
}

// state returns the State f holds (sharing its contents).
func (f *fields) state() State {
	return State{ID: f.ID, Collection: f.Collection, Head: f.Head, Backends: BackendsOf(f.Backends), Values: value.FieldsOf(f.Values)}
}

// unmarshalGeneric decodes b into s with the generic decoder m, as it
// decodes into fields (into what s already holds).
func (s *State) unmarshalGeneric(m cbor.DecMode, b []byte) error {
	f := s.generic()
	err := m.Unmarshal(b, f)
	*s = f.state()
	return err
}

var (
	// decMode decodes a state on its own (Decode): unknown keys are ignored.
	decMode = must(cbor.DecOptions{
		MaxNestedLevels:  8,
		MaxArrayElements: 1 << 16,
		MaxMapPairs:      1 << 16,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	}.DecMode())
	// wireDecMode decodes a state inside a message (UnmarshalCBOR) with the
	// options of core/transport's decoder, which carries states in its
	// messages: unknown keys are refused.
	wireDecMode = must(cbor.DecOptions{
		MaxNestedLevels:   16,
		MaxArrayElements:  1 << 20,
		MaxMapPairs:       1 << 16,
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

// Encode returns the canonical CBOR encoding of s: core deterministic CBOR
// of its fields, written without reflection.
func (s *State) Encode() ([]byte, error) { return s.AppendCBOR(nil) }

// AppendCBOR appends the canonical encoding of s (Encode's) to dst, for
// encoders of messages that carry states.
func (s *State) AppendCBOR(dst []byte) ([]byte, error) {
	if !handWritten {
		if err := s.Backends.Validate(); err != nil {
			return nil, err // as appendState refuses them
		}
		b, err := event.EncMode().Marshal(s.generic())
		return append(dst, b...), err
	}
	return appendState(dst, s)
}

// MarshalCBOR returns the canonical encoding of s (Encode), so that
// messages carrying states write them the same way.
func (s State) MarshalCBOR() ([]byte, error) { return s.AppendCBOR(nil) }

// Decode parses an encoded state, refusing inputs over MaxEncodedSize.
// The canonical encoding (what Encode writes) is read by a decoder of its
// own; anything else goes through the generic CBOR decoder.
func Decode(b []byte) (State, error) {
	if len(b) > MaxEncodedSize {
		return State{}, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalid, len(b), MaxEncodedSize)
	}
	s, ok := State{}, false
	if handWritten {
		s, ok = decodeFast(b)
	}
	if !ok {
		s = State{}
		if err := s.unmarshalGeneric(decMode, b); err != nil {
			return s, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if err := s.Head.Validate(); err != nil {
		return s, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return s, nil
}

// UnmarshalCBOR decodes a state inside a larger CBOR item (a message of
// core/transport) as the generic decoder would with that package's options:
// unknown keys are refused, and the head is not checked (the receiver does
// that). A canonical encoding into a zero State is read without reflection.
func (s *State) UnmarshalCBOR(b []byte) error {
	if handWritten && s.isZero() {
		if d, ok := decodeFast(b); ok {
			*s = d
			return nil
		}
	}
	return s.unmarshalGeneric(wireDecMode, b)
}

// isZero reports whether s is the zero State, which decoding fills in
// rather than merges into.
func (s *State) isZero() bool {
	return s.ID.IsZero() && s.Collection == "" && s.Head == nil && s.Backends == nil && s.Values.Len() == 0
}
