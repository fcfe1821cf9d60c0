package session

import (
	"errors"
	"fmt"
	"testing"

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

func TestRequests_PartsAccumulateAndCloseEndsWaiters(t *testing.T) {
	var r Requests
	id, ch, ok := r.Start()
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
	_, ch2, _ := r.Start()
	r.Close()
	if _, open := <-ch2; open {
		t.Fatal("Close left a waiter")
	}
	if _, _, ok := r.Start(); ok {
		t.Fatal("Start after Close")
	}
}
