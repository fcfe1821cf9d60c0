package property_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// lwwSeeds are an LWW state and an operations payload, as a replica writes them.
func lwwSeeds(f *testing.F) (state, ops []byte) {
	l := property.NewLWW()
	l.Set("name", value.String("Showbiz"))
	l.Set("year", value.Int(1999))
	l.Set("score", value.Float(0.5))
	l.Set("cover", value.Bytes([]byte{1, 2}))
	l.Set("_deleted", value.Bool(true))
	ops, err := l.TakeOperations()
	if err != nil {
		f.Fatal(err)
	}
	if err := l.Apply(id.EventID{7}, ops); err != nil {
		f.Fatal(err)
	}
	state, err = l.State()
	if err != nil {
		f.Fatal(err)
	}
	return state, ops
}

// FuzzLoadLWW: an LWW state read from storage or a peer's entity state is
// refused with an error wrapping ErrInvalid, or it loads into a backend
// whose State decodes again to the same bytes and whose values survive.
func FuzzLoadLWW(f *testing.F) {
	state, _ := lwwSeeds(f)
	f.Add(state)
	f.Add([]byte{})
	f.Add([]byte{0xa2, 0x01, 0x01, 0x02, 0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := property.LoadLWW(b)
		if err != nil {
			if !errors.Is(err, property.ErrInvalid) {
				t.Fatalf("LoadLWW error %v does not wrap ErrInvalid", err)
			}
			return
		}
		enc, err := l.State()
		if err != nil {
			t.Fatalf("loaded state does not encode: %v", err)
		}
		back, err := property.LoadLWW(enc)
		if err != nil {
			t.Fatalf("re-load: %v", err)
		}
		again, _ := back.State()
		if !bytes.Equal(enc, again) {
			t.Fatalf("load∘State not stable: %x vs %x", enc, again)
		}
		vals, backVals := l.Values(), back.Values()
		if vals.Len() != backVals.Len() {
			t.Fatalf("values %v became %v", vals, backVals)
		}
		for k, v := range vals.All() {
			if !value.Equal(v, backVals.Get(k)) {
				t.Fatalf("value %q: %v became %v", k, v, backVals.Get(k))
			}
		}
	})
}

// FuzzLWWOperations: an event's LWW payload from a peer is checked
// (Validate) and applied (Apply) without panicking; junk is refused with an
// error wrapping ErrInvalid by both; a payload Validate accepts applies, and
// the state afterwards still round-trips.
func FuzzLWWOperations(f *testing.F) {
	state, ops := lwwSeeds(f)
	f.Add(state, ops)
	f.Add([]byte{}, ops)
	f.Add(state, []byte{0xa1, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, state, ops []byte) {
		l, err := property.LoadLWW(state)
		if err != nil {
			return
		}
		ev := id.EventID{9}
		verr := l.Validate(ev, ops)
		if verr != nil && !errors.Is(verr, property.ErrInvalid) {
			t.Fatalf("Validate error %v does not wrap ErrInvalid", verr)
		}
		if err := l.Apply(ev, ops); err != nil {
			if !errors.Is(err, property.ErrInvalid) {
				t.Fatalf("Apply error %v does not wrap ErrInvalid", err)
			}
			if verr == nil {
				t.Fatalf("Validate accepted what Apply refuses: %v", err)
			}
			return
		}
		enc, err := l.State()
		if err != nil {
			t.Fatalf("state after Apply does not encode: %v", err)
		}
		if _, err := property.LoadLWW(enc); err != nil {
			t.Fatalf("state after Apply does not load: %v", err)
		}
	})
}
