package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// makeRoom before the adds keeps the record that adding everything and then
// keeping the newest would: the same entries, naming the same authors and
// peers (Names may list them in another order), for
// records from empty to full and batches from one event to more than keep.
func TestAttributionRecord_MakeRoomKeepsTheNewest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		keep := 1 + r.IntN(8)
		var a, b attributionRecord
		for step := range 6 {
			more := 1 + r.IntN(keep+3)
			a.makeRoom(keep, more)
			for i := range more {
				ev := id.EventID{byte(trial), byte(step), byte(i)}
				author, peer := fmt.Sprint("u", r.IntN(4)), fmt.Sprint("p", r.IntN(3))
				a.add(ev, author, peer, int64(step*100+i))
				b.add(ev, author, peer, int64(step*100+i))
			}
			a.keepNewest(keep)
			b.keepNewest(keep)
			if !slices.Equal(listed(&a), listed(&b)) {
				t.Fatalf("trial %d step %d (keep %d, %d added): entries differ:\n%v\n%v", trial, step, keep, more, listed(&a), listed(&b))
			}
			if len(a.Names) > 2*a.entries() {
				t.Fatalf("trial %d: %d names for %d entries", trial, len(a.Names), a.entries())
			}
			if a.entries() > keep {
				t.Fatalf("trial %d: %d entries kept, keep %d", trial, a.entries(), keep)
			}
		}
	}
}

func listed(r *attributionRecord) []Attribution {
	out := make([]Attribution, r.entries())
	for i := range out {
		out[i] = r.entry(i)
	}
	return out
}

// The record written in one buffer (appendEncoded) is byte for byte the
// record the general way writes (makeRoom, add, keepNewest, then
// event.EncMode's Marshal), and reading it back without the general
// decoder (parseAttribution) gives what the general decoder gives: for
// records from empty to full, batches from one event to more than keep,
// names of every length class, many authors and few.
func TestAttributionRecord_EncodedInOneBufferAsTheGeneralWay(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	written := 0
	for trial := range 400 {
		keep := 1 + r.IntN(70)
		authors := 1 + r.IntN(6)
		if trial%10 == 0 {
			authors = 200 // names to drop: appendEncoded declines
		}
		var stored []byte
		for step := range 8 {
			var rec attributionRecord
			if stored != nil {
				var ok bool
				if rec, ok = parseAttribution(stored); !ok {
					t.Fatalf("trial %d step %d: a canonical record was not parsed: %x", trial, step, stored)
				}
				var general attributionRecord
				if err := attributionDec.Unmarshal(stored, &general); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(rec.Names, general.Names) || !bytes.Equal(rec.Entries, general.Entries) {
					t.Fatalf("trial %d step %d: parsed %v / %d bytes, the general decoder %v / %d", trial, step, rec.Names, len(rec.Entries), general.Names, len(general.Entries))
				}
			}
			more := 1 + r.IntN(keep+3)
			evs := make([]id.EventID, more)
			for i := range evs {
				evs[i] = id.EventID{byte(trial), byte(step), byte(i)}
			}
			author := strings.Repeat("a", r.IntN(300)) + fmt.Sprint(r.IntN(authors))
			peer := fmt.Sprint("p", r.IntN(3))
			if r.IntN(4) == 0 {
				peer = ""
			}
			general := attributionRecord{Names: slices.Clone(rec.Names), Entries: slices.Clone(rec.Entries)}
			general.makeRoom(keep, more)
			for _, ev := range evs {
				general.add(ev, author, peer, int64(step))
			}
			general.keepNewest(keep)
			want, err := event.EncMode().Marshal(general)
			if err != nil {
				t.Fatal(err)
			}
			got := rec.appendEncoded(keep, evs, author, peer, int64(step))
			if got == nil {
				stored = want
				continue
			}
			written++
			if !bytes.Equal(got, want) {
				t.Fatalf("trial %d step %d (keep %d, %d added): one buffer wrote\n%x\nthe general way\n%x", trial, step, keep, more, got, want)
			}
			stored = got
		}
	}
	if written < 1000 {
		t.Fatalf("only %d records were written in one buffer", written)
	}
}

// FuzzParseAttribution: whatever parseAttribution accepts, the general
// decoder accepts too, with the same record.
func FuzzParseAttribution(f *testing.F) {
	var rec attributionRecord
	rec.add(id.EventID{1}, "alice", "peer", 5)
	b, _ := event.EncMode().Marshal(rec)
	f.Add(b)
	f.Add(rec.appendEncoded(64, []id.EventID{{2}}, "bob", "", 6))
	f.Add([]byte{0xa1, 0x02, 0x40})
	f.Add([]byte{0xa2, 0x01, 0x80, 0x02, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, ok := parseAttribution(b)
		if !ok {
			return
		}
		var general attributionRecord
		if err := attributionDec.Unmarshal(b, &general); err != nil {
			t.Fatalf("parsed %x, which the general decoder refuses: %v", b, err)
		}
		if !slices.Equal(rec.Names, general.Names) || !bytes.Equal(rec.Entries, general.Entries) {
			t.Fatalf("%x: parsed %q / %x, the general decoder %q / %x", b, rec.Names, rec.Entries, general.Names, general.Entries)
		}
	})
}

// A record kept in chunks shows, after every commit, exactly the newest
// keep entries of everything added — in order, each with its author, peer
// and time — and stores at most keep + attributionChunk of them while
// commits are small (2 × keep after a batch of many events, or from a
// record written whole by an earlier version): for keeps from 1 to beyond
// a chunk, batches from one event to more than keep, and such whole
// records to start from.
func TestAttributionRecord_ChunksShowTheNewestKeep(t *testing.T) {
	ctx := context.Background()
	n, err := NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	r := rand.New(rand.NewPCG(5, 6))
	eid := id.EntityID{9}
	for trial := range 300 {
		keep := 1 + r.IntN(70)
		var model []Attribution
		var stored *entity.State
		bigBatches := 0
		if trial%5 == 0 {
			// A whole record, as earlier versions wrote it.
			var whole attributionRecord
			for i := range keep {
				ev := id.EventID{byte(trial), 0xff, byte(i)}
				whole.add(ev, "old", "", int64(i))
				model = append(model, Attribution{Event: ev, Author: "old", At: time.UnixMilli(int64(i)).UTC()})
			}
			b, err := event.EncMode().Marshal(whole)
			if err != nil {
				t.Fatal(err)
			}
			stored = &entity.State{ID: eid, Collection: AttributionCollection, Head: event.NewClock(id.EventID{1}), Backends: entity.BackendsOf(map[string][]byte{attributionBackend: b})}
		}
		for step := range 40 {
			more := 1 + r.IntN(3)
			if r.IntN(8) == 0 {
				more = 1 + r.IntN(keep+5)
				bigBatches++
			}
			evs := make([]id.EventID, more)
			author, peer := fmt.Sprint("u", r.IntN(3)), fmt.Sprint("p", r.IntN(2))
			at := int64(1000 + step)
			for i := range evs {
				evs[i] = id.EventID{byte(trial), byte(step), byte(i)}
				model = append(model, Attribution{Event: evs[i], Author: author, Peer: peer, At: time.UnixMilli(at).UTC()})
			}
			backends, err := n.nextAttribution(ctx, eid, stored, keep, evs, author, peer, at)
			if err != nil {
				t.Fatal(err)
			}
			stored = &entity.State{ID: eid, Collection: AttributionCollection, Head: event.NewClock(evs[len(evs)-1]), Backends: backends}
			got, err := n.readAttribution(ctx, stored, keep)
			if err != nil {
				t.Fatal(err)
			}
			want := model[max(0, len(model)-keep):]
			if !slices.Equal(got, want) {
				t.Fatalf("trial %d step %d (keep %d, %d added): read\n%v\nwant\n%v", trial, step, keep, more, got, want)
			}
			all, err := n.readAttribution(ctx, stored, 0)
			if err != nil {
				t.Fatal(err)
			}
			// A chunk holds up to keep entries (a big batch, or a whole
			// record), and is dropped once the newer ones hold keep.
			bound := 2 * keep
			if bigBatches == 0 && trial%5 != 0 {
				bound = keep + min(attributionChunk, keep)
			}
			if len(all) > bound {
				t.Fatalf("trial %d step %d (keep %d): %d entries stored in %d chunks, bound %d", trial, step, keep, len(all), len(backends), bound)
			}
		}
	}
}

// A sealed chunk that does not decode is an error for Attribution and is
// dropped by the next commit, which keeps the rest.
func TestAttributionRecord_DamagedSealedChunk(t *testing.T) {
	ctx := context.Background()
	n, err := NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	eid := id.EntityID{7}
	var stored *entity.State
	for i := range 2*attributionChunk + 1 {
		backends, err := n.nextAttribution(ctx, eid, stored, 64, []id.EventID{{byte(i + 1)}}, "a", "", int64(i))
		if err != nil {
			t.Fatal(err)
		}
		stored = &entity.State{ID: eid, Collection: AttributionCollection, Head: event.NewClock(id.EventID{byte(i + 1)}), Backends: backends}
	}
	if len(stored.Backends) != 3 {
		t.Fatalf("backends after %d commits: %d", 2*attributionChunk+1, len(stored.Backends))
	}
	stored.Backends.Set(attributionSealed+"1", []byte{0xff})
	if _, err := n.readAttribution(ctx, stored, 64); !errors.Is(err, storage.ErrFormat) {
		t.Fatalf("read with a damaged chunk: %v", err)
	}
	backends, err := n.nextAttribution(ctx, eid, stored, 64, []id.EventID{{0xee}}, "a", "", 99)
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.readAttribution(ctx, &entity.State{Backends: backends}, 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != attributionChunk+2 || got[len(got)-1].Event != (id.EventID{0xee}) {
		t.Fatalf("after the damaged chunk: %d entries, last %v", len(got), got[len(got)-1].Event)
	}
}
