package intern

import (
	"fmt"
	"testing"
)

func TestString(t *testing.T) {
	b := []byte("accounts")
	first := String(b)
	if first != "accounts" {
		t.Fatalf("got %q", first)
	}
	b[0] = 'A' // the string does not share the caller's bytes
	if first != "accounts" {
		t.Fatalf("interned string changed with its source: %q", first)
	}
	if got := String([]byte("accounts")); got != first {
		t.Fatalf("got %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = String([]byte("accounts")) }); n != 0 {
		t.Errorf("a name seen before allocates %v times", n)
	}
	if got := String(nil); got != "" {
		t.Errorf("empty: %q", got)
	}
	long := make([]byte, maxLen+1)
	for i := range long {
		long[i] = 'x'
	}
	if got := String(long); got != string(long) {
		t.Errorf("long: %q", got)
	}
}

// Many more distinct names than slots: every answer is still the name asked
// for (a slot taken by another name is only a miss).
func TestString_Collisions(t *testing.T) {
	for round := range 2 {
		for i := range 4 * tableSize {
			want := fmt.Sprintf("name-%d", i)
			if got := String([]byte(want)); got != want {
				t.Fatalf("round %d: got %q, want %q", round, got, want)
			}
		}
	}
}

func TestString_Concurrent(t *testing.T) {
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 2000 {
				want := fmt.Sprintf("n%d", (i*(g+1))%300)
				if got := String([]byte(want)); got != want {
					t.Errorf("got %q, want %q", got, want)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func BenchmarkString(b *testing.B) {
	name := []byte("accounts")
	b.Run("interned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = String(name)
		}
	})
	b.Run("baseline=string(b)", func(b *testing.B) {
		b.ReportAllocs()
		var sink string
		for b.Loop() {
			sink = string(name)
		}
		_ = sink
	})
}
