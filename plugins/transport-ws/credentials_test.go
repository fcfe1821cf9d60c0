//go:build !js

package ws_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// recordingAgent allows everything and reports every credential it
// authenticates. Credentials starting with "expired" make context data
// whose expiry has already passed.
type recordingAgent struct {
	policy.Permissive
	seen chan string
}

type expiringData struct{ at time.Time }

func (e expiringData) ExpiresAt() time.Time { return e.at }

func (a *recordingAgent) Authenticate(_ context.Context, _ policy.Peer, creds []byte) (policy.ContextData, error) {
	a.seen <- string(creds)
	if strings.HasPrefix(string(creds), "expired") {
		return expiringData{at: time.Now().Add(-time.Minute)}, nil
	}
	return expiringData{}, nil
}

func serveAgent(t *testing.T, agent policy.Agent) string {
	t.Helper()
	n, err := core.NewNode(context.Background(), memory.New(), agent, core.WithRole(core.Durable))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.NewServer(n))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

// jwtLike is a token shaped like a JWT (the server here checks no signature).
func jwtLike(sub string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(fmt.Sprintf(`{"sub":%q,"exp":%d}`, sub, exp.Unix()))) + "." + enc([]byte("sig"))
}

func seen(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the server authenticated nothing within 10s")
	}
	return ""
}

type timerCall struct {
	d time.Duration
	f func()
}

// A JWT is refreshed on the open connection ahead of its exp: the timer is
// set from the token's lifetime, and firing it sends what the credentials
// function returns then. Unchanged credentials are not sent again.
func TestClient_RefreshesJWTBeforeExpiry(t *testing.T) {
	agent := &recordingAgent{seen: make(chan string, 10)}
	url := serveAgent(t, agent)
	now := time.Unix(1_800_000_000, 0)
	timers := make(chan timerCall, 10)
	afterFunc := func(d time.Duration, f func()) func() bool {
		timers <- timerCall{d, f}
		return func() bool { return true }
	}
	var mu sync.Mutex
	tokens := []string{jwtLike("t1", now.Add(10*time.Minute)), jwtLike("t2", now.Add(time.Hour)), jwtLike("t2", now.Add(time.Hour)), jwtLike("t3", now.Add(2*time.Hour))}
	calls := 0
	creds := func() []byte {
		mu.Lock()
		defer mu.Unlock()
		tok := tokens[min(calls, len(tokens)-1)]
		calls++
		return []byte(tok)
	}
	dial(t, url, newNode(t, core.Ephemeral), ws.WithCredentials(creds), ws.WithTestClock(func() time.Time { return now }, afterFunc))
	if got := seen(t, agent.seen); got != tokens[0] {
		t.Fatalf("handshake credentials %q", got)
	}
	next := func() timerCall {
		t.Helper()
		select {
		case tc := <-timers:
			return tc
		case <-time.After(10 * time.Second):
			t.Fatal("no refresh scheduled")
		}
		return timerCall{}
	}
	tc := next()
	if tc.d != 10*time.Minute-30*time.Second { // exp − 30 s is later than 90% (9 min)
		t.Fatalf("first refresh after %v, want 9m30s", tc.d)
	}
	tc.f() // the timer fires
	if got := seen(t, agent.seen); got != tokens[1] {
		t.Fatalf("refreshed credentials %q, want the second token", got)
	}
	tc = next()
	if tc.d != time.Hour-30*time.Second {
		t.Fatalf("second refresh after %v, want 59m30s", tc.d)
	}
	tc.f() // the function returns the same token: nothing is sent
	tc = next()
	tc.f()
	if got := seen(t, agent.seen); got != tokens[3] {
		t.Fatalf("after an unchanged token the server saw %q, want the third token", got)
	}
}

// When the server says the credentials expired, the client asks for new
// ones at once and sends them; the connection then serves again.
func TestClient_RefreshesWhenServerSaysExpired(t *testing.T) {
	ctx := context.Background()
	agent := &recordingAgent{seen: make(chan string, 10)}
	url := serveAgent(t, agent)
	var mu sync.Mutex
	calls := 0
	creds := func() []byte {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return []byte("expired-1")
		}
		return []byte(fmt.Sprintf("fresh-%d", calls))
	}
	client := newNode(t, core.Ephemeral)
	dial(t, url, client, ws.WithCredentials(creds))
	if got := seen(t, agent.seen); got != "expired-1" {
		t.Fatalf("handshake credentials %q", got)
	}
	_, err := client.Context(nil).Fetch(ctx, "album", "true")
	if !errors.Is(err, policy.ErrUnauthenticated) {
		t.Fatalf("fetch with expired credentials: %v, want ErrUnauthenticated", err)
	}
	if got := seen(t, agent.seen); got != "fresh-2" {
		t.Fatalf("after the server's notice it saw %q, want fresh-2", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := client.Context(nil).Fetch(ctx, "album", "true")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch after the refresh: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Server.Close closes every connection with status 1001 and a reason, which
// the client's peer reports; later connections are told the same.
func TestServer_CloseSaysShuttingDown(t *testing.T) {
	server := newNode(t, core.Durable)
	wsrv := ws.NewServer(server)
	mux := http.NewServeMux()
	mux.Handle("/ws", wsrv)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	c := dial(t, url, newNode(t, core.Ephemeral), ws.WithBackoff(10*time.Millisecond, 20*time.Millisecond))
	p := c.Peer()
	if p == nil {
		t.Fatal("not connected")
	}
	if err := wsrv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the client's connection outlived Server.Close")
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "server shutting down (status 1001)") {
		t.Fatalf("client peer ended with %v, want the server's reason", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wc, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.CloseNow()
	_, _, err = wc.Read(ctx)
	if ce := (websocket.CloseError{}); !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "server shutting down" {
		t.Fatalf("connection after Close: %v, want 1001 server shutting down", err)
	}
}
