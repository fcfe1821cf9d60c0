package crash

import (
	"context"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// TestThreeServers_OnePostgres runs three `ankurah serve` processes on one
// PostgreSQL database, a client on each: a create, an edit and a delete
// through any server reach the live queries of the clients of all three,
// and an edit made after another server's edits is not reverted (the
// scenario of the scale-out issue: the database and every client end on the
// last acknowledged write).
func TestThreeServers_OnePostgres(t *testing.T) {
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	storage := createDatabase(t, pgtest.URL(t))
	var urls []string
	for i := range 3 {
		s := &server{bin: bin, storage: storage, addr: freeAddr(t), log: &tail{}}
		if _, err := s.start(); err != nil {
			t.Fatalf("server %d: %v\n%s", i, err, s.log)
		}
		t.Cleanup(func() { _ = s.kill() })
		urls = append(urls, "ws://"+s.addr+"/ws")
	}
	clients := make([]*core.Node, 3)
	lqs := make([]*core.LiveQuery, 3)
	for i, u := range urls {
		n, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
		if err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := ws.Dial(dctx, u, n)
		cancel()
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close(); n.Close() })
		clients[i] = n
		if lqs[i], err = n.Context(nil).Query(ctx, "album", "year > ?", 2000); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(lqs[i].Close)
	}
	everywhere := func(what string, ok func(*core.LiveQuery) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for i, lq := range lqs {
			for !ok(lq) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not on the client of server %d (holds %d)", what, i, len(lq.Items()))
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	year := func(lq *core.LiveQuery) int64 {
		items := lq.Items()
		if len(items) != 1 {
			return -1
		}
		y, _ := items[0].Get("year").AsInt()
		return y
	}
	edit := func(n *core.Node, eid id.EntityID, y int) {
		t.Helper()
		trx := n.Context(nil).Begin()
		m, err := trx.Edit(ctx, "album", eid)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Set("year", y); err != nil {
			t.Fatal(err)
		}
		if err := trx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Create through server 2.
	trx := clients[1].Context(nil).Begin()
	m, err := trx.Create(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set("year", 2015); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	eid := m.ID()
	everywhere("create", func(lq *core.LiveQuery) bool { return year(lq) == 2015 })

	// Twenty edits through server 2, then one through server 1 by a client
	// whose live query holds the entity: the last write wins everywhere.
	for i := range 20 {
		edit(clients[1], eid, 2100+i)
	}
	everywhere("edits through server 2", func(lq *core.LiveQuery) bool { return year(lq) == 2119 })
	edit(clients[0], eid, 3000)
	everywhere("the last acknowledged write", func(lq *core.LiveQuery) bool { return year(lq) == 3000 })

	// Delete through server 3.
	trx = clients[2].Context(nil).Begin()
	if err := trx.Delete(ctx, "album", eid); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	everywhere("delete", func(lq *core.LiveQuery) bool { return len(lq.Items()) == 0 })
}
