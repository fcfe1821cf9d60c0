package core_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// holdingAgent holds every remote commit's validation until the commit's
// context ends, and counts what it saw.
type holdingAgent struct {
	policy.Permissive
	entered  chan struct{}
	returned atomic.Bool
}

func (a *holdingAgent) ValidateEvent(ctx context.Context, _ policy.Peer, _ *event.Event) error {
	a.entered <- struct{}{}
	<-ctx.Done()
	a.returned.Store(true)
	return ctx.Err()
}

// A commit a server serves on the connection's reader (its worker idle)
// ends when the server closes, and Close waits for it: nothing it does runs
// on after Close returned — also when its client left meanwhile (the
// reader, busy with the commit, notices that only when the commit ends).
func TestServe_ACommitOnTheReaderEndsWithCloseAndCloseWaitsForIt(t *testing.T) {
	for _, how := range []string{"client leaves", "server closes"} {
		agent := &holdingAgent{entered: make(chan struct{}, 1)}
		server := newNodeOn(t, memory.New(), agent)
		client := newClient(t)
		p := link(t, server, client)
		done := make(chan error, 1)
		go func() {
			trx := client.Context(nil).Begin()
			m, err := trx.Create(context.Background(), "album")
			if err == nil {
				err = m.Set("name", "held")
			}
			if err == nil {
				err = trx.Commit(context.Background())
			}
			done <- err
		}()
		<-agent.entered
		if how == "client leaves" {
			p.Close()
		}
		if err := server.Close(); err != nil && !errors.Is(err, core.ErrClosed) {
			t.Fatal(err)
		}
		if !agent.returned.Load() {
			t.Fatalf("%s: Close returned while a commit it accepted was still being served", how)
		}
		<-done
	}
}
