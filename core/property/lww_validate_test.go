package property_test

import (
	"errors"
	"math"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

func TestLWW_ValidateRefusesForgedHeightsAndReservedWrites(t *testing.T) {
	base := property.NewLWW()
	base.Set("name", value.String("x"))
	ops, _ := base.TakeOperations()
	if err := base.Apply(id.EventID{1}, ops); err != nil {
		t.Fatal(err)
	}
	honest := base.Fork().(*property.LWW)
	honest.Set("name", value.String("y"))
	ok, _ := honest.TakeOperations()
	if err := base.Validate(id.EventID{2}, ok); err != nil {
		t.Fatalf("an honest edit was refused: %v", err)
	}
	forged := func(height uint64, prop string, v value.Value) []byte {
		b, err := property.EncodeLWWOpsForTest(height, map[string]value.Value{prop: v})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, ops := range map[string][]byte{
		"height jump":    forged(50, "name", value.String("z")),
		"max height":     forged(math.MaxUint64, "name", value.String("z")),
		"zero height":    forged(0, "name", value.String("z")),
		"_deleted false": forged(2, "_deleted", value.Bool(false)),
		"other reserved": forged(2, "_owner", value.String("z")),
	} {
		if err := base.Validate(id.EventID{3}, ops); !errors.Is(err, property.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := base.Validate(id.EventID{4}, forged(2, "_deleted", value.Bool(true))); err != nil {
		t.Errorf("a delete was refused: %v", err)
	}
	if err := base.Validate(id.EventID{5}, forged(2, "_deleted", value.Null)); err != nil {
		t.Errorf("a restore was refused: %v", err)
	}
}

// Names the Go API refuses are refused on the wire too.
func TestLWW_ValidateRefusesInvalidPropertyNames(t *testing.T) {
	base := property.NewLWW()
	long := make([]byte, 64<<10)
	for i := range long {
		long[i] = 'a'
	}
	for _, name := range []string{"", "a\x00b", string(long), "bad\xff"} {
		b, err := property.EncodeLWWOpsForTest(1, map[string]value.Value{name: value.Int(1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := base.Validate(id.EventID{3}, b); !errors.Is(err, property.ErrInvalid) {
			t.Errorf("property name of %d bytes: err = %v, want ErrInvalid", len(name), err)
		}
	}
}
