package transport_test

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

// catchUpStates returns n states as a server sends them to a catching-up
// client: entities of one collection with a name and a number, stored by a
// node.
func catchUpStates(b *testing.B, n int) []entity.State {
	ctx := context.Background()
	eng := memory.New()
	node, err := core.NewNode(ctx, eng, policy.Permissive{})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close()
	trx := node.Context(nil).Begin()
	var muts []*core.Mut
	for k := range n {
		m, _ := trx.Create(ctx, "album")
		m.Set("name", "x")
		m.Set("k", k)
		muts = append(muts, m)
	}
	if err := trx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	coll, _ := eng.Collection(ctx, "album")
	out := make([]entity.State, 0, n)
	for _, m := range muts {
		s, err := coll.GetState(ctx, m.ID())
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// BenchmarkMessage_DecodeStates decodes a response carrying 500 states, a
// part of a catch-up.
func BenchmarkMessage_DecodeStates(b *testing.B) {
	frame, err := transport.Encode(&transport.Message{Response: &transport.Response{ID: 1, States: catchUpStates(b, 500)}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := transport.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessage_EncodeStates encodes the same response.
func BenchmarkMessage_EncodeStates(b *testing.B) {
	m := &transport.Message{Response: &transport.Response{ID: 1, States: catchUpStates(b, 500)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transport.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}
