package kv

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// errMemoryClosed is what a closed MemoryStore returns.
var errMemoryClosed = errors.New("kv: memory store closed")

// memBlock is the most keys one block of a MemoryStore holds after a commit.
const memBlock = 512

// MemoryStore is a Store in memory: sorted blocks of at most 512 keys,
// copied on write, so a View reads an immutable snapshot without locks, and
// a commit copies only the blocks it changes (and the list of blocks).
// Transactions run one at a time. It suits tests, examples and ephemeral
// data.
type MemoryStore struct {
	mu     sync.Mutex // serializes Updates
	snap   atomic.Pointer[memSnap]
	closed atomic.Bool
}

type memEntry struct{ k, v []byte }

// memSnap is one committed state: non-empty sorted blocks, in key order.
type memSnap struct{ blocks [][]memEntry }

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	s := &MemoryStore{}
	s.snap.Store(&memSnap{})
	return s
}

// View runs fn on the latest committed snapshot.
func (s *MemoryStore) View(_ context.Context, fn func(Reader) error) error {
	if s.closed.Load() {
		return errMemoryClosed
	}
	return fn(s.snap.Load())
}

// Update runs fn with exclusive write access and commits its writes.
func (s *MemoryStore) Update(_ context.Context, fn func(Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return errMemoryClosed
	}
	tx := &memTx{memSnap: s.snap.Load(), writes: map[string][]byte{}}
	if err := fn(tx); err != nil {
		return err
	}
	if len(tx.writes) > 0 {
		s.snap.Store(tx.commit())
	}
	return nil
}

// Close makes later calls fail.
func (s *MemoryStore) Close() error {
	s.closed.Store(true)
	return nil
}

// block returns the index of the block that holds (or would hold) k.
func (m *memSnap) block(k []byte) int {
	i := sort.Search(len(m.blocks), func(i int) bool {
		b := m.blocks[i]
		return bytes.Compare(b[len(b)-1].k, k) >= 0
	})
	return min(i, max(len(m.blocks)-1, 0))
}

func (m *memSnap) Get(_ context.Context, key []byte) ([]byte, error) {
	if len(m.blocks) == 0 {
		return nil, nil
	}
	b := m.blocks[m.block(key)]
	if i := searchBlock(b, key); i < len(b) && bytes.Equal(b[i].k, key) {
		return b[i].v, nil
	}
	return nil, nil
}

func searchBlock(b []memEntry, k []byte) int {
	return sort.Search(len(b), func(i int) bool { return bytes.Compare(b[i].k, k) >= 0 })
}

func (m *memSnap) Scan(_ context.Context, lo, hi []byte, reverse bool, f func(k, v []byte) (bool, error)) error {
	if len(m.blocks) == 0 {
		return nil
	}
	in := func(k []byte) bool { return bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0) }
	if !reverse {
		for bi := m.block(lo); bi < len(m.blocks); bi++ {
			b := m.blocks[bi]
			for i := searchBlock(b, lo); i < len(b); i++ {
				if !in(b[i].k) {
					return nil
				}
				if stop, err := f(b[i].k, b[i].v); err != nil || stop {
					return err
				}
			}
		}
		return nil
	}
	bi := len(m.blocks) - 1
	if hi != nil {
		bi = m.block(hi)
	}
	for ; bi >= 0; bi-- {
		b := m.blocks[bi]
		i := len(b) - 1
		if hi != nil {
			i = searchBlock(b, hi) - 1
		}
		for ; i >= 0; i-- {
			if !in(b[i].k) {
				if bytes.Compare(b[i].k, lo) < 0 {
					return nil
				}
				continue
			}
			if stop, err := f(b[i].k, b[i].v); err != nil || stop {
				return err
			}
		}
	}
	return nil
}

// memTx buffers its writes until Update commits them.
type memTx struct {
	*memSnap
	writes map[string][]byte // nil: deleted
}

func (t *memTx) Set(key, value []byte) error {
	if len(value) == 0 {
		return errors.New("kv: memory store: empty value")
	}
	t.writes[string(key)] = slices.Clone(value)
	return nil
}

func (t *memTx) Delete(key []byte) error {
	t.writes[string(key)] = nil
	return nil
}

// commit returns the snapshot with the writes applied: the blocks that get
// writes are merged with them and cut again; the others are shared.
func (t *memTx) commit() *memSnap {
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	old := t.memSnap.blocks
	if len(old) == 0 {
		old = [][]memEntry{nil}
	}
	out := make([][]memEntry, 0, len(old)+1)
	ki := 0
	for bi, b := range old {
		// The writes for this block: up to its last key (the last block takes the rest).
		end := len(keys)
		if bi < len(old)-1 {
			last := string(b[len(b)-1].k)
			end = ki + sort.SearchStrings(keys[ki:], last)
			if end < len(keys) && keys[end] == last {
				end++
			}
		}
		if end == ki {
			out = append(out, b)
			continue
		}
		merged := make([]memEntry, 0, len(b)+end-ki)
		i := 0
		for _, k := range keys[ki:end] {
			for i < len(b) && string(b[i].k) < k {
				merged = append(merged, b[i])
				i++
			}
			if i < len(b) && string(b[i].k) == k {
				i++ // replaced or deleted
			}
			if v := t.writes[k]; v != nil {
				merged = append(merged, memEntry{[]byte(k), v})
			}
		}
		merged = append(merged, b[i:]...)
		for len(merged) > memBlock {
			out = append(out, merged[:memBlock/2:memBlock/2])
			merged = merged[memBlock/2:]
		}
		if len(merged) > 0 {
			out = append(out, merged)
		}
		ki = end
	}
	return &memSnap{blocks: out}
}
