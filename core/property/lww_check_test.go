package property_test

import (
	"errors"
	"math"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// lwwState is the state of an LWW backend after one event set props.
func lwwState(t testing.TB, props map[string]value.Value) []byte {
	l := property.NewLWW()
	for k, v := range props {
		l.Set(k, v)
	}
	ops, err := l.TakeOperations()
	if err != nil {
		t.Fatal(err)
	}
	if ops != nil {
		if err := l.Apply(id.EventID{7}, ops); err != nil {
			t.Fatal(err)
		}
	}
	b, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The states replicas write are checked without loading them (the fast
// path), whatever kind of value they hold; JSON, canonicalized on decode,
// is loaded.
func TestCheckState_AcceptsLWWStatesWithoutLoadingThem(t *testing.T) {
	json, err := value.JSON([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		props map[string]value.Value
		fast  bool
	}{
		"empty": {props: nil, fast: true},
		"every kind": {props: map[string]value.Value{
			"s": value.String("Showbiz ✓"), "i": value.Int(1999), "neg": value.Int(-7),
			"max": value.Int(math.MaxInt64), "min": value.Int(math.MinInt64), "f": value.Float(0.5),
			"b": value.Bytes([]byte{1, 2}), "t": value.Bool(true), "no": value.Bool(false),
			"ref": value.Ref(id.EntityID{9}), "_deleted": value.Bool(true), "gone": value.Null,
		}, fast: true},
		"many names": {props: map[string]value.Value{"a": value.Int(1), "b": value.Int(2), "aa": value.Int(3), "B": value.Int(4), "ä": value.Int(5)}, fast: true},
		"json":       {props: map[string]value.Value{"j": json}, fast: false},
	} {
		b := lwwState(t, tc.props)
		if err := property.CheckState(property.LWWName, b); err != nil {
			t.Errorf("%s: CheckState = %v", name, err)
		}
		if got := property.LWWStateCanonicalForTest(b); got != tc.fast {
			t.Errorf("%s: checked without loading = %v, want %v", name, got, tc.fast)
		}
	}
	if err := property.CheckState(property.LWWName, nil); err != nil {
		t.Errorf("an empty state (a new backend) was refused: %v", err)
	}
}

// What LoadLWW refuses, CheckState refuses with its error.
func TestCheckState_RefusesMalformedLWWStates(t *testing.T) {
	good := lwwState(t, map[string]value.Value{"name": value.String("x")})
	withEvent := func(n byte) []byte {
		// {1: 1, 2: {"n": {1: 1, 2: h'..'(n bytes), 3: 1}}}
		b := []byte{0xa2, 0x01, 0x01, 0x02, 0xa1, 0x61, 'n', 0xa3, 0x01, 0x01, 0x02, 0x40 | n}
		b = append(b, make([]byte, n)...)
		return append(b, 0x03, 0x01)
	}
	for name, b := range map[string][]byte{
		"truncated":         good[:len(good)-1],
		"trailing byte":     append(append([]byte(nil), good...), 0x00),
		"not a map":         {0x01},
		"short event id":    withEvent(8),
		"integer overflow":  {0xa2, 0x01, 0x01, 0x02, 0xa1, 0x61, 'n', 0xa3, 0x01, 0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x58, 0x20, 52: 0, 0x03, 0x01},
		"invalid UTF-8":     {0xa2, 0x01, 0x01, 0x02, 0xa1, 0x61, 0xff, 0xa0},
		"name twice":        {0xa2, 0x01, 0x01, 0x02, 0xa2, 0x61, 'n', 0xa0, 0x61, 'n', 0xa0},
		"unknown value tag": {0xa2, 0x01, 0x01, 0x02, 0xa1, 0x61, 'n', 0xa1, 0x01, 0xc1, 0x01},
	} {
		if property.LWWStateCanonicalForTest(b) {
			t.Errorf("%s: taken for a canonical state", name)
		}
		if err := property.CheckState(property.LWWName, b); !errors.Is(err, property.ErrInvalid) {
			t.Errorf("%s: CheckState = %v, want ErrInvalid", name, err)
		}
	}
	if err := property.CheckState("no-such-backend", good); !errors.Is(err, property.ErrUnknownBackend) {
		t.Errorf("unknown backend: CheckState = %v, want ErrUnknownBackend", err)
	}
}

// FuzzCheckLWWState: the fast path never accepts what LoadLWW refuses, and
// CheckState agrees with LoadLWW on every input.
func FuzzCheckLWWState(f *testing.F) {
	state, _ := lwwSeeds(f)
	f.Add(state)
	f.Add([]byte{})
	f.Add([]byte{0xa2, 0x01, 0x01, 0x02, 0xa0})
	f.Add(lwwState(f, map[string]value.Value{"ref": value.Ref(id.EntityID{1}), "n": value.Int(-1), "f": value.Float(1.5)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, loadErr := property.LoadLWW(b)
		if property.LWWStateCanonicalForTest(b) && loadErr != nil {
			t.Fatalf("the fast path accepted a state LoadLWW refuses: %v", loadErr)
		}
		if err := property.CheckState(property.LWWName, b); (err == nil) != (loadErr == nil) {
			t.Fatalf("CheckState = %v, LoadLWW = %v", err, loadErr)
		}
	})
}
