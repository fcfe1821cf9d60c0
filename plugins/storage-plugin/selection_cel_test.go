package storageplugin_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// Every selection crosses the boundary also as checked CEL: a plugin that
// compiles the protobuf alone (as a CEL implementation in another language
// would) matches exactly the rows the host's interpreter matches.
func TestSelection_CarriesCheckedCELThatAgreesWithTheHost(t *testing.T) {
	var ref id.EntityID
	ref[0] = 3
	queries := []struct {
		text string
		args []any
	}{
		{"true", nil},
		{"false", nil},
		{"a = 1 AND b != 'x' OR c < 2.5", nil},
		{"a >= ? AND NOT (b <= ?)", []any{int64(2), "m"}},
		{"b LIKE 'a%' OR b LIKE '_b\\%'", nil},
		{"a IN (1, 'two', 3.0, NULL) AND b NOT IN (?, ?)", []any{"x", true}},
		{"a IS NULL OR m.k IS NOT NULL", nil},
		{"m.k.z = 2 OR m = ?", []any{value.MustJSON(`{"k":1}`)}},
		{"r = ? OR f = ? OR f < ?", []any{ref, math.Inf(1), math.Inf(-1)}},
		{"NOT (a = 1 AND (b = 'y' OR c IS NULL))", nil},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	vals := []value.Value{value.Null, value.Int(1), value.Int(2), value.Float(2.5), value.Float(math.Inf(1)), value.String("x"),
		value.String("ab%"), value.String("m"), value.Bool(true), value.Bytes([]byte{1}), value.MustJSON(`{"k":{"z":2}}`), value.MustJSON(`{"k":1}`), value.Ref(ref)}
	for _, q := range queries {
		b, err := query.ParseBound(q.text, q.args...)
		if err != nil {
			t.Fatalf("ParseBound(%q): %v", q.text, err)
		}
		raw, err := storageplugin.EncodeSelection(b)
		if err != nil {
			t.Fatal(err)
		}
		form, err := storageplugin.DecodeSelectionCEL(raw)
		if err != nil {
			t.Fatalf("%s: DecodeSelectionCEL: %v", q.text, err)
		}
		prog, err := form.Program()
		if err != nil {
			t.Fatalf("%s: CEL program from the wire: %v", q.text, err)
		}
		host, err := query.CompileInterp(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 300; i++ {
			row := map[string]value.Value{}
			for _, p := range []string{"a", "b", "c", "f", "r", "m"} {
				if v := vals[rng.IntN(len(vals))]; !v.IsNull() || rng.IntN(2) == 0 {
					row[p] = v
				}
			}
			fields := value.FieldsOf(row)
			want, werr := host.Match(fields)
			got, gerr := prog.Match(fields)
			if got != want || (werr == nil) != (gerr == nil) {
				t.Fatalf("%s on %v: CEL from the wire %v (%v), host %v (%v)", q.text, fmt.Sprint(row), got, gerr, want, werr)
			}
		}
	}
}
