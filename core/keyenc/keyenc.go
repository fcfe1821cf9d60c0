// Package keyenc encodes values as byte strings whose bytewise order is the
// total order of value.Compare, so that key-value engines (bolt, TiKV,
// IndexedDB) can keep secondary indexes as plain sorted keys and answer
// equality, IN, range and LIKE-prefix terms with key-range scans.
//
// Two values encode to the same bytes exactly when value.Compare says they
// are equal (Int(1) and Float(1.0) share one key, so an equality scan finds
// both), and bytes.Compare of two encodings has the sign of value.Compare of
// the values. Every encoding is prefix-free: no encoding is a prefix of
// another, so encodings can be concatenated into composite keys
// (collection, property, value, entity id) that sort component by component.
//
// # Byte format
//
// Each value starts with a tag byte; tags follow the order of the kinds.
//
//	NULL        0x10
//	false       0x20
//	true        0x21
//	number      0x30 f8          a float64 below -2^63 (and -Inf)
//	            0x31 t8 c [f8]   an int64 or a float64 in [-2^63, 2^63)
//	            0x32 f8          a float64 at or above 2^63 (and +Inf)
//	string      0x40 esc 0x00 0x01
//	bytes       0x50 esc 0x00 0x01
//	json        0x60 esc 0x00 0x01   (canonical JSON text)
//	ref         0x70 id32            (the 32 bytes of the entity id)
//
// f8 is a float64 made sortable: its IEEE bits big-endian, with the sign
// bit flipped for a positive number and every bit flipped for a negative one.
// A number in [-2^63, 2^63) is split exactly into t, its integer part
// (truncated toward zero), and r = x - t, a fraction in (-1, 1) that float
// subtraction computes without rounding. t8 is t as big-endian two's
// complement with the sign bit flipped. c is 0x00 when r < 0 (followed by r as
// f8), 0x01 when r = 0 (nothing follows), 0x02 when r > 0 (followed by r as
// f8). An int64 therefore encodes as 0x31 t8 0x01, and so does every float64
// with an integral value in range. NaN is not a value (value.Float folds it
// to NULL) and -0 is +0.
//
// esc is the string with every 0x00 byte written as 0x00 0xFF; the
// terminator 0x00 0x01 sorts below any escaped byte, so a string sorts before
// its extensions. Names (collections, properties) use the same escaping
// without a tag (AppendString).
//
// Tags leave 0x00 and 0xFF unused, so every encoding has a successor key
// (PrefixEnd) and engines may use those bytes for their own markers.
package keyenc

import (
	"encoding/binary"
	"math"

	"github.com/ankurah/ankurah-go/core/value"
)

// Tag bytes of the encoding; see the package documentation.
const (
	tagNull     = 0x10
	tagFalse    = 0x20
	tagTrue     = 0x21
	tagNumLow   = 0x30
	tagNumMid   = 0x31
	tagNumHigh  = 0x32
	tagString   = 0x40
	tagBytes    = 0x50
	tagJSON     = 0x60
	tagRef      = 0x70
	tagAfterRef = 0x71
)

const (
	fracNeg  = 0x00
	fracZero = 0x01
	fracPos  = 0x02
)

// two63 is 2^63, the first float64 above every int64.
const two63 = 9223372036854775808.0

// Append appends the order-preserving encoding of v to dst and returns the
// extended slice.
func Append(dst []byte, v value.Value) []byte {
	switch v.Kind() {
	case value.KindNull:
		return append(dst, tagNull)
	case value.KindBool:
		if b, _ := v.AsBool(); b {
			return append(dst, tagTrue)
		}
		return append(dst, tagFalse)
	case value.KindInt:
		i, _ := v.AsInt()
		dst = append(dst, tagNumMid)
		dst = binary.BigEndian.AppendUint64(dst, uint64(i)^(1<<63))
		return append(dst, fracZero)
	case value.KindFloat:
		f, _ := v.AsFloat()
		return appendFloat(dst, f)
	case value.KindString:
		return appendEscaped(append(dst, tagString), v.Raw())
	case value.KindBytes:
		return appendEscaped(append(dst, tagBytes), v.Raw())
	case value.KindJSON:
		return appendEscaped(append(dst, tagJSON), v.Raw())
	case value.KindRef:
		return append(append(dst, tagRef), v.Raw()...)
	}
	panic("keyenc: unknown value kind " + v.Kind().String())
}

// Key returns the encoding of v in a new slice.
func Key(v value.Value) []byte { return Append(nil, v) }

func appendFloat(dst []byte, f float64) []byte {
	switch {
	case f < -two63:
		return appendSortable(append(dst, tagNumLow), f)
	case f >= two63:
		return appendSortable(append(dst, tagNumHigh), f)
	}
	t := math.Trunc(f)
	r := f - t // exact: the fraction of a float64 is representable
	dst = append(dst, tagNumMid)
	dst = binary.BigEndian.AppendUint64(dst, uint64(int64(t))^(1<<63))
	switch {
	case r < 0:
		return appendSortable(append(dst, fracNeg), r)
	case r > 0:
		return appendSortable(append(dst, fracPos), r)
	}
	return append(dst, fracZero)
}

// appendSortable appends the 8 bytes of f whose unsigned order is f's order.
func appendSortable(dst []byte, f float64) []byte {
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, b)
}

func appendEscaped(dst []byte, s string) []byte {
	dst = appendEscapedOpen(dst, s)
	return append(dst, 0x00, 0x01)
}

// appendEscapedOpen escapes s without the terminator.
func appendEscapedOpen(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0x00, 0xFF)
			continue
		}
		dst = append(dst, s[i])
	}
	return dst
}

// AppendString appends a name (a collection or property) in the escaped,
// terminated, untagged form, so that composite keys built from names sort
// name by name and one name's keys never run into another's.
func AppendString(dst []byte, s string) []byte { return appendEscaped(dst, s) }

// AppendStringPrefix appends the key prefix shared by the encodings of every
// string value that starts with prefix (and of no other value): the range
// [AppendStringPrefix(p, prefix), PrefixEnd(that)) answers `LIKE 'prefix%'`.
func AppendStringPrefix(dst []byte, prefix string) []byte {
	return appendEscapedOpen(append(dst, tagString), prefix)
}

// KindRange returns the key range [lo, hi) that holds the encodings of every
// value of kind k and of no other kind. Int and float share the number range.
func KindRange(k value.Kind) (lo, hi []byte) {
	switch k {
	case value.KindNull:
		return []byte{tagNull}, []byte{tagNull + 1}
	case value.KindBool:
		return []byte{tagFalse}, []byte{tagTrue + 1}
	case value.KindInt, value.KindFloat:
		return []byte{tagNumLow}, []byte{tagNumHigh + 1}
	case value.KindString:
		return []byte{tagString}, []byte{tagString + 1}
	case value.KindBytes:
		return []byte{tagBytes}, []byte{tagBytes + 1}
	case value.KindJSON:
		return []byte{tagJSON}, []byte{tagJSON + 1}
	case value.KindRef:
		return []byte{tagRef}, []byte{tagAfterRef}
	}
	panic("keyenc: unknown value kind " + k.String())
}

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, so [prefix, PrefixEnd(prefix)) is exactly the keys with that prefix.
// It returns nil (no upper bound) when prefix is empty or all 0xFF bytes.
// The result is a new slice.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := make([]byte, i+1)
			copy(end, prefix)
			end[i]++
			return end
		}
	}
	return nil
}
