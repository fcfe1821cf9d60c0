package kv

import (
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/value"
)

// Tags: the byte after the prefix that says what a key holds.
const (
	tagFormat      = 'v'
	tagState       = 's'
	tagEvent       = 'e'
	tagEntityEvent = 'h'
	tagIndexDecl   = 'x'
	tagIndex       = 'i'
)

// Index declaration states.
const (
	indexBuilding = 'b'
	indexReady    = 'r'
)

// MaxIndexedValue caps the value part of an index key (TiKV refuses keys over
// 8 KiB). A longer encoding is cut: cutting keeps the order (it never
// reverses two keys, only makes some equal), scans widen their bounds to
// match, and a run of equal cut keys is sorted by the full values.
const MaxIndexedValue = 1024

// MaxName caps collection and property names, for the same reason.
const MaxName = 1024

// present is the value of keys whose presence is the information.
var present = []byte{1}

// layout builds the keys of one engine.
type layout struct{ root []byte }

func (l layout) tagged(tag byte, extra int) []byte {
	b := make([]byte, 0, len(l.root)+1+extra)
	return append(append(b, l.root...), tag)
}

func (l layout) format() []byte { return l.tagged(tagFormat, 0) }

// coll is the prefix of every key of one tag in a collection.
func (l layout) coll(tag byte, coll string, extra int) []byte {
	if mutant == mutCollectionUnterminated {
		return append(l.tagged(tag, len(coll)+extra), coll...)
	}
	return keyenc.AppendString(l.tagged(tag, len(coll)+2+extra), coll)
}

func (l layout) state(coll string, e id.EntityID) []byte {
	return append(l.coll(tagState, coll, id.Size), e[:]...)
}

func (l layout) event(coll string, ev id.EventID) []byte {
	return append(l.coll(tagEvent, coll, id.Size), ev[:]...)
}

func (l layout) entityEvents(coll string, e id.EntityID) []byte {
	return append(l.coll(tagEntityEvent, coll, 2*id.Size), e[:]...)
}

func (l layout) entityEvent(coll string, e id.EntityID, ev id.EventID) []byte {
	return append(l.entityEvents(coll, e), ev[:]...)
}

func (l layout) indexDecl(coll, prop string) []byte {
	return keyenc.AppendString(l.coll(tagIndexDecl, coll, len(prop)+2), prop)
}

// index is the prefix of every entry of one index.
func (l layout) index(coll, prop string) []byte {
	return keyenc.AppendString(l.coll(tagIndex, coll, len(prop)+2+16+id.Size), prop)
}

func cut(enc []byte) []byte { return enc[:min(len(enc), MaxIndexedValue)] }

// indexEntry is the key of v's entry for entity e in the index ix.
func indexEntry(ix []byte, v value.Value, e id.EntityID) []byte {
	if mutant == mutNullIndexedLast && v.IsNull() {
		return append(append(append([]byte(nil), ix...), 0xFE), e[:]...)
	}
	enc := cut(keyenc.Key(v))
	b := make([]byte, 0, len(ix)+len(enc)+id.Size)
	return append(append(append(b, ix...), enc...), e[:]...)
}

// trailingID returns the id in the last 32 bytes of a key.
func trailingID(key []byte) (out [id.Size]byte, ok bool) {
	if len(key) < id.Size {
		return out, false
	}
	copy(out[:], key[len(key)-id.Size:])
	return out, true
}
