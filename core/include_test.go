package core_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// includes renders a ChangeSet's include changes as "+blur ~muse" (sorted;
// "=" for Initial).
func (m *music) includes(cs core.ChangeSet) string {
	var out []string
	for _, ch := range cs.IncludeChanges {
		sign := map[core.ChangeKind]string{core.Add: "+", core.Remove: "-", core.Update: "~", core.Initial: "="}[ch.Kind]
		out = append(out, ch.Name+":"+sign+m.of[ch.Entity.ID()])
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func (m *music) commit(do func(trx *core.Transaction)) {
	m.t.Helper()
	trx := m.c.Begin()
	do(trx)
	if err := trx.Commit(context.Background()); err != nil {
		m.t.Fatal(err)
	}
}

func (m *music) editIn(trx *core.Transaction, coll, name string, props map[string]any) {
	m.t.Helper()
	mut, err := trx.Edit(context.Background(), coll, m.ids[name])
	if err != nil {
		m.t.Fatal(err)
	}
	m.set(mut, props)
}

// initialOf subscribes and returns the Initial ChangeSet and the later ones.
func initialOf(t *testing.T, lq *core.LiveQuery) (core.ChangeSet, func() core.ChangeSet) {
	t.Helper()
	first := make(chan core.ChangeSet, 1)
	ch := make(chan core.ChangeSet, 64)
	got := false
	unsub := lq.Subscribe(func(cs core.ChangeSet) {
		if !got {
			got = true
			first <- cs
			return
		}
		ch <- cs
	})
	t.Cleanup(unsub)
	next := func() core.ChangeSet {
		t.Helper()
		return recv(t, ch)
	}
	return recv(t, first), next
}

func TestLiveQuery_IncludeDeliversEachRowsReferencedEntityInTheSameChangeSet(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	lq, err := m.c.Query(ctx, "album", "title != ?", "Nothing", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	init, next := initialOf(t, lq)
	if got := m.includes(init); got != "artist:=blur artist:=muse" {
		t.Fatalf("initial includes = %q", got)
	}
	if got := m.names(init.Included["artist"]); !slices.Equal(got, []string{"blur", "muse"}) {
		t.Fatalf("initial Included = %v", got)
	}
	steps := []struct {
		name      string
		do        func()
		rows, inc string
	}{
		{"an included artist renamed: a ChangeSet of includes alone", func() { m.edit("artist", "muse", map[string]any{"name": "MUSE"}) }, "", "artist:~muse"},
		{"an album re-pointed: the new artist in, the old one out, with the album", func() { m.edit("album", "a2", map[string]any{"artist": "@other"}) }, "~a2", "artist:+other artist:-blur"},
		{"an album arrives with an artist no row named", func() { m.create("album", "a4", map[string]any{"title": "Leisure", "artist": "@blur"}) }, "+a4", "artist:+blur"},
		{"an artist another album still names stays", func() { m.edit("album", "a3", map[string]any{"title": "Nothing"}) }, "-a3", ""},
		{"an included artist deleted", func() { m.delete("artist", "other") }, "", "artist:-other"},
		{"the deleted artist's album re-pointed to a live one", func() { m.edit("album", "a2", map[string]any{"artist": "@muse"}) }, "~a2", ""},
		{"one commit changes an album and another album's artist: one ChangeSet", func() {
			m.commit(func(trx *core.Transaction) {
				m.editIn(trx, "album", "a1", map[string]any{"title": "Absolution (XX)"})
				m.editIn(trx, "artist", "blur", map[string]any{"name": "BLUR"})
			})
		}, "~a1", "artist:~blur"},
		{"one commit re-points an album and renames its new artist: one ChangeSet", func() {
			m.create("artist", "pulp", map[string]any{"name": "Pulp"})
			m.commit(func(trx *core.Transaction) {
				m.editIn(trx, "album", "a4", map[string]any{"artist": "@pulp"})
				m.editIn(trx, "artist", "pulp", map[string]any{"name": "PULP"})
			})
		}, "~a4", "artist:+pulp artist:-blur"},
	}
	for _, s := range steps {
		s.do()
		cs := next()
		if got := m.changes(cs); got != s.rows {
			t.Fatalf("%s: rows %q, want %q", s.name, got, s.rows)
		}
		if got := m.includes(cs); got != s.inc {
			t.Fatalf("%s: includes %q, want %q", s.name, got, s.inc)
		}
		if !slices.Equal(m.names(cs.Included["artist"]), m.names(lq.Included("artist"))) {
			t.Fatalf("%s: ChangeSet.Included %v, LiveQuery.Included %v", s.name, m.names(cs.Included["artist"]), m.names(lq.Included("artist")))
		}
	}
	if got := m.names(lq.Included("artist")); !slices.Equal(got, []string{"muse", "pulp"}) {
		t.Fatalf("included at the end = %v", got)
	}
	for _, v := range lq.Included("artist") {
		if m.of[v.ID()] == "pulp" && str(v.Get("name")) != "PULP" {
			t.Fatalf("pulp included as %v, want its name after the commit", v.Get("name"))
		}
	}
}

func TestLiveQuery_IncludeReverseDeliversTheEntitiesReferringToRows(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	lq, err := m.c.Query(ctx, "artist", "name IN (?, ?)", "Muse", "Blur", core.IncludeReverse("albums", "album.artist"))
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	init, next := initialOf(t, lq)
	if got := m.includes(init); got != "albums:=a1 albums:=a2 albums:=a3" {
		t.Fatalf("initial includes = %q", got)
	}
	steps := []struct {
		name      string
		do        func()
		rows, inc string
	}{
		{"an album referring to a row arrives", func() { m.create("album", "a4", map[string]any{"title": "Drones", "artist": "@muse"}) }, "", "albums:+a4"},
		{"an included album changes", func() { m.edit("album", "a1", map[string]any{"title": "Absolution (XX)"}) }, "", "albums:~a1"},
		{"an album re-pointed away from the rows", func() { m.edit("album", "a4", map[string]any{"artist": "@other"}) }, "", "albums:-a4"},
		{"an album re-pointed from one row to another", func() { m.edit("album", "a3", map[string]any{"artist": "@blur"}) }, "", "albums:~a3"},
		{"a row leaves with its albums", func() { m.edit("artist", "blur", map[string]any{"name": "BLUR"}) }, "-blur", "albums:-a2 albums:-a3"},
		{"a row enters with its albums", func() { m.edit("artist", "other", map[string]any{"name": "Blur"}) }, "+other", "albums:+a4"},
		{"an included album deleted", func() { m.delete("album", "a4") }, "", "albums:-a4"},
	}
	for _, s := range steps {
		s.do()
		cs := next()
		if got := m.changes(cs); got != s.rows {
			t.Fatalf("%s: rows %q, want %q", s.name, got, s.rows)
		}
		if got := m.includes(cs); got != s.inc {
			t.Fatalf("%s: includes %q, want %q", s.name, got, s.inc)
		}
	}
	if got := m.names(lq.Included("albums")); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("included at the end = %v", got)
	}
}

func TestLiveQuery_IncludeFollowsUpdateSelectionAndLimit(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	lq, err := m.c.Query(ctx, "album", "title = ? ORDER BY title LIMIT 1", "Absolution", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	_, next := initialOf(t, lq)
	if got := m.names(lq.Included("artist")); !slices.Equal(got, []string{"muse"}) {
		t.Fatalf("initial = %v", got)
	}
	if err := lq.UpdateSelection(ctx, "title = ? ORDER BY title LIMIT 1", "Parklife"); err != nil {
		t.Fatal(err)
	}
	cs := next()
	if got := m.changes(cs) + " | " + m.includes(cs); got != "+a2 -a1 | artist:+blur artist:-muse" {
		t.Fatalf("re-pointed: %q", got)
	}
	m.edit("album", "a2", map[string]any{"artist": "@muse"})
	cs = next()
	if got := m.changes(cs) + " | " + m.includes(cs); got != "~a2 | artist:+muse artist:-blur" {
		t.Fatalf("LIMITed row re-pointed: %q", got)
	}
}

func TestLiveQuery_IncludeRefusesWhatIsNotARelation(t *testing.T) {
	m := newMusic(t)
	ctx := context.Background()
	for _, opt := range []core.QueryOption{
		core.Include("title"),
		core.IncludeReverse("albums", "album.title"),
		core.IncludeReverse("albums", "artist.label"), // leads to label, not album
		core.IncludeReverse("albums", "albumartist"),
	} {
		if _, err := m.c.Query(ctx, "album", "title = ?", "x", opt); !errors.Is(err, core.ErrInclude) {
			t.Fatalf("%+v: err = %v, want ErrInclude", opt, err)
		}
	}
	if _, err := m.c.Query(ctx, "album", "title = ?", "x", core.Include("artist"), core.Include("artist")); !errors.Is(err, core.ErrInclude) {
		t.Fatalf("included twice: %v, want ErrInclude", err)
	}
}

func TestSync_IncludesReachAnEphemeralClientAndStayCurrent(t *testing.T) {
	ctx := context.Background()
	server := newMusic(t)
	server.seed()
	client := newClient(t)
	if err := client.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
		t.Fatal(err)
	}
	link(t, server.n, client)
	lq, err := client.Context(nil).Query(ctx, "album", "title != ?", "Nothing", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	names := func() []string {
		var out []string
		for _, v := range lq.Included("artist") {
			out = append(out, str(v.Get("name")))
		}
		slices.Sort(out)
		return out
	}
	waitFor(t, "the artists of the initial albums", func() bool { return slices.Equal(names(), []string{"Blur", "Muse"}) })
	// The artist is renamed on the server: only the subscription's
	// includes carry it to the client.
	server.edit("artist", "muse", map[string]any{"name": "MUSE"})
	waitFor(t, "the renamed artist", func() bool { return slices.Equal(names(), []string{"Blur", "MUSE"}) })
	server.edit("album", "a2", map[string]any{"artist": "@other"})
	waitFor(t, "the re-pointed album's new artist", func() bool { return slices.Equal(names(), []string{"MUSE", "Other"}) })
	// The client never fetched artists itself: what it holds came with
	// the subscription.
	st, err := client.Context(nil).Get(ctx, "artist", server.ids["other"])
	if err != nil || str(st.Get("name")) != "Other" {
		t.Fatalf("client's artist = %v, %v", st, err)
	}
}

func recv(t *testing.T, ch chan core.ChangeSet) core.ChangeSet {
	t.Helper()
	select {
	case cs := <-ch:
		return cs
	case <-time.After(10 * time.Second): // a guard against hanging, not a timing assertion
		t.Fatal("no ChangeSet arrived")
		return core.ChangeSet{}
	}
}

func str(v value.Value) string { s, _ := v.AsString(); return s }

// TestSync_ServerServesIncludesOnlyToClientsThatAskInVersion4: a client of
// version 3 subscribes as before and gets no included states; a version-4
// subscription with includes gets the artists with the albums; includes on
// an older version are refused.
func TestSync_ServerServesIncludesOnlyToClientsThatAskInVersion4(t *testing.T) {
	m := newMusic(t)
	m.seed()
	inc := []transport.Include{{Name: "artist", Collection: "artist", Property: "artist"}}
	for _, x := range []struct {
		version  uint32
		includes []transport.Include
		want     string // collections of the answer's states, or the error
	}{
		{3, nil, "album album album"},
		{transport.ProtocolVersion, nil, "album album album"},
		{transport.ProtocolVersion, inc, "album album album artist artist"},
		{3, inc, "error: includes on protocol version 3"},
		{transport.ProtocolVersion, []transport.Include{{Name: "a", Collection: "", Property: "artist"}}, "error: invalid include"},
	} {
		resp := rawSubscribe(t, m.n, x.version, transport.SubscribeReq{Sub: 1, Collection: "album", Query: "true", Includes: x.includes})
		var got string
		if resp.Error != "" {
			got = "error: " + resp.Error
		} else {
			var colls []string
			for _, st := range resp.States {
				colls = append(colls, st.Collection)
			}
			slices.Sort(colls)
			got = strings.Join(colls, " ")
		}
		ok := got == x.want
		if e, isErr := strings.CutPrefix(x.want, "error: "); isErr {
			ok = strings.HasPrefix(got, "error: ") && strings.Contains(got, e)
		}
		if !ok {
			t.Errorf("version %d, includes %v: %q, want %q", x.version, x.includes, got, x.want)
		}
	}
}

// rawSubscribe sends one Subscribe over a raw connection speaking version
// and returns its (single-part) answer.
func rawSubscribe(t *testing.T, server *core.Node, version uint32, req transport.SubscribeReq) *transport.Response {
	t.Helper()
	return rawRequest(t, server, version, transport.Request{Subscribe: &req}, nil)
}
