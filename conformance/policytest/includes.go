package policytest

import (
	"context"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/value"
)

// runIncludes: a live query's includes hold only entities the caller may
// read. Alice's todo refers to bob's (todo.blocker); her live query that
// includes each todo's blocker, and one that includes the todos referring
// to hers, never hold bob's todos or any of their values — not at the
// start, not when bob edits them or points a todo of his at hers, and not
// on her client over the sync protocol, whose cache never receives them.
// The admin's same live query does include bob's todo (the control). A
// one-shot FetchIncluding with the same includes obeys the same reads.
func runIncludes(t *testing.T, h Harness, newWorld func(*testing.T) *world) {
	ctx := context.Background()
	t.Run("IncludesNeverRevealUnreadableEntities", func(t *testing.T) {
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
			must(t, m.Set("owner", owner))
			must(t, m.Set("title", title))
			if blocker != nil {
				must(t, m.Set("blocker", value.Ref(*blocker)))
			}
			if err := trx.Commit(ctx); err != nil {
				t.Fatalf("create %q: %v", title, err)
			}
			return m.ID()
		}
		edit := func(c *core.Context, eid id.EntityID, prop string, v any) {
			t.Helper()
			trx := c.Begin()
			m, err := trx.Edit(ctx, "todo", eid)
			if err != nil {
				t.Fatal(err)
			}
			must(t, m.Set(prop, v))
			if err := trx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		secret := mk(bob, h.Owner("bob"), "bob's secret", nil)
		mine := mk(alice, h.Owner("alice"), "blocked by bob", &secret)

		// Alice's client subscribes through the server before bob acts.
		client := w.mustConnect(t, "alice")
		if err := client.DeclareRelations(core.Relation{Collection: "todo", Property: "blocker", Target: "todo"}); err != nil {
			t.Fatal(err)
		}
		clientLQ, err := client.Context(nil).Query(ctx, "todo", "title != ?", "none", core.Include("blocker"), core.IncludeReverse("blocks", "todo.blocker"))
		if err != nil {
			t.Fatal(err)
		}
		defer clientLQ.Close()

		type sub struct {
			lq  *core.LiveQuery
			got chan core.ChangeSet
		}
		open := func(c *core.Context) sub {
			t.Helper()
			lq, err := c.Query(ctx, "todo", "title != ?", "none", core.Include("blocker"), core.IncludeReverse("blocks", "todo.blocker"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(lq.Close)
			s := sub{lq, make(chan core.ChangeSet, 64)}
			lq.Subscribe(func(cs core.ChangeSet) { s.got <- cs })
			return s
		}
		wait := func(s sub, who string) core.ChangeSet {
			t.Helper()
			select {
			case cs := <-s.got:
				return cs
			case <-time.After(10 * time.Second): // a guard against hanging, not a timing assertion
				t.Fatalf("%s heard nothing", who)
				return core.ChangeSet{}
			}
		}
		bobOwner := value.MustFrom(h.Owner("bob"))
		noBob := func(who string, cs core.ChangeSet) {
			t.Helper()
			for _, ic := range cs.IncludeChanges {
				if value.Equal(ic.Entity.Get("owner"), bobOwner) || ic.Entity.ID() == secret {
					t.Errorf("%s: include %q reveals bob's todo %q (%s)", who, ic.Name, ic.Entity.Get("title").Raw(), ic.Kind)
				}
			}
			for name, vs := range cs.Included {
				for _, v := range vs {
					if value.Equal(v.Get("owner"), bobOwner) {
						t.Errorf("%s: Included[%q] holds bob's todo %q", who, name, v.Get("title").Raw())
					}
				}
			}
		}
		as1, ad := open(alice), open(admin)
		noBob("alice at the start", wait(as1, "alice"))
		if init := wait(ad, "admin"); len(init.Included["blocker"]) != 1 || init.Included["blocker"][0].ID() != secret {
			t.Fatalf("admin's blocker include = %v, want bob's todo (the control)", init.Included["blocker"])
		}
		// Bob edits his todo and points a new todo of his at alice's.
		edit(bob, secret, "title", "bob's renamed secret")
		theirs := mk(bob, h.Owner("bob"), "bob's todo blocked by alice", &mine)
		edit(bob, theirs, "title", "bob's todo, renamed")
		marker := mk(alice, h.Owner("alice"), "marker", nil)
		cs := wait(as1, "alice")
		noBob("alice after bob's edits", cs)
		if len(cs.Changes) != 1 || cs.Changes[0].Entity.ID() != marker || len(cs.IncludeChanges) != 0 {
			t.Fatalf("alice's first ChangeSet after bob's edits has %d changes and %d include changes, want only her marker", len(cs.Changes), len(cs.IncludeChanges))
		}
		for _, name := range []string{"blocker", "blocks"} {
			if vs := as1.lq.Included(name); len(vs) != 0 {
				t.Errorf("alice's Included(%q) holds %d entities, want none", name, len(vs))
			}
		}
		// The control: the admin followed bob's edits through the includes.
		seen := map[id.EntityID]bool{}
		for len(seen) < 2 {
			for _, ic := range wait(ad, "admin").IncludeChanges {
				if ic.Entity.ID() == secret || ic.Entity.ID() == theirs {
					seen[ic.Entity.ID()] = true
				}
			}
		}

		// Alice's client: it holds the marker (so it heard what came
		// before it) and never received bob's todos.
		deadline := time.Now().Add(10 * time.Second)
		for !holds(clientLQ, marker) {
			if time.Now().After(deadline) {
				t.Fatal("alice's client never received her marker")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// One-shot fetches with the same includes: alice's, on the server
		// and through her client, hold none of bob's todos; the admin's
		// holds both (the control).
		fetch := func(who string, c *core.Context) *core.Result {
			t.Helper()
			res, err := c.FetchIncluding(ctx, "todo", "title != ?", "none", core.Include("blocker"), core.IncludeReverse("blocks", "todo.blocker"))
			if err != nil {
				t.Fatalf("%s's FetchIncluding: %v", who, err)
			}
			return res
		}
		for who, c := range map[string]*core.Context{"alice": alice, "alice's client": client.Context(nil)} {
			res := fetch(who, c)
			noBob(who+"'s fetch", core.ChangeSet{Included: res.Included})
			for _, v := range res.Items {
				if value.Equal(v.Get("owner"), bobOwner) {
					t.Errorf("%s's fetch returns bob's todo %q", who, v.Get("title").Raw())
				}
			}
		}
		if res := fetch("admin", admin); !includes(res.Included["blocker"], secret) || !includes(res.Included["blocks"], theirs) {
			t.Errorf("admin's fetch includes %d blockers and %d blocked todos, want bob's two todos among them (the control)", len(res.Included["blocker"]), len(res.Included["blocks"]))
		}

		coll, err := client.Engine().Collection(ctx, "todo")
		if err != nil {
			t.Fatal(err)
		}
		for _, eid := range []id.EntityID{secret, theirs} {
			if st, err := coll.GetState(ctx, eid); err == nil {
				t.Errorf("alice's client cache holds bob's todo %q", st.Values.Get("title").Raw())
			}
		}
		for _, name := range []string{"blocker", "blocks"} {
			if vs := clientLQ.Included(name); len(vs) != 0 {
				t.Errorf("alice's client Included(%q) holds %d entities, want none", name, len(vs))
			}
		}
	})
}

func includes(vs []*core.View, eid id.EntityID) bool {
	for _, v := range vs {
		if v.ID() == eid {
			return true
		}
	}
	return false
}

func holds(lq *core.LiveQuery, eid id.EntityID) bool {
	for _, v := range lq.Items() {
		if v.ID() == eid {
			return true
		}
	}
	return false
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
