package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// slowEventsAgent holds the validation of events of collection "slow"
// until released.
type slowEventsAgent struct {
	policy.Permissive
	entered chan struct{}
	release chan struct{}
}

func (a *slowEventsAgent) ValidateEvent(ctx context.Context, _ policy.Peer, ev *event.Event) error {
	if ev.Collection == "slow" {
		a.entered <- struct{}{}
		select {
		case <-a.release:
		case <-ctx.Done():
		}
	}
	return nil
}

// While the server's reader serves a client's commit, updates other
// clients' commits send that client go out at once: the reader sends its
// own answer itself (Outbox.Hold) only once the commit is done.
func TestServe_ACommitOnTheReaderHoldsNoOtherFrameBack(t *testing.T) {
	agent := &slowEventsAgent{entered: make(chan struct{}, 1), release: make(chan struct{})}
	server := newNodeOn(t, memory.New(), agent)
	a, b := newClient(t), newClient(t)
	link(t, server, a)
	link(t, server, b)
	ctx := context.Background()
	lq, err := a.Context(nil).Query(ctx, "album", "true")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	aDone := make(chan error, 1)
	go func() {
		trx := a.Context(nil).Begin()
		m, err := trx.Create(ctx, "slow")
		if err == nil {
			err = m.Set("name", "held")
		}
		if err == nil {
			err = trx.Commit(ctx)
		}
		aDone <- err
	}()
	<-agent.entered // a's commit is being served on the server's reader
	released := false
	defer func() {
		if !released {
			close(agent.release)
		}
	}()
	trx := b.Context(nil).Begin()
	m, err := trx.Create(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set("name", "from b"); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(lq.Items()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b's album did not reach a's subscription while a's own commit was being served")
		}
	}
	close(agent.release)
	released = true
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
}
