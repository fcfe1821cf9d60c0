package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// Errors of aggregation, tested with errors.Is.
var (
	// ErrBadAggregate: an aggregate specification that cannot be computed
	// (an unknown function, an empty or invalid property name, too many
	// terms). The message names what was wrong.
	ErrBadAggregate = errors.New("storage: bad aggregate")
	// ErrNotPushedDown: an Aggregator cannot compute this aggregate itself;
	// the node aggregates a scan instead.
	ErrNotPushedDown = errors.New("storage: aggregate not pushed down")
)

// AggOp is an aggregate function over one property of a group's rows.
type AggOp int

// The aggregate functions. Sum and Avg take numbers (int and float) and
// ignore every other value; Min and Max take any non-NULL value and order
// them as AnkQL's ORDER BY does (NULL < bool < number < string < bytes <
// json < ref).
const (
	Sum AggOp = iota + 1
	Min
	Max
	Avg
)

var aggOpNames = map[AggOp]string{Sum: "sum", Min: "min", Max: "max", Avg: "avg"}

// String names the function as ParseAgg reads it.
func (o AggOp) String() string {
	if s, ok := aggOpNames[o]; ok {
		return s
	}
	return fmt.Sprintf("AggOp(%d)", int(o))
}

// Agg is one aggregate term: a function of a property.
type Agg struct {
	Op       AggOp
	Property string
}

// String is the term's text form, `sum(price)`.
func (a Agg) String() string { return a.Op.String() + "(" + a.Property + ")" }

// ParseAgg reads a term's text form: `sum(p)`, `min(p)`, `max(p)` or
// `avg(p)` (function names case-insensitive, p a property name).
func ParseAgg(s string) (Agg, error) {
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return Agg{}, fmt.Errorf("%w: %q is not fn(property)", ErrBadAggregate, s)
	}
	name := strings.ToLower(strings.TrimSpace(s[:open]))
	prop := strings.TrimSpace(s[open+1 : len(s)-1])
	for op, n := range aggOpNames {
		if n == name {
			a := Agg{Op: op, Property: prop}
			return a, checkName("property of "+s, prop)
		}
	}
	return Agg{}, fmt.Errorf("%w: unknown function %q in %q (sum, min, max, avg)", ErrBadAggregate, name, s)
}

// Limits of an AggregateSpec.
const (
	MaxGroupBy  = 8
	MaxAggTerms = 16
	maxNameLen  = 255
)

// AggregateSpec says how to aggregate a selection: group its rows by the
// values of GroupBy (none: one group of every row) and compute Aggs in each
// group, beside each group's row count. Rows whose group-by values are
// numerically equal (int 1 and float 1.0) fall in one group; NULL (a
// missing property) is a group of its own, as in SQL.
type AggregateSpec struct {
	GroupBy []string
	Aggs    []Agg
}

// Validate reports what is wrong with a spec, as an error wrapping
// ErrBadAggregate.
func (s AggregateSpec) Validate() error {
	if len(s.GroupBy) > MaxGroupBy {
		return fmt.Errorf("%w: %d group-by properties (at most %d)", ErrBadAggregate, len(s.GroupBy), MaxGroupBy)
	}
	if len(s.Aggs) > MaxAggTerms {
		return fmt.Errorf("%w: %d aggregate terms (at most %d)", ErrBadAggregate, len(s.Aggs), MaxAggTerms)
	}
	for _, g := range s.GroupBy {
		if err := checkName("group-by property", g); err != nil {
			return err
		}
	}
	for _, a := range s.Aggs {
		if _, ok := aggOpNames[a.Op]; !ok {
			return fmt.Errorf("%w: unknown function %d on %q", ErrBadAggregate, int(a.Op), a.Property)
		}
		if err := checkName("property of "+a.Op.String(), a.Property); err != nil {
			return err
		}
	}
	return nil
}

func checkName(what, name string) error {
	if name == "" || len(name) > maxNameLen || !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: %s %q (must be 1 to %d bytes of UTF-8 without NUL)", ErrBadAggregate, what, name, maxNameLen)
	}
	return nil
}

// Acc is the mergeable state of one aggregate term over some rows.
type Acc struct {
	// N counts the values that took part: numbers for Sum and Avg,
	// non-NULL values for Min and Max.
	N int64
	// Sum is the exact sum of the finite numbers (Sum, Avg; nil for none),
	// PosInf and NegInf the infinities seen.
	Sum            *big.Float
	PosInf, NegInf int64
	// Value is the least (Min) or greatest (Max) value seen.
	Value value.Value
}

// SumPrec is enough bits to add float64 values and int64 values exactly
// (the exponent range of float64 plus 53 bits plus headroom for 2^64 terms).
const SumPrec = 2200

// NewSum returns a zero sum of precision SumPrec.
func NewSum() *big.Float { return new(big.Float).SetPrec(SumPrec) }

// AddValue adds one row's value of the term's property.
func (a *Acc) AddValue(op AggOp, v value.Value) {
	switch op {
	case Sum, Avg:
		if !v.Kind().IsNumber() {
			return
		}
		a.N++
		if i, ok := v.AsInt(); ok {
			a.sum().Add(a.Sum, new(big.Float).SetInt64(i))
			return
		}
		f, _ := v.AsFloat()
		switch {
		case math.IsInf(f, 1):
			a.PosInf++
		case math.IsInf(f, -1):
			a.NegInf++
		default:
			a.sum().Add(a.Sum, new(big.Float).SetFloat64(f))
		}
	case Min, Max:
		if v.IsNull() {
			return
		}
		if a.N == 0 || (op == Min && value.Compare(v, a.Value) < 0) || (op == Max && value.Compare(v, a.Value) > 0) {
			a.Value = v
		}
		a.N++
	}
}

func (a *Acc) sum() *big.Float {
	if a.Sum == nil {
		a.Sum = NewSum()
	}
	return a.Sum
}

// Merge adds o (the same term over other rows) into a.
func (a *Acc) Merge(op AggOp, o Acc) {
	switch op {
	case Sum, Avg:
		a.N += o.N
		a.PosInf += o.PosInf
		a.NegInf += o.NegInf
		if o.Sum != nil {
			a.sum().Add(a.Sum, o.Sum)
		}
	case Min, Max:
		if o.N == 0 {
			return
		}
		if a.N == 0 || (op == Min && value.Compare(o.Value, a.Value) < 0) || (op == Max && value.Compare(o.Value, a.Value) > 0) {
			a.Value = o.Value
		}
		a.N += o.N
	}
}

// Result is the term's value: NULL when no value took part (and for a sum
// of both infinities); a sum or an integral number is an int when it fits
// one; an average is a float.
func (a *Acc) Result(op AggOp) value.Value {
	if a.N == 0 {
		return value.Null
	}
	switch op {
	case Sum, Avg:
		switch {
		case a.PosInf > 0 && a.NegInf > 0:
			return value.Null
		case a.PosInf > 0:
			return value.Float(math.Inf(1))
		case a.NegInf > 0:
			return value.Float(math.Inf(-1))
		}
		s := a.Sum
		if s == nil {
			s = NewSum()
		}
		if op == Avg {
			q := new(big.Float).SetPrec(SumPrec).Quo(s, new(big.Float).SetInt64(a.N))
			f, _ := q.Float64()
			return value.Float(f)
		}
		if s.IsInt() {
			if i, acc := s.Int64(); acc == big.Exact {
				return value.Int(i)
			}
		}
		f, _ := s.Float64()
		return value.Float(f)
	}
	return NormalizeNumber(a.Value)
}

// NormalizeNumber reports an integral float that fits an int64 as that int,
// so numerically equal values read the same from every engine (PostgreSQL's
// numeric column keeps no distinction between 2 and 2.0).
func NormalizeNumber(v value.Value) value.Value {
	if v.Kind() != value.KindFloat {
		return v
	}
	f, _ := v.AsFloat()
	if f == math.Trunc(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0 {
		return value.Int(int64(f))
	}
	return v
}

// GroupResult is one group of an aggregate: its key (the group-by values,
// numbers normalized), its row count, and one Acc per term of the spec.
type GroupResult struct {
	Key   []value.Value
	Count int64
	Accs  []Acc
}

// Aggregator is a Collection that computes aggregates itself (in SQL, say).
// Aggregate groups and aggregates exactly the states FetchStates(sel)
// would return before ORDER BY and LIMIT (deleted entities included, as
// there: the node's selection excludes them), in any order. An engine that
// cannot compute a particular spec or selection exactly returns an error
// wrapping ErrNotPushedDown, and the node aggregates a scan instead.
type Aggregator interface {
	Aggregate(ctx context.Context, sel *query.Bound, spec AggregateSpec) ([]GroupResult, error)
}

// GroupKey is a byte key under which rows of one group collide: the
// normalized group-by values, each in its canonical encoding.
func GroupKey(vals []value.Value) string {
	var sb strings.Builder
	for _, v := range vals {
		b, err := NormalizeNumber(v).MarshalCBOR()
		if err != nil { // a value of an unknown kind: its text keeps groups apart
			b = []byte(v.GoString())
		}
		sb.Write(b)
	}
	return sb.String()
}

// KeyOf returns the group-by values of a row, numbers normalized.
func (s AggregateSpec) KeyOf(values value.Fields) []value.Value {
	key := make([]value.Value, len(s.GroupBy))
	for i, p := range s.GroupBy {
		key[i] = NormalizeNumber(values.Get(p))
	}
	return key
}

// AggregateStates is what a node (or an engine without pushdown) computes
// from states: their groups, ordered by key. prog, when not nil, keeps only
// the states it matches.
func AggregateStates(states []entity.State, prog query.Program, spec AggregateSpec) ([]GroupResult, error) {
	groups := map[string]*GroupResult{}
	for i := range states {
		s := &states[i]
		if prog != nil {
			ok, err := prog.Match(s.Values)
			if err != nil {
				return nil, fmt.Errorf("storage: aggregate filter on %s: %w", s.ID, err)
			}
			if !ok {
				continue
			}
		}
		key := spec.KeyOf(s.Values)
		k := GroupKey(key)
		g := groups[k]
		if g == nil {
			g = &GroupResult{Key: key, Accs: make([]Acc, len(spec.Aggs))}
			groups[k] = g
		}
		g.Count++
		for j, a := range spec.Aggs {
			g.Accs[j].AddValue(a.Op, s.Values.Get(a.Property))
		}
	}
	out := make([]GroupResult, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	SortGroups(out)
	return out, nil
}

// MergeGroups merges two sets of groups of the same spec (rows counted in
// one set or the other), ordered by key.
func MergeGroups(spec AggregateSpec, a, b []GroupResult) []GroupResult {
	at := map[string]int{}
	var out []GroupResult
	for _, set := range [][]GroupResult{a, b} {
		for _, g := range set {
			k := GroupKey(g.Key)
			i, ok := at[k]
			if !ok {
				i = len(out)
				at[k] = i
				out = append(out, GroupResult{Key: g.Key, Accs: make([]Acc, len(spec.Aggs))})
			}
			out[i].Count += g.Count
			for j, t := range spec.Aggs {
				out[i].Accs[j].Merge(t.Op, g.Accs[j])
			}
		}
	}
	SortGroups(out)
	return out
}

// CompareKeys orders group keys value by value, as ORDER BY would.
func CompareKeys(a, b []value.Value) int {
	for i := range min(len(a), len(b)) {
		if c := value.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// SortGroups orders groups by key.
func SortGroups(gs []GroupResult) {
	slices.SortFunc(gs, func(x, y GroupResult) int { return CompareKeys(x.Key, y.Key) })
}
