package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/transport"
)

// rawRequest sends req (its ID set to 7) over a raw connection to server
// that says hello with the given protocol version, and returns the
// response to it; seen, when not nil, is given every other message that
// arrives before it.
func rawRequest(t *testing.T, server *core.Node, version uint32, req transport.Request, seen func(*transport.Message)) *transport.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := transport.Pipe()
	go server.Accept(context.Background(), a)
	defer b.Close()
	send := func(m *transport.Message) {
		f, err := transport.Encode(m)
		must(t, err)
		must(t, b.Send(ctx, f))
	}
	recv := func() *transport.Message {
		f, err := b.Recv(ctx)
		must(t, err)
		m, err := transport.Decode(f)
		must(t, err)
		return m
	}
	send(&transport.Message{Hello: &transport.Hello{NodeID: "raw", Version: version}})
	if h := recv().Hello; h == nil || h.Version != version {
		t.Fatalf("hello answered with %+v, want version %d", h, version)
	}
	req.ID = 7
	send(&transport.Message{Request: &req})
	for {
		m := recv()
		if m.Response != nil && m.Response.ID == req.ID {
			return m.Response
		}
		if seen != nil {
			seen(m)
		}
	}
}
