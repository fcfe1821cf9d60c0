package kv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Apply writes a batch in one transaction: its events (an event already
// stored, or earlier in the batch, is left alone), then its states, each
// checked against its expected head (the stored one, or the batch's earlier
// write of the same entity) and with the collection's index entries moved
// along. A head mismatch writes nothing and wraps storage.ErrConflict.
func (e *Engine) Apply(ctx context.Context, b *storage.Batch) error {
	if b == nil {
		return fmt.Errorf("%s: nil batch: %w", e.cfg.name, storage.ErrInvalid)
	}
	if err := e.validateBatch(b); err != nil {
		return err
	}
	if len(b.Events) == 0 && len(b.States) == 0 {
		if err := e.enter(ctx); err != nil {
			return err
		}
		e.mu.RUnlock()
		return nil
	}
	// Encode once, outside the transaction (which a store may run again).
	p := &applyPlan{events: make([]pendingEvent, len(b.Events)), states: make([]pendingState, len(b.States))}
	for i := range b.Events {
		ev := &b.Events[i]
		raw, err := ev.Encode()
		if err != nil {
			return fmt.Errorf("%s: encoding event %d of %s/%s: %v: %w", e.cfg.name, i, ev.Collection, ev.Entity, err, storage.ErrInvalid)
		}
		pe := pendingEvent{ev: ev, id: sha256.Sum256(raw), raw: raw, entity: ev.Entity} // an event id is the hash of its encoding
		if ev.IsGenesis() {
			pe.entity = id.EntityID(pe.id) // a genesis event names its entity
		}
		pe.key = e.keys.event(ev.Collection, pe.id)
		p.events[i] = pe
	}
	for i := range b.States {
		s := &b.States[i].State
		raw, err := s.Encode()
		if err != nil {
			return fmt.Errorf("%s: encoding state %d of %s/%s: %v: %w", e.cfg.name, i, s.Collection, s.ID, err, storage.ErrInvalid)
		}
		p.states[i] = pendingState{w: &b.States[i], raw: raw, key: e.keys.state(s.Collection, s.ID)}
	}
	if mutant == mutHeadCheckOutsideTxn {
		if err := e.view(ctx, func(r Reader) error { return e.checkHeads(ctx, r, p) }); err != nil {
			return err
		}
	}
	err := e.update(ctx, func(tx Tx) error {
		if err := e.applyTx(ctx, tx, p); err != nil {
			return err
		}
		if e.logID != nil {
			return e.logBatch(ctx, tx, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: apply: %w", e.cfg.name, err)
	}
	if e.logID != nil {
		e.committed()
	}
	return nil
}

type applyPlan struct {
	events []pendingEvent
	states []pendingState
}

type pendingEvent struct {
	ev     *event.Event
	id     id.EventID
	entity id.EntityID
	raw    []byte
	key    []byte
}

type pendingState struct {
	w   *storage.StateWrite
	raw []byte
	key []byte
}

// read returns the stored values of the batch's event and state keys.
func (e *Engine) read(ctx context.Context, r Reader, p *applyPlan) (map[string][]byte, error) {
	keys := make([][]byte, 0, len(p.events)+len(p.states))
	for i := range p.events {
		keys = append(keys, p.events[i].key)
	}
	for i := range p.states {
		keys = append(keys, p.states[i].key)
	}
	vals, err := getMany(ctx, r, keys)
	if err != nil {
		return nil, fmt.Errorf("reading the batch's keys: %w", err)
	}
	stored := make(map[string][]byte, len(keys))
	for i, k := range keys {
		if vals[i] != nil {
			stored[string(k)] = vals[i]
		}
	}
	return stored, nil
}

// checkHeads is the head check alone (a mutant runs it outside the transaction).
func (e *Engine) checkHeads(ctx context.Context, r Reader, p *applyPlan) error {
	stored, err := e.read(ctx, r, p)
	if err != nil {
		return err
	}
	current := map[string]*entity.State{}
	for i := range p.states {
		if _, err := e.previous(p.states[i], stored, current, true); err != nil {
			return err
		}
		current[string(p.states[i].key)] = &p.states[i].w.State
	}
	return nil
}

func (e *Engine) applyTx(ctx context.Context, tx Tx, p *applyPlan) error {
	stored, err := e.read(ctx, tx, p)
	if err != nil {
		return err
	}
	written := map[string]bool{}
	for i := range p.events {
		pe := &p.events[i]
		dedupe := string(pe.key)
		if mutant == mutEventDedupeByEntity {
			dedupe = string(pe.entity[:])
		}
		if _, ok := stored[string(pe.key)]; ok || written[dedupe] {
			continue // content-addressed: the same id is the same event
		}
		written[dedupe] = true
		if err := tx.Set(pe.key, pe.raw); err != nil {
			return fmt.Errorf("writing event %s: %w", pe.id, err)
		}
		if !pe.ev.IsGenesis() && mutant != mutNoEventLinks {
			if err := tx.Set(e.keys.entityEvent(pe.ev.Collection, pe.entity, pe.id), present); err != nil {
				return fmt.Errorf("writing event %s: %w", pe.id, err)
			}
		}
	}

	indexes := map[string][]string{}      // collection -> indexed properties (building or ready)
	current := map[string]*entity.State{} // states written earlier in this batch
	for i := range p.states {
		ps := p.states[i]
		s := &ps.w.State
		props, ok := indexes[s.Collection]
		if !ok {
			decls, err := e.indexDecls(ctx, tx, s.Collection)
			if err != nil {
				return err
			}
			for prop := range decls {
				props = append(props, prop)
			}
			indexes[s.Collection] = props
		}
		old, err := e.previous(ps, stored, current, mutant != mutHeadCheckOutsideTxn)
		if err != nil {
			if mutant == mutConflictSkipsState {
				continue
			}
			return err
		}
		if err := tx.Set(ps.key, ps.raw); err != nil {
			return fmt.Errorf("writing state %s/%s: %w", s.Collection, s.ID, err)
		}
		if mutant != mutBatchSecondWriteSeesStored {
			current[string(ps.key)] = s
		}
		if err := e.moveIndexEntries(tx, props, old, s); err != nil {
			return err
		}
	}
	return nil
}

// previous returns the state a write replaces (nil: none) after checking
// the write's expected head against it (unless !check).
func (e *Engine) previous(ps pendingState, stored map[string][]byte, current map[string]*entity.State, check bool) (*entity.State, error) {
	s, want := &ps.w.State, ps.w.Expected
	old, ok := current[string(ps.key)]
	if !ok {
		if raw, found := stored[string(ps.key)]; found {
			st, err := entity.Decode(raw)
			if err != nil {
				// Its head cannot be checked: writes fail until the row is removed.
				return nil, e.undecodable(s.Collection, s.ID, err)
			}
			old = &st
		}
	}
	switch {
	case mutant == mutNoHeadCheck || !check:
	case old == nil && len(want) != 0 && mutant != mutMissingEntityAccepted:
		return nil, fmt.Errorf("%s/%s is not stored but the batch expects head %s: %w", s.Collection, s.ID, want, storage.ErrConflict)
	case old != nil && len(want) == 0 && mutant == mutExistingNewEntityAccepted:
	case old != nil && !old.Head.Equal(want) && !(mutant == mutStaleHeadAccepted && len(want) != 0):
		return nil, fmt.Errorf("%s/%s has stored head %s, the batch expects %s: %w", s.Collection, s.ID, old.Head, headText(want), storage.ErrConflict)
	}
	return old, nil
}

func headText(h event.Clock) string {
	if len(h) == 0 {
		return "none (a new entity)"
	}
	return h.String()
}

// moveIndexEntries moves s's entries in the indexes on props from old's
// values (nil: not stored before) to s's.
func (e *Engine) moveIndexEntries(tx Tx, props []string, old, s *entity.State) error {
	for _, prop := range props {
		if mutant == mutMissingNotIndexed {
			if _, ok := s.Values.Lookup(prop); !ok {
				continue
			}
		}
		ix := e.keys.index(s.Collection, prop)
		next := indexEntry(ix, s.Values.Get(prop), s.ID)
		if old != nil {
			if mutant == mutIndexNotMovedOnUpdate {
				continue
			}
			prev := indexEntry(ix, old.Values.Get(prop), s.ID)
			if bytes.Equal(prev, next) {
				continue
			}
			if mutant != mutOldIndexEntryKept {
				if err := tx.Delete(prev); err != nil {
					return fmt.Errorf("index %s.%s: %w", s.Collection, prop, err)
				}
			}
		}
		if err := tx.Set(next, present); err != nil {
			return fmt.Errorf("index %s.%s: %w", s.Collection, prop, err)
		}
	}
	return nil
}

// validateBatch refuses what cannot be stored, naming it.
func (e *Engine) validateBatch(b *storage.Batch) error {
	for i := range b.Events {
		ev := &b.Events[i]
		if err := e.validName("collection", ev.Collection); err != nil {
			return fmt.Errorf("%w (event %d)", err, i)
		}
		if err := ev.Validate(); err != nil {
			return fmt.Errorf("%s: event %d: %v: %w", e.cfg.name, i, err, storage.ErrInvalid)
		}
		if !ev.IsGenesis() && ev.Entity.IsZero() {
			return fmt.Errorf("%s: event %d of collection %q has no entity id: %w", e.cfg.name, i, ev.Collection, storage.ErrInvalid)
		}
	}
	for i := range b.States {
		s := &b.States[i].State
		if err := e.validName("collection", s.Collection); err != nil {
			return fmt.Errorf("%w (state %d)", err, i)
		}
		if s.ID.IsZero() {
			return fmt.Errorf("%s: state %d has no entity id: %w", e.cfg.name, i, storage.ErrInvalid)
		}
		if err := s.Head.Validate(); err != nil {
			return fmt.Errorf("%s: state %d (%s/%s) head: %v: %w", e.cfg.name, i, s.Collection, s.ID, err, storage.ErrInvalid)
		}
		if err := b.States[i].Expected.Validate(); err != nil {
			return fmt.Errorf("%s: state %d (%s/%s) expected head: %v: %w", e.cfg.name, i, s.Collection, s.ID, err, storage.ErrInvalid)
		}
	}
	return nil
}
