// Package property defines Backend, the datatype that owns some of an
// entity's properties, the registry of backends, and the built-in
// last-writer-wins backend (LWW).
//
// A backend forks (for a transaction), turns local edits into an operation
// payload, applies payloads carried by events (its own and other nodes'),
// serializes its state, and materializes property values for queries.
// Applying the same set of events in any order must give the same state.
package property

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// Errors of this package, tested with errors.Is.
var (
	// ErrUnknownBackend: no backend is registered under that name.
	ErrUnknownBackend = errors.New("property: unknown backend")
	// ErrInvalid: an operation payload or a state a backend cannot decode.
	ErrInvalid = errors.New("property: invalid")
	// ErrReadOnly: a mutation through a read-only handle (a view, or a
	// transaction that has ended).
	ErrReadOnly = errors.New("property: read-only")
)

// Backend is one datatype's state for one entity.
type Backend interface {
	// Name is the name the backend is registered under.
	Name() string
	// Fork returns an independent copy for a transaction.
	Fork() Backend
	// TakeOperations returns the pending local edits as one payload (nil when
	// there are none) and clears them.
	TakeOperations() ([]byte, error)
	// Apply applies an event's payload for this backend. Applying a payload
	// twice, or payloads in a different order, gives the same state.
	Apply(ev id.EventID, ops []byte) error
	// State serializes the backend; equal states serialize to equal bytes.
	// The bytes are the caller's: the backend neither keeps nor modifies
	// them afterwards (storage may keep them as they are).
	State() ([]byte, error)
	// Values returns the property values the backend materializes. The
	// caller keeps them (a state's values may be them); Fields are
	// immutable, so the backend may keep sharing their backing array.
	Values() value.Fields
}

// Factory makes a backend from a serialized state (nil or empty: a new,
// empty backend). It never modifies state, which may be storage's own.
type Factory func(state []byte) (Backend, error)

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a backend available under name. It panics if the name is
// taken, like database/sql.Register.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("property: Register called twice for backend " + name)
	}
	registry[name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, error) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownBackend, name)
	}
	return f, nil
}

// Backends returns the names of the registered backends, sorted.
func Backends() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Handle binds one property of one entity to the backends of that entity,
// inside a transaction (writable) or a view (read-only). Typed field handles
// made by plugins (text.Text's handle, say) are built on it.
type Handle interface {
	// Property is the property's name.
	Property() string
	// Backend returns the entity's backend of that name, creating an empty
	// one if the entity has none yet.
	Backend(name string) (Backend, error)
	// Writable reports whether mutations through this handle are allowed.
	Writable() bool
}

// Typed is implemented by model field types that a plugin datatype provides
// (text.Text, say). The generator recognizes them statically: a field whose
// type implements Typed is owned by the backend AnkurahBackend names, and the
// generated Mut and View expose the handle types returned by the type's
// methods
//
//	AnkurahMut(property.Handle) M
//	AnkurahView(property.Handle) V
//
// so the generator never links the plugin.
type Typed interface {
	AnkurahBackend() string
}

// Validator is a Backend that checks an event's payload against its current
// state before the payload is applied to stored data. The node calls it for
// every event it applies to a stored state, in causal order.
type Validator interface {
	Validate(ev id.EventID, ops []byte) error
}
