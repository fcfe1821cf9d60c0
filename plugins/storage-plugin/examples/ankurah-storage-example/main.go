// Command ankurah-storage-example is the smallest complete storage plugin:
// a map in memory behind a mutex, written from scratch against the
// storage contract. It pushes nothing down — FetchStates returns every
// state of the collection and declares itself candidates-only, so the host
// filters, sorts and limits — and it passes the whole conformance suite:
//
//	go build -o ankurah-storage-example ./examples/ankurah-storage-example
//	ankurah-conformance storage --plugin ./ankurah-storage-example
//
// docs/storage-plugin-protocol.md walks through it.
package main

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

type stateKey struct {
	coll string
	id   id.EntityID
}

type eventKey struct {
	coll string
	id   id.EventID
}

// engine keeps everything in maps. Stored values are deep copies, so
// nothing a caller does to a batch or a result changes what is stored.
type engine struct {
	mu     sync.RWMutex
	closed bool
	states map[stateKey]entity.State
	events map[eventKey]event.Event
}

// FetchStatesCandidatesOnly tells the host to finish every selection
// (storageplugin.CandidatesOnly).
func (*engine) FetchStatesCandidatesOnly() bool { return true }

func (e *engine) Collection(_ context.Context, name string) (storage.Collection, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty collection name", storage.ErrInvalid)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	return &collection{e: e, name: name}, nil
}

func (e *engine) Apply(_ context.Context, b *storage.Batch) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	// Check every expected head before writing anything: all or nothing. A
	// batch that writes an entity twice expects its own earlier write.
	heads := map[stateKey]event.Clock{}
	for _, w := range b.States {
		if w.State.Collection == "" {
			return fmt.Errorf("%w: state %s without collection", storage.ErrInvalid, w.State.ID)
		}
		k := stateKey{w.State.Collection, w.State.ID}
		head, stored := heads[k]
		if !stored {
			var s entity.State
			s, stored = e.states[k]
			head = s.Head
		}
		if !stored && len(w.Expected) > 0 || stored && !head.Equal(w.Expected) {
			return fmt.Errorf("%w: %s has head %v, batch expected %v", storage.ErrConflict, w.State.ID, head, w.Expected)
		}
		heads[k] = w.State.Head
	}
	for _, ev := range b.Events {
		k := eventKey{ev.Collection, ev.ID()}
		if _, dup := e.events[k]; !dup { // a stored event is a no-op
			e.events[k] = cloneEvent(ev)
		}
	}
	for _, w := range b.States {
		e.states[stateKey{w.State.Collection, w.State.ID}] = w.State.Clone()
	}
	return nil
}

func (e *engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	e.closed, e.states, e.events = true, nil, nil
	return nil
}

type collection struct {
	e    *engine
	name string
}

func (c *collection) Name() string { return c.name }

// read runs f under the read lock, failing once the engine is closed.
func (c *collection) read(f func() error) error {
	c.e.mu.RLock()
	defer c.e.mu.RUnlock()
	if c.e.closed {
		return storage.ErrClosed
	}
	return f()
}

func (c *collection) GetState(_ context.Context, eid id.EntityID) (s entity.State, err error) {
	err = c.read(func() error {
		st, ok := c.e.states[stateKey{c.name, eid}]
		if !ok {
			return fmt.Errorf("%w: %s in %q", storage.ErrNotFound, eid, c.name)
		}
		s = st.Clone()
		return nil
	})
	return s, err
}

// FetchStates returns every state of the collection: candidates only.
func (c *collection) FetchStates(context.Context, *query.Bound) (out []entity.State, err error) {
	err = c.read(func() error {
		for k, s := range c.e.states {
			if k.coll == c.name {
				out = append(out, s.Clone())
			}
		}
		return nil
	})
	return out, err
}

func (c *collection) GetEvents(_ context.Context, ids []id.EventID) (out []event.Event, err error) {
	err = c.read(func() error {
		for _, eid := range ids {
			if ev, ok := c.e.events[eventKey{c.name, eid}]; ok {
				out = append(out, cloneEvent(ev))
			}
		}
		return nil
	})
	return out, err
}

func (c *collection) EntityEvents(_ context.Context, eid id.EntityID) (out []event.Event, err error) {
	err = c.read(func() error {
		for k, ev := range c.e.events {
			if k.coll == c.name && ev.Entity == eid {
				out = append(out, cloneEvent(ev))
			}
		}
		return nil
	})
	return out, err
}

func cloneEvent(ev event.Event) event.Event {
	c := ev
	c.Parent = slices.Clone(ev.Parent)
	c.Nonce = slices.Clone(ev.Nonce)
	c.Operations = make(map[string][]byte, len(ev.Operations))
	for k, v := range ev.Operations {
		c.Operations[k] = slices.Clone(v)
	}
	return c
}

func main() {
	storageplugin.Serve(&engine{states: map[stateKey]entity.State{}, events: map[eventKey]event.Event{}})
}
