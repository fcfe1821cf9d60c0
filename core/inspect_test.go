package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

func TestInspect_ListsPeersTheirSubscriptionsAndLocalQueries(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	server := newNode(t, core.WithClock(func() time.Time { return at }))
	c1, c2 := newClient(t), newClient(t)
	link(t, server, c1)
	link(t, server, c2)

	lq, err := c1.Context(nil).Query(ctx, "album", "year > ? ORDER BY year LIMIT 5", 2000)
	must(t, err)
	defer lq.Close()
	local, err := server.Context(nil).Query(ctx, "album", "artist = 'Muse'")
	must(t, err)
	defer local.Close()
	createAlbums(t, server.Context(nil), album{"Origin of Symmetry", "Muse", 2001})
	waitFor(t, "the client's result", func() bool { return len(lq.Items()) == 1 })

	s := server.Inspect(ctx)
	if s.Role != "durable" || s.NodeID != server.ID().String() || s.SystemID != server.SystemID() || !s.Time.Equal(at) {
		t.Fatalf("node: %+v", s)
	}
	if len(s.Peers) != 2 {
		t.Fatalf("want 2 peers, got %+v", s.Peers)
	}
	var withSub *core.PeerInfo
	for i, p := range s.Peers {
		if p.Upstream || p.Durable || !p.ConnectedSince.Equal(at) || p.Paused {
			t.Errorf("peer %d: %+v", i, p)
		}
		if p.NodeID == c1.ID().String() {
			withSub = &s.Peers[i]
		} else if p.NodeID != c2.ID().String() {
			t.Errorf("peer %d is neither client: %s", i, p.NodeID)
		}
	}
	if withSub == nil || len(withSub.Subscriptions) != 1 {
		t.Fatalf("c1's subscriptions: %+v", withSub)
	}
	sub := withSub.Subscriptions[0]
	if sub.Collection != "album" || sub.Selection != "year > 2000 ORDER BY year LIMIT 5" || sub.Items != 1 || sub.Sub == 0 {
		t.Errorf("subscription: %+v", sub)
	}
	// The server's own query is listed once, outside every peer.
	if len(s.LiveQueries) != 1 || s.LiveQueries[0].ID != local.ID().String() || s.LiveQueries[0].Selection != "artist = 'Muse'" || s.LiveQueries[0].Items != 1 {
		t.Errorf("local live queries: %+v", s.LiveQueries)
	}

	cs := c1.Inspect(ctx)
	if cs.Role != "ephemeral" || len(cs.Peers) != 1 || !cs.Peers[0].Upstream || !cs.Peers[0].Durable || cs.Peers[0].NodeID != server.ID().String() {
		t.Fatalf("client: %+v", cs)
	}
	if len(cs.LiveQueries) != 1 || cs.LiveQueries[0].ID != lq.ID().String() {
		t.Errorf("client live queries: %+v", cs.LiveQueries)
	}

	// A closed query and a closed connection leave the snapshot.
	lq.Close()
	waitFor(t, "the subscription to end", func() bool {
		for _, p := range server.Inspect(ctx).Peers {
			if len(p.Subscriptions) > 0 {
				return false
			}
		}
		return true
	})
	c2.Close()
	waitFor(t, "c2's connection to end", func() bool { return len(server.Inspect(ctx).Peers) == 1 })
}

func TestInspect_ShowsThePolicyFilterInTheEffectiveSelection(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), ownerFilter{})
	lq, err := server.Context("alice").Query(ctx, "album", "year > 2000")
	must(t, err)
	defer lq.Close()
	got := server.Inspect(ctx).LiveQueries
	if len(got) != 1 || got[0].Selection != "year > 2000" || !strings.Contains(got[0].Effective, "owner = 'alice'") {
		t.Fatalf("%+v", got)
	}
}

// ownerFilter lets everyone read only the rows they own.
type ownerFilter struct{ policy.Permissive }

func (ownerFilter) ReadFilter(_ context.Context, cdata policy.ContextData, _ string) (query.Expr, error) {
	b, err := query.ParseBound("owner = ?", cdata)
	if err != nil {
		return nil, err
	}
	return b.Where, nil
}

// Inspect runs beside commits, queries opening and closing, and
// connections coming and going (run with -race).
func TestInspect_ConcurrentWithTraffic(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := server.Inspect(ctx)
			if _, err := json.Marshal(s); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 20 {
		c := newClient(t)
		p := link(t, server, c)
		lq, err := c.Context(nil).Query(ctx, "album", "year = ?", i)
		must(t, err)
		createAlbums(t, c.Context(nil), album{fmt.Sprint("a", i), "x", i})
		lq.Close()
		p.Close()
	}
	close(stop)
	wg.Wait()
}

func ExampleNode_Inspect() {
	ctx := context.Background()
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	lq, err := node.Context(nil).Query(ctx, "album", "year > ?", 2000)
	if err != nil {
		panic(err)
	}
	defer lq.Close()
	s := node.Inspect(ctx)
	fmt.Println(s.Role, len(s.Peers), "peers")
	for _, q := range s.LiveQueries {
		fmt.Println(q.Collection, q.Selection, q.Items, "items")
	}
	// Output:
	// durable 0 peers
	// album year > 2000 0 items
}
