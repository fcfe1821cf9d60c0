package adversarial_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Categories of wire abuse. Each case asserts (1) a refusal or a
// disconnection naming why, (2) the server serving others afterwards and
// (3) stored data unchanged (guard).

// garbage returns n bytes that are not a message (deterministic).
func garbage(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[0] = 0xff // a CBOR "break" where an item must start: never valid
	return b
}

func TestWire_GarbageIsRefusedWithAFault(t *testing.T) {
	cases := []struct {
		name       string
		afterHello bool
		frame      []byte
	}{
		{"random bytes as the first frame", false, garbage(1024, 1)},
		{"random bytes after the hello", true, garbage(1024, 2)},
		{"an empty frame", true, []byte{}},
		{"a CBOR integer", true, []byte{0x18, 0x2a}},
		{"a message with an unknown field", true, cborFrame(t, map[uint64]any{99: "what"})},
		{"a message with two parts", true, cborFrame(t, map[uint64]any{1: map[uint64]any{1: "x", 2: false, 4: transport.ProtocolVersion}, 5: []byte("token")})},
		{"a request with two bodies", true, cborFrame(t, map[uint64]any{2: map[uint64]any{1: 1, 5: map[uint64]any{1: "todo", 2: "true"}, 7: 3}})},
		{"a request with no body", true, cborFrame(t, map[uint64]any{2: map[uint64]any{1: 1}})},
		{"a response from a client", true, encode(t, &transport.Message{Response: &transport.Response{ID: 1}})},
		{"updates from a client", true, encode(t, &transport.Message{Updates: []transport.Update{{Sub: 1}}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t)
			g := s.guard(t)
			r := s.rawDial(t)
			if c.afterHello {
				r = s.rawAs(t, s.token(t, "mallory"))
			}
			if err := r.write(c.frame); err != nil {
				t.Fatal(err)
			}
			r.faulted(t, c.name, transport.CodeProtocol)
			g.done(t)
		})
	}
	t.Run("a text message", func(t *testing.T) {
		s := startServer(t)
		g := s.guard(t)
		r := s.rawAs(t, s.token(t, "mallory"))
		if err := r.c.Write(deadline(t), websocket.MessageText, []byte(`{"request":{"fetch":"todo"}}`)); err != nil {
			t.Fatal(err)
		}
		r.faulted(t, "a text message", transport.CodeProtocol)
		g.done(t)
	})
}

func TestWire_TruncatedFramesAreRefusedWithAFault(t *testing.T) {
	s0 := startServer(t)
	full := encode(t, &transport.Message{Request: commit(genesis(t, "todo", map[string]any{"owner": "mallory", "title": "cut short"}))})
	hello := encode(t, hello(s0.token(t, "mallory")))
	cases := []struct {
		name       string
		afterHello bool
		frame      []byte
	}{
		{"a hello cut in half", false, hello[:len(hello)/2]},
		{"a hello without its last byte", false, hello[:len(hello)-1]},
		{"a commit of one byte", true, full[:1]},
		{"a commit cut in half", true, full[:len(full)/2]},
		{"a commit without its last byte", true, full[:len(full)-1]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t)
			g := s.guard(t)
			r := s.rawDial(t)
			if c.afterHello {
				r = s.rawAs(t, s.token(t, "mallory"))
			}
			if err := r.write(c.frame); err != nil {
				t.Fatal(err)
			}
			r.faulted(t, c.name, transport.CodeProtocol)
			g.done(t)
		})
	}
}

func TestWire_OversizeFrameEndsTheConnection(t *testing.T) {
	s := startServer(t)
	g := s.guard(t)
	r := s.rawAs(t, s.token(t, "mallory"))
	big := encode(t, &transport.Message{Request: &transport.Request{ID: 1, Fetch: &transport.FetchReq{Collection: "todo", Query: "true"}}})
	big = append(big, make([]byte, transport.MaxFrameSize+1-len(big))...)
	_ = r.write(big) // the server may stop reading it midway
	err := r.disconnected(t, "a frame of MaxFrameSize+1 bytes")
	code := websocket.CloseStatus(err)
	limited := code == websocket.StatusMessageTooBig
	for _, f := range r.faults {
		limited = limited || f.Code == transport.CodeLimit
	}
	if !limited {
		t.Fatalf("a frame of %d bytes ended the connection with %v (status %d), want status %d (message too big) or a CodeLimit fault",
			len(big), err, code, websocket.StatusMessageTooBig)
	}
	g.done(t)
}

func TestWire_DeepNestingIsRefused(t *testing.T) {
	// A request whose body is 100,000 nested one-element arrays.
	deep := append([]byte{0xa1, 0x02}, bytes.Repeat([]byte{0x81}, 100000)...)
	deep = append(deep, 0x00)
	t.Run("in a message", func(t *testing.T) {
		s := startServer(t)
		g := s.guard(t)
		r := s.rawAs(t, s.token(t, "mallory"))
		if err := r.write(deep); err != nil {
			t.Fatal(err)
		}
		r.faulted(t, "100,000 nested arrays", transport.CodeProtocol)
		g.done(t)
	})
	t.Run("as the first frame", func(t *testing.T) {
		s := startServer(t)
		g := s.guard(t)
		r := s.rawDial(t)
		if err := r.write(deep); err != nil {
			t.Fatal(err)
		}
		r.faulted(t, "100,000 nested arrays before the hello", transport.CodeProtocol)
		g.done(t)
	})
	t.Run("inside an LWW payload", func(t *testing.T) {
		s := startServer(t)
		target := mustCreate(t, s.system(), "mallory", "target", nil)
		st := s.stored(t, "todo", target)
		// {1: height, 2: {"title": [[[[…]]]]}}
		ops := []byte{0xa2, 0x01}
		ops = append(ops, cborFrame(t, lwwHeight(t, st)+1)...)
		ops = append(ops, 0x02, 0xa1, 0x65, 't', 'i', 't', 'l', 'e')
		ops = append(ops, bytes.Repeat([]byte{0x81}, 10000)...)
		ops = append(ops, 0x00)
		g := s.guard(t)
		r := s.rawAs(t, s.token(t, "mallory"))
		ev := event.Event{Collection: "todo", Entity: target, Parent: st.Head, Operations: map[string][]byte{"lww": ops}}
		r.do(commit(ev)).refused(t, "an LWW payload nested 10,000 deep", transport.CodeInvalid)
		r.alive(t, "after the refusal")
		g.done(t)
	})
}

func TestWire_WrongProtocolVersionIsRefusedNamingBoth(t *testing.T) {
	for _, v := range []uint32{0, 1, transport.ProtocolVersion + 1, 99} {
		t.Run(strconv.Itoa(int(v)), func(t *testing.T) {
			s := startServer(t)
			g := s.guard(t)
			r := s.rawDial(t)
			m := hello(s.token(t, "mallory"))
			m.Hello.Version = v
			r.send(m)
			o := r.await(^uint64(0))
			o.refused(t, fmt.Sprintf("a hello of version %d", v), transport.CodeVersion)
			for _, want := range []uint32{v, transport.ProtocolVersion} {
				if !strings.Contains(o.message(), strconv.Itoa(int(want))) {
					t.Fatalf("refusal %q does not name version %d", o.message(), want)
				}
			}
			r.disconnected(t, "after the version refusal")
			g.done(t)
		})
	}
}

func TestWire_RequestBeforeHelloIsRefused(t *testing.T) {
	cases := map[string]*transport.Message{
		"fetch":       {Request: &transport.Request{ID: 1, Fetch: &transport.FetchReq{Collection: "todo", Query: "true"}}},
		"commit":      {Request: &transport.Request{ID: 1, Commit: &transport.CommitReq{Events: []event.Event{genesis(t, "todo", map[string]any{"owner": "mallory"})}}}},
		"credentials": {Credentials: []byte("a token")},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			s := startServer(t)
			g := s.guard(t)
			r := s.rawDial(t)
			r.send(m)
			r.faulted(t, name+" before the hello", transport.CodeProtocol)
			g.done(t)
		})
	}
}

// forgery is a commit (or a hand-built frame) the server must refuse.
type forgery struct {
	name  string
	req   *transport.Request // or
	frame []byte             // a hand-built message, request id 7
	codes []transport.Code
}

// wireFixture is a server with a todo and a note owned by alice, and an
// admin token (so policy never refuses: only validation can).
type wireFixture struct {
	s            *server
	todo, note   id.EntityID
	todoH, noteH event.Clock
	height       uint64
	admin        string
}

func newWireFixture(t *testing.T) *wireFixture {
	s := startServer(t)
	f := &wireFixture{s: s, admin: s.token(t, "root", "admin")}
	f.todo = mustCreate(t, s.system(), "alice", "target", nil)
	st := s.stored(t, "todo", f.todo)
	f.todoH, f.height = st.Head, lwwHeight(t, st)
	trx := s.system().Begin()
	m, err := trx.Create(context.Background(), "note")
	if err != nil {
		t.Fatal(err)
	}
	m.Set("owner", "alice")
	if err := trx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.note = m.ID()
	f.noteH = s.stored(t, "note", f.note).Head
	return f
}

// refuse runs each forgery on its own connection, with the three checks.
func (f *wireFixture) refuse(t *testing.T, cases []forgery) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := f.s.guard(t)
			r := f.s.rawAs(t, f.admin)
			var o outcome
			if c.req != nil {
				o = r.do(c.req)
			} else {
				o = r.doBytes(c.frame, 7)
			}
			o.refused(t, c.name, c.codes...)
			if o.fault != nil {
				r.disconnected(t, c.name)
			} else {
				r.alive(t, c.name)
			}
			g.done(t)
		})
	}
}

var (
	invalid       = []transport.Code{transport.CodeInvalid}
	invalidDenied = []transport.Code{transport.CodeInvalid, transport.CodeDenied}
	protoInvalid  = []transport.Code{transport.CodeProtocol, transport.CodeInvalid}
)

func TestWire_ForgedEventsAreRefused(t *testing.T) {
	f := newWireFixture(t)
	ops := lwwPayload(t, f.height+1, map[string]any{"title": "forged"})
	nextGen := genesis(t, "todo", map[string]any{"owner": "alice", "title": "new"})
	nonce := bytesOf(event.NonceSize)
	f.refuse(t, []forgery{
		{name: "parent names an event that does not exist",
			req: commit(edit(t, "todo", f.todo, event.NewClock(randomEventIDs(1)...), f.height+1, map[string]any{"title": "forged"})), codes: invalid},
		{name: "a non-genesis event for an entity of another collection",
			req: commit(event.Event{Collection: "note", Entity: f.todo, Parent: f.todoH, Operations: ops}), codes: invalidDenied},
		{name: "a genesis, then an event naming another collection for its entity",
			req: commit(nextGen, event.Event{Collection: "note", Entity: nextGen.Entity, Parent: event.NewClock(nextGen.ID()), Operations: ops}), codes: invalidDenied},
		{name: "an event claiming an entity its parent is not of",
			req: commit(event.Event{Collection: "todo", Entity: randomIDs(1)[0], Parent: f.todoH, Operations: ops}), codes: invalidDenied},
		{name: "an event of an unknown backend",
			req: commit(event.Event{Collection: "todo", Entity: f.todo, Parent: f.todoH, Operations: map[string][]byte{"no-such-backend": {0xa0}}}), codes: invalid},
		{name: "an event whose operations are not the backend's",
			req: commit(event.Event{Collection: "todo", Entity: f.todo, Parent: f.todoH, Operations: map[string][]byte{"lww": garbage(64, 3)}}), codes: invalid},
		{name: "a genesis carrying an entity id",
			frame: cborFrame(t, rawRequest(7, 2, map[uint64]any{1: []any{map[uint64]any{1: "todo", 2: f.todo[:], 4: ops, 5: nonce, 6: 1}}})), codes: protoInvalid},
		{name: "a genesis with a short nonce",
			frame: cborFrame(t, rawRequest(7, 2, map[uint64]any{1: []any{map[uint64]any{1: "todo", 4: ops, 5: nonce[:3], 6: 1}}})), codes: protoInvalid},
		{name: "a non-genesis event carrying a nonce",
			frame: cborFrame(t, rawRequest(7, 2, map[uint64]any{1: []any{map[uint64]any{1: "todo", 2: f.todo[:], 3: [][]byte{f.todoH[0][:]}, 4: ops, 5: nonce}}})), codes: protoInvalid},
		{name: "parents out of order",
			frame: cborFrame(t, rawRequest(7, 2, map[uint64]any{1: []any{rawEvent("todo", f.todo[:], [][]byte{bytes.Repeat([]byte{0xff}, 32), f.todoH[0][:]}, ops)}})), codes: protoInvalid},
	})
}

func TestWire_DanglingParentsAreRefused(t *testing.T) {
	f := newWireFixture(t)
	e1 := edit(t, "todo", f.todo, f.todoH, f.height+1, map[string]any{"title": "first"})
	e2 := edit(t, "todo", f.todo, event.NewClock(e1.ID()), f.height+2, map[string]any{"title": "second"})
	f.refuse(t, []forgery{
		{name: "the head and an event that does not exist",
			req: commit(edit(t, "todo", f.todo, event.NewClock(append(randomEventIDs(1), f.todoH...)...), f.height+1, map[string]any{"title": "x"})), codes: invalid},
		{name: "a child before its parent in one batch (all or nothing)",
			req: commit(e2, e1), codes: invalid},
		{name: "a valid event, then one on a missing parent (all or nothing)",
			req: commit(e1, edit(t, "todo", f.todo, event.NewClock(randomEventIDs(1)...), f.height+2, map[string]any{"title": "x"})), codes: invalid},
	})
}

func TestWire_CrossCollectionEventsAreRefused(t *testing.T) {
	f := newWireFixture(t)
	ops := lwwPayload(t, f.height+1, map[string]any{"title": "crossed"})
	f.refuse(t, []forgery{
		{name: "a todo event on a note's head",
			req: commit(event.Event{Collection: "todo", Entity: f.todo, Parent: f.noteH, Operations: ops}), codes: invalidDenied},
		{name: "a note event on a todo's head",
			req: commit(event.Event{Collection: "note", Entity: f.note, Parent: f.todoH, Operations: ops}), codes: invalidDenied},
		{name: "a note event naming the todo as its entity, on the note's head",
			req: commit(event.Event{Collection: "note", Entity: f.todo, Parent: f.noteH, Operations: ops}), codes: invalidDenied},
		{name: "a valid todo event, then a crossed one (all or nothing)",
			req: commit(edit(t, "todo", f.todo, f.todoH, f.height+1, map[string]any{"title": "ok"}),
				event.Event{Collection: "todo", Entity: f.note, Parent: f.noteH, Operations: ops}), codes: invalidDenied},
	})
}

func TestWire_ForgedLWWHeightsAreRefused(t *testing.T) {
	f := newWireFixture(t)
	var cases []forgery
	for _, h := range []uint64{0, f.height + 2, f.height + 1000, 1 << 62, math.MaxUint64} {
		cases = append(cases, forgery{name: fmt.Sprintf("height %d on a state of height %d", h, f.height),
			req: commit(edit(t, "todo", f.todo, f.todoH, h, map[string]any{"title": "wins forever"})), codes: invalid})
	}
	f.refuse(t, cases)
	// The honest height is accepted.
	r := f.s.rawAs(t, f.admin)
	r.do(commit(edit(t, "todo", f.todo, f.todoH, f.height+1, map[string]any{"title": "honest"}))).ok(t, "the honest height")
}

func TestWire_ReplayedCommitsAreIdempotent(t *testing.T) {
	s := startServer(t)
	r := s.rawAs(t, s.token(t, "alice"))
	gen := genesis(t, "todo", map[string]any{"owner": "alice", "title": "v0"})
	e1 := edit(t, "todo", gen.Entity, event.NewClock(gen.ID()), 2, map[string]any{"title": "v1"})
	e2 := edit(t, "todo", gen.Entity, event.NewClock(e1.ID()), 3, map[string]any{"title": "v2"})
	r.do(commit(gen, e1)).ok(t, "the original commit")
	g := s.guard(t)
	for i := range 50 {
		r.do(commit(gen, e1)).ok(t, fmt.Sprintf("replay %d", i+1))
	}
	g.done(t)

	r.do(commit(e2)).ok(t, "a later edit")
	g = s.guard(t)
	for _, batch := range [][]event.Event{{gen}, {e1}, {gen, e1, e2}, {e2}} {
		r.do(commit(batch...)).ok(t, fmt.Sprintf("replay of %d old events", len(batch)))
	}
	// From another user's connection too: no change, and no error storm.
	other := s.rawAs(t, s.token(t, "alice"))
	got := other.pipeline(t, []*transport.Request{commit(gen, e1, e2), commit(e1), commit(gen)}, 0)
	for id, resp := range got {
		if resp.Error != "" && resp.Code != transport.CodeBusy {
			t.Fatalf("replay %d: code %d %q", id, resp.Code, resp.Error)
		}
	}
	if title, _ := s.stored(t, "todo", gen.Entity).Values.Get("title").AsString(); title != "v2" {
		t.Fatalf("after the replays the title is %q, want v2", title)
	}
	g.done(t)
}

func TestWire_FloodsAreAnsweredOrBusy(t *testing.T) {
	const n = 3000
	s := startServer(t)
	target := mustCreate(t, s.system(), "mallory", "flooded", nil)
	r := s.rawAs(t, s.token(t, "mallory"))
	g := s.guard(t)
	reqs := make([]*transport.Request, n)
	for i := range reqs {
		switch i % 3 {
		case 0:
			reqs[i] = &transport.Request{Fetch: &transport.FetchReq{Collection: "todo", Query: "true"}}
		case 1:
			reqs[i] = &transport.Request{Get: &transport.GetReq{Collection: "todo", IDs: []id.EntityID{target}}}
		default:
			reqs[i] = &transport.Request{GetEvents: &transport.GetEventsReq{Collection: "todo", IDs: randomEventIDs(1)}}
		}
	}
	got := r.pipeline(t, reqs, 0)
	busy := 0
	for _, req := range reqs {
		switch resp := got[req.ID]; {
		case resp.Error == "":
		case resp.Code == transport.CodeBusy:
			busy++
		default:
			t.Fatalf("request %d: code %d %q, want an answer or CodeBusy", req.ID, resp.Code, resp.Error)
		}
	}
	t.Logf("%d of %d flooded requests refused busy", busy, n)
	r.alive(t, "after the flood")
	g.done(t)
}
