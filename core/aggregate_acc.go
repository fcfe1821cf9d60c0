package core

import (
	"math"
	"math/big"
	"slices"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// groupState is one group's accumulators.
type groupState struct {
	key   []value.Value
	count int64
	terms []termState
}

// termState accumulates one term: an exact sum for sum and avg; for min and
// max the values in order with their counts (members mode), or the extreme
// and whether it must be re-read (pushdown mode).
type termState struct {
	n              int64
	sum            *big.Float
	posInf, negInf int64
	sorted         []valCount
	ext            value.Value
	stale          bool
}

type valCount struct {
	v value.Value
	n int64
}

func nullValues(n int) []value.Value { return make([]value.Value, n) }

func (t *termState) add(op storage.AggOp, v value.Value, ordered bool) {
	switch op {
	case storage.Sum, storage.Avg:
		t.addNumber(v, 1)
	case storage.Min, storage.Max:
		if v.IsNull() {
			return
		}
		t.n++
		if ordered {
			i, found := slices.BinarySearchFunc(t.sorted, v, func(e valCount, v value.Value) int { return value.Compare(e.v, v) })
			if found {
				t.sorted[i].n++
			} else {
				t.sorted = slices.Insert(t.sorted, i, valCount{v, 1})
			}
			return
		}
		if t.n == 1 || (op == storage.Min && value.Compare(v, t.ext) < 0) || (op == storage.Max && value.Compare(v, t.ext) > 0) {
			t.ext = v
		}
	}
}

func (t *termState) remove(op storage.AggOp, v value.Value, ordered bool) {
	switch op {
	case storage.Sum, storage.Avg:
		t.addNumber(v, -1)
	case storage.Min, storage.Max:
		if v.IsNull() {
			return
		}
		t.n--
		if ordered {
			i, found := slices.BinarySearchFunc(t.sorted, v, func(e valCount, v value.Value) int { return value.Compare(e.v, v) })
			if found {
				if t.sorted[i].n--; t.sorted[i].n <= 0 {
					t.sorted = slices.Delete(t.sorted, i, i+1)
				}
			}
			return
		}
		if t.n <= 0 {
			t.n, t.ext, t.stale = 0, value.Null, false
		} else if value.Compare(v, t.ext) == 0 {
			t.stale = true // the extreme left: re-read this group
		}
	}
}

func (t *termState) addNumber(v value.Value, sign int64) {
	if !v.Kind().IsNumber() {
		return
	}
	t.n += sign
	if t.sum == nil {
		t.sum = storage.NewSum()
	}
	if i, ok := v.AsInt(); ok {
		x := new(big.Float).SetInt64(i)
		if sign < 0 {
			t.sum.Sub(t.sum, x)
		} else {
			t.sum.Add(t.sum, x)
		}
		return
	}
	f, _ := v.AsFloat()
	switch {
	case math.IsInf(f, 1):
		t.posInf += sign
	case math.IsInf(f, -1):
		t.negInf += sign
	default:
		x := new(big.Float).SetFloat64(f)
		if sign < 0 {
			t.sum.Sub(t.sum, x)
		} else {
			t.sum.Add(t.sum, x)
		}
	}
}

func (t *termState) result(op storage.AggOp) value.Value {
	a := storage.Acc{N: t.n, Sum: t.sum, PosInf: t.posInf, NegInf: t.negInf, Value: t.ext}
	if (op == storage.Min || op == storage.Max) && t.sorted != nil {
		if len(t.sorted) == 0 {
			return value.Null
		}
		a.Value = t.sorted[0].v
		if op == storage.Max {
			a.Value = t.sorted[len(t.sorted)-1].v
		}
	}
	return a.Result(op)
}
