package query_test

import (
	"math"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// seekValues holds values of every kind, with the extremes of each.
func seekValues() []value.Value {
	var ref id.EntityID
	ref[0] = 7
	return []value.Value{
		value.Null, value.Bool(false), value.Bool(true),
		value.Float(math.Inf(-1)), value.Int(-3), value.Float(2.5), value.Int(9), value.Float(math.Inf(1)),
		value.String(""), value.String("a"), value.String("b"),
		value.Bytes(nil), value.Bytes([]byte{1}),
		value.MustJSON(`"  "`), value.MustJSON(`" "`), value.MustJSON(`null`), value.MustJSON(`{"a":1}`), value.MustJSON(`[1]`),
		value.Ref(id.EntityID{}), value.Ref(ref),
	}
}

// TestCursorSeek_CoversEveryRowAfterTheCursor checks that Seek keeps every
// row Before puts after the cursor, under both evaluators, for a cursor on
// every kind in both directions, and that its predicate is one every
// selection boundary carries: it prints, binds back from its values and
// compiles to portable CEL.
func TestCursorSeek_CoversEveryRowAfterTheCursor(t *testing.T) {
	vals := seekValues()
	for _, desc := range []bool{false, true} {
		order := []query.Order{{Path: query.Path{"k"}, Desc: desc}}
		for _, cv := range vals {
			cur := &query.Cursor{Keys: []value.Value{cv}}
			seek := cur.Seek(order)
			if seek == nil {
				// Nothing to narrow: only the first rows in the order.
				if !(cv.IsNull() && !desc) {
					t.Errorf("desc=%v cursor %v: no seek", desc, cv)
				}
				continue
			}
			b := &query.Bound{Where: seek, Limit: -1}
			if _, err := query.PortableCEL(b, nil); err != nil {
				t.Errorf("desc=%v cursor %v: PortableCEL(%s): %v", desc, cv, b, err)
			}
			progs := map[string]func(*query.Bound, query.Schema) (query.Program, error){"cel": query.Compile, "interp": query.CompileInterp}
			for name, compile := range progs {
				prog, err := compile(b, nil)
				if err != nil {
					t.Fatalf("%s: compile %s: %v", name, b, err)
				}
				for _, rv := range vals {
					var row value.Fields
					if !rv.IsNull() {
						row = row.With("k", rv)
					}
					var rid id.EntityID
					rid[31] = 1 // sorts after the cursor's all-zero id on a tie
					if !cur.Before(order, row, rid) {
						continue
					}
					ok, err := prog.Match(row)
					if err != nil || !ok {
						t.Errorf("%s desc=%v cursor %v: seek %s drops the row %v after it (err %v)", name, desc, cv, b, rv, err)
					}
				}
			}
		}
	}
}

func TestLeast_IsTheLeastOfItsKind(t *testing.T) {
	for _, v := range seekValues() {
		least, ok := value.Least(v.Kind())
		if v.Kind() == value.KindJSON {
			if ok {
				t.Errorf("Least(json) = %v, want none", least)
			}
			continue
		}
		if !ok || value.Rank(least) != value.Rank(v) || value.Compare(v, least) < 0 {
			t.Errorf("Least(%v) = %v, %v: not the least of %v's kind", v.Kind(), least, ok, v)
		}
		b, err := least.MarshalCBOR()
		var back value.Value
		if err == nil {
			err = back.UnmarshalCBOR(b)
		}
		if err != nil || !value.Equal(back, least) {
			t.Errorf("Least(%v) = %v does not round-trip through CBOR: %v", v.Kind(), least, err)
		}
	}
}
