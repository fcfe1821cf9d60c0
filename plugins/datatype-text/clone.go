package text

import "slices"

// Clone returns an independent deep copy of the document whose local edits
// use client id client. Edits of d not yet taken are in the copy's text but
// not in its TakeUpdate.
func (d *Doc) Clone(client uint64) *Doc {
	c := NewDoc(client)
	c.taken = c.state(client)
	byClient := map[uint64][]*item{}
	for name, s := range d.roots {
		ns := &sequence{name: name, vis: s.vis}
		var prev *item
		for _, b := range s.blocks {
			nb := &block{items: make([]*item, len(b.items), max(len(b.items), maxBlock/2)), vis: b.vis}
			for i, it := range b.items {
				ni := copyItem(it)
				ni.parent, ni.blk = ns, nb
				ni.left = prev
				if prev != nil {
					prev.right = ni
				} else {
					ns.start = ni
				}
				prev = ni
				nb.items[i] = ni
				byClient[ni.id.Client] = append(byClient[ni.id.Client], ni)
			}
			ns.blocks = append(ns.blocks, nb)
		}
		c.roots[name] = ns
	}
	for cl, cs := range d.store {
		cs.each(0, func(it *item) {
			if it.parent == nil { // garbage collected structs are in no list
				byClient[cl] = append(byClient[cl], copyItem(it))
			}
		})
	}
	for cl, list := range byClient {
		slices.SortFunc(list, func(a, b *item) int { return cmpU64(a.id.Clock, b.id.Clock) })
		cs := &clientStructs{}
		for _, it := range list {
			cs.append(it)
		}
		c.store[cl] = cs
	}
	for cl, q := range d.pending {
		c.pending[cl] = q.clone(copyItem)
	}
	for cl, q := range d.pendDS {
		c.pendDS[cl] = q.clone(func(r dsRange) dsRange { return r })
	}
	c.taken = c.state(client)
	return c
}

// copyItem copies an item; its text gets its own capacity so that appends on
// either side never write into memory the other one reads.
func copyItem(it *item) *item {
	ni := *it
	ni.str = it.str[:len(it.str):len(it.str)]
	ni.left, ni.right, ni.parent, ni.blk = nil, nil, nil, nil
	return &ni
}
