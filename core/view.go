package core

import (
	"bytes"
	"slices"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// View is a read-only snapshot of an entity.
type View struct {
	state entity.State
}

func newView(st entity.State) *View { return &View{state: st} }

// ID returns the entity's id.
func (v *View) ID() id.EntityID { return v.state.ID }

// Collection returns the entity's collection.
func (v *View) Collection() string { return v.state.Collection }

// Head returns the entity's head clock as of this snapshot.
func (v *View) Head() event.Clock { return slices.Clone(v.state.Head) }

// Get returns a property value (NULL when absent).
func (v *View) Get(prop string) value.Value { return v.state.Values.Get(prop) }

// Values returns a copy of all property values (reserved properties excluded).
func (v *View) Values() map[string]value.Value {
	out := v.state.Values.Map()
	delete(out, entity.DeletedProperty)
	return out
}

// Fields returns all property values in name order, reserved properties
// included (they begin with "_"). They are shared, not copied: Fields are
// immutable.
func (v *View) Fields() value.Fields { return v.state.Values }

// Deleted reports whether the snapshot is of a deleted entity.
func (v *View) Deleted() bool { return v.state.Deleted() }

// State returns a copy of the snapshot's stored form.
func (v *View) State() entity.State { return v.state.Clone() }

// Handle returns a read-only handle on a property, for typed datatypes.
func (v *View) Handle(prop string) property.Handle { return viewHandle{v: v, prop: prop} }

type viewHandle struct {
	v    *View
	prop string
}

func (h viewHandle) Property() string { return h.prop }
func (h viewHandle) Writable() bool   { return false }
func (h viewHandle) Backend(name string) (property.Backend, error) {
	f, err := property.Lookup(name)
	if err != nil {
		return nil, err
	}
	// A copy: the snapshot's bytes may be the engine's own, and a backend
	// may keep (and change) the bytes it was given.
	b, _ := h.v.state.Backends.Get(name)
	return f(bytes.Clone(b))
}
