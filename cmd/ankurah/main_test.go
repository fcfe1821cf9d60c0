package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServe_QueryWatchFollowsCreates runs the server on bolt, follows a
// query with --watch like a second terminal would, and creates an album.
func TestServe_QueryWatchFollowsCreates(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := freeAddr(t)
	db := filepath.Join(t.TempDir(), "ankurah.db")
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"serve", "--addr", addr, "--storage", "bolt://" + db}, io.Discard, io.Discard)
	}()
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
	server := "ws://" + addr + "/ws"

	pr, pw := io.Pipe()
	go func() {
		err := run(ctx, []string{"query", "--server", server, "--watch", "album", "year > ?", "2000"}, pw, io.Discard)
		pw.CloseWithError(err)
	}()
	lines := bufio.NewScanner(pr)

	var out bytes.Buffer
	if err := run(ctx, []string{"create", "--server", server, "--models", "../../examples/react-app/model", "album", "name=Origin of Symmetry", "year=2001"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"create", "--server", server, "album", "name=\"Showbiz\"", "year=1999"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if strings.Contains(lines.Text(), "Origin of Symmetry") {
				got <- lines.Text()
				return
			}
		}
	}()
	select {
	case line := <-got:
		var r row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Change != "add" && r.Change != "initial" {
			t.Fatalf("change %q in %s", r.Change, line)
		}
		if y, _ := r.Values["year"].AsInt(); y != 2001 {
			t.Fatalf("year %v in %s", r.Values["year"], line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch never printed the new album")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	var fetched bytes.Buffer
	if err := run(ctx, []string{"query", "--server", server, "album", "year < ?", "2000"}, &fetched, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fetched.String(), "Showbiz") || strings.Contains(fetched.String(), "Origin") {
		t.Fatalf("query printed %s", fetched.String())
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
}

func TestServe_DefaultDataDir(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--addr", addr, "--data-dir", dir}, io.Discard, io.Discard) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ankurah.db")); err != nil {
		t.Fatalf("no bolt file in the data directory: %v", err)
	}
	if err := run(context.Background(), []string{"serve", "--tls-cert", "x.pem"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Fatalf("--tls-cert alone: %v", err)
	}
}

func TestRun_UnknownCommandAndBadStorage(t *testing.T) {
	ctx := context.Background()
	if err := run(ctx, []string{"frobnicate"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("unknown command: %v", err)
	}
	err := run(ctx, []string{"serve", "--storage", "nosuch://x", "--addr", freeAddr(t)}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("bad storage: %v", err)
	}
}

// TestServe_ModelsDeclareRelations: with --models the server (and the
// query command) follow the models' references, so `artist.name = ?` on
// albums reads each album's artist, and a renamed artist moves its albums.
func TestServe_ModelsDeclareRelations(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const models = "../../examples/react-app/model"
	addr := freeAddr(t)
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"serve", "--addr", addr, "--storage", "memory://", "--models", models}, io.Discard, io.Discard)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	server := "ws://" + addr + "/ws"
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append([]string{args[0], "--server", server, "--models", models}, args[1:]...), &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return strings.TrimSpace(out.String())
	}
	muse := cli("create", "artist", "name=Muse")
	cli("create", "album", "name=Absolution", "year=2003", "artist="+muse)
	cli("create", "album", "name=Untitled", "year=2004")
	if got := cli("query", "album", "artist.name = ?", "Muse"); !strings.Contains(got, "Absolution") || strings.Contains(got, "Untitled") {
		t.Fatalf("artist.name = Muse printed %q", got)
	}
	cli("set", "artist", muse, "name=MUSE")
	if got := cli("query", "album", "artist.name = ?", "Muse"); got != "" {
		t.Fatalf("after the rename, artist.name = Muse printed %q", got)
	}
	if got := cli("query", "album", "artist.name = ?", "MUSE"); !strings.Contains(got, "Absolution") {
		t.Fatalf("after the rename, artist.name = MUSE printed %q", got)
	}
	var stderr bytes.Buffer
	if err := run(ctx, []string{"serve", "--addr", freeAddr(t), "--storage", "memory://", "--models", t.TempDir()}, io.Discard, &stderr); !errors.Is(err, ErrModels) {
		t.Fatalf("--models of a directory without models: %v", err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
