//go:build !js

package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core/transport"
)

// A peer passes one long-lived context to call after call; its end while
// no call is in progress ends nothing: the connection stays up for calls
// under other contexts.
func TestContext_EndBetweenCallsLeavesTheConnectionUp(t *testing.T) {
	ctx := testCtx(t)
	server, client := withPair(t, keepaliveConfig{}, keepaliveConfig{})
	lctx, cancel := context.WithCancel(ctx)
	for i := range 20 {
		msg := []byte{byte(i)}
		if err := client.Send(lctx, msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		got, err := server.Recv(lctx)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("recv %d: %v %v", i, got, err)
		}
	}
	cancel()
	// The watch's registration runs on its own goroutine; give it the time
	// to find nothing in progress.
	time.Sleep(50 * time.Millisecond)
	if err := server.Send(ctx, []byte("still up")); err != nil {
		t.Fatalf("send after the long-lived context ended: %v", err)
	}
	if got, err := client.Recv(ctx); err != nil || string(got) != "still up" {
		t.Fatalf("recv after the long-lived context ended: %q %v", got, err)
	}
	// And a call under an ended context is refused at once.
	if err := client.Send(lctx, []byte("x")); !errors.Is(err, transport.ErrClosed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("send under an ended context: %v, want ErrClosed and Canceled", err)
	}
}

// A send whose context ends while the peer takes none of its bytes ends
// the connection (half a message cannot be taken back), and says why.
func TestContext_SendEndingMidMessageClosesTheConnection(t *testing.T) {
	ctx := testCtx(t)
	c, peer := withPeer(t, keepaliveConfig{})
	_ = peer // reads nothing
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := c.Send(sctx, bytes.Repeat([]byte{7}, 1<<20))
	if !errors.Is(err, transport.ErrClosed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send past its deadline: %v, want ErrClosed and DeadlineExceeded", err)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection is still open")
	}
	if err := c.Send(ctx, []byte("x")); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("send on the closed connection: %v", err)
	}
}

// A send waiting behind another whose context ends gives up alone: the
// message in progress is finished and the connection stays up.
func TestContext_SendWaitingBehindAnotherGivesUpAlone(t *testing.T) {
	ctx := testCtx(t)
	c, peer := withPeer(t, keepaliveConfig{})
	big := bytes.Repeat([]byte{1, 2, 3, 4}, 256<<10) // 1 MiB, more than the pipe holds
	first := make(chan error, 1)
	go func() { first <- c.Send(ctx, big) }()
	// Wait until the first send holds the connection.
	deadline := time.Now().Add(10 * time.Second)
	for len(c.wsem) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first send did not start")
		}
		time.Sleep(time.Millisecond)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := c.Send(wctx, []byte("late")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send behind a long one, past its deadline: %v, want DeadlineExceeded", err)
	}
	typ, r, err := peer.Reader(ctx)
	if err != nil || typ != websocket.MessageBinary {
		t.Fatalf("peer reader: %v %v", typ, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("peer got %d bytes (%v), want %d", len(got), err, len(big))
	}
	if err := <-first; err != nil {
		t.Fatalf("the long send: %v", err)
	}
	if err := c.Send(ctx, []byte("next")); err != nil {
		t.Fatalf("send after: %v", err)
	}
	if _, got, err := peer.Read(ctx); err != nil || string(got) != "next" {
		t.Fatalf("peer read after: %q %v", got, err)
	}
}
