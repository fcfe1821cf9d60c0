package entity

import (
	"math"
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
	if r.off >= len(r.b) || r.b[r.off]>>5 != major {
		return 0, false
	}
	ai := r.b[r.off] & 0x1f
	r.off++
	switch {
	case ai < 24:
		return uint64(ai), true
	case ai == 24:
		if r.off+1 > len(r.b) || r.b[r.off] < 24 {
			return 0, false
		}
		r.off++
		return uint64(r.b[r.off-1]), true
	case ai == 25:
		if r.off+2 > len(r.b) {
			return 0, false
		}
		v := uint64(r.b[r.off])<<8 | uint64(r.b[r.off+1])
		r.off += 2
		return v, v > 0xff
	case ai == 26:
		if r.off+4 > len(r.b) {
			return 0, false
		}
		v := uint64(r.b[r.off])<<24 | uint64(r.b[r.off+1])<<16 | uint64(r.b[r.off+2])<<8 | uint64(r.b[r.off+3])
		r.off += 4
		return v, v > 0xffff
	case ai == 27:
		if r.off+8 > len(r.b) {
			return 0, false
		}
		var v uint64
		for _, c := range r.b[r.off : r.off+8] {
			v = v<<8 | uint64(c)
		}
		r.off += 8
		return v, v > 0xffffffff
	}
	return 0, false // 28-30 reserved, 31 indefinite
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

// A value is one of: a complete Value (inline kinds), a text string whose
// content is a span of the input, or an item decoded by Value.UnmarshalCBOR.
const (
	valInline = iota
	valString
	valItem
)

type fastValue struct {
	key  span
	kind uint8
	item span // valString: the content; valItem: the whole item
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
			if !ok {
				return s, false
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
		s.Backends = make(map[string][]byte, len(backends))
		slab := make([]byte, beBytes)
		p := 0
		for _, be := range backends {
			k := next(be.key.n)
			if be.null {
				s.Backends[k] = nil
				continue
			}
			end := p + int(be.val.n)
			copy(slab[p:end], b[be.val.off:be.val.off+be.val.n])
			s.Backends[k] = slab[p:end:end]
			p = end
		}
		if len(s.Backends) != len(backends) {
			return State{}, false // a duplicate key
		}
	}
	if hasValues {
		s.Values = make(map[string]value.Value, len(values))
		for i := range values {
			fv := &values[i]
			k := next(fv.key.n)
			switch fv.kind {
			case valString:
				fv.v = value.String(next(fv.item.n))
			case valItem:
				if err := fv.v.UnmarshalCBOR(b[fv.item.off : fv.item.off+fv.item.n]); err != nil {
					return State{}, false
				}
			}
			s.Values[k] = fv.v
		}
		if len(s.Values) != len(values) {
			return State{}, false
		}
	}
	return s, true
}

// value reads one property value into fv.
func (r *fastReader) value(fv *fastValue) bool {
	if r.off >= len(r.b) {
		return false
	}
	c := r.b[r.off]
	start := r.off
	switch c >> 5 {
	case 0, 1:
		u, ok := r.head(c >> 5)
		if !ok || u > math.MaxInt64 {
			return false
		}
		if c>>5 == 0 {
			fv.v = value.Int(int64(u))
		} else {
			fv.v = value.Int(-1 - int64(u))
		}
		return true
	case 2:
		sp, ok := r.span(2)
		if !ok {
			return false
		}
		fv.v = value.Bytes(r.b[sp.off : sp.off+sp.n])
		return true
	case 3:
		sp, ok := r.text()
		if !ok {
			return false
		}
		fv.kind, fv.item = valString, sp
		return true
	case 6:
		t, ok := r.head(6)
		if !ok {
			return false
		}
		switch t {
		case value.TagRef:
			e, ok := r.id32()
			if !ok {
				return false
			}
			fv.v = value.Ref(id.EntityID(e))
			return true
		case value.TagJSON:
			if _, ok := r.span(2); !ok {
				return false
			}
			fv.kind, fv.item = valItem, span{int32(start), int32(r.off - start)}
			return true
		}
		return false
	}
	switch c {
	case 0xf4:
		fv.v = value.Bool(false)
	case 0xf5:
		fv.v = value.Bool(true)
	case 0xf6, 0xf7:
		fv.v = value.Null
	case 0xf9, 0xfa, 0xfb:
		n := 3 // half precision: decoded by Value.UnmarshalCBOR
		switch c {
		case 0xfa:
			n = 5
		case 0xfb:
			n = 9
		}
		if r.off+n > len(r.b) {
			return false
		}
		r.off += n
		switch c {
		case 0xfa:
			fv.v = value.Float(float64(math.Float32frombits(uint32(be64(r.b[start+1 : r.off])))))
		case 0xfb:
			fv.v = value.Float(math.Float64frombits(be64(r.b[start+1 : r.off])))
		default:
			fv.kind, fv.item = valItem, span{int32(start), 3}
		}
		return true
	default:
		return false
	}
	r.off++
	return true
}

// be64 reads a big-endian unsigned integer of up to 8 bytes.
func be64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
