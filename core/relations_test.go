package core_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// music is a node with albums -> artists -> labels declared.
type music struct {
	t   *testing.T
	n   *core.Node
	c   *core.Context
	ids map[string]id.EntityID
	of  map[id.EntityID]string
}

func newMusic(t *testing.T) *music {
	t.Helper()
	n := newNode(t)
	if err := n.DeclareRelations(
		core.Relation{Collection: "album", Property: "artist", Target: "artist"},
		core.Relation{Collection: "artist", Property: "label", Target: "label"},
	); err != nil {
		t.Fatal(err)
	}
	return &music{t: t, n: n, c: n.Context(nil), ids: map[string]id.EntityID{}, of: map[id.EntityID]string{}}
}

// client returns an ephemeral node with rels declared, connected to m's
// node over a Pipe (closed when the test ends).
func (m *music) client(rels ...core.Relation) *core.Node {
	m.t.Helper()
	cl := newNodeOn(m.t, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err := cl.DeclareRelations(rels...); err != nil {
		m.t.Fatal(err)
	}
	link(m.t, m.n, cl)
	return cl
}

// create makes an entity named name in collection with props; a string
// prop value "@x" is a ref to the entity named x.
func (m *music) create(coll, name string, props map[string]any) {
	m.t.Helper()
	ctx := context.Background()
	trx := m.c.Begin()
	mut, err := trx.Create(ctx, coll)
	if err != nil {
		m.t.Fatal(err)
	}
	m.set(mut, props)
	if err := trx.Commit(ctx); err != nil {
		m.t.Fatal(err)
	}
	m.ids[name], m.of[mut.ID()] = mut.ID(), name
}

func (m *music) set(mut *core.Mut, props map[string]any) {
	m.t.Helper()
	for k, v := range props {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "@") {
			v = value.Ref(m.ids[s[1:]])
		}
		if err := mut.Set(k, v); err != nil {
			m.t.Fatal(err)
		}
	}
}

func (m *music) edit(coll, name string, props map[string]any) {
	m.t.Helper()
	ctx := context.Background()
	trx := m.c.Begin()
	mut, err := trx.Edit(ctx, coll, m.ids[name])
	if err != nil {
		m.t.Fatal(err)
	}
	m.set(mut, props)
	if err := trx.Commit(ctx); err != nil {
		m.t.Fatal(err)
	}
}

func (m *music) delete(coll, name string) {
	m.t.Helper()
	ctx := context.Background()
	trx := m.c.Begin()
	if err := trx.Delete(ctx, coll, m.ids[name]); err != nil {
		m.t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		m.t.Fatal(err)
	}
}

func (m *music) names(vs []*core.View) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = m.of[v.ID()]
	}
	slices.Sort(out)
	return out
}

// changes renders a ChangeSet as "+a2 -a1" (sorted).
func (m *music) changes(cs core.ChangeSet) string {
	var out []string
	for _, ch := range cs.Changes {
		sign := map[core.ChangeKind]string{core.Add: "+", core.Remove: "-", core.Update: "~", core.Initial: "="}[ch.Kind]
		out = append(out, sign+m.of[ch.Entity.ID()])
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func (m *music) seed() {
	m.create("label", "warp", map[string]any{"name": "Warp", "country": "UK"})
	m.create("label", "subpop", map[string]any{"name": "Sub Pop", "country": "US"})
	m.create("artist", "muse", map[string]any{"name": "Muse", "label": "@warp"})
	m.create("artist", "blur", map[string]any{"name": "Blur", "label": "@subpop"})
	m.create("artist", "other", map[string]any{"name": "Other"})
	m.create("album", "a1", map[string]any{"title": "Absolution", "artist": "@muse"})
	m.create("album", "a2", map[string]any{"title": "Parklife", "artist": "@blur"})
	m.create("album", "a3", map[string]any{"title": "Showbiz", "artist": "@muse"})
}

// subscribe returns the ChangeSets a live query publishes after its Initial one.
func subscribe(t *testing.T, lq *core.LiveQuery) func() core.ChangeSet {
	t.Helper()
	ch := make(chan core.ChangeSet, 64)
	first := true
	unsub := lq.Subscribe(func(cs core.ChangeSet) {
		if first {
			first = false
			return
		}
		ch <- cs
	})
	t.Cleanup(unsub)
	return func() core.ChangeSet {
		t.Helper()
		select {
		case cs := <-ch:
			return cs
		case <-time.After(10 * time.Second): // a guard against hanging, not a timing assertion
			t.Fatal("no ChangeSet arrived")
			return core.ChangeSet{}
		}
	}
}

func TestDeclareRelations_RefusesAConflictingTarget(t *testing.T) {
	n := newNode(t)
	r := core.Relation{Collection: "album", Property: "artist", Target: "artist"}
	if err := n.DeclareRelations(r, r); err != nil {
		t.Fatal(err)
	}
	if err := n.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "band"}); !errors.Is(err, core.ErrRelation) || !strings.Contains(err.Error(), `"band"`) {
		t.Fatalf("err = %v, want ErrRelation naming the new target", err)
	}
	if err := n.DeclareRelations(core.Relation{Collection: "album", Property: "", Target: "x"}); !errors.Is(err, core.ErrRelation) {
		t.Fatalf("empty property: %v, want ErrRelation", err)
	}
	if got := n.Relations(); len(got) != 1 || got[0] != r {
		t.Fatalf("Relations() = %v", got)
	}
}

func TestFetch_TraversalRefusesCyclesAndDepth(t *testing.T) {
	m := newMusic(t)
	if err := m.n.DeclareRelations(core.Relation{Collection: "label", Property: "founder", Target: "artist"}); err != nil {
		t.Fatal(err)
	}
	_, err := m.c.Fetch(context.Background(), "album", "artist.label.founder.name = 'x'")
	if !errors.Is(err, query.ErrTraversal) || !strings.Contains(err.Error(), "artist.label.founder.name") {
		t.Fatalf("err = %v, want ErrTraversal naming the path", err)
	}
	if _, err := m.c.Query(context.Background(), "album", "artist.label.founder.name = 'x'"); !errors.Is(err, query.ErrTraversal) {
		t.Fatalf("live query: %v, want ErrTraversal", err)
	}
}

func TestLiveQuery_TraversalMovesRootsWhenTheReferencedEntityChanges(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	lq, err := m.c.Query(ctx, "album", "artist.name = ?", "Muse")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	next := subscribe(t, lq)
	if got := m.names(lq.Items()); !slices.Equal(got, []string{"a1", "a3"}) {
		t.Fatalf("initial = %v", got)
	}
	steps := []struct {
		do   func()
		want string
	}{
		// An artist that no term reads changes: nothing (the next step's
		// ChangeSet is the first to arrive).
		{func() { m.edit("artist", "other", map[string]any{"name": "Still Other"}) }, ""},
		{func() { m.edit("artist", "blur", map[string]any{"name": "Muse"}) }, "+a2"},
		{func() { m.edit("artist", "muse", map[string]any{"name": "Mews"}) }, "-a1 -a3"},
		{func() { m.edit("album", "a1", map[string]any{"artist": "@blur"}) }, "+a1"},
		{func() { m.delete("artist", "blur") }, "-a1 -a2"},
		{func() { m.edit("artist", "muse", map[string]any{"name": "Muse"}) }, "+a3"},
	}
	for i, s := range steps {
		s.do()
		if s.want == "" {
			continue
		}
		if got := m.changes(next()); got != s.want {
			t.Fatalf("step %d: ChangeSet %q, want %q", i, got, s.want)
		}
	}
	if got := m.names(lq.Items()); !slices.Equal(got, []string{"a3"}) {
		t.Fatalf("final = %v", got)
	}
	// The live result equals a fresh fetch.
	fresh, err := m.c.Fetch(ctx, "album", "artist.name = ?", "Muse")
	if err != nil || !slices.Equal(m.names(fresh), m.names(lq.Items())) {
		t.Fatalf("fetch = %v (%v), live = %v", m.names(fresh), err, m.names(lq.Items()))
	}
}

func TestLiveQuery_TraversalThroughTwoHopsAndNegation(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	uk, err := m.c.Query(ctx, "album", "artist.label.country = 'UK'")
	if err != nil {
		t.Fatal(err)
	}
	defer uk.Close()
	notUK, err := m.c.Query(ctx, "album", "NOT artist.label.country = 'UK'")
	if err != nil {
		t.Fatal(err)
	}
	defer notUK.Close()
	nextUK, nextNot := subscribe(t, uk), subscribe(t, notUK)
	if a, b := m.names(uk.Items()), m.names(notUK.Items()); !slices.Equal(a, []string{"a1", "a3"}) || !slices.Equal(b, []string{"a2"}) {
		t.Fatalf("initial UK = %v, not UK = %v", a, b)
	}
	m.edit("label", "subpop", map[string]any{"country": "UK"})
	if a, b := m.changes(nextUK()), m.changes(nextNot()); a != "+a2" || b != "-a2" {
		t.Fatalf("label moved to the UK: UK %q, not UK %q", a, b)
	}
	// A label that goes away makes the path NULL: in neither query.
	m.delete("label", "warp")
	if a := m.changes(nextUK()); a != "-a1 -a3" {
		t.Fatalf("label deleted: UK %q", a)
	}
	m.edit("artist", "muse", map[string]any{"label": "@subpop"})
	if a := m.changes(nextUK()); a != "+a1 +a3" {
		t.Fatalf("artist moved to a UK label: UK %q", a)
	}
	if b := m.names(notUK.Items()); len(b) != 0 {
		t.Fatalf("not UK = %v, want none", b)
	}
}

func TestLiveQuery_TraversalWithLimitRefills(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	lq, err := m.c.Query(ctx, "album", "artist.name = 'Muse' ORDER BY title LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	next := subscribe(t, lq)
	if got := m.names(lq.Items()); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("initial = %v", got)
	}
	m.edit("album", "a1", map[string]any{"artist": "@blur"})
	if got := m.changes(next()); got != "+a3 -a1" {
		t.Fatalf("album left: %q", got)
	}
	m.edit("artist", "blur", map[string]any{"name": "Muse"})
	if got := m.changes(next()); got != "+a1 -a3" {
		t.Fatalf("artist renamed: %q", got)
	}
}

// An ephemeral node's fetch of a one-hop traversal asks its durable peer
// for the albums and for the artists the path reads, so it answers as the
// server does.
func TestFetch_TraversalOnAnEphemeralNode(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	cl := m.client(core.Relation{Collection: "album", Property: "artist", Target: "artist"})
	vs, err := cl.Context(nil).Fetch(ctx, "album", "artist.name = ?", "Muse")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(vs); !slices.Equal(got, []string{"a1", "a3"}) {
		t.Fatalf("client fetch = %v, want a1 a3", got)
	}
	m.edit("artist", "blur", map[string]any{"name": "Muse"})
	vs, err = cl.Context(nil).Fetch(ctx, "album", "artist.name = ?", "Muse")
	if err != nil || !slices.Equal(m.names(vs), []string{"a1", "a2", "a3"}) {
		t.Fatalf("client fetch after the rename = %v (%v), want a1 a2 a3", m.names(vs), err)
	}
}

// An ephemeral node's fetch of a two-hop traversal asks its durable peer
// for every hop (labels by the term, then the artists on those labels, then
// the albums), so it answers as the server does with nothing cached.
func TestFetch_TwoHopTraversalOnAnEphemeralNode(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	cl := m.client(core.Relation{Collection: "album", Property: "artist", Target: "artist"}, core.Relation{Collection: "artist", Property: "label", Target: "label"})
	vs, err := cl.Context(nil).Fetch(ctx, "album", "artist.label.country = ?", "UK")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(vs); !slices.Equal(got, []string{"a1", "a3"}) {
		t.Fatalf("client fetch = %v, want a1 a3", got)
	}
	// Blur moves to Warp on the server: the client's next fetch follows.
	m.edit("artist", "blur", map[string]any{"label": "@warp"})
	vs, err = cl.Context(nil).Fetch(ctx, "album", "artist.label.country = ?", "UK")
	if err != nil || !slices.Equal(m.names(vs), []string{"a1", "a2", "a3"}) {
		t.Fatalf("client fetch after the move = %v (%v), want a1 a2 a3", m.names(vs), err)
	}
}

// A traversal term that more than 1,024 referenced entities satisfy is not
// sent to the engine as a set of ids but relaxed (to true, or to false
// under NOT), and the node's exact evaluation decides: the answers stay the
// same.
func TestFetch_TraversalPastTheCandidateBound(t *testing.T) {
	m := newMusic(t)
	ctx := context.Background()
	const artists = 1030
	trx := m.c.Begin()
	var muts []*core.Mut
	for i := range artists {
		mut, _ := trx.Create(ctx, "artist")
		if err := mut.Set("name", fmt.Sprintf("n%d", i)); err != nil {
			t.Fatal(err)
		}
		muts = append(muts, mut)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	trx = m.c.Begin()
	for i := 0; i < artists; i += 100 {
		mut, _ := trx.Create(ctx, "album")
		if err := mut.Set("artist", value.Ref(muts[i].ID())); err != nil {
			t.Fatal(err)
		}
		if err := mut.Set("n", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		t.Helper()
		vs, err := m.c.Fetch(ctx, "album", q)
		if err != nil {
			t.Fatal(err)
		}
		return len(vs)
	}
	for q, want := range map[string]int{
		"artist.name != 'n500'":                  10,
		"NOT artist.name != 'n500'":              1,
		"artist.name LIKE 'n%' AND n < 300":      3,
		"NOT (artist.name LIKE 'n%' OR n > 900)": 0,
		"NOT artist.name LIKE 'x%'":              11,
	} {
		if got := count(q); got != want {
			t.Errorf("%s: %d albums, want %d", q, got, want)
		}
	}
}
