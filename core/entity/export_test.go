package entity

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
	err := m.Unmarshal(b, (*fields)(&s))
	return s, err
}
