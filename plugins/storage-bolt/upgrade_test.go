package bolt_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// writeFormat1 writes a file as releases before core/storage/kv did: two
// entities of "album" (one edited once), an index on year.
func writeFormat1(t *testing.T, path string) (evs []event.Event, years map[id.EntityID]int64) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	years = map[id.EntityID]int64{}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		if err := meta.Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 1)); err != nil {
			return err
		}
		colls, _ := tx.CreateBucket([]byte("collections"))
		c, _ := colls.CreateBucket([]byte("album"))
		states, _ := c.CreateBucket([]byte("states"))
		events, _ := c.CreateBucket([]byte("events"))
		declared, _ := c.CreateBucket([]byte("indexes"))
		index, _ := c.CreateBucket([]byte("index"))
		if err := declared.Put([]byte("year"), nil); err != nil {
			return err
		}
		for n, year := range []int64{1959, 1970} {
			ev, s := genesis("album", uint64(n), map[string]value.Value{"year": value.Int(year)})
			chain := []event.Event{ev}
			if n == 1 {
				edit := event.Event{Collection: "album", Entity: s.ID, Parent: s.Head, Operations: map[string][]byte{"lww": []byte("more")}}
				s.Head = s.Head.Advance(edit.ID(), edit.Parent)
				chain = append(chain, edit)
			}
			raw, err := s.Encode()
			if err != nil {
				return err
			}
			if err := states.Put(s.ID[:], raw); err != nil {
				return err
			}
			for _, e := range chain {
				raw, err := e.Encode()
				if err != nil {
					return err
				}
				eid := e.ID()
				if err := events.Put(eid[:], raw); err != nil {
					return err
				}
				if err := states.Put(append(slices.Clone(s.ID[:]), eid[:]...), nil); err != nil {
					return err
				}
			}
			ik := append(keyenc.Append(keyenc.AppendString(nil, "year"), value.Int(year)), s.ID[:]...)
			if err := index.Put(ik, nil); err != nil {
				return err
			}
			evs = append(evs, chain...)
			years[s.ID] = year
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, years
}

func TestOpen_UpgradesFormat1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	evs, years := writeFormat1(t, path)
	for round := range 2 { // upgraded, then opened as format 2
		e, err := bolt.Open(ctx, path)
		if err != nil {
			t.Fatalf("round %d: Open of a format 1 file: %v", round, err)
		}
		c, err := e.LookupCollection(ctx, "album")
		if err != nil {
			t.Fatal(err)
		}
		for eid, year := range years {
			s, err := c.GetState(ctx, eid)
			if err != nil {
				t.Fatal(err)
			}
			if y, _ := s.Value("year").AsInt(); y != year {
				t.Errorf("year of %s = %d, want %d", eid, y, year)
			}
		}
		last := evs[len(evs)-1]
		got, err := c.EntityEvents(ctx, last.Entity)
		if err != nil || len(got) != 2 {
			t.Errorf("EntityEvents of the edited entity: %d events, %v; want 2", len(got), err)
		}
		sel := mustBound(t, "year > 1960 ORDER BY year DESC")
		if plan, _ := e.Explain(ctx, "album", sel); plan != `index "year", 1 ranges, reverse, serves the order` {
			t.Errorf("Explain after the upgrade = %q, want the year index", plan)
		}
		states, err := c.FetchStates(ctx, sel)
		if err != nil || len(states) != 1 || states[0].ID != last.Entity {
			t.Errorf("FetchStates through the upgraded index = %d states, %v", len(states), err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
