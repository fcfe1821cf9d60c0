package core

import (
	"context"
	"errors"

	"github.com/ankurah/ankurah-go/core/query"
)

// ErrNoRemoteAggregate: the durable peer does not serve live aggregates.
var ErrNoRemoteAggregate = errors.New("ankurah: the durable peer does not serve live aggregates")

// aggregateRemote makes an ephemeral node's live aggregate, kept by its
// durable peer.
func (c *Context) aggregateRemote(ctx context.Context, collection string, spec AggregateSpec, b *query.Bound) (*LiveAggregate, error) {
	return nil, ErrNoRemoteAggregate
}
