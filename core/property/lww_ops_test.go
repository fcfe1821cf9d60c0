package property_test

import (
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
