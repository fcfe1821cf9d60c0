package value

import (
	"fmt"
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
func (v Value) MarshalCBOR() ([]byte, error) {
	switch v.k {
	case KindNull:
		return []byte{0xf6}, nil
	case KindBool:
		if v.i != 0 {
			return []byte{0xf5}, nil
		}
		return []byte{0xf4}, nil
	case KindInt:
		return encMode.Marshal(v.i)
	case KindFloat:
		return encMode.Marshal(v.f)
	case KindString:
		if !utf8.ValidString(v.s) {
			return nil, fmt.Errorf("value: string is not valid UTF-8")
		}
		return encMode.Marshal(v.s)
	case KindBytes:
		return encMode.Marshal([]byte(v.s))
	case KindJSON:
		return encMode.Marshal(cbor.Tag{Number: TagJSON, Content: []byte(v.s)})
	case KindRef:
		return encMode.Marshal(cbor.Tag{Number: TagRef, Content: []byte(v.s)})
	}
	return nil, fmt.Errorf("value: cannot encode kind %v", v.k)
}

// UnmarshalCBOR decodes the form MarshalCBOR writes. JSON content is validated
// and canonicalized; a ref must be 32 bytes.
func (v *Value) UnmarshalCBOR(b []byte) error {
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
