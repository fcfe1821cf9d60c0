package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// loadSharedBackends is loadBackends for a state whose bytes may be the
// engine's own (getStored): it decodes copies, since a backend may keep
// the bytes it was given.
func loadSharedBackends(st *entity.State) (backendSet, error) {
	c := entity.State{ID: st.ID, Collection: st.Collection, Backends: st.Backends.Clone()}
	return loadBackends(&c)
}

// loadBackends decodes every backend of a state (a set that is not nil,
// even when the state has none).
func loadBackends(st *entity.State) (backendSet, error) {
	out := make(backendSet, 0, len(st.Backends))
	for _, sb := range st.Backends {
		name, b := sb.Name, sb.State
		f, err := property.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("ankurah: entity %s: %w", st.ID, err)
		}
		be, err := f(b)
		if err != nil {
			return nil, fmt.Errorf("ankurah: entity %s backend %q: %w", st.ID, name, err)
		}
		out.put(name, be)
	}
	return out, nil
}

// checkBackends reports whether every backend of st loads (what loadBackends
// would refuse, with the same error), without building them where the
// backend can tell (property.CheckState): a state received from a peer is
// checked before it is stored, and its backends are decoded only when edited.
func checkBackends(st *entity.State) error {
	for _, sb := range st.Backends {
		name := sb.Name
		if err := property.CheckState(name, sb.State); err != nil {
			if errors.Is(err, property.ErrUnknownBackend) {
				return fmt.Errorf("ankurah: entity %s: %w", st.ID, err)
			}
			return fmt.Errorf("ankurah: entity %s backend %q: %w", st.ID, name, err)
		}
	}
	return nil
}

// backendSet is an entity's decoded backends by name, in name order. An
// entity has one or two (LWW, and a datatype's), so a short slice does in
// one allocation and a few string compares what a map does in two and a
// hash.
type backendSet []namedBackend

// namedBackend is one backend of a backendSet.
type namedBackend struct {
	name string
	b    property.Backend
}

// get returns the named backend of s.
func (s backendSet) get(name string) (property.Backend, bool) {
	for i := range s {
		if s[i].name == name {
			return s[i].b, true
		}
	}
	return nil, false
}

// put sets the named backend of s, keeping s in name order.
func (s *backendSet) put(name string, b property.Backend) {
	i, found := slices.BinarySearchFunc(*s, name, func(nb namedBackend, n string) int { return strings.Compare(nb.name, n) })
	if found {
		(*s)[i].b = b
		return
	}
	*s = slices.Insert(*s, i, namedBackend{name: name, b: b})
}

// backendFor returns the named backend of a set, creating an empty one.
func backendFor(bs *backendSet, name string) (property.Backend, error) {
	if b, ok := bs.get(name); ok {
		return b, nil
	}
	f, err := property.Lookup(name)
	if err != nil {
		return nil, err
	}
	b, err := f(nil)
	if err != nil {
		return nil, err
	}
	bs.put(name, b)
	return b, nil
}

// materialize writes the backends' states and values into st.
func materialize(st *entity.State, bs backendSet) error {
	st.Backends = make(entity.Backends, 0, len(bs))
	if len(bs) == 1 {
		// The common case: the one backend's values are the state's.
		s, err := bs[0].b.State()
		if err != nil {
			return fmt.Errorf("ankurah: entity %s backend %q state: %w", st.ID, bs[0].name, err)
		}
		st.Backends = append(st.Backends, entity.Backend{Name: bs[0].name, State: s})
		st.Values = bs[0].b.Values()
		return nil
	}
	// bs is in name order: a later backend's value of a property wins, as
	// it did when the names were sorted here.
	var vals value.Fields
	for _, nb := range bs {
		b, err := nb.b.State()
		if err != nil {
			return fmt.Errorf("ankurah: entity %s backend %q state: %w", st.ID, nb.name, err)
		}
		st.Backends = append(st.Backends, entity.Backend{Name: nb.name, State: b})
		vals = vals.Merge(nb.b.Values())
	}
	// bs is in bytewise name order; a state's backends are in their
	// encoding's.
	slices.SortFunc(st.Backends, func(a, b entity.Backend) int { return value.KeyOrder(a.Name, b.Name) })
	st.Values = vals
	return nil
}

// applyEvent returns the state after applying ev to cur (nil for an entity
// not yet stored). It does not decide whether ev belongs on cur; callers
// relate ev to cur's head first.
func applyEvent(cur *entity.State, ev *event.Event) (entity.State, error) {
	next, _, err := applyEventTo(cur, nil, ev)
	return next, err
}

// applyEventTo is applyEvent on bs, the backends of cur already decoded
// (nil: decode them from cur). It applies ev to them in place and returns
// them, now the backends of the new state.
func applyEventTo(cur *entity.State, bs backendSet, ev *event.Event) (entity.State, backendSet, error) {
	// next gets a new head (Advance) and new maps (materialize), so it
	// shares nothing with cur, which is only read.
	var next entity.State
	if cur != nil {
		next = entity.State{ID: cur.ID, Collection: cur.Collection, Head: cur.Head}
	} else {
		next = entity.State{ID: ev.Entity, Collection: ev.Collection}
	}
	if bs == nil && cur != nil {
		var err error
		if bs, err = loadSharedBackends(cur); err != nil {
			return next, nil, err
		}
	} else if bs == nil {
		bs = backendSet{}
	}
	evID := ev.ID()
	// Most events name one backend: the sorted names fit an array on the
	// stack.
	var nameBuf [4]string
	names := nameBuf[:0]
	for name := range ev.Operations {
		names = append(names, name)
	}
	slices.Sort(names)
	// Check every payload before applying any, so a refused event leaves bs untouched.
	for _, name := range names {
		b, err := backendFor(&bs, name)
		if err != nil {
			return next, nil, fmt.Errorf("ankurah: event %s: %w", evID, err)
		}
		if v, ok := b.(property.Validator); ok {
			if err := v.Validate(evID, ev.Operations[name]); err != nil {
				return next, nil, fmt.Errorf("ankurah: event %s refused: %w", evID, err)
			}
		}
	}
	for _, name := range names {
		b, err := backendFor(&bs, name)
		if err != nil {
			return next, nil, fmt.Errorf("ankurah: event %s: %w", evID, err)
		}
		if err := b.Apply(evID, ev.Operations[name]); err != nil {
			return next, nil, fmt.Errorf("ankurah: event %s: %w", evID, err)
		}
	}
	next.Head = next.Head.Advance(evID, ev.Parent)
	if err := materialize(&next, bs); err != nil {
		return next, nil, err
	}
	return next, bs, nil
}

// stagedSource serves events from a batch being built before the stored ones.
type stagedSource struct {
	coll   storage.Collection
	staged map[id.EventID]event.Event
}

func (s stagedSource) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	var out []event.Event
	var rest []id.EventID
	for _, i := range ids {
		if e, ok := s.staged[i]; ok {
			out = append(out, e)
		} else {
			rest = append(rest, i)
		}
	}
	if len(rest) > 0 {
		got, err := s.coll.GetEvents(ctx, rest)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// relate decides how an incoming event stands to the stored state: whether
// it must be applied (true) or is already part of the state's history.
func (n *Node) relate(ctx context.Context, src stagedSource, cur *entity.State, ev *event.Event) (bool, error) {
	var head event.Clock
	if cur != nil {
		head = cur.Head
	}
	if len(head) > 0 && ev.Parent.Equal(head) {
		return true, nil
	}
	c, err := event.CompareEvent(ctx, src, ev, head, n.cfg.budget)
	if err != nil {
		return false, err
	}
	switch c.Relation {
	case event.StrictDescends, event.DivergedSince:
		return true, nil
	case event.Equal, event.StrictAscends:
		return false, nil
	}
	if cur == nil && !ev.IsGenesis() {
		return false, fmt.Errorf("%w: event %s for entity %s, which is not stored here", event.ErrMissingParent, ev.ID(), ev.Entity)
	}
	return false, fmt.Errorf("%w: event %s does not belong to entity %s", event.ErrInvalid, ev.ID(), ev.Entity)
}
