package text

import "sort"

// clientStructs holds one client's structs in clock order, contiguous from
// clock 0, in chunks so that a split in the middle moves at most a chunk.
type clientStructs struct {
	chunks [][]*item
}

const maxChunk = 256

func (cs *clientStructs) state() uint64 {
	if len(cs.chunks) == 0 {
		return 0
	}
	last := cs.chunks[len(cs.chunks)-1]
	return last[len(last)-1].end()
}

func (cs *clientStructs) append(it *item) {
	n := len(cs.chunks)
	if n == 0 || len(cs.chunks[n-1]) >= maxChunk {
		cs.chunks = append(cs.chunks, make([]*item, 0, maxChunk))
		n++
	}
	cs.chunks[n-1] = append(cs.chunks[n-1], it)
}

// find returns the chunk and index of the struct holding clock; ok is false
// when the client has no struct there.
func (cs *clientStructs) find(clock uint64) (ci, i int, ok bool) {
	if clock >= cs.state() {
		return 0, 0, false
	}
	ci = sort.Search(len(cs.chunks), func(j int) bool { return cs.chunks[j][0].id.Clock > clock }) - 1
	c := cs.chunks[ci]
	i = sort.Search(len(c), func(j int) bool { return c[j].id.Clock > clock }) - 1
	return ci, i, true
}

func (cs *clientStructs) get(clock uint64) *item {
	ci, i, ok := cs.find(clock)
	if !ok {
		return nil
	}
	return cs.chunks[ci][i]
}

// insertAt puts it right after position (ci, i).
func (cs *clientStructs) insertAfter(ci, i int, it *item) {
	c := cs.chunks[ci]
	c = append(c, nil)
	copy(c[i+2:], c[i+1:])
	c[i+1] = it
	if len(c) <= 2*maxChunk {
		cs.chunks[ci] = c
		return
	}
	half := len(c) / 2
	right := make([]*item, len(c)-half, maxChunk*2)
	copy(right, c[half:])
	clear(c[half:])
	cs.chunks[ci] = c[:half]
	cs.chunks = append(cs.chunks, nil)
	copy(cs.chunks[ci+2:], cs.chunks[ci+1:])
	cs.chunks[ci+1] = right
}

// each calls f for every struct from the one holding clock on.
func (cs *clientStructs) each(from uint64, f func(*item)) {
	ci, i, ok := cs.find(from)
	if !ok {
		return
	}
	for ; ci < len(cs.chunks); ci++ {
		for ; i < len(cs.chunks[ci]); i++ {
			f(cs.chunks[ci][i])
		}
		i = 0
	}
}

// remove drops the struct at (ci, i); the caller keeps clocks contiguous.
func (cs *clientStructs) remove(ci, i int) {
	c := cs.chunks[ci]
	copy(c[i:], c[i+1:])
	c[len(c)-1] = nil
	c = c[:len(c)-1]
	if len(c) > 0 {
		cs.chunks[ci] = c
		return
	}
	cs.chunks = append(cs.chunks[:ci], cs.chunks[ci+1:]...)
}
