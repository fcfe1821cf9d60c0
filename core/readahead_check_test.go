package core_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

// A state that is not well formed in a large part of a streamed answer
// (one the client checks on its read-ahead goroutine while it stores the
// part before) is refused as it is in a small one: the request fails with
// policy.ErrInvalid and nothing of that part is stored.
func TestClient_MalformedStateInAReadAheadPartIsRefused(t *testing.T) {
	breaks := map[string]func(st *entity.State){
		"backend-not-canonical": func(st *entity.State) {
			st.Backends = entity.Backends{{Name: st.Backends[0].Name, State: []byte{0xff, 0x00}}}
		},
		"no-head": func(st *entity.State) { st.Head = nil },
	}
	for name, brk := range breaks {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			server := newNode(t, core.WithLimits(limits.Limits{ChunkBytes: 32 << 10}))
			trx := server.Context(nil).Begin()
			for i := range 600 {
				m, err := trx.Create(ctx, "note")
				must(t, err)
				must(t, m.Set("body", strings.Repeat("n", 100)))
				must(t, m.Set("i", i))
			}
			must(t, trx.Commit(ctx))

			// The server's messages reach the client as sent but for the
			// third large part of an answer, one of whose states is broken.
			sa, sb := transport.Pipe()
			ca, cb := transport.Pipe()
			go server.Accept(ctx, sa)
			go func() {
				for {
					f, err := cb.Recv(ctx)
					if err != nil || sb.Send(ctx, f) != nil {
						return
					}
				}
			}()
			var (
				mu             sync.Mutex
				broken, partOf []id.EntityID
				parts          int
			)
			go func() {
				for {
					f, err := sb.Recv(ctx)
					if err != nil {
						return
					}
					if m, err := transport.Decode(f); err == nil && m.Response != nil && len(m.Response.States) >= 64 {
						mu.Lock()
						parts++
						third := parts == 3
						mu.Unlock()
						if third {
							sts := m.Response.States
							brk(&sts[len(sts)/2])
							mu.Lock()
							broken = append(broken, sts[len(sts)/2].ID)
							for _, st := range sts {
								partOf = append(partOf, st.ID)
							}
							mu.Unlock()
							if f, err = transport.Encode(m); err != nil {
								panic(err)
							}
						}
					}
					if cb.Send(ctx, f) != nil {
						return
					}
				}
			}()
			cstore := memory.New()
			client := newNodeOn(t, cstore, policy.Permissive{}, core.WithRole(core.Ephemeral))
			if _, err := client.Connect(ctx, ca, nil); err != nil {
				t.Fatal(err)
			}
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_, err := client.Context(nil).Fetch(fctx, "note", "true")
			if !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("fetch with a broken state in its third part: %v, want policy.ErrInvalid", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if parts < 3 || len(broken) != 1 {
				t.Fatalf("the answer had %d large parts; the test needs at least 3", parts)
			}
			coll, err := cstore.Collection(ctx, "note")
			must(t, err)
			for _, eid := range partOf {
				if _, err := coll.GetState(ctx, eid); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("%s of the refused part: stored (%v)", eid, fmt.Sprint(err))
				}
			}
		})
	}
}

// serialAgent counts ValidateState calls and notes any two that overlap.
type serialAgent struct {
	policy.Permissive
	inside, calls, overlaps atomic.Int64
}

func (a *serialAgent) ValidateState(context.Context, policy.Peer, *entity.State) error {
	if a.inside.Add(1) > 1 {
		a.overlaps.Add(1)
	}
	a.calls.Add(1)
	runtime.Gosched() // a window for another call to come in
	a.inside.Add(-1)
	return nil
}

// While a client checks the next part of a streamed answer beside the
// store of the one before, its policy agent is still asked about the
// states one at a time, as they are stored (policy.Agent: ValidateState
// keeps the order of the store), once for each state stored.
func TestClient_ValidateStateIsNotCalledConcurrentlyDuringACatchUp(t *testing.T) {
	ctx := context.Background()
	server := newNode(t, core.WithLimits(limits.Limits{ChunkBytes: 64 << 10}))
	trx := server.Context(nil).Begin()
	const n = 3000
	for i := range n {
		m, err := trx.Create(ctx, "note")
		must(t, err)
		must(t, m.Set("body", strings.Repeat("n", 100)))
		must(t, m.Set("i", i))
	}
	must(t, trx.Commit(ctx))
	agent := &serialAgent{}
	client := newNodeOn(t, memory.New(), agent, core.WithRole(core.Ephemeral))
	link(t, server, client)
	lq, err := client.Context(nil).Query(ctx, "note", "true")
	must(t, err)
	defer lq.Close()
	if got := len(lq.Items()); got != n {
		t.Fatalf("the live query holds %d notes, want %d", got, n)
	}
	if o := agent.overlaps.Load(); o > 0 {
		t.Errorf("ValidateState was called concurrently %d times", o)
	}
	if c := agent.calls.Load(); c < n {
		t.Errorf("ValidateState was called %d times for %d states", c, n)
	}
}
