package session_test

import (
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/session"
	"github.com/ankurah/ankurah-go/core/transport"
)

// An error crosses the wire as a message, a code and kinds; the receiver's
// error wraps the same sentinels, so errors.Is holds on both sides.
func ExampleRemote() {
	sent := fmt.Errorf("fetch: %w", query.ErrSyntax)
	code, kinds := session.CodeOf(sent), session.KindsOf(sent)
	received := session.Remote(code, kinds, sent.Error())
	fmt.Println(kinds)
	fmt.Println(errors.Is(received, query.ErrSyntax), errors.Is(received, session.ErrRemote))
	// Output:
	// query.syntax
	// true true
}

// An Outbox queues frames without blocking and refuses, naming the bound,
// the push that would pass one; a writer takes the frames in order.
func ExampleOutbox() {
	o := session.NewOutbox(func() int64 { return 2 }, 1<<20, nil)
	fmt.Println(o.Push([]byte("one")), o.Push([]byte("two")))
	fmt.Println(o.Push([]byte("three")))
	f, _ := o.Take()
	fmt.Println(string(f))
	o.Close()
	// Output:
	// <nil> <nil>
	// session: outgoing queue full (2 frames, 6 bytes waiting; limit frames waiting)
	// one
}

// Hold keeps the writer away while an answer is pushed (from under the
// pusher's own locks); Flush then sends it on the holder's goroutine,
// without waking the writer.
func ExampleOutbox_Hold() {
	o := session.NewOutbox(func() int64 { return 16 }, 1<<20, nil)
	held := o.Hold()
	_ = o.Push([]byte("answer"))
	if held {
		_ = o.Flush(func(f []byte) error { fmt.Println("sent by the holder:", string(f)); return nil })
	}
	frames, _ := o.Len()
	fmt.Println("left for the writer:", frames)
	o.Close()
	// Output:
	// sent by the holder: answer
	// left for the writer: 0
}

// Requests hands out request ids and matches answers to them; a call whose
// answer was taken is given back with Done, and its channel serves a later
// request.
func ExampleRequests() {
	var r session.Requests
	call, _ := r.Start()
	r.Deliver(&transport.Response{ID: call.ID, Unchanged: []id.EntityID{{1}}}, true) // a first part
	r.Deliver(&transport.Response{ID: call.ID}, false)                               // the last part
	resp := <-call.C
	fmt.Println(resp.ID, len(resp.Unchanged))
	r.Done(call)
	next, _ := r.Start()
	fmt.Println(next.ID, next.C == call.C)
	// Output:
	// 1 1
	// 2 true
}
