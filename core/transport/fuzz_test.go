package transport_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/transport"
)

// FuzzDecodeRoundTrip holds every frame a peer may send to the decoder's
// contract: junk is refused with an error wrapping ErrProtocol or
// ErrTooLarge, and a frame that decodes re-encodes to bytes that decode to a
// message encoding to the very same bytes (encoding is canonical, so
// decode∘encode is the identity on what Encode writes).
func FuzzDecodeRoundTrip(f *testing.F) {
	g := event.NewGenesis("todo", map[string][]byte{"lww": {0xa0}}, make([]byte, event.NonceSize), 7)
	for _, m := range []*transport.Message{
		{Hello: &transport.Hello{NodeID: "n", Version: 1}},
		{Request: &transport.Request{ID: 1, Fetch: &transport.FetchReq{Collection: "c", Query: "a = 1 ORDER BY a LIMIT 2"}}},
		{Request: &transport.Request{ID: 2, Commit: &transport.CommitReq{Events: []event.Event{g}}}},
		{Updates: []transport.Update{{Sub: 3, Items: []transport.UpdateItem{{Tag: transport.TagAdd, State: entity.State{Collection: "todo", ID: g.Entity, Head: event.NewClock(g.ID())}}}}}, More: true},
		{Fault: &transport.Fault{Code: transport.CodeProtocol, Message: "x"}},
	} {
		b, err := transport.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := transport.Decode(b)
		if err != nil {
			if !errors.Is(err, transport.ErrProtocol) && !errors.Is(err, transport.ErrTooLarge) {
				t.Fatalf("Decode error %v wraps neither ErrProtocol nor ErrTooLarge", err)
			}
			return
		}
		enc, err := transport.Encode(m)
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		back, err := transport.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		again, err := transport.Encode(back)
		if err != nil {
			t.Fatalf("second encode: %v", err)
		}
		if !bytes.Equal(enc, again) {
			t.Fatalf("decode∘encode is not stable:\n%x\n%x", enc, again)
		}
	})
}
