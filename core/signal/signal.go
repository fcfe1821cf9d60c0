// Package signal provides reactive values: Signal[T] is read with Get and
// observed with Subscribe; Mutable[T] is a signal you set; Computed derives a
// signal from others. Entity views and live queries expose signals, and the
// React binding wraps them with useSyncExternalStore.
//
// Subscribers are called synchronously, in subscription order, by whoever
// changed the value, outside the signal's lock; each call sees the value as of
// its change. All types are safe for concurrent use.
package signal

import (
	"sync"
)

// Signal is a value that changes over time.
type Signal[T any] interface {
	// Get returns the current value.
	Get() T
	// Subscribe calls f after every change until the returned function is called.
	Subscribe(f func(T)) (unsubscribe func())
}

// Mutable is a Signal whose value is set directly.
type Mutable[T any] struct {
	mu     sync.Mutex
	notify sync.Mutex // serializes notifications so subscribers see changes in order
	val    T
	subs   []*sub[T]
}

type sub[T any] struct{ f func(T) }

// New returns a Mutable holding v.
func New[T any](v T) *Mutable[T] { return &Mutable[T]{val: v} }

// Get returns the current value.
func (m *Mutable[T]) Get() T {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.val
}

// Set stores v and notifies the subscribers.
func (m *Mutable[T]) Set(v T) {
	m.notify.Lock()
	defer m.notify.Unlock()
	m.mu.Lock()
	m.val = v
	subs := append([]*sub[T](nil), m.subs...)
	m.mu.Unlock()
	for _, s := range subs {
		s.f(v)
	}
}

// SetQuiet stores v only if that notifies nobody — no subscriber, no
// notification under way — and reports whether it did. A caller that must
// not run subscribers where it stands (under a lock) sets the value with
// SetQuiet and hands it to a goroutine of its own to Set when it cannot.
func (m *Mutable[T]) SetQuiet(v T) bool {
	if !m.notify.TryLock() {
		return false
	}
	defer m.notify.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.subs) > 0 {
		return false
	}
	m.val = v
	return true
}

// Update sets the value to f(current) atomically with respect to other updates.
func (m *Mutable[T]) Update(f func(T) T) {
	m.notify.Lock()
	defer m.notify.Unlock()
	m.mu.Lock()
	v := f(m.val)
	m.val = v
	subs := append([]*sub[T](nil), m.subs...)
	m.mu.Unlock()
	for _, s := range subs {
		s.f(v)
	}
}

// Subscribe calls f after every change until unsubscribe is called.
func (m *Mutable[T]) Subscribe(f func(T)) func() {
	s := &sub[T]{f: f}
	m.mu.Lock()
	m.subs = append(m.subs, s)
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			for i, x := range m.subs {
				if x == s {
					m.subs = append(m.subs[:i:i], m.subs[i+1:]...)
					break
				}
			}
		})
	}
}

// Computed is a signal derived from a source signal by a function. It
// recomputes when the source changes, and notifies its own subscribers.
type Computed[S, T any] struct {
	src Signal[S]
	f   func(S) T
}

// Map returns a signal whose value is f of src's value.
func Map[S, T any](src Signal[S], f func(S) T) *Computed[S, T] {
	return &Computed[S, T]{src: src, f: f}
}

// Get returns f of the source's current value.
func (c *Computed[S, T]) Get() T { return c.f(c.src.Get()) }

// Subscribe calls fn with f of every new source value.
func (c *Computed[S, T]) Subscribe(fn func(T)) func() {
	return c.src.Subscribe(func(s S) { fn(c.f(s)) })
}

// Combine returns a signal computed from two sources; it changes when either does.
func Combine[A, B, T any](a Signal[A], b Signal[B], f func(A, B) T) Signal[T] {
	return &combined[A, B, T]{a: a, b: b, f: f}
}

type combined[A, B, T any] struct {
	a Signal[A]
	b Signal[B]
	f func(A, B) T
}

func (c *combined[A, B, T]) Get() T { return c.f(c.a.Get(), c.b.Get()) }

func (c *combined[A, B, T]) Subscribe(fn func(T)) func() {
	u1 := c.a.Subscribe(func(A) { fn(c.Get()) })
	u2 := c.b.Subscribe(func(B) { fn(c.Get()) })
	return func() { u1(); u2() }
}
