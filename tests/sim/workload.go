package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	text "github.com/ankurah/ankurah-go/plugins/datatype-text"
)

// Collection is the one collection the workload writes.
const Collection = "item"

// selections are the live queries and fetches the workload runs: equality,
// ranges, a conjunction, a LIKE and a LIMITed order.
var selections = []string{
	"grp = 0",
	"grp = 1",
	"n > 50",
	"true",
	"grp = 2 ORDER BY n DESC LIMIT 3",
	"n < 30 AND grp != 1",
	"name LIKE 't1%'",
	"true ORDER BY name LIMIT 2",
}

// liveQuery is a live query of the workload and what its subscriber saw.
type liveQuery struct {
	node   *node
	lq     *core.LiveQuery
	sel    string
	closed bool
	rec    *recorder
}

// recorder is a live query's subscriber: it keeps the result set the
// ChangeSets describe and notes every ChangeSet that does not fit it.
type recorder struct {
	mu         sync.Mutex
	started    bool
	model      map[id.EntityID]*core.View
	updates    []headPair // Update: (before, after), checked for causal order at the end
	violations []string
	sets       int
}

type headPair struct {
	eid           id.EntityID
	before, after *core.View
}

func (r *recorder) on(cs core.ChangeSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets++
	if !r.started {
		r.started = true
		r.model = map[id.EntityID]*core.View{}
		for _, ch := range cs.Changes {
			if ch.Kind != core.Initial {
				r.violations = append(r.violations, fmt.Sprintf("first ChangeSet holds %v, not Initial", ch.Kind))
			}
			r.model[ch.Entity.ID()] = ch.Entity
		}
	} else {
		if len(cs.Changes) == 0 {
			r.violations = append(r.violations, "an empty ChangeSet after the Initial one")
		}
		seen := map[id.EntityID]bool{}
		for _, ch := range cs.Changes {
			eid := ch.Entity.ID()
			if seen[eid] {
				r.violations = append(r.violations, fmt.Sprintf("entity %s twice in one ChangeSet", eid))
			}
			seen[eid] = true
			old, in := r.model[eid]
			switch ch.Kind {
			case core.Initial:
				r.violations = append(r.violations, fmt.Sprintf("Initial for %s after the start", eid))
			case core.Add:
				if in {
					r.violations = append(r.violations, fmt.Sprintf("Add of %s, already in the result", eid))
				}
				r.model[eid] = ch.Entity
			case core.Update:
				if !in {
					r.violations = append(r.violations, fmt.Sprintf("Update of %s, not in the result", eid))
				} else if old.Head().Equal(ch.Entity.Head()) {
					r.violations = append(r.violations, fmt.Sprintf("Update of %s with an unchanged head (a change seen twice)", eid))
				} else {
					r.updates = append(r.updates, headPair{eid, old, ch.Entity})
				}
				r.model[eid] = ch.Entity
			case core.Remove:
				if !in {
					r.violations = append(r.violations, fmt.Sprintf("Remove of %s, not in the result", eid))
				}
				delete(r.model, eid)
			}
		}
	}
	if len(cs.Items) != len(r.model) {
		r.violations = append(r.violations, fmt.Sprintf("ChangeSet's result has %d items, its changes make %d", len(cs.Items), len(r.model)))
		return
	}
	for _, v := range cs.Items {
		if m, ok := r.model[v.ID()]; !ok || !m.Head().Equal(v.Head()) {
			r.violations = append(r.violations, fmt.Sprintf("ChangeSet's result holds %s at %v, its changes do not", v.ID(), v.Head()))
		}
	}
}

// op picks and starts one operation of the workload on node x.
func (w *World) op(x *node) {
	cn := x.n
	c := cn.Context(nil)
	r := w.rng
	k := r.IntN(100)
	switch {
	case k < 22:
		grp, n, txt := r.IntN(3), r.IntN(100), r.IntN(3) == 0
		w.launch(x, "create", func(ctx context.Context) string { return w.create(ctx, x, c, grp, n, txt, false) })
	case k < 27:
		grp, n := r.IntN(3), r.IntN(100)
		w.launch(x, "create forbidden", func(ctx context.Context) string { return w.create(ctx, x, c, grp, n, false, true) })
	case k < 52:
		pick, grp, n, props, txt, atEnd := r.Int(), r.IntN(3), r.IntN(100), r.IntN(4), r.IntN(3) == 0, r.IntN(2) == 0
		eid, ok := w.oracle.pick(pick)
		if !ok {
			return
		}
		w.launch(x, "edit", func(ctx context.Context) string {
			return w.transact(ctx, x, c, []edit{{eid: eid, grp: grp, n: n, props: props, text: txt, atEnd: atEnd}}, false)
		})
	case k < 58:
		eid, ok := w.oracle.pick(r.Int())
		if !ok {
			return
		}
		w.launch(x, "delete", func(ctx context.Context) string {
			return w.transact(ctx, x, c, []edit{{eid: eid, del: true}}, false)
		})
	case k < 68:
		var eds []edit
		seen := map[id.EntityID]bool{}
		for i := 0; i < 2+r.IntN(2); i++ {
			eid, ok := w.oracle.pick(r.Int())
			e := edit{eid: eid, grp: r.IntN(3), n: r.IntN(100), props: r.IntN(4), text: r.IntN(4) == 0, atEnd: r.IntN(2) == 0}
			if !ok || seen[eid] {
				continue
			}
			seen[eid] = true
			eds = append(eds, e)
		}
		create := r.IntN(2) == 0
		w.launch(x, "transaction", func(ctx context.Context) string { return w.transact(ctx, x, c, eds, create) })
	case k < 80:
		sel := selections[r.IntN(len(selections))]
		w.launch(x, "query "+sel, func(ctx context.Context) string { return w.openQuery(ctx, x, c, sel) })
	case k < 88:
		w.mu.Lock()
		if len(x.lqs) == 0 {
			w.mu.Unlock()
			return
		}
		q := x.lqs[r.IntN(len(x.lqs))]
		w.mu.Unlock()
		sel := selections[r.IntN(len(selections))]
		w.launch(x, "re-point "+q.sel+" -> "+sel, func(ctx context.Context) string {
			if err := q.lq.UpdateSelection(ctx, sel); err != nil {
				return "failed: " + err.Error()
			}
			w.mu.Lock()
			q.sel = sel
			w.mu.Unlock()
			return "ok"
		})
	case k < 93:
		w.mu.Lock()
		if len(x.lqs) == 0 {
			w.mu.Unlock()
			return
		}
		i := r.IntN(len(x.lqs))
		q := x.lqs[i]
		x.lqs = append(x.lqs[:i], x.lqs[i+1:]...)
		q.closed = true
		w.mu.Unlock()
		w.launch(x, "close query "+q.sel, func(context.Context) string { q.lq.Close(); return "ok" })
	default:
		sel := selections[r.IntN(len(selections))]
		w.launch(x, "fetch "+sel, func(ctx context.Context) string {
			vs, err := c.Fetch(ctx, Collection, sel)
			if err != nil {
				return "failed: " + err.Error()
			}
			return fmt.Sprintf("%d entities", len(vs))
		})
	}
}

// edit is one entity's part of a transaction.
type edit struct {
	eid         id.EntityID
	grp, n      int
	props       int // which contended properties it sets (bits: name, n/grp)
	text, atEnd bool
	del         bool
}

func (w *World) create(ctx context.Context, x *node, c *core.Context, grp, n int, txt, forbid bool) string {
	cm := w.oracle.begin(x.name, w.seen(x), forbid)
	trx := c.Begin()
	m, err := trx.Create(ctx, Collection)
	if err != nil {
		w.oracle.done(cm, rejected)
		return "create: " + err.Error()
	}
	m.Set("name", cm.token)
	m.Set("grp", grp)
	m.Set("n", n)
	m.Set(cm.witness(), cm.token)
	if forbid {
		m.Set("forbidden", true)
	}
	if txt {
		if err := (text.Text{}).AnkurahMut(m.Handle("body")).Insert(0, "["+cm.token+"]"); err != nil {
			trx.Rollback()
			w.oracle.done(cm, rejected)
			return "text insert: " + err.Error()
		}
	}
	return w.finish(ctx, trx, cm, m, txt, "")
}

func (w *World) transact(ctx context.Context, x *node, c *core.Context, eds []edit, create bool) string {
	cm := w.oracle.begin(x.name, w.seen(x), false)
	trx := c.Begin()
	for _, e := range eds {
		if e.del {
			if err := trx.Delete(ctx, Collection, e.eid); err != nil {
				trx.Rollback()
				w.oracle.done(cm, rejected)
				return "delete: " + err.Error()
			}
			w.oracle.del(cm, e.eid)
			continue
		}
		m, err := trx.Edit(ctx, Collection, e.eid)
		if err != nil {
			trx.Rollback()
			w.oracle.done(cm, rejected)
			return "edit: " + err.Error()
		}
		if e.props&1 != 0 {
			m.Set("name", cm.token)
		}
		if e.props&2 != 0 {
			m.Set("grp", e.grp)
			m.Set("n", e.n)
		}
		m.Set(cm.witness(), cm.token)
		if e.text {
			h := (text.Text{}).AnkurahMut(m.Handle("body"))
			pos := 0
			if e.atEnd {
				pos = h.Len()
			}
			if err := h.Insert(pos, "["+cm.token+"]"); err != nil {
				trx.Rollback()
				w.oracle.done(cm, rejected)
				return "text insert: " + err.Error()
			}
		}
		w.oracle.edit(cm, e.eid, e.text)
	}
	var m *core.Mut
	if create {
		var err error
		m, err = trx.Create(ctx, Collection)
		if err != nil {
			trx.Rollback()
			w.oracle.done(cm, rejected)
			return "create: " + err.Error()
		}
		m.Set("name", cm.token)
		m.Set("grp", 0)
		m.Set("n", cm.seq%100)
		m.Set(cm.witness(), cm.token)
	}
	var on []string
	for _, e := range eds {
		on = append(on, e.eid.String()[:6])
	}
	return w.finish(ctx, trx, cm, m, false, fmt.Sprintf(" on %v", on))
}

// finish commits trx and records the outcome; created is the entity the
// transaction creates (nil: none), whose id is known once it committed.
func (w *World) finish(ctx context.Context, trx *core.Transaction, cm *commit, created *core.Mut, txt bool, what string) string {
	err := trx.Commit(ctx)
	what = cm.token + what
	if created != nil {
		if eid := created.ID(); !eid.IsZero() {
			w.oracle.create(cm, eid)
			if txt {
				w.oracle.markText(cm, eid)
			}
			what += " creating " + eid.String()
		}
	}
	if err != nil {
		if errors.Is(err, policy.ErrAccessDenied) && !cm.forbid {
			w.violate("commit %s was denied, yet writes nothing forbidden: %v", cm.token, err)
		}
		w.oracle.done(cm, failed)
		return what + ": " + err.Error()
	}
	w.oracle.done(cm, acked)
	return what + ": acknowledged"
}

func (w *World) openQuery(ctx context.Context, x *node, c *core.Context, sel string) string {
	lq, err := c.Query(ctx, Collection, sel)
	if err != nil {
		return "failed: " + err.Error()
	}
	q := &liveQuery{node: x, lq: lq, sel: sel, rec: &recorder{}}
	lq.Subscribe(q.rec.on)
	w.mu.Lock()
	if x.n != c.Node() {
		w.mu.Unlock()
		lq.Close()
		return "node restarted meanwhile"
	}
	x.lqs = append(x.lqs, q)
	w.mu.Unlock()
	return fmt.Sprintf("%d entities", len(lq.Items()))
}
