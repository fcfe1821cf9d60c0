package storage

import (
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/query"
)

// Residual finishes what an engine could not push down: it keeps the states
// prog matches (all of them when prog is nil), sorts them by order (ties by
// entity id) and applies limit (negative for none). It reuses states' backing array.
func Residual(states []entity.State, prog query.Program, order []query.Order, limit int64) ([]entity.State, error) {
	out := states[:0]
	for _, s := range states {
		if prog != nil {
			ok, err := prog.Match(s.Values)
			if err != nil {
				return nil, fmt.Errorf("storage: residual filter on %s: %w", s.ID, err)
			}
			if !ok {
				continue
			}
		}
		out = append(out, s)
	}
	SortStates(out, order)
	if limit >= 0 && int64(len(out)) > limit {
		out = out[:limit]
	}
	return out, nil
}

// SortStates sorts states by an ORDER BY list, ties by ascending entity id.
// The order is total over states of distinct entities (what an engine
// returns), so the sort need not be stable.
func SortStates(states []entity.State, order []query.Order) {
	slices.SortFunc(states, func(a, b entity.State) int {
		return query.CompareRows(order, a.Values, a.ID, b.Values, b.ID)
	})
}
