package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
