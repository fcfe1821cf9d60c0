package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// SystemCollection holds what a durable node keeps about itself in its
// storage (its system id). Names beginning with "_" are the framework's.
const SystemCollection = "_ankurah"

var (
	systemEntity = id.EntityID(sha256.Sum256([]byte("ankurah/system-id")))
	systemEvent  = id.EventID(sha256.Sum256([]byte("ankurah/system-id/v1")))
)

// storedSystemID returns the system id kept in the node's storage, creating
// it on first start, so a durable node keeps its identity across restarts
// (clients that meet another system id drop their caches). Several nodes
// sharing one database share the id the first of them wrote.
func (n *Node) storedSystemID(ctx context.Context) (string, error) {
	coll, err := n.engine.Collection(ctx, SystemCollection)
	if err != nil {
		return "", fmt.Errorf("ankurah: system id: %w", err)
	}
	for range 3 {
		st, err := coll.GetState(ctx, systemEntity)
		if err == nil {
			if sid, ok := st.Values.Get("system_id").AsString(); ok && sid != "" {
				return sid, nil
			}
			return "", fmt.Errorf("%w: the stored system id is malformed", storage.ErrFormat)
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return "", fmt.Errorf("ankurah: system id: %w", err)
		}
		u, err := n.newULID()
		if err != nil {
			return "", err
		}
		st = entity.State{ID: systemEntity, Collection: SystemCollection, Head: event.NewClock(systemEvent),
			Values: value.MakeFields([]value.Field{{Name: "system_id", Value: value.String(u.String())}})}
		err = n.engine.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: st}}})
		if err == nil {
			return u.String(), nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return "", fmt.Errorf("ankurah: system id: %w", err)
		}
		// Another node on the same database wrote it first: read theirs.
	}
	return "", fmt.Errorf("ankurah: system id: %w", storage.ErrConflict)
}
