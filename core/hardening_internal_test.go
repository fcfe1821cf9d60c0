package core

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

func reactorSize(n *Node) int {
	n.reactor.mu.Lock()
	defer n.reactor.mu.Unlock()
	return len(n.reactor.where)
}

func TestPeer_SubscriptionsCleanedUpOnClose(t *testing.T) {
	ctx := context.Background()
	server, _ := NewNode(context.Background(), memory.New(), policy.Permissive{})
	client, _ := NewNode(context.Background(), memory.New(), policy.Permissive{}, WithRole(Ephemeral))
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	p, err := client.Connect(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := client.Context(nil).Query(ctx, "album", "true")
	if err != nil {
		t.Fatal(err)
	}
	if got := reactorSize(server); got != 1 {
		t.Fatalf("server reactor %d", got)
	}
	lq.Close()
	deadline := time.Now().Add(2 * time.Second)
	for reactorSize(server) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("server live queries after client closed its query: %d", reactorSize(server))
	lq2, _ := client.Context(nil).Query(ctx, "album", "true")
	_ = lq2
	p.Close()
	deadline = time.Now().Add(2 * time.Second)
	for reactorSize(server) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("server live queries after the connection closed: %d", reactorSize(server))
	if reactorSize(server) != 0 {
		t.Error("BUG: server keeps subscriptions")
	}
}

// UpdateSelection racing Close re-adds the closed query to the reactor.
func TestLiveQuery_CloseRacingUpdateSelectionLeavesNothing(t *testing.T) {
	ctx := context.Background()
	n, _ := NewNode(context.Background(), memory.New(), policy.Permissive{})
	leaks := 0
	for i := 0; i < 300; i++ {
		lq, err := n.Context(nil).Query(ctx, "album", "year > 1")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		start := make(chan struct{})
		go func() { <-start; _ = lq.UpdateSelection(ctx, "year > 2"); close(done) }()
		close(start)
		for j := 0; j < i%50*100; j++ {
			_ = j * j
		}
		lq.Close()
		<-done
		n.reactor.mu.Lock()
		if _, ok := n.reactor.where[lq]; ok {
			leaks++
			delete(n.reactor.where, lq)
		}
		n.reactor.mu.Unlock()
	}
	t.Logf("closed live queries left in the reactor: %d of 300", leaks)
	if leaks > 0 {
		t.Error("BUG: closed live query re-added to the reactor by a concurrent UpdateSelection")
	}
}

func TestPeer_SlowConsumerIsDisconnected(t *testing.T) {
	ctx := context.Background()
	server, _ := NewNode(context.Background(), memory.New(), policy.Permissive{})
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	send := func(m *transport.Message) {
		f, _ := transport.Encode(m)
		if err := b.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	send(&transport.Message{Hello: &transport.Hello{NodeID: "slow", Version: transport.ProtocolVersion}})
	b.Recv(ctx)
	send(&transport.Message{Request: &transport.Request{ID: 1, Subscribe: &transport.SubscribeReq{Sub: 1, Collection: "album", Query: "true"}}})
	time.Sleep(50 * time.Millisecond)
	defer maxQueuedFrames.Store(maxQueuedFrames.Load())
	maxQueuedFrames.Store(100)
	c := server.Context(nil)
	for i := 0; i < 400; i++ {
		trx := c.Begin()
		m, _ := trx.Create(ctx, "album")
		m.Set("i", i)
		if err := trx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The client read nothing: its queue passed the bound and the server
	// closed the connection instead of holding the updates.
	for {
		if _, err := b.Recv(ctx); err != nil {
			break // drained what the pipe buffered, then saw the close
		}
	}
	if server.upstreamPeer() != nil {
		t.Fatal("a server has no upstream")
	}
}

func TestLiveQuery_UpdateSelectionAfterCloseLeavesNoServerSubscription(t *testing.T) {
	ctx := context.Background()
	server, _ := NewNode(context.Background(), memory.New(), policy.Permissive{})
	client, _ := NewNode(context.Background(), memory.New(), policy.Permissive{}, WithRole(Ephemeral))
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	if _, err := client.Connect(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	lq, _ := client.Context(nil).Query(ctx, "album", "true")
	lq.Close()
	deadline := time.Now().Add(2 * time.Second)
	for reactorSize(server) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	err := lq.UpdateSelection(ctx, "year > 1")
	time.Sleep(100 * time.Millisecond)
	t.Logf("UpdateSelection on a closed query: %v; server live queries now %d", err, reactorSize(server))
	if reactorSize(server) != 0 {
		t.Error("BUG: closed client query re-subscribed on the server and never unsubscribed")
	}
}

// Every exported sentinel survives the wire: errors.Is works on the
// receiving side for each (a server-side query.ErrSyntax used to arrive as
// policy.ErrInvalid).
func TestWireErrors_KeepEverySentinel(t *testing.T) {
	// The node's own sentinels (the session package's test covers the rest).
	for _, s := range []error{ErrRetriesExhausted, ErrBusy, ErrClosed, ErrDeleted, ErrSlowConsumer, ErrLimit, ErrInvalidName, query.ErrSyntax} {
		err := fmt.Errorf("context: %w", s)
		back := errOf(codeOf(err), kindsOf(err), err.Error())
		if !errors.Is(back, s) || !errors.Is(back, ErrRemote) {
			t.Errorf("%v: received as %v", s, back)
		}
	}
	if codeOf(ErrBusy) != transport.CodeBusy || codeOf(fmt.Errorf("x: %w", ErrRetriesExhausted)) != transport.CodeConflict {
		t.Errorf("codes: busy %v, retries %v", codeOf(ErrBusy), codeOf(ErrRetriesExhausted))
	}
	// An old peer that sends only a code still maps to its sentinel.
	if back := errOf(transport.CodeNotFound, "", "gone"); !errors.Is(back, storage.ErrNotFound) {
		t.Errorf("code only: %v", back)
	}
}
