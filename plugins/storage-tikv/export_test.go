package tikv

// WithBeforeCommit runs fn between every transaction's writes and its
// commit, so tests can commit a conflicting write in between.
func WithBeforeCommit(fn func()) Option { return func(c *config) { c.beforeCommit = fn } }
