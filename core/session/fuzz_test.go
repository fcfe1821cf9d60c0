package session_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/session"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
)

// FuzzRemote feeds a peer's error code, kind list and message to Remote: the
// error always wraps ErrRemote, carries the message, names only kinds that
// exist (in the sender's order, none twice), and sent on again
// (CodeOf, KindsOf) it turns into an error wrapping the same kinds.
func FuzzRemote(f *testing.F) {
	f.Add(uint8(transport.CodeNotFound), "storage.not-found", "no such entity")
	f.Add(uint8(transport.CodeInvalid), "query.syntax,storage.invalid", "bad")
	f.Add(uint8(255), ",,storage.conflict,unknown.kind,storage.conflict", "")
	f.Add(uint8(transport.CodeLimit), "", "limit")
	f.Fuzz(func(t *testing.T, code uint8, kindList, msg string) {
		err := session.Remote(transport.Code(code), kindList, msg)
		if !errors.Is(err, session.ErrRemote) {
			t.Fatalf("Remote(%d, %q) = %v, does not wrap ErrRemote", code, kindList, err)
		}
		if !strings.HasSuffix(err.Error(), msg) {
			t.Fatalf("error %q lost the message %q", err, msg)
		}
		kinds := session.KindsOf(err)
		if kinds != "" {
			for _, k := range strings.Split(kinds, ",") {
				if !strings.Contains(","+kindList+",", ","+k+",") && code == uint8(transport.CodeOK) {
					t.Fatalf("kind %q appears from nowhere (sent %q, code OK)", k, kindList)
				}
			}
		}
		again := session.Remote(session.CodeOf(err), kinds, msg)
		if got := session.KindsOf(again); got != kinds {
			t.Fatalf("kinds forwarded %q come back as %q", kinds, got)
		}
		if errors.Is(err, storage.ErrNotFound) != errors.Is(again, storage.ErrNotFound) {
			t.Fatalf("forwarding changed errors.Is(storage.ErrNotFound)")
		}
	})
}

// FuzzDeliver drives Requests with a script a peer controls (the ids and
// More flags of responses, in any order, against requests started and
// cancelled locally): nothing panics, a response reaches only the request
// of its id and at most once, Deliver reports false for ids no one waits
// for, and Close ends every request still waiting.
func FuzzDeliver(f *testing.F) {
	f.Add([]byte{0, 0, 2, 1, 1, 2, 1, 0, 2, 2, 0})
	f.Add([]byte{0, 2, 9, 0, 1, 1, 3})
	f.Add([]byte{0, 0, 0, 2, 3, 1, 2, 3, 1, 2, 3, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, script []byte) {
		var r session.Requests
		chans := map[uint64]<-chan *transport.Response{}
		calls := map[uint64]session.Call{}
		done := map[uint64]bool{} // got its response, or cancelled
		for i := 0; i < len(script); i++ {
			switch script[i] % 4 {
			case 0:
				c, ok := r.Start()
				if !ok {
					t.Fatal("Start refused before Close")
				}
				id, ch := c.ID, c.C
				calls[id] = c
				if _, dup := chans[id]; dup {
					t.Fatalf("id %d handed out twice", id)
				}
				chans[id] = ch
			case 1, 2: // deliver: next byte is the id, the op's parity More
				if i+1 >= len(script) {
					break
				}
				i++
				id := uint64(script[i] % 8)
				more := script[i-1]%4 == 1
				_, known := chans[id]
				ok := r.Deliver(&transport.Response{ID: id, States: nil}, more)
				if want := known && !done[id]; ok != want {
					t.Fatalf("Deliver(%d) = %v, want %v", id, ok, want)
				}
				if ok && !more {
					select {
					case resp := <-chans[id]:
						if resp == nil || resp.ID != id {
							t.Fatalf("request %d got %+v", id, resp)
						}
					default:
						t.Fatalf("request %d: last part delivered but nothing arrived", id)
					}
					done[id] = true
					r.Done(calls[id]) // its channel may serve a later request
				}
			case 3:
				if i+1 >= len(script) {
					break
				}
				i++
				id := uint64(script[i] % 8)
				r.Cancel(id)
				if _, known := chans[id]; known {
					done[id] = true
					// Given back after a cancel (not its contract): a response
					// delivered before the cancel keeps it from reuse.
					r.Done(calls[id])
				}
			}
		}
		r.Close()
		for id, ch := range chans {
			if done[id] {
				continue
			}
			if resp, open := <-ch; open {
				t.Fatalf("request %d got %+v after Close, want its channel closed", id, resp)
			}
		}
		if _, ok := r.Start(); ok {
			t.Fatal("Start after Close succeeded")
		}
	})
}

// A remote error wraps the sentinels its kinds name and no other sentinel of
// the same code: a syntax error (code invalid) is not also a
// policy.ErrInvalid, on the first hop or when forwarded again (found by
// FuzzRemote; testdata/fuzz/FuzzRemote/63913414bd51e1d2).
func TestRemote_KindsNamedAreTheOnlySentinelsOfTheirCode(t *testing.T) {
	err := session.Remote(transport.CodeInvalid, "query.syntax", "bad query")
	if !errors.Is(err, query.ErrSyntax) {
		t.Fatalf("%v does not wrap query.ErrSyntax", err)
	}
	if errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("%v wraps policy.ErrInvalid, which the sender's error did not", err)
	}
	again := session.Remote(session.CodeOf(err), session.KindsOf(err), "bad query")
	if got := session.KindsOf(again); got != "query.syntax" {
		t.Fatalf("forwarded once more, the kinds are %q", got)
	}
	// Without kinds (an old sender), the code's first sentinel stands in.
	if err := session.Remote(transport.CodeInvalid, "", "x"); !errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("code only: %v", err)
	}
}
