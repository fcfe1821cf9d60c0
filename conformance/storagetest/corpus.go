package storagetest

import (
	"context"

	"github.com/ankurah/ankurah-go/conformance"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

// corpusCases makes three cases per AnkQL corpus file: without indexes, with
// indexes declared on every property before the data is written, and with
// indexes declared after.
func corpusCases() []Case {
	files, err := conformance.LoadAnkQL()
	if err != nil {
		return []Case{{Name: "AnkQL/Load", Run: func(_ context.Context, t T, _ Harness) {
			t.Fatalf("loading the AnkQL corpus: %v", err)
		}}}
	}
	var cs []Case
	for _, f := range files {
		cs = append(cs,
			Case{"AnkQL/" + f.Name, func(ctx context.Context, t T, h Harness) { runCorpusFile(ctx, t, h, f, noIndexes) }},
			Case{"AnkQL/" + f.Name + "/IndexedBefore", func(ctx context.Context, t T, h Harness) { runCorpusFile(ctx, t, h, f, indexesBefore) }},
			Case{"AnkQL/" + f.Name + "/IndexedAfter", func(ctx context.Context, t T, h Harness) { runCorpusFile(ctx, t, h, f, indexesAfter) }},
		)
	}
	return cs
}

type indexMode int

const (
	noIndexes indexMode = iota
	indexesBefore
	indexesAfter
)

// runCorpusFile writes a corpus file's entities to a fresh collection and
// checks every case of the file against FetchStates.
func runCorpusFile(ctx context.Context, t T, h Harness, f conformance.CorpusFile, mode indexMode) {
	e := h.Engine()
	c := openCollection(ctx, t, e, f.Collection)
	if mode == indexesBefore {
		declareIndexes(ctx, t, h, c.Name(), f.Properties()...)
	}
	states, events := f.States(c.Name())
	b := &storage.Batch{Events: events}
	for _, s := range states {
		b.States = append(b.States, storage.StateWrite{State: s.Clone()})
	}
	mustApply(ctx, t, e, b)
	if mode == indexesAfter {
		declareIndexes(ctx, t, h, c.Name(), f.Properties()...)
	}
	for _, cc := range f.Cases {
		bound, err := query.ParseBound(cc.Query, cc.ArgsAny()...)
		if err != nil {
			if !cc.Error {
				t.Errorf("%s: %v", cc, err)
			}
			continue
		}
		got, err := c.FetchStates(ctx, bound)
		switch {
		case cc.Error && err == nil:
			t.Errorf("%s: FetchStates returned %d states, want an error", cc, len(got))
		case cc.Error:
		case err != nil:
			t.Errorf("%s: FetchStates: %v", cc, err)
		default:
			if err := f.Check(cc, states, got); err != nil {
				t.Errorf("FetchStates %v", err)
			}
		}
	}
}
