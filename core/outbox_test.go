package core_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

// cutAfterHello is a client's end of a connection that sends the handshake
// and then drops: the client meets the server (and its system id) but
// cannot send anything more.
type cutAfterHello struct {
	transport.Connection
	sent atomic.Int32
}

func (c *cutAfterHello) Send(ctx context.Context, frame []byte) error {
	if c.sent.Add(1) > 1 {
		c.Connection.Close()
		return transport.ErrClosed
	}
	return c.Connection.Send(ctx, frame)
}

// clearOnly hides memory's storage.KeepingClearer: an engine that can only
// clear everything.
type clearOnly struct {
	storage.Engine
	m *memory.Engine
}

func (e clearOnly) Clear(ctx context.Context) error { return e.m.Clear(ctx) }

var _ storage.Clearer = clearOnly{}

// Regression (simulation seed 589, cleared-outbox): a client that met a
// durable peer of another system dropped its cache with the outbox records
// of its unsent commits; restarted before it could send them, it lost
// commits it had acknowledged.
func TestSync_NewSystemKeepsUnsentCommitsAcrossARestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache func() storage.Engine
	}{
		{"KeepingClearer", func() storage.Engine { return memory.New() }},
		{"Clearer", func() storage.Engine { m := memory.New(); return clearOnly{m, m} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if _, ok := tc.cache().(storage.KeepingClearer); ok != (tc.name == "KeepingClearer") {
				t.Fatalf("%s cache: KeepingClearer %v", tc.name, ok)
			}
			cache := tc.cache()
			first := newNode(t, core.WithSystemID("system-one"))
			client := newNodeOn(t, cache, policy.Permissive{}, core.WithRole(core.Ephemeral))
			link(t, first, client).Close()
			// Offline: a creation waits in the outbox.
			ids := createAlbums(t, client.Context(nil), album{"made offline", "x", 1})
			other := newNode(t, core.WithSystemID("system-two"))
			a, b := transport.Pipe()
			go other.Accept(ctx, a)
			p, err := client.Connect(ctx, &cutAfterHello{Connection: b}, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.Close()
			// The cache was dropped (another system), the commit not sent.
			if _, err := other.Context(nil).Get(ctx, "album", ids[0]); err == nil {
				t.Fatal("the commit was sent over a connection that drops after its handshake")
			}
			client.Close()
			restarted := newNodeOn(t, cache, policy.Permissive{}, core.WithRole(core.Ephemeral))
			if n := core.OutboxLenForTest(restarted); n != 1 {
				t.Fatalf("%d batches wait in the outbox after the cache was dropped and the client restarted, want 1", n)
			}
			link(t, other, restarted)
			if _, err := other.Context(nil).Get(ctx, "album", ids[0]); err != nil {
				t.Fatalf("the commit made offline did not reach the new system after the restart: %v", err)
			}
		})
	}
}
