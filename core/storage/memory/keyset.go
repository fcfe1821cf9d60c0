package memory

import (
	"slices"
	"sort"
)

// maxBlock bounds the keys of one block of a keySet. Inserting or removing a
// key moves at most this many strings, and a lookup is a binary search over
// the blocks and then inside one.
const maxBlock = 512

// keySet is a sorted set of byte strings (the entries of one declared
// index), kept as an ordered list of sorted, non-empty blocks: every key of
// a block sorts before every key of the next one. It needs no rebalancing
// beyond splitting full blocks and dropping empty ones.
type keySet struct {
	blocks [][]string
	n      int
}

// len returns the number of keys.
func (s *keySet) len() int { return s.n }

// block returns the index of the first block whose last key is >= k
// (len(s.blocks) when k sorts after every key).
func (s *keySet) block(k string) int {
	return sort.Search(len(s.blocks), func(i int) bool {
		b := s.blocks[i]
		return b[len(b)-1] >= k
	})
}

// insert adds k; it reports whether k was new.
func (s *keySet) insert(k string) bool {
	if len(s.blocks) == 0 {
		s.blocks = append(s.blocks, []string{k})
		s.n++
		return true
	}
	bi := s.block(k)
	if bi == len(s.blocks) {
		bi-- // after every key: append to the last block
	}
	b := s.blocks[bi]
	i, found := slices.BinarySearch(b, k)
	if found {
		return false
	}
	b = slices.Insert(b, i, k)
	s.n++
	if len(b) <= maxBlock {
		s.blocks[bi] = b
		return true
	}
	// Split a full block in two halves, each with its own backing array so
	// later inserts into one never overwrite the other.
	half := len(b) / 2
	lo := make([]string, half, maxBlock)
	copy(lo, b[:half])
	hi := make([]string, len(b)-half, maxBlock)
	copy(hi, b[half:])
	s.blocks[bi] = lo
	s.blocks = slices.Insert(s.blocks, bi+1, hi)
	return true
}

// remove deletes k; it reports whether k was present.
func (s *keySet) remove(k string) bool {
	bi := s.block(k)
	if bi == len(s.blocks) {
		return false
	}
	b := s.blocks[bi]
	i, found := slices.BinarySearch(b, k)
	if !found {
		return false
	}
	b = slices.Delete(b, i, i+1)
	s.n--
	if len(b) == 0 {
		s.blocks = slices.Delete(s.blocks, bi, bi+1)
		return true
	}
	s.blocks[bi] = b
	return true
}

// ascend calls f with every key in [lo, hi) in ascending order (hi "" with
// open set: no upper bound) until f returns false.
func (s *keySet) ascend(lo, hi string, open bool, f func(k string) bool) {
	for bi := s.block(lo); bi < len(s.blocks); bi++ {
		b := s.blocks[bi]
		i, _ := slices.BinarySearch(b, lo)
		for ; i < len(b); i++ {
			if !open && b[i] >= hi {
				return
			}
			if !f(b[i]) {
				return
			}
		}
	}
}

// descend calls f with every key in [lo, hi) in descending order (open: no
// upper bound) until f returns false.
func (s *keySet) descend(lo, hi string, open bool, f func(k string) bool) {
	bi, i := len(s.blocks)-1, 0
	if !open {
		bi = s.block(hi)
		if bi == len(s.blocks) {
			bi--
		}
	}
	for ; bi >= 0; bi-- {
		b := s.blocks[bi]
		i = len(b)
		if !open {
			i, _ = slices.BinarySearch(b, hi) // first key >= hi
		}
		for i--; i >= 0; i-- {
			if b[i] < lo {
				return
			}
			if !f(b[i]) {
				return
			}
		}
	}
}
