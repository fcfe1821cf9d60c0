package signal_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core/signal"
)

func TestMutable_NotifiesUntilUnsubscribed(t *testing.T) {
	m := signal.New(1)
	var got []int
	unsub := m.Subscribe(func(v int) { got = append(got, v) })
	m.Set(2)
	m.Update(func(v int) int { return v * 10 })
	unsub()
	unsub() // idempotent
	m.Set(99)
	if fmt.Sprint(got) != "[2 20]" || m.Get() != 99 {
		t.Fatalf("got %v, value %d", got, m.Get())
	}
}

func TestComputed_FollowsSource(t *testing.T) {
	m := signal.New(3)
	sq := signal.Map[int, int](m, func(v int) int { return v * v })
	var last int
	defer sq.Subscribe(func(v int) { last = v })()
	m.Set(4)
	if sq.Get() != 16 || last != 16 {
		t.Fatalf("Get %d, last %d", sq.Get(), last)
	}
	sum := signal.Combine[int, int, int](m, sq, func(a, b int) int { return a + b })
	if sum.Get() != 20 {
		t.Fatal(sum.Get())
	}
}

func TestMutable_ConcurrentUse(t *testing.T) {
	m := signal.New(0)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := m.Subscribe(func(int) {})
			for j := 0; j < 100; j++ {
				m.Update(func(v int) int { return v + 1 })
				_ = m.Get()
			}
			u()
		}()
	}
	wg.Wait()
	if m.Get() != 800 {
		t.Fatal(m.Get())
	}
}

func ExampleMutable() {
	name := signal.New("Origin of Symmetry")
	unsub := name.Subscribe(func(v string) { fmt.Println("now:", v) })
	defer unsub()
	name.Set("Absolution")
	// Output: now: Absolution
}
