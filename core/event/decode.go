package event

import (
	"math"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/internal/intern"
	"github.com/ankurah/ankurah-go/core/value"
)

// readWire reads b when it is exactly the canonical encoding of an event's
// wire form — what Encode writes — and reports whether it did. Anything
// else (heads not in shortest form, indefinite lengths, keys out of order or
// unknown, an entity id that is not 32 bytes, invalid UTF-8, counts beyond
// the decoder's limits, a name twice, trailing bytes) is declined and left
// to the generic decoder, which decides and says what is wrong. FuzzReadWire
// holds it to that decoder. Nothing of the result aliases b.
func readWire(b []byte) (wire, bool) {
	var w wire
	h, off, ok := value.ReadHead(b, 5)
	if !ok || h > 6 {
		return w, false
	}
	last := byte(0)
	for range h {
		if off >= len(b) || b[off] <= last || b[off] > 6 {
			return wire{}, false
		}
		key := b[off]
		last = key
		off++
		switch key {
		case 1:
			s, n, ok := readBytes(b[off:], 3)
			if !ok || !utf8.Valid(s) {
				return wire{}, false
			}
			w.Collection = intern.String(s)
			off += n
		case 2:
			if !isID(b[off:]) {
				return wire{}, false
			}
			// Shares b: Decode copies it into an id at once.
			w.Entity = b[off+2 : off+2+id.Size : off+2+id.Size]
			off += 2 + id.Size
		case 3:
			k, n, ok := value.ReadHead(b[off:], 4)
			if !ok || k > 1<<16 || k > uint64(len(b)-off-n)/(2+id.Size) {
				return wire{}, false
			}
			off += n
			w.Parent = make(Clock, k)
			for i := range w.Parent {
				if !isID(b[off:]) {
					return wire{}, false
				}
				copy(w.Parent[i][:], b[off+2:])
				off += 2 + id.Size
			}
		case 4:
			k, n, ok := value.ReadHead(b[off:], 5)
			if !ok || k > 1<<12 || k > uint64(len(b)-off-n)/2 {
				return wire{}, false
			}
			off += n
			// The buffers share one allocation, each capped at its length.
			slab := make([]byte, 0, len(b)-off)
			w.Operations = make(map[string][]byte, k)
			for range k {
				name, n, ok := readBytes(b[off:], 3)
				if !ok || !utf8.Valid(name) {
					return wire{}, false
				}
				off += n
				if off < len(b) && b[off] == 0xf6 {
					w.Operations[intern.String(name)] = nil
					off++
					continue
				}
				ops, n, ok := readBytes(b[off:], 2)
				if !ok {
					return wire{}, false
				}
				off += n
				start := len(slab)
				slab = append(slab, ops...)
				w.Operations[intern.String(name)] = slab[start:len(slab):len(slab)]
			}
			if uint64(len(w.Operations)) != k {
				return wire{}, false
			}
		case 5:
			s, n, ok := readBytes(b[off:], 2)
			if !ok {
				return wire{}, false
			}
			w.Nonce = make([]byte, len(s))
			copy(w.Nonce, s)
			off += n
		case 6:
			if off >= len(b) {
				return wire{}, false
			}
			major := b[off] >> 5
			u, n, ok := value.ReadHead(b[off:], major)
			if !ok || major > 1 || u > math.MaxInt64 {
				return wire{}, false
			}
			w.Timestamp = int64(u)
			if major == 1 {
				w.Timestamp = -1 - int64(u)
			}
			off += n
		}
	}
	if off != len(b) {
		return wire{}, false
	}
	return w, true
}

// readBytes reads a byte (2) or text (3) string in canonical form at the
// start of b and returns its content and the item's length.
func readBytes(b []byte, major byte) ([]byte, int, bool) {
	arg, n, ok := value.ReadHead(b, major)
	if !ok || arg > uint64(len(b)-n) {
		return nil, 0, false
	}
	return b[n : n+int(arg)], n + int(arg), true
}

// isID reports whether b starts with a byte string of exactly 32 bytes.
func isID(b []byte) bool {
	return len(b) >= 2+id.Size && b[0] == 0x58 && b[1] == id.Size
}
