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
