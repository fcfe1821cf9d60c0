package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
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
//
// Past a few states it sorts their positions (4 bytes each, compared
// through the states in place) and then moves each state once, following
// the permutation's cycles: a state is 120 bytes, and sorting the states
// themselves copies two into every comparison and moves them on every swap.
func SortStates(states []entity.State, order []query.Order) {
	if len(states) <= sortDirect {
		slices.SortFunc(states, func(a, b entity.State) int {
			return query.CompareRows(order, a.Values, a.ID, b.Values, b.ID)
		})
		return
	}
	perm := make([]int32, len(states))
	if len(order) == 0 {
		sortByID(states, perm)
	} else {
		for i := range perm {
			perm[i] = int32(i)
		}
		// Each state's ORDER BY values, resolved once (not twice per
		// comparison); compared as query.CompareRows compares them.
		t := len(order)
		keys := make([]value.Value, len(states)*t)
		for i := range states {
			for k, o := range order {
				keys[i*t+k] = query.Resolve(states[i].Values, o.Path)
			}
		}
		slices.SortFunc(perm, func(a, b int32) int {
			ka, kb := keys[int(a)*t:int(a)*t+t], keys[int(b)*t:int(b)*t+t]
			for k, o := range order {
				c := value.Compare(ka[k], kb[k])
				if o.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return bytes.Compare(states[a].ID[:], states[b].ID[:])
		})
	}
	// Position k takes the state at perm[k]; each cycle is moved with one
	// state held aside, and its positions marked done (-1).
	for i := range perm {
		if perm[i] < 0 {
			continue
		}
		held := states[i]
		for j := i; ; {
			k := int(perm[j])
			perm[j] = -1
			if k == i {
				states[j] = held
				break
			}
			states[j] = states[k]
			j = k
		}
	}
}

// sortByID fills perm with the positions of states in ascending id order.
// Ids are SHA-256 digests, so their first 8 bytes, read as a number and
// held beside each position, order nearly every pair without touching the
// states (a fetch's 100,000 states lie all over the heap); the rest of the
// id breaks a tie of those.
func sortByID(states []entity.State, perm []int32) {
	type idKey struct {
		hi  uint64
		pos int32
	}
	keys := make([]idKey, len(states))
	for i := range states {
		keys[i] = idKey{binary.BigEndian.Uint64(states[i].ID[:8]), int32(i)}
	}
	slices.SortFunc(keys, func(a, b idKey) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		return bytes.Compare(states[a.pos].ID[8:], states[b.pos].ID[8:])
	})
	for k := range keys {
		perm[k] = keys[k].pos
	}
}

// sortDirect is the count of states up to which SortStates sorts them
// directly (a LIMITed window, a page).
const sortDirect = 16
