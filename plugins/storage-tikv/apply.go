package tikv

import (
	"bytes"
	"context"
	"fmt"

	tikvkv "github.com/tikv/client-go/v2/kv"
	"github.com/tikv/client-go/v2/txnkv/transaction"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Apply writes a batch in one optimistic TiKV transaction: its events (an
// event already stored is left alone), then its states, each checked
// against its expected head and with the collection's index entries moved
// along. A head mismatch writes nothing and wraps storage.ErrConflict.
func (e *Engine) Apply(ctx context.Context, b *storage.Batch) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if b == nil {
		return fmt.Errorf("%w: tikv: nil batch", storage.ErrInvalid)
	}
	if err := validateBatch(b); err != nil {
		return err
	}
	// Encode once, outside the retry loop.
	events := make([][]byte, len(b.Events))
	for i := range b.Events {
		enc, err := b.Events[i].Encode()
		if err != nil {
			return fmt.Errorf("%w: tikv: encoding event %d: %v", storage.ErrInvalid, i, err)
		}
		events[i] = enc
	}
	states := make([][]byte, len(b.States))
	for i := range b.States {
		enc, err := b.States[i].State.Encode()
		if err != nil {
			return fmt.Errorf("%w: tikv: encoding state %d: %v", storage.ErrInvalid, i, err)
		}
		states[i] = enc
	}
	return e.update(ctx, "apply", func(txn *transaction.KVTxn) error {
		return e.applyTxn(ctx, txn, b, events, states)
	})
}

func (e *Engine) applyTxn(ctx context.Context, txn *transaction.KVTxn, b *storage.Batch, events, states [][]byte) error {
	// Read every event and state key the batch touches in one round trip.
	eventKeys := make([][]byte, len(b.Events))
	eventIDs := make([]id.EventID, len(b.Events))
	stateKeys := make([][]byte, len(b.States))
	reads := make([][]byte, 0, len(b.Events)+len(b.States))
	for i := range b.Events {
		eventIDs[i] = b.Events[i].ID()
		eventKeys[i] = e.keys.event(b.Events[i].Collection, eventIDs[i])
		reads = append(reads, eventKeys[i])
	}
	for i := range b.States {
		s := &b.States[i].State
		stateKeys[i] = e.keys.state(s.Collection, s.ID)
		reads = append(reads, stateKeys[i])
	}
	stored, err := txn.BatchGet(ctx, reads)
	if err != nil {
		return fmt.Errorf("tikv: apply: reading the batch's keys: %w", err)
	}

	for i := range b.Events {
		ev, k := &b.Events[i], eventKeys[i]
		if _, ok := stored[string(k)]; ok {
			continue // already stored (or earlier in this batch): events are immutable under their id
		}
		stored[string(k)] = tikvkv.ValueEntry{Value: events[i]}
		ent := ev.Entity
		if ev.IsGenesis() {
			ent = id.EntityID(eventIDs[i]) // the genesis event's id is the entity's id
		}
		if err := txn.Set(k, events[i]); err != nil {
			return fmt.Errorf("tikv: apply: writing event %s: %w", eventIDs[i], err)
		}
		if err := txn.Set(e.keys.entityEvent(ev.Collection, ent, eventIDs[i]), present); err != nil {
			return fmt.Errorf("tikv: apply: writing event %s: %w", eventIDs[i], err)
		}
	}

	indexes := map[string][]string{}      // collection -> indexed properties (building or ready)
	current := map[string]*entity.State{} // states written earlier in this batch
	for i := range b.States {
		w, k := &b.States[i], stateKeys[i]
		s := &w.State
		props, ok := indexes[s.Collection]
		if !ok {
			decls, err := e.indexDecls(txnIter(txn), s.Collection)
			if err != nil {
				return err
			}
			for p := range decls {
				props = append(props, p)
			}
			indexes[s.Collection] = props
		}
		old, ok := current[string(k)]
		if !ok {
			if got, found := stored[string(k)]; found {
				st, err := entity.Decode(got.Value)
				if err != nil {
					return fmt.Errorf("%w: tikv: stored state %s/%s: %v", storage.ErrFormat, s.Collection, s.ID, err)
				}
				old = &st
			}
		}
		switch {
		case old == nil && len(w.Expected) != 0:
			return fmt.Errorf("%w: %s/%s is not stored but the batch expects head %s", storage.ErrConflict, s.Collection, s.ID, w.Expected)
		case old != nil && !old.Head.Equal(w.Expected):
			return fmt.Errorf("%w: %s/%s has stored head %s, the batch expects %s", storage.ErrConflict, s.Collection, s.ID, old.Head, w.Expected)
		}
		if err := txn.Set(k, states[i]); err != nil {
			return fmt.Errorf("tikv: apply: writing state %s/%s: %w", s.Collection, s.ID, err)
		}
		current[string(k)] = s
		for _, p := range props {
			ix := e.keys.index(s.Collection, p)
			nk := indexEntry(ix, s.Values[p], s.ID)
			if old != nil {
				ok := indexEntry(ix, old.Values[p], s.ID)
				if bytes.Equal(ok, nk) {
					continue
				}
				if err := txn.Delete(ok); err != nil {
					return fmt.Errorf("tikv: apply: index %s.%s: %w", s.Collection, p, err)
				}
			}
			if err := txn.Set(nk, present); err != nil {
				return fmt.Errorf("tikv: apply: index %s.%s: %w", s.Collection, p, err)
			}
		}
	}
	return nil
}

// validateBatch refuses what cannot be stored, naming it.
func validateBatch(b *storage.Batch) error {
	for i := range b.Events {
		ev := &b.Events[i]
		if err := validName("collection", ev.Collection); err != nil {
			return fmt.Errorf("%w (event %d)", err, i)
		}
		if err := ev.Validate(); err != nil {
			return fmt.Errorf("%w: tikv: event %d: %v", storage.ErrInvalid, i, err)
		}
	}
	for i := range b.States {
		s := &b.States[i].State
		if err := validName("collection", s.Collection); err != nil {
			return fmt.Errorf("%w (state %d)", err, i)
		}
		if s.ID.IsZero() {
			return fmt.Errorf("%w: tikv: state %d has no entity id", storage.ErrInvalid, i)
		}
		if err := s.Head.Validate(); err != nil {
			return fmt.Errorf("%w: tikv: state %d (%s/%s) head: %v", storage.ErrInvalid, i, s.Collection, s.ID, err)
		}
		if err := b.States[i].Expected.Validate(); err != nil {
			return fmt.Errorf("%w: tikv: state %d (%s/%s) expected head: %v", storage.ErrInvalid, i, s.Collection, s.ID, err)
		}
	}
	return nil
}

// maxName caps collection and property names (and the key prefix), so that
// keys stay under TiKV's 8 KiB key limit.
const maxName = 1024

// validName refuses empty and overlong names; any other string is storable
// (keys escape it).
func validName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: tikv: empty %s name", storage.ErrInvalid, what)
	case len(name) > maxName:
		return fmt.Errorf("%w: tikv: %s name of %d bytes, limit %d", storage.ErrInvalid, what, len(name), maxName)
	}
	return nil
}
