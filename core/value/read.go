package value

import (
	"math"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/id"
)

// ReadHead reads the head of a CBOR item of the given major type at the
// start of b, in shortest form only, and returns its argument and length.
// ok is false for any other major type, a head that is not the shortest for
// its argument, an indefinite length, or too few bytes.
func ReadHead(b []byte, major byte) (arg uint64, n int, ok bool) {
	if len(b) == 0 || b[0]>>5 != major {
		return 0, 0, false
	}
	ai := b[0] & 0x1f
	switch {
	case ai < 24:
		return uint64(ai), 1, true
	case ai == 24:
		if len(b) < 2 || b[1] < 24 {
			return 0, 0, false
		}
		return uint64(b[1]), 2, true
	case ai == 25:
		if len(b) < 3 {
			return 0, 0, false
		}
		v := uint64(b[1])<<8 | uint64(b[2])
		return v, 3, v > 0xff
	case ai == 26:
		if len(b) < 5 {
			return 0, 0, false
		}
		v := uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
		return v, 5, v > 0xffff
	case ai == 27:
		if len(b) < 9 {
			return 0, 0, false
		}
		var v uint64
		for _, c := range b[1:9] {
			v = v<<8 | uint64(c)
		}
		return v, 9, v > 0xffffffff
	}
	return 0, 0, false // 28-30 reserved, 31 indefinite
}

// readString reads a byte (2) or text (3) string at the start of b and
// returns its content and the item's length.
func readString(b []byte, major byte) ([]byte, int, bool) {
	arg, n, ok := ReadHead(b, major)
	if !ok || arg > uint64(len(b)-n) {
		return nil, 0, false
	}
	end := n + int(arg)
	return b[n:end], end, true
}

// ReadCanonical reads the value whose encoding starts b, when that encoding
// is one AppendCBOR writes (heads in shortest form, definite lengths, valid
// UTF-8), and returns it with the encoding's length. ok is false for
// anything else; UnmarshalCBOR then decides, and says what is wrong. What it
// reads, UnmarshalCBOR reads the same (FuzzReadCanonical holds it to that).
// The value shares no memory with b.
func ReadCanonical(b []byte) (v Value, n int, ok bool) {
	if len(b) == 0 {
		return Null, 0, false
	}
	c := b[0]
	switch c >> 5 {
	case 0, 1:
		u, n, ok := ReadHead(b, c>>5)
		if !ok || u > math.MaxInt64 {
			return Null, 0, false
		}
		if c>>5 == 1 {
			return Int(-1 - int64(u)), n, true
		}
		return Int(int64(u)), n, true
	case 2:
		s, n, ok := readString(b, 2)
		if !ok {
			return Null, 0, false
		}
		return Bytes(s), n, true
	case 3:
		s, n, ok := readString(b, 3)
		if !ok || !utf8.Valid(s) {
			return Null, 0, false
		}
		return String(string(s)), n, true
	case 6:
		t, h, ok := ReadHead(b, 6)
		if !ok {
			return Null, 0, false
		}
		content, n, ok := readString(b[h:], 2)
		if !ok {
			return Null, 0, false
		}
		switch {
		case t == TagRef && len(content) == id.Size:
			return Value{k: KindRef, s: string(content)}, h + n, true
		case t == TagJSON:
			x, err := JSON(content)
			if err != nil {
				return Null, 0, false
			}
			return x, h + n, true
		}
		return Null, 0, false
	}
	switch c {
	case 0xf4:
		return Bool(false), 1, true
	case 0xf5:
		return Bool(true), 1, true
	case 0xf6, 0xf7:
		return Null, 1, true
	case 0xf9:
		if len(b) < 3 {
			return Null, 0, false
		}
		return Float(halfFloat(uint16(b[1])<<8 | uint16(b[2]))), 3, true
	case 0xfa:
		if len(b) < 5 {
			return Null, 0, false
		}
		return Float(float64(math.Float32frombits(uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4])))), 5, true
	case 0xfb:
		if len(b) < 9 {
			return Null, 0, false
		}
		var u uint64
		for _, x := range b[1:9] {
			u = u<<8 | uint64(x)
		}
		return Float(math.Float64frombits(u)), 9, true
	}
	return Null, 0, false
}

// halfFloat converts an IEEE 754 half-precision number to float64.
func halfFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}
