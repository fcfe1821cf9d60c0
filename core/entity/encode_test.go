package entity_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// stateFrom builds a state from fuzz bytes: any id, collection and keys
// (UTF-8 or not), nil and empty heads, maps and buffers, and values of every
// kind.
func stateFrom(b []byte) entity.State {
	next := func(n int) []byte {
		n = min(n, len(b))
		out := b[:n]
		b = b[n:]
		return out
	}
	num := func() int {
		if x := next(1); len(x) == 1 {
			return int(x[0])
		}
		return 0
	}
	str := func() string { return string(next(num() % 40)) }
	var s entity.State
	copy(s.ID[:], next(id.Size))
	s.Collection = str()
	if k := num(); k%5 != 0 {
		s.Head = make(event.Clock, k%5-1)
		for i := range s.Head {
			copy(s.Head[i][:], next(id.Size))
		}
	}
	if k := num(); k%6 != 0 {
		s.Backends = entity.Backends{}
		for range k%6 - 1 {
			var buf []byte
			if n := num(); n%3 != 0 {
				buf = append([]byte{}, next(n%3*150)...)
			}
			s.Backends.Set(str(), buf)
		}
	}
	if k := num(); k%12 != 0 {
		vals := map[string]value.Value{}
		for range k%12 - 1 {
			key := str()
			word := binary.BigEndian.Uint64(append(next(8), make([]byte, 8)...))
			var v value.Value
			switch num() % 8 {
			case 1:
				v = value.Bool(word&1 == 1)
			case 2:
				v = value.Int(int64(word))
			case 3:
				v = value.Float(math.Float64frombits(word))
			case 4:
				v = value.String(str())
			case 5:
				v = value.Bytes([]byte(str()))
			case 6:
				v, _ = value.JSON([]byte(str()))
			case 7:
				var e id.EntityID
				copy(e[:], next(id.Size))
				v = value.Ref(e)
			}
			vals[key] = v
		}
		s.Values = value.FieldsOf(vals)
	}
	return s
}

// FuzzEncode holds Encode and MarshalCBOR to the generic encoder: the same
// bytes, or an error for the same states, for states decoded from the input
// and states built from it.
func FuzzEncode(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Add(bytes.Repeat([]byte{3, 7, 250, 11}, 80))
	f.Fuzz(func(t *testing.T, b []byte) {
		states := []entity.State{stateFrom(b)}
		if s, err := entity.DecodeGeneric(b, false); err == nil {
			states = append(states, s)
		}
		for _, s := range states {
			want, werr := entity.EncodeGeneric(&s)
			got, err := s.Encode()
			if (err != nil) != (werr != nil) || !bytes.Equal(got, want) {
				t.Fatalf("%#v:\nEncode  %x (%v)\ngeneric %x (%v)", s, got, err, want, werr)
			}
			m, err := s.MarshalCBOR()
			if (err != nil) != (werr != nil) || !bytes.Equal(m, want) {
				t.Fatalf("%#v: MarshalCBOR %x (%v)", s, m, err)
			}
		}
	})
}

// TestFieldLayout_HandWrittenCodecKnowsEveryField: State has the fields the
// hand-written encoder and decoder were written for. When a field is added,
// they leave states to the generic codec (nothing is dropped) and this test
// fails until they learn it.
func TestFieldLayout_HandWrittenCodecKnowsEveryField(t *testing.T) {
	if !entity.HandWritten {
		t.Fatal("State's fields changed: teach appendState and decodeFast the new ones, then update stateLayout")
	}
}
