package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/policy"
)

// TestConnect_NamesTheCauseAtOnce: each way of failing to reach a server
// is named in well under the dial timeout, once (nothing else is written:
// main prints the returned error), without repeated prefixes.
func TestConnect_NamesTheCauseAtOnce(t *testing.T) {
	server := startServer(t, filepath.Join("..", "..", "examples", "todos", "rules.yaml"))
	addr := strings.TrimSuffix(strings.TrimPrefix(server, "ws://"), "/ws")
	refused := freeAddr(t)
	for _, tc := range []struct {
		name, url, token string
		want             error
		text             string
	}{
		{"wrong path", "ws://" + addr + "/wrong", "", ErrNoEndpoint, "HTTP 404"},
		{"refused", "ws://" + refused + "/ws", "", ErrRefused, refused},
		{"http scheme", "http://" + addr + "/ws", "", ErrBadServerURL, "write ws://" + addr + "/ws"},
		{"no scheme", addr + "/ws", "", ErrBadServerURL, "want ws://"},
		{"tls to plain", "wss://" + addr + "/ws", "", ErrTLS, "does not speak TLS"},
		{"unknown host", "ws://nosuch.invalid/ws", "", ErrUnknownHost, "nosuch.invalid"},
		{"no token", server, "", policy.ErrUnauthenticated, "credentials refused by " + server + ": a token is required"},
		{"bad token", server, "abc", ErrCredentials, "token is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			var stderr bytes.Buffer
			err := run(context.Background(), []string{"query", "--server", tc.url, "--token", tc.token, "todo", "true"}, io.Discard, &stderr)
			if stderr.Len() != 0 { // main prints the returned error, once
				t.Fatalf("the command wrote %q besides returning %v", stderr.String(), err)
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("%v; want %v mentioning %q", err, tc.want, tc.text)
			}
			if took := time.Since(start); took > dialTimeout/2 {
				t.Fatalf("took %v", took)
			}
			if msg := err.Error(); dedupe(msg) != msg || strings.Contains(msg, "ankurah:") || strings.Contains(msg, "unauthenticated") || strings.Count(msg, tc.url) > 1 {
				t.Fatalf("repeated prefixes in %q", msg)
			}
		})
	}
}

func TestErrorLine_OnePrefix(t *testing.T) {
	err := errors.New("ankurah: remote error: ankurah: commit to \"todo\" refused: policy: access denied: policy: access denied: no")
	if got, want := errorLine(err), `ankurah: remote error: commit to "todo" refused: policy: access denied: no`; got != want {
		t.Fatalf("errorLine = %q, want %q", got, want)
	}
}

func TestDedupe_DropsRepeatedPrefixes(t *testing.T) {
	for in, want := range map[string]string{
		"policy: unauthenticated: policy: unauthenticated: token expired": "policy: unauthenticated: token expired",
		"ankurah: ankurah: x": "ankurah: x",
		"a: b: c":             "a: b: c",
		"x: x: x: y":          "x: y",
		"storage: closed":     "storage: closed",
	} {
		if got := dedupe(in); got != want {
			t.Errorf("dedupe(%q) = %q, want %q", in, got, want)
		}
	}
}
