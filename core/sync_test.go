package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// link connects a client node to a server node over an in-process Pipe.
func link(t testing.TB, server, client *core.Node) *core.Peer {
	t.Helper()
	a, b := transport.Pipe()
	go server.Accept(context.Background(), a)
	p, err := client.Connect(context.Background(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newClient(t testing.TB, opts ...core.Option) *core.Node {
	return newNode(t, append([]core.Option{core.WithRole(core.Ephemeral)}, opts...)...)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSync_SeedScenarioOverPipe(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	c1, c2 := newClient(t), newClient(t)
	link(t, server, c1)
	link(t, server, c2)

	lq, err := c1.Context(nil).Query(ctx, "album", "name = 'Origin of Symmetry'")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t) // Initial (empty)

	// An album created on the server reaches the client's callback.
	createAlbums(t, server.Context(nil), album{"Origin of Symmetry", "Muse", 2001})
	cs := s.next(t)
	if got := kinds(cs); got != "[Add:Origin of Symmetry]" {
		t.Fatal(got)
	}
	// An album created on a client is stored on the server and reaches the other client.
	lq2, err := c2.Context(nil).Query(ctx, "album", "artist = 'Muse'")
	must(t, err)
	defer lq2.Close()
	s2 := collect(lq2)
	if got := kinds(s2.next(t)); got != "[Initial:Origin of Symmetry]" {
		t.Fatal(got)
	}
	ids := createAlbums(t, c1.Context(nil), album{"Absolution", "Muse", 2003})
	if _, err := server.Context(nil).Get(ctx, "album", ids[0]); err != nil {
		t.Fatalf("client commit not on server: %v", err)
	}
	if got := kinds(s2.next(t)); got != "[Add:Absolution]" {
		t.Fatal(got)
	}
	// Get and Fetch on a client ask the server.
	c3 := newClient(t)
	link(t, server, c3)
	v, err := c3.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	if n, _ := v.Get("name").AsString(); n != "Absolution" {
		t.Fatal(n)
	}
	got, err := c3.Context(nil).Fetch(ctx, "album", "year > ? ORDER BY year", 2000)
	must(t, err)
	if fmt.Sprint(names(got)) != "[Origin of Symmetry Absolution]" {
		t.Fatal(names(got))
	}
}

func TestSync_ThreeClientsConverge(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	ids := createAlbums(t, server.Context(nil), album{"x", "y", 1}, album{"p", "q", 2})
	var clients []*core.Node
	var queries []*core.LiveQuery
	for i := 0; i < 3; i++ {
		c := newClient(t)
		link(t, server, c)
		lq, err := c.Context(nil).Query(ctx, "album", "true")
		must(t, err)
		defer lq.Close()
		clients, queries = append(clients, c), append(queries, lq)
	}
	errs := make(chan error, 30)
	for i, c := range clients {
		go func() {
			for round := 0; round < 10; round++ {
				trx := c.Context(nil).Begin()
				m, err := trx.Edit(ctx, "album", ids[round%2])
				if err != nil {
					errs <- err
					return
				}
				m.Set("name", fmt.Sprintf("c%d-r%d", i, round))
				m.Set(fmt.Sprintf("c%d", i), round)
				errs <- trx.Commit(ctx)
			}
		}()
	}
	for i := 0; i < 30; i++ {
		must(t, <-errs)
	}
	want := func() string {
		vs, _ := server.Context(nil).Fetch(ctx, "album", "true")
		var out []string
		for _, v := range vs {
			out = append(out, fmt.Sprint(v.Head(), v.Values()))
		}
		return fmt.Sprint(out)
	}()
	for i, lq := range queries {
		waitFor(t, fmt.Sprintf("client %d to converge", i), func() bool {
			var out []string
			for _, v := range lq.Items() {
				out = append(out, fmt.Sprint(v.Head(), v.Values()))
			}
			return fmt.Sprint(out) == want
		})
	}
}

func TestSync_OfflineEditsAndResume(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	ids := createAlbums(t, server.Context(nil), album{"Showbiz", "Muse", 1999})
	client := newClient(t)
	p := link(t, server, client)
	lq, err := client.Context(nil).Query(ctx, "album", "artist = 'Muse'")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t)

	p.Close()
	waitFor(t, "disconnect", func() bool {
		select {
		case <-client.Connected():
			return false
		default:
			return true
		}
	})
	// Offline: edits apply locally.
	trx := client.Context(nil).Begin()
	m, _ := trx.Edit(ctx, "album", ids[0])
	must(t, m.Set("name", "Showbiz (offline)"))
	must(t, trx.Commit(ctx))
	if got := kinds(s.next(t)); got != "[Update:Showbiz (offline)]" {
		t.Fatal(got)
	}
	// Meanwhile the server gets a new album.
	createAlbums(t, server.Context(nil), album{"Drones", "Muse", 2015})

	link(t, server, client)
	waitFor(t, "offline edit on the server", func() bool {
		v, err := server.Context(nil).Get(ctx, "album", ids[0])
		return err == nil && v.Get("name").Raw() == "Showbiz (offline)"
	})
	if got := kinds(s.next(t)); got != "[Add:Drones]" {
		t.Fatalf("after resume: %s", got)
	}
	s.none(t, lq)
	if got := fmt.Sprint(names(lq.Items())); got != "[Showbiz (offline) Drones]" && got != "[Drones Showbiz (offline)]" {
		t.Fatal(got)
	}
}

func TestSync_RejectedCommitLeavesClientUnchanged(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), denyAgent{})
	client := newClient(t)
	link(t, server, client)
	trx := client.Context(nil).Begin()
	m, _ := trx.Create(ctx, "album")
	must(t, m.Set("name", "forbidden"))
	if err := trx.Commit(ctx); !errors.Is(err, policy.ErrAccessDenied) {
		t.Fatalf("Commit = %v, want ErrAccessDenied", err)
	}
	coll, _ := client.Engine().Collection(ctx, "album")
	if got, _ := coll.FetchStates(ctx, mustBound(t, "true")); len(got) != 0 {
		t.Fatalf("rejected commit left %d states on the client", len(got))
	}
}

func TestSync_BadPeersAreRefused(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	send := func(t *testing.T, frames ...[]byte) (transport.Connection, error) {
		a, b := transport.Pipe()
		done := make(chan error, 1)
		go func() { done <- server.Accept(ctx, a) }()
		for _, f := range frames {
			_ = b.Send(ctx, f)
		}
		select {
		case err := <-done:
			return b, err
		case <-time.After(10 * time.Second):
			t.Fatal("server did not close the connection")
		}
		return b, nil
	}
	hello := func(v uint32) []byte {
		f, _ := transport.Encode(&transport.Message{Hello: &transport.Hello{NodeID: "x", Version: v}})
		return f
	}
	t.Run("wrong protocol version", func(t *testing.T) {
		b, err := send(t, hello(99))
		if !errors.Is(err, transport.ErrVersion) {
			t.Fatalf("err = %v", err)
		}
		f, _ := b.Recv(ctx)
		m, _ := transport.Decode(f)
		if m == nil || m.Fault == nil || !contains(m.Fault.Message, "99") || !contains(m.Fault.Message, fmt.Sprint(transport.ProtocolVersion)) {
			t.Fatalf("fault %+v does not name both versions", m)
		}
	})
	t.Run("malformed frame", func(t *testing.T) {
		_, err := send(t, hello(transport.ProtocolVersion), []byte{0xff, 0x00, 0x13})
		if !errors.Is(err, transport.ErrProtocol) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("first message not hello", func(t *testing.T) {
		f, _ := transport.Encode(&transport.Message{Credentials: []byte("x")})
		_, err := send(t, f)
		if !errors.Is(err, transport.ErrProtocol) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown request type", func(t *testing.T) {
		f, _ := transport.Encode(&transport.Message{Request: &transport.Request{ID: 1}})
		_, err := send(t, hello(transport.ProtocolVersion), f)
		if !errors.Is(err, transport.ErrProtocol) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("oversized frame", func(t *testing.T) {
		if _, err := transport.Decode(make([]byte, transport.MaxFrameSize+1)); !errors.Is(err, transport.ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("forged event", func(t *testing.T) {
		// An event that names an entity it does not belong to is refused and nothing is stored.
		client := newClient(t)
		p := link(t, server, client)
		_ = p
		ev := event.Event{Collection: "album", Entity: id.EntityID{7}, Parent: event.NewClock(id.EventID{9}), Operations: map[string][]byte{"lww": {0xa0}}}
		err := core.ForwardEventsForTest(ctx, client, []event.Event{ev})
		if err == nil {
			t.Fatal("forged event accepted")
		}
		coll, _ := server.Engine().Collection(ctx, "album")
		if evs, _ := coll.GetEvents(ctx, []id.EventID{ev.ID()}); len(evs) != 0 {
			t.Fatal("forged event stored")
		}
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestSync_DifferentSystemDropsCache(t *testing.T) {
	ctx := context.Background()
	first := newNode(t, core.WithSystemID("system-one"))
	createAlbums(t, first.Context(nil), album{"Showbiz", "Muse", 1999})
	client := newClient(t)
	p := link(t, first, client)
	lq, err := client.Context(nil).Query(ctx, "album", "true")
	must(t, err)
	defer lq.Close()
	if len(lq.Items()) != 1 {
		t.Fatalf("cached %d", len(lq.Items()))
	}
	p.Close()
	other := newNode(t, core.WithSystemID("system-two"))
	createAlbums(t, other.Context(nil), album{"Kid A", "Radiohead", 2000})
	link(t, other, client)
	waitFor(t, "the other system's data only", func() bool {
		items := lq.Items()
		return len(items) == 1 && items[0].Get("name").Raw() == "Kid A"
	})
	coll, _ := client.Engine().Collection(ctx, "album")
	all, _ := coll.FetchStates(ctx, mustBound(t, "true"))
	if len(all) != 1 {
		t.Fatalf("client still caches %d albums", len(all))
	}
}

func TestNode_SystemIDSurvivesRestart(t *testing.T) {
	eng := memory.New()
	first := newNodeOn(t, eng, policy.Permissive{})
	again := newNodeOn(t, eng, policy.Permissive{})
	if first.SystemID() == "" || first.SystemID() != again.SystemID() {
		t.Fatalf("system ids %q and %q on one storage", first.SystemID(), again.SystemID())
	}
	if other := newNode(t); other.SystemID() == first.SystemID() {
		t.Fatal("two storages share a system id")
	}
}

func TestSync_OfflineCommitsSurviveARestart(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	cache := memory.New() // the client's storage, kept across its restart (IndexedDB in a browser)
	client := newNodeOn(t, cache, policy.Permissive{}, core.WithRole(core.Ephemeral))
	ids := createAlbums(t, client.Context(nil), album{"made offline", "x", 1})
	client.Close()

	restarted := newNodeOn(t, cache, policy.Permissive{}, core.WithRole(core.Ephemeral))
	link(t, server, restarted)
	if _, err := server.Context(nil).Get(ctx, "album", ids[0]); err != nil {
		t.Fatalf("the offline commit did not reach the server after a restart: %v", err)
	}
	// Sent once: a second restart has nothing left to send.
	again := newNodeOn(t, cache, policy.Permissive{}, core.WithRole(core.Ephemeral))
	if n := core.OutboxLenForTest(again); n != 0 {
		t.Fatalf("%d batches still waiting after they were sent", n)
	}
}

// Regression (crash-loop review): commits made while the offline outbox is
// being sent queue behind it — an edit of an entity created offline never
// reaches the server before its creation — and none waits for the next
// connection.
func TestSync_CommitsDuringResumeQueueBehindTheOutbox(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	client := newClient(t)
	c := client.Context(nil)
	// Offline from the start: a create and 30 edits wait in the outbox.
	trx := c.Begin()
	m, err := trx.Create(ctx, "album")
	must(t, err)
	must(t, m.Set("year", 0))
	must(t, trx.Commit(ctx))
	eid := m.ID()
	edit := func(year int) error {
		trx := c.Begin()
		m, err := trx.Edit(ctx, "album", eid)
		if err != nil {
			return err
		}
		if err := m.Set("year", year); err != nil {
			return err
		}
		return trx.Commit(ctx)
	}
	for i := 1; i <= 30; i++ {
		must(t, edit(i))
	}
	done := make(chan error, 1)
	go func() {
		for i := 31; i <= 60; i++ {
			if err := edit(i); err != nil {
				done <- fmt.Errorf("edit %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	link(t, server, client)
	must(t, <-done)
	waitFor(t, "the last edit on the server", func() bool {
		v, err := server.Context(nil).Get(ctx, "album", eid)
		y, _ := v.Get("year").AsInt()
		return err == nil && y == 60
	})
}

// slowEngine takes a while to write each batch, as a loaded database does.
type slowEngine struct {
	storage.Engine
	delay time.Duration
}

func (s slowEngine) Apply(ctx context.Context, b *storage.Batch) error {
	time.Sleep(s.delay)
	return s.Engine.Apply(ctx, b)
}

func (s slowEngine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	return s.Engine.(storage.CollectionLooker).LookupCollection(ctx, name)
}

// Regression (crash loop on PostgreSQL under load): a client that commits
// faster than its server answers never finished reconnecting — commits made
// while the offline outbox was being sent joined the outbox, which the drain
// took up again, so Connect (and the websocket client's "connecting" state)
// lasted as long as the writer kept writing. Now those commits wait for the
// drain, so the drain ends with what was queued when it began.
func TestSync_ResumeEndsWhileAWriterOutpacesTheServer(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, slowEngine{Engine: memory.New(), delay: 2 * time.Millisecond}, policy.Permissive{})
	client := newClient(t)
	c := client.Context(nil)
	create := func(i int) error {
		trx := c.Begin()
		m, err := trx.Create(ctx, "album")
		if err != nil {
			return err
		}
		if err := m.Set("year", i); err != nil {
			return err
		}
		return trx.Commit(ctx)
	}
	// Offline: 50 creations wait in the outbox.
	for i := range 50 {
		must(t, create(i))
	}
	// A writer commits without pause while the client resumes. Without the
	// bound it stops at (limit), resuming would end only then.
	const limit = 5000
	var stop atomic.Bool
	made := make(chan int, 1)
	go func() {
		i := 50
		for ; i < limit && !stop.Load(); i++ {
			if err := create(i); err != nil {
				t.Errorf("commit %d: %v", i, err)
				break
			}
		}
		made <- i
	}()
	link(t, server, client)
	stop.Store(true)
	if n := <-made; n >= limit {
		t.Fatalf("resuming ended only after the writer stopped (%d commits)", n)
	}
	if n := core.OutboxLenForTest(client); n != 0 {
		t.Fatalf("%d commits still wait in the outbox after resuming", n)
	}
}

// stallConn is a server's end of a connection whose remote stops reading
// once stalled: every Send then blocks until its ctx ends or the
// connection closes, as a write to a full TCP socket does.
type stallConn struct {
	transport.Connection
	stalled atomic.Bool
	closed  chan struct{}
	once    sync.Once
}

func (c *stallConn) Send(ctx context.Context, frame []byte) error {
	if c.stalled.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.closed:
			return transport.ErrClosed
		}
	}
	return c.Connection.Send(ctx, frame)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Connection.Close()
}

// A subscriber that stops reading never holds up anyone's commit: the
// server queues its updates for its writer (until the queue's bound ends
// the connection) while other clients' commits, and the server's own, are
// answered as before.
func TestSync_AStalledSubscriberHoldsUpNoCommit(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	a, b := transport.Pipe()
	sc := &stallConn{Connection: a, closed: make(chan struct{})}
	go server.Accept(ctx, sc)
	slow := newClient(t)
	sp, err := slow.Connect(ctx, b, nil)
	must(t, err)
	defer sp.Close()
	lq, err := slow.Context(nil).Query(ctx, "album", "true")
	must(t, err)
	defer lq.Close()
	sc.stalled.Store(true)

	writer := newClient(t)
	link(t, server, writer)
	for i := range 20 {
		// Each commit has far less time than the server's write timeout.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		trx := writer.Context(nil).Begin()
		m, err := trx.Create(cctx, "album")
		must(t, err)
		must(t, m.Set("name", fmt.Sprintf("a%d", i)))
		if err := trx.Commit(cctx); err != nil {
			t.Fatalf("commit %d with a stalled subscriber: %v", i, err)
		}
		cancel()
		cctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		trx = server.Context(nil).Begin()
		m, err = trx.Create(cctx, "album")
		must(t, err)
		must(t, m.Set("name", fmt.Sprintf("s%d", i)))
		if err := trx.Commit(cctx); err != nil {
			t.Fatalf("server commit %d with a stalled subscriber: %v", i, err)
		}
		cancel()
	}
}

// slowSendConn is a client's end of a connection whose sends wait until
// released: the network is slower than the client's callers.
type slowSendConn struct {
	transport.Connection
	stalled atomic.Bool
	open    chan struct{}
}

func (c *slowSendConn) Send(ctx context.Context, frame []byte) error {
	if c.stalled.Load() {
		select {
		case <-c.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return c.Connection.Send(ctx, frame)
}

// A burst of large commits from many goroutines waits for the connection
// (at most max-in-flight requests out, and room in the outgoing queue)
// instead of overflowing the client's queue, which ended the client's own
// connection as a slow peer: every commit lands online and the connection
// stays up.
func TestSync_ABurstOfLargeCommitsWaitsForTheConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := newNode(t)
	l := limits.Default()
	l.PeerQueueBytes = 1 << 20
	l.MaxInFlight = 8
	client := newClient(t, core.WithLimits(l))
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	conn := &slowSendConn{Connection: b, open: make(chan struct{})}
	p, err := client.Connect(ctx, conn, nil)
	must(t, err)
	defer p.Close()
	conn.stalled.Store(true) // later sends wait
	big := strings.Repeat("x", 200<<10)
	const writers = 40
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			trx := client.Context(nil).Begin()
			m, err := trx.Create(ctx, "album")
			if err == nil {
				err = m.Set("name", fmt.Sprintf("%d", i))
			}
			if err == nil {
				err = m.Set("notes", big)
			}
			if err == nil {
				err = trx.Commit(ctx)
			}
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the burst pile up behind the stalled sends
	close(conn.open)
	for range writers {
		if err := <-errs; err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	select {
	case <-p.Done():
		t.Fatalf("the connection ended: %v", p.Err())
	default:
	}
	got, err := server.Context(nil).Fetch(ctx, "album", "true")
	must(t, err)
	if len(got) != writers {
		t.Fatalf("the server holds %d albums, want %d", len(got), writers)
	}
}

// A client's fetch and live query with a ref, bytes or json argument reach
// the server (the selection travels as text with typed literals), which
// answers them like its own: before, the server refused the text as a
// syntax error.
func TestSync_RefBytesAndJSONArgumentsReachTheServer(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	c := newClient(t)
	link(t, server, c)
	trx := server.Context(nil).Begin()
	a, err := trx.Create(ctx, "artist")
	must(t, err)
	must(t, a.Set("name", "Muse"))
	must(t, trx.Commit(ctx))
	trx = server.Context(nil).Begin()
	al, err := trx.Create(ctx, "album")
	must(t, err)
	must(t, al.Set("artist", value.Ref(a.ID())))
	must(t, al.Set("cover", []byte{0xca, 0xfe}))
	must(t, al.Set("meta", value.MustJSON(`{"tracks": 11}`)))
	other, err := trx.Create(ctx, "album")
	must(t, err)
	must(t, other.Set("artist", value.Ref(id.EntityID{})))
	must(t, trx.Commit(ctx))
	for _, q := range []struct {
		sel string
		arg any
	}{
		{"artist = ?", value.Ref(a.ID())},
		{"cover = ?", []byte{0xca, 0xfe}},
		{"meta = ?", value.MustJSON(`{"tracks": 11}`)},
	} {
		got, err := c.Context(nil).Fetch(ctx, "album", q.sel, q.arg)
		if err != nil || len(got) != 1 || got[0].ID() != al.ID() {
			t.Fatalf("client Fetch(%s): %d rows, %v; want the one album", q.sel, len(got), err)
		}
		lq, err := c.Context(nil).Query(ctx, "album", q.sel, q.arg)
		if err != nil {
			t.Fatalf("client Query(%s): %v", q.sel, err)
		}
		if n := len(lq.Items()); n != 1 {
			t.Fatalf("client Query(%s): %d rows, want 1", q.sel, n)
		}
		lq.Close()
	}
}
