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

// MemoryStore is a Store in memory: a sorted array of keys, replaced whole
// by each committed transaction, so a View reads a snapshot without locks
// and transactions run one at a time. It suits tests, examples and small
// ephemeral data; a commit costs O(keys stored).
type MemoryStore struct {
	mu     sync.Mutex // serializes Updates
	snap   atomic.Pointer[[]memEntry]
	closed atomic.Bool
}

type memEntry struct{ k, v []byte }

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	s := &MemoryStore{}
	s.snap.Store(&[]memEntry{})
	return s
}

// View runs fn on the latest committed snapshot.
func (s *MemoryStore) View(ctx context.Context, fn func(Reader) error) error {
	if s.closed.Load() {
		return errMemoryClosed
	}
	return fn(memReader(*s.snap.Load()))
}

// Update runs fn with exclusive write access and commits its writes.
func (s *MemoryStore) Update(ctx context.Context, fn func(Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return errMemoryClosed
	}
	tx := &memTx{memReader: memReader(*s.snap.Load()), writes: map[string][]byte{}}
	if err := fn(tx); err != nil {
		return err
	}
	if len(tx.writes) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tx.writes))
	for k := range tx.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	old := tx.memReader
	merged := make([]memEntry, 0, len(old)+len(keys))
	i := 0
	for _, k := range keys {
		for i < len(old) && bytes.Compare(old[i].k, []byte(k)) < 0 {
			merged = append(merged, old[i])
			i++
		}
		if i < len(old) && bytes.Equal(old[i].k, []byte(k)) {
			i++ // replaced or deleted
		}
		if v := tx.writes[k]; v != nil {
			merged = append(merged, memEntry{[]byte(k), v})
		}
	}
	merged = append(merged, old[i:]...)
	s.snap.Store(&merged)
	return nil
}

// Close makes later calls fail.
func (s *MemoryStore) Close() error {
	s.closed.Store(true)
	return nil
}

// memReader reads one immutable snapshot.
type memReader []memEntry

func (r memReader) search(k []byte) int {
	return sort.Search(len(r), func(i int) bool { return bytes.Compare(r[i].k, k) >= 0 })
}

func (r memReader) Get(_ context.Context, key []byte) ([]byte, error) {
	if i := r.search(key); i < len(r) && bytes.Equal(r[i].k, key) {
		return r[i].v, nil
	}
	return nil, nil
}

func (r memReader) Scan(ctx context.Context, lo, hi []byte, reverse bool, f func(k, v []byte) (bool, error)) error {
	start, end := r.search(lo), len(r)
	if hi != nil {
		end = r.search(hi)
	}
	for n := 0; n < end-start; n++ {
		i := start + n
		if reverse {
			i = end - 1 - n
		}
		if stop, err := f(r[i].k, r[i].v); err != nil || stop {
			return err
		}
	}
	return nil
}

// memTx buffers its writes until Update commits them.
type memTx struct {
	memReader
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
