package property

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/value"
)

// LWWName is the registry name of the last-writer-wins backend.
const LWWName = "lww"

func init() {
	Register(LWWName, func(state []byte) (Backend, error) { return LoadLWW(state) })
}

// LWW is the last-writer-wins backend: one value per property, with the
// event that wrote it.
//
// Every LWW payload carries a height, one more than the greatest height the
// writing replica had applied. A causal descendant therefore always has a
// greater height than every write it saw, and the winner of a property is the
// write with the greatest (height, event id). That order is total and does
// not depend on the order events arrive in, so replicas that applied the same
// events hold byte-identical state. (Comparing concurrent writes by event id
// alone is not convergent: which write a replica still remembers would
// depend on delivery order.)
type LWW struct {
	height uint64
	// entries are the properties' winning writes, sorted by name in core
	// deterministic order (value.KeyOrder), the order State writes them
	// in: a slice, not a map, since most entities have a few properties
	// and a small map costs a group of eight slots.
	entries []lwwNamed
	// pending are the local edits not yet taken as an operation, one per
	// property, in the order first set: a slice, since an edit sets a few;
	// pendingAt indexes it by name once it holds more than pendingSlice.
	pending   []setPair
	pendingAt map[string]int
	// checked is the payload Validate decoded last; Apply, given the same
	// bytes of the same event next, uses it instead of decoding them again.
	checked struct {
		ev  id.EventID
		raw []byte
		ops decodedOps
	}
}

type lwwEntry struct {
	Value  value.Value `cbor:"1,keyasint"`
	Event  id.EventID  `cbor:"2,keyasint"`
	Height uint64      `cbor:"3,keyasint"`
}

type lwwNamed struct {
	name string
	lwwEntry
}

type lwwState struct {
	Height  uint64              `cbor:"1,keyasint"`
	Entries map[string]lwwEntry `cbor:"2,keyasint"`
}

type lwwOps struct {
	Height uint64                 `cbor:"1,keyasint"`
	Set    map[string]value.Value `cbor:"2,keyasint"`
}

// decodedOps is a payload as the backend applies it: its writes as a list
// (each property once).
type decodedOps struct {
	Height uint64
	Set    []lwwWrite
}

type lwwWrite struct {
	prop string
	v    value.Value
}

var (
	decMode = func() cbor.DecMode {
		m, err := cbor.DecOptions{MaxNestedLevels: 8, MaxMapPairs: 1 << 16, DupMapKey: cbor.DupMapKeyEnforcedAPF}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// find returns where prop is, or belongs, in entries (sorted).
func find(entries []lwwNamed, prop string) (int, bool) {
	return slices.BinarySearchFunc(entries, prop, func(e lwwNamed, p string) int { return value.KeyOrder(e.name, p) })
}

func sortEntries(entries []lwwNamed) {
	slices.SortFunc(entries, func(a, b lwwNamed) int { return value.KeyOrder(a.name, b.name) })
}

// entriesOf returns a map of entries as a sorted slice (nil stays nil).
func entriesOf(m map[string]lwwEntry) []lwwNamed {
	if m == nil {
		return nil
	}
	out := make([]lwwNamed, 0, len(m))
	for name, e := range m {
		out = append(out, lwwNamed{name, e})
	}
	sortEntries(out)
	return out
}

// NewLWW returns an empty LWW backend.
func NewLWW() *LWW { return &LWW{entries: []lwwNamed{}} }

// LoadLWW restores an LWW backend from State's bytes (empty: a new backend).
func LoadLWW(state []byte) (*LWW, error) {
	l := NewLWW()
	if len(state) == 0 {
		return l, nil
	}
	if h, entries, ok := readLWWState(state); ok {
		l.height = h
		if entries != nil {
			l.entries = entries
		}
		return l, nil
	}
	var s lwwState
	if err := decMode.Unmarshal(state, &s); err != nil {
		return nil, fmt.Errorf("%w: lww state: %v", ErrInvalid, err)
	}
	l.height = s.Height
	if s.Entries != nil {
		l.entries = entriesOf(s.Entries)
	}
	return l, nil
}

// Name returns "lww".
func (l *LWW) Name() string { return LWWName }

// Fork returns an independent copy without pending edits.
func (l *LWW) Fork() Backend {
	return &LWW{height: l.height, entries: slices.Clone(l.entries)}
}

// Get returns the current value of a property (a pending local edit first).
func (l *LWW) Get(prop string) value.Value {
	if i := l.pendingIndex(prop); i >= 0 {
		return l.pending[i].v
	}
	if i, ok := find(l.entries, prop); ok {
		return l.entries[i].Value
	}
	return value.Null
}

// Set records a local edit of a property; it becomes an operation at commit.
func (l *LWW) Set(prop string, v value.Value) {
	if i := l.pendingIndex(prop); i >= 0 {
		l.pending[i].v = v
		return
	}
	l.pending = append(l.pending, setPair{prop, v})
	switch {
	case l.pendingAt != nil:
		l.pendingAt[prop] = len(l.pending) - 1
	case len(l.pending) > pendingSlice:
		l.pendingAt = make(map[string]int, 2*len(l.pending))
		for i, p := range l.pending {
			l.pendingAt[p.name] = i
		}
	}
}

// pendingSlice is the most pending edits an LWW searches without an index.
const pendingSlice = 16

// pendingIndex is the index of prop's pending edit, or -1.
func (l *LWW) pendingIndex(prop string) int {
	if l.pendingAt != nil {
		if i, ok := l.pendingAt[prop]; ok {
			return i
		}
		return -1
	}
	for i := range l.pending {
		if l.pending[i].name == prop {
			return i
		}
	}
	return -1
}

// TakeOperations returns the pending edits as one payload and clears them.
func (l *LWW) TakeOperations() ([]byte, error) {
	if len(l.pending) == 0 {
		return nil, nil
	}
	b, err := appendLWWOps(nil, l.height+1, l.pending)
	if err != nil {
		if l.pendingAt != nil { // sorted in place: index it again
			for i, p := range l.pending {
				l.pendingAt[p.name] = i
			}
		}
		return nil, err
	}
	l.pending, l.pendingAt = nil, nil
	return b, nil
}

// Apply applies an event's LWW payload: each property takes the written
// value when (height, event id) is greater than its current writer's.
func (l *LWW) Apply(ev id.EventID, ops []byte) error {
	var o decodedOps
	if c := &l.checked; c.raw != nil && c.ev == ev && len(c.raw) == len(ops) && &c.raw[0] == &ops[0] {
		o = c.ops
	} else {
		var err error
		if o, err = decodeLWWOps(ops); err != nil {
			return errLWWOps(ev, err)
		}
	}
	l.checked.raw, l.checked.ops = nil, decodedOps{}
	if o.Height == 0 {
		return fmt.Errorf("%w: lww operations of event %s: zero height", ErrInvalid, ev)
	}
	// New properties are appended and sorted in once at the end; a payload
	// names each property once, so the search covers the entries there
	// were before.
	n := len(l.entries)
	for k, w := range o.Set {
		i, ok := find(l.entries[:n], w.prop)
		if !ok {
			if len(l.entries) == n {
				// Room for the rest of the payload, once.
				l.entries = slices.Grow(l.entries, len(o.Set)-k)
			}
			l.entries = append(l.entries, lwwNamed{w.prop, lwwEntry{Value: w.v, Event: ev, Height: o.Height}})
			continue
		}
		if cur := &l.entries[i]; o.Height > cur.Height || (o.Height == cur.Height && bytes.Compare(ev[:], cur.Event[:]) > 0) {
			cur.lwwEntry = lwwEntry{Value: w.v, Event: ev, Height: o.Height}
		}
	}
	if len(l.entries) > n {
		sortEntries(l.entries)
	}
	l.height = max(l.height, o.Height)
	return nil
}

// State serializes the backend deterministically.
func (l *LWW) State() ([]byte, error) {
	size := 16
	for i := range l.entries {
		size += len(l.entries[i].name) + len(l.entries[i].Value.Raw()) + 64
	}
	return appendLWWState(make([]byte, 0, size), l.height, l.entries)
}

// Values returns the non-NULL property values (pending edits included).
func (l *LWW) Values() value.Fields {
	list := make([]value.Field, 0, len(l.entries)+len(l.pending))
	for _, e := range l.entries {
		if !e.Value.IsNull() {
			list = append(list, value.Field{Name: e.name, Value: e.Value})
		}
	}
	if len(l.pending) == 0 {
		if f, ok := value.SortedFields(list); ok {
			return f // entries are in KeyOrder
		}
		return value.MakeFields(list)
	}
	nulls := false
	for _, p := range l.pending {
		list = append(list, value.Field{Name: p.name, Value: p.v})
		nulls = nulls || p.v.IsNull()
	}
	f := value.MakeFields(list) // a later edit of a name wins
	if !nulls {
		return f
	}
	kept := make([]value.Field, 0, f.Len())
	for name, v := range f.All() {
		if !v.IsNull() {
			kept = append(kept, value.Field{Name: name, Value: v})
		}
	}
	sorted, _ := value.SortedFields(kept)
	return sorted
}

// Validate refuses payloads a well-behaved replica cannot produce: a height
// above one more than this state's (an event's height is one more than the
// greatest it had seen, and everything it had seen is here when the event is
// applied in causal order) — which would let a writer win every future
// conflict, or overflow — and writes to reserved properties (names beginning
// with "_") other than setting _deleted to true (a delete) or NULL (a
// restore).
func (l *LWW) Validate(ev id.EventID, ops []byte) error {
	o, err := decodeLWWOps(ops)
	if err != nil {
		return errLWWOps(ev, err)
	}
	if o.Height == 0 || o.Height > l.height+1 {
		return fmt.Errorf("%w: lww operations of event %s: height %d, this state allows at most %d", ErrInvalid, ev, o.Height, l.height+1)
	}
	for _, w := range o.Set {
		prop, v := w.prop, w.v
		if err := limits.ValidName(prop); err != nil {
			return fmt.Errorf("%w: lww operations of event %s: property %w", ErrInvalid, ev, err)
		}
		if prop[0] == '_' {
			// _deleted = true deletes; _deleted = NULL restores (a later
			// write of the tombstone, ordered like any other).
			if prop != entity.DeletedProperty || v != value.Bool(true) && !v.IsNull() {
				return fmt.Errorf("%w: lww operations of event %s: reserved property %q", ErrInvalid, ev, prop)
			}
		}
	}
	if len(ops) > 0 {
		l.checked.ev, l.checked.raw, l.checked.ops = ev, ops, o
	}
	return nil
}
