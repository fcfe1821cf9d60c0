package property

import (
	"fmt"

	"github.com/ankurah/ankurah-go/core/value"
)

// decodeLWWOps decodes an LWW operations payload. The canonical encoding
// (what TakeOperations writes) is read without reflection; anything else
// goes to the generic decoder, which decides and says what is wrong.
func decodeLWWOps(b []byte) (lwwOps, error) {
	if o, ok := readLWWOps(b); ok {
		return o, nil
	}
	var o lwwOps
	err := decMode.Unmarshal(b, &o)
	return o, err
}

// readLWWOps reads b when it is exactly {1: height, 2: {name: value, ...}}
// in canonical form (heads in shortest form, definite lengths, valid UTF-8,
// no name twice) and reports whether it did. FuzzLWWOpsDecode holds it to
// the generic decoder.
func readLWWOps(b []byte) (lwwOps, bool) {
	var o lwwOps
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
	if !ok || count > 1<<16 {
		return o, false
	}
	off += n
	o.Height = h
	o.Set = make(map[string]value.Value, count)
	for range count {
		k, n, ok := value.ReadCanonical(b[off:])
		if !ok || k.Kind() != value.KindString {
			return lwwOps{}, false
		}
		off += n
		v, n, ok := value.ReadCanonical(b[off:])
		if !ok {
			return lwwOps{}, false
		}
		off += n
		o.Set[k.Raw()] = v
	}
	if off != len(b) || uint64(len(o.Set)) != count {
		return lwwOps{}, false
	}
	return o, true
}

// errLWWOps is the error of an LWW payload that does not decode.
func errLWWOps(ev fmt.Stringer, err error) error {
	return fmt.Errorf("%w: lww operations of event %s: %v", ErrInvalid, ev, err)
}
