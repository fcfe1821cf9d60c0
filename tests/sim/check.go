package sim

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	text "github.com/ankurah/ankurah-go/plugins/datatype-text"
)

// The invariants, checked once the network healed and the schedule went
// quiet:
//
//  1. servers: every server of the system answers a fresh fetch with the
//     store's live entities (several servers on one store agree);
//  2. no phantom: every entity on any replica was created by a commit of
//     the workload that was not denied, and every value on it was written
//     by such a commit (witnesses match their commit, text is made of whole
//     insertions, each once); a denied commit is nowhere;
//  3. acknowledged means present: every acknowledged commit of the current
//     system (entities created since the last empty restart) is on the
//     server — its witness on each entity, its text insertion, its delete;
//  4. convergence: every live query's result equals a fresh fetch on its
//     node and on the server, and each of its entities is identical to the
//     server's replica — LWW state byte for byte, text as text with equal
//     state vectors — with the same head;
//  5. subscribers: the ChangeSets each subscriber saw, applied in order to
//     its Initial set, give the live query's result; no entity was added
//     twice, removed or updated while absent, or updated without a change;
//     every Update moved the entity's head strictly forward in the server's
//     event DAG (causal order; not checked after an empty restart, whose
//     new store lacks the old events);
//  6. client caches: every entity a client holds is on the server, at the
//     server's head or an ancestor of it (no history only a client has;
//     not checked after an empty restart);
//  7. no goroutine is left once every node is closed (checked by Run).

var all = must(query.ParseBound("true"))

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func (w *World) ok(cond bool, format string, args ...any) bool {
	w.mu.Lock()
	w.checks++
	w.mu.Unlock()
	if !cond {
		w.violate(format, args...)
	}
	return cond
}

func states(ctx context.Context, e storage.Engine) (map[id.EntityID]entity.State, storage.Collection, error) {
	coll, err := e.Collection(ctx, Collection)
	if err != nil {
		return nil, nil, err
	}
	sts, err := coll.FetchStates(ctx, all)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[id.EntityID]entity.State, len(sts))
	for _, st := range sts {
		out[st.ID] = st
	}
	return out, coll, nil
}

func (w *World) check(ctx context.Context) {
	_, epoch, wipes, byToken, created := w.oracle.snapshot()
	srv := w.servers[0]
	truth, src, err := states(ctx, srv.engine)
	if !w.ok(err == nil, "read the server's store: %v", err) {
		return
	}
	live := func(m map[id.EntityID]entity.State) []string {
		var out []string
		for _, st := range m {
			if !st.Deleted() {
				out = append(out, st.ID.String()+"@"+st.Head.String())
			}
		}
		slices.Sort(out)
		return out
	}
	// 1. servers
	for _, s := range w.servers {
		vs, err := s.n.Context(nil).Fetch(ctx, Collection, "true")
		if !w.ok(err == nil, "fetch on %s: %v", s.name, err) {
			continue
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.ID().String()+"@"+v.Head().String())
		}
		slices.Sort(got)
		w.ok(slices.Equal(got, live(truth)), "%s fetches %v, its store holds %v", s.name, got, live(truth))
	}
	// 2. no phantom, on every replica
	w.phantoms(srv.name, truth, byToken, created)
	caches := map[string]map[id.EntityID]entity.State{}
	for _, c := range w.clients {
		sts, _, err := states(ctx, c.engine)
		if !w.ok(err == nil, "read %s's store: %v", c.name, err) {
			continue
		}
		caches[c.name] = sts
		w.phantoms(c.name, sts, byToken, created)
	}
	// 3. acknowledged means present
	current := func(eid id.EntityID) bool {
		cr := created[eid]
		return cr != nil && cr.status == acked && !cr.forbid && cr.epoch == epoch
	}
	for _, cm := range byToken {
		if cm.status != acked || cm.forbid || cm.epoch != epoch {
			continue
		}
		present := w.ok
		if cm.stale {
			// Made before its client met the current system (its outbox
			// outlived the cache it dropped): said so, to tell the case apart.
			present = func(cond bool, format string, args ...any) bool {
				return w.ok(cond, format+" (made before its client met the new system)", args...)
			}
		}
		if !allOf(cm.entities, current) || !allOf(cm.deletes, current) {
			continue
		}
		for _, eid := range cm.entities {
			st, ok := truth[eid]
			if !present(ok, "acknowledged commit %s (%s): entity %s is not on the server", cm.token, cm.node, eid) {
				continue
			}
			got, _ := st.Values.Get(cm.witness()).AsString()
			present(got == cm.token, "acknowledged commit %s (%s): entity %s has %s=%q on the server", cm.token, cm.node, eid, cm.witness(), got)
		}
		for _, eid := range cm.text {
			if st, ok := truth[eid]; ok {
				body, _ := st.Values.Get("body").AsString()
				present(strings.Count(body, "["+cm.token+"]") == 1, "acknowledged commit %s (%s): entity %s's text %q lacks its insertion", cm.token, cm.node, eid, body)
			}
		}
		for _, eid := range cm.deletes {
			if st, ok := truth[eid]; ok {
				present(st.Deleted(), "acknowledged delete %s (%s): entity %s is not deleted on the server", cm.token, cm.node, eid)
			}
		}
	}
	// 4, 5. live queries
	for _, x := range w.nodes {
		if x.n == nil {
			continue
		}
		w.mu.Lock()
		lqs := slices.Clone(x.lqs)
		w.mu.Unlock()
		for _, q := range lqs {
			w.checkQuery(ctx, x, q, truth, src, wipes)
		}
	}
	// 6. client caches
	if wipes == 0 {
		for name, sts := range caches {
			for eid, st := range sts {
				if evicted(&st) {
					continue
				}
				sv, ok := truth[eid]
				if !w.ok(ok, "%s holds entity %s, which the server does not have", name, eid) {
					continue
				}
				rel, err := event.Compare(ctx, src, sv.Head, st.Head, 100000)
				if err == nil && (rel.Relation == event.Equal || rel.Relation == event.StrictDescends) {
					w.ok(true, "")
					continue
				}
				if w.redundantHead(ctx, src, sv.Head, st.Head) {
					w.ok(false, "%s holds %s at %v: the server's head %v plus events it already descends from (a redundant head)", name, eid, st.Head, sv.Head)
					continue
				}
				w.ok(false, "%s holds %s at %v, not the server's head %v or an ancestor (%v, %v)", name, eid, st.Head, sv.Head, rel.Relation, err)
			}
		}
	}
}

// redundantHead reports whether a client's head is the server's head plus
// events the server's head already descends from (the redundant-head bug
// of docs/reliability.md), to name it in the violation.
func (w *World) redundantHead(ctx context.Context, src storage.Collection, server, client event.Clock) bool {
	extra := 0
	for _, e := range client {
		if server.Contains(e) {
			continue
		}
		extra++
		rel, err := event.Compare(ctx, src, server, event.Clock{e}, 100000)
		if err != nil || rel.Relation != event.StrictDescends {
			return false
		}
	}
	for _, e := range server {
		if !client.Contains(e) {
			return false
		}
	}
	return extra > 0
}

// evicted reports whether a client's state is what it keeps of an entity
// the server no longer gives it: deleted, without data.
func evicted(st *entity.State) bool {
	return st.Deleted() && len(st.Backends) == 0 && st.Values.Len() == 1
}

func allOf(ids []id.EntityID, f func(id.EntityID) bool) bool {
	for _, e := range ids {
		if !f(e) {
			return false
		}
	}
	return true
}

// phantoms checks that every entity and value of one replica was written by
// a commit of the workload that was not denied.
func (w *World) phantoms(where string, sts map[id.EntityID]entity.State, byToken map[string]*commit, created map[id.EntityID]*commit) {
	allowed := func(tok string) bool { c := byToken[tok]; return c != nil && !c.forbid && c.status != rejected }
	for eid, st := range sts {
		cr := created[eid]
		if !w.ok(cr != nil, "%s: entity %s was never created by the workload", where, eid) {
			continue
		}
		if evicted(&st) {
			continue
		}
		w.ok(!cr.forbid, "%s: entity %s from denied commit %s (%s) is stored", where, eid, cr.token, cr.node)
		for k, v := range st.Values.All() {
			switch {
			case k == entity.DeletedProperty:
			case k == "grp" || k == "n":
				_, ok := v.AsInt()
				w.ok(ok, "%s: %s.%s = %v, not an int the workload writes", where, eid, k, v)
			case k == "name":
				s, _ := v.AsString()
				w.ok(allowed(s), "%s: %s.name = %q, which no accepted commit wrote", where, eid, s)
			case k == "body":
				s, _ := v.AsString()
				seen := map[string]bool{}
				rest := s
				for rest != "" {
					end := strings.IndexByte(rest, ']')
					if !w.ok(strings.HasPrefix(rest, "[") && end > 0, "%s: %s's text %q is not made of whole insertions", where, eid, s) {
						break
					}
					tok := rest[1:end]
					w.ok(allowed(tok) && !seen[tok], "%s: %s's text %q holds %q, which no accepted commit inserted once", where, eid, s, tok)
					seen[tok] = true
					rest = rest[end+1:]
				}
			case strings.HasPrefix(k, "w"):
				seq, err := strconv.Atoi(k[1:])
				s, _ := v.AsString()
				w.ok(err == nil && s == fmt.Sprintf("t%d", seq) && allowed(s), "%s: %s.%s = %q, which no accepted commit wrote", where, eid, k, s)
			default:
				w.ok(false, "%s: %s has property %s = %v, which the workload never writes", where, eid, k, v)
			}
		}
	}
}

func (w *World) checkQuery(ctx context.Context, x *node, q *liveQuery, truth map[id.EntityID]entity.State, src storage.Collection, wipes int) {
	name := fmt.Sprintf("%s's live query %q", x.name, q.sel)
	if !w.ok(q.lq.Err() == nil, "%s ended: %v", name, q.lq.Err()) {
		return
	}
	items := q.lq.Items()
	var fresh []*core.View
	var err error
	if !w.ok(w.pumped(func() { fresh, err = x.n.Context(nil).Fetch(ctx, Collection, q.sel) }), "%s: a fresh fetch on its node never returned", name) {
		return
	}
	if !w.ok(err == nil, "%s: fresh fetch: %v", name, err) {
		return
	}
	onServer, err := w.servers[0].n.Context(nil).Fetch(ctx, Collection, q.sel)
	if !w.ok(err == nil, "%s: fetch on the server: %v", name, err) {
		return
	}
	check := w.ok
	check(sameViews(items, fresh), "%s holds %v, a fresh fetch on its node %v", name, heads(items), heads(fresh))
	check(sameViews(items, onServer), "%s holds %v, the server %v", name, heads(items), heads(onServer))
	for _, v := range items {
		st := v.State()
		sv, ok := truth[v.ID()]
		if !check(ok, "%s holds %s, which the server does not have", name, v.ID()) {
			continue
		}
		if diff := sameState(&st, &sv); diff != "" {
			check(false, "%s: %s differs from the server's replica: %s", name, v.ID(), diff)
		}
	}
	r := q.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.violations {
		w.ok(false, "%s: subscriber: %s", name, v)
	}
	w.ok(r.started, "%s: the subscriber never got its Initial ChangeSet", name)
	var model []*core.View
	for _, v := range r.model {
		model = append(model, v)
	}
	slices.SortFunc(model, func(a, b *core.View) int { return a.ID().Compare(b.ID()) })
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b *core.View) int { return a.ID().Compare(b.ID()) })
	w.ok(sameViews(model, sorted), "%s: the subscriber's ChangeSets make %v, the result is %v", name, heads(model), heads(sorted))
	if wipes > 0 {
		return
	}
	for _, u := range r.updates {
		rel, err := event.Compare(ctx, src, u.after.Head(), u.before.Head(), 100000)
		if !(err == nil && rel.Relation == event.StrictDescends) && w.redundantHead(ctx, src, u.after.Head(), u.before.Head()) {
			w.ok(false, "%s: Update of %s from %v to %v drops an event its new head descends from (the old head was redundant)", name, u.eid, u.before.Head(), u.after.Head())
			continue
		}
		w.ok(err == nil && rel.Relation == event.StrictDescends, "%s: Update of %s from %v to %v is not forward in the DAG (%v, %v)", name, u.eid, u.before.Head(), u.after.Head(), rel.Relation, err)
	}
}

func heads(vs []*core.View) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID().String() + "@" + v.Head().String()
	}
	return out
}

func sameViews(a, b []*core.View) bool {
	return slices.Equal(heads(a), heads(b))
}

// sameState compares two replicas of an entity: head, values, and each
// backend's state — byte for byte, except text, whose update encoding may
// order the same content differently, compared as text and state vector.
func sameState(a, b *entity.State) string {
	if !a.Head.Equal(b.Head) {
		return fmt.Sprintf("head %v against %v", a.Head, b.Head)
	}
	if !reflect.DeepEqual(a.Values, b.Values) {
		return fmt.Sprintf("values %v against %v", a.Values, b.Values)
	}
	if !slices.Equal(a.Backends.Names(), b.Backends.Names()) {
		return fmt.Sprintf("backends %v against %v", a.Backends.Names(), b.Backends.Names())
	}
	for _, ba := range a.Backends {
		name, sa := ba.Name, ba.State
		sb := b.Backends.StateOf(name)
		if name != text.Name {
			if !bytes.Equal(sa, sb) {
				return fmt.Sprintf("%s state differs (%d against %d bytes)", name, len(sa), len(sb))
			}
			continue
		}
		ta, err1 := text.Load(sa)
		tb, err2 := text.Load(sb)
		if err1 != nil || err2 != nil {
			return fmt.Sprintf("text state unreadable: %v, %v", err1, err2)
		}
		if !reflect.DeepEqual(ta.Doc().StateVector(), tb.Doc().StateVector()) {
			return fmt.Sprintf("text state vectors %v against %v", ta.Doc().StateVector(), tb.Doc().StateVector())
		}
		for _, n := range ta.Doc().Names() {
			if ta.Doc().Text(n) != tb.Doc().Text(n) {
				return fmt.Sprintf("text %s: %q against %q", n, ta.Doc().Text(n), tb.Doc().Text(n))
			}
		}
	}
	return ""
}

func goroutines() int { return runtime.NumGoroutine() }

// leaks waits (up to a few seconds of real time) for the goroutine count to
// come back to base, and describes what is left if it does not.
func (w *World) leaks(base int) string {
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			return fmt.Sprintf("%d more than the %d before the run:\n%s", runtime.NumGoroutine()-base, base, buf[:n])
		}
		time.Sleep(time.Millisecond)
	}
	return ""
}
