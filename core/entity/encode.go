package entity

import (
	"reflect"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// The state encoder writes, without reflection, exactly what the generic
// CBOR encoder in core deterministic mode writes for State's fields (a map
// of integer keys 1 to 5, Backends and Values left out when empty, a nil
// head as null, map keys sorted by their encoding); FuzzEncode holds it to
// that, byte for byte.

// appendState appends the canonical encoding of s to dst.
func appendState(dst []byte, s *State) ([]byte, error) {
	size := 48 + len(s.Collection) + (2+id.Size)*len(s.Head)
	bkeys := s.Backends // in their encoding's order (Backends)
	if err := bkeys.Validate(); err != nil {
		return nil, err
	}
	for _, b := range bkeys {
		size += 18 + len(b.Name) + len(b.State)
	}
	for i := range s.Values.Len() {
		f := s.Values.At(i)
		size += 20 + len(f.Name) + len(f.Value.Raw())
	}
	if dst == nil {
		dst = make([]byte, 0, size)
	}

	fields := uint64(3)
	if len(bkeys) > 0 {
		fields++
	}
	if s.Values.Len() > 0 {
		fields++
	}
	dst = value.AppendHead(dst, 5, fields)
	dst = append(dst, 0x01, 0x58, id.Size)
	dst = append(dst, s.ID[:]...)
	dst = append(dst, 0x02)
	dst = append(value.AppendHead(dst, 3, uint64(len(s.Collection))), s.Collection...)
	dst = append(dst, 0x03)
	if s.Head == nil {
		dst = append(dst, 0xf6)
	} else {
		dst = value.AppendHead(dst, 4, uint64(len(s.Head)))
		for _, e := range s.Head {
			dst = append(dst, 0x58, id.Size)
			dst = append(dst, e[:]...)
		}
	}
	if len(bkeys) > 0 {
		dst = value.AppendHead(append(dst, 0x04), 5, uint64(len(bkeys)))
		for _, p := range bkeys {
			dst = append(value.AppendHead(dst, 3, uint64(len(p.Name))), p.Name...)
			if p.State == nil {
				dst = append(dst, 0xf6)
				continue
			}
			dst = append(value.AppendHead(dst, 2, uint64(len(p.State))), p.State...)
		}
	}
	if s.Values.Len() > 0 {
		var err error
		if dst, err = s.Values.AppendCBOR(append(dst, 0x05)); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// stateLayout is the layout of State's fields appendState and decodeFast
// were written for.
const stateLayout = `ID id.EntityID "1,keyasint"; Collection string "2,keyasint"; Head event.Clock "3,keyasint"; Backends entity.Backends "4,keyasint,omitempty"; Values value.Fields "5,keyasint,omitempty"; `

// handWritten says State's fields are still the ones the hand-written codec
// knows; if they change, states go through the generic codec (nothing is
// dropped) and TestFieldLayout_HandWrittenCodecKnowsEveryField fails until
// the codec learns them.
var handWritten = event.FieldLayout(reflect.TypeFor[State]()) == stateLayout
