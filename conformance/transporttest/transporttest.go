// Package transporttest is the conformance suite for transport.Connection
// implementations: every transport (the in-process Pipe, websockets, …)
// must carry frames in order, intact, in both directions, and end cleanly.
//
// A transport's test wires it in a few lines:
//
//	transporttest.Run(t, func(ctx context.Context, t *testing.T) (transport.Connection, transport.Connection) {
//		return transport.Pipe()
//	})
package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/transport"
)

// PairMaker returns the two ends of a fresh connection. The suite closes both.
type PairMaker func(ctx context.Context, t *testing.T) (a, b transport.Connection)

// Run runs every case against connections from makePair.
func Run(t *testing.T, makePair PairMaker) {
	cases := []struct {
		name string
		fn   func(context.Context, *testing.T, transport.Connection, transport.Connection)
	}{
		{"FramesInOrderBothWays", framesInOrder},
		{"LargeFrameIntact", largeFrame},
		{"ConcurrentSendersLoseNothing", concurrentSenders},
		{"CloseEndsBothSides", closeEnds},
		{"RecvHonoursContext", recvContext},
		{"EmptyFrame", emptyFrame},
	}
	t.Run("NoGoroutineLeaks", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Warm up once so lazily started helpers (servers, pools) are counted.
		a, b := makePair(ctx, t)
		closeBoth(a, b)
		before := runtime.NumGoroutine()
		for i := 0; i < 5; i++ {
			a, b := makePair(ctx, t)
			if err := a.Send(ctx, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Recv(ctx); err != nil {
				t.Fatal(err)
			}
			closeBoth(a, b)
		}
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before+2 {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines after 5 connections opened and closed, %d before", runtime.NumGoroutine(), before)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, b := makePair(ctx, t)
			defer closeBoth(a, b)
			c.fn(ctx, t, a, b)
		})
	}
}

func framesInOrder(ctx context.Context, t *testing.T, a, b transport.Connection) {
	send := func(c transport.Connection, prefix string) {
		for i := 0; i < 100; i++ {
			if err := c.Send(ctx, []byte(fmt.Sprint(prefix, i))); err != nil {
				t.Error(err)
				return
			}
		}
	}
	go send(a, "a")
	go send(b, "b")
	for i := 0; i < 100; i++ {
		if f, err := b.Recv(ctx); err != nil || string(f) != fmt.Sprint("a", i) {
			t.Fatalf("b got %q, %v; want a%d", f, err, i)
		}
		if f, err := a.Recv(ctx); err != nil || string(f) != fmt.Sprint("b", i) {
			t.Fatalf("a got %q, %v; want b%d", f, err, i)
		}
	}
}

func largeFrame(ctx context.Context, t *testing.T, a, b transport.Connection) {
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<20) // 4 MiB
	errc := make(chan error, 1)
	go func() { errc <- a.Send(ctx, big) }()
	f, err := b.Recv(ctx)
	if err != nil || !bytes.Equal(f, big) {
		t.Fatalf("large frame: %d bytes, %v", len(f), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, make([]byte, transport.MaxFrameSize+1)); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("oversized frame: %v, want ErrTooLarge", err)
	}
}

func concurrentSenders(ctx context.Context, t *testing.T, a, b transport.Connection) {
	const senders, each = 4, 50
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := a.Send(ctx, []byte{byte(s), byte(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make([]int, senders)
	for k := 0; k < senders*each; k++ {
		f, err := b.Recv(ctx)
		if err != nil || len(f) != 2 {
			t.Fatalf("frame %d: %v %v", k, f, err)
		}
		if int(f[1]) != next[f[0]] {
			t.Fatalf("sender %d: frame %d arrived when %d was due", f[0], f[1], next[f[0]])
		}
		next[f[0]]++
	}
	wg.Wait()
}

func closeEnds(ctx context.Context, t *testing.T, a, b transport.Connection) {
	done := make(chan error, 1)
	go func() {
		_, err := b.Recv(ctx)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Recv on the other end returned no error after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock the other end's Recv")
	}
	if err := a.Send(ctx, []byte("x")); err == nil {
		t.Fatal("Send after Close succeeded")
	}
}

func recvContext(ctx context.Context, t *testing.T, a, b transport.Connection) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.Recv(cctx); err == nil {
		t.Fatal("Recv with nothing sent returned no error when its context ended")
	}
}

func emptyFrame(ctx context.Context, t *testing.T, a, b transport.Connection) {
	if err := a.Send(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if f, err := b.Recv(ctx); err != nil || len(f) != 0 {
		t.Fatalf("empty frame: %v %v", f, err)
	}
}

// closeBoth closes both ends at once, so close handshakes can complete.
func closeBoth(a, b transport.Connection) {
	done := make(chan struct{})
	go func() { b.Close(); close(done) }()
	a.Close()
	<-done
}
