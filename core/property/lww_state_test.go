package property_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// State writes the bytes the generic core deterministic encoder writes for
// states of every value kind, names of every head size and any order, and
// heights of every width.
func TestLWW_StateIsTheGenericEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	values := []value.Value{
		value.Null, value.Bool(true), value.Bool(false), value.Int(0), value.Int(23), value.Int(24),
		value.Int(-24), value.Int(-25), value.Int(math.MaxInt64), value.Int(math.MinInt64), value.Int(1 << 33),
		value.Float(0.5), value.Float(1e300), value.Float(-3.25), value.String(""), value.String("document number 7"),
		value.String(strings.Repeat("é", 200)), value.Bytes(nil), value.Bytes(make([]byte, 70000)),
		value.Ref(id.EntityID{9}), value.MustJSON(`{"b":1,"a":[true,null]}`),
	}
	for trial := range 300 {
		l := property.NewLWW()
		for range r.IntN(12) {
			name := strings.Repeat(string(rune('a'+r.IntN(26))), []int{1, 2, 5, 23, 24, 255, 256}[r.IntN(7)])
			l.Set(name, values[r.IntN(len(values))])
		}
		ops, err := l.TakeOperations()
		if err != nil {
			t.Fatal(err)
		}
		if ops != nil {
			if err := l.Apply(id.EventID{byte(trial)}, ops); err != nil {
				t.Fatal(err)
			}
		}
		if trial%3 == 0 {
			// A height beyond one byte: applied as a descendant of a long history.
			forged, _ := property.EncodeLWWOpsForTest([]uint64{300, 70000, 1 << 40}[trial%9/3], map[string]value.Value{"h": value.Int(1)})
			if err := l.Apply(id.EventID{1, byte(trial)}, forged); err != nil {
				t.Fatal(err)
			}
		}
		got, err := l.State()
		if err != nil {
			t.Fatal(err)
		}
		want, err := property.LWWStateGenericForTest(l)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("trial %d: State = %x\nwant %x", trial, got, want)
		}
	}
}
