package transport_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// TestDecode_StatesOfEveryShape: a response's states are read the same
// whether they come in the canonical encoding (the fast decoder's) or in
// any other the generic decoder reads, and a state with an unknown or
// duplicate key is refused as a protocol error.
func TestDecode_StatesOfEveryShape(t *testing.T) {
	s := entity.State{
		ID:         id.EntityID{1},
		Collection: "album",
		Head:       event.NewClock(id.EventID{2}),
		Backends:   entity.BackendsOf(map[string][]byte{"lww": {1, 2, 3}}),
		Values:     value.FieldsOf(map[string]value.Value{"name": value.String("Showbiz")}),
	}
	canon, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if canon[0] != 0xa5 {
		t.Fatalf("state does not start with a map of 5: %x", canon)
	}
	// A response {ID: 1, States: [state]} around a state's bytes.
	frame := func(state []byte) []byte {
		return append([]byte{0xa1, 0x03, 0xa2, 0x01, 0x01, 0x04, 0x81}, state...)
	}
	for _, c := range []struct {
		name  string
		state []byte
		ok    bool
	}{
		{"canonical", canon, true},
		{"map count not in shortest form", append([]byte{0xb8, 0x05}, canon[1:]...), true},
		{"keys out of order", append(append([]byte{0xa5}, canon[1+35:]...), canon[1:1+35]...), true},
		{"unknown key", append(append([]byte{0xa6}, canon[1:]...), 0x06, 0x00), false},
		{"duplicate key", append(append([]byte{0xa6}, canon[1:]...), 0x02, 0x61, 0x78), false},
		{"trailing item inside the array", append(bytes.Clone(canon), 0x00), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := transport.Decode(frame(c.state))
			if !c.ok {
				if !errors.Is(err, transport.ErrProtocol) {
					t.Fatalf("Decode: %v, want ErrProtocol", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Response.States; len(got) != 1 || !reflect.DeepEqual(got[0], s) {
				t.Fatalf("states %#v, want %#v", got, s)
			}
		})
	}
}
