// Package counter is a fake plugin datatype for ankurah-gen's tests: a
// counter implementing property.Typed. It keeps its value in the LWW backend
// under its own property, so it runs without registering a backend, and the
// generator knows nothing about it beyond its method signatures.
package counter

import (
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// Counter is the model field type.
type Counter struct{}

// AnkurahBackend names the backend that stores a Counter.
func (Counter) AnkurahBackend() string { return property.LWWName }

// AnkurahMut returns the writable handle.
func (Counter) AnkurahMut(h property.Handle) *Mut { return &Mut{h: h} }

// AnkurahView returns the read-only handle.
func (Counter) AnkurahView(h property.Handle) View { return View{h: h} }

// Mut edits a counter in a transaction.
type Mut struct{ h property.Handle }

// Add adds n to the counter.
func (m *Mut) Add(n int64) error {
	if !m.h.Writable() {
		return property.ErrReadOnly
	}
	l, err := lww(m.h)
	if err != nil {
		return err
	}
	cur, _ := l.Values().Get(m.h.Property()).AsInt()
	l.Set(m.h.Property(), value.Int(cur+n))
	return nil
}

// Value returns the counter as the transaction sees it.
func (m *Mut) Value() int64 { return read(m.h) }

// View reads a counter.
type View struct{ h property.Handle }

// Value returns the counter.
func (v View) Value() int64 { return read(v.h) }

func lww(h property.Handle) (*property.LWW, error) {
	b, err := h.Backend(property.LWWName)
	if err != nil {
		return nil, err
	}
	return b.(*property.LWW), nil
}

func read(h property.Handle) int64 {
	l, err := lww(h)
	if err != nil {
		return 0
	}
	n, _ := l.Values().Get(h.Property()).AsInt()
	return n
}
