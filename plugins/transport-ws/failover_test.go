//go:build !js

package ws_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// Two servers on one store; a client given both fails over when its server
// goes away: its live query follows on the other server, and a commit it
// makes there is acknowledged.
func TestClient_FailsOverToAnotherServer(t *testing.T) {
	ctx := context.Background()
	e := memory.New()
	e2, err := e.Share()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e2.Close() })
	var urls []string
	var servers []*httptest.Server
	var nodes []*core.Node
	for _, eng := range []*memory.Engine{e, e2} {
		n, err := core.NewNode(ctx, eng, policy.Permissive{}, core.WithSharedStorage())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		mux := http.NewServeMux()
		wsrv := ws.NewServer(n)
		mux.Handle("/ws", wsrv)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		servers = append(servers, srv)
		nodes = append(nodes, n)
		urls = append(urls, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	}
	client := newNode(t, core.Ephemeral)
	c := dial(t, urls[0], client, ws.WithServers(urls[1]), ws.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	lq, err := client.Context(nil).Query(ctx, "album", "artist = 'Muse'")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	create(t, nodes[1].Context(nil), "Drones")
	waitUntil(t, "the album written through server 2 reaches the client of server 1", func() bool { return len(lq.Items()) == 1 })

	// Server 1 goes away.
	servers[0].CloseClientConnections()
	servers[0].Close()
	nodes[0].Close()
	waitUntil(t, "the client fails over to server 2", func() bool { return c.Peer() != nil && c.URL() == urls[1] })
	create(t, nodes[1].Context(nil), "Simulation Theory")
	waitUntil(t, "the live query follows on server 2", func() bool { return len(lq.Items()) == 2 })
	create(t, client.Context(nil), "Will of the People")
	waitUntil(t, "the client's commit is on server 2", func() bool {
		vs, err := nodes[1].Context(nil).Fetch(ctx, "album", "name = 'Will of the People'")
		return err == nil && len(vs) == 1
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
