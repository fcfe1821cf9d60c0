package entity

import "github.com/ankurah/ankurah-go/core/event"

// DecodeFast is the fast decoder, for the differential tests.
func DecodeFast(b []byte) (State, bool) { return decodeFast(b) }

// DecodeGeneric decodes b with the generic decoder alone: with Decode's
// options, or (wire) with UnmarshalCBOR's.
func DecodeGeneric(b []byte, wire bool) (State, error) {
	var s State
	m := decMode
	if wire {
		m = wireDecMode
	}
	err := s.unmarshalGeneric(m, b)
	return s, err
}

// EncodeGeneric encodes s with the generic encoder, what Encode must write.
func EncodeGeneric(s *State) ([]byte, error) {
	return event.EncMode().Marshal(s.generic())
}

// HandWritten is handWritten: State's fields are the ones the codec knows.
var HandWritten = handWritten
