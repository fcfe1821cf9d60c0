package core

import (
	"context"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// OutboxCollection keeps an ephemeral node's commits made while offline, so
// that they survive a restart (a reloaded browser tab) until a durable peer
// has them.
const OutboxCollection = "_ankurah_outbox"

var outboxDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{MaxArrayElements: 1 << 16}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

func outboxKey(evs []event.Event) id.EntityID { return id.EntityID(evs[0].ID()) }

// outboxRecord is the stored record of a batch of unsent commits, written
// in the same storage batch as the commits themselves (applyLocal), so a
// crash keeps both or neither.
func (n *Node) outboxRecord(evs []event.Event) (storage.StateWrite, error) {
	b, err := event.EncMode().Marshal(evs)
	if err != nil {
		return storage.StateWrite{}, fmt.Errorf("ankurah: keep offline commit: %w", err)
	}
	key := outboxKey(evs)
	st := entity.State{ID: key, Collection: OutboxCollection, Head: event.NewClock(id.EventID(key)), Values: value.MakeFields([]value.Field{
		{Name: "events", Value: value.Bytes(b)},
		{Name: "seq", Value: value.Int(n.cfg.now().UnixNano())},
	})}
	return storage.StateWrite{State: st}, nil
}

// unpersistOutbox marks a batch sent (or refused for good).
func (n *Node) unpersistOutbox(ctx context.Context, evs []event.Event) {
	coll, err := n.engine.Collection(ctx, OutboxCollection)
	if err != nil {
		return
	}
	key := outboxKey(evs)
	cur, err := coll.GetState(ctx, key)
	if err != nil || cur.Deleted() {
		return
	}
	done := entity.State{ID: key, Collection: OutboxCollection, Head: cur.Head, Values: value.MakeFields([]value.Field{{Name: entity.DeletedProperty, Value: value.Bool(true)}})}
	if err := n.engine.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: done, Expected: cur.Head}}}); err != nil {
		n.log.WarnContext(ctx, "could not mark an offline commit sent", "err", err)
	}
}

// loadOutbox reads the unsent commits a previous run of this node kept.
func (n *Node) loadOutbox(ctx context.Context) ([][]event.Event, error) {
	coll, err := n.engine.Collection(ctx, OutboxCollection)
	if err != nil {
		return nil, err
	}
	b, err := query.ParseBound(`"_deleted" IS NULL ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	states, err := coll.FetchStates(ctx, b)
	if err != nil {
		return nil, err
	}
	var out [][]event.Event
	for _, st := range states {
		raw, ok := st.Values.Get("events").AsBytes()
		if !ok {
			continue
		}
		var evs []event.Event
		if err := outboxDec.Unmarshal(raw, &evs); err != nil || len(evs) == 0 {
			n.log.WarnContext(ctx, "dropping an unreadable offline commit", "err", err)
			continue
		}
		out = append(out, evs)
	}
	return out, nil
}
