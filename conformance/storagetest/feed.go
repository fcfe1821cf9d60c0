package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// The Feed cases run for every engine that implements storage.ChangeFeed
// (and skip for the others). Those that need a second handle on the same
// store — another server on the same database — need a harness that is a
// Sharer (NewSharedHarness).
//
// Every state the cases write carries a unique "label" value; a batch is
// known by the labels of its states. A follower ignores batches that write
// none of the case's collection (an engine's store may hold other cases).

func feedCases() []Case {
	return []Case{
		{"Feed/ConcurrentHandles", testFeedConcurrentHandles},
		{"Feed/ResumeAfterReopen", testFeedResume},
		{"Feed/HeadThenFollow", testFeedHead},
		{"Feed/SlowFollower", testFeedSlowFollower},
		{"Feed/ContextEndsFollow", testFeedContext},
		{"Feed/CloseEndsFollow", testFeedClose},
		{"Feed/MalformedToken", testFeedMalformedToken},
	}
}

// feedWatchdog bounds how long a case waits for a follower, so that an
// engine that loses a batch fails the case instead of hanging it. It is not
// a timing assertion: a correct engine is done long before.
const feedWatchdog = 5 * time.Minute

// maxTokenSize is the contract's bound on a token.
const maxTokenSize = 1024

// feedOf returns e as a storage.ChangeFeed, or skips the case when the
// engine has no feed.
func feedOf(t T, e storage.Engine) storage.ChangeFeed {
	t.Helper()
	f, ok := e.(storage.ChangeFeed)
	if !ok {
		t.Skipf("%T does not implement storage.ChangeFeed", e)
	}
	return f
}

// share opens another handle on h's store (a ChangeFeed too), skipping the
// case when the harness cannot.
func share(ctx context.Context, t T, h Harness) (storage.Engine, storage.ChangeFeed) {
	t.Helper()
	s, ok := h.(Sharer)
	if !ok {
		// An out-of-process engine run by ankurah-conformance has one
		// handle; in-process harnesses must be Sharers (NewSharedHarness).
		t.Skipf("%T implements storage.ChangeFeed but the harness cannot open a second handle on the same store (not a Sharer; in process, use NewSharedHarness)", h.Engine())
	}
	e, err := s.Share(ctx)
	if err != nil {
		t.Fatalf("Share: %v", err)
	}
	f, ok := e.(storage.ChangeFeed)
	if !ok {
		t.Fatalf("the shared handle %T does not implement storage.ChangeFeed", e)
	}
	return e, f
}

func mustHead(ctx context.Context, t T, f storage.ChangeFeed) storage.FeedToken {
	t.Helper()
	tok, err := f.FeedHead(ctx)
	if err != nil {
		t.Fatalf("FeedHead: %v", err)
	}
	if len(tok) > maxTokenSize {
		t.Errorf("FeedHead returned a token of %d bytes, over %d", len(tok), maxTokenSize)
	}
	return tok
}

// entityKey names an entity across collections.
type entityKey struct {
	coll string
	id   id.EntityID
}

// feedLog records what writers committed and what they were refused.
type feedLog struct {
	coll string

	mu        sync.Mutex
	committed map[string]*storage.Batch // by batch key
	order     []string                  // batch keys in the order Apply returned
	failed    map[string]bool
}

func newFeedLog(coll string) *feedLog {
	return &feedLog{coll: coll, committed: map[string]*storage.Batch{}, failed: map[string]bool{}}
}

// key is a batch's name: the labels of its states of the case's collection.
func (l *feedLog) key(changes []storage.FeedChange) string {
	var labels []string
	for _, c := range changes {
		if c.Collection == l.coll {
			s, _ := c.State.Values.Get("label").AsString()
			labels = append(labels, s)
		}
	}
	return strings.Join(labels, ",")
}

func (l *feedLog) batchKey(b *storage.Batch) string {
	changes := make([]storage.FeedChange, len(b.States))
	for i, w := range b.States {
		changes[i] = storage.FeedChange{Collection: w.State.Collection, State: w.State}
	}
	return l.key(changes)
}

// apply applies b through e and records the outcome. The batch must not be
// modified afterwards.
func (l *feedLog) apply(ctx context.Context, e storage.Engine, b *storage.Batch) error {
	err := e.Apply(ctx, b)
	k := l.batchKey(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed[k] = true
		return err
	}
	l.committed[k] = b
	l.order = append(l.order, k)
	return nil
}

// write is the next write of an entity: its event and state, labelled.
// cur is the stored state (a zero State when the entity is not stored).
func write(coll, name, label string, cur entity.State) (event.Event, storage.StateWrite) {
	var ev event.Event
	if len(cur.Head) == 0 {
		ev = genesis(coll, name)
	} else {
		ev = event.Event{Collection: coll, Entity: cur.ID, Parent: cur.Head,
			Operations: map[string][]byte{backendName: []byte("edit " + label)}}
	}
	st := stateAt(map[string]value.Value{"label": value.String(label), "name": value.String(name)}, ev)
	return ev, storage.StateWrite{State: st, Expected: cur.Head}
}

// chain is an entity a sequential writer updates batch after batch.
type chain struct {
	coll, name string
	cur        entity.State
}

// next adds the chain's next write to b.
func (c *chain) next(b *storage.Batch, label string) {
	ev, w := write(c.coll, c.name, label, c.cur)
	b.Events = append(b.Events, ev)
	b.States = append(b.States, w)
	c.cur = w.State
}

// followResult is what a follower goroutine ends with.
type followResult struct {
	got []storage.FeedBatch
	err error
}

var errFollowDone = errors.New("storagetest: follower done")

// follow runs f.Follow from tok in a goroutine, keeping the batches that
// write l's collection, until done says so (then the result's err is nil),
// Follow returns, or the watchdog fires. before, when not nil, runs in the
// follower's goroutine before each kept batch is recorded.
func follow(ctx context.Context, f storage.ChangeFeed, tok storage.FeedToken, l *feedLog, done func([]storage.FeedBatch) bool, before func()) <-chan followResult {
	out := make(chan followResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, feedWatchdog)
		defer cancel()
		var got []storage.FeedBatch
		err := f.Follow(ctx, tok, func(b storage.FeedBatch) error {
			if l.key(b.Changes) == "" {
				return nil
			}
			if before != nil {
				before()
			}
			got = append(got, b)
			if done(got) {
				return errFollowDone
			}
			return nil
		})
		if errors.Is(err, errFollowDone) {
			err = nil
		}
		out <- followResult{got, err}
	}()
	return out
}

// untilKey is a done func that stops at the batch of key k.
func untilKey(l *feedLog, k string) func([]storage.FeedBatch) bool {
	return func(got []storage.FeedBatch) bool { return l.key(got[len(got)-1].Changes) == k }
}

// untilPrefix is a done func that stops at a batch whose key begins with p.
func untilPrefix(l *feedLog, p string) func([]storage.FeedBatch) bool {
	return func(got []storage.FeedBatch) bool { return strings.HasPrefix(l.key(got[len(got)-1].Changes), p) }
}

// checkFeed checks what a follower got against what was committed: every
// delivered batch committed (never a refused one), once, whole, with a
// token of at most 1 KiB; batches of each entity in commit order (each
// write expects the head the previous delivered write left, starting from
// start, the heads before the follower's token). With complete, every
// committed batch must have been delivered.
func checkFeed(t T, who string, l *feedLog, got []storage.FeedBatch, start map[entityKey]event.Clock, complete bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	heads := map[entityKey]event.Clock{}
	for k, h := range start {
		heads[k] = h
	}
	seen := map[string]bool{}
	errs := 0
	fail := func(format string, args ...any) {
		if errs++; errs <= 10 {
			t.Errorf(who+": "+format, args...)
		}
	}
	for i, b := range got {
		k := l.key(b.Changes)
		if len(b.Token) == 0 || len(b.Token) > maxTokenSize {
			fail("batch %d [%s] has a token of %d bytes, want 1 to %d", i, k, len(b.Token), maxTokenSize)
		}
		if seen[k] {
			fail("batch %d [%s] delivered twice", i, k)
			continue
		}
		seen[k] = true
		want := l.committed[k]
		switch {
		case want == nil && l.failed[k]:
			fail("batch %d [%s] was refused by Apply but delivered", i, k)
			continue
		case want == nil:
			fail("batch %d [%s] was never written (split, merged or invented)", i, k)
			continue
		}
		if len(b.Changes) != len(want.States) {
			fail("batch %d [%s] has %d changes, the batch wrote %d states", i, k, len(b.Changes), len(want.States))
			continue
		}
		for j, c := range b.Changes {
			w := want.States[j]
			if c.Collection != w.State.Collection {
				fail("batch %d [%s] change %d in collection %q, want %q", i, k, j, c.Collection, w.State.Collection)
			}
			if d := diffState(w.State, c.State); d != "" {
				fail("batch %d [%s] change %d: %s", i, k, j, d)
			}
			ek := entityKey{w.State.Collection, w.State.ID}
			if prev := heads[ek]; !slices.Equal(prev, w.Expected) {
				fail("batch %d [%s] writes %s over head %v, but the last delivered write of it left %v (out of commit order, or a batch of it is missing)", i, k, w.State.ID, w.Expected, prev)
			}
			heads[ek] = w.State.Head
		}
	}
	if complete {
		for k := range l.committed {
			if !seen[k] {
				fail("committed batch [%s] never delivered", k)
			}
		}
	}
	if errs > 10 {
		t.Errorf("%s: %d more errors", who, errs-10)
	}
}

// wait waits for a follower's result, failing the case when it ended with an
// error (other than one of allowed).
func wait(t T, who string, ch <-chan followResult, allowed ...error) followResult {
	t.Helper()
	r := <-ch
	if r.err != nil && !slices.ContainsFunc(allowed, func(e error) bool { return errors.Is(r.err, e) }) {
		t.Fatalf("%s: Follow: %v (after %d batches)", who, r.err, len(r.got))
	}
	return r
}

// testFeedConcurrentHandles: writers on two handles of one store, some
// contending for one entity (so some batches are refused), each with a
// chain of its own; a follower on each handle sees every committed batch
// of both, once, whole, per entity in commit order, and no refused one.
func testFeedConcurrentHandles(ctx context.Context, t T, h Harness) {
	a := h.Engine()
	fa := feedOf(t, a)
	b, fb := share(ctx, t, h)
	ca := openCollection(ctx, t, a, "feed")
	cb, err := b.Collection(ctx, ca.Name())
	if err != nil {
		t.Fatalf("Collection on the shared handle: %v", err)
	}
	l := newFeedLog(ca.Name())
	// The contended entity exists before the followers start.
	xev, xw := write(ca.Name(), "contended", "x0", entity.State{})
	mustApply(ctx, t, a, &storage.Batch{Events: []event.Event{xev}, States: []storage.StateWrite{xw}})
	start := map[entityKey]event.Clock{{ca.Name(), xw.State.ID}: xw.State.Head}
	ta, tb := mustHead(ctx, t, fa), mustHead(ctx, t, fb)
	const sentinel = "sentinel"
	fola := follow(ctx, fa, ta, l, untilPrefix(l, sentinel), nil)
	folb := follow(ctx, fb, tb, l, untilPrefix(l, sentinel), nil)

	const perHandle, rounds, maxAttempts = 2, 15, 1000
	engines := []storage.Engine{a, b}
	colls := []storage.Collection{ca, cb}
	chains := make([]*chain, 2*perHandle)
	errs := make(chan error, 2*perHandle)
	var wg sync.WaitGroup
	for w := range 2 * perHandle {
		e, c := engines[w%2], colls[w%2]
		own := &chain{coll: ca.Name(), name: fmt.Sprint("own ", w)}
		chains[w] = own
		wg.Go(func() {
			for r := range rounds {
				// A batch of this writer's chain alone: never refused.
				bo := &storage.Batch{}
				own.next(bo, fmt.Sprintf("w%d r%d own", w, r))
				if err := l.apply(ctx, e, bo); err != nil {
					errs <- fmt.Errorf("writer %d round %d: %w", w, r, err)
					return
				}
				// Read-modify-write of the contended entity, with a new
				// entity in the same batch, retried on conflict.
				for attempt := 0; ; attempt++ {
					if attempt == maxAttempts {
						errs <- fmt.Errorf("writer %d round %d: no success in %d attempts", w, r, maxAttempts)
						return
					}
					cur, err := c.GetState(ctx, xw.State.ID)
					if err != nil {
						errs <- fmt.Errorf("writer %d: GetState: %w", w, err)
						return
					}
					label := fmt.Sprintf("w%d r%d a%d", w, r, attempt)
					bx := &storage.Batch{}
					ev, sw := write(ca.Name(), "contended", label+" x", cur)
					nev, nsw := write(ca.Name(), label+" new", label+" new", entity.State{})
					bx.Events = []event.Event{ev, nev}
					bx.States = []storage.StateWrite{sw, nsw}
					err = l.apply(ctx, e, bx)
					if err == nil {
						break
					}
					if !errors.Is(err, storage.ErrConflict) {
						errs <- fmt.Errorf("writer %d: Apply: %w", w, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
	// The sentinel writes every entity of the case, so by per-entity order
	// every earlier batch comes before it.
	sb := &storage.Batch{}
	cur := mustGet(ctx, t, cb, xw.State.ID)
	ev, sw := write(ca.Name(), "contended", sentinel, cur)
	sb.Events, sb.States = append(sb.Events, ev), append(sb.States, sw)
	for w, own := range chains {
		own.next(sb, fmt.Sprint(sentinel, " own ", w))
	}
	if err := l.apply(ctx, b, sb); err != nil {
		t.Fatalf("Apply of the sentinel batch: %v", err)
	}
	ra := wait(t, "follower on the first handle", fola)
	rb := wait(t, "follower on the second handle", folb)
	checkFeed(t, "follower on the first handle", l, ra.got, start, true)
	checkFeed(t, "follower on the second handle", l, rb.got, start, true)
	l.mu.Lock()
	refused := len(l.failed)
	l.mu.Unlock()
	t.Logf("%d batches committed, %d refused", len(l.order), refused)
}

// sequential writes n batches through e, each updating x and creating an
// entity of its own, labelled prefix0, prefix1, …
func sequential(ctx context.Context, t T, e storage.Engine, l *feedLog, x *chain, prefix string, n int) {
	t.Helper()
	for i := range n {
		label := fmt.Sprint(prefix, i)
		b := &storage.Batch{}
		x.next(b, label)
		ev, w := write(x.coll, label+" new", label+" new", entity.State{})
		b.Events, b.States = append(b.Events, ev), append(b.States, w)
		if err := l.apply(ctx, e, b); err != nil {
			t.Fatalf("Apply %s: %v", label, err)
		}
	}
}

// keysOf returns the batch keys of what a follower got.
func keysOf(l *feedLog, got []storage.FeedBatch) []string {
	out := make([]string, len(got))
	for i, b := range got {
		out[i] = l.key(b.Changes)
	}
	return out
}

func checkKeys(t T, who string, l *feedLog, got []storage.FeedBatch, want []string) {
	t.Helper()
	if g := keysOf(l, got); !slices.Equal(g, want) {
		t.Errorf("%s: got batches\n\t%v\nwant\n\t%v", who, g, want)
	}
}

// testFeedResume: a follower stops, its handle closes (a server going
// down), batches commit meanwhile, and a new handle resumed from the last
// token gets exactly the batches after it.
func testFeedResume(ctx context.Context, t T, h Harness) {
	a := h.Engine()
	feedOf(t, a)
	b, fb := share(ctx, t, h)
	c := openCollection(ctx, t, a, "resume")
	l := newFeedLog(c.Name())
	x := &chain{coll: c.Name(), name: "x"}
	sequential(ctx, t, a, l, x, "pre", 1)
	start := map[entityKey]event.Clock{{c.Name(), x.cur.ID}: x.cur.Head}
	head := mustHead(ctx, t, fb)
	sequential(ctx, t, a, l, x, "one ", 10)
	r := wait(t, "first follower", follow(ctx, fb, head, l, func(got []storage.FeedBatch) bool { return len(got) == 5 }, nil))
	checkFeed(t, "first follower", l, r.got, start, false)
	checkKeys(t, "first follower", l, r.got, l.order[1:6])
	if len(r.got) != 5 {
		t.FailNow()
	}
	resume := r.got[4].Token

	if err := b.Close(); err != nil {
		t.Fatalf("Close of the shared handle: %v", err)
	}
	_, err := fb.FeedHead(ctx)
	wantErrIs(t, "FeedHead after Close", err, storage.ErrClosed)
	err = fb.Follow(ctx, head, func(storage.FeedBatch) error { return nil })
	wantErrIs(t, "Follow after Close", err, storage.ErrClosed)

	sequential(ctx, t, a, l, x, "two ", 10)
	_, fc := share(ctx, t, h)
	want := l.order[6:]
	last := want[len(want)-1]
	r = wait(t, "resumed follower", follow(ctx, fc, resume, l, untilKey(l, last), nil))
	checkKeys(t, "resumed follower", l, r.got, want)
	// A token from one handle resumes on any handle of the store.
	r = wait(t, "follower resumed on the first handle", follow(ctx, feedOf(t, a), resume, l, untilKey(l, last), nil))
	checkKeys(t, "follower resumed on the first handle", l, r.got, want)
}

// testFeedHead: a follower from FeedHead gets exactly what committed after
// it; a follower from the latest token waits for the next commit.
func testFeedHead(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	f := feedOf(t, e)
	c := openCollection(ctx, t, e, "head")
	l := newFeedLog(c.Name())
	x := &chain{coll: c.Name(), name: "x"}
	sequential(ctx, t, e, l, x, "before ", 5)
	head := mustHead(ctx, t, f)
	start := map[entityKey]event.Clock{{c.Name(), x.cur.ID}: x.cur.Head}
	sequential(ctx, t, e, l, x, "after ", 5)
	want := l.order[5:]
	r := wait(t, "follower from FeedHead", follow(ctx, f, head, l, untilKey(l, want[len(want)-1]), nil))
	checkFeed(t, "follower from FeedHead", l, r.got, start, false)
	checkKeys(t, "follower from FeedHead", l, r.got, want)
	if len(r.got) == 0 {
		t.FailNow()
	}
	// From the latest token: nothing until the next commit, then it.
	latest := r.got[len(r.got)-1].Token
	ch := follow(ctx, f, latest, l, func([]storage.FeedBatch) bool { return true }, nil)
	sequential(ctx, t, e, l, x, "next ", 1)
	r = wait(t, "follower from the latest token", ch)
	checkKeys(t, "follower from the latest token", l, r.got, l.order[10:])
}

// testFeedSlowFollower: a follower stops reading while 10,000 batches
// commit through two handles, then resumes: it gets every one of them, or
// ErrFeedGap — never a silent skip.
func testFeedSlowFollower(ctx context.Context, t T, h Harness) {
	a := h.Engine()
	fa := feedOf(t, a)
	b, _ := share(ctx, t, h)
	c := openCollection(ctx, t, a, "slow")
	l := newFeedLog(c.Name())
	const writers, perWriter = 4, 2500
	head := mustHead(ctx, t, fa)
	release := make(chan struct{})
	var once sync.Once
	ch := follow(ctx, fa, head, l,
		func(got []storage.FeedBatch) bool { return len(got) == writers*perWriter },
		func() { once.Do(func() { <-release }) }) // blocks on the first batch
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		e := []storage.Engine{a, b}[w%2]
		// Each writer takes its entities in turn, so that a skipped batch
		// breaks a chain, without updating one entity thousands of times.
		xs := make([]*chain, 25)
		for i := range xs {
			xs[i] = &chain{coll: c.Name(), name: fmt.Sprint("writer ", w, " chain ", i)}
		}
		wg.Go(func() {
			for i := range perWriter {
				bt := &storage.Batch{}
				xs[i%len(xs)].next(bt, fmt.Sprintf("w%d %d", w, i))
				if err := l.apply(ctx, e, bt); err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	close(release)
	for err := range errs {
		t.Errorf("%v", err)
	}
	r := wait(t, "slow follower", ch, storage.ErrFeedGap)
	if r.err != nil {
		t.Logf("the slow follower got %d batches, then %v", len(r.got), r.err)
	}
	checkFeed(t, "slow follower", l, r.got, nil, r.err == nil)
}

// testFeedContext: Follow returns when its context ends, and returns f's error.
func testFeedContext(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	f := feedOf(t, e)
	c := openCollection(ctx, t, e, "ctx")
	head := mustHead(ctx, t, f)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Follow(fctx, head, func(storage.FeedBatch) error { return nil }) }()
	cancel()
	wantErrIs(t, "Follow after its context was cancelled", <-done, context.Canceled)

	mine := errors.New("the callback's own error")
	l := newFeedLog(c.Name())
	sequential(ctx, t, e, l, &chain{coll: c.Name(), name: "x"}, "b", 1)
	err := f.Follow(ctx, head, func(b storage.FeedBatch) error {
		if l.key(b.Changes) == "" {
			return nil
		}
		return mine
	})
	wantErrIs(t, "Follow whose callback fails", err, mine)
}

// testFeedClose: closing a handle ends its Follow with ErrClosed; the other
// handles of the store go on.
func testFeedClose(ctx context.Context, t T, h Harness) {
	a := h.Engine()
	fa := feedOf(t, a)
	b, fb := share(ctx, t, h)
	c := openCollection(ctx, t, a, "close")
	head := mustHead(ctx, t, fb)
	done := make(chan error, 1)
	go func() { done <- fb.Follow(ctx, head, func(storage.FeedBatch) error { return nil }) }()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantErrIs(t, "Follow when its handle closes", <-done, storage.ErrClosed)

	l := newFeedLog(c.Name())
	x := &chain{coll: c.Name(), name: "x"}
	sequential(ctx, t, a, l, x, "after close ", 2)
	r := wait(t, "follower on the open handle", follow(ctx, fa, head, l, untilKey(l, l.order[1]), nil))
	checkKeys(t, "follower on the open handle", l, r.got, l.order)
}

// testFeedMalformedToken: a token the engine never made is ErrFeedGap.
func testFeedMalformedToken(ctx context.Context, t T, h Harness) {
	f := feedOf(t, h.Engine())
	head := mustHead(ctx, t, f)
	long := make([]byte, 2*maxTokenSize)
	for i := range long {
		long[i] = 0xff
	}
	for _, tok := range []storage.FeedToken{nil, []byte("not a token"), long, append(slices.Clone(head), 0)} {
		err := f.Follow(ctx, tok, func(storage.FeedBatch) error { return errors.New("called") })
		wantErrIs(t, fmt.Sprintf("Follow from token %q", abbrev(tok)), err, storage.ErrFeedGap)
	}
}
