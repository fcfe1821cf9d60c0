package text

import (
	"fmt"
	"slices"
)

// decodeUpdate reads a Yjs update v1: the structs of each client, then the
// delete set. Structs come back unintegrated (pending).
func decodeUpdate(b []byte) (map[uint64][]*item, []dsRange, error) {
	d := &decoder{buf: b}
	nClients, err := d.varLen("client")
	if err != nil {
		return nil, nil, err
	}
	structs := make(map[uint64][]*item, nClients)
	for range nClients {
		n, err := d.varLen("struct")
		if err != nil {
			return nil, nil, err
		}
		client, err := d.varUint()
		if err != nil {
			return nil, nil, err
		}
		clock, err := d.varUint()
		if err != nil {
			return nil, nil, err
		}
		list := structs[client]
		for range n {
			s, err := decodeStruct(d, ID{client, clock})
			if err != nil {
				return nil, nil, err
			}
			if s.length == 0 {
				return nil, nil, d.errorf("empty struct at %v", ID{client, clock})
			}
			clock += s.length
			if clock > maxSafeInteger {
				return nil, nil, d.errorf("clock of client %d beyond 2^53", client)
			}
			if s.ref != refSkip {
				list = append(list, s)
			}
		}
		structs[client] = list
	}
	ds, err := decodeDeleteSet(d)
	if err != nil {
		return nil, nil, err
	}
	if d.pos != len(b) {
		return nil, nil, d.errorf("%d trailing bytes", len(b)-d.pos)
	}
	return structs, ds, nil
}

func decodeStruct(d *decoder, id ID) (*item, error) {
	info, err := d.uint8()
	if err != nil {
		return nil, err
	}
	s := &item{id: id, ref: info & 31}
	switch s.ref {
	case refGC, refSkip:
		if s.length, err = d.varUint(); err != nil {
			return nil, err
		}
		s.deleted = true
		return s, nil
	}
	readID := func() (ID, error) {
		c, err := d.varUint()
		if err != nil {
			return ID{}, err
		}
		k, err := d.varUint()
		return ID{c, k}, err
	}
	if info&0x80 != 0 {
		if s.origin, err = readID(); err != nil {
			return nil, err
		}
		s.hasOrigin = true
	}
	if info&0x40 != 0 {
		if s.rightOrigin, err = readID(); err != nil {
			return nil, err
		}
		s.hasRight = true
	}
	if !s.hasOrigin && !s.hasRight {
		isKey, err := d.varUint()
		if err != nil {
			return nil, err
		}
		if isKey != 1 {
			return nil, fmt.Errorf("%w: struct %v belongs to a nested type", ErrUnsupported, id)
		}
		key, err := d.varString()
		if err != nil {
			return nil, err
		}
		name := string(key)
		s.parentKey = &name
		if info&0x20 != 0 {
			return nil, fmt.Errorf("%w: struct %v is a map entry of %q", ErrUnsupported, id, key)
		}
	}
	switch s.ref {
	case refString:
		str, err := d.varString()
		if err != nil {
			return nil, err
		}
		s.str = slices.Clone(str)
		u16, cp := lengths(s.str)
		s.length, s.cp = uint64(u16), int32(cp)
	case refDeleted:
		if s.length, err = d.varUint(); err != nil {
			return nil, err
		}
		s.deleted = true
	case refEmbed:
		if s.str, err = d.rawVarString(); err != nil {
			return nil, err
		}
		s.str, s.length = slices.Clone(s.str), 1
	case refFormat:
		start := d.pos
		if _, err = d.rawVarString(); err != nil {
			return nil, err
		}
		if _, err = d.rawVarString(); err != nil {
			return nil, err
		}
		s.str, s.length = slices.Clone(d.buf[start:d.pos]), 1
	case refJSON, refBinary, refType, refAny, refDoc:
		return nil, fmt.Errorf("%w: struct %v has content type %d", ErrUnsupported, id, s.ref)
	default:
		return nil, d.errorf("unknown content type %d", s.ref)
	}
	return s, nil
}

func decodeDeleteSet(d *decoder) ([]dsRange, error) {
	n, err := d.varLen("delete set client")
	if err != nil {
		return nil, err
	}
	var ds []dsRange
	for range n {
		client, err := d.varUint()
		if err != nil {
			return nil, err
		}
		m, err := d.varLen("delete range")
		if err != nil {
			return nil, err
		}
		for range m {
			clock, err := d.varUint()
			if err != nil {
				return nil, err
			}
			length, err := d.varUint()
			if err != nil {
				return nil, err
			}
			if length > 0 {
				ds = append(ds, dsRange{client, clock, length})
			}
		}
	}
	return ds, nil
}

// mergeable reports whether b continues run a so that both encode as one
// struct that means the same to every replica.
func mergeable(a, b *item) bool {
	if a.id.Client != b.id.Client || a.end() != b.id.Clock || a.ref != b.ref {
		return false
	}
	switch a.ref {
	case refGC:
		return true
	case refString, refDeleted:
		return a.parent != nil && a.parent == b.parent && b.hasOrigin && b.origin == a.lastID() &&
			a.hasRight == b.hasRight && a.rightOrigin == b.rightOrigin
	}
	return false
}

// writeClient writes the structs of one client from clock from on, merging
// runs that a split or a local append cut apart, then pending structs with
// Skip structs over the gaps.
func writeClient(e *encoder, client uint64, cs *clientStructs, from uint64, pending []*item) {
	var runs []item
	if cs != nil {
		cs.each(from, func(it *item) {
			if n := len(runs); n > 0 && mergeable(&runs[n-1], it) {
				r := &runs[n-1]
				r.length += it.length
				if r.ref == refString {
					r.str = append(r.str[:len(r.str):len(r.str)], it.str...)
				}
				return
			}
			runs = append(runs, *it)
		})
	}
	if len(runs) > 0 && runs[0].id.Clock < from {
		runs[0].cutFront(from - runs[0].id.Clock)
	}
	clock := from
	if n := len(runs); n > 0 {
		clock = runs[n-1].end()
	}
	for _, p := range pending {
		if p.end() <= clock {
			continue
		}
		if p.id.Clock > clock {
			runs = append(runs, item{id: ID{client, clock}, length: p.id.Clock - clock, ref: refSkip})
		} else if p.id.Clock < clock {
			c := *p
			c.cutFront(clock - p.id.Clock)
			p = &c
		}
		runs = append(runs, *p)
		clock = p.end()
	}
	if len(runs) == 0 {
		return
	}
	e.varUint(uint64(len(runs)))
	e.varUint(client)
	e.varUint(runs[0].id.Clock)
	for i := range runs {
		writeStruct(e, &runs[i])
	}
}

func writeStruct(e *encoder, it *item) {
	switch it.ref {
	case refGC, refSkip:
		e.uint8(it.ref)
		e.varUint(it.length)
		return
	}
	info := it.ref
	if it.hasOrigin {
		info |= 0x80
	}
	if it.hasRight {
		info |= 0x40
	}
	e.uint8(info)
	if it.hasOrigin {
		e.varUint(it.origin.Client)
		e.varUint(it.origin.Clock)
	}
	if it.hasRight {
		e.varUint(it.rightOrigin.Client)
		e.varUint(it.rightOrigin.Clock)
	}
	if !it.hasOrigin && !it.hasRight {
		e.varUint(1)
		if it.parent != nil {
			e.varString([]byte(it.parent.name))
		} else {
			e.varString([]byte(*it.parentKey))
		}
	}
	switch it.ref {
	case refString:
		e.varString(it.str)
	case refDeleted:
		e.varUint(it.length)
	default:
		e.raw(it.str)
	}
}

func writeDeleteSet(e *encoder, ds []dsRange) {
	ds = normalizeDS(ds)
	var clients []uint64
	for i, r := range ds {
		if i == 0 || ds[i-1].client != r.client {
			clients = append(clients, r.client)
		}
	}
	e.varUint(uint64(len(clients)))
	for i := 0; i < len(ds); {
		j := i
		for j < len(ds) && ds[j].client == ds[i].client {
			j++
		}
		e.varUint(ds[i].client)
		e.varUint(uint64(j - i))
		for _, r := range ds[i:j] {
			e.varUint(r.clock)
			e.varUint(r.length)
		}
		i = j
	}
}

// normalizeDS sorts ranges by client (descending, as Yjs writes them) and
// clock, and merges overlapping or adjacent ones.
func normalizeDS(ds []dsRange) []dsRange {
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b dsRange) int {
		if a.client != b.client {
			return cmpU64(b.client, a.client)
		}
		return cmpU64(a.clock, b.clock)
	})
	out := ds[:0]
	for _, r := range ds {
		if n := len(out); n > 0 && out[n-1].client == r.client && out[n-1].clock+out[n-1].length >= r.clock {
			l := &out[n-1]
			l.length = max(l.length, r.clock+r.length-l.clock)
			continue
		}
		out = append(out, r)
	}
	return out
}

// deleteSet collects the deleted structs of the store, as Yjs's
// createDeleteSetFromStructStore.
func (d *Doc) deleteSet() []dsRange {
	var ds []dsRange
	for c, cs := range d.store {
		cs.each(0, func(it *item) {
			if it.deleted {
				ds = addRange(ds, dsRange{c, it.id.Clock, it.length})
			}
		})
	}
	return ds
}

// EncodeStateAsUpdate returns the whole document as one update (Yjs's
// Y.encodeStateAsUpdate), pending structs and deletions included. Documents
// that hold the same structs encode to the same bytes.
func (d *Doc) EncodeStateAsUpdate() []byte {
	return d.EncodeDiff(nil)
}

// EncodeDiff returns an update with what the document holds beyond the state
// vector sv (client -> next clock; nil: everything), like
// Y.encodeStateAsUpdate(doc, sv). The delete set is always complete.
func (d *Doc) EncodeDiff(sv map[uint64]uint64) []byte {
	clients := make([]uint64, 0, len(d.store)+len(d.pending))
	for c, cs := range d.store {
		if cs.state() > sv[c] || d.pending[c] != nil {
			clients = append(clients, c)
		}
	}
	for c := range d.pending {
		if d.store[c] == nil {
			clients = append(clients, c)
		}
	}
	slices.Sort(clients)
	slices.Reverse(clients)
	e := &encoder{}
	e.varUint(uint64(len(clients)))
	for _, c := range clients {
		var pending []*item
		if q := d.pending[c]; q != nil {
			pending = q.sorted()
		}
		writeClient(e, c, d.store[c], sv[c], pending)
	}
	writeDeleteSet(e, append(d.deleteSet(), d.pendingDeletes()...))
	return e.buf
}

// TakeUpdate returns an update with the local edits made since the previous
// call (nil if there are none).
func (d *Doc) TakeUpdate() []byte {
	st := d.state(d.client)
	if st == d.taken && len(d.localDS) == 0 {
		return nil
	}
	e := &encoder{}
	if st > d.taken {
		e.varUint(1)
		writeClient(e, d.client, d.store[d.client], d.taken, nil)
	} else {
		e.varUint(0)
	}
	writeDeleteSet(e, d.localDS)
	d.taken, d.localDS = st, nil
	return e.buf
}

// EncodeStateVector returns the document's state vector in Yjs's encoding
// (Y.encodeStateVector).
func (d *Doc) EncodeStateVector() []byte {
	return EncodeStateVector(d.StateVector())
}

// EncodeStateVector encodes a state vector as Yjs does.
func EncodeStateVector(sv map[uint64]uint64) []byte {
	clients := make([]uint64, 0, len(sv))
	for c := range sv {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	slices.Reverse(clients)
	e := &encoder{}
	e.varUint(uint64(len(clients)))
	for _, c := range clients {
		e.varUint(c)
		e.varUint(sv[c])
	}
	return e.buf
}

// DecodeStateVector decodes a state vector in Yjs's encoding.
func DecodeStateVector(b []byte) (map[uint64]uint64, error) {
	d := &decoder{buf: b}
	n, err := d.varLen("state vector entry")
	if err != nil {
		return nil, err
	}
	sv := make(map[uint64]uint64, n)
	for range n {
		c, err := d.varUint()
		if err != nil {
			return nil, err
		}
		k, err := d.varUint()
		if err != nil {
			return nil, err
		}
		sv[c] = k
	}
	if d.pos != len(b) {
		return nil, d.errorf("%d trailing bytes", len(b)-d.pos)
	}
	return sv, nil
}
