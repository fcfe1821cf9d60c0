package text

import "slices"

// queue is a min-heap: what waits for the structs of one client, taken in
// clock order. Updates that arrive in any order (newest first, say) cost
// O(log n) each to queue and to take, where a sorted list would be re-sorted
// or shifted on every arrival.
type queue[T any] struct {
	xs   []T
	less func(a, b T) bool
}

func newQueue[T any](less func(a, b T) bool) *queue[T] { return &queue[T]{less: less} }

func (q *queue[T]) len() int { return len(q.xs) }

// peek returns the least element; the queue must not be empty.
func (q *queue[T]) peek() T { return q.xs[0] }

func (q *queue[T]) push(x T) {
	q.xs = append(q.xs, x)
	for i := len(q.xs) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(q.xs[i], q.xs[p]) {
			break
		}
		q.xs[i], q.xs[p] = q.xs[p], q.xs[i]
		i = p
	}
}

// pop removes and returns the least element; the queue must not be empty.
func (q *queue[T]) pop() T {
	x := q.xs[0]
	n := len(q.xs) - 1
	q.xs[0] = q.xs[n]
	var zero T
	q.xs[n] = zero
	q.xs = q.xs[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && q.less(q.xs[l], q.xs[m]) {
			m = l
		}
		if r := l + 1; r < n && q.less(q.xs[r], q.xs[m]) {
			m = r
		}
		if m == i {
			break
		}
		q.xs[i], q.xs[m] = q.xs[m], q.xs[i]
		i = m
	}
	return x
}

// sorted returns the elements in order, leaving the queue as it is.
func (q *queue[T]) sorted() []T {
	xs := slices.Clone(q.xs)
	slices.SortFunc(xs, func(a, b T) int {
		switch {
		case q.less(a, b):
			return -1
		case q.less(b, a):
			return 1
		}
		return 0
	})
	return xs
}

// clone returns a copy holding the same elements, copied by copyElem.
func (q *queue[T]) clone(copyElem func(T) T) *queue[T] {
	c := &queue[T]{xs: make([]T, len(q.xs)), less: q.less}
	for i, x := range q.xs {
		c.xs[i] = copyElem(x)
	}
	return c
}

// newPending returns a queue of structs by clock; of two starting at the
// same clock (the same history, cut differently) the longer comes first, so
// the order never depends on arrival.
func newPending() *queue[*item] {
	return newQueue(func(a, b *item) bool {
		if a.id.Clock != b.id.Clock {
			return a.id.Clock < b.id.Clock
		}
		return a.length > b.length
	})
}

// newPendingDeletes returns a queue of delete ranges by clock.
func newPendingDeletes() *queue[dsRange] {
	return newQueue(func(a, b dsRange) bool {
		if a.clock != b.clock {
			return a.clock < b.clock
		}
		return a.length > b.length
	})
}
