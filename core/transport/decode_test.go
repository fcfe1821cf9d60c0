package transport_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// hotFrames returns the frames the fast decoder is for, as Encode writes
// them: commit requests, the responses a client receives, updates, hellos.
func hotFrames(t testing.TB) [][]byte {
	g := event.NewGenesis("todo", map[string][]byte{"lww": {0xa0}}, make([]byte, event.NonceSize), 7)
	next := event.New("todo", g.Entity, event.NewClock(g.ID()), map[string][]byte{"lww": {0xa1, 0x61, 0x61, 0x01}})
	s := entity.State{
		ID:         g.Entity,
		Collection: "todo",
		Head:       event.NewClock(next.ID()),
		Backends:   entity.Backends{{Name: "lww", State: []byte{1, 2, 3}}},
		Values:     value.FieldsOf(map[string]value.Value{"name": value.String("Showbiz"), "n": value.Int(-3)}),
	}
	var out [][]byte
	for _, m := range []*transport.Message{
		{Hello: &transport.Hello{NodeID: "n", Version: 9}},
		{Hello: &transport.Hello{NodeID: "node", Durable: true, SystemID: "sys", Version: 9, Credentials: []byte("tok")}},
		{Request: &transport.Request{ID: 2, Commit: &transport.CommitReq{Events: []event.Event{g}}}},
		{Request: &transport.Request{ID: 3, Commit: &transport.CommitReq{Events: []event.Event{next},
			Expect: []transport.Known{{Entity: g.Entity, Head: event.NewClock(next.ID())}}, Current: []id.EntityID{g.Entity}}}},
		{Request: &transport.Request{ID: 4, Commit: &transport.CommitReq{Events: []event.Event{g, next}}}},
		{Response: &transport.Response{ID: 3, Unchanged: []id.EntityID{g.Entity}}},
		{Response: &transport.Response{ID: 3, States: []entity.State{s}}},
		{Response: &transport.Response{ID: 3, States: []entity.State{s}}, More: true},
		{Response: &transport.Response{ID: 5, Events: []event.Event{g, next}}},
		{Response: &transport.Response{ID: 6, Error: "stale: héllo", Code: transport.CodeConflict, Kinds: "core.stale"}},
		{Response: &transport.Response{ID: 7}},
		{Updates: []transport.Update{{Sub: 3, Items: []transport.UpdateItem{{Tag: transport.TagAdd, State: s}, {Tag: transport.TagRemove, State: entity.State{ID: g.Entity, Collection: "todo"}, Gone: true}}}}, More: true},
		{Updates: []transport.Update{{Sub: 1, Items: []transport.UpdateItem{{State: s}}}, {Sub: 2}}},
	} {
		b, err := transport.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// corpusFrames reads the inputs of the package's fuzz corpora.
func corpusFrames(t testing.TB) [][]byte {
	files, err := filepath.Glob("testdata/fuzz/*/*")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				out = append(out, []byte(s))
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no corpus")
	}
	return out
}

// checkFastAgrees: whatever the fast decoder reads, the generic decoder
// reads too, to an identical message, and Decode accepts or refuses it
// alike either way.
func checkFastAgrees(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	fm, ok := transport.DecodeFast(b)
	gm, gerr := transport.DecodeGeneric(b)
	if !ok {
		return false
	}
	if gerr != nil {
		t.Fatalf("fast decoder read %x, which the generic one refuses: %v", b, gerr)
	}
	if !reflect.DeepEqual(fm, gm) {
		t.Fatalf("%x read differently:\nfast    %#v\ngeneric %#v", b, fm, gm)
	}
	return true
}

// TestDecodeFast_ReadsTheHotShapes: the frames a commit's round trip
// carries are read by the fast decoder, identically to the generic one.
func TestDecodeFast_ReadsTheHotShapes(t *testing.T) {
	edges := [][]byte{
		{0xa1, 0x01, 0xa3, 0x01, 0x61, 0x6e, 0x04, 0x09, 0x05, 0x40}, // a hello with empty credentials
		{0xa1, 0x03, 0xa2, 0x01, 0x01, 0x06, 0x80},                   // an empty Unchanged
		{0xa1, 0x03, 0xa2, 0x01, 0x01, 0x04, 0x80},                   // no states
		{0xa1, 0x02, 0xa2, 0x01, 0x01, 0x02, 0xa1, 0x01, 0x80},       // a commit of no events (Decode's callers refuse it)
		{0xa1, 0x04, 0x80},                         // no updates (Decode refuses it: no part)
		{0xa2, 0x03, 0xa1, 0x01, 0x01, 0x07, 0xf4}, // More written false
	}
	for _, b := range append(hotFrames(t), edges...) {
		if !checkFastAgrees(t, b) {
			m, err := transport.DecodeGeneric(b)
			t.Errorf("fast decoder declined %x (%#v, %v)", b, m, err)
		}
	}
}

// TestDecodeFast_AgreesOnTheCorpus holds the fast decoder to the generic
// one over the fuzz corpora, and over every prefix and one-byte change of
// the hot frames.
func TestDecodeFast_AgreesOnTheCorpus(t *testing.T) {
	for _, b := range corpusFrames(t) {
		checkFastAgrees(t, b)
	}
	for _, b := range hotFrames(t) {
		for i := range b {
			checkFastAgrees(t, b[:i])
			for _, c := range []byte{0x00, 0x01, 0x17, 0x18, 0x1f, 0x40, 0x58, 0x60, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xff, b[i] ^ 0x01, b[i] + 1} {
				m := bytes.Clone(b)
				m[i] = c
				checkFastAgrees(t, m)
			}
		}
	}
}

// FuzzDecodeFast: the fast decoder agrees with the generic one on every
// input: what it reads the generic decoder reads to an identical message.
func FuzzDecodeFast(f *testing.F) {
	for _, b := range hotFrames(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFastAgrees(t, b)
	})
}
