package core

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// Ref is a typed reference to an entity of the model T: a model field of
// type Ref[T] stores the referenced entity's id (a value of kind ref). The
// zero Ref refers to nothing and is stored as NULL. A Ref does not keep its
// entity alive: reading one whose entity is missing or deleted fails with
// storage.ErrNotFound, and a query path through it reads NULL. Ref is a
// small comparable value, safe to copy and to use from any goroutine.
type Ref[T any] struct{ eid id.EntityID }

// RefTo returns a reference to the entity eid (the zero Ref when eid is zero).
func RefTo[T any](eid id.EntityID) Ref[T] { return Ref[T]{eid: eid} }

// RefFromValue reads a stored property value as a reference: the zero Ref
// when v is NULL or not of kind ref.
func RefFromValue[T any](v value.Value) Ref[T] {
	eid, _ := v.AsRef()
	return Ref[T]{eid: eid}
}

// ID returns the referenced entity's id (zero for the zero Ref).
func (r Ref[T]) ID() id.EntityID { return r.eid }

// IsZero reports whether r refers to nothing.
func (r Ref[T]) IsZero() bool { return r.eid.IsZero() }

// Value returns r as a property value: a ref, or NULL for the zero Ref.
func (r Ref[T]) Value() value.Value {
	if r.eid.IsZero() {
		return value.Null
	}
	return value.Ref(r.eid)
}

// String returns the referenced id's text form ("" for the zero Ref).
func (r Ref[T]) String() string {
	if r.eid.IsZero() {
		return ""
	}
	return r.eid.String()
}

// RefView is a ref property read from a snapshot: the reference, and the
// typed read of the entity it names. V is the generated view type of T
// (ankurah-gen makes `v.Artist()` return a RefView[Artist, *ArtistView]).
type RefView[T, V any] struct {
	ref        Ref[T]
	collection string
	wrap       func(*View) V
}

// NewRefView returns the read handle of ref, which names an entity of
// collection; wrap makes the typed view of what Get reads. Generated code
// calls it.
func NewRefView[T, V any](ref Ref[T], collection string, wrap func(*View) V) RefView[T, V] {
	return RefView[T, V]{ref: ref, collection: collection, wrap: wrap}
}

// Ref returns the reference.
func (h RefView[T, V]) Ref() Ref[T] { return h.ref }

// ID returns the referenced entity's id (zero when the property is unset).
func (h RefView[T, V]) ID() id.EntityID { return h.ref.eid }

// IsZero reports whether the property refers to nothing.
func (h RefView[T, V]) IsZero() bool { return h.ref.IsZero() }

// Get reads the referenced entity as caller c. A zero ref, and a ref to an
// entity that is missing, deleted or may not be read, is an error wrapping
// storage.ErrNotFound.
func (h RefView[T, V]) Get(ctx context.Context, c *Context) (V, error) {
	var zero V
	if h.ref.IsZero() {
		return zero, fmt.Errorf("%w: the %q reference is not set", storage.ErrNotFound, h.collection)
	}
	v, err := c.Get(ctx, h.collection, h.ref.eid)
	if err != nil {
		return zero, err
	}
	return h.wrap(v), nil
}
