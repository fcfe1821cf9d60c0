package text

import "slices"

// queue holds what waits for the structs of one client, taken in clock order:
// a min-heap of sorted runs (the structs or deletions of one update), keyed
// by each run's first element. Updates that arrive in any order (newest
// first, say) cost O(log r) per element to take, r the number of runs
// waiting, where one sorted list would be re-sorted or shifted on every
// arrival; a run that arrives alone (a whole document loaded at once) is
// taken in order at no heap cost.
type queue[T any] struct {
	runs [][]T
	n    int
	less func(a, b T) bool
}

func newQueue[T any](less func(a, b T) bool) *queue[T] { return &queue[T]{less: less} }

func (q *queue[T]) len() int { return q.n }

// peek returns the least element; the queue must not be empty.
func (q *queue[T]) peek() T { return q.runs[0][0] }

// pushRun queues the elements of xs, which the queue then owns.
func (q *queue[T]) pushRun(xs []T) {
	if len(xs) == 0 {
		return
	}
	if !slices.IsSortedFunc(xs, q.cmp) {
		slices.SortStableFunc(xs, q.cmp)
	}
	q.n += len(xs)
	q.runs = append(q.runs, xs)
	for i := len(q.runs) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(q.runs[i][0], q.runs[p][0]) {
			break
		}
		q.runs[i], q.runs[p] = q.runs[p], q.runs[i]
		i = p
	}
}

func (q *queue[T]) push(x T) { q.pushRun([]T{x}) }

// pop removes and returns the least element; the queue must not be empty.
func (q *queue[T]) pop() T {
	r := q.runs[0]
	x := r[0]
	var zero T
	r[0] = zero // what was taken is not kept alive by its run
	q.n--
	if len(r) > 1 {
		q.runs[0] = r[1:]
	} else {
		last := len(q.runs) - 1
		q.runs[0] = q.runs[last]
		q.runs[last] = nil
		q.runs = q.runs[:last]
	}
	q.down()
	return x
}

// down restores the heap after its top run changed.
func (q *queue[T]) down() {
	n := len(q.runs)
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && q.less(q.runs[l][0], q.runs[m][0]) {
			m = l
		}
		if r := l + 1; r < n && q.less(q.runs[r][0], q.runs[m][0]) {
			m = r
		}
		if m == i {
			return
		}
		q.runs[i], q.runs[m] = q.runs[m], q.runs[i]
		i = m
	}
}

func (q *queue[T]) cmp(a, b T) int {
	switch {
	case q.less(a, b):
		return -1
	case q.less(b, a):
		return 1
	}
	return 0
}

// all returns the elements, in no particular order.
func (q *queue[T]) all() []T {
	xs := make([]T, 0, q.n)
	for _, r := range q.runs {
		xs = append(xs, r...)
	}
	return xs
}

// sorted returns the elements in order, leaving the queue as it is.
func (q *queue[T]) sorted() []T {
	xs := q.all()
	slices.SortStableFunc(xs, q.cmp)
	return xs
}

// clone returns a copy holding the same elements, copied by copyElem.
func (q *queue[T]) clone(copyElem func(T) T) *queue[T] {
	c := &queue[T]{runs: make([][]T, len(q.runs)), n: q.n, less: q.less}
	for i, r := range q.runs {
		c.runs[i] = make([]T, len(r))
		for j, x := range r {
			c.runs[i][j] = copyElem(x)
		}
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
