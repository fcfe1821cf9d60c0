package kv_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// TestMemoryStore_AgreesWithASortedMap commits random batches of sets and
// deletes (enough to split blocks many times) and checks gets and scans,
// both ways and over random bounds, against a plain map.
func TestMemoryStore_AgreesWithASortedMap(t *testing.T) {
	ctx := context.Background()
	s := kv.NewMemoryStore()
	model := map[string]string{}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string { return fmt.Sprintf("k%05d", rng.IntN(5000)) }
	for round := range 300 {
		err := s.Update(ctx, func(tx kv.Tx) error {
			for range rng.IntN(40) + 1 {
				k := key()
				if rng.IntN(4) == 0 {
					delete(model, k)
					if err := tx.Delete([]byte(k)); err != nil {
						return err
					}
					continue
				}
				v := fmt.Sprint(round)
				model[k] = v
				if err := tx.Set([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sorted := make([]string, 0, len(model))
		for k := range model {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		err = s.View(ctx, func(r kv.Reader) error {
			for range 5 {
				k := key()
				got, _ := r.Get(ctx, []byte(k))
				if want, ok := model[k]; ok != (got != nil) || (ok && string(got) != want) {
					return fmt.Errorf("round %d: Get(%s) = %q, want %q (stored %v)", round, k, got, want, ok)
				}
				lo, hi := []byte(key()), []byte(key())
				if bytes.Compare(lo, hi) > 0 {
					lo, hi = hi, lo
				}
				var want []string
				for _, k := range sorted {
					if k >= string(lo) && k < string(hi) {
						want = append(want, k)
					}
				}
				for _, reverse := range []bool{false, true} {
					var got []string
					if err := r.Scan(ctx, lo, hi, reverse, func(k, _ []byte) (bool, error) { got = append(got, string(k)); return false, nil }); err != nil {
						return err
					}
					w := slices.Clone(want)
					if reverse {
						slices.Reverse(w)
					}
					if !slices.Equal(got, w) {
						return fmt.Errorf("round %d: Scan(%s, %s, reverse=%v) = %d keys, want %d", round, lo, hi, reverse, len(got), len(w))
					}
				}
			}
			var all []string
			_ = r.Scan(ctx, nil, nil, true, func(k, _ []byte) (bool, error) { all = append(all, string(k)); return false, nil })
			if slices.Reverse(all); !slices.Equal(all, sorted) {
				return fmt.Errorf("round %d: an unbounded reverse scan has %d keys, want %d", round, len(all), len(sorted))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
