package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// getInspect GETs an inspector URL with a bearer token ("" for none).
func getInspect(t *testing.T, url, tok string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestInspect_AdminOnlyWithAPolicy(t *testing.T) {
	ctx := context.Background()
	url := startServer(t, filepath.Join("..", "..", "examples", "todos", "rules.yaml"))
	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	hour := time.Now().Add(time.Hour)
	aliceTok, rootTok := token(t, "alice", nil, hour, testSecret), token(t, "root", []string{"admin"}, hour, testSecret)

	alice, err := dialAs(t, url, aliceTok)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := alice.Context(nil).Query(ctx, "todo", "title LIKE ?", "%milk%")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	tid, err := newTodo(ctx, alice, "alice", "buy milk")
	if err != nil {
		t.Fatal(err)
	}
	eid := mustEntity(t, tid)
	trx := alice.Context(nil).Begin()
	m, err := trx.Edit(ctx, "todo", eid)
	if err != nil {
		t.Fatal(err)
	}
	m.Set("title", "buy oat milk")
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// The page itself is public; its data is not.
	if resp, body := getInspect(t, base+"/inspect/", ""); resp.StatusCode != 200 || !strings.Contains(string(body), "Ankurah inspector") {
		t.Fatalf("page: %d %s", resp.StatusCode, body)
	}
	for _, c := range []struct {
		name, tok string
		status    int
		says      string
	}{
		{"no token", "", http.StatusUnauthorized, "Authorization: Bearer"},
		{"bad token", "not-a-jwt", http.StatusUnauthorized, "unauthenticated"},
		{"no admin role", aliceTok, http.StatusForbidden, `needs the role "admin"`},
	} {
		for _, path := range []string{"/inspect/api/snapshot", "/inspect/api/stream", "/inspect/api/entity?collection=todo&id=" + tid} {
			resp, body := getInspect(t, base+path, c.tok)
			var e struct{ Error string }
			json.Unmarshal(body, &e)
			if resp.StatusCode != c.status || !strings.Contains(e.Error, c.says) {
				t.Errorf("%s %s: %d %s", c.name, path, resp.StatusCode, body)
			}
		}
	}

	resp, body := getInspect(t, base+"/inspect/api/snapshot", rootTok)
	if resp.StatusCode != 200 {
		t.Fatalf("admin snapshot: %d %s", resp.StatusCode, body)
	}
	var s struct {
		Node struct {
			Role  string
			Peers []struct {
				Subject       string
				Roles         []string
				Upstream      bool
				Subscriptions []struct{ Collection, Selection, Effective string }
			}
		}
		Collections []collectionCount
		Admin       string
		Policy      bool
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Node.Role != "durable" || s.Admin != "root" || !s.Policy || len(s.Node.Peers) != 1 {
		t.Fatalf("snapshot: %s", body)
	}
	p := s.Node.Peers[0]
	if p.Subject != "alice" || p.Upstream || len(p.Subscriptions) != 1 {
		t.Fatalf("peer: %+v", p)
	}
	if sub := p.Subscriptions[0]; sub.Collection != "todo" || sub.Selection != "title LIKE '%milk%'" || !strings.Contains(sub.Effective, "owner = 'alice'") {
		t.Errorf("subscription: %+v", sub)
	}
	if strings.Contains(string(body), aliceTok) {
		t.Error("the snapshot shows a peer's token")
	}
	var todo *collectionCount
	for i := range s.Collections {
		if s.Collections[i].Name == "todo" {
			todo = &s.Collections[i]
		}
	}
	if todo == nil || todo.Entities != 1 || todo.Deleted != 0 {
		t.Errorf("collections: %+v", s.Collections)
	}

	// The entity's history: the creation, then the edit on it.
	resp, body = getInspect(t, base+"/inspect/api/entity?collection=todo&id="+tid, rootTok)
	if resp.StatusCode != 200 {
		t.Fatalf("entity: %d %s", resp.StatusCode, body)
	}
	var h entityHistory
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	if h.ID != tid || h.Values["title"].Raw() != "buy oat milk" || h.Total != 2 || len(h.Events) != 2 || len(h.Head) != 1 {
		t.Fatalf("entity: %s", body)
	}
	if !h.Events[0].Genesis || h.Events[0].Created == nil || h.Events[0].Set["title"].Raw() != "buy milk" || h.Events[0].Set["owner"].Raw() != "alice" {
		t.Errorf("genesis: %+v", h.Events[0])
	}
	if h.Events[1].Genesis || len(h.Events[1].Parents) != 1 || h.Events[1].Parents[0] != h.Events[0].ID || h.Events[1].ID != h.Head[0] || h.Events[1].Set["title"].Raw() != "buy oat milk" {
		t.Errorf("edit: %+v", h.Events[1])
	}
	// Both came from alice's connection: the server says so, and when.
	for i, ev := range h.Events {
		if !ev.Attributed || ev.Author != "alice" || ev.Peer != alice.ID().String() || ev.Received == nil || time.Since(*ev.Received) > time.Hour {
			t.Errorf("event %d attribution: %+v", i, ev)
		}
	}
	for q, want := range map[string]int{"collection=todo": 400, "collection=todo&id=nope": 400, "collection=nothing&id=" + tid: 404, "collection=todo&id=" + id.EntityID{}.String(): 404} {
		if resp, body := getInspect(t, base+"/inspect/api/entity?"+q, rootTok); resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", q, resp.StatusCode, body, want)
		}
	}

	// The stream sends snapshots as server-sent events.
	req, _ := http.NewRequest(http.MethodGet, base+"/inspect/api/stream", nil)
	req.Header.Set("Authorization", "Bearer "+rootTok)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	if ct := sresp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream content type %q", ct)
	}
	sc := bufio.NewScanner(sresp.Body)
	sc.Buffer(nil, 1<<20)
	for frames := 0; frames < 2 && sc.Scan(); {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var fs inspectSnapshot
		if err := json.Unmarshal([]byte(line), &fs); err != nil || fs.Admin != "root" {
			t.Fatalf("frame %q: %v", line, err)
		}
		frames++
	}
}

func TestInspect_StreamsAreBounded(t *testing.T) {
	n, err := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	in := newInspector(ctx, n, memory.New(), policy.Permissive{}, "admin", "")
	for range inspectStreams {
		in.streams <- struct{}{}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/inspect/api/stream", nil)
	in.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "streams are open") {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	// A stream ends when the server stops.
	<-in.streams
	cancel()
	rec = httptest.NewRecorder()
	in.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "data: {") {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}

// An event the server has no record of (here: written by a node that
// records none, as data from before the record or a dump loaded without
// it) is shown unattributed beside the attributed ones.
func TestInspect_EventsWithoutARecordAreUnattributed(t *testing.T) {
	ctx := context.Background()
	e := memory.New()
	n, err := core.NewNode(ctx, e, policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	trx := n.Context(nil).Begin()
	m, err := trx.Create(ctx, "todo")
	if err != nil {
		t.Fatal(err)
	}
	m.Set("title", "recorded")
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := core.NewNode(ctx, e, policy.Permissive{}, core.WithAttribution(0))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	trx = old.Context(nil).Begin()
	m2, err := trx.Edit(ctx, "todo", m.ID())
	if err != nil {
		t.Fatal(err)
	}
	m2.Set("title", "not recorded")
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	in := newInspector(ctx, n, e, policy.Permissive{}, "admin", "")
	rec := httptest.NewRecorder()
	in.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/inspect/api/entity?collection=todo&id="+m.ID().String(), nil))
	var h entityHistory
	if err := json.Unmarshal(rec.Body.Bytes(), &h); rec.Code != 200 || err != nil || len(h.Events) != 2 {
		t.Fatalf("%d %s (%v)", rec.Code, rec.Body.String(), err)
	}
	// Permissive names no one: the record has the time and no author or
	// peer (a transaction of the server itself).
	if g := h.Events[0]; !g.Attributed || g.Received == nil || g.Author != "" || g.Peer != "" {
		t.Errorf("recorded event: %+v", g)
	}
	if e := h.Events[1]; e.Attributed || e.Received != nil || e.Author != "" {
		t.Errorf("unrecorded event: %+v", e)
	}
	if !strings.Contains(rec.Body.String(), `"attributed":false`) {
		t.Errorf("an unrecorded event must say so: %s", rec.Body.String())
	}
}

func TestInspect_CausalOrderPutsParentsFirst(t *testing.T) {
	g := event.NewGenesis("c", nil, make([]byte, event.NonceSize), 1)
	gid := g.ID()
	child := func(name string, parents ...id.EventID) event.Event {
		return event.Event{Collection: "c", Entity: id.EntityID(gid), Parent: event.NewClock(parents...), Operations: map[string][]byte{name: {1}}}
	}
	a, b := child("a", gid), child("b", gid)
	m := child("m", a.ID(), b.ID())
	got := causalOrder([]event.Event{m, b, a, g})
	pos := map[id.EventID]int{}
	for i, e := range got {
		pos[e.ID()] = i
	}
	if len(got) != 4 || pos[gid] != 0 || pos[m.ID()] != 3 {
		t.Fatalf("order: %v", pos)
	}
}

func TestInspect_ServesTheWebAssemblyNodeGzippedOrPlain(t *testing.T) {
	n, err := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("\x00asm node"))
	zw.Close()
	in := newInspector(context.Background(), n, memory.New(), policy.Permissive{}, "", "")
	in.assets = fstest.MapFS{"ankurah.wasm.gz": {Data: gz.Bytes()}, "index.html": {Data: []byte("<title>x</title>")}}
	get := func(in *inspector, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/inspect/ankurah.wasm", nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		rec := httptest.NewRecorder()
		in.ServeHTTP(rec, req)
		return rec
	}
	if rec := get(in, "br, gzip"); rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(rec.Body.Bytes(), gz.Bytes()) || rec.Header().Get("Content-Type") != "application/wasm" {
		t.Errorf("gzip: %d %v", rec.Code, rec.Header())
	}
	for _, accept := range []string{"", "br", "gzip;q=0"} {
		if rec := get(in, accept); rec.Code != 200 || rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != "\x00asm node" {
			t.Errorf("Accept-Encoding %q: %d %v %q", accept, rec.Code, rec.Header(), rec.Body.String())
		}
	}
	// Built without it: the --static directory's copy, else a clear 404.
	in.assets = fstest.MapFS{}
	static := t.TempDir()
	if err := os.WriteFile(filepath.Join(static, "ankurah.wasm"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	in.static = static
	if rec := get(in, "gzip"); rec.Code != http.StatusFound || rec.Header().Get("Location") != "/ankurah.wasm" {
		t.Errorf("static fallback: %d %v", rec.Code, rec.Header())
	}
	in.static = ""
	if rec := get(in, "gzip"); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "build.sh") {
		t.Errorf("missing: %d %s", rec.Code, rec.Body.String())
	}
}
