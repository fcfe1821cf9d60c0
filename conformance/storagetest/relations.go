package storagetest

import (
	"context"

	"github.com/ankurah/ankurah-go/conformance"
	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
)

// relationCases makes two cases per relations corpus file: the file's
// queries run through a node on the engine (which resolves traversal and
// hands the engine sets of referenced ids), without indexes and with an
// index on every property declared before the data is written.
func relationCases() []Case {
	files, err := conformance.LoadRelations()
	if err != nil {
		return []Case{{Name: "Relations/Load", Run: func(_ context.Context, t T, _ Harness) {
			t.Fatalf("loading the relations corpus: %v", err)
		}}}
	}
	var cs []Case
	for _, f := range files {
		cs = append(cs,
			Case{"Relations/" + f.Name, func(ctx context.Context, t T, h Harness) { runRelationsFile(ctx, t, h, f, false) }},
			Case{"Relations/" + f.Name + "/Indexed", func(ctx context.Context, t T, h Harness) { runRelationsFile(ctx, t, h, f, true) }},
		)
	}
	return cs
}

func runRelationsFile(ctx context.Context, t T, h Harness, f conformance.RelationsFile, indexed bool) {
	e := h.Engine()
	names := map[string]string{}
	for coll := range f.Collections {
		names[coll] = openCollection(ctx, t, e, coll).Name()
	}
	name := func(c string) string { return names[c] }
	d := f.States(name)
	if indexed {
		for coll, states := range d.States {
			props := map[string]bool{}
			for _, s := range states {
				for p := range s.Values.All() {
					props[p] = true
				}
			}
			var ps []string
			for p := range props {
				ps = append(ps, p)
			}
			declareIndexes(ctx, t, h, name(coll), ps...)
		}
	}
	b := &storage.Batch{Events: d.Events}
	for _, states := range d.States {
		for _, s := range states {
			b.States = append(b.States, storage.StateWrite{State: s.Clone()})
		}
	}
	mustApply(ctx, t, e, b)

	node, err := core.NewNode(ctx, e, policy.Permissive{})
	if err != nil {
		t.Fatalf("NewNode on the engine: %v", err)
	}
	defer node.Close()
	for _, r := range f.Relations {
		if err := node.DeclareRelations(core.Relation{Collection: name(r.Collection), Property: r.Property, Target: name(r.Target)}); err != nil {
			t.Fatalf("DeclareRelations: %v", err)
		}
	}
	c := node.Context(nil)
	for _, cc := range f.Cases {
		got, err := c.Fetch(ctx, name(f.Root), cc.Query, cc.ArgsAny()...)
		switch {
		case cc.Error && err == nil:
			t.Errorf("%s: Fetch returned %d entities, want an error", cc, len(got))
		case cc.Error:
		case err != nil:
			t.Errorf("%s: Fetch: %v", cc, err)
		default:
			ids := make([]id.EntityID, len(got))
			for i, v := range got {
				ids[i] = v.ID()
			}
			if err := d.Check(cc, ids); err != nil {
				t.Errorf("Fetch through a node %v", err)
			}
		}
	}
}
