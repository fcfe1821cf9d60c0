package text

// sequence is one root-level Y.Text: a doubly linked list of items (the YATA
// order, tombstones included) that is also cut into blocks, each knowing how
// many visible code points it holds. A position lookup walks blocks, starting
// from a cursor left by the previous lookup, instead of the whole list.
type sequence struct {
	name   string
	start  *item
	blocks []*block
	vis    int // visible code points

	curValid bool
	curIdx   int // cursor: a block index and the position its first item starts at
	curStart int
}

type block struct {
	items []*item
	vis   int
}

const maxBlock = 128

// addVisible records that it shows delta more code points.
func (s *sequence) addVisible(it *item, delta int) {
	if delta == 0 {
		return
	}
	it.blk.vis += delta
	s.vis += delta
	if s.curValid && (s.curIdx >= len(s.blocks) || s.blocks[s.curIdx] != it.blk) {
		s.curValid = false
	}
}

// link puts it into the list and the blocks right after left (nil: first).
// it.left/it.right are set here.
func (s *sequence) link(it, left *item) { s.linkAfter(it, left, true) }

// linkSplit links the right part of a split item, whose visible code points
// its left part already counted.
func (s *sequence) linkSplit(it, left *item) { s.linkAfter(it, left, false) }

func (s *sequence) linkAfter(it, left *item, count bool) {
	it.parent = s
	it.left = left
	if left == nil {
		it.right = s.start
		s.start = it
	} else {
		it.right = left.right
		left.right = it
	}
	if it.right != nil {
		it.right.left = it
	}
	var b *block
	idx := 0
	switch {
	case left != nil:
		b = left.blk
		idx = indexOf(b, left) + 1
	case len(s.blocks) > 0:
		b = s.blocks[0]
	default:
		b = &block{}
		s.blocks = append(s.blocks, b)
		s.curValid = false
	}
	b.items = append(b.items, nil)
	copy(b.items[idx+1:], b.items[idx:])
	b.items[idx] = it
	it.blk = b
	if count {
		s.addVisible(it, it.visible())
	}
	if len(b.items) > maxBlock {
		s.splitBlock(b)
	}
}

func indexOf(b *block, it *item) int {
	for i, x := range b.items {
		if x == it {
			return i
		}
	}
	panic("text: item missing from its block")
}

func (s *sequence) splitBlock(b *block) {
	half := len(b.items) / 2
	nb := &block{items: make([]*item, len(b.items)-half, maxBlock+1)}
	copy(nb.items, b.items[half:])
	clear(b.items[half:])
	b.items = b.items[:half]
	for _, it := range nb.items {
		it.blk = nb
		v := it.visible()
		nb.vis += v
		b.vis -= v
	}
	bi := 0
	for s.blocks[bi] != b {
		bi++
	}
	s.blocks = append(s.blocks, nil)
	copy(s.blocks[bi+2:], s.blocks[bi+1:])
	s.blocks[bi+1] = nb
	s.curValid = false
}

// find returns the item holding visible code point k (0 <= k < s.vis) and
// the code point offset of k inside it.
func (s *sequence) find(k int) (*item, int) {
	if !s.curValid || s.curIdx >= len(s.blocks) {
		s.curIdx, s.curStart, s.curValid = 0, 0, true
	}
	i, st := s.curIdx, s.curStart
	for k < st {
		i--
		st -= s.blocks[i].vis
	}
	for k >= st+s.blocks[i].vis {
		st += s.blocks[i].vis
		i++
	}
	s.curIdx, s.curStart = i, st
	for _, it := range s.blocks[i].items {
		v := it.visible()
		if k < st+v {
			return it, k - st
		}
		st += v
	}
	panic("text: block visible count out of sync")
}

// String returns the visible text.
func (s *sequence) String() string {
	buf := make([]byte, 0, s.vis)
	for _, b := range s.blocks {
		if b.vis == 0 {
			continue
		}
		for _, it := range b.items {
			if !it.deleted && it.ref == refString {
				buf = append(buf, it.str...)
			}
		}
	}
	return string(buf)
}
