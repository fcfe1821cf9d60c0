package text

import (
	"errors"
	"fmt"
	"slices"
)

// Errors of this package, tested with errors.Is.
var (
	// ErrInvalidUpdate: bytes that are not a Yjs update v1 (or state vector).
	ErrInvalidUpdate = errors.New("text: invalid update")
	// ErrUnsupported: a well-formed Yjs update using content this package does
	// not model (nested types, maps, arrays, binary or JSON content).
	ErrUnsupported = errors.New("text: unsupported Yjs content")
	// ErrOutOfRange: an edit position or length outside the text.
	ErrOutOfRange = errors.New("text: position out of range")
)

// Doc is a Yjs-compatible document holding root-level texts (Y.Text) by
// name. Its local edits are made under one client id; its updates are Yjs
// update v1 bytes. A Doc is not safe for concurrent use.
type Doc struct {
	client  uint64
	store   map[uint64]*clientStructs
	roots   map[string]*sequence
	pending map[uint64]*queue[*item]   // decoded structs waiting for what they depend on
	pendDS  map[uint64]*queue[dsRange] // deletions of structs not received yet

	taken   uint64    // own clock already returned by TakeUpdate
	localDS []dsRange // local deletions not yet returned by TakeUpdate
}

type dsRange struct {
	client, clock, length uint64
}

// NewDoc returns an empty document whose local edits use client id client.
// The id must never be used by another replica (see Backend for how the
// backend chooses them) and must be below 2^53, the largest integer Yjs reads.
func NewDoc(client uint64) *Doc {
	return &Doc{
		client:  client,
		store:   map[uint64]*clientStructs{},
		roots:   map[string]*sequence{},
		pending: map[uint64]*queue[*item]{},
		pendDS:  map[uint64]*queue[dsRange]{},
	}
}

// ClientID returns the Yjs client id of the document's local edits.
func (d *Doc) ClientID() uint64 { return d.client }

func (d *Doc) root(name string) *sequence {
	s := d.roots[name]
	if s == nil {
		s = &sequence{name: name}
		d.roots[name] = s
	}
	return s
}

// Names returns the names of the texts that have content (or tombstones),
// sorted.
func (d *Doc) Names() []string {
	names := make([]string, 0, len(d.roots))
	for n, s := range d.roots {
		if s.start != nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Text returns the content of the text name ("" if it has none).
func (d *Doc) Text(name string) string {
	if s := d.roots[name]; s != nil {
		return s.String()
	}
	return ""
}

// Len returns the length of the text name in code points.
func (d *Doc) Len(name string) int {
	if s := d.roots[name]; s != nil {
		return s.vis
	}
	return 0
}

func (d *Doc) state(client uint64) uint64 {
	if cs := d.store[client]; cs != nil {
		return cs.state()
	}
	return 0
}

// StateVector returns the next expected clock of every client the document
// has structs of.
func (d *Doc) StateVector() map[uint64]uint64 {
	sv := make(map[uint64]uint64, len(d.store))
	for c, cs := range d.store {
		sv[c] = cs.state()
	}
	return sv
}

func (d *Doc) addStruct(it *item) {
	cs := d.store[it.id.Client]
	if cs == nil {
		cs = &clientStructs{}
		d.store[it.id.Client] = cs
	}
	cs.append(it)
}

// getItem returns the struct holding id, without splitting.
func (d *Doc) getItem(id ID) *item {
	if cs := d.store[id.Client]; cs != nil {
		return cs.get(id.Clock)
	}
	return nil
}

// split cuts the struct at (ci, i) of its client at clock offset off and
// returns the right part, linked into the store and its text.
func (d *Doc) split(cs *clientStructs, ci, i int, off uint64) *item {
	it := cs.chunks[ci][i]
	r := it.splitAt(off)
	cs.insertAfter(ci, i, r)
	if it.parent != nil && it.blk != nil {
		it.parent.linkSplit(r, it)
	}
	return r
}

// cleanStart returns the struct starting at id, splitting if needed.
func (d *Doc) cleanStart(id ID) *item {
	cs := d.store[id.Client]
	ci, i, _ := cs.find(id.Clock)
	it := cs.chunks[ci][i]
	if it.id.Clock == id.Clock {
		return it
	}
	return d.split(cs, ci, i, id.Clock-it.id.Clock)
}

// cleanEnd returns the struct ending at id, splitting if needed.
func (d *Doc) cleanEnd(id ID) *item {
	cs := d.store[id.Client]
	ci, i, _ := cs.find(id.Clock)
	it := cs.chunks[ci][i]
	if it.lastID() != id {
		d.split(cs, ci, i, id.Clock-it.id.Clock+1)
	}
	return it
}

// Insert inserts s at code point position pos of the text name.
func (d *Doc) Insert(name string, pos int, s string) error {
	seq := d.root(name)
	if pos < 0 || pos > seq.vis {
		return fmt.Errorf("%w: insert at %d in %q of length %d", ErrOutOfRange, pos, name, seq.vis)
	}
	if s == "" {
		return nil
	}
	b := []byte(toValidUTF8(s))
	u16, cp := lengths(b)
	left, right := d.insertPlace(seq, pos)
	clock := d.state(d.client)
	if left != nil && left.id.Client == d.client && left.ref == refString && !left.deleted &&
		left.end() == clock && sameRight(left, right) {
		left.str = append(left.str, b...)
		left.cp += int32(cp)
		left.length += uint64(u16)
		seq.addVisible(left, cp)
		return nil
	}
	it := &item{id: ID{d.client, clock}, length: uint64(u16), ref: refString, str: b, cp: int32(cp)}
	if left != nil {
		it.origin, it.hasOrigin = left.lastID(), true
	}
	if right != nil {
		it.rightOrigin, it.hasRight = right.id, true
	}
	seq.link(it, left)
	d.addStruct(it)
	return nil
}

// insertPlace returns the neighbours a local insert at code point pos goes
// between, as Yjs's Y.Text insert chooses them: after the item holding
// code point pos-1 (split to end there), then past every deleted item that
// follows, so the new item's origin is the last tombstone of a deleted run
// before the cursor and its right origin the next item still there. Updates
// then carry the same origins as Yjs's for the same edit.
//
// Yjs also steps past a formatting mark that the inserted text's attributes
// already agree with; marks are opaque here, so a visible mark stops the walk,
// which is where Yjs stops too when the mark changes the current formatting
// (typing at the end of bold text stays bold).
func (d *Doc) insertPlace(seq *sequence, pos int) (left, right *item) {
	if pos > 0 {
		it, off := seq.find(pos - 1)
		left = d.splitCP(it, off+1)
		right = left.right
	} else {
		right = seq.start
	}
	for right != nil && right.deleted {
		left, right = right, right.right
	}
	return left, right
}

func sameRight(left, right *item) bool {
	if right == nil {
		return !left.hasRight
	}
	return left.hasRight && left.rightOrigin == right.id
}

// splitCP makes a visible string item end after k of its code points
// (0 < k <= cp) and returns it; the rest becomes the next item.
func (d *Doc) splitCP(it *item, k int) *item {
	if k >= int(it.cp) {
		return it
	}
	_, u := byteOffsetCP(it.str, k)
	cs := d.store[it.id.Client]
	ci, i, _ := cs.find(it.id.Clock)
	d.split(cs, ci, i, uint64(u))
	return it
}

// Delete deletes n code points of the text name from position pos.
func (d *Doc) Delete(name string, pos, n int) error {
	seq := d.root(name)
	if pos < 0 || n < 0 || pos+n > seq.vis {
		return fmt.Errorf("%w: delete %d at %d in %q of length %d", ErrOutOfRange, n, pos, name, seq.vis)
	}
	if n == 0 {
		return nil
	}
	it, off := seq.find(pos)
	if off > 0 {
		it = d.splitCP(it, off).right
	}
	for n > 0 && it != nil {
		if it.visible() == 0 {
			it = it.right
			continue
		}
		if int(it.cp) > n {
			d.splitCP(it, n)
		}
		n -= int(it.cp)
		d.localDS = addRange(d.localDS, dsRange{it.id.Client, it.id.Clock, it.length})
		it.markDeleted()
		it = d.mergeLeft(it).right
	}
	if it != nil {
		d.mergeLeft(it)
	}
	return nil
}

// addRange appends r, extending the last range when r continues it.
func addRange(ds []dsRange, r dsRange) []dsRange {
	if n := len(ds); n > 0 {
		l := &ds[n-1]
		if l.client == r.client && l.clock+l.length == r.clock {
			l.length += r.length
			return ds
		}
	}
	return append(ds, r)
}

// ApplyUpdate applies a Yjs update v1. Structs whose dependencies have not
// arrived yet are kept and integrated when they do; applying an update twice,
// or updates in any order, gives the same document.
func (d *Doc) ApplyUpdate(update []byte) error {
	structs, ds, err := decodeUpdate(update)
	if err != nil {
		return err
	}
	var buf [4]uint64
	clients := buf[:0]
	for c := range structs {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	for _, c := range clients {
		list := structs[c]
		q := d.pending[c]
		if q == nil {
			// Nothing of c waits: what can go in goes in now, the rest waits.
			for len(list) > 0 && d.tryIntegrate(list[0]) {
				list = list[1:]
			}
			if len(list) == 0 {
				continue
			}
			q = newPending()
			d.pending[c] = q
		}
		q.pushRun(list)
	}
	d.integratePending()
	for i := 0; i < len(ds); {
		c := ds[i].client
		j := i + 1
		for j < len(ds) && ds[j].client == c {
			j++
		}
		run := ds[i:j:j]
		i = j
		q := d.pendDS[c]
		if q == nil {
			// Ranges of structs all received are deleted now, the rest wait.
			st, rest := d.state(c), run[:0]
			for _, r := range run {
				if r.clock+r.length <= st {
					d.deleteRange(c, r.clock, r.clock+r.length)
				} else {
					rest = append(rest, r)
				}
			}
			if len(rest) == 0 {
				continue
			}
			run = rest
			q = newPendingDeletes()
			d.pendDS[c] = q
		}
		q.pushRun(run)
	}
	d.applyPendingDeletes()
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (d *Doc) integratePending() {
	for progress := true; progress; {
		progress = false
		clients := make([]uint64, 0, len(d.pending))
		for c := range d.pending {
			clients = append(clients, c)
		}
		slices.Sort(clients)
		for _, c := range clients {
			q := d.pending[c]
			for q.len() > 0 && d.tryIntegrate(q.peek()) {
				q.pop()
				progress = true
			}
			if q.len() == 0 {
				delete(d.pending, c)
			}
		}
	}
}

// tryIntegrate integrates the received struct s, or the part of it the
// document does not hold yet, and reports true; or reports false when s must
// wait for structs not received yet.
func (d *Doc) tryIntegrate(s *item) bool {
	st := d.state(s.id.Client)
	if s.end() <= st {
		return true // known already
	}
	if s.id.Clock > st || d.missing(s) {
		return false
	}
	if off := st - s.id.Clock; off > 0 {
		s.cutFront(off)
	}
	d.integrate(s)
	return true
}

// missing reports whether s refers to a struct not received yet.
func (d *Doc) missing(s *item) bool {
	if s.ref == refGC {
		return false
	}
	if s.hasOrigin && s.origin.Clock >= d.state(s.origin.Client) {
		return true
	}
	return s.hasRight && s.rightOrigin.Clock >= d.state(s.rightOrigin.Client)
}

// integrate puts a received struct into the store and its text, ordering it
// among concurrent insertions at the same place by YATA, as Yjs does.
func (d *Doc) integrate(s *item) {
	if s.ref == refGC {
		d.addStruct(s)
		return
	}
	var left, right *item
	if s.hasOrigin {
		left = d.cleanEnd(s.origin)
	}
	if s.hasRight {
		right = d.cleanStart(s.rightOrigin)
	}
	var parent *sequence
	switch {
	case (left != nil && left.ref == refGC) || (right != nil && right.ref == refGC):
	case s.parentKey != nil:
		parent = d.root(*s.parentKey)
	case left != nil:
		parent = left.parent
	case right != nil:
		parent = right.parent
	}
	if parent == nil { // its neighbours were garbage collected: so is it
		d.addStruct(&item{id: s.id, length: s.length, ref: refGC, deleted: true})
		return
	}
	s.parentKey = nil
	if (left == nil && (right == nil || right.left != nil)) || (left != nil && left.right != right) {
		var o *item
		if left != nil {
			o = left.right
		} else {
			o = parent.start
		}
		var conflicting, before map[*item]bool
		for o != nil && o != right {
			if before == nil {
				conflicting, before = map[*item]bool{}, map[*item]bool{}
			}
			before[o], conflicting[o] = true, true
			if s.hasOrigin == o.hasOrigin && s.origin == o.origin {
				if o.id.Client < s.id.Client {
					left = o
					clear(conflicting)
				} else if s.hasRight == o.hasRight && s.rightOrigin == o.rightOrigin {
					break
				}
			} else if oo := d.originItem(o); oo != nil && before[oo] {
				if !conflicting[oo] {
					left = o
					clear(conflicting)
				}
			} else {
				break
			}
			o = o.right
		}
	}
	parent.link(s, left)
	d.addStruct(s)
}

func (d *Doc) originItem(o *item) *item {
	if !o.hasOrigin {
		return nil
	}
	return d.getItem(o.origin)
}

// applyPendingDeletes deletes what the pending delete ranges cover and keeps
// the ranges, or parts, of structs not received yet. Only ranges starting
// below a client's state are looked at, so deletions waiting for structs cost
// nothing until those arrive.
func (d *Doc) applyPendingDeletes() {
	for c, q := range d.pendDS {
		st := d.state(c)
		for q.len() > 0 && q.peek().clock < st {
			r := q.pop()
			end := r.clock + r.length
			d.deleteRange(c, r.clock, min(end, st))
			if end > st {
				q.push(dsRange{c, st, end - st})
			}
		}
		if q.len() == 0 {
			delete(d.pendDS, c)
		}
	}
}

// pendingDeletes returns the pending delete ranges.
func (d *Doc) pendingDeletes() []dsRange {
	var ds []dsRange
	for _, q := range d.pendDS {
		ds = append(ds, q.all()...)
	}
	return ds
}

// deleteRange deletes the received structs of client in [clock, end).
func (d *Doc) deleteRange(client, clock, end uint64) {
	cs := d.store[client]
	for clock < end {
		ci, i, _ := cs.find(clock)
		it := cs.chunks[ci][i]
		if it.deleted {
			clock = it.end()
			continue
		}
		if it.id.Clock < clock {
			it = d.split(cs, ci, i, clock-it.id.Clock)
			ci, i, _ = cs.find(clock)
		}
		if it.end() > end {
			d.split(cs, ci, i, end-it.id.Clock)
		}
		it.markDeleted()
		clock = it.end()
		if it.parent != nil {
			if r := d.mergeLeft(it).right; r != nil {
				d.mergeLeft(r)
			}
		}
	}
}

// mergeLeft merges a deleted item into its left neighbour when both are one
// run of tombstones of the same client, as Yjs's cleanup does, so deleted
// text costs one item per run rather than one per edit. It returns the item
// that now holds b's clocks.
func (d *Doc) mergeLeft(b *item) *item {
	a := b.left
	if a == nil || !b.deleted || !a.deleted || !mergeable(a, b) {
		return b
	}
	a.length += b.length
	a.right = b.right
	if b.right != nil {
		b.right.left = a
	}
	blk := b.blk
	i := indexOf(blk, b)
	copy(blk.items[i:], blk.items[i+1:])
	blk.items[len(blk.items)-1] = nil
	blk.items = blk.items[:len(blk.items)-1]
	cs := d.store[b.id.Client]
	ci, j, _ := cs.find(b.id.Clock)
	cs.remove(ci, j)
	*b = item{}
	return a
}
