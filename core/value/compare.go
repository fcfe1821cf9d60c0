package value

import (
	"math"
	"strings"

	"github.com/ankurah/ankurah-go/core/id"
)

// Compare is the total order of values used by ORDER BY and by index keys:
// across kinds NULL < bool < number < string < bytes < json < ref; int and
// float compare numerically; strings, bytes, json text and refs by bytes.
// It returns -1, 0 or +1. Int(1) and Float(1.0) compare equal.
func Compare(a, b Value) int {
	ka, kb := rank(a.k), rank(b.k)
	if ka != kb {
		if ka < kb {
			return -1
		}
		return 1
	}
	switch a.k {
	case KindNull:
		return 0
	case KindBool:
		return cmpInt(a.i, b.i)
	case KindInt, KindFloat:
		return compareNumbers(a, b)
	default:
		return strings.Compare(a.s, b.s)
	}
}

// rank maps kinds to their place in the order, with int and float sharing one.
func rank(k Kind) int {
	if k == KindFloat {
		return int(KindInt)
	}
	return int(k)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareNumbers(a, b Value) int {
	switch {
	case a.k == KindInt && b.k == KindInt:
		return cmpInt(a.i, b.i)
	case a.k == KindFloat && b.k == KindFloat:
		return cmpFloat(a.float(), b.float())
	case a.k == KindInt:
		return CompareIntFloat(a.i, b.float())
	default:
		return -CompareIntFloat(b.i, a.float())
	}
}

// CompareIntFloat compares an int64 with a float64 exactly (no rounding of
// the integer to float).
func CompareIntFloat(i int64, f float64) int {
	if math.IsInf(f, 1) || f >= 9223372036854775808.0 {
		return -1
	}
	if math.IsInf(f, -1) || f < -9223372036854775808.0 {
		return 1
	}
	t := math.Trunc(f)
	if c := cmpInt(i, int64(t)); c != 0 {
		return c
	}
	return cmpFloat(0, f-t)
}

// Comparable reports whether AnkQL can compare a and b: both non-NULL and of
// the same kind, or both numbers. Any other comparison is unknown.
func Comparable(a, b Value) bool {
	if a.k == KindNull || b.k == KindNull {
		return false
	}
	return a.k == b.k || (a.k.IsNumber() && b.k.IsNumber())
}

// Equal reports whether a and b are the same value in the total order
// (Int(1) equals Float(1.0)).
func Equal(a, b Value) bool { return Compare(a, b) == 0 }

// Rank returns the place of v's kind in the order across kinds (int and
// float share one). Two non-NULL values are Comparable exactly when their
// ranks are equal, so the values comparable with v form one contiguous run
// in Compare's order.
func Rank(v Value) int { return rank(v.k) }

// Least returns the least value of a kind in the total order, a real value
// of that kind that every encoding (CBOR, AnkQL arguments) carries: false,
// -Inf, the empty string, empty bytes, the all-zero ref; NULL for KindNull.
// Every value v of kind k has Compare(v, Least(k)) >= 0, so `x >= Least(k)`
// matches every x of kind k. ok is false for KindJSON: canonical JSON texts
// have no least one (" " sorts after "  ", which sorts after "   ", ...).
func Least(k Kind) (v Value, ok bool) {
	switch k {
	case KindNull:
		return Null, true
	case KindBool:
		return Bool(false), true
	case KindInt, KindFloat:
		return Float(math.Inf(-1)), true
	case KindString:
		return String(""), true
	case KindBytes:
		return Bytes(nil), true
	case KindRef:
		return Ref(id.EntityID{}), true
	}
	return Null, false
}
