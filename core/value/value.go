// Package value defines Value, the dynamically typed property value that
// queries compare, indexes encode and storage engines materialize, together
// with the total order that AnkQL's ORDER BY uses, and Fields, the
// immutable name-sorted set of an entity's values (entity.State.Values).
package value

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/ankurah/ankurah-go/core/id"
)

// Kind is the dynamic type of a Value. The numeric order of the kinds is the
// order across types: NULL < bool < number < string < bytes < json < entity ref.
type Kind uint8

// The kinds of values. Int and Float are both numbers and compare numerically.
const (
	KindNull Kind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindBytes
	KindJSON
	KindRef
)

// ErrUnsupported is wrapped by errors for Go values that have no Value form.
var ErrUnsupported = errors.New("value: unsupported")

var kindNames = [...]string{"null", "bool", "int", "float", "string", "bytes", "json", "ref"}

// String returns the lower-case name of the kind ("int", "string", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// IsNumber reports whether the kind is int or float.
func (k Kind) IsNumber() bool { return k == KindInt || k == KindFloat }

// Value is an immutable, comparable property value. The zero Value is NULL.
type Value struct {
	k Kind
	i int64  // int, bool as 0/1, or a float's IEEE 754 bits (Float folds -0 and NaN, so equal floats have equal bits)
	s string // string, bytes, canonical json text, or the 32 bytes of a ref
}

// Null is the NULL value.
var Null = Value{}

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{k: KindBool, i: 1}
	}
	return Value{k: KindBool}
}

// Int returns an integer value.
func Int(i int64) Value { return Value{k: KindInt, i: i} }

// float is a KindFloat value's number.
func (v Value) float() float64 { return math.Float64frombits(uint64(v.i)) }

// Float returns a floating-point value. NaN has no place in the total order,
// so Float(NaN) is NULL.
func Float(f float64) Value {
	if math.IsNaN(f) {
		return Null
	}
	if f == 0 {
		f = 0 // fold -0 into +0 so equal values encode identically
	}
	return Value{k: KindFloat, i: int64(math.Float64bits(f))}
}

// String returns a string value. Only valid UTF-8 can be encoded for
// storage (the node refuses to set anything else; bytes belong in Bytes).
func String(s string) Value { return Value{k: KindString, s: s} }

// Bytes returns a byte-string value holding a copy of b.
func Bytes(b []byte) Value { return Value{k: KindBytes, s: string(b)} }

// Ref returns a reference to another entity.
func Ref(e id.EntityID) Value { return Value{k: KindRef, s: string(e[:])} }

// JSON returns a json value from JSON text. The text is canonicalized (object
// keys sorted, insignificant space removed, numbers kept as written) so that
// equal documents are equal Values.
func JSON(raw []byte) (Value, error) {
	canon, err := canonicalJSON(raw)
	if err != nil {
		return Null, fmt.Errorf("value: invalid json: %w", err)
	}
	return Value{k: KindJSON, s: string(canon)}, nil
}

// MustJSON is JSON that panics on invalid text; for literals in tests and examples.
func MustJSON(raw string) Value {
	v, err := JSON([]byte(raw))
	if err != nil {
		panic(err)
	}
	return v
}

// Kind returns the dynamic type of v.
func (v Value) Kind() Kind { return v.k }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.k == KindNull }

// AsBool returns the boolean of a bool value.
func (v Value) AsBool() (bool, bool) {
	if v.k != KindBool {
		return false, false
	}
	return v.i != 0, true
}

// AsInt returns the integer of an int value.
func (v Value) AsInt() (int64, bool) {
	if v.k != KindInt {
		return 0, false
	}
	return v.i, true
}

// AsFloat returns the number of an int or float value as a float64.
func (v Value) AsFloat() (float64, bool) {
	switch v.k {
	case KindFloat:
		return v.float(), true
	case KindInt:
		return float64(v.i), true
	}
	return 0, false
}

// AsString returns the text of a string value.
func (v Value) AsString() (string, bool) { return v.s, v.k == KindString }

// AsBytes returns a copy of the bytes of a bytes value.
func (v Value) AsBytes() ([]byte, bool) {
	if v.k != KindBytes {
		return nil, false
	}
	return []byte(v.s), true
}

// AsJSON returns the canonical JSON text of a json value.
func (v Value) AsJSON() ([]byte, bool) {
	if v.k != KindJSON {
		return nil, false
	}
	return []byte(v.s), true
}

// AsRef returns the entity id of a ref value.
func (v Value) AsRef() (id.EntityID, bool) {
	var e id.EntityID
	if v.k != KindRef {
		return e, false
	}
	copy(e[:], v.s)
	return e, true
}

// Raw returns the string payload of a string, bytes, json or ref value without
// copying. Engines use it to encode keys.
func (v Value) Raw() string { return v.s }

// Interface returns v as a plain Go value: nil, bool, int64, float64, string,
// []byte, json.RawMessage or id.EntityID.
func (v Value) Interface() any {
	switch v.k {
	case KindBool:
		return v.i != 0
	case KindInt:
		return v.i
	case KindFloat:
		return v.float()
	case KindString:
		return v.s
	case KindBytes:
		return []byte(v.s)
	case KindJSON:
		return json.RawMessage(v.s)
	case KindRef:
		e, _ := v.AsRef()
		return e
	}
	return nil
}

// GoString renders v for debugging and test failures.
func (v Value) GoString() string { return v.k.String() + "(" + v.Text() + ")" }

// Text renders v as AnkQL would write it as a literal (strings quoted).
func (v Value) Text() string {
	switch v.k {
	case KindNull:
		return "NULL"
	case KindBool:
		if v.i != 0 {
			return "true"
		}
		return "false"
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindFloat:
		return FormatFloat(v.float())
	case KindString:
		return quote(v.s)
	case KindBytes:
		return fmt.Sprintf("x'%x'", v.s)
	case KindJSON:
		return v.s
	case KindRef:
		e, _ := v.AsRef()
		return "ref(" + e.String() + ")"
	}
	return "?"
}

// FormatFloat writes a float so that it reads back as a float (always with a
// fraction or exponent).
func FormatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if math.IsInf(f, 0) {
		return s
	}
	for _, c := range s {
		if c == '.' || c == 'e' || c == 'E' || c == 'n' || c == 'I' {
			return s
		}
	}
	return s + ".0"
}

func quote(s string) string {
	var b bytes.Buffer
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b.WriteByte('\'')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// From converts a Go value into a Value. It accepts nil, Value, bool, every
// integer and float type, string, []byte, json.RawMessage, id.EntityID, and
// maps and slices (which become json). Unsigned integers above MaxInt64 and
// NaN are errors.
func From(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return Null, nil
	case Value:
		return t, nil
	case *Value:
		if t == nil {
			return Null, nil
		}
		return *t, nil
	case bool:
		return Bool(t), nil
	case int:
		return Int(int64(t)), nil
	case int8:
		return Int(int64(t)), nil
	case int16:
		return Int(int64(t)), nil
	case int32:
		return Int(int64(t)), nil
	case int64:
		return Int(t), nil
	case uint8:
		return Int(int64(t)), nil
	case uint16:
		return Int(int64(t)), nil
	case uint32:
		return Int(int64(t)), nil
	case uint:
		return fromUint(uint64(t))
	case uint64:
		return fromUint(t)
	case float32:
		return fromFloat(float64(t))
	case float64:
		return fromFloat(t)
	case string:
		return String(t), nil
	case []byte:
		return Bytes(t), nil
	case json.RawMessage:
		return JSON(t)
	case json.Number:
		return FromJSON([]byte(t))
	case id.EntityID:
		return Ref(t), nil
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		b, err := json.Marshal(x)
		if err != nil {
			return Null, fmt.Errorf("%w: %T: %v", ErrUnsupported, x, err)
		}
		return JSON(b)
	case reflect.Pointer:
		if rv.IsNil() {
			return Null, nil
		}
		return From(rv.Elem().Interface())
	case reflect.String:
		return String(rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int(rv.Int()), nil
	case reflect.Bool:
		return Bool(rv.Bool()), nil
	case reflect.Float32, reflect.Float64:
		return fromFloat(rv.Float())
	}
	return Null, fmt.Errorf("%w: Go type %T", ErrUnsupported, x)
}

// MustFrom is From that panics; for literals in tests and examples.
func MustFrom(x any) Value {
	v, err := From(x)
	if err != nil {
		panic(err)
	}
	return v
}

func fromUint(u uint64) (Value, error) {
	if u > math.MaxInt64 {
		return Null, fmt.Errorf("%w: %d overflows int64", ErrUnsupported, u)
	}
	return Int(int64(u)), nil
}

func fromFloat(f float64) (Value, error) {
	if math.IsNaN(f) {
		return Null, fmt.Errorf("%w: NaN", ErrUnsupported)
	}
	return Float(f), nil
}
