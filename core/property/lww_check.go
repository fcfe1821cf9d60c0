package property

import (
	"bytes"
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/value"
)

// A state received from a peer is checked before it is stored: its backends
// must load. Loading an LWW state builds a map of its entries with a decoded
// value each, only to be dropped; lwwStateCanonical instead walks the bytes
// of the canonical encoding that State writes, allocating nothing. It
// answers true only for an encoding LoadLWW accepts (the fuzz test holds it
// to that); anything else — another encoding of the same state, or damage —
// is left to LoadLWW, which decides and says what is wrong.

// CBOR major types.
const (
	cborUint  = 0
	cborNeg   = 1
	cborBytes = 2
	cborText  = 3
	cborMap   = 5
)

// lwwStateCanonical reports whether b is, exactly, a canonical LWW state:
// {1: height, 2: {name: {1: value, 2: event id, 3: height}, ...}} with
// definite lengths, the names in core deterministic order (so none twice),
// valid UTF-8 text and values of the forms value.Value decodes.
func lwwStateCanonical(b []byte) bool {
	r := cborScan{b: b}
	if n, ok := r.head(cborMap); !ok || n != 2 {
		return false
	}
	if !r.key(1) || !r.skipUint() || !r.key(2) {
		return false
	}
	n, ok := r.head(cborMap)
	if !ok || n > 1<<16 {
		return false
	}
	var prev []byte
	for i := uint64(0); i < n; i++ {
		start := r.off
		if !r.text() {
			return false
		}
		name := b[start:r.off]
		if i > 0 && bytes.Compare(prev, name) >= 0 {
			return false
		}
		prev = name
		if m, ok := r.head(cborMap); !ok || m != 3 {
			return false
		}
		if !r.key(1) || !r.value() || !r.key(2) || !r.eventID() || !r.key(3) || !r.skipUint() {
			return false
		}
	}
	return r.off == len(b)
}

// cborScan reads CBOR items from b at off; a false result leaves off
// anywhere (the caller gives up).
type cborScan struct {
	b   []byte
	off int
}

// head reads an item's initial byte and argument, of the given major type
// and definite length.
func (r *cborScan) head(major byte) (uint64, bool) {
	if r.off >= len(r.b) || r.b[r.off]>>5 != major {
		return 0, false
	}
	ai := r.b[r.off] & 0x1f
	r.off++
	var size int
	switch {
	case ai < 24:
		return uint64(ai), true
	case ai == 24:
		size = 1
	case ai == 25:
		size = 2
	case ai == 26:
		size = 4
	case ai == 27:
		size = 8
	default:
		return 0, false // indefinite length, or reserved
	}
	if len(r.b)-r.off < size {
		return 0, false
	}
	var arg uint64
	for _, c := range r.b[r.off : r.off+size] {
		arg = arg<<8 | uint64(c)
	}
	r.off += size
	return arg, true
}

func (r *cborScan) key(want uint64) bool {
	k, ok := r.head(cborUint)
	return ok && k == want
}

func (r *cborScan) skipUint() bool {
	_, ok := r.head(cborUint)
	return ok
}

// payload skips the n bytes of a string's content, returning them.
func (r *cborScan) payload(n uint64) ([]byte, bool) {
	if n > uint64(len(r.b)-r.off) {
		return nil, false
	}
	p := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return p, true
}

func (r *cborScan) text() bool {
	n, ok := r.head(cborText)
	if !ok {
		return false
	}
	p, ok := r.payload(n)
	return ok && utf8.Valid(p)
}

func (r *cborScan) eventID() bool {
	n, ok := r.head(cborBytes)
	if !ok || n != 32 {
		return false
	}
	_, ok = r.payload(n)
	return ok
}

// value reads one item of a form value.Value's UnmarshalCBOR accepts:
// false, true, null, undefined, an integer that fits int64, a float, a
// text or byte string, or a ref (tag 41000 over 32 bytes). (JSON, tag 262,
// is canonicalized on decode; it is left to LoadLWW.)
func (r *cborScan) value() bool {
	if r.off >= len(r.b) {
		return false
	}
	c := r.b[r.off]
	switch {
	case c >= 0xf4 && c <= 0xf7:
		r.off++
		return true
	case c == 0xf9 || c == 0xfa || c == 0xfb:
		size := 2 << (c - 0xf9) // half, single, double precision
		if len(r.b)-r.off-1 < size {
			return false
		}
		r.off += 1 + size
		return true
	case c>>5 == cborUint || c>>5 == cborNeg:
		n, ok := r.head(c >> 5)
		return ok && n <= math.MaxInt64
	case c>>5 == cborText:
		return r.text()
	case c>>5 == cborBytes:
		n, ok := r.head(cborBytes)
		if !ok {
			return false
		}
		_, ok = r.payload(n)
		return ok
	case c == 0xd9: // a tag with a 2-byte number
		if len(r.b)-r.off < 3 || binary.BigEndian.Uint16(r.b[r.off+1:]) != value.TagRef {
			return false
		}
		r.off += 3
		return r.eventID() // a ref's content: 32 bytes, like an event id
	}
	return false
}

// CheckState reports whether the named backend can load state: nil exactly
// when its factory makes a backend of it, else the factory's error. It is
// cheaper than loading for the canonical encoding of an LWW state, which it
// checks without building the backend.
func CheckState(name string, state []byte) error {
	f, err := Lookup(name)
	if err != nil {
		return err
	}
	if name == LWWName && lwwStateCanonical(state) {
		return nil
	}
	_, err = f(state)
	return err
}
