package tikv

import (
	"context"
	"log/slog"
	"time"
)

// WithBeforeCommit runs fn between every transaction's writes and its
// commit, so tests can commit a conflicting write in between.
func WithBeforeCommit(fn func()) Option { return func(c *config) { c.beforeCommit = fn } }

// CleanupFeed deletes e's change log entries older than olderThan, as the
// engine's periodic cleanup does with its retention.
func CleanupFeed(ctx context.Context, e *Engine, olderThan time.Duration) error {
	return e.st.cleanup(ctx, olderThan)
}

// RouteClientLogsForTest is routeClientLogs.
func RouteClientLogsForTest(l *slog.Logger) (connected func()) { return routeClientLogs(l) }
