package adversarial_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/transport"
)

// seed creates n todos of owner directly on the server (trusted code, big
// transactions), each with a blob of blobBytes when not zero.
func seed(t testing.TB, s *server, owner string, n, blobBytes int) {
	t.Helper()
	blob := strings.Repeat("b", blobBytes)
	per := s.Limits.MaxCommitEvents
	for start := 0; start < n; start += per {
		ctx := deadline(t) // each transaction's own wait
		trx := s.system().Begin()
		for i := start; i < min(n, start+per); i++ {
			m, err := trx.Create(ctx, "todo")
			if err != nil {
				t.Fatal(err)
			}
			m.Set("owner", owner)
			m.Set("title", fmt.Sprintf("%s %06d", owner, i))
			if blobBytes > 0 {
				m.Set("blob", blob)
			}
		}
		if err := trx.Commit(ctx); err != nil {
			t.Fatalf("seeding todos %d…: %v", start, err)
		}
	}
}

// everyTitle fails unless titles are exactly owner's n seeded titles.
func everyTitle(t testing.TB, what string, titles []string, owner string, n int) {
	t.Helper()
	if len(titles) != n {
		t.Fatalf("%s: %d entities, want %d", what, len(titles), n)
	}
	seen := make(map[string]bool, n)
	for _, s := range titles {
		seen[s] = true
	}
	for i := range n {
		if want := fmt.Sprintf("%s %06d", owner, i); !seen[want] {
			t.Fatalf("%s: %q is missing", what, want)
		}
	}
}

// Finding 2: a result larger than one frame could not be sent at all; the
// fetch failed and the subscription never started. 20,000 todos of ~2 KiB
// are ~40 MiB, more than transport.MaxFrameSize.
func TestFinding_LargeResults_FetchAndSubscribeLargerThanAFrame(t *testing.T) {
	const n, blob = 20000, 2048
	if n*blob <= transport.MaxFrameSize {
		t.Fatalf("the result (%d bytes) must be larger than a frame (%d)", n*blob, transport.MaxFrameSize)
	}
	s := startServer(t)
	seed(t, s, "carol", n, blob)
	ctx := deadline(t)

	carol := s.dial(t, "carol")
	views, err := carol.ctx().Fetch(ctx, "todo", "true")
	if err != nil {
		t.Fatalf("fetching %d todos of %d bytes: %v", n, blob, err)
	}
	titles := make([]string, len(views))
	for i, v := range views {
		titles[i], _ = v.Get("title").AsString()
		if b, _ := v.Get("blob").AsString(); len(b) != blob {
			t.Fatalf("todo %q arrived with a blob of %d bytes, want %d", titles[i], len(b), blob)
		}
	}
	everyTitle(t, "the fetch", titles, "carol", n)

	tablet := s.dial(t, "carol")
	lq, err := tablet.ctx().Query(deadline(t), "todo", "true")
	if err != nil {
		t.Fatalf("subscribing to %d todos of %d bytes: %v", n, blob, err)
	}
	defer lq.Close()
	titles = titles[:0]
	for _, v := range lq.Items() {
		s, _ := v.Get("title").AsString()
		titles = append(titles, s)
	}
	everyTitle(t, "the subscription's initial result", titles, "carol", n)
	s.bystanders(t).check(t)
}

// Finding 2, one query of 100,000 small entities from a fresh client.
func TestFinding_LargeResults_OneHundredThousandEntitiesInOneFetch(t *testing.T) {
	const n = 100000
	s := startServer(t)
	seed(t, s, "carol", n, 0)
	carol := s.dial(t, "carol")
	views, err := carol.ctx().Fetch(deadline(t), "todo", "true")
	if err != nil {
		t.Fatalf("fetching %d todos: %v", n, err)
	}
	titles := make([]string, len(views))
	for i, v := range views {
		titles[i], _ = v.Get("title").AsString()
	}
	everyTitle(t, "the fetch", titles, "carol", n)
	s.bystanders(t).check(t)
}

// With small parts (chunk-bytes 4 KiB), a fetch, a subscription's initial
// result and one commit's updates to a subscription all travel as many
// parts and arrive whole; a raw client sees the parts (Message.More).
func TestFinding_LargeResults_SmallChunksStreamEveryPart(t *testing.T) {
	const n = 2000
	s := startServer(t, withLimits(limits.Limits{ChunkBytes: 4 << 10}))
	seed(t, s, "carol", n, 100)
	ctx := deadline(t)

	r := s.rawAs(t, s.token(t, "carol"))
	req := &transport.Request{ID: 1, Fetch: &transport.FetchReq{Collection: "todo", Query: "true"}}
	r.send(&transport.Message{Request: req})
	parts, states := 0, 0
	for {
		m, err := r.read()
		if err != nil {
			t.Fatalf("raw fetch: after %d parts: %v", parts, err)
		}
		if m.Response == nil || m.Response.ID != 1 {
			continue
		}
		if m.Response.Error != "" {
			t.Fatalf("raw fetch: %s", describe(m))
		}
		parts++
		states += len(m.Response.States)
		if !m.More {
			break
		}
	}
	if states != n || parts < 2 {
		t.Fatalf("raw fetch: %d states in %d parts, want %d states in several parts", states, parts, n)
	}

	carol := s.dial(t, "carol")
	views, err := carol.ctx().Fetch(ctx, "todo", "true")
	if err != nil || len(views) != n {
		t.Fatalf("fetch in small parts: %d todos, %v", len(views), err)
	}
	lq, err := carol.ctx().Query(ctx, "todo", "true")
	if err != nil || len(lq.Items()) != n {
		t.Fatalf("subscription in small parts: %v", err)
	}
	defer lq.Close()

	// One commit changing every todo: its updates are larger than a part.
	trx := s.system().Begin()
	for _, v := range views {
		m, err := trx.Edit(ctx, "todo", v.ID())
		if err != nil {
			t.Fatal(err)
		}
		m.Set("done", true)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every todo's update to reach the subscription", func() bool {
		for _, v := range lq.Items() {
			if d, _ := v.Get("done").AsBool(); !d {
				return false
			}
		}
		return len(lq.Items()) == n
	})
	s.bystanders(t).check(t)
}
