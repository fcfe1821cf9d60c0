package memory

import (
	"context"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// A batch handed over is checked as ever, nothing of a refused one is kept,
// and the caller's state is stored as it is; the shared reads hand back the
// stored state itself while GetState and FetchStates still copy.
func TestApply_HandoverKeepsStatesAndChecksHeads(t *testing.T) {
	ctx := context.Background()
	e := New()
	g := genesis("c", "a")
	st := state(g, 1)
	conflict := &storage.Batch{States: []storage.StateWrite{{State: st, Expected: event.NewClock(g.ID())}}, Handover: true}
	if err := e.Apply(ctx, conflict); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Apply over an unexpected head = %v, want ErrConflict", err)
	}
	c, _ := e.Collection(ctx, "c")
	if _, err := c.GetState(ctx, g.Entity); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused batch left a state: %v", err)
	}
	if err := e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: st}}, Handover: true}); err != nil {
		t.Fatal(err)
	}
	sr := c.(storage.SharedReader)
	shared, err := sr.GetStateShared(ctx, g.Entity)
	if err != nil {
		t.Fatal(err)
	}
	if &shared.Head[0] != &st.Head[0] {
		t.Error("GetStateShared did not return the adopted state")
	}
	sel := &query.Bound{Where: &query.Literal{Value: true}, Limit: -1}
	fetched, err := sr.FetchStatesShared(ctx, sel)
	if err != nil || len(fetched) != 1 || &fetched[0].Head[0] != &st.Head[0] {
		t.Fatalf("FetchStatesShared = %v, %v; want the state handed over", fetched, err)
	}
	copied, err := c.GetState(ctx, g.Entity)
	if err != nil {
		t.Fatal(err)
	}
	copied.Values = copied.Values.With("n", value.Int(9))
	listed, err := c.FetchStates(ctx, sel)
	if err != nil || len(listed) != 1 {
		t.Fatalf("FetchStates = %v, %v", listed, err)
	}
	listed[0].Values = listed[0].Values.With("n", value.Int(8))
	if got := st.Values.Get("n"); got != value.Int(1) {
		t.Errorf("a copy's edit reached the stored state: n = %v", got)
	}
}

// An event handed over is stored as it is, and reads still return copies;
// without Handover the engine keeps a copy of its own.
func TestApply_HandoverKeepsEvents(t *testing.T) {
	ctx := context.Background()
	for _, handover := range []bool{true, false} {
		e := New()
		g := genesis("c", "a")
		if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{g}, States: []storage.StateWrite{{State: state(g, 1)}}, Handover: handover}); err != nil {
			t.Fatal(err)
		}
		kept := e.colls["c"].events[g.ID()]
		if shared := &kept.Operations["lww"][0] == &g.Operations["lww"][0]; shared != handover {
			t.Errorf("Handover %v: the stored event shares the caller's bytes: %v", handover, shared)
		}
		c, _ := e.Collection(ctx, "c")
		got, err := c.GetEvents(ctx, []id.EventID{g.ID()})
		if err != nil || len(got) != 1 {
			t.Fatalf("GetEvents = %v, %v", got, err)
		}
		got[0].Operations["lww"][0] = 'z'
		if g.Operations["lww"][0] != 'a' {
			t.Errorf("Handover %v: an edit of a read event reached the stored one", handover)
		}
	}
}
