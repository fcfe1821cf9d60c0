package property_test

import (
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// The payloads a replica writes for values other than floats and JSON are
// read directly (and FuzzLWWOpsDecode holds that reader to the generic
// decoder).
func TestLWWOps_ReplicaPayloadsAreReadDirectly(t *testing.T) {
	l := property.NewLWW()
	l.Set("title", value.String("document number 7"))
	l.Set("n", value.Int(-7))
	l.Set("big", value.Int(1<<40))
	l.Set("none", value.Null)
	l.Set("done", value.Bool(true))
	l.Set("to", value.Ref(id.EntityID{1, 2, 3}))
	l.Set("blob", value.Bytes(make([]byte, 300)))
	l.Set("a name of more than twenty-three bytes", value.String(string(make([]byte, 70000))))
	ops, err := l.TakeOperations()
	if err != nil {
		t.Fatal(err)
	}
	if ok, h, set, _, gset, err := property.DecodeLWWOpsForTest(ops); !ok || err != nil || h != 1 || len(set) != len(gset) || len(set) != 8 {
		t.Fatalf("direct reader: %v (height %d, %d values); generic: %v, %d values", ok, h, len(set), err, len(gset))
	}
}

// Pending edits keep one value per property, the last set, whether an edit
// sets a few properties or more than its search covers: Get and Values see
// them, and the operation taken carries each once.
func TestLWWOps_PendingEditsKeepTheLastValueOfEachProperty(t *testing.T) {
	for _, n := range []int{1, 3, 16, 17, 200} {
		l := property.NewLWW()
		for round := 0; round < 2; round++ {
			for i := 0; i < n; i++ {
				l.Set(fmt.Sprintf("p%03d", i), value.Int(int64(round*1000+i)))
			}
		}
		l.Set("p000", value.Null) // an unset after a set
		for i := 1; i < n; i++ {
			if got := l.Get(fmt.Sprintf("p%03d", i)); !value.Equal(got, value.Int(int64(1000+i))) {
				t.Fatalf("%d properties: Get p%03d = %v", n, i, got)
			}
		}
		if vs := l.Values(); vs.Len() != n-1 {
			t.Fatalf("%d properties: Values holds %d", n, vs.Len())
		}
		ops, err := l.TakeOperations()
		if err != nil {
			t.Fatal(err)
		}
		ok, _, set, _, gset, err := property.DecodeLWWOpsForTest(ops)
		if !ok || err != nil || len(set) != n || len(gset) != n {
			t.Fatalf("%d properties: the operation holds %d (generic %d, %v)", n, len(set), len(gset), err)
		}
		if !gset["p000"].IsNull() || n > 1 && !value.Equal(gset[fmt.Sprintf("p%03d", n-1)], value.Int(int64(1000+n-1))) {
			t.Fatalf("%d properties: the operation carries an earlier value: %v", n, gset)
		}
		if more, _ := l.TakeOperations(); more != nil {
			t.Fatalf("%d properties: edits left after they were taken", n)
		}
	}
}
