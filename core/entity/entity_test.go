package entity_test

import (
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

func sample() entity.State {
	return entity.State{
		ID:         id.EntityID{1},
		Collection: "album",
		Head:       event.NewClock(id.EventID{2}, id.EventID{3}),
		Backends:   entity.BackendsOf(map[string][]byte{"lww": {1, 2, 3}}),
		Values:     value.FieldsOf(map[string]value.Value{"name": value.String("Showbiz"), "year": value.Int(1999), entity.DeletedProperty: value.Bool(true)}),
	}
}

func TestState_RoundTripAndDeleted(t *testing.T) {
	s := sample()
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := entity.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := back.Encode()
	if string(b) != string(b2) {
		t.Fatal("re-encoding differs")
	}
	if !back.Deleted() || back.Value("year") != value.Int(1999) {
		t.Fatalf("decoded %+v", back)
	}
	c := back.Clone()
	c.Values = c.Values.With("name", value.String("x"))
	c.Backends.StateOf("lww")[0] = 9
	if back.Values.Get("name") != value.String("Showbiz") || back.Backends.StateOf("lww")[0] != 1 {
		t.Fatal("Clone shares maps with the original")
	}
}

func TestDecode_RefusesBadState(t *testing.T) {
	if _, err := entity.Decode([]byte{0xff}); !errors.Is(err, entity.ErrInvalid) {
		t.Errorf("garbage: %v", err)
	}
	s := sample()
	s.Head = event.Clock{{3}, {2}}
	b, _ := s.Encode()
	if _, err := entity.Decode(b); !errors.Is(err, entity.ErrInvalid) {
		t.Errorf("unsorted head: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	s := sample()
	b, _ := s.Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := entity.Decode(b)
		if err != nil {
			return
		}
		enc, err := st.Encode()
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		if _, err := entity.Decode(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
