package value

import (
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Field is one named value of a Fields.
type Field struct {
	Name  string
	Value Value
}

// Fields is a set of named values — an entity's materialized properties —
// held as one slice sorted by name in KeyOrder, the order of a canonical
// CBOR map's keys, each name once.
//
// A Fields is immutable: no method changes it, and With and Without return a
// new one. Copies share their backing array, which is therefore safe to
// share between readers (a storage engine's stored states and the live
// queries that hold them). It is one allocation of 48 bytes a field where a
// map of the same values is a header and a group of eight slots, and it
// iterates, compares and encodes in its one order without sorting.
//
// The zero Fields is empty. An empty Fields is always the zero one, so
// reflect.DeepEqual and == on the slice are not needed to compare: use Equal.
type Fields struct {
	list []Field
}

// linearMax is the size up to which Lookup scans instead of bisecting.
const linearMax = 8

// MakeFields returns the Fields of list, taking ownership of it: it is
// sorted in place and, where a name occurs more than once, the last of
// its values is kept.
func MakeFields(list []Field) Fields {
	if len(list) == 0 {
		return Fields{}
	}
	if sorted(list) {
		return Fields{list: list}
	}
	slices.SortStableFunc(list, func(a, b Field) int { return KeyOrder(a.Name, b.Name) })
	out := list[:0]
	for i, f := range list {
		if i+1 < len(list) && list[i+1].Name == f.Name {
			continue // a later value of the same name wins
		}
		out = append(out, f)
	}
	clear(list[len(out):])
	return Fields{list: out[:len(out):len(out)]}
}

// SortedFields returns the Fields of list, taking ownership of it, when its
// names are already in strictly increasing KeyOrder (as a canonical CBOR
// map's keys are); it reports false, and returns the zero Fields, when they
// are not.
func SortedFields(list []Field) (Fields, bool) {
	if !sorted(list) {
		return Fields{}, false
	}
	if len(list) == 0 {
		return Fields{}, true
	}
	return Fields{list: list}, true
}

func sorted(list []Field) bool {
	for i := 1; i < len(list); i++ {
		if KeyOrder(list[i-1].Name, list[i].Name) >= 0 {
			return false
		}
	}
	return true
}

// FieldsOf returns the Fields of a map's values.
func FieldsOf(m map[string]Value) Fields {
	if len(m) == 0 {
		return Fields{}
	}
	list := make([]Field, 0, len(m))
	for k, v := range m {
		list = append(list, Field{Name: k, Value: v})
	}
	slices.SortFunc(list, func(a, b Field) int { return KeyOrder(a.Name, b.Name) })
	return Fields{list: list}
}

// IsZero reports whether f is empty (for encoders' omitzero: a struct
// field of type Fields is not a map to them, and omitempty does not omit it).
func (f Fields) IsZero() bool { return len(f.list) == 0 }

// Len returns the number of fields.
func (f Fields) Len() int { return len(f.list) }

// At returns the i-th field in name order; it panics when i is out of range.
func (f Fields) At(i int) Field { return f.list[i] }

// Get returns the value of name, NULL when there is none.
func (f Fields) Get(name string) Value {
	v, _ := f.Lookup(name)
	return v
}

// Lookup returns the value of name and whether there is one.
func (f Fields) Lookup(name string) (Value, bool) {
	if i, ok := f.index(name); ok {
		return f.list[i].Value, true
	}
	return Null, false
}

// Has reports whether there is a value of name.
func (f Fields) Has(name string) bool {
	_, ok := f.index(name)
	return ok
}

// index returns the position of name, or where it would be inserted.
func (f Fields) index(name string) (int, bool) {
	if len(f.list) <= linearMax {
		for i := range f.list {
			// KeyOrder inline: by length, then bytes.
			n := f.list[i].Name
			switch {
			case len(n) < len(name):
				continue
			case len(n) > len(name):
				return i, false
			case n == name:
				return i, true
			case n > name:
				return i, false
			}
		}
		return len(f.list), false
	}
	return slices.BinarySearchFunc(f.list, name, func(e Field, t string) int { return KeyOrder(e.Name, t) })
}

// All yields the fields' names and values in name order.
func (f Fields) All() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		for _, e := range f.list {
			if !yield(e.Name, e.Value) {
				return
			}
		}
	}
}

// Names returns the fields' names in name order.
func (f Fields) Names() []string {
	out := make([]string, len(f.list))
	for i, e := range f.list {
		out[i] = e.Name
	}
	return out
}

// Map returns the fields as a new map, never nil.
func (f Fields) Map() map[string]Value {
	m := make(map[string]Value, len(f.list))
	for _, e := range f.list {
		m[e.Name] = e.Value
	}
	return m
}

// With returns f with name set to v (added or replaced); f is unchanged.
func (f Fields) With(name string, v Value) Fields {
	i, found := f.index(name)
	if found {
		list := slices.Clone(f.list)
		list[i].Value = v
		return Fields{list: list}
	}
	list := make([]Field, len(f.list)+1)
	copy(list, f.list[:i])
	list[i] = Field{Name: name, Value: v}
	copy(list[i+1:], f.list[i:])
	return Fields{list: list}
}

// Without returns f without a value of name; f is unchanged.
func (f Fields) Without(name string) Fields {
	i, found := f.index(name)
	if !found {
		return f
	}
	if len(f.list) == 1 {
		return Fields{}
	}
	list := make([]Field, 0, len(f.list)-1)
	list = append(append(list, f.list[:i]...), f.list[i+1:]...)
	return Fields{list: list}
}

// Merge returns f with every field of o set over it (o's values win); f
// and o are unchanged.
func (f Fields) Merge(o Fields) Fields {
	switch {
	case len(o.list) == 0:
		return f
	case len(f.list) == 0:
		return o
	}
	list := make([]Field, 0, len(f.list)+len(o.list))
	i, j := 0, 0
	for i < len(f.list) && j < len(o.list) {
		switch c := KeyOrder(f.list[i].Name, o.list[j].Name); {
		case c < 0:
			list = append(list, f.list[i])
			i++
		case c > 0:
			list = append(list, o.list[j])
			j++
		default:
			list = append(list, o.list[j])
			i, j = i+1, j+1
		}
	}
	list = append(append(list, f.list[i:]...), o.list[j:]...)
	return Fields{list: list}
}

// Clone returns a copy of f with its own backing array.
func (f Fields) Clone() Fields { return Fields{list: slices.Clone(f.list)} }

// Equal reports whether f and o hold the same names with values Equal in
// the total order (Int(1) equals Float(1.0)).
func (f Fields) Equal(o Fields) bool {
	if len(f.list) != len(o.list) {
		return false
	}
	for i := range f.list {
		a, b := f.list[i], o.list[i]
		if a.Name != b.Name || !Equal(a.Value, b.Value) {
			return false
		}
	}
	return true
}

// String formats the fields as {name: value, …} in name order, each value
// as AnkQL writes it (Value.Text).
func (f Fields) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range f.list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Name)
		b.WriteString(": ")
		b.WriteString(e.Value.Text())
	}
	b.WriteByte('}')
	return b.String()
}

// AppendCBOR appends the fields as a canonical CBOR map of name to value.
func (f Fields) AppendCBOR(dst []byte) ([]byte, error) {
	dst = AppendHead(dst, 5, uint64(len(f.list)))
	var err error
	for _, e := range f.list {
		dst = AppendHead(dst, 3, uint64(len(e.Name)))
		dst = append(dst, e.Name...)
		if dst, err = e.Value.AppendCBOR(dst); err != nil {
			return nil, fmt.Errorf("value: field %q: %w", e.Name, err)
		}
	}
	return dst, nil
}

// MarshalCBOR encodes the fields as a canonical CBOR map of name to value.
func (f Fields) MarshalCBOR() ([]byte, error) { return f.AppendCBOR(nil) }

// UnmarshalCBOR decodes a CBOR map of name to value; a name that occurs
// twice is an error.
func (f *Fields) UnmarshalCBOR(b []byte) error {
	var m map[string]Value
	if err := fieldsDecMode.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("value: fields: %w", err)
	}
	*f = FieldsOf(m)
	return nil
}

// fieldsDecMode refuses duplicate names, which a map would silently merge.
var fieldsDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// MarshalJSON encodes the fields as a JSON object of name to value, its
// names in bytewise order (as encoding/json writes a map's).
func (f Fields) MarshalJSON() ([]byte, error) {
	order := slices.Clone(f.list)
	slices.SortFunc(order, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
	b := []byte{'{'}
	for i, e := range order {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(e.Name)
		if err != nil {
			return nil, err
		}
		v, err := e.Value.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("value: field %q: %w", e.Name, err)
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON decodes a JSON object of name to value.
func (f *Fields) UnmarshalJSON(b []byte) error {
	var m map[string]Value
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("value: fields: %w", err)
	}
	*f = FieldsOf(m)
	return nil
}
