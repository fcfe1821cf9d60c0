package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// backendName is the backend the fixtures store opaque state under. Engines
// never decode backend state, so any bytes do.
const backendName = "lww"

// uniqueName returns prefix followed by random hex, so that cases sharing an
// engine never share a collection.
func uniqueName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// openCollection makes a uniquely named collection and fails the case if it cannot.
func openCollection(ctx context.Context, t T, e storage.Engine, prefix string) storage.Collection {
	t.Helper()
	c, err := e.Collection(ctx, uniqueName(prefix))
	if err != nil {
		t.Fatalf("Collection: %v", err)
	}
	return c
}

// genesis makes a creation event of collection whose id (and entity id)
// depends only on collection and label.
func genesis(collection, label string) event.Event {
	sum := sha256.Sum256([]byte(collection + "\x00" + label))
	ops := map[string][]byte{backendName: []byte("create " + label)}
	return event.NewGenesis(collection, ops, sum[:event.NonceSize], 1_700_000_000_000)
}

// child makes an event on top of parent events of the same entity.
func child(parent event.Event, label string, more ...event.Event) event.Event {
	ids := []id.EventID{parent.ID()}
	for _, m := range more {
		ids = append(ids, m.ID())
	}
	return event.Event{
		Collection: parent.Collection,
		Entity:     parent.Entity,
		Parent:     event.NewClock(ids...),
		Operations: map[string][]byte{backendName: []byte("edit " + label)},
	}
}

// stateAt returns the state of ev's entity with head {ev, more...}, the given
// values and an opaque backend buffer derived from the head.
func stateAt(values map[string]value.Value, ev event.Event, more ...event.Event) entity.State {
	ids := []id.EventID{ev.ID()}
	for _, m := range more {
		ids = append(ids, m.ID())
	}
	head := event.NewClock(ids...)
	buf := []byte{0x00, 0xff, 0x80}
	for _, h := range head {
		buf = append(buf, h[:4]...)
	}
	return entity.State{
		ID:         ev.Entity,
		Collection: ev.Collection,
		Head:       head,
		Backends:   entity.BackendsOf(map[string][]byte{backendName: buf}),
		Values:     value.FieldsOf(values),
	}
}

// create returns a batch writing ev and the new entity's state.
func create(ev event.Event, values map[string]value.Value) *storage.Batch {
	return &storage.Batch{
		Events: []event.Event{ev},
		States: []storage.StateWrite{{State: stateAt(values, ev)}},
	}
}

func mustApply(ctx context.Context, t T, e storage.Engine, b *storage.Batch) {
	t.Helper()
	if err := e.Apply(ctx, b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func mustGet(ctx context.Context, t T, c storage.Collection, eid id.EntityID) entity.State {
	t.Helper()
	s, err := c.GetState(ctx, eid)
	if err != nil {
		t.Fatalf("GetState(%s): %v", eid, err)
	}
	return s
}

func wantNotFound(ctx context.Context, t T, c storage.Collection, eid id.EntityID) {
	t.Helper()
	s, err := c.GetState(ctx, eid)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetState(%s) in %q = (%v, %v), want an error wrapping storage.ErrNotFound", eid, c.Name(), s.Values, err)
	}
}

func wantErrIs(t T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want an error wrapping %v", what, err, target)
	}
}

// diffState describes how got differs from want, or returns "". A NULL
// value and an absent one are the same; so are a nil and an empty buffer.
func diffState(want, got entity.State) string {
	var d []string
	if want.ID != got.ID {
		d = append(d, fmt.Sprintf("id %s, want %s", got.ID, want.ID))
	}
	if want.Collection != got.Collection {
		d = append(d, fmt.Sprintf("collection %q, want %q", got.Collection, want.Collection))
	}
	if !slices.Equal(want.Head, got.Head) {
		d = append(d, fmt.Sprintf("head %v, want %v", got.Head, want.Head))
	}
	for _, k := range unionKeys(want.Backends.Map(), got.Backends.Map()) {
		w, g := want.Backends.StateOf(k), got.Backends.StateOf(k)
		if !bytes.Equal(w, g) {
			d = append(d, fmt.Sprintf("backend %q: %d bytes %s, want %d bytes %s", k, len(g), abbrev(g), len(w), abbrev(w)))
		}
	}
	for _, k := range unionKeys(want.Values.Map(), got.Values.Map()) {
		w, g := want.Values.Get(k), got.Values.Get(k)
		if w != g {
			d = append(d, fmt.Sprintf("value %q: %s, want %s", k, abbrevValue(g), abbrevValue(w)))
		}
	}
	return strings.Join(d, "; ")
}

func unionKeys[V any](a, b map[string]V) []string {
	m := maps.Clone(a)
	if m == nil {
		m = map[string]V{}
	}
	maps.Copy(m, b)
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}

func abbrev(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%x…", b[:16])
	}
	return fmt.Sprintf("%x", b)
}

func abbrevValue(v value.Value) string {
	s := v.GoString()
	if len(s) > 60 {
		return s[:60] + fmt.Sprintf("… (%d bytes)", len(v.Raw()))
	}
	return s
}

func checkState(ctx context.Context, t T, c storage.Collection, want entity.State) {
	t.Helper()
	got := mustGet(ctx, t, c, want.ID)
	if d := diffState(want, got); d != "" {
		t.Errorf("GetState(%s) in %q: %s", want.ID, c.Name(), d)
	}
}

// eventIDs returns the ids of events, sorted.
func eventIDs(evs []event.Event) []id.EventID {
	out := make([]id.EventID, len(evs))
	for i := range evs {
		out[i] = evs[i].ID()
	}
	slices.SortFunc(out, id.EventID.Compare)
	return out
}

func checkEventSet(t T, what string, got []event.Event, want ...event.Event) {
	t.Helper()
	g, w := eventIDs(got), eventIDs(want)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got events %v, want %v", what, g, w)
	}
	for _, ev := range got {
		if ev.Collection == "" || ev.Entity.IsZero() {
			t.Errorf("%s: event %s comes back without collection or entity (%q, %s)", what, ev.ID(), ev.Collection, ev.Entity)
		}
	}
}

func entityIDs(states []entity.State) []id.EntityID {
	out := make([]id.EntityID, len(states))
	for i := range states {
		out[i] = states[i].ID
	}
	return out
}
