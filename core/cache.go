package core

import (
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
)

// DefaultBackendCacheEntries is how many entities' decoded backends a node
// keeps between commits unless WithBackendCache says otherwise.
const DefaultBackendCacheEntries = 256

// WithBackendCache bounds how many entities' decoded backends the node keeps
// between commits (DefaultBackendCacheEntries by default; 0 or less turns
// the cache off). Decoding a backend from its stored state can cost far more
// than the edit a commit makes (a long text document, say): with the cache,
// an entity edited again at the head the node last wrote or read is forked
// from memory instead of decoded. The bound counts entities, not bytes: a
// node whose entities hold large documents may want a smaller one.
func WithBackendCache(entries int) Option {
	return func(c *config) { c.cacheEntries = entries }
}

// backendCache keeps the decoded backends of recently written or edited
// entities, each valid for exactly one head: the state with that head is
// what the backends hold. An entity whose stored head moved is decoded
// again. Content addressing makes a head name one state on every node, so
// an entry never goes stale; it only stops being asked for.
//
// Cached backends are never handed out: a transaction gets forks of them
// (forks), and a commit takes them out of the cache (take), applies its
// events to them in place, and puts them back under the new head (put) only
// after the storage write succeeded. A commit that fails or retries after a
// conflict has removed the entry, so the cache is never ahead of storage.
//
// Backends that applied many events in place may be costlier to fork and
// serialize than freshly decoded ones (the text datatype keeps each applied
// update as its own run of items, where decoding merges runs), so a commit
// decodes the state it writes again after reloadAfter in-place applications.
//
// Safe for concurrent use. A nil or zero-capacity cache holds nothing.
type backendCache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]*cacheEntry
	// lru links the entries, most recently used first (front) to least
	// (back); an entry links itself, so a put allocates only the entry.
	front, back *cacheEntry
	n           int

	hits, misses int // for tests
}

type cacheKey struct {
	collection string
	id         id.EntityID
}

// reloadAfter is how many events a cached set of backends applies in place
// before the node decodes the written state again instead.
const reloadAfter = 8

type cacheEntry struct {
	key        cacheKey
	head       event.Clock // in head1's array when it names one event
	head1      [1]id.EventID
	prev, next *cacheEntry // lru neighbours (toward the front, the back)
	applied    int         // events applied in place since the backends were decoded

	// mu is held while the backends are forked or taken; backends is nil
	// once taken (the entry has then left the cache).
	mu       sync.Mutex
	backends backendSet
}

func newBackendCache(entries int) *backendCache {
	return &backendCache{max: entries, entries: map[cacheKey]*cacheEntry{}}
}

// lookup returns the entry of key if it is valid for head, as the most
// recently used, removing it from the cache when remove is set.
func (c *backendCache) lookup(key cacheKey, head event.Clock, remove bool) *cacheEntry {
	if !c.enabled() || len(head) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || !e.head.Equal(head) {
		c.misses++
		return nil
	}
	c.hits++
	if remove {
		delete(c.entries, key)
		c.unlink(e)
	} else if c.front != e {
		c.unlink(e)
		c.pushFront(e)
	}
	return e
}

// pushFront links e as the most recently used entry (c.mu held).
func (c *backendCache) pushFront(e *cacheEntry) {
	e.prev, e.next = nil, c.front
	if c.front != nil {
		c.front.prev = e
	} else {
		c.back = e
	}
	c.front = e
	c.n++
}

// unlink takes e out of the lru list (c.mu held).
func (c *backendCache) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.front = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.back = e.prev
	}
	e.prev, e.next = nil, nil
	c.n--
}

// forks returns forks of the cached backends of an entity at head, for a
// transaction; ok is false when the cache has none for that head.
func (c *backendCache) forks(collection string, eid id.EntityID, head event.Clock) (backendSet, bool) {
	e := c.lookup(cacheKey{collection, eid}, head, false)
	if e == nil {
		return nil, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.backends == nil { // taken by a commit meanwhile
		return nil, false
	}
	return forkAll(e.backends), true
}

// take removes the cached backends of an entity at head from the cache and
// hands them to the caller, who may change them, with the number of events
// they applied in place since they were decoded; ok is false when the cache
// has none for that head.
func (c *backendCache) take(collection string, eid id.EntityID, head event.Clock) (bs backendSet, applied int, ok bool) {
	e := c.lookup(cacheKey{collection, eid}, head, true)
	if e == nil {
		return nil, 0, false
	}
	e.mu.Lock() // wait for forks in progress
	defer e.mu.Unlock()
	bs = e.backends
	e.backends = nil
	return bs, e.applied, bs != nil
}

// put caches backends as the state of an entity at head (applied: events
// they applied in place since decoded), replacing whatever the cache held
// for the entity and evicting the least recently used entry beyond
// capacity. The cache owns backends from then on: the caller must not
// change them.
func (c *backendCache) put(collection string, eid id.EntityID, head event.Clock, backends backendSet, applied int) {
	if !c.enabled() || len(head) == 0 || backends == nil {
		return
	}
	key := cacheKey{collection, eid}
	e := &cacheEntry{key: key, backends: backends, applied: applied}
	if len(head) == 1 {
		e.head1[0] = head[0]
		e.head = e.head1[:]
	} else {
		e.head = slices.Clone(head)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[key]; old != nil {
		c.unlink(old)
	}
	c.pushFront(e)
	c.entries[key] = e
	for c.n > c.max {
		last := c.back
		c.unlink(last)
		delete(c.entries, last.key)
	}
}

// forkAll forks every backend of a set.
func forkAll(bs backendSet) backendSet {
	out := make(backendSet, len(bs))
	for i, nb := range bs {
		out[i] = namedBackend{name: nb.name, b: nb.b.Fork()}
	}
	return out
}

// enabled reports whether the cache keeps anything.
func (c *backendCache) enabled() bool { return c != nil && c.max > 0 }
