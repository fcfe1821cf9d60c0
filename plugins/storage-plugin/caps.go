package storageplugin

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
	storagev2 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v2"
)

// caps is a set of the optional storage interfaces a plugin's engine
// implements; the engine a host gets from Open implements the same ones.
type caps uint8

const (
	capsIndexer caps = 1 << iota
	capsLooker
	capsClearer
	capsLister
	capsExplainer
	capsRepairer
	capsFeed
	allCaps = capsFeed<<1 - 1
)

// capNames are the names Describe lists capabilities by (protocol 2).
var capNames = []struct {
	c    caps
	name string
}{
	{capsIndexer, "indexer"},
	{capsLooker, "collection_looker"},
	{capsClearer, "clearer"},
	{capsLister, "collection_lister"},
	{capsExplainer, "explainer"},
	{capsRepairer, "repairer"},
	{capsFeed, "change_feed"},
}

// engineCaps is what an engine served by a plugin implements.
func engineCaps(e storage.Engine) caps {
	var c caps
	has := func(ok bool, x caps) {
		if ok {
			c |= x
		}
	}
	_, ok := e.(storage.Indexer)
	has(ok, capsIndexer)
	_, ok = e.(storage.CollectionLooker)
	has(ok, capsLooker)
	_, ok = e.(storage.Clearer)
	has(ok, capsClearer)
	_, ok = e.(storage.CollectionLister)
	has(ok, capsLister)
	_, ok = e.(storage.Explainer)
	has(ok, capsExplainer)
	_, ok = e.(storage.Repairer)
	has(ok, capsRepairer)
	_, ok = e.(storage.ChangeFeed)
	has(ok, capsFeed)
	return c
}

func (c caps) names() []string {
	var out []string
	for _, n := range capNames {
		if c&n.c != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// parseCaps reads Describe's list; names it does not know are ignored.
func parseCaps(names []string) caps {
	var c caps
	for _, name := range names {
		for _, n := range capNames {
			if n.name == name {
				c |= n.c
			}
		}
	}
	return c
}

// hostStorage is what Open returns: an engine that also reports its health.
type hostStorage interface {
	storage.Engine
	storage.Healther
}

// The capability types: each adds one optional interface's methods to the
// host engine (withCaps, caps_gen.go, combines them).
type (
	capIndexer   struct{ e *hostEngine }
	capLooker    struct{ e *hostEngine }
	capClearer   struct{ e *hostEngine }
	capLister    struct{ e *hostEngine }
	capExplainer struct{ e *hostEngine }
	capRepairer  struct{ e *hostEngine }
	capFeed      struct{ e *hostEngine }
)

var (
	_ storage.Indexer          = capIndexer{}
	_ storage.CollectionLooker = capLooker{}
	_ storage.Clearer          = capClearer{}
	_ storage.CollectionLister = capLister{}
	_ storage.Explainer        = capExplainer{}
	_ storage.Repairer         = capRepairer{}
	_ storage.ChangeFeed       = capFeed{}
)

// v2 returns the running process for a call of capability c, which needs
// protocol version 2 (except DeclareIndex, which version 1 has).
func (e *hostEngine) v2(call string, c caps) (*process, storagev2.StorageClient, error) {
	p, err := e.current(call)
	if err != nil {
		return nil, nil, err
	}
	if p.caps&c == 0 || p.v2 == nil {
		return nil, nil, fmt.Errorf("%w: %s: the plugin %s, restarted, no longer implements it (protocol version %d)",
			ErrProtocol, call, e.path, p.version)
	}
	return p, p.v2, nil
}

func (c capIndexer) DeclareIndex(ctx context.Context, ix storage.Index) error {
	p, err := c.e.current("DeclareIndex")
	if err != nil {
		return err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	_, err = p.rpc.DeclareIndex(cctx, &storagev1.DeclareIndexRequest{Collection: ix.Collection, Property: ix.Property})
	return c.e.fromStatus(p, cctx, "DeclareIndex", err)
}

func (c capLooker) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	p, rpc, err := c.e.v2("LookupCollection", capsLooker)
	if err != nil {
		return nil, err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	if _, err := rpc.LookupCollection(cctx, &storagev1.OpenCollectionRequest{Collection: name}); err != nil {
		return nil, c.e.fromStatus(p, cctx, "LookupCollection", err)
	}
	return &hostCollection{e: c.e, name: name}, nil
}

func (c capClearer) Clear(ctx context.Context) error {
	p, rpc, err := c.e.v2("Clear", capsClearer)
	if err != nil {
		return err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	_, err = rpc.Clear(cctx, &storagev2.ClearRequest{})
	return c.e.fromStatus(p, cctx, "Clear", err)
}

func (c capLister) Collections(ctx context.Context) ([]string, error) {
	p, rpc, err := c.e.v2("Collections", capsLister)
	if err != nil {
		return nil, err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	resp, err := rpc.ListCollections(cctx, &storagev2.ListCollectionsRequest{})
	if err != nil {
		return nil, c.e.fromStatus(p, cctx, "Collections", err)
	}
	return resp.Collections, nil
}

func (c capExplainer) Explain(ctx context.Context, collection string, sel *query.Bound) (string, error) {
	if sel == nil {
		return "", fmt.Errorf("storageplugin: Explain: %w: nil selection", storage.ErrInvalid)
	}
	p, rpc, err := c.e.v2("Explain", capsExplainer)
	if err != nil {
		return "", err
	}
	raw, err := EncodeSelection(sel)
	if err != nil {
		return "", fmt.Errorf("storageplugin: Explain: %w", err)
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	resp, err := rpc.Explain(cctx, &storagev2.ExplainRequest{Collection: collection, Selection: raw})
	if err != nil {
		return "", c.e.fromStatus(p, cctx, "Explain", err)
	}
	return resp.Plan, nil
}

func (c capRepairer) BadRows(ctx context.Context, collection string, f func(storage.BadRow) error) error {
	p, rpc, err := c.e.v2("BadRows", capsRepairer)
	if err != nil {
		return err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel() // also ends the stream when f stops it
	stream, err := rpc.BadRows(cctx, &storagev2.BadRowsRequest{Collection: collection})
	if err != nil {
		return c.e.fromStatus(p, cctx, "BadRows", err)
	}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return c.e.fromStatus(p, cctx, "BadRows", err)
		}
		for _, r := range chunk.Rows {
			if err := f(storage.BadRow{Collection: collection, Kind: r.Kind, Key: r.Key, Err: errors.New(r.Error)}); err != nil {
				return err
			}
		}
	}
}

func (c capRepairer) RemoveRow(ctx context.Context, collection, kind string, key []byte) error {
	p, rpc, err := c.e.v2("RemoveRow", capsRepairer)
	if err != nil {
		return err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	_, err = rpc.RemoveRow(cctx, &storagev2.RemoveRowRequest{Collection: collection, Kind: kind, Key: key})
	return c.e.fromStatus(p, cctx, "RemoveRow", err)
}

func (c capFeed) FeedHead(ctx context.Context) (storage.FeedToken, error) {
	p, rpc, err := c.e.v2("FeedHead", capsFeed)
	if err != nil {
		return nil, err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	resp, err := rpc.FeedHead(cctx, &storagev2.FeedHeadRequest{})
	if err != nil {
		return nil, c.e.fromStatus(p, cctx, "FeedHead", err)
	}
	return resp.Token, nil
}

// Follow streams the plugin engine's feed. It has no call timeout (a feed
// runs until ctx ends); if the plugin process dies it fails with
// ErrUnavailable, and the follower resumes from its last token, as after any
// other error.
func (c capFeed) Follow(ctx context.Context, after storage.FeedToken, f func(storage.FeedBatch) error) error {
	p, rpc, err := c.e.v2("Follow", capsFeed)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream when f stops it
	req := &storagev2.FollowRequest{}
	if after != nil {
		req.After = append([]byte{}, after...)
	}
	stream, err := rpc.Follow(cctx, req)
	if err != nil {
		return c.e.fromStatus(p, cctx, "Follow", err)
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("storageplugin: Follow: %w: the plugin ended the feed", storage.ErrClosed)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return c.e.fromStatus(p, cctx, "Follow", err)
		}
		b := storage.FeedBatch{Token: msg.Token, Changes: make([]storage.FeedChange, len(msg.Changes))}
		for i, ch := range msg.Changes {
			st, err := entity.Decode(ch.State)
			if err != nil {
				return fmt.Errorf("%w: Follow: state from plugin: %v", ErrProtocol, err)
			}
			b.Changes[i] = storage.FeedChange{Collection: ch.Collection, State: st}
		}
		if err := f(b); err != nil {
			return err
		}
	}
}
