package property

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// loadLWWGeneric is LoadLWW by the generic decoder alone, as it was before
// readLWWState: what LoadLWW must answer for every input.
func loadLWWGeneric(state []byte) (*LWW, error) {
	l := NewLWW()
	if len(state) == 0 {
		return l, nil
	}
	var s lwwState
	if err := decMode.Unmarshal(state, &s); err != nil {
		return nil, err
	}
	l.height = s.Height
	if s.Entries != nil {
		l.entries = entriesOf(s.Entries)
	}
	return l, nil
}

// sameValue is value identity: the same kind and content, a float by its
// bits (reflect.DeepEqual holds a NaN unequal to itself).
func sameValue(a, b value.Value) bool {
	if a.Kind() == value.KindFloat && b.Kind() == value.KindFloat {
		x, _ := a.AsFloat()
		y, _ := b.AsFloat()
		return math.Float64bits(x) == math.Float64bits(y)
	}
	return reflect.DeepEqual(a, b)
}

// sameEntries reports whether two entry lists are identical, nil and
// empty told apart.
func sameEntries(a, b []lwwNamed) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.name != y.name || x.Event != y.Event || x.Height != y.Height || !sameValue(x.Value, y.Value) {
			return false
		}
	}
	return true
}

// lwwStateSeeds are LWW states as replicas write them: every kind of
// value, heights of every head size, no entries, many entries.
func lwwStateSeeds(tb testing.TB) [][]byte {
	var out [][]byte
	add := func(l *LWW) {
		b, err := l.State()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	for i, set := range []map[string]value.Value{
		{"name": value.String("Showbiz"), "year": value.Int(1999), "_deleted": value.Bool(true)},
		{"score": value.Float(0.5), "f": value.Float(0.1), "nan": value.Float(math.NaN()), "neg": value.Int(-1 << 40),
			"cover": value.Bytes([]byte{1, 2}), "j": value.MustJSON(`{"a":[1]}`), "r": value.Ref(id.EntityID{3}), "gone": value.Null, "ü": value.String("")},
		{},
	} {
		l := NewLWW()
		for k, v := range set {
			l.Set(k, v)
		}
		if len(set) > 0 {
			ops, err := l.TakeOperations()
			if err != nil {
				tb.Fatal(err)
			}
			if err := l.Apply(id.EventID{byte(i + 1), 0xff}, ops); err != nil {
				tb.Fatal(err)
			}
		}
		add(l)
		l.height = 1<<40 + uint64(i)
		add(l)
	}
	many := NewLWW()
	for i := range 300 {
		many.Set("p"+strconv.Itoa(i), value.Int(int64(i)))
	}
	ops, err := many.TakeOperations()
	if err != nil {
		tb.Fatal(err)
	}
	if err := many.Apply(id.EventID{9}, ops); err != nil {
		tb.Fatal(err)
	}
	add(many)
	add(&LWW{height: 3}) // entries nil: 2 is null
	return out
}

// fuzzCorpus returns the inputs of a []byte fuzz target's stored corpus
// (testdata/fuzz/name), so a differential target replays what another
// target found.
func fuzzCorpus(tb testing.TB, name string) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			tb.Fatalf("%s: not a []byte corpus entry", f)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, []byte(s))
	}
	if len(out) == 0 {
		tb.Fatalf("no corpus in testdata/fuzz/%s", name)
	}
	return out
}

// Every state a replica writes is read by readLWWState, not the generic
// decoder (so FuzzLWWStateDecode tests the path LoadLWW takes), and loads
// as the generic decoder loads it.
func TestLoadLWW_ReplicaStatesAreReadDirectly(t *testing.T) {
	for _, b := range lwwStateSeeds(t) {
		if _, _, ok := readLWWState(b); !ok {
			t.Errorf("%x: a replica's state is left to the generic decoder", b)
		}
		got, err := LoadLWW(b)
		if err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		want, err := loadLWWGeneric(b)
		if err != nil {
			t.Fatalf("%x: generic: %v", b, err)
		}
		if got.height != want.height || !sameEntries(got.entries, want.entries) {
			t.Errorf("%x: loaded %d %v, generic %d %v", b, got.height, got.entries, want.height, want.entries)
		}
	}
}

// lwwStateEdges are encodings near a replica's state that the direct
// reader must leave to the generic decoder or read as it does: a name
// twice, names out of order, a trailing byte, a long-form head, an
// indefinite map, an entry without a key, undefined for the entries.
func lwwStateEdges() [][]byte {
	entry := func(name string, h byte) []byte {
		b := append([]byte{0x60 | byte(len(name))}, name...)
		b = append(b, 0xa3, 0x01, 0x01, 0x02, 0x58, 0x20)
		b = append(b, make([]byte, 32)...)
		return append(b, 0x03, h)
	}
	state := func(head []byte, entries ...[]byte) []byte {
		b := append([]byte{0xa2, 0x01, 0x05, 0x02}, head...)
		for _, e := range entries {
			b = append(b, e...)
		}
		return b
	}
	a, b := entry("a", 1), entry("b", 2)
	return [][]byte{
		state([]byte{0xa2}, a, b),
		state([]byte{0xa2}, a, a),
		state([]byte{0xa2}, b, a),
		state([]byte{0xa1}, entry("aa", 1)),
		append(state([]byte{0xa2}, a, b), 0x00),
		state([]byte{0xb8, 0x02}, a, b),
		append(state([]byte{0xbf}, a, b), 0xff),
		state([]byte{0xa1}, append(append([]byte{0x61, 'a', 0xa2, 0x01, 0x01}, 0x03), 0x01)),
		state([]byte{0xa1}, append(entry("a", 0x18), 0x01)),
		state([]byte{0xa1}, append(entry("a", 0x18), 0x18)),
		state([]byte{0xf6}),
		state([]byte{0xf7}),
		state([]byte{0xa0}),
		{0xa2, 0x01, 0x18, 0x05, 0x02, 0xa0},
		{0xa2, 0x02, 0xa0, 0x01, 0x05},
		{0xa1, 0x01, 0x05},
	}
}

// checkLoadLWW fails t unless LoadLWW, with its direct reader, answers for
// b what the generic decoder answers, and what readLWWState reads keeps
// none of b (it changes b).
func checkLoadLWW(t *testing.T, b []byte) {
	t.Helper()
	orig := bytes.Clone(b)
	want, werr := loadLWWGeneric(orig)
	got, err := LoadLWW(b)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%x: LoadLWW error %v, generic error %v", orig, err, werr)
	}
	if err != nil {
		return
	}
	if got.height != want.height || !sameEntries(got.entries, want.entries) {
		t.Fatalf("%x: loaded %d %v, generic %d %v", orig, got.height, got.entries, want.height, want.entries)
	}
	h, entries, ok := readLWWState(b)
	if !ok {
		return
	}
	for i := range b {
		b[i] ^= 0xff
	}
	if entries == nil { // 2: null, a new backend's entries
		entries = []lwwNamed{}
	}
	if h != want.height || !sameEntries(entries, want.entries) {
		t.Fatalf("%x: read %d %v after the input changed, generic %d %v", orig, h, entries, want.height, want.entries)
	}
}

// Encodings near a replica's state load as the generic decoder loads them,
// or are refused as it refuses them.
func TestLoadLWW_EdgesAgreeWithTheGenericDecoder(t *testing.T) {
	for _, b := range lwwStateEdges() {
		checkLoadLWW(t, b)
	}
	// The direct reader takes the first (canonical) one.
	if _, _, ok := readLWWState(lwwStateEdges()[0]); !ok {
		t.Error("a canonical state of two entries is left to the generic decoder")
	}
}

// FuzzLWWStateDecode holds LoadLWW, with its direct reader, to the generic
// decoder (checkLoadLWW), from replicas' states, the edges above and what
// FuzzLoadLWW found.
func FuzzLWWStateDecode(f *testing.F) {
	for _, b := range lwwStateSeeds(f) {
		f.Add(b)
	}
	for _, b := range lwwStateEdges() {
		f.Add(b)
	}
	for _, b := range fuzzCorpus(f, "FuzzLoadLWW") {
		f.Add(b)
	}
	f.Fuzz(checkLoadLWW)
}

// BenchmarkLoadLWW loads a replica's state of five properties by LoadLWW
// (direct) and by the generic decoder alone (generic), in the same run.
func BenchmarkLoadLWW(b *testing.B) {
	l := NewLWW()
	l.Set("name", value.String("Showbiz"))
	l.Set("year", value.Int(1999))
	l.Set("score", value.Float(0.5))
	l.Set("cover", value.Bytes([]byte{1, 2}))
	l.Set("_deleted", value.Bool(false))
	ops, err := l.TakeOperations()
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Apply(id.EventID{7}, ops); err != nil {
		b.Fatal(err)
	}
	state, err := l.State()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		load func([]byte) (*LWW, error)
	}{{"direct", LoadLWW}, {"generic", loadLWWGeneric}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.load(state); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
