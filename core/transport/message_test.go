package transport_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/transport"
)

func TestDecode_RoundTripAndRefusals(t *testing.T) {
	g := event.NewGenesis("album", map[string][]byte{"lww": {1}}, make([]byte, event.NonceSize), 5)
	m := &transport.Message{Request: &transport.Request{ID: 3, Commit: &transport.CommitReq{Events: []event.Event{g}}}}
	b, err := transport.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := transport.Decode(b)
	if err != nil || back.Request.Commit.Events[0].ID() != g.ID() {
		t.Fatalf("round trip: %v", err)
	}
	two, _ := transport.Encode(&transport.Message{Credentials: []byte("x"), Fault: &transport.Fault{Message: "y"}})
	if _, err := transport.Decode(two); !errors.Is(err, transport.ErrProtocol) {
		t.Errorf("two parts: %v", err)
	}
	if _, err := transport.Decode([]byte{0xa1, 0x18, 0x63, 0x01}); !errors.Is(err, transport.ErrProtocol) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestPipe_OrderAndClose(t *testing.T) {
	ctx := context.Background()
	a, b := transport.Pipe()
	for i := 0; i < 10; i++ {
		if err := a.Send(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		f, err := b.Recv(ctx)
		if err != nil || f[0] != byte(i) {
			t.Fatalf("frame %d: %v %v", i, f, err)
		}
	}
	a.Close()
	if _, err := b.Recv(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Recv after close: %v", err)
	}
	if err := b.Send(ctx, []byte{1}); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Send after close: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range []*transport.Message{
		{Hello: &transport.Hello{NodeID: "n", Version: 1}},
		{Request: &transport.Request{ID: 1, Fetch: &transport.FetchReq{Collection: "c", Query: "true"}}},
		{Fault: &transport.Fault{Code: 1, Message: "x"}},
	} {
		b, _ := transport.Encode(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := transport.Decode(b)
		if err != nil {
			return
		}
		if _, err := transport.Encode(m); err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
	})
}

// Ids of the wrong length are refused, never truncated or zero-padded.
func TestDecode_RefusesIDsOfTheWrongLength(t *testing.T) {
	type getReq struct {
		Collection string   `cbor:"1,keyasint"`
		IDs        [][]byte `cbor:"2,keyasint"`
	}
	type request struct {
		ID  uint64  `cbor:"1,keyasint"`
		Get *getReq `cbor:"3,keyasint"`
	}
	type message struct {
		Request *request `cbor:"2,keyasint"`
	}
	for _, n := range []int{0, 31, 33, 64} {
		b, err := event.EncMode().Marshal(message{Request: &request{ID: 1, Get: &getReq{Collection: "todo", IDs: [][]byte{make([]byte, n)}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transport.Decode(b); !errors.Is(err, transport.ErrProtocol) {
			t.Errorf("id of %d bytes: err = %v, want ErrProtocol", n, err)
		}
	}
	b, _ := event.EncMode().Marshal(message{Request: &request{ID: 1, Get: &getReq{Collection: "todo", IDs: [][]byte{make([]byte, 32)}}}})
	if _, err := transport.Decode(b); err != nil {
		t.Fatalf("a 32-byte id: %v", err)
	}
	// A parent of the wrong length inside an event.
	type wireEvent struct {
		Collection string            `cbor:"1,keyasint"`
		Entity     []byte            `cbor:"2,keyasint"`
		Parent     [][]byte          `cbor:"3,keyasint"`
		Operations map[string][]byte `cbor:"4,keyasint"`
	}
	raw, _ := event.EncMode().Marshal(wireEvent{Collection: "todo", Entity: make([]byte, 32), Parent: [][]byte{make([]byte, 33)}, Operations: map[string][]byte{"lww": {1}}})
	if _, err := event.Decode(raw); !errors.Is(err, event.ErrInvalid) {
		t.Fatalf("33-byte parent: err = %v", err)
	}
}
