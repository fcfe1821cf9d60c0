package memory

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

const benchEntities = 10_000

func benchStates() []entity.State {
	out := make([]entity.State, benchEntities)
	for i := range out {
		g := genesis("album", fmt.Sprint(i))
		out[i] = entity.State{ID: g.Entity, Collection: "album", Head: event.NewClock(g.ID()),
			Backends: entity.BackendsOf(map[string][]byte{"lww": []byte("0123456789abcdef")}),
			Values: value.FieldsOf(map[string]value.Value{
				"n":     value.Int(int64(i)),
				"group": value.String(fmt.Sprintf("g%02d", i%50)),
				"name":  value.String(fmt.Sprint("album ", i)),
			})}
	}
	return out
}

// BenchmarkFetchStates: a selective query over 10k entities, through the
// engine (plan, snapshot or index scan under the lock, compiled predicate,
// sort, copies), without an index (a full scan), with an index on the
// equality term's property (group: 200 candidates), and with an index on the
// ORDER BY property only (n: a reverse scan that stops after 10 matches).
func BenchmarkFetchStates(b *testing.B) {
	for _, ix := range []string{"none", "group", "n"} {
		b.Run("index="+ix, func(b *testing.B) {
			ctx := context.Background()
			e := New()
			if ix != "none" {
				if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: ix}); err != nil {
					b.Fatal(err)
				}
			}
			var batch storage.Batch
			for _, s := range benchStates() {
				batch.States = append(batch.States, storage.StateWrite{State: s})
			}
			if err := e.Apply(ctx, &batch); err != nil {
				b.Fatal(err)
			}
			c, _ := e.Collection(ctx, "album")
			sel, err := query.ParseBound("group = ? ORDER BY n DESC LIMIT 10", "g07")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				got, err := c.FetchStates(ctx, sel)
				if err != nil || len(got) != 10 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}

// BenchmarkBaseline_SliceScan is the floor for BenchmarkFetchStates: the
// same filter hand-written over a plain slice, no lock, no compile, no copies.
func BenchmarkBaseline_SliceScan(b *testing.B) {
	states := benchStates()
	want := value.String("g07")
	b.ReportAllocs()
	for b.Loop() {
		var out []entity.State
		for _, s := range states {
			if s.Values.Get("group") == want {
				out = append(out, s)
			}
		}
		slices.SortFunc(out, func(x, y entity.State) int { return -value.Compare(x.Values.Get("n"), y.Values.Get("n")) })
		if len(out) > 10 {
			out = out[:10]
		}
		if len(out) != 10 {
			b.Fatal(len(out))
		}
	}
}

// BenchmarkApply: one commit creating one entity (event + state), without
// indexes and with two declared indexes to keep current.
func BenchmarkApply(b *testing.B) {
	for _, indexes := range []int{0, 2} {
		b.Run(fmt.Sprint("indexes=", indexes), func(b *testing.B) {
			ctx := context.Background()
			e := New()
			for _, p := range []string{"group", "n"}[:indexes] {
				if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: p}); err != nil {
					b.Fatal(err)
				}
			}
			states := benchStates()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				s := states[i%len(states)]
				s.ID = id.EntityID{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24), 1}
				i++
				if err := e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: s}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaseline_MapInsert is the floor for BenchmarkApply: a map insert
// of a deep-copied state under a mutex-free loop.
func BenchmarkBaseline_MapInsert(b *testing.B) {
	m := map[id.EntityID]entity.State{}
	states := benchStates()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		s := states[i%len(states)]
		s.ID = id.EntityID{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24), 1}
		i++
		m[s.ID] = s.Clone()
	}
}

// BenchmarkResidual splits BenchmarkFetchStates: the residual filter alone
// over the same 10k states, with each evaluator.
func BenchmarkResidual(b *testing.B) {
	states := benchStates()
	sel, err := query.ParseBound("group = ? ORDER BY n DESC LIMIT 10", "g07")
	if err != nil {
		b.Fatal(err)
	}
	for _, ev := range []struct {
		name    string
		compile func(*query.Bound, query.Schema) (query.Program, error)
	}{{"interp", query.CompileInterp}, {"cel", query.CompileCEL}} {
		b.Run(ev.name, func(b *testing.B) {
			prog, err := ev.compile(sel, nil)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]entity.State, len(states))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, states)
				got, err := storage.Residual(buf, prog, sel.OrderBy, sel.Limit)
				if err != nil || len(got) != 10 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}

// BenchmarkApply_CatchUp: a fresh replica storing 100,000 states in parts of
// 2,000 in id order, handed over (as a client stores a query's streamed
// answer): what the engine's table of states costs as it grows.
func BenchmarkApply_CatchUp(b *testing.B) {
	ctx := context.Background()
	const total, part = 100_000, 2_000
	src := benchStates()
	states := make([]entity.State, total)
	for i := range states {
		states[i] = src[i%len(src)]
		states[i].ID = id.EntityID{0, byte(i >> 16), byte(i >> 8), byte(i), 1}
	}
	b.ReportAllocs()
	for b.Loop() {
		e := New()
		for at := 0; at < total; at += part {
			w := make([]storage.StateWrite, part)
			for i := range w {
				w[i].State = states[at+i]
			}
			if err := e.Apply(ctx, &storage.Batch{States: w, Handover: true}); err != nil {
				b.Fatal(err)
			}
		}
		e.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/state")
}
