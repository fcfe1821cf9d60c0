package memory

import (
	"context"
	"slices"

	"github.com/ankurah/ankurah-go/core/storage"
)

var _ storage.CollectionLister = (*Engine)(nil)

// Collections returns the names of the collections that exist (see
// LookupCollection), sorted.
func (e *Engine) Collections(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	names := make([]string, 0, len(e.colls))
	for name := range e.colls {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}
