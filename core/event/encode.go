package event

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// The event encoder writes, without reflection, exactly what the generic
// CBOR encoder in core deterministic mode writes for the wire form of an
// event (a map of integer keys 1 to 6, empty fields left out but the
// collection, nil operation buffers as null, operation names sorted by
// their encoding); FuzzEncode holds it to that, byte for byte. An event's id
// is the hash of these bytes, so they must never change.

type opPair struct {
	name string
	ops  []byte
}

// appendEvent appends the canonical encoding of e to dst.
func appendEvent(dst []byte, e *Event) []byte {
	var buf [8]opPair
	ops := buf[:0]
	for k, b := range e.Operations {
		ops = append(ops, opPair{k, b})
	}
	slices.SortFunc(ops, func(a, b opPair) int { return value.KeyOrder(a.name, b.name) })
	genesis := e.IsGenesis()
	fields := uint64(1)
	for _, set := range [...]bool{!genesis, len(e.Parent) > 0, len(ops) > 0, len(e.Nonce) > 0, e.Timestamp != 0} {
		if set {
			fields++
		}
	}
	dst = value.AppendHead(dst, 5, fields)
	dst = append(value.AppendHead(append(dst, 0x01), 3, uint64(len(e.Collection))), e.Collection...)
	if !genesis {
		dst = append(dst, 0x02, 0x58, id.Size)
		dst = append(dst, e.Entity[:]...)
	}
	if len(e.Parent) > 0 {
		dst = appendClock(append(dst, 0x03), e.Parent)
	}
	if len(ops) > 0 {
		dst = value.AppendHead(append(dst, 0x04), 5, uint64(len(ops)))
		for _, p := range ops {
			dst = append(value.AppendHead(dst, 3, uint64(len(p.name))), p.name...)
			if p.ops == nil {
				dst = append(dst, 0xf6)
				continue
			}
			dst = append(value.AppendHead(dst, 2, uint64(len(p.ops))), p.ops...)
		}
	}
	if len(e.Nonce) > 0 {
		dst = append(value.AppendHead(append(dst, 0x05), 2, uint64(len(e.Nonce))), e.Nonce...)
	}
	if e.Timestamp != 0 {
		dst = append(dst, 0x06)
		if e.Timestamp < 0 {
			dst = value.AppendHead(dst, 1, uint64(^e.Timestamp))
		} else {
			dst = value.AppendHead(dst, 0, uint64(e.Timestamp))
		}
	}
	return dst
}

// appendClock appends the canonical encoding of a clock: null for a nil
// one, else an array of 32-byte strings.
func appendClock(dst []byte, c Clock) []byte {
	if c == nil {
		return append(dst, 0xf6)
	}
	dst = value.AppendHead(dst, 4, uint64(len(c)))
	for _, e := range c {
		dst = append(dst, 0x58, id.Size)
		dst = append(dst, e[:]...)
	}
	return dst
}

// encodedSize is an upper bound of the length of e's encoding.
func encodedSize(e *Event) int {
	n := 64 + len(e.Collection) + (2+id.Size)*len(e.Parent) + len(e.Nonce)
	for k, b := range e.Operations {
		n += 18 + len(k) + len(b)
	}
	return n
}

// FieldLayout describes the fields of struct type t as the generic CBOR
// encoder sees them (name, type and cbor tag of each, in order). A
// hand-written encoder compares it with the layout it was written for and
// leaves a type whose fields changed to the generic encoder, so that a
// field added later is never dropped.
func FieldLayout(t reflect.Type) string {
	var b strings.Builder
	for i := range t.NumField() {
		f := t.Field(i)
		fmt.Fprintf(&b, "%s %s %q; ", f.Name, f.Type, f.Tag.Get("cbor"))
	}
	return b.String()
}

// wireLayout is the layout appendEvent and readWire were written for.
const wireLayout = `Collection string "1,keyasint"; Entity []uint8 "2,keyasint,omitempty"; Parent event.Clock "3,keyasint,omitempty"; Operations map[string][]uint8 "4,keyasint,omitempty"; Nonce []uint8 "5,keyasint,omitempty"; Timestamp int64 "6,keyasint,omitempty"; `

// handWritten says the wire form is still the one the hand-written codec
// knows; TestFieldLayout_HandWrittenCodecsKnowEveryField fails otherwise.
var handWritten = FieldLayout(reflect.TypeFor[wire]()) == wireLayout
