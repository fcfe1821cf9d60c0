package query

import (
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/value"
)

const benchQuery = "year > ? AND artist = ? AND name LIKE ?"

var benchArgs = []any{1950, "Miles Davis", "Kind%"}

// BenchmarkParseCompile measures turning query text into a Program; the CEL
// program itself comes from the cache after the first iteration, as it does
// for every query of a known shape.
func BenchmarkParseCompile(b *testing.B) {
	for name, compile := range evaluators {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bound, err := ParseBound(benchQuery, benchArgs...)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := compile(bound, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parse-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseBound(benchQuery, benchArgs...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMatch measures evaluating the typical query on one entity, against
// a baseline of the same predicate written in Go.
func BenchmarkMatch(b *testing.B) {
	bound, err := ParseBound(benchQuery, benchArgs...)
	if err != nil {
		b.Fatal(err)
	}
	entity := value.FieldsOf(map[string]value.Value{
		"name":   value.String("Kind of Blue"),
		"artist": value.String("Miles Davis"),
		"year":   value.Int(1959),
		"label":  value.String("Columbia"),
	})
	for name, compile := range evaluators {
		prog, err := compile(bound, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := prog.Match(entity); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
	b.Run("baseline-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			y, _ := entity.Get("year").AsInt()
			a, _ := entity.Get("artist").AsString()
			n, _ := entity.Get("name").AsString()
			if !(y > 1950 && a == "Miles Davis" && strings.HasPrefix(n, "Kind")) {
				b.Fatal("no match")
			}
		}
	})
}
