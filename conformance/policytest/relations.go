package policytest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// runRelations: a path that follows a reference through an entity the
// caller may not read is NULL for that caller — exactly as if the entity did
// not exist — so no comparison through it is ever true, NOT of one is not
// true either, and a live query never moves when the unreadable entity
// changes. The scenario declares todo.blocker as a reference to another todo.
func runRelations(t *testing.T, h Harness, newWorld func(*testing.T) *world) {
	ctx := context.Background()
	t.Run("RelationsNeverRevealUnreadableEntities", func(t *testing.T) {
		w := newWorld(t)
		if err := w.server.DeclareRelations(core.Relation{Collection: "todo", Property: "blocker", Target: "todo"}); err != nil {
			t.Fatal(err)
		}
		as := func(user string) *core.Context {
			cdata, err := h.Agent.Authenticate(ctx, policy.Peer{NodeID: user}, h.Credentials(user))
			if err != nil {
				t.Fatalf("authenticate %s: %v", user, err)
			}
			return w.server.Context(cdata)
		}
		alice, bob, admin := as("alice"), as("bob"), as("admin")
		mk := func(c *core.Context, owner any, title string, blocker *id.EntityID) id.EntityID {
			t.Helper()
			trx := c.Begin()
			m, err := trx.Create(ctx, "todo")
			if err != nil {
				t.Fatal(err)
			}
			props := map[string]any{"owner": owner, "title": title}
			if blocker != nil {
				props["blocker"] = value.Ref(*blocker)
			}
			for k, v := range props {
				if err := m.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			if err := trx.Commit(ctx); err != nil {
				t.Fatalf("create %q: %v", title, err)
			}
			return m.ID()
		}
		secret := mk(bob, h.Owner("bob"), "bob's secret", nil)
		missing := id.EntityID{0xde, 0xad}
		blocked := mk(alice, h.Owner("alice"), "blocked by bob", &secret)
		dangling := mk(alice, h.Owner("alice"), "blocked by nothing", &missing)

		titles := func(c *core.Context, q string, args ...any) []string {
			t.Helper()
			vs, err := c.Fetch(ctx, "todo", q, args...)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			var out []string
			for _, v := range vs {
				out = append(out, v.Get("title").Raw())
			}
			slices.Sort(out)
			return out
		}
		for _, q := range []string{
			"blocker.title = 'bob''s secret'",
			"blocker.title != 'anything'",
			"NOT blocker.title = 'anything'",
			"blocker.title LIKE '%'",
			"blocker.title IN ('bob''s secret', 'x')",
			"blocker.title NOT IN ('x')",
			"blocker.owner IS NOT NULL",
			"NOT blocker.title IS NULL",
		} {
			if got := titles(alice, q); len(got) != 0 {
				t.Errorf("alice: %s matches %v: it reveals bob's todo", q, got)
			}
		}
		// NULL, as for a reference to nothing: the two are indistinguishable.
		if got := titles(alice, "blocker.title IS NULL"); !slices.Equal(got, []string{"blocked by bob", "blocked by nothing"}) {
			t.Errorf("alice: blocker.title IS NULL = %v, want both of her todos", got)
		}
		// The same traversal is answered for a caller who may read bob's todo.
		if got := titles(admin, "blocker.title = ?", "bob's secret"); !slices.Equal(got, []string{"blocked by bob"}) {
			t.Errorf("admin: blocker.title = 'bob''s secret' = %v, want alice's blocked todo", got)
		}

		// Live: bob's changes to his todo never move alice's rows; her own
		// marker commit, made after them, is the first thing she hears.
		lq, err := alice.Query(ctx, "todo", "blocker.title = ? OR NOT blocker.title = ? OR title = 'marker'", "bob's secret", "renamed")
		if err != nil {
			t.Fatal(err)
		}
		defer lq.Close()
		adminLQ, err := admin.Query(ctx, "todo", "blocker.title = ?", "renamed")
		if err != nil {
			t.Fatal(err)
		}
		defer adminLQ.Close()
		got := make(chan core.ChangeSet, 16)
		adminGot := make(chan core.ChangeSet, 16)
		lq.Subscribe(func(cs core.ChangeSet) { got <- cs })
		adminLQ.Subscribe(func(cs core.ChangeSet) { adminGot <- cs })
		<-got
		<-adminGot
		if len(lq.Items()) != 0 {
			t.Fatalf("alice's live query starts with %d rows, want none", len(lq.Items()))
		}
		for _, title := range []string{"renamed", "bob's secret", "renamed"} {
			trx := bob.Begin()
			m, err := trx.Edit(ctx, "todo", secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Set("title", title); err != nil {
				t.Fatal(err)
			}
			if err := trx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		mk(alice, h.Owner("alice"), "marker", nil)
		wait := func(ch chan core.ChangeSet, who string) core.ChangeSet {
			select {
			case cs := <-ch:
				return cs
			case <-time.After(10 * time.Second): // a guard against hanging, not a timing assertion
				t.Fatalf("%s heard nothing", who)
				return core.ChangeSet{}
			}
		}
		cs := wait(got, "alice")
		if len(cs.Changes) != 1 || cs.Changes[0].Entity.Get("title").Raw() != "marker" {
			var seen []string
			for _, c := range cs.Changes {
				seen = append(seen, c.Kind.String()+" "+c.Entity.Get("title").Raw())
			}
			t.Fatalf("alice's first ChangeSet after bob's edits is %v, want only her marker", seen)
		}
		// The admin's traversal did follow bob's edits.
		if cs := wait(adminGot, "admin"); len(cs.Changes) != 1 || cs.Changes[0].Kind != core.Add || cs.Changes[0].Entity.ID() != blocked {
			t.Fatalf("admin's first ChangeSet = %+v, want alice's blocked todo added", cs.Changes)
		}
		_ = dangling

		// Over the sync protocol: alice's client asks the server, which
		// resolves the traversal as alice.
		client := w.mustConnect(t, "alice")
		vs, err := client.Context(nil).Fetch(ctx, "todo", "blocker.title = ?", "renamed")
		if err != nil || len(vs) != 0 {
			t.Fatalf("alice's client: %d rows, %v; want none", len(vs), err)
		}

		// A live traversal on alice's client: the server sends the entities
		// her rows' paths pass through with the rows, never bob's todo.
		eng := memory.New()
		cn, err := core.NewNode(ctx, eng, policy.Permissive{}, core.WithRole(core.Ephemeral))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cn.Close() })
		if err := cn.DeclareRelations(core.Relation{Collection: "todo", Property: "blocker", Target: "todo"}); err != nil {
			t.Fatal(err)
		}
		pa, pb := transport.Pipe()
		go w.server.Accept(ctx, pa)
		peer, err := cn.Connect(ctx, pb, h.Credentials("alice"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { peer.Close() })
		live, err := cn.Context(nil).Query(ctx, "todo", "blocker.title IS NULL OR blocker.title = ?", "blocked by bob")
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		rowTitles := func() []string {
			var out []string
			for _, v := range live.Items() {
				out = append(out, v.Get("title").Raw())
			}
			slices.Sort(out)
			return out
		}
		marker2 := mk(alice, h.Owner("alice"), "marker 2", &blocked)
		deadline := time.Now().Add(10 * time.Second) // a guard against hanging, not a timing assertion
		want := []string{"blocked by bob", "blocked by nothing", "marker", "marker 2"}
		for !slices.Equal(rowTitles(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("alice's client live traversal = %v, want %v", rowTitles(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		coll, err := eng.Collection(ctx, "todo")
		if err != nil {
			t.Fatal(err)
		}
		if st, err := coll.GetState(ctx, secret); err == nil && !st.Deleted() {
			t.Fatalf("alice's client holds bob's todo (%v): a path entity the server sent reveals it", st.Values.Get("title"))
		}
		if _, err := coll.GetState(ctx, blocked); err != nil {
			t.Fatalf("alice's client lacks the todo marker 2's path passes through: %v", err)
		}
		_ = marker2
	})
}
