package entity_test

import (
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
)

// BenchmarkState_Decode decodes a state a node stored (two properties and
// their LWW backend), as storage engines and the wire read them.
func BenchmarkState_Decode(b *testing.B) {
	enc, err := realStates(b)[0].Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := entity.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkState_Encode encodes the same state.
func BenchmarkState_Encode(b *testing.B) {
	s := realStates(b)[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
