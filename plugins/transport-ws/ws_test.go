//go:build !js

package ws_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

func newNode(t testing.TB, role core.Role) *core.Node {
	t.Helper()
	n, err := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, core.WithRole(role))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func serve(t testing.TB, n *core.Node) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.NewServer(n))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

func dial(t testing.TB, url string, n *core.Node, opts ...ws.ClientOption) *ws.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, url, n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func create(t testing.TB, c *core.Context, name string) {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	m, err := trx.Create(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	m.Set("name", name)
	m.Set("artist", "Muse")
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func next(t testing.TB, ch <-chan core.ChangeSet) core.ChangeSet {
	t.Helper()
	select {
	case cs := <-ch:
		return cs
	case <-time.After(10 * time.Second):
		t.Fatal("no ChangeSet within 10s")
	}
	return core.ChangeSet{}
}

func describe(cs core.ChangeSet) string {
	var out []string
	for _, c := range cs.Changes {
		out = append(out, c.Kind.String()+":"+c.Entity.Get("name").Raw())
	}
	return fmt.Sprint(out)
}

// The seed scenario over real websockets on 127.0.0.1.
func TestWebSocket_SeedScenario(t *testing.T) {
	ctx := context.Background()
	server := newNode(t, core.Durable)
	url := serve(t, server)
	c1, c2 := newNode(t, core.Ephemeral), newNode(t, core.Ephemeral)
	dial(t, url, c1)
	dial(t, url, c2)

	lq, err := c1.Context(nil).Query(ctx, "album", "name = 'Origin of Symmetry'")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	ch := make(chan core.ChangeSet, 10)
	lq.Subscribe(func(cs core.ChangeSet) { ch <- cs })
	next(t, ch)

	create(t, server.Context(nil), "Origin of Symmetry")
	if got := describe(next(t, ch)); got != "[Add:Origin of Symmetry]" {
		t.Fatal(got)
	}

	lq2, err := c2.Context(nil).Query(ctx, "album", "artist = 'Muse'")
	if err != nil {
		t.Fatal(err)
	}
	defer lq2.Close()
	ch2 := make(chan core.ChangeSet, 10)
	lq2.Subscribe(func(cs core.ChangeSet) { ch2 <- cs })
	next(t, ch2)
	create(t, c1.Context(nil), "Hullabaloo")
	if got := describe(next(t, ch2)); got != "[Add:Hullabaloo]" {
		t.Fatal(got)
	}
	if vs, _ := server.Context(nil).Fetch(ctx, "album", "name = 'Hullabaloo'"); len(vs) != 1 {
		t.Fatal("client's album not stored on the server")
	}
}

func TestClient_ReconnectsAndReportsState(t *testing.T) {
	ctx := context.Background()
	server := newNode(t, core.Durable)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.NewServer(server))
	tl := &trackingListener{Listener: ln}
	srv := &http.Server{Handler: mux}
	go srv.Serve(tl)

	client := newNode(t, core.Ephemeral)
	creds := 0
	c := dial(t, "ws://"+addr+"/ws", client, ws.WithBackoff(10*time.Millisecond, 50*time.Millisecond), ws.WithCredentials(func() []byte { creds++; return []byte("token") }))
	states := make(chan ws.State, 100)
	c.State().Subscribe(func(s ws.State) { states <- s })
	if c.State().Get() != ws.Connected {
		t.Fatalf("state %v", c.State().Get())
	}
	srv.Close()
	tl.closeAll() // drops the hijacked websocket connections too
	waitState(t, states, ws.Disconnected)

	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s not reusable: %v", addr, err)
	}
	srv2 := &http.Server{Handler: mux}
	go srv2.Serve(ln2)
	defer srv2.Close()
	waitState(t, states, ws.Connected)
	if creds < 2 {
		t.Fatalf("credentials asked %d times, want a fresh call per connection", creds)
	}
	create(t, client.Context(nil), "after reconnect")
	if vs, _ := server.Context(nil).Fetch(ctx, "album", "true"); len(vs) != 1 {
		t.Fatal("commit after reconnect did not reach the server")
	}
	c.Close()
	if c.State().Get() != ws.Closed {
		t.Fatalf("state after Close: %v", c.State().Get())
	}
}

func waitState(t testing.TB, ch <-chan ws.State, want ws.State) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-ch:
			if s == want {
				return
			}
		case <-deadline:
			t.Fatalf("never reached state %v", want)
		}
	}
}

func TestClient_BuildsForWasm(t *testing.T) {
	cmd := exec.Command("go", "build", "-o", "/dev/null", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build: %v\n%s", err, out)
	}
}

// trackingListener remembers accepted connections so a test can drop them,
// hijacked websocket connections included.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}
