package core_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// waitCount waits until a live aggregate counts want rows.
func waitCount(t *testing.T, la *core.LiveAggregate, what string, want int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s: count %d (now %d)", what, want, la.Count()), func() bool { return la.Count() == want })
}

// A live COUNT whose selection follows a reference moves when the
// referenced entity changes — renamed into and out of the selection,
// deleted, created after the rows naming it — as well as when the rows do.
func TestAggregate_CountThroughAReferenceFollowsTheReferencedEntity(t *testing.T) {
	ctx := context.Background()
	m := newMusic(t)
	m.seed() // a1, a3 by Muse; a2 by Blur
	la, err := m.c.Count(ctx, "album", "artist.name = ?", "Muse")
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	if la.Pushdown() {
		t.Fatal("a traversing aggregate was computed by the engine")
	}
	waitCount(t, la, "initial", 2)
	m.edit("artist", "blur", map[string]any{"name": "Muse"})
	waitCount(t, la, "Blur renamed Muse", 3)
	m.edit("artist", "muse", map[string]any{"name": "Matt"})
	waitCount(t, la, "Muse renamed Matt", 1)
	m.create("album", "a4", map[string]any{"title": "Drones", "artist": "@ghost"}) // names an artist not yet made
	m.create("album", "a5", map[string]any{"title": "Origin", "artist": "@muse"})
	waitCount(t, la, "albums by Matt and by nobody", 1)
	m.create("artist", "ghost", map[string]any{"name": "Muse"})
	m.edit("album", "a4", map[string]any{"artist": "@ghost"})
	waitCount(t, la, "a4 re-pointed at a new Muse", 2)
	m.delete("artist", "blur")
	waitCount(t, la, "Blur deleted", 1)
	m.edit("artist", "muse", map[string]any{"name": "Muse"})
	waitCount(t, la, "Matt renamed back", 4) // a1, a3, a5, a4
}

// Two hops, NOT and IS NULL, and GROUP BY: the groups move when a label
// two references away changes, and a path made NULL counts under IS NULL.
func TestAggregate_GroupsThroughTwoHopsAndNull(t *testing.T) {
	ctx := context.Background()
	m := newMusic(t)
	m.seed() // muse -> warp (UK), blur -> subpop (US), other has no label
	m.create("album", "a6", map[string]any{"title": "Solo", "artist": "@other"})
	uk, err := m.c.Aggregate(ctx, "album", core.AggregateSpec{GroupBy: []string{"artist"}}, "artist.label.country = 'UK'")
	if err != nil {
		t.Fatal(err)
	}
	defer uk.Close()
	notUK, err := m.c.Count(ctx, "album", "NOT artist.label.country = 'UK'")
	if err != nil {
		t.Fatal(err)
	}
	defer notUK.Close()
	noLabel, err := m.c.Count(ctx, "album", "artist.label.name IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	defer noLabel.Close()
	waitCount(t, uk, "UK initial", 2)
	if g := uk.Groups(); len(g) != 1 || g[0].Count != 2 {
		t.Fatalf("UK groups = %+v, want one group (Muse) of 2", g)
	}
	waitCount(t, notUK, "not UK initial", 1) // a2 (US); a6's path is NULL
	waitCount(t, noLabel, "no label initial", 1)

	m.edit("artist", "blur", map[string]any{"label": "@warp"})
	waitCount(t, uk, "Blur moved to Warp", 3)
	waitFor(t, "two groups", func() bool { return len(uk.Groups()) == 2 })
	waitCount(t, notUK, "Blur moved to Warp", 0)

	m.edit("label", "warp", map[string]any{"country": "FR"})
	waitCount(t, uk, "Warp moved to France", 0)
	waitCount(t, notUK, "Warp moved to France", 3)

	m.delete("label", "warp")
	waitCount(t, noLabel, "Warp deleted", 4)
	waitCount(t, notUK, "Warp deleted", 0)
}

// An artist the caller may not read makes its albums' paths NULL in a
// live aggregate, as in a fetch: renamed so, it leaves `IS NOT NULL`.
func TestAggregate_ThroughAReferenceHonoursTheCallersReads(t *testing.T) {
	ctx := context.Background()
	n := newNodeOn(t, memory.New(), hideSecret{})
	if err := n.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
		t.Fatal(err)
	}
	m := &music{t: t, n: n, c: n.Context(nil), ids: map[string]id.EntityID{}, of: map[id.EntityID]string{}}
	m.create("artist", "muse", map[string]any{"name": "Muse"})
	m.create("album", "a1", map[string]any{"title": "Absolution", "artist": "@muse"})
	known, err := m.c.Count(ctx, "album", "artist.name IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	defer known.Close()
	waitCount(t, known, "initial", 1)
	m.edit("artist", "muse", map[string]any{"name": "secret"})
	waitCount(t, known, "artist made unreadable", 0)
	m.create("artist", "blur", map[string]any{"name": "Blur"})
	m.edit("album", "a1", map[string]any{"artist": "@blur"})
	waitCount(t, known, "album re-pointed at a readable artist", 1)
}

// An ephemeral client's live count through a reference is kept by its
// durable peer, which follows the reference: renaming the artist on the
// server moves the client's count.
func TestAggregate_ClientCountThroughAReference(t *testing.T) {
	ctx := context.Background()
	m := newMusic(t)
	m.seed()
	cl := m.client(core.Relation{Collection: "album", Property: "artist", Target: "artist"})
	la, err := cl.Context(nil).Count(ctx, "album", "artist.name = 'Muse'")
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	waitCount(t, la, "initial", 2)
	m.edit("artist", "blur", map[string]any{"name": "Muse"})
	waitCount(t, la, "Blur renamed Muse", 3)
}
