package value

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// CBOR tags of the value kinds that CBOR has no major type for.
const (
	// TagJSON marks a byte string holding canonical JSON text (IANA tag 262, "embedded JSON").
	TagJSON = 262
	// TagRef marks a 32-byte entity id referenced by a value.
	TagRef = 41000
)

var (
	encMode = must(cbor.CoreDetEncOptions().EncMode())
	decMode = must(cbor.DecOptions{MaxNestedLevels: 4}.DecMode())
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// MarshalCBOR encodes v as one CBOR item: null, bool, integer, float, text
// string, byte string, tag 262 over JSON text, or tag 41000 over a ref's 32 bytes.
func (v Value) MarshalCBOR() ([]byte, error) { return v.AppendCBOR(nil) }

// AppendCBOR appends the encoding MarshalCBOR returns to dst, in the core
// deterministic form (integers and lengths as short as they go, floats in
// the shortest precision that keeps them exact), so that encoders of larger
// items can write values without an allocation each.
func (v Value) AppendCBOR(dst []byte) ([]byte, error) {
	switch v.k {
	case KindNull:
		return append(dst, 0xf6), nil
	case KindBool:
		if v.i != 0 {
			return append(dst, 0xf5), nil
		}
		return append(dst, 0xf4), nil
	case KindInt:
		if v.i < 0 {
			return AppendHead(dst, 1, uint64(^v.i)), nil
		}
		return AppendHead(dst, 0, uint64(v.i)), nil
	case KindFloat:
		b, err := encMode.Marshal(v.float())
		return append(dst, b...), err
	case KindString:
		if !utf8.ValidString(v.s) {
			return dst, fmt.Errorf("value: string is not valid UTF-8")
		}
		return append(AppendHead(dst, 3, uint64(len(v.s))), v.s...), nil
	case KindBytes:
		return append(AppendHead(dst, 2, uint64(len(v.s))), v.s...), nil
	case KindJSON:
		return append(AppendHead(AppendHead(dst, 6, TagJSON), 2, uint64(len(v.s))), v.s...), nil
	case KindRef:
		return append(AppendHead(AppendHead(dst, 6, TagRef), 2, uint64(len(v.s))), v.s...), nil
	}
	return dst, fmt.Errorf("value: cannot encode kind %v", v.k)
}

// KeyOrder compares two text-string map keys in the order core
// deterministic CBOR sorts them, bytewise by their encodings: by length (the
// head grows with it), then by content.
func KeyOrder(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// AppendHead appends the head of a CBOR item of the given major type (0-7)
// and argument (a number, a length or a tag number) in its shortest form.
func AppendHead(dst []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(dst, m|byte(arg))
	case arg <= 0xff:
		return append(dst, m|24, byte(arg))
	case arg <= 0xffff:
		return append(dst, m|25, byte(arg>>8), byte(arg))
	case arg <= 0xffffffff:
		return append(dst, m|26, byte(arg>>24), byte(arg>>16), byte(arg>>8), byte(arg))
	}
	return append(dst, m|27, byte(arg>>56), byte(arg>>48), byte(arg>>40), byte(arg>>32), byte(arg>>24), byte(arg>>16), byte(arg>>8), byte(arg))
}

// UnmarshalCBOR decodes the form MarshalCBOR writes. JSON content is validated
// and canonicalized; a ref must be 32 bytes.
func (v *Value) UnmarshalCBOR(b []byte) error {
	if x, n, ok := ReadCanonical(b); ok && n == len(b) {
		*v = x
		return nil
	}
	return v.unmarshalGeneric(b)
}

// unmarshalGeneric decodes any encoding UnmarshalCBOR accepts and says
// what is wrong with the others.
func (v *Value) unmarshalGeneric(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("value: empty CBOR")
	}
	major := b[0] >> 5
	switch {
	case b[0] == 0xf6 || b[0] == 0xf7:
		*v = Null
		return nil
	case b[0] == 0xf4:
		*v = Bool(false)
		return nil
	case b[0] == 0xf5:
		*v = Bool(true)
		return nil
	case major == 0 || major == 1:
		var i int64
		if err := decMode.Unmarshal(b, &i); err != nil {
			return fmt.Errorf("value: integer: %w", err)
		}
		*v = Int(i)
		return nil
	case b[0] == 0xf9 || b[0] == 0xfa || b[0] == 0xfb:
		var f float64
		if err := decMode.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("value: float: %w", err)
		}
		*v = Float(f)
		return nil
	case major == 3:
		var s string
		if err := decMode.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("value: string: %w", err)
		}
		*v = String(s)
		return nil
	case major == 2:
		var s []byte
		if err := decMode.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("value: bytes: %w", err)
		}
		*v = Bytes(s)
		return nil
	case major == 6:
		var t cbor.RawTag
		if err := decMode.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("value: tag: %w", err)
		}
		var content []byte
		if err := decMode.Unmarshal(t.Content, &content); err != nil {
			return fmt.Errorf("value: tag %d content: %w", t.Number, err)
		}
		switch t.Number {
		case TagJSON:
			x, err := JSON(content)
			if err != nil {
				return err
			}
			*v = x
			return nil
		case TagRef:
			if len(content) != 32 {
				return fmt.Errorf("value: ref of %d bytes, want 32", len(content))
			}
			*v = Value{k: KindRef, s: string(content)}
			return nil
		}
		return fmt.Errorf("value: unknown CBOR tag %d", t.Number)
	}
	return fmt.Errorf("value: unsupported CBOR item 0x%02x", b[0])
}
