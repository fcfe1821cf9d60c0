package event

import (
	"crypto/sha256"
	"reflect"
)

// EncodeGeneric encodes e's wire form with the generic encoder, what Encode
// must write.
func EncodeGeneric(e *Event) ([]byte, error) { return encMode.Marshal(e.wire()) }

// HandWritten is handWritten: the wire form is the one the codec knows.
var HandWritten = handWritten

// EncodeClockGeneric encodes c with the generic encoder.
func EncodeClockGeneric(c Clock) ([]byte, error) { return encMode.Marshal(c) }

// ComputedID is the hash of e's encoding, computed afresh.
func ComputedID(e *Event) [sha256.Size]byte { return e.computeID() }

// ReadWire reads b with the fast decoder and with the generic one, for the
// differential test: ok says the fast one read it, equal that both read the
// same wire form, err is the generic decoder's.
func ReadWire(b []byte) (ok, equal bool, err error) {
	fast, ok := readWire(b)
	var w wire
	err = decMode.Unmarshal(b, &w)
	return ok, reflect.DeepEqual(fast, w), err
}
