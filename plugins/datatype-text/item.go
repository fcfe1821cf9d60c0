package text

import "fmt"

// ID names one clock unit of one client: Yjs's (client, clock) pair. Clocks
// count UTF-16 code units of inserted text.
type ID struct {
	Client uint64
	Clock  uint64
}

func (id ID) String() string { return fmt.Sprintf("%d:%d", id.Client, id.Clock) }

// Yjs content reference numbers (the low 5 bits of a struct's info byte).
const (
	refGC      = 0
	refDeleted = 1
	refJSON    = 2
	refBinary  = 3
	refString  = 4
	refEmbed   = 5
	refFormat  = 6
	refType    = 7
	refAny     = 8
	refDoc     = 9
	refSkip    = 10
)

// item is one struct of the store: a run of clock units of one client. Yjs's
// Item and GC, run-length: a string item holds its whole run of text and is
// split on demand when an edit or a remote struct lands inside it.
type item struct {
	id          ID
	length      uint64 // clock units (UTF-16 code units for strings)
	origin      ID     // the left neighbour's last id when inserted
	rightOrigin ID     // the right neighbour's id when inserted

	left, right *item
	parent      *sequence // nil for GC structs
	blk         *block    // the block of parent that holds the item

	// refString: the text, UTF-8. refFormat, refEmbed: the encoded content,
	// written back as is.
	str []byte
	// Only while pending (decoded, not yet integrated) and without origins:
	// the name of the root text it belongs to.
	parentKey *string

	cp        int32 // refString: code points in str
	ref       byte  // refString, refDeleted, refGC, refFormat, refEmbed
	deleted   bool  // always true for refDeleted and refGC
	hasOrigin bool
	hasRight  bool
}

func (it *item) lastID() ID { return ID{it.id.Client, it.id.Clock + it.length - 1} }

func (it *item) end() uint64 { return it.id.Clock + it.length }

// visible is the number of code points the item contributes to its text.
func (it *item) visible() int {
	if it.deleted || it.ref != refString {
		return 0
	}
	return int(it.cp)
}

// splitAt cuts the item at clock offset off (0 < off < length) and returns the
// right part, which is not yet linked anywhere. Like Yjs, the right part's
// origin is the left part's last id.
func (it *item) splitAt(off uint64) *item {
	r := &item{
		id:          ID{it.id.Client, it.id.Clock + off},
		length:      it.length - off,
		origin:      ID{it.id.Client, it.id.Clock + off - 1},
		hasOrigin:   true,
		rightOrigin: it.rightOrigin,
		hasRight:    it.hasRight,
		parent:      it.parent,
		ref:         it.ref,
		deleted:     it.deleted,
	}
	it.length = off
	if it.ref == refString && !it.deleted {
		l, rs := splitU16(it.str, int(off))
		it.str = l
		r.str = rs
		_, lcp := lengths(l)
		_, rcp := lengths(rs)
		r.cp = int32(rcp)
		if lcp+rcp != int(it.cp) && it.blk != nil { // a surrogate pair became two U+FFFD
			it.parent.addVisible(it, lcp+rcp-int(it.cp))
		}
		it.cp = int32(lcp)
	}
	return r
}

// cutFront drops the first off clock units of a pending struct (already known
// locally) before it is integrated.
func (it *item) cutFront(off uint64) {
	it.id.Clock += off
	it.length -= off
	it.origin = ID{it.id.Client, it.id.Clock - 1}
	it.hasOrigin = true
	if it.ref == refString {
		_, it.str = splitU16(it.str, int(off))
		_, n := lengths(it.str)
		it.cp = int32(n)
	}
}

// markDeleted turns the item into a tombstone that keeps only its length, as
// Yjs does with garbage collection on.
func (it *item) markDeleted() {
	if it.deleted {
		return
	}
	if it.parent != nil && it.blk != nil {
		it.parent.addVisible(it, -it.visible())
	}
	it.deleted = true
	if it.ref != refGC {
		it.ref = refDeleted
	}
	it.str, it.cp = nil, 0
}
