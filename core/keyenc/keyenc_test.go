package keyenc_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/value"
)

// edgeNumbers are the numbers where an int64/float64 interleaving goes wrong
// first: around 2^53 (where float64 stops holding every integer), around
// ±2^63 (the int64 limits), infinities, tiny fractions and signed zeros.
var edgeNumbers = func() []value.Value {
	var vs []value.Value
	ints := []int64{0, 1, -1, 2, -2, 1 << 53, 1<<53 + 1, 1<<53 - 1, -(1 << 53), -(1 << 53) - 1,
		math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1, 1 << 62, -(1 << 62)}
	for _, i := range ints {
		vs = append(vs, value.Int(i))
	}
	floats := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1, -1, 1.5, -1.5, 1e-300, -1e-300,
		math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
		1 << 53, 1<<53 + 2, -(1 << 53), 9223372036854775808.0, -9223372036854775808.0,
		math.Nextafter(9223372036854775808.0, 0), math.Nextafter(-9223372036854775808.0, 0),
		math.Nextafter(9223372036854775808.0, math.Inf(1)), math.Nextafter(-9223372036854775808.0, math.Inf(-1)),
		1e300, -1e300, math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1),
		math.Nextafter(1, 2), math.Nextafter(1, 0), math.Nextafter(-1, 0), math.Nextafter(-1, -2),
		4503599627370495.5, -4503599627370495.5}
	for _, f := range floats {
		vs = append(vs, value.Float(f))
	}
	return vs
}()

func randomValue(r *rand.Rand) value.Value {
	switch r.IntN(10) {
	case 0:
		return value.Null
	case 1:
		return value.Bool(r.IntN(2) == 0)
	case 2:
		return edgeNumbers[r.IntN(len(edgeNumbers))]
	case 3:
		switch r.IntN(4) {
		case 0:
			return value.Int(int64(r.Uint64()))
		case 1:
			return value.Int(int64(r.IntN(7)) - 3)
		case 2:
			return value.Float(math.Float64frombits(r.Uint64())) // NaN folds to NULL
		default:
			return value.Float(float64(r.IntN(13)-6) / 4)
		}
	case 4, 5:
		return value.String(randomText(r))
	case 6:
		return value.Bytes([]byte(randomText(r)))
	case 7:
		return value.MustJSON(`{"a":"` + strings.Repeat("x", r.IntN(3)) + `"}`)
	case 8:
		var e id.EntityID
		e[0] = byte(r.IntN(3))
		e[31] = byte(r.IntN(3))
		return value.Ref(e)
	default:
		return value.Int(int64(r.IntN(5)))
	}
}

// randomText draws short strings over an alphabet that includes the bytes the
// escaping treats specially.
func randomText(r *rand.Rand) string {
	alphabet := []byte{0x00, 0x01, 0xFF, 'a', 'b'}
	b := make([]byte, r.IntN(4))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// checkPair asserts every property the engines rely on for two values.
func checkPair(t *testing.T, a, b value.Value) {
	t.Helper()
	ka, kb := keyenc.Key(a), keyenc.Key(b)
	want := value.Compare(a, b)
	if got := sign(bytes.Compare(ka, kb)); got != want {
		t.Fatalf("order: Compare(%#v, %#v) = %d but keys %x, %x compare %d", a, b, want, ka, kb, got)
	}
	if want != 0 && (bytes.HasPrefix(ka, kb) || bytes.HasPrefix(kb, ka)) {
		t.Fatalf("prefix-free: keys of %#v and %#v: %x, %x", a, b, ka, kb)
	}
	// Composite keys sort by the value first whatever follows it.
	ca := append(slices.Clip(ka), 0xFF, 0xFF)
	cb := append(slices.Clip(kb), 0x00)
	if want != 0 && sign(bytes.Compare(ca, cb)) != want {
		t.Fatalf("composite: %#v vs %#v: %x, %x", a, b, ca, cb)
	}
}

func TestKey_OrderMatchesCompareOnEdgeNumbers(t *testing.T) {
	for _, a := range edgeNumbers {
		for _, b := range edgeNumbers {
			checkPair(t, a, b)
		}
	}
}

func TestKey_OrderMatchesCompareOnRandomValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		checkPair(t, randomValue(r), randomValue(r))
	}
}

func TestKey_EqualValuesEncodeIdentically(t *testing.T) {
	tests := []struct {
		name string
		a, b value.Value
	}{
		{"int and integral float", value.Int(1), value.Float(1.0)},
		{"negative int and float", value.Int(-7), value.Float(-7.0)},
		{"2^53", value.Int(1 << 53), value.Float(1 << 53)},
		{"min int64", value.Int(math.MinInt64), value.Float(-9223372036854775808.0)},
		{"negative zero", value.Float(math.Copysign(0, -1)), value.Int(0)},
		{"json canonical form", value.MustJSON(`{"b":1, "a":2}`), value.MustJSON(`{"a":2,"b":1}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ka, kb := keyenc.Key(tt.a), keyenc.Key(tt.b); !bytes.Equal(ka, kb) {
				t.Errorf("Key(%#v) = %x, Key(%#v) = %x", tt.a, ka, tt.b, kb)
			}
		})
	}
}

func TestKey_KindsOrderAcrossTypes(t *testing.T) {
	ordered := []value.Value{
		value.Null, value.Bool(false), value.Bool(true), value.Float(math.Inf(-1)), value.Int(0),
		value.Float(math.Inf(1)), value.String(""), value.String("\xff"), value.Bytes(nil),
		value.MustJSON(`null`), value.Ref(id.EntityID{}),
	}
	for i := 1; i < len(ordered); i++ {
		if bytes.Compare(keyenc.Key(ordered[i-1]), keyenc.Key(ordered[i])) >= 0 {
			t.Errorf("Key(%#v) not below Key(%#v)", ordered[i-1], ordered[i])
		}
	}
}

func TestKindRange_HoldsExactlyThatKind(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20_000 {
		v := randomValue(r)
		k := keyenc.Key(v)
		for kind := value.KindNull; kind <= value.KindRef; kind++ {
			lo, hi := keyenc.KindRange(kind)
			in := bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0
			same := v.Kind() == kind || (v.Kind().IsNumber() && kind.IsNumber())
			if in != same {
				t.Fatalf("KindRange(%s) = [%x, %x) and Key(%#v) = %x: in range %v", kind, lo, hi, v, k, in)
			}
		}
	}
}

func TestAppendStringPrefix_SelectsStringsWithThatPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 50_000 {
		p, v := randomText(r), randomValue(r)
		lo := keyenc.AppendStringPrefix(nil, p)
		hi := keyenc.PrefixEnd(lo)
		k := keyenc.Key(v)
		in := bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0)
		s, isString := v.AsString()
		if want := isString && strings.HasPrefix(s, p); in != want {
			t.Fatalf("prefix %q, value %#v: key %x in [%x, %x) = %v, want %v", p, v, k, lo, hi, in, want)
		}
	}
}

func TestAppendString_NamesSortAndDoNotRunTogether(t *testing.T) {
	names := []string{"", "a", "a\x00", "a\x00b", "a\x01", "ab", "b"}
	for i := range names {
		for j := range names {
			ki := append(keyenc.AppendString(nil, names[i]), 'z')
			kj := append(keyenc.AppendString(nil, names[j]), 'a')
			want := strings.Compare(names[i], names[j])
			if want == 0 {
				continue
			}
			if got := sign(bytes.Compare(ki, kj)); got != want {
				t.Errorf("names %q, %q: composite keys compare %d, want %d", names[i], names[j], got, want)
			}
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		name   string
		prefix []byte
		want   []byte
	}{
		{"increments the last byte", []byte{1, 2}, []byte{1, 3}},
		{"drops trailing 0xFF", []byte{1, 0xFF, 0xFF}, []byte{2}},
		{"no bound for all 0xFF", []byte{0xFF}, nil},
		{"no bound for empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyenc.PrefixEnd(tt.prefix); !bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("PrefixEnd(%x) = %x, want %x", tt.prefix, got, tt.want)
			}
		})
	}
}

// fuzzValue builds a value from fuzzer-chosen parts.
func fuzzValue(kind uint8, i int64, f float64, s string) value.Value {
	switch kind % 9 {
	case 0:
		return value.Null
	case 1:
		return value.Bool(i&1 == 1)
	case 2:
		return value.Int(i)
	case 3:
		return value.Float(f)
	case 4:
		return value.String(s)
	case 5:
		return value.Bytes([]byte(s))
	case 6:
		if v, err := value.JSON([]byte(s)); err == nil {
			return v
		}
		return value.Null
	case 7:
		var e id.EntityID
		copy(e[:], s)
		return value.Ref(e)
	default:
		return value.Float(float64(i)) // an int rounded to float, compared with its neighbours
	}
}

func FuzzKeyOrder(f *testing.F) {
	f.Add(uint8(2), int64(1), 1.0, "a", uint8(3), int64(0), 1.0, "b")
	f.Add(uint8(2), int64(1<<53+1), 0.0, "", uint8(8), int64(1<<53+1), 0.0, "")
	f.Add(uint8(4), int64(0), 0.0, "a\x00", uint8(4), int64(0), 0.0, "a")
	f.Add(uint8(3), int64(0), math.Inf(1), "", uint8(2), int64(math.MaxInt64), 0.0, "")
	f.Fuzz(func(t *testing.T, k1 uint8, i1 int64, f1 float64, s1 string, k2 uint8, i2 int64, f2 float64, s2 string) {
		checkPair(t, fuzzValue(k1, i1, f1, s1), fuzzValue(k2, i2, f2, s2))
	})
}
