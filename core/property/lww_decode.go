package property

import (
	"bytes"
	"fmt"

	"github.com/ankurah/ankurah-go/core/value"
)

// decodeLWWOps decodes an LWW operations payload. The canonical encoding
// (what TakeOperations writes) is read without reflection; anything else
// goes to the generic decoder, which decides and says what is wrong.
func decodeLWWOps(b []byte) (decodedOps, error) {
	if o, ok := readLWWOps(b); ok {
		return o, nil
	}
	var o lwwOps
	if err := decMode.Unmarshal(b, &o); err != nil {
		return decodedOps{}, err
	}
	d := decodedOps{Height: o.Height, Set: make([]lwwWrite, 0, len(o.Set))}
	for prop, v := range o.Set {
		d.Set = append(d.Set, lwwWrite{prop, v})
	}
	return d, nil
}

// readLWWOps reads b when it is exactly {1: height, 2: {name: value, ...}}
// in canonical form (heads in shortest form, definite lengths, valid UTF-8,
// the names in core deterministic order, so none twice) and reports whether
// it did. FuzzLWWOpsDecode holds it to the generic decoder.
func readLWWOps(b []byte) (decodedOps, bool) {
	var o decodedOps
	if len(b) < 2 || b[0] != 0xa2 || b[1] != 0x01 {
		return o, false
	}
	off := 2
	h, n, ok := value.ReadHead(b[off:], 0)
	if !ok {
		return o, false
	}
	off += n
	if off >= len(b) || b[off] != 0x02 {
		return o, false
	}
	off++
	count, n, ok := value.ReadHead(b[off:], 5)
	if !ok || count > 1<<16 || count > uint64(len(b)) {
		return o, false
	}
	off += n
	o.Height = h
	o.Set = make([]lwwWrite, 0, count)
	var prev []byte
	for range count {
		k, n, ok := value.ReadCanonical(b[off:])
		if !ok || k.Kind() != value.KindString {
			return decodedOps{}, false
		}
		// Encoded names in increasing byte order: core deterministic
		// order, and no name twice.
		key := b[off : off+n]
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			return decodedOps{}, false
		}
		prev = key
		off += n
		v, n, ok := value.ReadCanonical(b[off:])
		if !ok {
			return decodedOps{}, false
		}
		off += n
		o.Set = append(o.Set, lwwWrite{k.Raw(), v})
	}
	if off != len(b) {
		return decodedOps{}, false
	}
	return o, true
}

// errLWWOps is the error of an LWW payload that does not decode.
func errLWWOps(ev fmt.Stringer, err error) error {
	return fmt.Errorf("%w: lww operations of event %s: %v", ErrInvalid, ev, err)
}
