package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// seedDump is the dump of a small store written through a node: two
// collections, an edit and a delete.
func seedDump(f *testing.F) []byte {
	ctx := context.Background()
	e := memory.New()
	node, err := core.NewNode(ctx, e, policy.Permissive{})
	if err != nil {
		f.Fatal(err)
	}
	c := node.Context(nil)
	trx := c.Begin()
	for _, coll := range []string{"album", "album", "artist"} {
		m, err := trx.Create(ctx, coll)
		if err != nil {
			f.Fatal(err)
		}
		if err := m.Set("name", "x"); err != nil {
			f.Fatal(err)
		}
	}
	if err := trx.Commit(ctx); err != nil {
		f.Fatal(err)
	}
	node.Close()
	var b bytes.Buffer
	if _, err := dumpEngine(ctx, e, nil, &b, newProgress(io.Discard)); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

// FuzzLoad reads arbitrary bytes as a dump file into empty memory storage
// (what `ankurah load` does): it never panics, refuses what is not a whole
// dump with an error wrapping ErrNotDump, ErrNewerDump, ErrTruncatedDump or
// ErrLoadConflict (the same entity twice with different states), and what
// loads dumps again to a file that loads into empty storage with the same
// counts (entities repeated in the file loading once).
func FuzzLoad(f *testing.F) {
	dump := seedDump(f)
	f.Add(dump)
	f.Add(dump[:len(dump)/2])
	f.Add([]byte(`{"format":"ankurah-dump","version":2}` + "\n"))
	f.Add([]byte(`{"format":"ankurah-dump","version":1}` + "\n" + `{"end":{"collections":0,"entities":0,"events":0}}` + "\n"))
	f.Add([]byte("not json\n"))
	load := func(b []byte) (*memory.Engine, loadCounts, error) {
		e := memory.New()
		src := &dumpSource{r: bytes.NewReader(b), raw: &countingReader{r: bytes.NewReader(nil)}}
		counts, err := loadEngine(context.Background(), e, src, 0, newProgress(io.Discard))
		return e, counts, err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, counts, err := load(b)
		if err != nil {
			if !errors.Is(err, ErrNotDump) && !errors.Is(err, ErrNewerDump) && !errors.Is(err, ErrTruncatedDump) && !errors.Is(err, ErrLoadConflict) {
				t.Fatalf("load error %v wraps none of the dump errors", err)
			}
			return
		}
		var again bytes.Buffer
		if _, err := dumpEngine(context.Background(), e, nil, &again, newProgress(io.Discard)); err != nil {
			t.Fatalf("what loaded does not dump: %v", err)
		}
		_, counts2, err := load(again.Bytes())
		if err != nil {
			t.Fatalf("the dump of what loaded does not load: %v", err)
		}
		// An entity repeated with the same state loads once (Unchanged); empty
		// collections and repeated events may be dropped by the second dump.
		if counts2.Collections > counts.Collections || counts2.Entities != counts.Entities-counts.Unchanged || counts2.Events > counts.Events || counts2.Unchanged != 0 {
			t.Fatalf("dump∘load changed the counts: %+v, then %+v", counts, counts2)
		}
	})
}
