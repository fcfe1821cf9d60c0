package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServe_Pprof checks that --pprof serves Go's profiles on its own
// listener and that the public address does not serve them.
func TestServe_Pprof(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, paddr := freeAddr(t), freeAddr(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--pprof", paddr, "--storage", "bolt://" + filepath.Join(t.TempDir(), "p.db")}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
	get := func(url string) (int, string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get(url)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v", url, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	code, body := get("http://" + paddr + "/debug/pprof/goroutine?debug=1")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("--pprof goroutine profile: %d %.200q", code, body)
	}
	if code, _ := get("http://" + addr + "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("the public address serves /debug/pprof/ with %d, want 404", code)
	}
}

// TestServe_PprofBadAddress checks that a --pprof address that cannot be
// listened on stops the server with an error naming the flag.
func TestServe_PprofBadAddress(t *testing.T) {
	addr := freeAddr(t)
	err := run(context.Background(), []string{"serve", "--addr", addr, "--pprof", "256.0.0.1:1", "--storage", "memory://"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--pprof 256.0.0.1:1") {
		t.Fatalf("err = %v, want one naming --pprof", err)
	}
}
