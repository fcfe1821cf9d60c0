package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// tappedEdit links a server and an ephemeral client on a memory engine
// through a tap, and creates one album of the given year through the
// client.
func tappedEdit(t *testing.T, year int) (server *core.Node, ce *memory.Engine, tp *tap, c *core.Context, ids []id.EntityID) {
	t.Helper()
	server, ce = newNode(t), memory.New()
	client := newNodeOn(t, ce, policy.Permissive{}, core.WithRole(core.Ephemeral))
	tp = linkTapped(t, server, client, 0)
	c = client.Context(nil)
	return server, ce, tp, c, createAlbums(t, c, album{"a", "x", year})
}

// wantValues fails unless the view holds each of the values.
func wantValues(t *testing.T, v *core.View, want map[string]any) {
	t.Helper()
	for prop, w := range want {
		wv, err := value.From(w)
		must(t, err)
		if got := v.Get(prop); !value.Equal(got, wv) {
			t.Errorf("%s = %v, want %v", prop, got, wv)
		}
	}
}

// requests counts the gets and commits through a tap, and the commits
// refused.
func (tp *tap) requests() (gets, commits, refused int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for rid := range tp.commits {
		for _, r := range tp.answers[rid] {
			if r.Error != "" {
				refused++
				break
			}
		}
	}
	return len(tp.gets), len(tp.commits), refused
}

// From version 9 an ephemeral node edits its own copy of an entity it
// holds without reading it from the server first: a write-only edit is one
// request, the commit, which names the entity in Current; the server's
// answer confirms the state the client computed.
func TestCurrentEdit_AWriteOnlyEditIsOneRequest(t *testing.T) {
	ctx := context.Background()
	server, ce, tp, c, ids := tappedEdit(t, 2000)
	gets0, commits0, _ := tp.requests()
	for i := range 3 {
		editSet(t, c, ids[0], "year", 2001+i)
		req, states, unchanged := tp.last(t, ids[0])
		if len(req.Current) != 1 || req.Current[0] != ids[0] || states != 0 || !unchanged {
			t.Fatalf("edit %d: current %v, %d states, unchanged %v; want [%s], 0, true", i, req.Current, states, unchanged, ids[0])
		}
	}
	gets, commits, refused := tp.requests()
	if gets != gets0 || commits != commits0+3 || refused != 0 {
		t.Fatalf("three edits made %d gets, %d commits (%d refused); want 0, 3, 0", gets-gets0, commits-commits0, refused)
	}
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	if y, _ := v.Get("year").AsInt(); y != 2003 {
		t.Fatalf("the server holds year %d", y)
	}
	sameState(t, "after the edits", cachedState(t, ce, "album", ids[0]), v.State())
}

// When another writer moved the entity since the client's copy, the server
// refuses the commit as stale and writes nothing; the client reads the
// entity and makes its writes again on the current state. Its write of a
// property the other writer wrote too wins (it is the later one), and the
// other writer's other writes are kept.
func TestCurrentEdit_AnEditOfAStaleCopyIsMadeAgainOnTheCurrentState(t *testing.T) {
	ctx := context.Background()
	server, ce, tp, c, ids := tappedEdit(t, 2000)
	for _, s := range []string{"v1", "v2", "v3"} {
		editSet(t, server.Context(nil), ids[0], "name", s)
	}
	editSet(t, server.Context(nil), ids[0], "artist", "written on the server")
	gets0, commits0, _ := tp.requests()
	trx := c.Begin()
	m, err := trx.Edit(ctx, "album", ids[0])
	must(t, err)
	must(t, m.Set("name", "the client's, written last"))
	must(t, m.Set("year", 2024))
	must(t, trx.Commit(ctx))
	gets, commits, refused := tp.requests()
	if gets-gets0 != 1 || commits-commits0 != 2 || refused != 1 {
		t.Fatalf("the edit made %d gets, %d commits (%d refused); want 1, 2, 1", gets-gets0, commits-commits0, refused)
	}
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	wantValues(t, v, map[string]any{"name": "the client's, written last", "artist": "written on the server", "year": 2024})
	if len(v.State().Head) != 1 {
		t.Errorf("the server's head is %v: the edit was merged in as concurrent, not made on the current state", v.State().Head)
	}
	sameState(t, "after the edit", cachedState(t, ce, "album", ids[0]), v.State())
}

// A read through the Mut of a lazily edited entity reads it from the
// server first, so the edit sees the current state; writes made before the
// read are kept on it, and the commit is not refused.
func TestCurrentEdit_AReadThroughTheMutSeesTheCurrentState(t *testing.T) {
	ctx := context.Background()
	server, ce, tp, c, ids := tappedEdit(t, 2000)
	editSet(t, server.Context(nil), ids[0], "name", "written on the server")
	gets0, commits0, _ := tp.requests()
	trx := c.Begin()
	m, err := trx.Edit(ctx, "album", ids[0])
	must(t, err)
	must(t, m.Set("year", 2024))
	if gets, _, _ := tp.requests(); gets != gets0 {
		t.Fatalf("Edit and Set read the entity from the server (%d gets)", gets-gets0)
	}
	if name, _ := m.Get("name").AsString(); name != "written on the server" {
		t.Fatalf("a read inside the edit sees name %q", name)
	}
	if y, _ := m.Get("year").AsInt(); y != 2024 {
		t.Fatalf("a read inside the edit sees year %d, want its own write", y)
	}
	must(t, m.Set("artist", "y"))
	must(t, trx.Commit(ctx))
	gets, commits, refused := tp.requests()
	if gets-gets0 != 1 || commits-commits0 != 1 || refused != 0 {
		t.Fatalf("the edit made %d gets, %d commits (%d refused); want 1, 1, 0", gets-gets0, commits-commits0, refused)
	}
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	wantValues(t, v, map[string]any{"name": "written on the server", "artist": "y", "year": 2024})
	sameState(t, "after the edit", cachedState(t, ce, "album", ids[0]), v.State())
}

// A datatype's handle reads and edits its backend directly: the entity is
// read from the server first, and the commit does not ask for the current
// head (a datatype's edits are not made again).
func TestCurrentEdit_AHandleReadsFirstAndIsNotReplayed(t *testing.T) {
	ctx := context.Background()
	server, _, tp, c, ids := tappedEdit(t, 2000)
	editSet(t, server.Context(nil), ids[0], "name", "written on the server")
	gets0, _, _ := tp.requests()
	trx := c.Begin()
	m, err := trx.Edit(ctx, "album", ids[0])
	must(t, err)
	b, err := m.Handle("year").Backend(property.LWWName)
	must(t, err)
	if gets, _, _ := tp.requests(); gets != gets0+1 {
		t.Fatalf("a handle's backend was given out after %d gets, want 1", gets-gets0)
	}
	if name, _ := b.Values().Get("name").AsString(); name != "written on the server" {
		t.Fatalf("the backend holds name %q", name)
	}
	b.(*property.LWW).Set("year", value.Int(2024))
	must(t, trx.Commit(ctx))
	req, _, _ := tp.last(t, ids[0])
	if len(req.Current) != 0 {
		t.Fatalf("the commit names %v as to be made on the current head", req.Current)
	}
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	if y, _ := v.Get("year").AsInt(); y != 2024 {
		t.Fatalf("the server holds year %d", y)
	}
}

// Many clients editing one entity concurrently: every commit succeeds
// (after a few stale refusals it is merged in), and every node converges on
// the same state.
func TestCurrentEdit_ConcurrentWritersOfOneEntityConverge(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	const writers, edits = 4, 15
	clients := make([]*core.Node, writers)
	for i := range clients {
		clients[i] = newClient(t)
		link(t, server, clients[i])
	}
	ids := createAlbums(t, clients[0].Context(nil), album{"a", "x", 0})
	for _, cl := range clients[1:] {
		_, err := cl.Context(nil).Get(ctx, "album", ids[0])
		must(t, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*edits)
	for w, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cl.Context(nil)
			for i := range edits {
				trx := c.Begin()
				m, err := trx.Edit(ctx, "album", ids[0])
				if err == nil {
					err = m.Set(fmt.Sprintf("w%d", w), i)
				}
				if err == nil {
					err = m.Set("last", fmt.Sprintf("%d/%d", w, i))
				}
				if err == nil {
					err = trx.Commit(ctx)
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d edit %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	for w := range writers {
		if got, _ := v.Get(fmt.Sprintf("w%d", w)).AsInt(); got != edits-1 {
			t.Errorf("the server holds w%d = %d, want %d: a write was lost", w, got, edits-1)
		}
	}
	for i, cl := range clients {
		got, err := cl.Context(nil).Get(ctx, "album", ids[0])
		must(t, err)
		if !got.State().Head.Equal(v.State().Head) || !value.Equal(got.Get("last"), v.Get("last")) {
			t.Errorf("client %d holds head %v last %v, the server %v %v", i, got.State().Head, got.Get("last"), v.State().Head, v.Get("last"))
		}
	}
}

// The server's side of CommitReq.Current: a stale event is refused with
// the conflict code and kind core.stale, and nothing is written; the same
// event on the current head is written; Current is refused on older
// versions, when it names an entity the commit has no event of, and when it
// names more entities than the commit has events.
func TestCurrentEdit_TheServerRefusesAStaleEvent(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	ids := createAlbums(t, server.Context(nil), album{"a", "x", 2000})
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	old := v.State()
	editSet(t, server.Context(nil), ids[0], "name", "moved")
	v, err = server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	now := v.State()
	on := func(parent event.Clock, backend []byte) event.Event {
		f, err := property.Lookup(property.LWWName)
		must(t, err)
		b, err := f(backend)
		must(t, err)
		b.(*property.LWW).Set("year", value.Int(1999))
		ops, err := b.TakeOperations()
		must(t, err)
		return event.New("album", ids[0], parent, map[string][]byte{property.LWWName: ops})
	}
	stale := on(old.Head, old.Backends.StateOf(property.LWWName))
	commit := func(version uint32, ev event.Event, current []id.EntityID) *transport.Response {
		return rawRequest(t, server, version, transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}, Current: current}}, nil)
	}
	resp := commit(transport.ProtocolVersion, stale, ids)
	if resp.Code != transport.CodeConflict || !strings.Contains(resp.Kinds, "core.stale") || !strings.Contains(resp.Error, now.Head.String()) {
		t.Fatalf("a stale event: %+v, want a conflict of kind core.stale naming the current head", resp)
	}
	if err := core.RemoteErrorForTest(resp); !errors.Is(err, core.ErrStale) {
		t.Fatalf("the refusal as a client reads it: %v, want it to wrap ErrStale", err)
	}
	v, err = server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	if y, _ := v.Get("year").AsInt(); !v.State().Head.Equal(now.Head) || y != 2000 {
		t.Fatalf("a refused stale event changed the entity: head %v, year %v", v.State().Head, v.Get("year"))
	}
	for _, c := range []struct {
		what    string
		version uint32
		current []id.EntityID
		code    transport.Code
	}{
		{"on version 8", 8, ids, transport.CodeProtocol},
		{"naming an entity without an event", transport.ProtocolVersion, []id.EntityID{{9}}, transport.CodeProtocol},
		{"naming more entities than events", transport.ProtocolVersion, []id.EntityID{ids[0], {9}}, transport.CodeLimit},
	} {
		if resp := commit(c.version, stale, c.current); resp.Code != c.code {
			t.Errorf("Current %s: %+v, want code %d", c.what, resp, c.code)
		}
	}
	if resp := commit(transport.ProtocolVersion, on(now.Head, now.Backends.StateOf(property.LWWName)), ids); resp.Error != "" {
		t.Fatalf("an event on the current head: %+v", resp)
	}
	v, err = server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	if y, _ := v.Get("year").AsInt(); y != 1999 || v.Get("name").Raw() != "moved" {
		t.Fatalf("after the event on the current head: year %v, name %v", v.Get("year"), v.Get("name"))
	}
	// Without Current the stale event is merged in as before.
	if resp := commit(transport.ProtocolVersion, stale, nil); resp.Error != "" {
		t.Fatalf("a stale event without Current: %+v", resp)
	}
}

// The server deleted the entity since the client's copy: a lazy Edit of
// that copy succeeds, but its commit fails with ErrDeleted (as Edit did
// before version 9) instead of writing into the tombstone unseen; so does a
// read through the Mut followed by a commit.
func TestCurrentEdit_AnEntityDeletedMeanwhileIsErrDeleted(t *testing.T) {
	for _, read := range []bool{false, true} {
		ctx := context.Background()
		server, _, _, c, ids := tappedEdit(t, 2000)
		strx := server.Context(nil).Begin()
		must(t, strx.Delete(ctx, "album", ids[0]))
		must(t, strx.Commit(ctx))
		trx := c.Begin()
		m, err := trx.Edit(ctx, "album", ids[0])
		must(t, err)
		if read {
			m.Get("year")
		}
		must(t, m.Set("year", 2024))
		if err := trx.Commit(ctx); !errors.Is(err, core.ErrDeleted) {
			t.Fatalf("read %v: a commit to an entity deleted meanwhile returned %v, want ErrDeleted", read, err)
		}
		if _, err := server.Context(nil).Get(ctx, "album", ids[0]); !errors.Is(err, core.ErrDeleted) {
			t.Fatalf("read %v: the server's entity: %v, want it still deleted", read, err)
		}
	}
}

// A read through the Mut whose read from the server fails (Edit's context
// is over by then) sees the client's stale copy; a write based on it is not
// made again over a write that read never saw: the commit fails with
// ErrStale and nothing is written.
func TestCurrentEdit_AWriteAfterAFailedReadIsNotReplayed(t *testing.T) {
	ctx := context.Background()
	server, _, _, c, ids := tappedEdit(t, 5)
	editSet(t, server.Context(nil), ids[0], "year", 7)
	trx := c.Begin()
	ectx, cancel := context.WithCancel(ctx)
	m, err := trx.Edit(ectx, "album", ids[0])
	must(t, err)
	cancel()
	y, _ := m.Get("year").AsInt()
	if y != 5 {
		t.Fatalf("the read with a cancelled context saw year %d, want the client's copy (5)", y)
	}
	must(t, m.Set("year", y+1))
	if err := trx.Commit(ctx); !errors.Is(err, core.ErrStale) {
		t.Fatalf("commit of a write based on a stale read: %v, want ErrStale", err)
	}
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	if got, _ := v.Get("year").AsInt(); got != 7 {
		t.Fatalf("the server holds year %d, want the other writer's 7", got)
	}
	// Refresh reports the read's error itself.
	trx = c.Begin()
	m, err = trx.Edit(ctx, "album", ids[0])
	must(t, err)
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Refresh(done); err == nil {
		t.Fatal("Refresh with a cancelled context returned nil")
	}
	trx.Rollback()
}

// Delete and then Restore of one lazily edited entity in one transaction,
// while another writer moves it: the restore reads the entity, and the
// commit keeps the entity, the restore's write and the other writer's.
func TestCurrentEdit_DeleteThenRestoreKeepsTheRestore(t *testing.T) {
	for _, moved := range []bool{false, true} {
		ctx := context.Background()
		server, _, _, c, ids := tappedEdit(t, 2000)
		if moved {
			editSet(t, server.Context(nil), ids[0], "artist", "someone else")
		}
		trx := c.Begin()
		m, err := trx.Edit(ctx, "album", ids[0])
		must(t, err)
		must(t, m.Delete())
		m2, err := trx.Restore(ctx, "album", ids[0])
		must(t, err)
		must(t, m2.Set("name", "kept"))
		must(t, trx.Commit(ctx))
		v, err := server.Context(nil).Get(ctx, "album", ids[0])
		if err != nil {
			t.Fatalf("moved %v: the restore was lost: %v", moved, err)
		}
		want := map[string]any{"name": "kept", "artist": "x"}
		if moved {
			want["artist"] = "someone else"
		}
		wantValues(t, v, want)
	}
}

// writeOnly lets callers with credentials write albums but not read them.
type writeOnly struct{ policy.Permissive }

func (writeOnly) CheckRead(_ context.Context, cdata policy.ContextData, _ *entity.State) error {
	if s, ok := cdata.(string); ok && s == "" {
		return policy.ErrAccessDenied
	}
	return nil
}

// A caller that may write an entity but not read it does not learn through
// Current whether the entity moved: its stale event is merged in as
// concurrent, as without Current.
func TestCurrentEdit_AnUnreadableEntityIsNeverStale(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), writeOnly{})
	ids := createAlbums(t, server.Context(nil), album{"a", "x", 2000})
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	old := v.State()
	editSet(t, server.Context(nil), ids[0], "name", "moved by someone else")
	f, err := property.Lookup(property.LWWName)
	must(t, err)
	b, err := f(old.Backends.StateOf(property.LWWName))
	must(t, err)
	b.(*property.LWW).Set("year", value.Int(1))
	ops, err := b.TakeOperations()
	must(t, err)
	ev := event.New("album", ids[0], old.Head, map[string][]byte{property.LWWName: ops})
	r := rawRequest(t, server, transport.ProtocolVersion, transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}, Current: ids}}, nil)
	if r.Error != "" {
		t.Fatalf("a stale event on an entity the caller cannot read: %+v, want it merged in", r)
	}
}
