package tikv

import (
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/value"
)

// Key layout. Every key of a deployment starts with root: the key prefix
// (WithKeyPrefix) and a 0x00 byte. A prefix may not contain 0x00, so no
// deployment's keys start with another deployment's root. After root comes
// one tag byte:
//
//	root 'v'                                          -> format version (decimal text)
//	root 's' coll entity                              -> entity.State (canonical CBOR)
//	root 'e' coll event                               -> event.Event (canonical CBOR)
//	root 'h' coll entity event                        -> 0x01 (an entity's events)
//	root 'x' coll prop                                -> index declaration: 'b' building, 'r' ready
//	root 'i' coll prop keyenc(value) entity           -> 0x01 (secondary index entry;
//	                                                     keyenc(value) cut at maxIndexedValue bytes)
//
// coll and prop are keyenc.AppendString names (escaped and terminated), so
// one collection's keys never run into another's; entity and event are the
// 32 raw id bytes, so states scan in ascending entity-id order.
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

// present is the value of keys whose presence is the information (TiKV
// refuses empty values).
var present = []byte{1}

type keys struct{ root []byte }

func newKeys(prefix string) keys {
	return keys{root: append([]byte(prefix), 0)}
}

func (k keys) tagged(tag byte, extra int) []byte {
	b := make([]byte, 0, len(k.root)+1+extra)
	return append(append(b, k.root...), tag)
}

func (k keys) format() []byte { return k.tagged(tagFormat, 0) }

// coll returns root tag coll: the prefix of every key of one kind in a collection.
func (k keys) coll(tag byte, coll string, extra int) []byte {
	return keyenc.AppendString(k.tagged(tag, len(coll)+2+extra), coll)
}

func (k keys) state(coll string, e id.EntityID) []byte {
	return append(k.coll(tagState, coll, id.Size), e[:]...)
}

func (k keys) event(coll string, ev id.EventID) []byte {
	return append(k.coll(tagEvent, coll, id.Size), ev[:]...)
}

func (k keys) entityEvents(coll string, e id.EntityID) []byte {
	return append(k.coll(tagEntityEvent, coll, 2*id.Size), e[:]...)
}

func (k keys) entityEvent(coll string, e id.EntityID, ev id.EventID) []byte {
	return append(k.entityEvents(coll, e), ev[:]...)
}

func (k keys) indexDecl(coll, prop string) []byte {
	return keyenc.AppendString(k.coll(tagIndexDecl, coll, len(prop)+2), prop)
}

// index returns the prefix of every entry of one index.
func (k keys) index(coll, prop string) []byte {
	return keyenc.AppendString(k.coll(tagIndex, coll, len(prop)+2+16+id.Size), prop)
}

// maxIndexedValue caps the value part of an index key, because TiKV refuses
// keys over 8 KiB (storage.max-key-size). A longer encoding is truncated:
// truncation keeps the order (it never reverses two keys, only makes some
// equal), scans widen their bounds to match (see plan.go), and equal
// truncated keys are sorted by their full values when an order is streamed.
const maxIndexedValue = 1024

func truncated(enc []byte) []byte { return enc[:min(len(enc), maxIndexedValue)] }

// indexEntry returns the key of v's entry for entity e in the index ixPrefix.
func indexEntry(ixPrefix []byte, v value.Value, e id.EntityID) []byte {
	enc := truncated(keyenc.Key(v))
	b := make([]byte, 0, len(ixPrefix)+len(enc)+id.Size)
	return append(append(append(b, ixPrefix...), enc...), e[:]...)
}

// trailingID returns the id in the last 32 bytes of a key.
func trailingID(key []byte) ([id.Size]byte, bool) {
	var out [id.Size]byte
	if len(key) < id.Size {
		return out, false
	}
	copy(out[:], key[len(key)-id.Size:])
	return out, true
}
