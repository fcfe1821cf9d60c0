package value_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// fieldsOf builds the fields of name-value pairs (given in any order).
func fieldsOf(kv ...any) value.Fields {
	var list []value.Field
	for i := 0; i < len(kv); i += 2 {
		list = append(list, value.Field{Name: kv[i].(string), Value: value.MustFrom(kv[i+1])})
	}
	return value.MakeFields(list)
}

// fieldList returns the fields of f in their order, through At.
func fieldList(f value.Fields) []value.Field {
	out := make([]value.Field, f.Len())
	for i := range out {
		out[i] = f.At(i)
	}
	return out
}

// checkFields fails unless f holds exactly want, in this order, through
// every way of reading it.
func checkFields(t *testing.T, what string, f value.Fields, want ...value.Field) {
	t.Helper()
	if got := fieldList(f); !slices.EqualFunc(got, want, func(a, b value.Field) bool {
		return a.Name == b.Name && a.Value == b.Value
	}) {
		t.Fatalf("%s: %#v, want %#v", what, got, want)
	}
	var names []string
	for name, v := range f.All() {
		names = append(names, name)
		if w, ok := f.Lookup(name); !ok || w != v {
			t.Fatalf("%s: All yields %s = %v, Lookup %v, %v", what, name, v, w, ok)
		}
	}
	if want := f.Names(); !slices.Equal(names, want) || len(names) != f.Len() {
		t.Fatalf("%s: All yields %v, Names %v, Len %d", what, names, want, f.Len())
	}
	m := f.Map()
	if m == nil || len(m) != f.Len() {
		t.Fatalf("%s: Map = %v (nil: %v), Len %d", what, m, m == nil, f.Len())
	}
	for _, e := range want {
		if m[e.Name] != e.Value {
			t.Fatalf("%s: Map has %s = %v, want %v", what, e.Name, m[e.Name], e.Value)
		}
	}
}

func field(name string, v any) value.Field {
	return value.Field{Name: name, Value: value.MustFrom(v)}
}

func TestMakeFields_SortsInKeyOrderAndKeepsTheLastDuplicate(t *testing.T) {
	list := []value.Field{
		field("bb", 1), field("a", 2), field("ccc", 3), field("ab", 4),
		field("a", 5), field("z", 6), field("bb", 7), field("", 8), field("a", 9),
	}
	// KeyOrder: shorter names first ("z" before "ab"), then by bytes.
	checkFields(t, "MakeFields", value.MakeFields(list),
		field("", 8), field("a", 9), field("z", 6), field("ab", 4), field("bb", 7), field("ccc", 3))

	// Input already in order is kept as it is.
	checkFields(t, "sorted input", value.MakeFields([]value.Field{field("b", 1), field("c", 2), field("aa", 3)}),
		field("b", 1), field("c", 2), field("aa", 3))
	// Bytes, not runes or case, order names of one length.
	checkFields(t, "bytes", value.MakeFields([]value.Field{field("é", 1), field("zz", 2), field("Zz", 3)}),
		field("Zz", 3), field("zz", 2), field("é", 1))
	// A duplicate pair in sorted order is still one field.
	checkFields(t, "adjacent duplicate", value.MakeFields([]value.Field{field("a", 1), field("a", 2)}), field("a", 2))
	// Many fields, in reverse, with every name twice: the second wins.
	var many, want []value.Field
	for i := 199; i >= 0; i-- {
		many = append(many, field(fmt.Sprint(i), i))
	}
	for i := 199; i >= 0; i-- {
		many = append(many, field(fmt.Sprint(i), -i))
	}
	for i := range 200 {
		want = append(want, field(fmt.Sprint(i), -i)) // decimal names: KeyOrder is numeric order
	}
	checkFields(t, "many", value.MakeFields(many), want...)
}

func TestSortedFields_RefusesUnsortedAndDuplicateNames(t *testing.T) {
	f, ok := value.SortedFields([]value.Field{field("a", 1), field("b", 2), field("aa", 3)})
	if !ok {
		t.Fatal("SortedFields refused names in KeyOrder")
	}
	checkFields(t, "SortedFields", f, field("a", 1), field("b", 2), field("aa", 3))
	for what, list := range map[string][]value.Field{
		"bytes out of order":  {field("b", 1), field("a", 2)},
		"longer name first":   {field("aa", 1), field("b", 2)},
		"duplicate":           {field("a", 1), field("a", 2)},
		"duplicate not first": {field("a", 1), field("b", 2), field("b", 3), field("c", 4)},
		"last out of order":   {field("a", 1), field("b", 2), field("c", 3), field("", 4)},
	} {
		f, ok := value.SortedFields(list)
		if ok || !reflect.DeepEqual(f, value.Fields{}) {
			t.Errorf("%s: SortedFields = %v, %v; want the zero Fields, false", what, f, ok)
		}
	}
	for _, list := range [][]value.Field{nil, {}} {
		if f, ok := value.SortedFields(list); !ok || !reflect.DeepEqual(f, value.Fields{}) {
			t.Errorf("SortedFields(%#v) = %#v, %v; want the zero Fields, true", list, f, ok)
		}
	}
}

// TestFields_Lookup: Get, Lookup and Has find every name and no other, in
// sets scanned (up to 8 fields) and bisected (more), for missing names
// before the first, between any two and after the last.
func TestFields_Lookup(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 8, 9, 10, 33, 100} {
		// Names of three lengths: "k", "kk", "kkk" prefixes with a number,
		// every third of them present (all with "kk", shorter and longer
		// ones missing).
		m := map[string]value.Value{}
		var all []string
		for i := range 3*n + 1 {
			name := strings.Repeat("k", 1+i%3) + fmt.Sprintf("%03d", i)
			all = append(all, name)
			if i%3 == 1 {
				m[name] = value.Int(int64(i))
			} else {
				// Missing, of the present names' length: between them.
				all = append(all, "kk"+fmt.Sprintf("%03d", i))
			}
		}
		slices.SortFunc(all, value.KeyOrder)
		f := value.FieldsOf(m)
		if f.Len() != n {
			t.Fatalf("%d: Len = %d", n, f.Len())
		}
		probes := append([]string{"", "a", "k", "k000x", "zzzzzzzzz", "kkkk000"}, all...)
		if n > 0 {
			names := f.Names()
			first, last := names[0], names[len(names)-1]
			before, between, after := 0, 0, 0
			for _, p := range probes {
				if _, ok := m[p]; ok {
					continue
				}
				switch {
				case value.KeyOrder(p, first) < 0:
					before++
				case value.KeyOrder(p, last) > 0:
					after++
				default:
					between++
				}
			}
			if before == 0 || after == 0 || n > 1 && between == 0 {
				t.Fatalf("%d: probes miss a case: %d before, %d between, %d after", n, before, between, after)
			}
		}
		for _, p := range probes {
			want, wok := m[p]
			if !wok {
				want = value.Null
			}
			got, ok := f.Lookup(p)
			if ok != wok || got != want || f.Get(p) != want || f.Has(p) != wok {
				t.Errorf("%d fields: %q: Lookup %v, %v; Get %v; Has %v; want %v, %v", n, p, got, ok, f.Get(p), f.Has(p), want, wok)
			}
		}
	}
	// A name present with a NULL value is there, unlike a missing one.
	f := fieldsOf("a", nil, "b", 1)
	if v, ok := f.Lookup("a"); !ok || !v.IsNull() || !f.Has("a") {
		t.Errorf("a NULL field: Lookup %v, %v; Has %v", v, ok, f.Has("a"))
	}
}

func TestFields_WithAndWithoutLeaveTheReceiver(t *testing.T) {
	build := func() value.Fields { return fieldsOf("b", 1, "d", 2, "f", 3) }
	base := build()
	unchanged := func(what string) {
		t.Helper()
		if !base.Equal(build()) || !reflect.DeepEqual(base, build()) {
			t.Fatalf("%s changed the receiver: %v", what, base)
		}
		checkFields(t, what+": receiver", base, field("b", 1), field("d", 2), field("f", 3))
	}

	checkFields(t, "With at the start", base.With("a", value.Int(0)),
		field("a", 0), field("b", 1), field("d", 2), field("f", 3))
	unchanged("With at the start")
	checkFields(t, "With in the middle", base.With("c", value.Int(9)),
		field("b", 1), field("c", 9), field("d", 2), field("f", 3))
	unchanged("With in the middle")
	checkFields(t, "With at the end", base.With("aa", value.Int(7)),
		field("b", 1), field("d", 2), field("f", 3), field("aa", 7))
	unchanged("With at the end")
	checkFields(t, "With replacing", base.With("d", value.String("x")),
		field("b", 1), field("d", "x"), field("f", 3))
	unchanged("With replacing")
	checkFields(t, "With replacing the first", base.With("b", value.Null),
		field("b", nil), field("d", 2), field("f", 3))
	unchanged("With replacing the first")
	checkFields(t, "With on the zero Fields", value.Fields{}.With("a", value.Int(1)), field("a", 1))

	// Results do not share what they hold with each other either.
	one, two := base.With("c", value.Int(1)), base.With("c", value.Int(2))
	three := one.With("c", value.Int(3))
	if one.Get("c") != value.Int(1) || two.Get("c") != value.Int(2) || three.Get("c") != value.Int(3) {
		t.Fatalf("With results share values: %v %v %v", one, two, three)
	}
	unchanged("Withs of Withs")

	checkFields(t, "Without the middle", base.Without("d"), field("b", 1), field("f", 3))
	unchanged("Without the middle")
	checkFields(t, "Without the first", base.Without("b"), field("d", 2), field("f", 3))
	unchanged("Without the first")
	checkFields(t, "Without the last", base.Without("f"), field("b", 1), field("d", 2))
	unchanged("Without the last")
	checkFields(t, "Without a missing name", base.Without("c"), field("b", 1), field("d", 2), field("f", 3))
	unchanged("Without a missing name")
	if f := fieldsOf("a", 1).Without("a"); !reflect.DeepEqual(f, value.Fields{}) {
		t.Errorf("Without the only field = %#v, want the zero Fields", f)
	}
	if f := (value.Fields{}).Without("a"); !reflect.DeepEqual(f, value.Fields{}) {
		t.Errorf("Without on the zero Fields = %#v", f)
	}

	// The same on a set large enough to be bisected.
	big := map[string]value.Value{}
	for i := range 20 {
		big[fmt.Sprintf("p%02d", 2*i)] = value.Int(int64(i))
	}
	large := value.FieldsOf(big)
	for _, name := range []string{"a", "p00", "p01", "p19", "p20", "p38", "p39", "zzzz"} {
		want := maps.Clone(big)
		want[name] = value.String(name)
		if got := large.With(name, value.String(name)); !reflect.DeepEqual(got, value.FieldsOf(want)) {
			t.Errorf("large With %s = %v", name, got)
		}
		want = maps.Clone(big)
		delete(want, name)
		if got := large.Without(name); !reflect.DeepEqual(got, value.FieldsOf(want)) {
			t.Errorf("large Without %s = %v", name, got)
		}
		if !reflect.DeepEqual(large, value.FieldsOf(big)) {
			t.Fatalf("large With/Without %s changed the receiver: %v", name, large)
		}
	}
}

func TestFields_Merge(t *testing.T) {
	build := func() (value.Fields, value.Fields) {
		return fieldsOf("a", 1, "c", 3, "e", 5, "gg", 7), fieldsOf("b", 20, "c", 30, "f", 60, "h", 80, "zzz", 90)
	}
	f, o := build()
	checkFields(t, "Merge", f.Merge(o),
		field("a", 1), field("b", 20), field("c", 30), field("e", 5), field("f", 60), field("h", 80), field("gg", 7), field("zzz", 90))
	checkFields(t, "reverse Merge", o.Merge(f),
		field("a", 1), field("b", 20), field("c", 3), field("e", 5), field("f", 60), field("h", 80), field("gg", 7), field("zzz", 90))
	if f0, o0 := build(); !reflect.DeepEqual(f, f0) || !reflect.DeepEqual(o, o0) {
		t.Fatalf("Merge changed its operands: %v, %v", f, o)
	}
	if got := f.Merge(value.Fields{}); !reflect.DeepEqual(got, f) {
		t.Errorf("Merge of nothing = %v", got)
	}
	if got := (value.Fields{}).Merge(o); !reflect.DeepEqual(got, o) {
		t.Errorf("Merge into nothing = %v", got)
	}
	if got := (value.Fields{}).Merge(value.Fields{}); !reflect.DeepEqual(got, value.Fields{}) {
		t.Errorf("Merge of two empty Fields = %#v", got)
	}
	// Against maps: o's values win, whatever the interleaving.
	for shift := range 5 {
		a, b := map[string]value.Value{}, map[string]value.Value{}
		for i := range 30 {
			if i%3 != 0 {
				a[fmt.Sprint(i)] = value.Int(int64(i))
			}
			if (i+shift)%4 == 0 {
				b[fmt.Sprint(i)] = value.Int(int64(-i))
			}
		}
		want := maps.Clone(a)
		maps.Copy(want, b)
		if got := value.FieldsOf(a).Merge(value.FieldsOf(b)); !reflect.DeepEqual(got, value.FieldsOf(want)) {
			t.Errorf("shift %d: Merge = %v, want %v", shift, got, value.FieldsOf(want))
		}
	}
}

func TestFields_EmptyIsTheZeroFields(t *testing.T) {
	var zero value.Fields
	var fromCBOR, fromJSON value.Fields
	if err := fromCBOR.UnmarshalCBOR([]byte{0xa0}); err != nil {
		t.Fatal(err)
	}
	if err := fromJSON.UnmarshalJSON([]byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	sorted, _ := value.SortedFields([]value.Field{})
	for what, f := range map[string]value.Fields{
		"MakeFields(nil)":           value.MakeFields(nil),
		"MakeFields(empty)":         value.MakeFields([]value.Field{}),
		"FieldsOf(map{})":           value.FieldsOf(map[string]value.Value{}),
		"FieldsOf(nil)":             value.FieldsOf(nil),
		"SortedFields(empty)":       sorted,
		"Without the only field":    fieldsOf("a", 1).Without("a"),
		"Clone of the zero Fields":  zero.Clone(),
		"Merge of two empty Fields": zero.Merge(value.Fields{}),
		"UnmarshalCBOR({})":         fromCBOR,
		"UnmarshalJSON({})":         fromJSON,
	} {
		if !reflect.DeepEqual(f, value.Fields{}) || !f.Equal(zero) || f.Len() != 0 {
			t.Errorf("%s = %#v, want the zero Fields", what, f)
		}
	}
	if zero.Equal(fieldsOf("a", nil)) || fieldsOf("a", nil).Equal(zero) {
		t.Error("a NULL field equals no field")
	}
	if m := zero.Map(); m == nil || len(m) != 0 {
		t.Errorf("Map of the zero Fields = %#v, want an empty map", m)
	}
	if n := zero.Names(); len(n) != 0 {
		t.Errorf("Names of the zero Fields = %v", n)
	}
	if s := zero.String(); s != "{}" {
		t.Errorf("String of the zero Fields = %q", s)
	}
}

func TestFields_Equal(t *testing.T) {
	f := fieldsOf("a", 1, "b", "x")
	for _, tt := range []struct {
		o    value.Fields
		want bool
	}{
		{fieldsOf("b", "x", "a", 1), true},
		{fieldsOf("a", 1.0, "b", "x"), true}, // Int(1) equals Float(1.0) in the total order
		{fieldsOf("a", 2, "b", "x"), false},
		{fieldsOf("a", 1, "c", "x"), false},
		{fieldsOf("a", 1), false},
		{fieldsOf("a", 1, "b", "x", "c", nil), false},
	} {
		if got := f.Equal(tt.o); got != tt.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", f, tt.o, got, tt.want)
		}
		if got := tt.o.Equal(f); got != tt.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", tt.o, f, got, tt.want)
		}
	}
}

// everyKind holds a value of every kind, under names of 0 to 30 bytes (a
// name of 24 bytes or more has a two-byte head), in more than 23 fields (a
// two-byte map head).
func everyKind() map[string]value.Value {
	m := map[string]value.Value{
		"":                               value.String(""),
		"null":                           value.Null,
		"t":                              value.Bool(true),
		"f":                              value.Bool(false),
		"int":                            value.Int(-7),
		"min":                            value.Int(math.MinInt64),
		"max":                            value.Int(math.MaxInt64),
		"f16":                            value.Float(1.5),
		"f32":                            value.Float(float64(float32(0.1))),
		"f64":                            value.Float(0.1),
		"inf":                            value.Float(math.Inf(-1)),
		"s":                              value.String("héllo"),
		"bytes":                          value.Bytes([]byte{0, 1, 2}),
		"nobytes":                        value.Bytes(nil),
		"json":                           value.MustJSON(`{"a":[1,2.5,"x"],"b":null}`),
		"ref":                            value.Ref(id.EntityID{7, 8, 9}),
		"a name of more than 24 bytes..": value.Int(24),
	}
	for i := range 10 {
		m[fmt.Sprint("n", i)] = value.Int(int64(i * 1000))
	}
	return m
}

// TestFields_CBOR: MarshalCBOR writes what the generic encoder writes of
// the map (core deterministic CBOR, keys sorted), and UnmarshalCBOR reads
// it back.
func TestFields_CBOR(t *testing.T) {
	for what, m := range map[string]map[string]value.Value{
		"one":        {"a": value.Int(1)},
		"every kind": everyKind(),
	} {
		f := value.FieldsOf(m)
		b, err := f.MarshalCBOR()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		generic := make(map[string]cbor.RawMessage, len(m))
		for k, v := range m {
			raw, err := genericCBOR(v)
			if err != nil {
				t.Fatalf("%s: %s: %v", what, k, err)
			}
			generic[k] = raw
		}
		want, err := genericEnc.Marshal(generic)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("%s: MarshalCBOR\n%x\nthe generic encoder\n%x", what, b, want)
		}
		if got, err := f.AppendCBOR([]byte{0xff}); err != nil || !bytes.Equal(got, append([]byte{0xff}, want...)) {
			t.Fatalf("%s: AppendCBOR = %x, %v", what, got, err)
		}
		if got, err := genericEnc.Marshal(f); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: the generic encoder of Fields = %x, %v", what, got, err)
		}
		var back value.Fields
		if err := back.UnmarshalCBOR(b); err != nil {
			t.Fatalf("%s: UnmarshalCBOR: %v", what, err)
		}
		if !back.Equal(f) || !reflect.DeepEqual(back, f) {
			t.Fatalf("%s: round trip\n%v\nbecame\n%v", what, f, back)
		}
		var viaGeneric value.Fields
		if err := cbor.Unmarshal(b, &viaGeneric); err != nil || !reflect.DeepEqual(viaGeneric, f) {
			t.Fatalf("%s: the generic decoder into Fields = %v, %v", what, viaGeneric, err)
		}
	}
	if b, err := (value.Fields{}).MarshalCBOR(); err != nil || !bytes.Equal(b, []byte{0xa0}) {
		t.Errorf("MarshalCBOR of the zero Fields = %x, %v; want a0", b, err)
	}
	// A value that has no encoding is an error naming its field.
	if _, err := fieldsOf("a", 1, "bad", "\xff").MarshalCBOR(); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("MarshalCBOR of a string not UTF-8: %v", err)
	}
}

func TestFields_UnmarshalCBOR(t *testing.T) {
	// Keys out of canonical order are read, and put in order.
	var f value.Fields
	if err := f.UnmarshalCBOR([]byte{0xa2, 0x62, 'a', 'a', 0x01, 0x61, 'b', 0x02}); err != nil {
		t.Fatal(err)
	}
	checkFields(t, "unsorted map", f, field("b", 2), field("aa", 1))
	// A name twice is refused, whatever its values.
	for _, b := range [][]byte{
		{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02},
		{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x01},
		{0xa3, 0x61, 'a', 0x01, 0x61, 'b', 0x02, 0x61, 'a', 0xf6},
	} {
		var f value.Fields
		if err := f.UnmarshalCBOR(b); err == nil {
			t.Errorf("UnmarshalCBOR(%x) = %v, want a duplicate-key error", b, f)
		}
	}
	// And so is what is not a map of text to values.
	for _, b := range [][]byte{
		{0x80},                   // an array
		{0xa1, 0x01, 0x01},       // an int key
		{0xa1, 0x61, 0xff, 0x01}, // a key not UTF-8
		{0xa1, 0x61, 'a'},        // truncated
	} {
		var f value.Fields
		if err := f.UnmarshalCBOR(b); err == nil {
			t.Errorf("UnmarshalCBOR(%x) = %v, want an error", b, f)
		}
	}
}

func TestFields_JSON(t *testing.T) {
	f := fieldsOf("year", 1999, "name", "Showbiz", "rating", 4.5, "live", false, "none", nil, "meta", value.MustJSON(`{"a":[1]}`))
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	// Names in bytewise order, as encoding/json writes the same map.
	const want = `{"live":false,"meta":{"a":[1]},"name":"Showbiz","none":null,"rating":4.5,"year":1999}`
	if string(b) != want {
		t.Fatalf("json.Marshal = %s, want %s", b, want)
	}
	if m, err := json.Marshal(f.Map()); err != nil || string(m) != want {
		t.Fatalf("json.Marshal of the map = %s, %v; want %s", m, err, want)
	}
	var back value.Fields
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Equal(f) || !reflect.DeepEqual(back, f) {
		t.Fatalf("JSON round trip: %v became %v", f, back)
	}
	// Through a struct, as a field.
	type doc struct {
		Values value.Fields `json:"values"`
	}
	b, err = json.Marshal(doc{f})
	if err != nil || string(b) != `{"values":`+want+`}` {
		t.Fatalf("json.Marshal(doc) = %s, %v", b, err)
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil || !d.Values.Equal(f) {
		t.Fatalf("json.Unmarshal(doc) = %v, %v", d.Values, err)
	}
	if b, err := json.Marshal(value.Fields{}); err != nil || string(b) != `{}` {
		t.Errorf("json.Marshal of the zero Fields = %s, %v", b, err)
	}
	var bad value.Fields
	if err := json.Unmarshal([]byte(`[1]`), &bad); err == nil {
		t.Errorf("json.Unmarshal of an array = %v, want an error", bad)
	}
}

func TestFields_String(t *testing.T) {
	f := fieldsOf("year", 1999, "name", "Showbiz", "none", nil, "rating", 4.5)
	const want = `{name: 'Showbiz', none: NULL, year: 1999, rating: 4.5}`
	if got := f.String(); got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
	if got := fmt.Sprint(f); got != want {
		t.Errorf("fmt.Sprint = %s, want %s", got, want)
	}
}

func ExampleFields() {
	album := value.MakeFields([]value.Field{
		{Name: "year", Value: value.Int(1999)},
		{Name: "name", Value: value.String("Showbiz")},
	})
	// Fields never change: With and Without return new ones.
	edited := album.With("rating", value.Float(4.5)).Without("year")
	fmt.Println(album)
	fmt.Println(edited)
	fmt.Println(album.Get("year").Text(), edited.Has("year"), edited.Get("year").IsNull())
	for name, v := range edited.All() {
		fmt.Println(name, v.Kind())
	}
	b, _ := json.Marshal(edited)
	fmt.Println(string(b))
	// Output:
	// {name: 'Showbiz', year: 1999}
	// {name: 'Showbiz', rating: 4.5}
	// 1999 false true
	// name string
	// rating float
	// {"name":"Showbiz","rating":4.5}
}

func TestFields_OmitZero(t *testing.T) {
	type doc struct {
		A int          `json:"a" cbor:"1,keyasint"`
		F value.Fields `json:"f,omitzero" cbor:"2,keyasint,omitzero"`
	}
	if b, err := json.Marshal(doc{A: 1}); err != nil || string(b) != `{"a":1}` {
		t.Fatalf("json with an empty Fields = %s, %v; want {\"a\":1}", b, err)
	}
	if b, err := cbor.Marshal(doc{A: 1}); err != nil || !bytes.Equal(b, []byte{0xa1, 0x01, 0x01}) {
		t.Fatalf("cbor with an empty Fields = %x, %v; want a10101", b, err)
	}
	if !(value.Fields{}).IsZero() || fieldsOf("a", 1).IsZero() {
		t.Fatal("IsZero: want true for the zero Fields only")
	}
}
