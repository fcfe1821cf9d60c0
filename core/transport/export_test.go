package transport

import "github.com/ankurah/ankurah-go/core/event"

// EncodeGeneric encodes m with the generic encoder alone, what Encode must
// write.
func EncodeGeneric(m *Message) ([]byte, error) { return encMode.Marshal(m) }

// ChangedLayouts names the types whose fields are no longer the ones the
// hand-written encoders know.
func ChangedLayouts() []string {
	var out []string
	for t, want := range handLayouts {
		if event.FieldLayout(t) != want {
			out = append(out, t.Name())
		}
	}
	return out
}

// DecodeFast decodes frame with the fast decoder alone (before Decode's
// checks); ok is false where it declines.
func DecodeFast(frame []byte) (*Message, bool) { return decodeFast(frame) }

// DecodeGeneric decodes frame with the generic decoder alone (before
// Decode's checks).
func DecodeGeneric(frame []byte) (*Message, error) { return decodeGeneric(frame) }
