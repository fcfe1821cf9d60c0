package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
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

// TestThreeServers_KillOneWhileItsClientsWrite runs three `ankurah serve`
// on one PostgreSQL database with writers on each (two on server 2), every
// client knowing all three servers (ws.WithServers). Server 2 is killed with
// SIGKILL while its clients write: they fail over to another server, and
// every commit any client was told succeeded — before, during and after the
// kill, including commits the clients queued while they had no server —
// ends up in the database and is served by the surviving servers.
func TestThreeServers_KillOneWhileItsClientsWrite(t *testing.T) {
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	storageURL := createDatabase(t, pgtest.URL(t))
	servers := make([]*server, 3)
	urls := make([]string, 3)
	for i := range servers {
		s := &server{bin: bin, storage: storageURL, addr: freeAddr(t), log: &tail{}}
		if _, err := s.start(); err != nil {
			t.Fatalf("server %d: %v\n%s", i, err, s.log)
		}
		t.Cleanup(func() { _ = s.kill() })
		servers[i], urls[i] = s, "ws://"+s.addr+"/ws"
	}
	const victim = 1
	homes := []int{0, victim, victim, 2} // the server each writer dials first
	writers := make([]*writer, len(homes))
	for w, home := range homes {
		others := slices.Concat(urls[:home], urls[home+1:])
		n, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral), core.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := ws.Dial(dctx, urls[home], n, ws.WithServers(others...), ws.WithBackoff(20*time.Millisecond, 250*time.Millisecond), ws.WithClientLogger(quiet))
		cancel()
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
		wr := &writer{w: w, node: n, client: c, unsub: func() {}}
		writers[w] = wr
		t.Cleanup(wr.close)
	}

	l := newLedger(len(writers))
	var down atomic.Bool
	var gate sync.RWMutex
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for _, wr := range writers {
		rng := rand.New(rand.NewPCG(uint64(wr.w), 15))
		wg.Go(func() { wr.run(lctx, l, &down, &gate, rng, 1<<30) })
	}
	acks := func(mark []int) []int {
		now, out := l.mark(), make([]int, len(writers))
		for k := range l.acked(now) {
			if mark == nil || int(k.seq) >= mark[k.w] {
				out[k.w]++
			}
		}
		return out
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second) // a watchdog, not a timing assertion
		for !ok() {
			if time.Now().After(deadline) {
				stop()
				wg.Wait()
				t.Fatalf("%s: not within 60 s (acknowledged per writer: %v; %d commits failed, e.g. %v)", what, acks(nil), l.nfailed, l.failed)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("every writer's first 10 commits", func() bool { return slices.Min(acks(nil)) >= 10 })

	down.Store(true)
	if err := servers[victim].kill(); err != nil {
		t.Fatal(err)
	}
	killed := l.mark()
	// The victim's clients go on writing through another server.
	waitFor("20 commits of every writer after the kill, the victim's clients on another server", func() bool {
		for _, wr := range writers {
			if homes[wr.w] == victim && (wr.client.URL() == urls[victim] || wr.client.State().Get() != ws.Connected) {
				return false
			}
		}
		return slices.Min(acks(killed)) >= 20
	})
	stop()
	wg.Wait()
	acked := l.acked(l.mark())
	t.Logf("%d commits acknowledged (%d after the kill); %d not acknowledged", len(acked), len(acked)-len(l.acked(killed)), l.nfailed)

	// Every acknowledged commit reaches the surviving servers (queued ones
	// once their client's outbox drains) and the database, each once.
	for _, s := range []int{0, 2} {
		var found map[key]bool
		waitFor(fmt.Sprintf("every acknowledged commit through server %d", s+1), func() bool {
			found, err = fetchThroughServer(ctx, urls[s], acked)
			return err == nil && len(found) == len(acked)
		})
	}
	got, err := readStore(ctx, storageURL, false)
	if err != nil {
		t.Fatal(err)
	}
	var lost []key
	for k := range acked {
		if got[k] != 1 {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d acknowledged commits are not stored exactly once, e.g. %v", len(lost), sortedKeys(lost)[:min(5, len(lost))])
	}
}
