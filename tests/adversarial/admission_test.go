package adversarial_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Finding 3: 148 s after its token's exp, a connection could still fetch,
// commit and subscribe, and its old subscriptions still received updates.
func TestFinding_Expiry_ExpiredTokenIsRefusedUntilRefreshed(t *testing.T) {
	s := startServer(t) // the rules allow 30 s of leeway
	ctx := deadline(t)
	admin := s.dial(t, "root", "admin")
	exp := s.Clock.Now().Add(time.Minute)
	alice, err := s.dialToken(t, s.tokenUntil(t, "alice", exp))
	if err != nil {
		t.Fatal(err)
	}
	eid := mustCreate(t, alice.ctx(), "alice", "before expiry", nil)
	lq, err := alice.ctx().Query(ctx, "todo", "true")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	if !hasTitle(lq, "before expiry") {
		t.Fatal("alice's live query lacks her todo")
	}

	g := s.guard(t)
	s.Clock.Advance(2 * time.Minute) // past exp and the leeway
	_, err = alice.ctx().Fetch(ctx, "todo", "true")
	wantErr(t, "fetch with an expired token", err, policy.ErrUnauthenticated)
	err = editTodo(alice.ctx(), eid, map[string]any{"title": "written after expiry"})
	wantErr(t, "commit with an expired token", err, policy.ErrUnauthenticated)
	_, err = alice.ctx().Query(ctx, "todo", "title = 'new subscription'")
	wantErr(t, "new subscription with an expired token", err, policy.ErrUnauthenticated)
	g.done(t)

	// The old subscription stops: an admin's edit does not reach it. (The
	// refused fetch after the edit is answered on the same connection after
	// any update the edit produced, so an update would have arrived first.)
	mustEdit(t, admin.ctx(), eid, map[string]any{"title": "while expired"})
	_, err = alice.ctx().Fetch(ctx, "todo", "true")
	wantErr(t, "fetch with an expired token, after an edit", err, policy.ErrUnauthenticated)
	if hasTitle(lq, "while expired") {
		t.Fatal("an update reached a subscription whose token had expired")
	}
	if st, err := alice.Node.Context(nil).Get(context.Background(), "todo", eid); err == nil {
		if title, _ := st.Get("title").AsString(); title == "while expired" {
			t.Fatal("an update reached the expired connection's cache")
		}
	}

	// Refreshed: served again, and the subscription catches up.
	alice.setToken(s.token(t, "alice"))
	alice.WS.RefreshCredentials()
	waitFor(t, "the subscription to catch up after the refresh", func() bool { return hasTitle(lq, "while expired") })
	if _, err := alice.ctx().Fetch(ctx, "todo", "true"); err != nil {
		t.Fatalf("fetch after the refresh: %v", err)
	}
	mustEdit(t, alice.ctx(), eid, map[string]any{"title": "after the refresh"})
	fresh, err := alice.ctx().Query(ctx, "todo", "title = 'after the refresh'")
	if err != nil {
		t.Fatalf("subscribe after the refresh: %v", err)
	}
	fresh.Close()
	s.bystanders(t).check(t)
}

func randomIDs(n int) []id.EntityID {
	out := make([]id.EntityID, n)
	for i := range out {
		rand.Read(out[i][:])
	}
	return out
}

func randomEventIDs(n int) []id.EventID {
	out := make([]id.EventID, n)
	for i := range out {
		rand.Read(out[i][:])
	}
	return out
}

// Finding 4: a request could name any number of ids.
func TestFinding_Admission_RequestsNamingTooManyIDsAreRefused(t *testing.T) {
	s := startServer(t)
	r := s.rawAs(t, s.token(t, "mallory"))
	over := s.Limits.MaxIDs + 1
	known := make([]transport.Known, over)
	for i, e := range randomIDs(over) {
		known[i] = transport.Known{Entity: e}
	}
	cases := []struct {
		name string
		req  *transport.Request
	}{
		{"get", &transport.Request{Get: &transport.GetReq{Collection: "todo", IDs: randomIDs(over)}}},
		{"get-events", &transport.Request{GetEvents: &transport.GetEventsReq{Collection: "todo", IDs: randomEventIDs(over)}}},
		{"fetch with known entities", &transport.Request{Fetch: &transport.FetchReq{Collection: "todo", Query: "true", Known: known}}},
		{"subscribe with known entities", &transport.Request{Subscribe: &transport.SubscribeReq{Sub: 1, Collection: "todo", Query: "true", Known: known}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := s.guard(t)
			o := r.do(c.req)
			o.refused(t, fmt.Sprintf("%s naming %d ids", c.name, over), transport.CodeLimit)
			if !strings.Contains(o.message(), "max-ids") {
				t.Fatalf("refusal %q does not name max-ids", o.message())
			}
			r.alive(t, c.name)
			g.done(t)
		})
	}
	t.Run("exactly max-ids is served", func(t *testing.T) {
		r.do(&transport.Request{Get: &transport.GetReq{Collection: "todo", IDs: randomIDs(s.Limits.MaxIDs)}}).ok(t, "a get of max-ids ids")
	})
}

// Finding 4: a connection could open any number of subscriptions.
func TestFinding_Admission_SubscriptionsPerConnectionAreBounded(t *testing.T) {
	const max = 8
	s := startServer(t, withLimits(limits.Limits{MaxSubscriptions: max}))
	ctx := deadline(t)
	t.Run("client", func(t *testing.T) {
		alice := s.dial(t, "alice")
		g := s.guard(t)
		var lqs []*core.LiveQuery
		for i := range max {
			lq, err := alice.ctx().Query(ctx, "todo", "title = ?", fmt.Sprintf("q%d", i))
			if err != nil {
				t.Fatalf("subscription %d of %d: %v", i+1, max, err)
			}
			lqs = append(lqs, lq)
		}
		_, err := alice.ctx().Query(ctx, "todo", "title = 'one too many'")
		wantErr(t, fmt.Sprintf("subscription %d (limit %d)", max+1, max), err, core.ErrLimit, "max-subscriptions")
		lqs[0].Close()
		waitFor(t, "a subscription to be accepted once one is closed", func() bool {
			lq, err := alice.ctx().Query(ctx, "todo", "title = 'after a close'")
			if err != nil {
				return false
			}
			lqs = append(lqs, lq)
			return true
		})
		for _, lq := range lqs {
			lq.Close()
		}
		g.done(t)
	})
	t.Run("raw", func(t *testing.T) {
		r := s.rawAs(t, s.token(t, "mallory"))
		g := s.guard(t)
		for i := range uint64(max) {
			r.do(&transport.Request{Subscribe: &transport.SubscribeReq{Sub: i + 1, Collection: "todo", Query: "true"}}).ok(t, fmt.Sprintf("subscription %d", i+1))
		}
		// Re-pointing an existing subscription is not a new one.
		r.do(&transport.Request{Subscribe: &transport.SubscribeReq{Sub: 1, Collection: "todo", Query: "title = 'x'"}}).ok(t, "re-pointing subscription 1")
		for i := range uint64(3) {
			o := r.do(&transport.Request{Subscribe: &transport.SubscribeReq{Sub: 100 + i, Collection: "todo", Query: "true"}})
			o.refused(t, "a subscription over the limit", transport.CodeLimit)
			if !strings.Contains(o.message(), "max-subscriptions") {
				t.Fatalf("refusal %q does not name max-subscriptions", o.message())
			}
		}
		r.alive(t, "after the refused subscriptions")
		g.done(t)
	})
}

// Finding 4: requests pipelined beyond max-in-flight are answered at once
// with CodeBusy, and the connection stays up.
func TestFinding_Admission_RequestsBeyondMaxInFlightAreBusy(t *testing.T) {
	const inFlight, sent = 4, 100
	s := startServer(t, withLimits(limits.Limits{MaxInFlight: inFlight}))
	r := s.rawAs(t, s.token(t, "mallory"))
	g := s.guard(t)
	var reqs []*transport.Request
	for range sent {
		// Each get takes a while to serve (2,000 lookups), reading one does not.
		reqs = append(reqs, &transport.Request{Get: &transport.GetReq{Collection: "todo", IDs: randomIDs(2000)}})
	}
	got := r.pipeline(t, reqs, 0)
	busy := 0
	for _, req := range reqs {
		resp := got[req.ID]
		switch {
		case resp.Error == "":
		case resp.Code == transport.CodeBusy:
			busy++
		default:
			t.Fatalf("request %d: code %d %q, want an answer or CodeBusy", req.ID, resp.Code, resp.Error)
		}
	}
	if busy == 0 {
		t.Fatalf("none of %d pipelined requests was refused busy (max-in-flight = %d)", sent, inFlight)
	}
	t.Logf("%d of %d pipelined requests refused busy", busy, sent)
	r.alive(t, "after the busy refusals")
	g.done(t)
}

// Finding 4: connections that never read while a writer commits large
// updates are disconnected as slow consumers; the others are served.
func TestFinding_Admission_SlowConsumersAreDisconnected(t *testing.T) {
	const readers, commits, blob = 20, 40, 256 << 10
	s := startServer(t, withLimits(limits.Limits{PeerQueueBytes: 1 << 20}))
	writer := s.dial(t, "alice")
	eid := mustCreate(t, writer.ctx(), "alice", "big", nil)
	g := s.guard(t)
	g.allow(eid) // the writer's own, well-behaved edits
	tok := s.token(t, "alice")
	var slow []*raw
	for i := range readers {
		r := s.rawAs(t, tok)
		r.do(&transport.Request{Subscribe: &transport.SubscribeReq{Sub: 1, Collection: "todo", Query: "true"}}).ok(t, fmt.Sprintf("reader %d subscribes", i))
		slow = append(slow, r) // and never reads again (until the end)
	}
	last := ""
	for i := range commits {
		last = strings.Repeat(string(rune('a'+i%26)), blob)
		mustEdit(t, writer.ctx(), eid, map[string]any{"blob": last})
	}
	for i, r := range slow {
		// The fault may not get through a connection that does not read;
		// when it does, it says why.
		r.disconnected(t, fmt.Sprintf("slow reader %d", i))
		for _, f := range r.faults {
			if f.Code != transport.CodeLimit {
				t.Fatalf("slow reader %d: fault %d %q, want CodeLimit", i, f.Code, f.Message)
			}
		}
	}
	if b, _ := s.stored(t, "todo", eid).Values.Get("blob").AsString(); b != last {
		t.Fatalf("stored blob is not the writer's last (%d bytes)", len(b))
	}
	g.done(t)
}

// Finding 6: a client that pipelines many requests and reads slowly is
// served (answered, or refused busy) and stays connected.
func TestFinding_Keepalive_PipeliningSlowReaderStaysConnected(t *testing.T) {
	s := startServer(t)
	r := s.rawAs(t, s.token(t, "mallory"))
	g := s.guard(t)
	var reqs []*transport.Request
	for i := range 400 {
		reqs = append(reqs, &transport.Request{Fetch: &transport.FetchReq{Collection: "todo", Query: fmt.Sprintf("title = 'q%d'", i)}})
	}
	got := r.pipeline(t, reqs, 2*time.Millisecond)
	for _, req := range reqs {
		if resp := got[req.ID]; resp.Error != "" && resp.Code != transport.CodeBusy {
			t.Fatalf("request %d: code %d %q", req.ID, resp.Code, resp.Error)
		}
	}
	r.alive(t, "after a slow read of 400 pipelined answers")
	g.done(t)
}
