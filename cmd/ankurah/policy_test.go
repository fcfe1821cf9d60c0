package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

const testSecret = "a-test-secret-that-is-long-enough!"

func token(t *testing.T, sub string, roles []string, exp time.Time, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "roles": roles, "exp": exp.Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startServer runs `ankurah serve --policy` on the README's example rules.
func startServer(t *testing.T, rulesPath string) string {
	t.Helper()
	t.Setenv("ANKURAH_JWT_SECRET", testSecret)
	ctx, cancel := context.WithCancel(context.Background())
	addr := freeAddr(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--storage", "bolt://" + filepath.Join(t.TempDir(), "p.db"), "--policy", rulesPath}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "ws://" + addr + "/ws"
}

func dialAs(t *testing.T, url, tok string) (*core.Node, error) {
	t.Helper()
	n, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, url, n, ws.WithCredentials(func() []byte { return []byte(tok) }))
	t.Cleanup(func() { c.Close(); n.Close() })
	return n, err
}

func newTodo(ctx context.Context, n *core.Node, owner, title string) (string, error) {
	trx := n.Context(nil).Begin()
	m, err := trx.Create(ctx, "todo")
	if err != nil {
		return "", err
	}
	m.Set("owner", owner)
	m.Set("title", title)
	if err := trx.Commit(ctx); err != nil {
		return "", err
	}
	return m.ID().String(), nil
}

func TestPolicy_OverWebsockets(t *testing.T) {
	ctx := context.Background()
	url := startServer(t, filepath.Join("..", "..", "examples", "todos", "rules.yaml"))
	hour := time.Now().Add(time.Hour)
	alice, err := dialAs(t, url, token(t, "alice", nil, hour, testSecret))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := dialAs(t, url, token(t, "bob", nil, hour, testSecret))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := dialAs(t, url, token(t, "root", []string{"admin"}, hour, testSecret))
	if err != nil {
		t.Fatal(err)
	}

	// A's live query never receives B's rows when B writes.
	lq, err := alice.Context(nil).Query(ctx, "todo", "true")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	seen := make(chan string, 100)
	lq.Subscribe(func(cs core.ChangeSet) {
		for _, c := range cs.Changes {
			seen <- c.Entity.Get("title").Raw()
		}
	})
	if _, err := newTodo(ctx, bob, "bob", "bob's secret"); err != nil {
		t.Fatal(err)
	}
	aid, err := newTodo(ctx, alice, "alice", "alice's")
	if err != nil {
		t.Fatal(err)
	}
	for title := range seen {
		if title == "bob's secret" {
			t.Fatal("alice's live query received bob's row")
		}
		if title == "alice's" {
			break
		}
	}
	// B cannot read, modify or delete A's rows; forged authorship is refused.
	views, _ := bob.Context(nil).Fetch(ctx, "todo", "true")
	if len(views) != 1 {
		t.Fatalf("bob sees %d todos, want only his own", len(views))
	}
	aidParsed := mustEntity(t, aid)
	if _, err := bob.Context(nil).Get(ctx, "todo", aidParsed); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("bob Get alice's: %v", err)
	}
	if _, err := newTodo(ctx, bob, "alice", "forged"); !errors.Is(err, policy.ErrAccessDenied) {
		t.Fatalf("forged owner: %v", err)
	}
	trx := bob.Context(nil).Begin()
	if err := trx.Delete(ctx, "todo", aidParsed); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("bob delete alice's: %v", err)
	}
	// An admin can read everything and delete alice's todo.
	all, err := admin.Context(nil).Fetch(ctx, "todo", "true")
	if err != nil || len(all) != 2 {
		t.Fatalf("admin sees %d todos: %v", len(all), err)
	}
	trx = admin.Context(nil).Begin()
	if err := trx.Delete(ctx, "todo", aidParsed); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatalf("admin delete: %v", err)
	}
}

func TestPolicy_BadTokensRefusedClearly(t *testing.T) {
	url := startServer(t, filepath.Join("..", "..", "examples", "todos", "rules.yaml"))
	cases := map[string]string{
		"expired":   token(t, "alice", nil, time.Now().Add(-time.Hour), testSecret),
		"forged":    token(t, "alice", nil, time.Now().Add(time.Hour), "another-secret-that-is-long-enough"),
		"no token":  "",
		"not a JWT": "hello",
	}
	for name, tok := range cases {
		_, err := dialAs(t, url, tok)
		if !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
		}
	}
	// The CLI says why too.
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"query", "--server", url, "todo", "true"}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("CLI without a token: %v", err)
	}
}

func TestPolicy_ReloadedRulesApplyToNewRequests(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "todos", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(path, src, 0o600)
	url := startServer(t, path)
	alice, err := dialAs(t, url, token(t, "alice", nil, time.Now().Add(time.Hour), testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Context(nil).Fetch(ctx, "notes", "true"); !errors.Is(err, policy.ErrAccessDenied) {
		t.Fatalf("notes before reload: %v", err)
	}
	updated := strings.Replace(string(src), "  authenticated:\n", "  authenticated:\n    notes:\n      read: \"true\"\n      write: \"true\"\n", 1)
	os.WriteFile(path, []byte(updated), 0o600)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := alice.Context(nil).Fetch(ctx, "notes", "true")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reloaded rules never applied: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustEntity(t *testing.T, s string) id.EntityID {
	t.Helper()
	eid, err := id.ParseEntityID(s)
	if err != nil {
		t.Fatal(err)
	}
	return eid
}
