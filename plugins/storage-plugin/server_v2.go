package storageplugin

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
	storagev2 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v2"
)

// The calls of protocol version 2's capabilities. An engine without the
// capability answers UNIMPLEMENTED (its Describe did not list it).

func unimplemented(iface string) error {
	return status.Errorf(codes.Unimplemented, "the engine does not implement storage.%s", iface)
}

func (s serverV2) LookupCollection(ctx context.Context, req *storagev1.OpenCollectionRequest) (*storagev1.OpenCollectionResponse, error) {
	lk, ok := s.engine.(storage.CollectionLooker)
	if !ok {
		return nil, unimplemented("CollectionLooker")
	}
	if _, err := lk.LookupCollection(ctx, req.Collection); err != nil {
		return nil, s.status(err)
	}
	return &storagev1.OpenCollectionResponse{}, nil
}

func (s serverV2) Clear(ctx context.Context, _ *storagev2.ClearRequest) (*storagev2.ClearResponse, error) {
	cl, ok := s.engine.(storage.Clearer)
	if !ok {
		return nil, unimplemented("Clearer")
	}
	if err := cl.Clear(ctx); err != nil {
		return nil, s.status(err)
	}
	return &storagev2.ClearResponse{}, nil
}

func (s serverV2) ListCollections(ctx context.Context, _ *storagev2.ListCollectionsRequest) (*storagev2.ListCollectionsResponse, error) {
	l, ok := s.engine.(storage.CollectionLister)
	if !ok {
		return nil, unimplemented("CollectionLister")
	}
	names, err := l.Collections(ctx)
	if err != nil {
		return nil, s.status(err)
	}
	return &storagev2.ListCollectionsResponse{Collections: names}, nil
}

func (s serverV2) Explain(ctx context.Context, req *storagev2.ExplainRequest) (*storagev2.ExplainResponse, error) {
	x, ok := s.engine.(storage.Explainer)
	if !ok {
		return nil, unimplemented("Explainer")
	}
	sel, err := DecodeSelection(req.Selection)
	if err != nil {
		return nil, s.status(err)
	}
	plan, err := x.Explain(ctx, req.Collection, sel)
	if err != nil {
		return nil, s.status(err)
	}
	return &storagev2.ExplainResponse{Plan: plan}, nil
}

// badRowsChunk is how many rows one BadRows message carries at most.
const badRowsChunk = 256

func (s serverV2) BadRows(req *storagev2.BadRowsRequest, stream storagev2.Storage_BadRowsServer) error {
	r, ok := s.engine.(storage.Repairer)
	if !ok {
		return unimplemented("Repairer")
	}
	var chunk []*storagev2.BadRow
	sent := false
	send := func() error {
		sent = true
		err := stream.Send(&storagev2.BadRowsChunk{Rows: chunk})
		chunk = nil
		return err
	}
	errSend := errors.New("send")
	var sendErr error
	err := r.BadRows(stream.Context(), req.Collection, func(row storage.BadRow) error {
		msg := ""
		if row.Err != nil {
			msg = row.Err.Error()
		}
		chunk = append(chunk, &storagev2.BadRow{Kind: row.Kind, Key: row.Key, Error: msg})
		if len(chunk) == badRowsChunk {
			if sendErr = send(); sendErr != nil {
				return errSend
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errSend):
		return sendErr
	case err != nil:
		return s.status(err)
	case len(chunk) > 0 || !sent:
		return send()
	}
	return nil
}

func (s serverV2) RemoveRow(ctx context.Context, req *storagev2.RemoveRowRequest) (*storagev2.RemoveRowResponse, error) {
	r, ok := s.engine.(storage.Repairer)
	if !ok {
		return nil, unimplemented("Repairer")
	}
	if err := r.RemoveRow(ctx, req.Collection, req.Kind, req.Key); err != nil {
		return nil, s.status(err)
	}
	return &storagev2.RemoveRowResponse{}, nil
}

func (s serverV2) FeedHead(ctx context.Context, _ *storagev2.FeedHeadRequest) (*storagev2.FeedHeadResponse, error) {
	f, ok := s.engine.(storage.ChangeFeed)
	if !ok {
		return nil, unimplemented("ChangeFeed")
	}
	tok, err := f.FeedHead(ctx)
	if err != nil {
		return nil, s.status(err)
	}
	return &storagev2.FeedHeadResponse{Token: tok}, nil
}

// Follow sends one message per committed batch; Send blocks while the host
// is behind (gRPC flow control), which holds the engine's feed back too.
func (s serverV2) Follow(req *storagev2.FollowRequest, stream storagev2.Storage_FollowServer) error {
	f, ok := s.engine.(storage.ChangeFeed)
	if !ok {
		return unimplemented("ChangeFeed")
	}
	var after storage.FeedToken
	if req.After != nil {
		after = storage.FeedToken(req.After)
	}
	errSend := errors.New("send")
	var sendErr error
	err := f.Follow(stream.Context(), after, func(b storage.FeedBatch) error {
		msg := &storagev2.FeedBatch{Token: b.Token, Changes: make([]*storagev2.FeedChange, len(b.Changes))}
		for i, ch := range b.Changes {
			raw, err := ch.State.Encode()
			if err != nil {
				return fmt.Errorf("encode state %s: %w", ch.State.ID, err)
			}
			msg.Changes[i] = &storagev2.FeedChange{Collection: ch.Collection, State: raw}
		}
		if sendErr = stream.Send(msg); sendErr != nil {
			return errSend
		}
		return nil
	})
	if errors.Is(err, errSend) {
		return sendErr
	}
	return s.status(err)
}
