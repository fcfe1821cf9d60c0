package core_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// viewNames is the "name" of every view, in order.
func viewNames(vs []*core.View) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i], _ = v.Get("name").AsString()
	}
	return strings.Join(out, ",")
}

// A live query nothing listens to keeps no copy of its result per commit;
// its items signal and a late subscriber still start from the result as it
// is now, and every ChangeSet after that carries the result after it.
func TestLiveQuery_ListenedLateStartsFromTheCurrentResult(t *testing.T) {
	for _, grouped := range []bool{false, true} {
		t.Run(fmt.Sprintf("grouped=%v", grouped), func(t *testing.T) {
			ctx := context.Background()
			n, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
			must(t, err)
			defer n.Close()
			c := n.Context(nil)
			ids := createAlbums(t, c, album{"a", "x", 2001}, album{"b", "x", 1990}, album{"c", "x", 2003})
			const q = "year >= 2000 ORDER BY name"
			lq, err := c.Query(ctx, "album", q)
			must(t, err)
			defer lq.Close()
			if grouped {
				// A second query of the same selection that is listened to
				// from the start: the two may share a result.
				other, err := c.Query(ctx, "album", q)
				must(t, err)
				defer other.Close()
				other.Subscribe(func(core.ChangeSet) {})
			}
			// Commits while nothing listens: one enters, one leaves, one
			// changes.
			trx := c.Begin()
			m, err := trx.Edit(ctx, "album", ids[1])
			must(t, err)
			must(t, m.Set("year", 2010))
			m, err = trx.Edit(ctx, "album", ids[0])
			must(t, err)
			must(t, m.Set("year", 1980))
			m, err = trx.Edit(ctx, "album", ids[2])
			must(t, err)
			must(t, m.Set("name", "d"))
			must(t, trx.Commit(ctx))
			createAlbums(t, c, album{"e", "x", 2020})

			if got, want := viewNames(lq.Items()), "b,d,e"; got != want {
				t.Fatalf("Items() = %s, want %s", got, want)
			}
			if got, want := viewNames(lq.Signal().Get()), "b,d,e"; got != want {
				t.Fatalf("Signal().Get() after commits nothing heard = %s, want %s", got, want)
			}
			sets := make(chan core.ChangeSet, 8)
			unsub := lq.Subscribe(func(cs core.ChangeSet) { sets <- cs })
			defer unsub()
			next := func() core.ChangeSet {
				t.Helper()
				select {
				case cs := <-sets:
					return cs
				case <-time.After(10 * time.Second):
					t.Fatal("no ChangeSet within 10s")
					return core.ChangeSet{}
				}
			}
			init := next()
			if got, want := viewNames(init.Items), "b,d,e"; got != want {
				t.Fatalf("initial ChangeSet Items = %s, want %s", got, want)
			}
			for _, ch := range init.Changes {
				if ch.Kind != core.Initial {
					t.Fatalf("initial ChangeSet has a %v change", ch.Kind)
				}
			}
			createAlbums(t, c, album{"c2", "x", 2030})
			cs := next()
			if got, want := viewNames(cs.Items), "b,c2,d,e"; got != want {
				t.Fatalf("ChangeSet Items after an add = %s, want %s", got, want)
			}
			if len(cs.Changes) != 1 || cs.Changes[0].Kind != core.Add {
				t.Fatalf("ChangeSet after an add: %+v", cs.Changes)
			}
			deadline := time.Now().Add(10 * time.Second)
			for viewNames(lq.Signal().Get()) != "b,c2,d,e" {
				if time.Now().After(deadline) {
					t.Fatalf("Signal().Get() = %s, want b,c2,d,e", viewNames(lq.Signal().Get()))
				}
				time.Sleep(time.Millisecond)
			}
			// A ChangeSet's Items stay as they were when it was published:
			// later commits do not write into them.
			createAlbums(t, c, album{"a0", "x", 2040})
			if got := viewNames(next().Items); got != "a0,b,c2,d,e" {
				t.Fatalf("ChangeSet Items after a second add = %s", got)
			}
			if got := viewNames(cs.Items); got != "b,c2,d,e" {
				t.Fatalf("an earlier ChangeSet's Items changed to %s", got)
			}
		})
	}
}
