package ws

import "time"

// WithTestClock replaces the clock of credential refreshes: now, and
// afterFunc, which schedules f after d and returns its stop function.
func WithTestClock(now func() time.Time, afterFunc func(d time.Duration, f func()) func() bool) ClientOption {
	return func(c *Client) { c.clock = clock{now: now, afterFunc: afterFunc} }
}
