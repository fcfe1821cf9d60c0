package entity

import (
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// The fast decoder reads the canonical encoding of a state — what Encode
// writes — without reflection, and declines everything else (returning ok
// false) so that the generic decoder, which knows every rule and names every
// error, decides. It therefore never accepts an input the generic decoder
// refuses, and never reads one differently: FuzzDecodeFast holds it to that.
//
// What it declines: heads that are not in shortest form, indefinite lengths,
// keys out of order or unknown, any field or value of a type the canonical
// encoding does not write there, invalid UTF-8, integers beyond int64,
// counts beyond the smallest decoder limit, duplicate map keys and trailing
// bytes.

// fastMaxCount is the largest array or map the fast decoder reads: the
// smallest element limit of the generic decoders a state goes through.
const fastMaxCount = 1 << 16

// fastReader reads CBOR heads in shortest form.
type fastReader struct {
	b   []byte
	off int
}

// head reads a head of the given major type in shortest form and returns its
// argument.
func (r *fastReader) head(major byte) (uint64, bool) {
	v, n, ok := value.ReadHead(r.b[r.off:], major)
	r.off += n
	return v, ok
}

// count reads the head of an array or map of at most fastMaxCount items.
func (r *fastReader) count(major byte) (int, bool) {
	n, ok := r.head(major)
	if !ok || n > fastMaxCount {
		return 0, false
	}
	return int(n), true
}

// span reads a byte (2) or text (3) string and returns where its content is.
func (r *fastReader) span(major byte) (span, bool) {
	n, ok := r.head(major)
	if !ok || n > uint64(len(r.b)-r.off) {
		return span{}, false
	}
	s := span{int32(r.off), int32(n)}
	r.off += int(n)
	return s, true
}

// text reads a text string of valid UTF-8.
func (r *fastReader) text() (span, bool) {
	s, ok := r.span(3)
	return s, ok && utf8.Valid(r.b[s.off:s.off+s.n])
}

// id32 reads a byte string of exactly 32 bytes (an entity or event id).
func (r *fastReader) id32() ([]byte, bool) {
	if r.off+2+id.Size > len(r.b) || r.b[r.off] != 0x58 || r.b[r.off+1] != id.Size {
		return nil, false
	}
	r.off += 2 + id.Size
	return r.b[r.off-id.Size : r.off], true
}

// span is where a string's content lies in the input (a state is at most
// MaxEncodedSize bytes, well within int32).
type span struct{ off, n int32 }

// A value is either complete, or a text string whose content is a span of
// the input.
const (
	valInline = iota
	valString
)

type fastValue struct {
	key  span
	kind uint8
	item span // valString: the content
	v    value.Value
}

type fastBackend struct {
	key, val span
	null     bool // the value is CBOR null: a nil slice
}

// decodeFast decodes b when it is exactly one canonically encoded state and
// reports whether it did. The state's strings share one allocation and its
// backend buffers another; nothing of it aliases b.
func decodeFast(b []byte) (State, bool) {
	var s State
	if len(b) > MaxEncodedSize {
		return s, false
	}
	r := fastReader{b: b}
	n, ok := r.count(5)
	if !ok || n > 5 {
		return s, false
	}
	var (
		collection span
		beBuf      [4]fastBackend
		backends   = beBuf[:0]
		valBuf     [16]fastValue
		values     = valBuf[:0]
		hasBackend bool
		hasValues  bool
		strBytes   int
		beBytes    int
	)
	last := byte(0)
	for range n {
		if r.off >= len(b) || b[r.off] <= last || b[r.off] > 5 {
			return s, false
		}
		key := b[r.off]
		last = key
		r.off++
		switch key {
		case 1:
			e, ok := r.id32()
			if !ok {
				return s, false
			}
			s.ID = id.EntityID(e)
		case 2:
			if collection, ok = r.text(); !ok {
				return s, false
			}
			strBytes += int(collection.n)
		case 3:
			if r.off < len(b) && b[r.off] == 0xf6 {
				r.off++
				break // a nil head
			}
			k, ok := r.count(4)
			if !ok || k > (len(b)-r.off)/(2+id.Size) {
				return s, false // more ids than the input holds: allocate nothing
			}
			s.Head = make(event.Clock, k)
			for i := range k {
				e, ok := r.id32()
				if !ok {
					return s, false
				}
				s.Head[i] = id.EventID(e)
			}
		case 4:
			k, ok := r.count(5)
			if !ok {
				return s, false
			}
			hasBackend = true
			for range k {
				var be fastBackend
				if be.key, ok = r.text(); !ok {
					return s, false
				}
				if r.off < len(b) && b[r.off] == 0xf6 {
					r.off++
					be.null = true
				} else if be.val, ok = r.span(2); !ok {
					return s, false
				}
				strBytes += int(be.key.n)
				beBytes += int(be.val.n)
				backends = append(backends, be)
			}
		case 5:
			k, ok := r.count(5)
			if !ok {
				return s, false
			}
			hasValues = true
			for range k {
				var fv fastValue
				if fv.key, ok = r.text(); !ok {
					return s, false
				}
				if !r.value(&fv) {
					return s, false
				}
				strBytes += int(fv.key.n)
				if fv.kind == valString {
					strBytes += int(fv.item.n)
				}
				values = append(values, fv)
			}
		}
	}
	if r.off != len(b) {
		return s, false
	}

	// Every string of the state is a substring of one.
	var tmp [256]byte
	all := tmp[:0]
	if strBytes > len(tmp) {
		all = make([]byte, 0, strBytes)
	}
	all = append(all, b[collection.off:collection.off+collection.n]...)
	for _, be := range backends {
		all = append(all, b[be.key.off:be.key.off+be.key.n]...)
	}
	for _, fv := range values {
		all = append(all, b[fv.key.off:fv.key.off+fv.key.n]...)
		if fv.kind == valString {
			all = append(all, b[fv.item.off:fv.item.off+fv.item.n]...)
		}
	}
	text := string(all)
	at := 0
	next := func(n int32) string {
		t := text[at : at+int(n)]
		at += int(n)
		return t
	}
	s.Collection = next(collection.n)
	if hasBackend {
		s.Backends = make(Backends, len(backends))
		slab := make([]byte, beBytes)
		p := 0
		for i, be := range backends {
			s.Backends[i].Name = next(be.key.n)
			if i > 0 && value.KeyOrder(s.Backends[i-1].Name, s.Backends[i].Name) >= 0 {
				// Out of order or a duplicate name: the generic decoder
				// sorts the one and refuses the other.
				return State{}, false
			}
			if be.null {
				continue
			}
			end := p + int(be.val.n)
			copy(slab[p:end], b[be.val.off:be.val.off+be.val.n])
			s.Backends[i].State = slab[p:end:end]
			p = end
		}
	}
	if hasValues && len(values) > 0 {
		list := make([]value.Field, len(values))
		for i := range values {
			fv := &values[i]
			list[i].Name = next(fv.key.n)
			if fv.kind == valString {
				fv.v = value.String(next(fv.item.n))
			}
			list[i].Value = fv.v
		}
		if s.Values, ok = value.SortedFields(list); !ok {
			// Out of order or a duplicate name: the generic decoder
			// sorts the one and refuses the other.
			return State{}, false
		}
	}
	return s, true
}

// value reads one property value into fv: a text string as a span (its
// string is cut from the state's one allocation), anything else as
// value.ReadCanonical reads it.
func (r *fastReader) value(fv *fastValue) bool {
	if r.off < len(r.b) && r.b[r.off]>>5 == 3 {
		sp, ok := r.text()
		fv.kind, fv.item = valString, sp
		return ok
	}
	v, n, ok := value.ReadCanonical(r.b[r.off:])
	fv.v = v
	r.off += n
	return ok
}
