package kv_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
	"github.com/ankurah/ankurah-go/core/value"
)

// shared is a MemoryStore several engines open; closing one leaves it open.
type shared struct{ *kv.MemoryStore }

func (shared) Close() error { return nil }

// newFeedEngine opens an engine on s and returns its feed (which must exist).
func newFeedEngine(t *testing.T, s *kv.MemoryStore, opts ...kv.Option) *kv.FeedEngine {
	t.Helper()
	e, err := kv.New(context.Background(), shared{s}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	f := e.Feed()
	if f == nil {
		t.Fatal("the engine keeps no change log")
	}
	return f
}

// commitN applies n batches through e, each creating one entity labelled
// from start on.
func commitN(t *testing.T, e storage.Engine, start, n int) {
	t.Helper()
	for i := start; i < start+n; i++ {
		nonce := binary.BigEndian.AppendUint64(make([]byte, event.NonceSize-8), uint64(i))
		ev := event.NewGenesis("feed", map[string][]byte{"lww": {1}}, nonce, int64(i))
		st := entity.State{ID: ev.Entity, Collection: "feed", Head: event.NewClock(ev.ID()),
			Values: value.FieldsOf(map[string]value.Value{"n": value.Int(int64(i))})}
		if err := e.Apply(context.Background(), &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: st}}}); err != nil {
			t.Fatal(err)
		}
	}
}

var errEnough = errors.New("enough")

// followAll follows f from tok until it has n batches (or Follow fails) and
// returns the label of each batch and Follow's error (nil when it got n).
func followAll(t *testing.T, f storage.ChangeFeed, tok storage.FeedToken, n int) ([]int64, error) {
	t.Helper()
	var got []int64
	err := f.Follow(context.Background(), tok, func(b storage.FeedBatch) error {
		v, _ := b.Changes[0].State.Values.Get("n").AsInt()
		got = append(got, v)
		if len(got) == n {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return got, err
}

// logLen counts the change log's entries in s (no key prefix).
func logLen(t *testing.T, s *kv.MemoryStore) int {
	t.Helper()
	n := 0
	err := s.View(context.Background(), func(r kv.Reader) error {
		return r.Scan(context.Background(), []byte{'c'}, []byte{'d'}, false, func([]byte, []byte) (bool, error) { n++; return false, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A handle opened without WithChangeFeed on a store that keeps a log writes
// every batch to it, kept for DefaultFeedRetention batches.
func TestFeed_HandleWithoutOptionKeepsWriting(t *testing.T) {
	s := kv.NewMemoryStore()
	f := newFeedEngine(t, s, kv.WithChangeFeed(5))
	head, err := f.FeedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plain := newFeedEngine(t, s)
	commitN(t, plain, 0, 8)
	got, err := followAll(t, f, head, 8)
	if err != nil || fmt.Sprint(got) != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("a follower of the handle with the option got %v, %v; want every batch the other handle wrote", got, err)
	}
	if n := logLen(t, s); n != 8 {
		t.Errorf("the log holds %d batches, want 8 (the handle without the option keeps the default retention)", n)
	}
}

// A log kept under a longer retention shrinks, a few batches per commit,
// to the retention of the handle writing it; a follower from a trimmed
// token gets ErrFeedGap.
func TestFeed_ShorterRetentionTrimsTheOldLog(t *testing.T) {
	s := kv.NewMemoryStore()
	long := newFeedEngine(t, s, kv.WithChangeFeed(100))
	head, err := long.FeedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, long, 0, 40)
	short := newFeedEngine(t, s, kv.WithChangeFeed(10))
	commitN(t, short, 40, 1)
	if n := logLen(t, s); n >= 41 {
		t.Fatalf("after a commit with retention 10 the log holds %d batches, want fewer than 41", n)
	}
	commitN(t, short, 41, 5)
	if n := logLen(t, s); n != 10 {
		t.Errorf("the log holds %d batches, want the retention's 10", n)
	}
	if got, err := followAll(t, short, head, 1); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("following from before the trimmed batches: got %v, %v; want ErrFeedGap", got, err)
	}
	got, err := followAll(t, long, head, 1)
	if !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("following on the long handle from before the trimmed batches: got %v, %v; want ErrFeedGap", got, err)
	}
}

// A follower that meets a hole in the log's sequence numbers — not at the
// start of what it reads — gets ErrFeedGap after the batches before the
// hole, never the batches after it as if nothing were missing.
func TestFeed_HoleInTheLogIsAGap(t *testing.T) {
	s := kv.NewMemoryStore()
	f := newFeedEngine(t, s, kv.WithChangeFeed(0))
	head, err := f.FeedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, f, 0, 5)
	err = s.Update(context.Background(), func(tx kv.Tx) error {
		return tx.Delete(binary.BigEndian.AppendUint64([]byte{'c'}, 3))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := followAll(t, f, head, 5)
	if !errors.Is(err, storage.ErrFeedGap) || !bytes.Equal(fmt.Append(nil, got), []byte("[0 1]")) {
		t.Errorf("following over a hole at batch 3: got %v, %v; want [0 1] then ErrFeedGap", got, err)
	}
}
