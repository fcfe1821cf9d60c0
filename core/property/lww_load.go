package property

import (
	"bytes"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// readLWWState reads b when it is exactly the canonical encoding of an LWW
// state, what State writes: {1: height, 2: {name: {1: value, 2: event id,
// 3: height}, ...}} with heads in shortest form, definite lengths, valid
// UTF-8, values as value.ReadCanonical reads them and the names in core
// deterministic order (so none twice), or {1: height, 2: null}. It returns
// the height and the entries in that order (nil for null) and reports
// whether it read b; anything else is left to the generic decoder, which
// decides and says what is wrong. The entries share no memory with b.
// FuzzLWWStateDecode holds it to the generic decoder.
func readLWWState(b []byte) (height uint64, entries []lwwNamed, ok bool) {
	if len(b) < 2 || b[0] != 0xa2 || b[1] != 0x01 {
		return 0, nil, false
	}
	off := 2
	h, n, ok := value.ReadHead(b[off:], cborUint)
	if !ok {
		return 0, nil, false
	}
	off += n
	if off >= len(b) || b[off] != 0x02 {
		return 0, nil, false
	}
	off++
	if off < len(b) && b[off] == 0xf6 {
		return h, nil, off+1 == len(b)
	}
	count, n, ok := value.ReadHead(b[off:], cborMap)
	// Each entry takes more than one byte, so a count past len(b) is
	// damage; past the decoder's MaxMapPairs the generic decoder refuses.
	if !ok || count > 1<<16 || count > uint64(len(b)) {
		return 0, nil, false
	}
	off += n
	entries = make([]lwwNamed, 0, count)
	var prev []byte
	for range count {
		name, n, ok := value.ReadCanonical(b[off:])
		if !ok || name.Kind() != value.KindString {
			return 0, nil, false
		}
		// Encoded names in increasing byte order: core deterministic
		// order, and no name twice.
		key := b[off : off+n]
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			return 0, nil, false
		}
		prev = key
		off += n
		if off+2 > len(b) || b[off] != 0xa3 || b[off+1] != 0x01 {
			return 0, nil, false
		}
		off += 2
		v, n, ok := value.ReadCanonical(b[off:])
		if !ok {
			return 0, nil, false
		}
		off += n
		// 2: a byte string of exactly id.Size bytes (0x58 0x20).
		if off+3+id.Size > len(b) || b[off] != 0x02 || b[off+1] != 0x58 || b[off+2] != id.Size {
			return 0, nil, false
		}
		e := lwwNamed{name: name.Raw(), lwwEntry: lwwEntry{Value: v}}
		copy(e.Event[:], b[off+3:])
		off += 3 + id.Size
		if off >= len(b) || b[off] != 0x03 {
			return 0, nil, false
		}
		off++
		eh, n, ok := value.ReadHead(b[off:], cborUint)
		if !ok {
			return 0, nil, false
		}
		off += n
		e.Height = eh
		entries = append(entries, e)
	}
	if off != len(b) {
		return 0, nil, false
	}
	return h, entries, true
}
