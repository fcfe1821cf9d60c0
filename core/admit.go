package core

import (
	"fmt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/limits"
)

// admitEvent checks an event against the node's limits before anything is
// applied: names, parents, encoded size. Every event entering the node —
// from a local transaction or from the wire — passes here, so whatever the
// node stores it can read back and send.
func (n *Node) admitEvent(ev *event.Event) error {
	l := &n.cfg.limits
	if err := ValidateName(ev.Collection); err != nil {
		return fmt.Errorf("ankurah: event for entity %s: collection %w", ev.Entity, err)
	}
	if len(ev.Parent) > l.MaxParents {
		return limits.Exceeded("max-parents", l.MaxParents, len(ev.Parent), fmt.Sprintf("event for entity %s: parents", ev.Entity))
	}
	size := 0
	for name, ops := range ev.Operations {
		if err := ValidateName(name); err != nil {
			return fmt.Errorf("ankurah: event for entity %s: backend %w", ev.Entity, err)
		}
		size += len(name) + len(ops) + 8
	}
	if size > l.MaxEventBytes {
		return limits.Exceeded("max-event-bytes", l.MaxEventBytes, size, fmt.Sprintf("event for entity %s: operations (bytes)", ev.Entity))
	}
	return nil
}

// admitState checks an entity's state after a change against the node's
// limits: properties and encoded size. A commit that would leave a state
// beyond them is refused whole, so no entity can grow into one that readers
// cannot decode.
func (n *Node) admitState(st *entity.State) error {
	l := &n.cfg.limits
	if st.Values.Len() > l.MaxProperties {
		return limits.Exceeded("max-properties", l.MaxProperties, st.Values.Len(), fmt.Sprintf("entity %s in %q: properties", st.ID, st.Collection))
	}
	size := estimateFixedSize(st)
	for name, v := range st.Values.All() {
		// Every datatype's names, not only LWW's: a text root type, say.
		if err := ValidateName(name); err != nil {
			return fmt.Errorf("ankurah: entity %s in %q: property %w", st.ID, st.Collection, err)
		}
		size += len(name) + len(v.Raw()) + 20 // estimateStateSize, in the same pass
	}
	if size > l.MaxStateBytes/2 {
		// Close to the limit: measure exactly.
		b, err := st.Encode()
		if err != nil {
			return fmt.Errorf("ankurah: entity %s: encode state: %w", st.ID, err)
		}
		if len(b) > l.MaxStateBytes {
			return limits.Exceeded("max-state-bytes", l.MaxStateBytes, len(b), fmt.Sprintf("entity %s in %q: encoded state (bytes)", st.ID, st.Collection))
		}
	}
	return nil
}

// estimateFixedSize is estimateStateSize without the values.
func estimateFixedSize(st *entity.State) int {
	size := 64 + len(st.Collection) + 34*len(st.Head)
	for _, b := range st.Backends {
		size += len(b.Name) + len(b.State) + 10
	}
	return size
}

// estimateStateSize is an upper estimate of a state's encoded size.
func estimateStateSize(st *entity.State) int {
	size := estimateFixedSize(st)
	for name, v := range st.Values.All() {
		size += len(name) + len(v.Raw()) + 20
	}
	return size
}
