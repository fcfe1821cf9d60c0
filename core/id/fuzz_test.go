package id_test

import (
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
)

// FuzzParse: the text forms of ids arrive in URLs, JSON and dump files. Each
// parser refuses junk with an error wrapping ErrInvalid, or returns an id
// whose String parses back to the same id.
func FuzzParse(f *testing.F) {
	f.Add(id.EntityID{1, 2, 3}.String())
	f.Add(id.EventID{255}.String())
	f.Add("01ARZ3NDEKTSV4RRFFQ69G5FAV")
	f.Add("AAAA")
	f.Add("////")
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := id.ParseEntityID(s); err != nil {
			if !errors.Is(err, id.ErrInvalid) {
				t.Fatalf("ParseEntityID(%q) error %v does not wrap ErrInvalid", s, err)
			}
		} else if back, err := id.ParseEntityID(e.String()); err != nil || back != e {
			t.Fatalf("entity id %q -> %v -> %v, %v", s, e, back, err)
		}
		if e, err := id.ParseEventID(s); err != nil {
			if !errors.Is(err, id.ErrInvalid) {
				t.Fatalf("ParseEventID(%q) error %v does not wrap ErrInvalid", s, err)
			}
		} else if back, err := id.ParseEventID(e.String()); err != nil || back != e {
			t.Fatalf("event id %q -> %v -> %v, %v", s, e, back, err)
		}
		if u, err := id.ParseULID(s); err != nil {
			if !errors.Is(err, id.ErrInvalid) {
				t.Fatalf("ParseULID(%q) error %v does not wrap ErrInvalid", s, err)
			}
		} else if back, err := id.ParseULID(u.String()); err != nil || back != u {
			t.Fatalf("ulid %q -> %v -> %v, %v", s, u, back, err)
		}
	})
}
