package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
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
	rec := &recorder{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/inspect/api/stream", nil)
	in.ServeHTTP(rec, req)
	if rec.status != http.StatusServiceUnavailable || !strings.Contains(rec.body.String(), "streams are open") {
		t.Fatalf("%d %s", rec.status, rec.body.String())
	}
	// A stream ends when the server stops.
	<-in.streams
	cancel()
	rec = &recorder{header: http.Header{}}
	in.ServeHTTP(rec, req.WithContext(context.Background()))
	if rec.status != 200 || !strings.HasPrefix(rec.body.String(), "data: {") {
		t.Fatalf("%d %s", rec.status, rec.body.String())
	}
}

// recorder is a ResponseWriter that keeps what is written.
type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) Flush() {}

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
