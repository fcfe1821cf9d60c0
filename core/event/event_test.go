package event_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
)

// dag is an in-memory event source for tests.
type dag map[id.EventID]event.Event

func (d dag) GetEvents(_ context.Context, ids []id.EventID) ([]event.Event, error) {
	var out []event.Event
	for _, i := range ids {
		if e, ok := d[i]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func (d dag) genesis(t *testing.T) event.Event {
	e := event.NewGenesis("album", map[string][]byte{"lww": {1}}, bytes.Repeat([]byte{byte(len(d))}, event.NonceSize), 1)
	d[e.ID()] = e
	return e
}

func (d dag) child(ent id.EntityID, tag byte, parents ...event.Event) event.Event {
	var ps []id.EventID
	for _, p := range parents {
		ps = append(ps, p.ID())
	}
	e := event.Event{Collection: "album", Entity: ent, Parent: event.NewClock(ps...), Operations: map[string][]byte{"lww": {tag}}}
	d[e.ID()] = e
	return e
}

func clock(es ...event.Event) event.Clock {
	var ids []id.EventID
	for _, e := range es {
		ids = append(ids, e.ID())
	}
	return event.NewClock(ids...)
}

func TestCompare_Relations(t *testing.T) {
	ctx := context.Background()
	d := dag{}
	g := d.genesis(t)
	a := d.child(g.Entity, 1, g)
	b := d.child(g.Entity, 2, a)
	c := d.child(g.Entity, 3, a)
	m := d.child(g.Entity, 4, b, c)
	other := d.genesis(t)
	cases := []struct {
		name           string
		subject, other event.Clock
		want           event.Relation
		meet           event.Clock
	}{
		{"equal", clock(b), clock(b), event.Equal, nil},
		{"descends", clock(b), clock(a), event.StrictDescends, nil},
		{"descends through merge", clock(m), clock(g), event.StrictDescends, nil},
		{"ascends", clock(a), clock(m), event.StrictAscends, nil},
		{"diverged", clock(b), clock(c), event.DivergedSince, clock(a)},
		{"merge head vs branch", clock(b, c), clock(b), event.StrictDescends, nil},
		{"disjoint", clock(b), clock(other), event.Disjoint, nil},
	}
	for _, tc := range cases {
		got, err := event.Compare(ctx, d, tc.subject, tc.other, 100)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Relation != tc.want || (tc.meet != nil && !got.Meet.Equal(tc.meet)) {
			t.Errorf("%s: got %v meet %v, want %v meet %v", tc.name, got.Relation, got.Meet, tc.want, tc.meet)
		}
	}
}

func TestCompare_BudgetExceeded(t *testing.T) {
	ctx := context.Background()
	d := dag{}
	g := d.genesis(t)
	prev := g
	for i := 0; i < 50; i++ {
		prev = d.child(g.Entity, byte(i), prev)
	}
	side := d.child(g.Entity, 200, g)
	if _, err := event.Compare(ctx, d, clock(prev), clock(side), 10); !errors.Is(err, event.ErrBudgetExceeded) {
		t.Fatalf("err = %v, want ErrBudgetExceeded", err)
	}
	if _, err := event.Compare(ctx, d, clock(prev), clock(side), 1000); err != nil {
		t.Fatal(err)
	}
}

func TestCompareEvent_IncomingEvents(t *testing.T) {
	ctx := context.Background()
	d := dag{}
	g := d.genesis(t)
	a := d.child(g.Entity, 1, g)
	b := d.child(g.Entity, 2, a)
	late := event.Event{Collection: "album", Entity: g.Entity, Parent: clock(a), Operations: map[string][]byte{"lww": {9}}}
	got, err := event.CompareEvent(ctx, d, &late, clock(b), 100)
	if err != nil || got.Relation != event.DivergedSince {
		t.Fatalf("concurrent event: %v %v", got, err)
	}
	next := event.Event{Collection: "album", Entity: g.Entity, Parent: clock(b), Operations: map[string][]byte{"lww": {9}}}
	if got, _ := event.CompareEvent(ctx, d, &next, clock(b), 100); got.Relation != event.StrictDescends {
		t.Fatalf("child of head: %v", got)
	}
}

func TestEncoding_GenesisOmitsEntityAndIDsAreContent(t *testing.T) {
	g1 := event.NewGenesis("album", map[string][]byte{"lww": {1}}, make([]byte, event.NonceSize), 5)
	g2 := event.NewGenesis("album", map[string][]byte{"lww": {1}}, append(make([]byte, event.NonceSize-1), 1), 5)
	if g1.ID() == g2.ID() {
		t.Fatal("different nonces must give different ids")
	}
	if id.EntityID(g1.ID()) != g1.Entity {
		t.Fatal("a genesis event's id is its entity's id")
	}
	b, _ := g1.Encode()
	back, err := event.Decode(b)
	if err != nil || back.ID() != g1.ID() || back.Entity != g1.Entity {
		t.Fatalf("round trip: %v", err)
	}
	child := event.Event{Collection: "album", Entity: g1.Entity, Parent: event.NewClock(g1.ID()), Operations: map[string][]byte{"lww": {2}}}
	cb, _ := child.Encode()
	back, err = event.Decode(cb)
	if err != nil || back.ID() != child.ID() {
		t.Fatalf("child round trip: %v", err)
	}
	// Altering a byte changes the id or fails validation: no event can be altered under its id.
	cb[len(cb)-1] ^= 1
	if back2, err := event.Decode(cb); err == nil && back2.ID() == child.ID() {
		t.Fatal("altered bytes kept the id")
	}
}

func TestDecode_RefusesBadInput(t *testing.T) {
	cases := map[string][]byte{
		"empty":     {},
		"garbage":   {0xff, 0x01},
		"too large": make([]byte, event.MaxEncodedSize+1),
	}
	for name, b := range cases {
		if _, err := event.Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	noNonce := event.Event{Collection: "album"}
	b, _ := noNonce.Encode()
	if _, err := event.Decode(b); !errors.Is(err, event.ErrInvalid) {
		t.Errorf("genesis without nonce: %v", err)
	}
	unsorted := event.Clock{{2}, {1}}
	bad := event.Event{Collection: "album", Entity: id.EntityID{1}, Parent: unsorted}
	b, _ = bad.Encode()
	if _, err := event.Decode(b); !errors.Is(err, event.ErrInvalid) {
		t.Errorf("unsorted parents: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	g := event.NewGenesis("album", map[string][]byte{"lww": {1}}, make([]byte, event.NonceSize), 5)
	b, _ := g.Encode()
	f.Add(b)
	c := event.Event{Collection: "a", Entity: g.Entity, Parent: event.NewClock(g.ID()), Operations: map[string][]byte{"x": {}}}
	b, _ = c.Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := event.Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes to the same event.
		enc, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := event.Decode(enc)
		if err != nil || back.ID() != e.ID() {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

// A decoded event's id is the hash of its canonical encoding, whatever
// bytes it arrived as: a sender cannot choose the id it is remembered by.
func TestDecode_IDIsComputedFromTheContent(t *testing.T) {
	g := event.NewGenesis("c", map[string][]byte{"lww": {1}}, bytes.Repeat([]byte{7}, event.NonceSize), 5)
	ev := event.New("c", g.Entity, event.NewClock(g.ID()), map[string][]byte{"b": {2}, "a": {1}})
	canon, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(canon)
	if ev.ID() != want {
		t.Fatalf("New remembers %x, the content hashes to %x", ev.ID(), want)
	}
	// The same content with the operations map's keys out of canonical
	// order (a non-deterministic encoder): decoded, it has the content's id.
	type wire struct {
		Collection string          `cbor:"1,keyasint"`
		Entity     []byte          `cbor:"2,keyasint"`
		Parent     event.Clock     `cbor:"3,keyasint"`
		Operations cbor.RawMessage `cbor:"4,keyasint"`
	}
	ops := []byte{0xa2, 0x61, 'b', 0x41, 2, 0x61, 'a', 0x41, 1} // {"b": h'02', "a": h'01'}
	raw, err := cbor.Marshal(wire{"c", g.Entity[:], ev.Parent, ops})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(raw, canon) {
		t.Fatal("the test's encoding is canonical; it must not be")
	}
	got, err := event.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != want || got.ID() == id.EventID(sha256.Sum256(raw)) {
		t.Fatalf("decoded id %x, want the content's %x", got.ID(), want)
	}
	// A copy changed through a fresh value is hashed again.
	changed := event.Event{Collection: got.Collection, Entity: got.Entity, Parent: got.Parent, Operations: map[string][]byte{"a": {9}}}
	if changed.ID() == want {
		t.Fatal("a different event kept the old id")
	}
}
