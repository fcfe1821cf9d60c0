package entity_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// realStates returns states a node stored: entities created with a property
// of every kind, one of them edited twice and one deleted.
func realStates(tb testing.TB) []entity.State {
	tb.Helper()
	ctx := context.Background()
	eng := memory.New()
	node, err := core.NewNode(ctx, eng, policy.Permissive{})
	if err != nil {
		tb.Fatal(err)
	}
	defer node.Close()
	c := node.Context(nil)
	trx := c.Begin()
	var muts []*core.Mut
	for i, props := range []map[string]any{
		{"name": "Showbiz", "year": 1999},
		{"name": "Origin of Symmetry", "year": 2001, "rating": 4.5, "tiny": 1e-300, "single": 0.25, "big": math.MaxInt64, "neg": -1 << 40},
		{"live": true, "demo": false, "cover": []byte{0, 1, 2, 0xff}, "notes": value.MustJSON(`{"b": [1, 2.50, "x"], "a": null}`), "empty": ""},
		{"ünïcode ✓": "日本語", "long name of a property well beyond twenty-four bytes": string(bytes.Repeat([]byte("a"), 300))},
	} {
		m, err := trx.Create(ctx, "album")
		if err != nil {
			tb.Fatal(err)
		}
		for k, v := range props {
			if err := m.Set(k, v); err != nil {
				tb.Fatalf("entity %d: Set(%q): %v", i, k, err)
			}
		}
		muts = append(muts, m)
	}
	if err := trx.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
	var ids []id.EntityID
	for _, m := range muts {
		ids = append(ids, m.ID())
	}
	for round := range 2 {
		trx := c.Begin()
		m, err := trx.Edit(ctx, "album", ids[0])
		if err != nil {
			tb.Fatal(err)
		}
		m.Set("year", 2000+round)
		m.Set("artist", value.Ref(ids[1]))
		m.Set("name", nil)
		d, err := trx.Edit(ctx, "album", ids[2])
		if err != nil {
			tb.Fatal(err)
		}
		if round == 1 {
			d.Delete()
		}
		if err := trx.Commit(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	coll, err := eng.Collection(ctx, "album")
	if err != nil {
		tb.Fatal(err)
	}
	var out []entity.State
	for _, e := range ids {
		s, err := coll.GetState(ctx, e)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// oddStates are states Encode writes that real nodes rarely store: empty
// and nil heads, backends and buffers, and values of every kind.
func oddStates() []entity.State {
	return []entity.State{
		{},
		{Collection: "c", Head: event.Clock{}},
		{Collection: "c", Head: event.NewClock(id.EventID{9}), Backends: entity.BackendsOf(map[string][]byte{"a": nil, "b": {}, "lww": {0xa0}})},
		{ID: id.EntityID{1}, Collection: "c", Values: value.FieldsOf(map[string]value.Value{
			"null": value.Null, "f16": value.Float(1.5), "sub": value.Float(5.960464477539063e-08), "inf": value.Float(math.Inf(-1)),
			"f32": value.Float(float64(float32(0.1))), "f64": value.Float(0.1), "min": value.Int(math.MinInt64), "max": value.Int(math.MaxInt64),
			"b": value.Bytes(nil), "j": value.MustJSON(`[]`), "r": value.Ref(id.EntityID{7}),
		})},
	}
}

// seeds returns the encodings of real and odd states.
func seeds(tb testing.TB) [][]byte {
	var out [][]byte
	for _, s := range append(realStates(tb), oddStates()...) {
		b, err := s.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDecodeFast_ReadsEveryEncodedState: every state Encode writes is read
// by the fast decoder, as the generic decoder reads it.
func TestDecodeFast_ReadsEveryEncodedState(t *testing.T) {
	for i, b := range seeds(t) {
		fast, ok := entity.DecodeFast(b)
		if !ok {
			t.Errorf("state %d (%x): the fast decoder declined it", i, b)
			continue
		}
		want, err := entity.DecodeGeneric(b, false)
		if err != nil {
			t.Fatalf("state %d: generic: %v", i, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Errorf("state %d: fast %#v, generic %#v", i, fast, want)
		}
	}
}

// TestDecodeFast_AgreesOnEdges: inputs Encode never writes but the fast
// decoder reads (empty maps, undefined values, a map of fewer fields) are
// read as the generic decoder reads them.
func TestDecodeFast_AgreesOnEdges(t *testing.T) {
	for _, b := range [][]byte{
		{0xa0},
		{0xa1, 0x02, 0x61, 0x63},
		{0xa2, 0x04, 0xa0, 0x05, 0xa0},
		{0xa1, 0x05, 0xa2, 0x61, 0x61, 0xf7, 0x61, 0x62, 0xf9, 0x7e, 0x00}, // undefined, half-precision NaN
		{0xa1, 0x05, 0xa1, 0x61, 0x61, 0xfa, 0x7f, 0xc0, 0x00, 0x00},       // single-precision NaN
		{0xa1, 0x05, 0xa1, 0x61, 0x61, 0xfb, 0x80, 0, 0, 0, 0, 0, 0, 0},    // -0
	} {
		fast, ok := entity.DecodeFast(b)
		if !ok {
			t.Errorf("%x: declined", b)
			continue
		}
		want, err := entity.DecodeGeneric(b, true)
		if err != nil || !reflect.DeepEqual(fast, want) {
			t.Errorf("%x: fast %#v, generic %#v (%v)", b, fast, want, err)
		}
	}
}

// FuzzDecodeFast holds the fast decoder to the generic one: whatever it
// accepts, both generic decoders (Decode's and UnmarshalCBOR's options)
// accept and read as the same state, and the state keeps none of the input.
func FuzzDecodeFast(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		fast, ok := entity.DecodeFast(in)
		lenient, errL := entity.DecodeGeneric(b, false)
		wire, errW := entity.DecodeGeneric(b, true)
		if !ok {
			return
		}
		if errL != nil || errW != nil {
			t.Fatalf("fast decoder accepted what the generic one refuses (%v, %v)", errL, errW)
		}
		if !reflect.DeepEqual(fast, lenient) || !reflect.DeepEqual(fast, wire) {
			t.Fatalf("fast %#v\ngeneric %#v\nwire %#v", fast, lenient, wire)
		}
		for i := range in {
			in[i] ^= 0xff
		}
		if !reflect.DeepEqual(fast, lenient) {
			t.Fatalf("the decoded state shares memory with the input: %#v", fast)
		}
		d, err := entity.Decode(b)
		if (err == nil) != (lenient.Head.Validate() == nil) || (err == nil && !reflect.DeepEqual(d, lenient)) {
			t.Fatalf("Decode: %#v, %v", d, err)
		}
	})
}

// TestDecodeFast_AllocatesOnlyWhatTheInputHolds: a head claiming more ids
// than the input holds is declined before anything is allocated for them.
func TestDecodeFast_AllocatesOnlyWhatTheInputHolds(t *testing.T) {
	b := []byte{0xa1, 0x03, 0x99, 0xff, 0xff} // a head of 65,535 ids, none present
	if allocs := testing.AllocsPerRun(10, func() { entity.DecodeFast(b) }); allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
	if _, err := entity.Decode(b); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("Decode: %v", err)
	}
}
