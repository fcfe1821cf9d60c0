package storage

import (
	"fmt"

	"github.com/ankurah/ankurah-go/core/id"
)

// NotFound returns the error GetState reports for an entity not stored in
// collection: it wraps ErrNotFound and names both. Its text is made only
// when asked for, so a lookup that expects a miss (a commit creating
// thousands of entities looks each one up) costs one small allocation.
func NotFound(collection string, eid id.EntityID) error {
	return &notFoundError{collection: collection, eid: eid}
}

type notFoundError struct {
	collection string
	eid        id.EntityID
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("%v: %s in %q", ErrNotFound, e.eid, e.collection)
}

func (e *notFoundError) Unwrap() error { return ErrNotFound }
