package session

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Every sentinel of the table survives the wire: errors.Is works on the
// receiving side for each.
func TestKinds_EverySentinelSurvivesTheWire(t *testing.T) {
	for _, s := range kinds {
		err := fmt.Errorf("context: %w", s.err)
		back := Remote(CodeOf(err), KindsOf(err), err.Error())
		if !errors.Is(back, s.err) || !errors.Is(back, ErrRemote) {
			t.Errorf("%s: received as %v", s.kind, back)
		}
	}
	// An old peer that sends only a code still maps to its sentinel.
	if back := Remote(transport.CodeNotFound, "", "gone"); !errors.Is(back, storage.ErrNotFound) {
		t.Errorf("code only: %v", back)
	}
}

// A call given back with Done lends its channel to a later request, which
// gets its own response only; one cancelled with a response on its way is
// not reused.
func TestRequests_DoneReusesChannel(t *testing.T) {
	var r Requests
	c1, _ := r.Start()
	r.Deliver(&transport.Response{ID: c1.ID, Error: "first"}, false)
	if got := <-c1.C; got.Error != "first" {
		t.Fatalf("first call got %+v", got)
	}
	r.Done(c1)
	c2, _ := r.Start()
	if c2.C != c1.C {
		t.Fatal("a call given back was not reused")
	}
	if c2.ID == c1.ID {
		t.Fatal("reused call kept its id")
	}
	r.Deliver(&transport.Response{ID: c1.ID, Error: "stale"}, false) // no one's
	r.Deliver(&transport.Response{ID: c2.ID, Error: "second"}, false)
	if got := <-c2.C; got.Error != "second" {
		t.Fatalf("second call got %+v", got)
	}
	r.Done(c2)
	c3, _ := r.Start()
	r.Deliver(&transport.Response{ID: c3.ID, Error: "late"}, false)
	r.Cancel(c3.ID)
	r.Done(c3) // a response waits in its channel: not reused
	c4, _ := r.Start()
	if c4.C == c3.C {
		t.Fatal("a channel holding a response was reused")
	}
	r.Cancel(c4.ID)
	r.Done(c4) // cancelled: not reused, even with its channel empty
	if c5, _ := r.Start(); c5.C == c4.C {
		t.Fatal("a cancelled call was reused")
	}
	r.Close()
	r.Done(c4) // closed: not reused, no panic
}

func TestRequests_PartsAccumulateAndCloseEndsWaiters(t *testing.T) {
	var r Requests
	c, ok := r.Start()
	id, ch := c.ID, c.C
	if !ok || id != 1 {
		t.Fatalf("start: %d %v", id, ok)
	}
	if !r.Deliver(&transport.Response{ID: id, Unchanged: nil, Events: nil}, true) {
		t.Fatal("first part not taken")
	}
	r.Deliver(&transport.Response{ID: id, Error: "boom", Code: transport.CodeInternal}, true)
	resp := <-ch
	if resp.Error != "boom" {
		t.Fatalf("a failed part ends the request: %+v", resp)
	}
	if r.Deliver(&transport.Response{ID: id}, false) {
		t.Fatal("a part after the end was taken")
	}
	c2, _ := r.Start()
	r.Close()
	if _, open := <-c2.C; open {
		t.Fatal("Close left a waiter")
	}
	if _, ok := r.Start(); ok {
		t.Fatal("Start after Close")
	}
}

// An answer in parts arrives with every part's states in the order they
// came, whichever parts carried none; a request started with StartOutcome
// gets the outcome of its answer (error, unchanged ids) without states.
func TestRequests_PartsJoinInOrderAndOutcomeKeepsNoStates(t *testing.T) {
	states := func(from, n int) []entity.State {
		out := make([]entity.State, n)
		for i := range out {
			out[i].ID[0], out[i].ID[1] = byte(from+i), byte((from+i)>>8)
		}
		return out
	}
	var r Requests
	c, _ := r.Start()
	if keeps, rows := r.Keeps(c.ID); !keeps || rows {
		t.Fatalf("Keeps = %v, %v for a request started with Start, want true, false", keeps, rows)
	}
	rc, _ := r.StartRows()
	if keeps, rows := r.Keeps(rc.ID); !keeps || !rows {
		t.Fatalf("Keeps = %v, %v for a request started with StartRows, want true, true", keeps, rows)
	}
	r.Cancel(rc.ID)
	parts := [][]entity.State{states(0, 3), nil, states(3, 1), states(4, 300), nil, states(304, 2)}
	for i, p := range parts {
		r.Deliver(&transport.Response{ID: c.ID, States: p, Unchanged: []id.EntityID{{byte(i)}}}, i < len(parts)-1)
	}
	resp := <-c.C
	if len(resp.States) != 306 || len(resp.Unchanged) != len(parts) {
		t.Fatalf("got %d states and %d unchanged ids, want 306 and %d", len(resp.States), len(resp.Unchanged), len(parts))
	}
	for i, st := range resp.States {
		if int(st.ID[0])|int(st.ID[1])<<8 != i {
			t.Fatalf("state %d is the answer's %d", i, int(st.ID[0])|int(st.ID[1])<<8)
		}
	}

	o, _ := r.StartOutcome()
	if keeps, _ := r.Keeps(o.ID); keeps {
		t.Fatal("Keeps = true for a request started with StartOutcome")
	}
	r.Deliver(&transport.Response{ID: o.ID, States: states(0, 5)}, true)
	r.Deliver(&transport.Response{ID: o.ID, States: states(5, 5), Unchanged: []id.EntityID{{9}}}, false)
	resp = <-o.C
	if len(resp.States) != 0 || len(resp.Unchanged) != 1 || resp.Error != "" {
		t.Fatalf("an outcome-only answer: %d states, %d unchanged, error %q", len(resp.States), len(resp.Unchanged), resp.Error)
	}
	if k1, _ := r.Keeps(o.ID); k1 {
		t.Fatal("Keeps = true for a request answered")
	}
	if k2, _ := r.Keeps(12345); k2 {
		t.Fatal("Keeps = true for a request nobody waits for")
	}
}

// A request cancelled, or ended by Close, in the middle of a streamed answer
// lets go of the parts held for it, though its Call is still referenced.
func TestRequests_CancelAndCloseDropHeldParts(t *testing.T) {
	var r Requests
	c, _ := r.Start()
	d, _ := r.Start()
	for _, call := range []Call{c, d} {
		for range 3 {
			r.Deliver(&transport.Response{ID: call.ID, States: make([]entity.State, 100)}, true)
		}
		if call.w.partial == nil || call.w.nstates == 0 {
			t.Fatalf("request %d holds no parts before it ends", call.ID)
		}
	}
	r.Cancel(c.ID)
	if c.w.partial != nil || c.w.parts != nil || c.w.nstates != 0 {
		t.Fatal("a cancelled request still holds its answer's parts")
	}
	r.Close()
	if d.w.partial != nil || d.w.parts != nil || d.w.nstates != 0 {
		t.Fatal("a request ended by Close still holds its answer's parts")
	}
	if r.Deliver(&transport.Response{ID: c.ID, States: make([]entity.State, 1)}, false) {
		t.Fatal("a part of a cancelled request was taken")
	}
}
