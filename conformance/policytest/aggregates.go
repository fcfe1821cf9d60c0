package policytest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
)

// runAggregates: live aggregates count only the rows the caller may read —
// a count, the groups of a GROUP BY and the min/max of a property never
// reveal another user's entity or value, neither at first nor as commits land.
func runAggregates(t *testing.T, h Harness, newWorld func(*testing.T) *world) {
	ctx := context.Background()
	t.Run("AggregatesCountOnlyReadableRows", func(t *testing.T) {
		w := newWorld(t)
		alice, bob, admin := w.mustConnect(t, "alice"), w.mustConnect(t, "bob"), w.mustConnect(t, "admin")
		for _, title := range []string{"bob's secret", "zzz bob's last"} {
			if _, err := create(ctx, bob, h.Owner("bob"), title); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := create(ctx, alice, h.Owner("alice"), "alice's"); err != nil {
			t.Fatal(err)
		}
		count, err := alice.Context(nil).Count(ctx, "todo", "true")
		if err != nil {
			t.Fatal(err)
		}
		defer count.Close()
		byOwner, err := alice.Context(nil).Aggregate(ctx, "todo", core.AggregateSpec{GroupBy: []string{"owner"}, Aggs: []core.Agg{core.MinOf("title"), core.MaxOf("title")}}, "true")
		if err != nil {
			t.Fatal(err)
		}
		defer byOwner.Close()
		all, err := admin.Context(nil).Count(ctx, "todo", "true")
		if err != nil {
			t.Fatal(err)
		}
		defer all.Close()
		leak := func() string {
			for _, g := range byOwner.Groups() {
				for _, v := range append(append([]any{}, g.Key[0].Text()), g.Values[0].Text(), g.Values[1].Text()) {
					if s := v.(string); strings.Contains(s, "bob") {
						return s
					}
				}
			}
			return ""
		}
		if c := count.Count(); c != 1 {
			t.Fatalf("alice counts %d todos, want her 1", c)
		}
		if s := leak(); s != "" {
			t.Fatalf("alice's aggregate shows %s", s)
		}
		if c := all.Count(); c != 3 {
			t.Fatalf("admin counts %d todos, want 3", c)
		}
		// Bob's new row changes nothing for alice; her own does (and, sent
		// after bob's, shows his was never counted).
		if _, err := create(ctx, bob, h.Owner("bob"), "bob's newest"); err != nil {
			t.Fatal(err)
		}
		if _, err := create(ctx, alice, h.Owner("alice"), "alice's second"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for count.Count() != 2 || len(byOwner.Groups()) != 1 || byOwner.Groups()[0].Count != 2 || all.Count() != 5 {
			if count.Count() > 2 || len(byOwner.Groups()) > 1 {
				t.Fatalf("alice counts %d todos in %d groups", count.Count(), len(byOwner.Groups()))
			}
			if time.Now().After(deadline) {
				t.Fatalf("counts never reached alice 2 / admin 5: %d / %d", count.Count(), all.Count())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if s := leak(); s != "" {
			t.Fatalf("alice's aggregate shows %s", s)
		}
	})
}
