package postgres_test

import (
	"context"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/conformance"
	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres"
)

// TestTraversal_CorpusGivesTheSameAnswersWithAndWithoutJoins runs the
// relations corpus through a node on PostgreSQL twice: with traversal
// evaluated as joins (every traversing fetch reaching FetchTraversal) and
// with the node resolving it to sets of ids.
func TestTraversal_CorpusGivesTheSameAnswersWithAndWithoutJoins(t *testing.T) {
	files, err := conformance.LoadRelations()
	if err != nil {
		t.Fatal(err)
	}
	for _, joins := range []bool{true, false} {
		for _, f := range files {
			name := f.Name + "/joins"
			if !joins {
				name = f.Name + "/ids"
			}
			t.Run(name, func(t *testing.T) {
				var opts []postgres.Option
				if !joins {
					opts = append(opts, postgres.WithoutTraversalJoins())
				}
				e := openEngine(t, opts...)
				ctx := context.Background()
				d := f.States(func(c string) string { return c })
				b := &storage.Batch{Events: d.Events}
				for _, states := range d.States {
					for _, s := range states {
						b.States = append(b.States, storage.StateWrite{State: s})
					}
				}
				mustApply(t, e, b)
				coll, err := e.Collection(ctx, f.Root)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := coll.(storage.Traverser); ok != joins {
					t.Fatalf("collection is a storage.Traverser: %v, want %v", ok, joins)
				}
				node, err := core.NewNode(ctx, e, policy.Permissive{})
				if err != nil {
					t.Fatal(err)
				}
				defer node.Close()
				for _, r := range f.Relations {
					if err := node.DeclareRelations(core.Relation{Collection: r.Collection, Property: r.Property, Target: r.Target}); err != nil {
						t.Fatal(err)
					}
				}
				c := node.Context(nil)
				for _, cc := range f.Cases {
					before := postgres.JoinFetches(e)
					got, err := c.Fetch(ctx, f.Root, cc.Query, cc.ArgsAny()...)
					switch {
					case cc.Error:
						if err == nil {
							t.Errorf("%s: no error", cc)
						}
						continue
					case err != nil:
						t.Errorf("%s: %v", cc, err)
						continue
					}
					if err := d.Check(cc, viewIDs(got)); err != nil {
						t.Error(err)
					}
					if joined := postgres.JoinFetches(e) > before; joined != (joins && traverses(t, cc.Query, f)) {
						t.Errorf("%s: evaluated as a join: %v", cc, joined)
					}
				}
			})
		}
	}
}

func viewIDs(vs []*core.View) []id.EntityID {
	out := make([]id.EntityID, len(vs))
	for i, v := range vs {
		out[i] = v.ID()
	}
	return out
}

// traverses reports whether a corpus query follows a declared reference.
func traverses(t *testing.T, q string, f conformance.RelationsFile) bool {
	sel, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := query.SplitTraversals(sel.Where, f.Root, relsOf(f.Relations))
	return tr != nil
}

type relsOf []conformance.CorpusRelation

func (r relsOf) Target(c, p string) (string, bool) {
	for _, x := range r {
		if x.Collection == c && x.Property == p {
			return x.Target, true
		}
	}
	return "", false
}

// hiddenArtists may not read artists whose hidden is true.
type hiddenArtists struct{ policy.Permissive }

func (hiddenArtists) ReadFilter(_ context.Context, _ policy.ContextData, coll string) (query.Expr, error) {
	if coll != "artist" {
		return nil, nil
	}
	sel, err := query.Parse("hidden IS NULL OR hidden = false")
	if err != nil {
		return nil, err
	}
	return sel.Where, nil
}

// musicNode stores artists (muse, a hidden one named Muse, one whose name
// SQL cannot hold, one referring to a label collection never written) and
// an album by each, and returns a node over them with the relations
// declared.
func musicNode(t *testing.T, e *postgres.Engine, agent policy.Agent) (*core.Node, map[string]id.EntityID) {
	t.Helper()
	ctx := context.Background()
	ids := map[string]id.EntityID{}
	add := func(coll, label string, vals map[string]value.Value) {
		ev := genesis(coll, label)
		ids[label] = ev.Entity
		mustApply(t, e, create(ev, vals))
	}
	add("artist", "muse", map[string]value.Value{"name": value.String("Muse")})
	add("artist", "hidden", map[string]value.Value{"name": value.String("Muse"), "hidden": value.Bool(true)})
	add("artist", "nul", map[string]value.Value{"name": value.String("Mu\x00se")}) // a residual row
	add("artist", "signed", map[string]value.Value{"name": value.String("Signed"), "label": value.Ref(genesis("label", "x").Entity)})
	for _, a := range []string{"muse", "hidden", "nul", "signed"} {
		add("album", "by-"+a, map[string]value.Value{"title": value.String(a), "artist": value.Ref(ids[a])})
	}
	node, err := core.NewNode(ctx, e, agent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	if err := node.DeclareRelations(
		core.Relation{Collection: "album", Property: "artist", Target: "artist"},
		core.Relation{Collection: "artist", Property: "label", Target: "label"},
	); err != nil {
		t.Fatal(err)
	}
	return node, ids
}

func fetchLabels(t *testing.T, c *core.Context, ids map[string]id.EntityID, q string, args ...any) []string {
	t.Helper()
	got, err := c.Fetch(context.Background(), "album", q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var out []string
	for _, v := range got {
		for l, eid := range ids {
			if eid == v.ID() {
				out = append(out, l)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestTraversal_JoinsKeepTheNodesRules holds, with traversal evaluated as
// joins, what the node's rules say and what the id-set path answers: an
// artist the caller's read filter hides makes the path NULL (its album is
// neither `= 'Muse'` nor `NOT = 'Muse'`, and is `IS NULL`); an artist
// whose row SQL cannot hold exactly still answers exactly; a reference
// into a collection that was never written reads NULL.
func TestTraversal_JoinsKeepTheNodesRules(t *testing.T) {
	cases := []struct {
		q    string
		args []any
		want []string
	}{
		{"artist.name = 'Muse'", nil, []string{"by-muse"}},
		{"NOT artist.name = 'Muse'", nil, []string{"by-nul", "by-signed"}},
		{"artist.name IS NULL", nil, []string{"by-hidden"}},
		{"artist.name IS NOT NULL", nil, []string{"by-muse", "by-nul", "by-signed"}},
		{"artist.name = ?", []any{"Mu\x00se"}, []string{"by-nul"}},
		{"artist.name LIKE 'Mu%'", nil, []string{"by-muse", "by-nul"}},
		{"artist.label.name IS NULL", nil, []string{"by-hidden", "by-muse", "by-nul", "by-signed"}},
		{"artist.label.name = 'x' OR title = 'signed'", nil, []string{"by-signed"}},
		{"NOT artist.name IN ('Muse') ORDER BY title DESC LIMIT 1", nil, []string{"by-signed"}},
	}
	for _, joins := range []bool{true, false} {
		var opts []postgres.Option
		if !joins {
			opts = append(opts, postgres.WithoutTraversalJoins())
		}
		e := openEngine(t, opts...)
		node, ids := musicNode(t, e, hiddenArtists{})
		c := node.Context(nil)
		for _, tc := range cases {
			before := postgres.JoinFetches(e)
			if got := fetchLabels(t, c, ids, tc.q, tc.args...); !slices.Equal(got, tc.want) {
				t.Errorf("joins %v: %s: got %v, want %v", joins, tc.q, got, tc.want)
			}
			if joined := postgres.JoinFetches(e) > before; joined != joins {
				t.Errorf("joins %v: %s: evaluated as a join: %v", joins, tc.q, joined)
			}
		}
	}
}

// TestTraversal_JoinOfAnUnreadableCollection holds that a caller who may
// not read the traversed collection at all sees every path through it as
// NULL.
func TestTraversal_JoinOfAnUnreadableCollection(t *testing.T) {
	e := openEngine(t)
	node, ids := musicNode(t, e, noArtists{})
	c := node.Context(nil)
	if got := fetchLabels(t, c, ids, "artist.name = 'Muse'"); len(got) != 0 {
		t.Errorf("artist.name = 'Muse': got %v, want none", got)
	}
	if got := fetchLabels(t, c, ids, "artist.name IS NULL"); len(got) != 4 {
		t.Errorf("artist.name IS NULL: got %v, want all four", got)
	}
}

type noArtists struct{ policy.Permissive }

func (noArtists) CanAccessCollection(_ context.Context, _ policy.ContextData, coll string) error {
	if coll == "artist" {
		return storage.ErrNotFound
	}
	return nil
}

// TestTraversal_LiveCountFollowsTheReferenceOnPostgres: a live COUNT
// through a reference on PostgreSQL is counted by the node (the engine's
// aggregator never sees a traversal) and moves when the artist is renamed.
func TestTraversal_LiveCountFollowsTheReferenceOnPostgres(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	node, err := core.NewNode(ctx, e, policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if err := node.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
		t.Fatal(err)
	}
	c := node.Context(nil)
	trx := c.Begin()
	muse, _ := trx.Create(ctx, "artist")
	_ = muse.Set("name", "Muse")
	blur, _ := trx.Create(ctx, "artist")
	_ = blur.Set("name", "Blur")
	if err := trx.Commit(ctx); err != nil { // ids are given at commit
		t.Fatal(err)
	}
	trx = c.Begin()
	for i, a := range []*core.Mut{muse, muse, blur} {
		m, _ := trx.Create(ctx, "album")
		_ = m.Set("title", i)
		_ = m.Set("artist", value.Ref(a.ID()))
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	la, err := c.Count(ctx, "album", "artist.name = ?", "Muse")
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	if la.Pushdown() {
		t.Error("the engine aggregated a selection that follows a reference")
	}
	if la.Count() != 2 {
		t.Fatalf("count = %d, want 2", la.Count())
	}
	trx = c.Begin()
	m, err := trx.Edit(ctx, "artist", blur.ID())
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Set("name", "Muse")
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if la.Count() != 3 {
		t.Fatalf("after renaming Blur: count = %d, want 3", la.Count())
	}
}
