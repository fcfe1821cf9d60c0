package core

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// A grouped live query that is first listened to while it is re-pointed
// (listen has marked it heard; UpdateSelection joins it to its group as a
// listening member before listen goes on) still gets its result in its
// items signal. The interleaving is made by hand: listen's first step, then
// the re-point, then listen.
func TestLiveQuery_FirstListenedWhileRepointedSetsTheSignal(t *testing.T) {
	ctx := context.Background()
	n, err := NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := n.Context(nil)
	trx := c.Begin()
	for _, name := range []string{"a", "b", "c"} {
		m, err := trx.Create(ctx, "album")
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Set("name", name); err != nil {
			t.Fatal(err)
		}
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	const q = "true ORDER BY name LIMIT 2"
	other, err := c.Query(ctx, "album", q) // keeps the group alive, listened to
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.Subscribe(func(ChangeSet) {})
	lq, err := c.Query(ctx, "album", q)
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	if lq.grp == nil {
		t.Skip("the two queries did not group: nothing to re-point between")
	}
	lq.mu.Lock()
	lq.heard = true // listen's first step
	lq.mu.Unlock()
	if err := lq.UpdateSelection(ctx, q); err != nil {
		t.Fatal(err)
	}
	lq.listen()
	names := func(vs []*View) string {
		out := ""
		for _, v := range vs {
			s, _ := v.Get("name").AsString()
			out += s
		}
		return out
	}
	if got, want := names(lq.itemsSig.Get()), names(lq.Items()); got != want || want != "ab" {
		t.Fatalf("items signal %q, Items() %q, want both \"ab\"", got, want)
	}
}
