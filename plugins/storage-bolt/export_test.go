package bolt

// WithoutChangeFeed opens a new file without the change log: the baseline
// of the log's cost in benchmarks. Handles of such a file are not
// storage.ChangeFeeds that work (FeedHead and Follow fail).
func WithoutChangeFeed() Option { return func(o *options) { o.noFeed = true } }
