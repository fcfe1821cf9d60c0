package text

import (
	"fmt"
	"unicode/utf8"
)

// The lib0 primitives Yjs encodes with: unsigned LEB128 varints (7 bits a
// byte, least significant first) and strings as a varint byte length followed
// by UTF-8.

// maxSafeInteger is the largest integer lib0 reads (JavaScript's
// Number.MAX_SAFE_INTEGER); a varint beyond it is invalid.
const maxSafeInteger = 1<<53 - 1

type encoder struct{ buf []byte }

func (e *encoder) uint8(b byte) { e.buf = append(e.buf, b) }

func (e *encoder) varUint(v uint64) {
	for v >= 0x80 {
		e.buf = append(e.buf, byte(v)|0x80)
		v >>= 7
	}
	e.buf = append(e.buf, byte(v))
}

func (e *encoder) varString(s []byte) {
	e.varUint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) raw(b []byte) { e.buf = append(e.buf, b...) }

type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrInvalidUpdate, d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) uint8() (byte, error) {
	if d.pos >= len(d.buf) {
		return 0, d.errorf("unexpected end of update")
	}
	b := d.buf[d.pos]
	d.pos++
	return b, nil
}

func (d *decoder) varUint() (uint64, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if d.pos >= len(d.buf) {
			return 0, d.errorf("unexpected end of update in a varint")
		}
		b := d.buf[d.pos]
		d.pos++
		if shift > 49 {
			return 0, d.errorf("varint larger than 2^53")
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
	}
	if v > maxSafeInteger {
		return 0, d.errorf("varint %d larger than 2^53-1", v)
	}
	return v, nil
}

// varLen reads a varint that counts something still to come in the input, so
// a hostile length cannot make us allocate more than the input could hold.
func (d *decoder) varLen(what string) (int, error) {
	n, err := d.varUint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.buf)-d.pos) {
		return 0, d.errorf("%s count %d exceeds the remaining %d bytes", what, n, len(d.buf)-d.pos)
	}
	return int(n), nil
}

func (d *decoder) varBytes() ([]byte, error) {
	n, err := d.varLen("string byte")
	if err != nil {
		return nil, err
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

// varString reads a string; invalid UTF-8 becomes U+FFFD as JavaScript's
// TextDecoder does.
func (d *decoder) varString() ([]byte, error) {
	b, err := d.varBytes()
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return []byte(toValidUTF8(string(b))), nil
	}
	return b, nil
}

// rawVarString returns the bytes of one encoded var string, prefix included,
// for content we keep opaque and write back unchanged.
func (d *decoder) rawVarString() ([]byte, error) {
	start := d.pos
	if _, err := d.varBytes(); err != nil {
		return nil, err
	}
	return d.buf[start:d.pos], nil
}
