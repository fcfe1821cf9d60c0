package tikv_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// follower follows f from tok in a goroutine, sending each batch's first
// state title on the returned channel; stop ends it and returns its error.
func follower(t *testing.T, f storage.ChangeFeed, tok storage.FeedToken) (<-chan string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan string, 1024)
	done := make(chan error, 1)
	go func() {
		done <- f.Follow(ctx, tok, func(b storage.FeedBatch) error {
			for _, c := range b.Changes {
				ch <- c.State.Values.Get("title").Raw()
			}
			return nil
		})
	}()
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

func titled(label string) *storage.Batch {
	b, _ := create(1, label, func(int) map[string]value.Value { return map[string]value.Value{"title": value.String(label)} })
	return b
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(time.Minute): // a watchdog, not a timing assertion
		t.Fatal("no batch arrived")
		return ""
	}
}

// A batch that took its log timestamp first but commits after another one
// is not skipped: the follower, which has already delivered the later-numbered
// batch, still receives it, and in commit order.
func TestFeed_LateCommitWithEarlierLogTimestampIsDelivered(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	hold, held := make(chan struct{}), make(chan struct{})
	var slow bool
	a, err := tikv.New(ctx, client(t), tikv.WithKeyPrefix(prefix), tikv.WithBeforeCommit(func() {
		if slow {
			slow = false
			close(held)
			<-hold
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := tikv.New(ctx, client(t), tikv.WithKeyPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	collection(t, a)
	collection(t, b)
	tok, err := b.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, stop := follower(t, b, tok)

	slow = true
	errA := make(chan error, 1)
	go func() { errA <- a.Apply(ctx, titled("first numbered, last committed")) }()
	<-held // a's batch has its log timestamp and waits to commit
	if err := b.Apply(ctx, titled("second numbered, first committed")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ch); got != "second numbered, first committed" {
		t.Fatalf("first delivered %q", got)
	}
	close(hold)
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
	if got := next(t, ch); got != "first numbered, last committed" {
		t.Fatalf("then delivered %q", got)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow: %v", err)
	}
}

// Cleanup deletes old entries and raises the watermark; a follower resuming
// from before it gets ErrFeedGap, never a silent skip.
func TestFeed_CleanupMakesOldTokensGaps(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	collection(t, e)
	tok, err := e.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := e.Apply(ctx, titled(fmt.Sprint("old ", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Before the cleanup the token resumes with every batch.
	ch, stop := follower(t, e, tok)
	for i := range 3 {
		if got := next(t, ch); got != fmt.Sprint("old ", i) {
			t.Fatalf("batch %d: %q", i, got)
		}
	}
	_ = stop()
	if err := tikv.CleanupFeed(ctx, e, 0); err != nil {
		t.Fatal(err)
	}
	err = e.Follow(ctx, tok, func(storage.FeedBatch) error { return errors.New("delivered a batch from behind the watermark") })
	if !errors.Is(err, storage.ErrFeedGap) {
		t.Fatalf("Follow from a cleaned-up token: %v, want storage.ErrFeedGap", err)
	}
}

func TestFeed_RefusesAnotherStoresToken(t *testing.T) {
	ctx := context.Background()
	a, b := newEngine(t), newEngine(t)
	tok, err := a.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Follow(ctx, tok, func(storage.FeedBatch) error { return nil })
	if !errors.Is(err, storage.ErrFeedGap) {
		t.Fatalf("Follow with another prefix's token: %v, want storage.ErrFeedGap", err)
	}
}
