package storage

import "context"

// CollectionLister is an Engine that can name every collection it stores.
// Tools that walk a whole store (`ankurah dump`, `ankurah admin bad-rows`)
// use it; a node never needs it.
type CollectionLister interface {
	// Collections returns the names of the collections that exist (as
	// CollectionLooker finds them), sorted by their bytes.
	Collections(ctx context.Context) ([]string, error)
}
