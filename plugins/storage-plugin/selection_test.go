package storageplugin_test

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

func TestSelection_RoundTripsThroughCBOR(t *testing.T) {
	var ref id.EntityID
	ref[0], ref[31] = 7, 9
	tests := []struct {
		name string
		text string
		args []any
	}{
		{"everything", "true", nil},
		{"nothing", "false", nil},
		{"comparisons", "a = 1 AND b != 'x' AND c < 2.5 AND d <= -3 AND e > ? AND f >= ?", []any{int64(4), "y"}},
		{"like and json paths", "meta.producer.name LIKE 'A%' OR \"my field\" = ''''", nil},
		{"in lists", "a IN (1, 'two', 3.0, NULL) AND b NOT IN (?, ?)", []any{true, false}},
		{"null tests", "a IS NULL AND NOT (b IS NOT NULL)", nil},
		{"order and limit", "x > 0 ORDER BY x DESC, y.z ASC LIMIT 10", nil},
		{"limit zero", "true LIMIT 0", nil},
		{"values without literal syntax", "b = ? AND j = ? AND r = ? AND f = ? AND g = ?",
			[]any{[]byte{0, 1, 255}, value.MustJSON(`{"k":[1,2]}`), ref, math.Inf(1), math.Inf(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := query.ParseBound(tt.text, tt.args...)
			if err != nil {
				t.Fatalf("ParseBound(%q): %v", tt.text, err)
			}
			raw, err := storageplugin.EncodeSelection(b)
			if err != nil {
				t.Fatalf("EncodeSelection: %v", err)
			}
			got, err := storageplugin.DecodeSelection(raw)
			if err != nil {
				t.Fatalf("DecodeSelection: %v", err)
			}
			if !reflect.DeepEqual(got, b) {
				t.Fatalf("round trip of %q:\n got %s\nwant %s", tt.text, got, b)
			}
			again, err := storageplugin.EncodeSelection(got)
			if err != nil || string(again) != string(raw) {
				t.Fatalf("re-encoding differs (err %v):\n%x\n%x", err, again, raw)
			}
		})
	}
}

func TestSelection_NilPredicateMatchesEverything(t *testing.T) {
	raw, err := storageplugin.EncodeSelection(&query.Bound{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := storageplugin.DecodeSelection(raw)
	if err != nil {
		t.Fatal(err)
	}
	if lit, ok := got.Where.(*query.Literal); !ok || !lit.Value {
		t.Fatalf("Where = %#v, want the literal true", got.Where)
	}
}

func TestSelection_DecodeRefusesMalformedInput(t *testing.T) {
	tests := []struct {
		name string
		hex  []byte
	}{
		{"not cbor", []byte{0xff}},
		{"not a map", []byte{0x01}},
		{"no predicate", []byte{0xa1, 0x03, 0x20}},                                                     // {3: -1}
		{"unknown tag", []byte{0xa2, 0x01, 0x82, 0x18, 0x63, 0xf5, 0x03, 0x20}},                        // {1: [99, true], 3: -1}
		{"and of one term", []byte{0xa2, 0x01, 0x82, 0x01, 0x81, 0x82, 0x04, 0xf5, 0x03, 0x20}},        // {1: [1, [[4, true]]], 3: -1}
		{"unknown operator", []byte{0xa2, 0x01, 0x84, 0x05, 0x81, 0x61, 0x61, 0x09, 0x01, 0x03, 0x20}}, // {1: [5, ["a"], 9, 1], 3: -1}
		{"empty path", []byte{0xa2, 0x01, 0x83, 0x07, 0x80, 0xf4, 0x03, 0x20}},                         // {1: [7, [], false], 3: -1}
		{"empty in list", []byte{0xa2, 0x01, 0x84, 0x06, 0x81, 0x61, 0x61, 0xf4, 0x80, 0x03, 0x20}},    // {1: [6, ["a"], false, []], 3: -1}
		{"negative limit", []byte{0xa2, 0x01, 0x82, 0x04, 0xf5, 0x03, 0x21}},                           // {1: [4, true], 3: -2}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := storageplugin.DecodeSelection(tt.hex)
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("DecodeSelection(%x) = %v, want an error wrapping storage.ErrInvalid", tt.hex, err)
			}
		})
	}
}

func TestSelection_DecodeRefusesDeepNesting(t *testing.T) {
	// [3, [3, [3, … [4, true]]]]: NOT nested past the depth limit.
	var raw []byte
	for range 100 {
		raw = append(raw, 0x82, 0x03)
	}
	raw = append(raw, 0x82, 0x04, 0xf5)
	raw = append([]byte{0xa2, 0x01}, append(raw, 0x03, 0x20)...)
	if _, err := storageplugin.DecodeSelection(raw); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("DecodeSelection of 100 nested NOTs = %v, want storage.ErrInvalid", err)
	}
}

func FuzzDecodeSelection(f *testing.F) {
	for _, text := range []string{"true", "a = 1 AND b IN ('x', 2) ORDER BY a DESC LIMIT 3", "NOT (a IS NULL OR b LIKE '%')"} {
		b, err := query.ParseBound(text)
		if err != nil {
			f.Fatal(err)
		}
		raw, err := storageplugin.EncodeSelection(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := storageplugin.DecodeSelection(raw)
		if err != nil {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("error %v does not wrap storage.ErrInvalid", err)
			}
			return
		}
		again, err := storageplugin.EncodeSelection(b)
		if err != nil {
			t.Fatalf("decoded selection does not encode: %v", err)
		}
		if _, err := storageplugin.DecodeSelection(again); err != nil {
			t.Fatalf("re-encoded selection does not decode: %v", err)
		}
	})
}
