package text

import (
	"strings"
	"unicode/utf8"
)

// The Go API counts Unicode code points; Yjs clocks and lengths count UTF-16
// code units. These helpers translate at that boundary. Item contents are kept
// as UTF-8 bytes.

// toValidUTF8 replaces every invalid byte with U+FFFD.
func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		b.WriteRune(r)
		s = s[n:]
	}
	return b.String()
}

// lengths returns the UTF-16 length and the code point count of valid UTF-8.
func lengths(b []byte) (u16, cp int) {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			u16++
			cp++
			continue
		}
		_, n := utf8.DecodeRune(b[i:])
		if n == 4 {
			u16 += 2
		} else {
			u16++
		}
		cp++
		i += n
	}
	return u16, cp
}

// byteOffsetCP returns the byte offset of code point k in b and the UTF-16
// offset of the same place.
func byteOffsetCP(b []byte, k int) (bo, u16 int) {
	for cp := 0; cp < k && bo < len(b); cp++ {
		_, n := utf8.DecodeRune(b[bo:])
		if n == 4 {
			u16 += 2
		} else {
			u16++
		}
		bo += n
	}
	return bo, u16
}

// splitU16 splits b at UTF-16 offset k. A split inside a surrogate pair turns
// both halves into U+FFFD, as Yjs does (yjs#248), so both sides stay valid
// text of the same UTF-16 lengths.
func splitU16(b []byte, k int) (left, right []byte) {
	bo, u := 0, 0
	for u < k && bo < len(b) {
		_, n := utf8.DecodeRune(b[bo:])
		w := 1
		if n == 4 {
			w = 2
		}
		if u+w > k { // k falls between the two halves of a surrogate pair
			l := append(b[:bo:bo], "\uFFFD"...)
			r := append([]byte("\uFFFD"), b[bo+n:]...)
			return l, r
		}
		u += w
		bo += n
	}
	return b[:bo:bo], b[bo:]
}
