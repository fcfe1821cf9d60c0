package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

func staticDir(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	wasm := bytes.Repeat([]byte("\x00asm wasm module bytes that compress well "), 4000)
	os.MkdirAll(filepath.Join(dir, "assets"), 0o755)
	for name, data := range map[string][]byte{
		"ankurah.wasm":          wasm,
		"index.html":            []byte("<!doctype html><title>app</title>"),
		"assets/index-abc12.js": bytes.Repeat([]byte("console.log('x');\n"), 200),
		"logo.png":              bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 1000),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, wasm
}

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestStatic_ServesCompressedByAcceptEncoding(t *testing.T) {
	dir, wasm := staticDir(t)
	sf, err := newStaticFiles(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	decode := map[string]func(io.Reader) io.Reader{
		"br":   func(r io.Reader) io.Reader { return brotli.NewReader(r) },
		"gzip": func(r io.Reader) io.Reader { z, _ := gzip.NewReader(r); return z },
		"":     func(r io.Reader) io.Reader { return r },
	}
	etags := map[string]bool{}
	for _, tc := range []struct{ accept, want string }{
		{"gzip, deflate, br, zstd", "br"},
		{"gzip", "gzip"},
		{"br;q=0, gzip;q=0.5", "gzip"},
		{"", ""},
		{"identity", ""},
		{"*", "br"},
		{"*, br;q=0", "gzip"},
	} {
		resp := get(t, sf, "/ankurah.wasm", "Accept-Encoding", tc.accept)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != tc.want {
			t.Fatalf("Accept-Encoding %q: %d, Content-Encoding %q; want %q", tc.accept, resp.StatusCode, resp.Header.Get("Content-Encoding"), tc.want)
		}
		if tc.want != "" && len(body) >= len(wasm)/4 {
			t.Fatalf("%s: %d bytes on the wire for %d", tc.want, len(body), len(wasm))
		}
		plain, _ := io.ReadAll(decode[tc.want](bytes.NewReader(body)))
		if !bytes.Equal(plain, wasm) {
			t.Fatalf("Accept-Encoding %q: the decoded body is not the file", tc.accept)
		}
		h := resp.Header
		if h.Get("Content-Type") != "application/wasm" || h.Get("Vary") != "Accept-Encoding" || h.Get("Cache-Control") != "no-cache" || h.Get("ETag") == "" {
			t.Fatalf("headers %v", h)
		}
		etags[tc.want+" "+h.Get("ETag")] = true
	}
	if len(etags) != 3 {
		t.Fatalf("want one ETag per representation, got %v", etags)
	}
	// Revalidation with the representation's ETag costs a 304.
	first := get(t, sf, "/ankurah.wasm", "Accept-Encoding", "br")
	again := get(t, sf, "/ankurah.wasm", "Accept-Encoding", "br", "If-None-Match", first.Header.Get("ETag"))
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", again.StatusCode)
	}
	// Hashed bundle names are immutable; images are not recompressed; / is index.html.
	if h := get(t, sf, "/assets/index-abc12.js", "Accept-Encoding", "gzip").Header; h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("Content-Encoding") != "gzip" {
		t.Fatalf("assets headers %v", h)
	}
	if h := get(t, sf, "/logo.png", "Accept-Encoding", "br").Header; h.Get("Content-Encoding") != "" {
		t.Fatalf("png was compressed: %v", h)
	}
	if resp := get(t, sf, "/"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get(t, sf, "/../../etc/passwd"); resp.StatusCode != 404 {
		t.Fatalf("escape: %d", resp.StatusCode)
	}
	// A changed file is served fresh.
	os.WriteFile(filepath.Join(dir, "ankurah.wasm"), []byte("new"), 0o644)
	if body, _ := io.ReadAll(get(t, sf, "/ankurah.wasm").Body); string(body) != "new" {
		t.Fatalf("after a rebuild: %q", body)
	}
}

func TestStatic_PrefersABuildsPrecompressedFile(t *testing.T) {
	dir, _ := staticDir(t)
	os.WriteFile(filepath.Join(dir, "ankurah.wasm.br"), []byte("made by the build"), 0o644)
	sf, _ := newStaticFiles(context.Background(), dir, slog.New(slog.DiscardHandler))
	if body, _ := io.ReadAll(get(t, sf, "/ankurah.wasm", "Accept-Encoding", "br").Body); string(body) != "made by the build" {
		t.Fatalf("served %.40q", body)
	}
}

func TestServe_RefusesMissingStaticAndShortSecrets(t *testing.T) {
	ctx := context.Background()
	err := run(ctx, []string{"serve", "--addr", freeAddr(t), "--storage", "memory://", "--static", filepath.Join(t.TempDir(), "dist")}, io.Discard, io.Discard)
	if !errors.Is(err, ErrStaticDir) || !strings.Contains(err.Error(), "dist") {
		t.Fatalf("missing --static: %v", err)
	}
	rulesPath := filepath.Join("..", "..", "examples", "todos", "rules.yaml")
	t.Setenv("ANKURAH_JWT_SECRET", "short")
	err = run(ctx, []string{"serve", "--addr", freeAddr(t), "--storage", "memory://", "--policy", rulesPath}, io.Discard, io.Discard)
	if !errors.Is(err, ErrWeakSecret) || !strings.Contains(err.Error(), "5 bytes") || !strings.Contains(err.Error(), "ANKURAH_JWT_SECRET") {
		t.Fatalf("short secret: %v", err)
	}
	t.Setenv("ANKURAH_JWT_SECRET", "")
	err = run(ctx, []string{"serve", "--addr", freeAddr(t), "--storage", "memory://", "--policy", rulesPath}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty secret: %v", err)
	}
}

func TestServe_StorageServerThatNeverAnswersTimesOut(t *testing.T) {
	defer func(d time.Duration) { storageOpenTimeout = d }(storageOpenTimeout)
	storageOpenTimeout = 300 * time.Millisecond
	// A listener that accepts and never answers stands for an unreachable server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, url := range []string{"postgres://u:hunter2@" + ln.Addr().String() + "/db?connect_timeout=60", "tikv://" + ln.Addr().String()} {
		start := time.Now()
		_, err := openStorage(context.Background(), url)
		if !errors.Is(err, ErrStorageTimeout) || strings.Contains(err.Error(), "hunter2") || time.Since(start) > 10*time.Second {
			t.Fatalf("%s: %v after %v", url, err, time.Since(start))
		}
	}
}
