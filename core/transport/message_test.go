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
