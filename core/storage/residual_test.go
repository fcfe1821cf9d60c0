package storage_test

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// randomStates returns n states of distinct entities whose values repeat
// (ties broken by id), with NULLs, mixed kinds and a JSON property.
func randomStates(r *rand.Rand, n int) []entity.State {
	out := make([]entity.State, n)
	for i := range out {
		sum := sha256.Sum256([]byte(fmt.Sprint(r.Int64())))
		vals := map[string]value.Value{}
		switch r.IntN(4) {
		case 0: // k missing: NULL
		case 1:
			vals["k"] = value.String(fmt.Sprint(r.IntN(5)))
		default:
			vals["k"] = value.Int(int64(r.IntN(20)))
		}
		vals["j"] = value.MustJSON(fmt.Sprintf(`{"a":%d}`, r.IntN(7)))
		if r.IntN(3) > 0 {
			vals["f"] = value.Float(float64(r.IntN(4)) / 2)
		}
		out[i] = entity.State{ID: id.EntityID(sum), Collection: "c", Values: value.FieldsOf(vals)}
	}
	return out
}

var sortOrders = [][]query.Order{
	nil,
	{{Path: query.Path{"k"}}},
	{{Path: query.Path{"k"}, Desc: true}},
	{{Path: query.Path{"f"}}, {Path: query.Path{"k"}, Desc: true}},
	{{Path: query.Path{"j", "a"}}, {Path: query.Path{"missing"}}},
}

// SortStates sorts as a direct sort by query.CompareRows does, for inputs
// below and above the size where it switches to sorting positions.
func TestSortStates_AsCompareRows(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 15, 16, 17, 33, 500} {
		for oi, order := range sortOrders {
			in := randomStates(r, n)
			if n > 0 && oi == 0 {
				// Ids that share their first bytes: ties of the prefix
				// sortByID orders by first.
				for i := range in {
					copy(in[i].ID[:8], in[i%3].ID[:8])
				}
			}
			want := slices.Clone(in)
			slices.SortFunc(want, func(a, b entity.State) int { return query.CompareRows(order, a.Values, a.ID, b.Values, b.ID) })
			got := slices.Clone(in)
			storage.SortStates(got, order)
			for i := range want {
				if got[i].ID != want[i].ID {
					t.Fatalf("n=%d order #%d: position %d holds %s, want %s", n, oi, i, got[i].ID, want[i].ID)
				}
			}
		}
	}
}

// BenchmarkSortStates sorts 10,000 states (a catch-up's fetch) by id and
// by a property, beside sorting the states themselves with the same
// comparison (the way SortStates sorted before).
func BenchmarkSortStates(b *testing.B) {
	in := randomStates(rand.New(rand.NewPCG(3, 4)), 10000)
	for _, order := range sortOrders[:2] {
		name := "order=id"
		if len(order) > 0 {
			name = "order=k"
		}
		buf := make([]entity.State, len(in))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, in)
				storage.SortStates(buf, order)
			}
		})
		b.Run(name+"/baseline=sort-states", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, in)
				slices.SortFunc(buf, func(x, y entity.State) int { return query.CompareRows(order, x.Values, x.ID, y.Values, y.ID) })
			}
		})
	}
}
