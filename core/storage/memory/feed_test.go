package memory

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/storage"
)

// The feed's contract is tested by conformance/storagetest (Feed/…); these
// tests cover this engine's handles and its ring.

func createBatch(label string, n int64) *storage.Batch {
	ev := genesis("c", label)
	return &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: state(ev, n)}}}
}

// follow collects up to n batches after tok, returning what it got and why it ended.
func follow(e *Engine, tok storage.FeedToken, n int) ([]storage.FeedBatch, error) {
	var got []storage.FeedBatch
	stop := errors.New("enough")
	err := e.Follow(context.Background(), tok, func(b storage.FeedBatch) error {
		got = append(got, b)
		if len(got) == n {
			return stop
		}
		return nil
	})
	if errors.Is(err, stop) {
		err = nil
	}
	return got, err
}

func TestShare_SeesTheSameStoreAndClosesAlone(t *testing.T) {
	ctx := context.Background()
	a := New()
	b, err := a.Share()
	if err != nil {
		t.Fatal(err)
	}
	head, err := b.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(ctx, createBatch("x", 1)); err != nil {
		t.Fatal(err)
	}
	c, _ := b.Collection(ctx, "c")
	if _, err := c.GetState(ctx, genesis("c", "x").Entity); err != nil {
		t.Fatalf("a write through one handle is not seen through the other: %v", err)
	}
	got, err := follow(b, head, 1)
	if err != nil || len(got) != 1 || got[0].Changes[0].State.ID != genesis("c", "x").Entity {
		t.Fatalf("Follow on the other handle = %v, %v; want the batch written through the first", got, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Share(); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Share of a closed handle: %v, want ErrClosed", err)
	}
	// The data stays while a handle is open.
	if _, err := c.GetState(ctx, genesis("c", "x").Entity); err != nil {
		t.Fatalf("closing one handle lost the data of the other: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if a.colls != nil || a.open != 0 {
		t.Errorf("closing the last handle kept the data (%d collections, %d open)", len(a.colls), a.open)
	}
}

func TestFeed_RingRetention(t *testing.T) {
	ctx := context.Background()
	const keep = 8
	e := New(WithFeedRetention(keep))
	start, _ := e.FeedHead(ctx)
	var tokens []storage.FeedToken
	for i := range keep + 3 {
		if err := e.Apply(ctx, createBatch(fmt.Sprint(i), int64(i))); err != nil {
			t.Fatal(err)
		}
		tok, _ := e.FeedHead(ctx)
		tokens = append(tokens, tok)
	}
	if _, err := follow(e, start, 1); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("Follow from before the ring: %v, want ErrFeedGap", err)
	}
	if _, err := follow(e, tokens[1], 1); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("Follow from one batch before the ring: %v, want ErrFeedGap", err)
	}
	// tokens[2] is just before the oldest kept batch (number 4 of 11).
	got, err := follow(e, tokens[2], keep)
	if err != nil || len(got) != keep {
		t.Fatalf("Follow from the ring's start = %d batches, %v; want %d", len(got), err, keep)
	}
	for i, b := range got {
		if n, _ := b.Changes[0].State.Values.Get("n").AsInt(); n != int64(i+3) {
			t.Errorf("batch %d has n=%d, want %d", i, n, i+3)
		}
	}
}

func TestFeed_TokensOfAnotherStoreOrMalformed(t *testing.T) {
	ctx := context.Background()
	a, b := New(), New()
	tok, _ := a.FeedHead(ctx)
	if _, err := follow(b, tok, 1); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("Follow with another store's token: %v, want ErrFeedGap", err)
	}
	future := append(storage.FeedToken(nil), tok...)
	future[len(future)-1] = 9
	if _, err := follow(a, future, 1); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("Follow with a token ahead of the store: %v, want ErrFeedGap", err)
	}
	for _, bad := range []storage.FeedToken{nil, {}, tok[:5], append(tok, 0), {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := follow(a, bad, 1); !errors.Is(err, storage.ErrFeedGap) {
			t.Errorf("Follow with token %x: %v, want ErrFeedGap", bad, err)
		}
	}
}

func TestFeed_EmptyBatchIsNotReported(t *testing.T) {
	ctx := context.Background()
	e := New()
	before, _ := e.FeedHead(ctx)
	if err := e.Apply(ctx, &storage.Batch{}); err != nil {
		t.Fatal(err)
	}
	after, _ := e.FeedHead(ctx)
	if string(before) != string(after) {
		t.Errorf("an empty batch moved the feed head")
	}
}

func TestFeed_UnwatchedStoreKeepsNoBatch(t *testing.T) {
	ctx := context.Background()
	e := New()
	for i := range 3 {
		if err := e.Apply(ctx, createBatch(fmt.Sprint("before", i), int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, ent := range e.feed.ring {
		if ent.changes != nil {
			t.Fatalf("ring entry %d holds a batch of a store nobody follows", i)
		}
	}
	head, err := e.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, createBatch("after", 7)); err != nil {
		t.Fatal(err)
	}
	got, err := follow(e, head, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("Follow from the first FeedHead = %d batches, %v", len(got), err)
	}
	if n, _ := got[0].Changes[0].State.Values.Get("n").AsInt(); n != 7 {
		t.Fatalf("the batch after the first FeedHead has n=%d, want 7", n)
	}
	// A token from before the first FeedHead (no FeedHead handed it out)
	// names batches that were never kept: a gap, not empty batches.
	early := append(storage.FeedToken(nil), head...)
	early[len(early)-1] = 1
	if got, err := follow(e, early, 1); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("Follow from before the first FeedHead = %d batches, %v; want ErrFeedGap", len(got), err)
	}
}
