package adversarial_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/transport"
)

// props returns properties p<from> … p<to-1>.
func props(from, to int) map[string]any {
	m := make(map[string]any, to-from)
	for i := from; i < to; i++ {
		m[fmt.Sprintf("p%05d", i)] = i
	}
	return m
}

// Finding 1: one user could commit an entity no reader could decode (60,000
// properties, then 10,000 more), and every Fetch or Subscribe on the
// collection failed for everyone from then on.
func TestFinding_PoisonedCollection_PropertiesBeyondTheLimitAreRefused(t *testing.T) {
	s := startServer(t, withLimits(limits.Limits{MaxProperties: 500, MaxStateBytes: 1 << 20, MaxEventBytes: 512 << 10}))
	alice := s.dial(t, "alice")
	eid := mustCreate(t, alice.ctx(), "alice", "wide", props(0, 400)) // 402 properties with owner and title
	g := s.guard(t)
	err := editTodo(alice.ctx(), eid, props(400, 600))
	wantErr(t, "adding 200 properties to a todo of 402 (limit 500)", err, core.ErrLimit, "max-properties")
	_, err = createTodo(alice.ctx(), "alice", "too wide at birth", props(0, 600))
	wantErr(t, "creating a todo of 602 properties (limit 500)", err, core.ErrLimit, "max-properties")
	g.done(t)
}

// The same at the default limits, with the finding's own numbers.
func TestFinding_PoisonedCollection_SixtyThousandPropertiesAtTheDefaults(t *testing.T) {
	s := startServer(t)
	alice := s.dial(t, "alice")
	g := s.guard(t)
	_, err := createTodo(alice.ctx(), "alice", "60k", props(0, 60000))
	wantErr(t, "creating a todo of 60,000 properties", err, core.ErrLimit, "max-properties")
	g.done(t)

	eid := mustCreate(t, alice.ctx(), "alice", "4k", props(0, 4000))
	g = s.guard(t)
	err = editTodo(alice.ctx(), eid, props(4000, 14000))
	wantErr(t, "adding 10,000 properties to a todo of 4,002", err, core.ErrLimit, "max-properties")
	g.done(t)
}

// growUntilRefused commits chunk-sized properties into one todo until a
// commit is refused; every refused commit must leave the data unchanged and
// the server serving others.
func growUntilRefused(t *testing.T, s *server, chunk, maxCommits int) {
	t.Helper()
	alice := s.dial(t, "alice")
	eid := mustCreate(t, alice.ctx(), "alice", "growing", nil)
	for i := 0; ; i++ {
		if i == maxCommits {
			t.Fatalf("%d commits of %d bytes each into one todo were all accepted (max-state-bytes = %d)", maxCommits, chunk, s.Limits.MaxStateBytes)
		}
		g := s.guard(t)
		err := editTodo(alice.ctx(), eid, map[string]any{fmt.Sprintf("blob%d", i): strings.Repeat(string(rune('a'+i%26)), chunk)})
		if err == nil {
			continue
		}
		if i == 0 {
			t.Fatalf("the first commit of %d bytes was refused: %v", chunk, err)
		}
		wantErr(t, fmt.Sprintf("commit #%d of %d bytes into one todo", i+1, chunk), err, core.ErrLimit)
		if !strings.Contains(err.Error(), "max-state-bytes") && !strings.Contains(err.Error(), "max-event-bytes") {
			t.Fatalf("refusal %q names neither max-state-bytes nor max-event-bytes", err)
		}
		g.done(t)
		// Refused again, not accepted once the first refusal is past.
		err = editTodo(alice.ctx(), eid, map[string]any{"blob-again": strings.Repeat("z", chunk)})
		wantErr(t, "the same growth once more", err, core.ErrLimit)
		return
	}
}

// Finding 1, by size: one state grown past max-state-bytes in several
// commits, each well under the event limit.
func TestFinding_PoisonedCollection_StateGrownPastTheLimitIsRefused(t *testing.T) {
	s := startServer(t, withLimits(limits.Limits{MaxStateBytes: 1 << 20, MaxEventBytes: 512 << 10}))
	growUntilRefused(t, s, 200<<10, 12)
}

// The same at the default limits, in ~3 MiB commits.
func TestFinding_PoisonedCollection_StateGrownInThreeMiBCommitsAtTheDefaults(t *testing.T) {
	s := startServer(t)
	growUntilRefused(t, s, 3<<20, 6)
}

// One event above max-event-bytes is refused, naming the limit.
func TestFinding_PoisonedCollection_EventBeyondTheLimitIsRefused(t *testing.T) {
	s := startServer(t, withLimits(limits.Limits{MaxStateBytes: 4 << 20, MaxEventBytes: 256 << 10}))
	alice := s.dial(t, "alice")
	g := s.guard(t)
	_, err := createTodo(alice.ctx(), "alice", "fat", map[string]any{"blob": strings.Repeat("x", 300<<10)})
	wantErr(t, "a 300 KiB event (limit 256 KiB)", err, core.ErrLimit, "max-event-bytes")
	g.done(t)
}

// A client that skips its own checks (a raw connection) meets the same
// limits on the server: a genesis of 60,000 properties, and 10,000 more
// properties on a todo of 4,002.
func TestFinding_PoisonedCollection_TheServerRefusesWhatAClientDidNotCheck(t *testing.T) {
	s := startServer(t)
	r := s.rawAs(t, s.token(t, "alice"))
	wide := props(0, 60000)
	wide["owner"], wide["title"] = "alice", "60k over the wire"
	g := s.guard(t)
	o := r.do(commit(genesis(t, "todo", wide)))
	o.refused(t, "a raw genesis of 60,002 properties", transport.CodeLimit)
	if !strings.Contains(o.message(), "max-properties") {
		t.Fatalf("refusal %q does not name max-properties", o.message())
	}
	g.done(t)

	eid := mustCreate(t, s.system(), "alice", "4k", props(0, 4000))
	st := s.stored(t, "todo", eid)
	g = s.guard(t)
	o = r.do(commit(edit(t, "todo", eid, st.Head, lwwHeight(t, st)+1, props(4000, 14000))))
	o.refused(t, "10,000 more properties over the wire", transport.CodeLimit)
	if !strings.Contains(o.message(), "max-properties") {
		t.Fatalf("refusal %q does not name max-properties", o.message())
	}
	r.alive(t, "after the refusals")
	g.done(t)
}
