package entity

import (
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/value"
)

// Backends is a state's backend states, one per backend name, in the order
// of their names in the state's encoding (value.KeyOrder: shorter first,
// then bytewise). An entity has one or two backends (LWW, and a datatype's),
// so a short slice holds them in one allocation where a map takes two, and
// the encoder writes them without sorting.
//
// Build one with Set (or BackendsOf); a slice literal must already be in
// that order and free of duplicates, which Validate checks. Its encoding is
// a CBOR map of name to state, as it always was.
type Backends []Backend

// Backend is one backend's state in a Backends.
type Backend struct {
	Name  string
	State []byte
}

// BackendsOf returns the backends of m in their order.
func BackendsOf(m map[string][]byte) Backends {
	if m == nil {
		return nil
	}
	bs := make(Backends, 0, len(m))
	for name, st := range m {
		bs = append(bs, Backend{Name: name, State: st})
	}
	slices.SortFunc(bs, func(a, b Backend) int { return value.KeyOrder(a.Name, b.Name) })
	return bs
}

// Get returns the state of the named backend.
func (bs Backends) Get(name string) ([]byte, bool) {
	for i := range bs {
		if bs[i].Name == name {
			return bs[i].State, true
		}
	}
	return nil, false
}

// StateOf returns the state of the named backend, nil when bs has none.
func (bs Backends) StateOf(name string) []byte {
	b, _ := bs.Get(name)
	return b
}

// Has reports whether bs holds the named backend.
func (bs Backends) Has(name string) bool {
	_, ok := bs.Get(name)
	return ok
}

// Set sets the state of the named backend, keeping bs in order. Replacing
// a backend's state writes it into bs's array (seen by a copy sharing it);
// adding one makes a new array.
func (bs *Backends) Set(name string, state []byte) {
	i, found := slices.BinarySearchFunc(*bs, name, func(b Backend, n string) int { return value.KeyOrder(b.Name, n) })
	if found {
		(*bs)[i].State = state
		return
	}
	// Into a new array: a copy of the state (st2 := st) may share this one,
	// and must not see its elements move.
	*bs = slices.Insert(slices.Clip(*bs), i, Backend{Name: name, State: state})
}

// Delete removes the named backend (into a new array, as Set inserts).
func (bs *Backends) Delete(name string) {
	if !bs.Has(name) {
		return
	}
	out := make(Backends, 0, len(*bs)-1)
	for _, b := range *bs {
		if b.Name != name {
			out = append(out, b)
		}
	}
	*bs = out
}

// Names returns the backends' names, in order.
func (bs Backends) Names() []string {
	out := make([]string, len(bs))
	for i := range bs {
		out[i] = bs[i].Name
	}
	return out
}

// Map returns the backends as a map of name to state (sharing the states).
func (bs Backends) Map() map[string][]byte {
	if bs == nil {
		return nil
	}
	m := make(map[string][]byte, len(bs))
	for _, b := range bs {
		m[b.Name] = b.State
	}
	return m
}

// Clone returns a deep copy of bs.
func (bs Backends) Clone() Backends {
	if bs == nil {
		return nil
	}
	size := 0
	for _, b := range bs {
		size += len(b.State)
	}
	slab := make([]byte, 0, size)
	out := make(Backends, len(bs))
	for i, b := range bs {
		out[i].Name = b.Name
		if b.State != nil {
			p := len(slab)
			slab = append(slab, b.State...)
			out[i].State = slab[p:len(slab):len(slab)]
		}
	}
	return out
}

// Validate reports a Backends not in order or with a name twice.
func (bs Backends) Validate() error {
	for i := 1; i < len(bs); i++ {
		if value.KeyOrder(bs[i-1].Name, bs[i].Name) >= 0 {
			if bs[i-1].Name == bs[i].Name {
				return fmt.Errorf("%w: backend %q twice", ErrInvalid, bs[i].Name)
			}
			return fmt.Errorf("%w: backends %q and %q out of order", ErrInvalid, bs[i-1].Name, bs[i].Name)
		}
	}
	return nil
}

// MarshalCBOR encodes bs as the CBOR map of name to state that a state's
// backends have always been (the generic encoder's path; the state encoder
// writes them itself).
func (bs Backends) MarshalCBOR() ([]byte, error) {
	if bs == nil {
		return []byte{0xf6}, nil
	}
	return event.EncMode().Marshal(bs.Map())
}

// backendsDecMode decodes a state's backends on the generic path: a
// duplicate name is refused, as it was when they were decoded into a map.
var backendsDecMode = must(cbor.DecOptions{
	MaxNestedLevels: 4,
	MaxMapPairs:     1 << 16,
	DupMapKey:       cbor.DupMapKeyEnforcedAPF,
}.DecMode())

// UnmarshalCBOR decodes a CBOR map of name to state (or null) into bs,
// replacing what bs held (as decoding into a slice does), not merging.
func (bs *Backends) UnmarshalCBOR(b []byte) error {
	var m map[string][]byte
	if err := backendsDecMode.Unmarshal(b, &m); err != nil {
		return err
	}
	*bs = BackendsOf(m)
	return nil
}
