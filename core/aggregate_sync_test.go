package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// TestAggregate_OnEphemeralClient: a client's live aggregate is kept by its
// durable peer: its groups arrive with the subscription, follow commits
// made on the server and on other clients, follow the client again after a
// reconnection, and stop when closed.
func TestAggregate_OnEphemeralClient(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	c1, c2 := newClient(t), newClient(t)
	link(t, server, c2)
	p1 := link(t, server, c1)
	createAlbums(t, server.Context(nil), album{"Showbiz", "Muse", 1999}, album{"Kid A", "Radiohead", 2000})

	count, err := c1.Context(nil).Count(ctx, "album", "year >= ?", 1999)
	must(t, err)
	defer count.Close()
	byArtist, err := c1.Context(nil).Aggregate(ctx, "album", core.AggregateSpec{GroupBy: []string{"artist"}, Aggs: []core.Agg{core.MinOf("year"), core.MaxOf("year")}}, "true")
	must(t, err)
	defer byArtist.Close()
	if count.Count() != 2 {
		t.Fatalf("initial count %d", count.Count())
	}
	if got := fmtGroups(byArtist.Groups()); got != "[string('Muse')] n=1 [int(1999) int(1999)]; [string('Radiohead')] n=1 [int(2000) int(2000)]; " {
		t.Fatal(got)
	}
	createAlbums(t, c2.Context(nil), album{"Absolution", "Muse", 2003})
	waitFor(t, "the other client's album counted", func() bool { return count.Count() == 3 })
	waitFor(t, "Muse's group updated", func() bool {
		return fmtGroups(byArtist.Groups()) == "[string('Muse')] n=2 [int(1999) int(2003)]; [string('Radiohead')] n=1 [int(2000) int(2000)]; "
	})
	ids := createAlbums(t, c1.Context(nil), album{"Hail to the Thief", "Radiohead", 2003})
	waitFor(t, "the client's own album counted", func() bool { return count.Count() == 4 })

	// Offline, the groups stay; on reconnection they follow what changed meanwhile.
	p1.Close()
	trx := server.Context(nil).Begin()
	must(t, trx.Delete(ctx, "album", ids[0]))
	must(t, trx.Commit(ctx))
	if count.Count() != 4 {
		t.Fatal("changed while offline")
	}
	link(t, server, c1)
	waitFor(t, "the delete made offline counted after reconnecting", func() bool { return count.Count() == 3 })
	if count.Err() != nil {
		t.Fatal(count.Err())
	}
}

// TestAggregate_ServerValidatesRequests: a malformed aggregate from the
// network is refused with the sentinel it broke, and the connection stays.
func TestAggregate_ServerValidatesRequests(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	client := newClient(t)
	link(t, server, client)
	c := client.Context(nil)
	for _, x := range []struct {
		spec core.AggregateSpec
		q    string
		want error
	}{
		{core.AggregateSpec{GroupBy: []string{"a\x00b"}}, "true", storage.ErrBadAggregate},
		{core.AggregateSpec{Aggs: make([]core.Agg, storage.MaxAggTerms+1)}, "true", storage.ErrBadAggregate},
	} {
		if _, err := c.Aggregate(ctx, "album", x.spec, x.q); !errors.Is(err, x.want) {
			t.Errorf("%v: %v, want %v", x.spec, err, x.want)
		}
	}
	// The same checks hold on the server for what a client could send.
	for _, x := range []struct {
		version uint32
		req     transport.AggregateReq
		want    string
	}{
		{3, transport.AggregateReq{Sub: 1, Collection: "album", Query: "true", Aggs: []string{"median(x)"}}, "median"},
		{3, transport.AggregateReq{Sub: 1, Collection: "album", Query: "year >"}, "syntax"},
		{3, transport.AggregateReq{Sub: 1, Collection: "album", Query: "true ORDER BY year"}, "ORDER BY"},
		{3, transport.AggregateReq{Sub: 1, Collection: "", Query: "true"}, "collection"},
		{2, transport.AggregateReq{Sub: 1, Collection: "album", Query: "true"}, "protocol version 2"},
	} {
		resp := rawAggregate(t, server, x.version, x.req)
		if resp.Error == "" || !strings.Contains(resp.Error, x.want) {
			t.Errorf("%+v: %q, want an error naming %q", x.req, resp.Error, x.want)
		}
	}
	resp := rawAggregate(t, server, 3, transport.AggregateReq{Sub: 1, Collection: "album", Query: "true", GroupBy: []string{"artist"}, Aggs: []string{"max(year)"}})
	if resp.Error != "" {
		t.Fatal(resp.Error)
	}
}

// rawAggregate sends one Aggregate request over a raw connection speaking
// the given protocol version and returns its response (after checking that
// an accepted aggregate's reset came first).
func rawAggregate(t *testing.T, server *core.Node, version uint32, req transport.AggregateReq) *transport.Response {
	t.Helper()
	reset := false
	resp := rawRequest(t, server, version, transport.Request{Aggregate: &req}, func(m *transport.Message) {
		if m.AggUpdate != nil {
			reset = m.AggUpdate.Reset && m.AggUpdate.Sub == req.Sub
		}
	})
	if resp.Error == "" && !reset {
		t.Fatal("accepted without a reset first")
	}
	return resp
}

// aggOwnerAgent lets a caller read the rows whose owner is its credentials.
type aggOwnerAgent struct{ policy.Permissive }

func (aggOwnerAgent) ReadFilter(_ context.Context, cdata policy.ContextData, _ string) (query.Expr, error) {
	return &query.Comparison{Path: query.Path{"owner"}, Op: query.Eq, Value: query.Lit(value.String(fmt.Sprint(cdata)))}, nil
}

func (aggOwnerAgent) CheckRead(_ context.Context, cdata policy.ContextData, st *entity.State) error {
	if o, _ := st.Values.Get("owner").AsString(); o != fmt.Sprint(cdata) {
		return policy.ErrAccessDenied
	}
	return nil
}

// TestAggregate_FollowsRefreshedCredentials: after the client refreshes its
// credentials, its aggregates count what the new identity may read.
func TestAggregate_FollowsRefreshedCredentials(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), aggOwnerAgent{})
	client := newClient(t)
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	p, err := client.Connect(ctx, b, []byte("alice"))
	must(t, err)
	defer p.Close()
	sys := server.Context("system")
	trx := sys.Begin()
	for _, owner := range []string{"alice", "bob", "bob"} {
		m, err := trx.Create(ctx, "todo")
		must(t, err)
		must(t, m.Set("owner", owner))
	}
	must(t, trx.Commit(ctx))
	count, err := client.Context(nil).Count(ctx, "todo", "true")
	must(t, err)
	defer count.Close()
	if count.Count() != 1 {
		t.Fatalf("alice counts %d", count.Count())
	}
	p.RefreshCredentials([]byte("bob"))
	waitFor(t, "bob's count", func() bool { return count.Count() == 2 })
}
