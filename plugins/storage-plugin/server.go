package storageplugin

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
	storagev2 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v2"
)

// Streamed reads are cut into chunks of at most chunkItems items or about
// chunkBytes bytes, well under gRPC's message size limit.
const (
	chunkItems = 1024
	chunkBytes = 1 << 20
)

// CandidatesOnly is an optional interface of an Engine served by Serve: an
// engine whose FetchStatesCandidatesOnly returns true returns a superset of
// the matches, in any order, ignoring the limit, and the host finishes the
// selection with storage.Residual.
type CandidatesOnly interface {
	FetchStatesCandidatesOnly() bool
}

// server adapts a storage.Engine to the calls both protocol versions share
// (serverV1 and serverV2 add the rest).
type server struct {
	engine  storage.Engine
	name    string
	version int

	mu          sync.Mutex
	collections map[string]storage.Collection
}

func newServer(engine storage.Engine, name string, version int) *server {
	return &server{engine: engine, name: name, version: version, collections: map[string]storage.Collection{}}
}

// status is the error a call returns to a host of the server's version.
func (s *server) status(err error) error { return toStatus(err, s.version) }

// The unimplemented servers sit one level deeper than *server, so the
// server's methods win and only what it lacks answers UNIMPLEMENTED.
type (
	unimplementedV1 struct {
		storagev1.UnimplementedStorageServer
	}
	unimplementedV2 struct {
		storagev2.UnimplementedStorageServer
	}
)

// serverV1 serves protocol version 1.
type serverV1 struct {
	*server
	unimplementedV1
}

// serverV2 serves protocol version 2.
type serverV2 struct {
	*server
	unimplementedV2
}

var (
	_ storagev1.StorageServer = serverV1{}
	_ storagev2.StorageServer = serverV2{}
)

func (s *server) collection(ctx context.Context, name string) (storage.Collection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.collections[name]; ok {
		return c, nil
	}
	c, err := s.engine.Collection(ctx, name)
	if err != nil {
		return nil, err
	}
	s.collections[name] = c
	return c, nil
}

func (s *server) candidatesOnly() bool {
	c, ok := s.engine.(CandidatesOnly)
	return ok && c.FetchStatesCandidatesOnly()
}

func (s serverV1) Describe(context.Context, *storagev1.DescribeRequest) (*storagev1.DescribeResponse, error) {
	if f, ok := s.engine.(failedEngine); ok {
		return nil, s.status(f.err)
	}
	resp := &storagev1.DescribeResponse{Engine: s.name, CandidatesOnly: s.candidatesOnly()}
	_, resp.Indexer = s.engine.(storage.Indexer)
	return resp, nil
}

func (s serverV2) Describe(context.Context, *storagev2.DescribeRequest) (*storagev2.DescribeResponse, error) {
	if f, ok := s.engine.(failedEngine); ok {
		return nil, s.status(f.err)
	}
	return &storagev2.DescribeResponse{Engine: s.name, CandidatesOnly: s.candidatesOnly(), Capabilities: engineCaps(s.engine).names()}, nil
}

func (s *server) OpenCollection(ctx context.Context, req *storagev1.OpenCollectionRequest) (*storagev1.OpenCollectionResponse, error) {
	if _, err := s.collection(ctx, req.Collection); err != nil {
		return nil, s.status(err)
	}
	return &storagev1.OpenCollectionResponse{}, nil
}

func (s *server) Apply(ctx context.Context, req *storagev1.ApplyRequest) (*storagev1.ApplyResponse, error) {
	// Decoded here and read by nobody else: the engine may keep what it
	// was given instead of copying it (Batch.Handover).
	b := &storage.Batch{Events: make([]event.Event, len(req.Events)), States: make([]storage.StateWrite, len(req.States)), Handover: true}
	for i, raw := range req.Events {
		e, err := event.Decode(raw)
		if err != nil {
			return nil, s.status(fmt.Errorf("%w: batch event %d: %v", storage.ErrInvalid, i, err))
		}
		b.Events[i] = e
	}
	for i, w := range req.States {
		st, err := entity.Decode(w.State)
		if err != nil {
			return nil, s.status(fmt.Errorf("%w: batch state %d: %v", storage.ErrInvalid, i, err))
		}
		exp, err := decodeClock(w.Expected)
		if err != nil {
			return nil, s.status(fmt.Errorf("%w: batch state %d expected head: %v", storage.ErrInvalid, i, err))
		}
		b.States[i] = storage.StateWrite{State: st, Expected: exp}
	}
	if err := s.engine.Apply(ctx, b); err != nil {
		return nil, s.status(err)
	}
	return &storagev1.ApplyResponse{}, nil
}

func (s *server) GetState(ctx context.Context, req *storagev1.GetStateRequest) (*storagev1.GetStateResponse, error) {
	eid, err := id.EntityFromBytes(req.Entity)
	if err != nil {
		return nil, s.status(fmt.Errorf("%w: entity id: %v", storage.ErrInvalid, err))
	}
	c, err := s.collection(ctx, req.Collection)
	if err != nil {
		return nil, s.status(err)
	}
	var st entity.State
	if sr, ok := c.(storage.SharedReader); ok {
		st, err = sr.GetStateShared(ctx, eid) // only encoded: no copy needed
	} else {
		st, err = c.GetState(ctx, eid)
	}
	if err != nil {
		return nil, s.status(err)
	}
	raw, err := st.Encode()
	if err != nil {
		return nil, s.status(fmt.Errorf("encode state %s: %w", st.ID, err))
	}
	return &storagev1.GetStateResponse{State: raw}, nil
}

func (s *server) FetchStates(req *storagev1.FetchStatesRequest, stream storagev1.Storage_FetchStatesServer) error {
	ctx := stream.Context()
	sel, err := DecodeSelection(req.Selection)
	if err != nil {
		return s.status(err)
	}
	c, err := s.collection(ctx, req.Collection)
	if err != nil {
		return s.status(err)
	}
	var states []entity.State
	if sr, ok := c.(storage.SharedReader); ok {
		states, err = sr.FetchStatesShared(ctx, sel) // only encoded: no copies needed
	} else {
		states, err = c.FetchStates(ctx, sel)
	}
	if err != nil {
		return s.status(err)
	}
	return s.status(sendChunks(states, func(b []byte, st *entity.State) ([]byte, error) { return st.AppendCBOR(b) },
		func(chunk [][]byte) error { return stream.Send(&storagev1.StatesChunk{States: chunk}) }))
}

func (s *server) GetEvents(req *storagev1.GetEventsRequest, stream storagev1.Storage_GetEventsServer) error {
	ctx := stream.Context()
	ids := make([]id.EventID, len(req.Ids))
	for i, raw := range req.Ids {
		if len(raw) != len(ids[i]) {
			return s.status(fmt.Errorf("%w: event id %d of %d bytes, want %d", storage.ErrInvalid, i, len(raw), len(ids[i])))
		}
		copy(ids[i][:], raw)
	}
	c, err := s.collection(ctx, req.Collection)
	if err != nil {
		return s.status(err)
	}
	evs, err := c.GetEvents(ctx, ids)
	if err != nil {
		return s.status(err)
	}
	return s.status(s.sendEvents(evs, stream))
}

func (s *server) EntityEvents(req *storagev1.EntityEventsRequest, stream storagev1.Storage_EntityEventsServer) error {
	ctx := stream.Context()
	eid, err := id.EntityFromBytes(req.Entity)
	if err != nil {
		return s.status(fmt.Errorf("%w: entity id: %v", storage.ErrInvalid, err))
	}
	c, err := s.collection(ctx, req.Collection)
	if err != nil {
		return s.status(err)
	}
	evs, err := c.EntityEvents(ctx, eid)
	if err != nil {
		return s.status(err)
	}
	return s.status(s.sendEvents(evs, stream))
}

func (s *server) sendEvents(evs []event.Event, stream interface {
	Send(*storagev1.EventsChunk) error
}) error {
	return sendChunks(evs, func(b []byte, e *event.Event) ([]byte, error) { return e.AppendCBOR(b), nil },
		func(chunk [][]byte) error { return stream.Send(&storagev1.EventsChunk{Events: chunk}) })
}

// sendChunks encodes items and sends them in chunks. It sends at least one
// (possibly empty) chunk, so a reader can tell an empty result from a
// stream that broke before its first message. A chunk's items are encoded
// into one buffer (each a capped piece of it); a sent chunk's buffer is not
// reused (gRPC may read a message after Send returns).
func sendChunks[T any](items []T, appendItem func([]byte, *T) ([]byte, error), send func([][]byte) error) error {
	chunk := make([][]byte, 0, min(len(items), chunkItems))
	var buf []byte
	sent := false
	for i := range items {
		if len(chunk) > 0 && (len(chunk) == chunkItems || len(buf) > chunkBytes) {
			if err := send(chunk); err != nil {
				return err
			}
			sent = true
			chunk, buf = make([][]byte, 0, min(len(items)-i, chunkItems)), nil
		}
		if buf == nil {
			buf = make([]byte, 0, min(chunkBytes+chunkBytes/4, 256*min(len(items)-i, chunkItems)))
		}
		start := len(buf)
		var err error
		if buf, err = appendItem(buf, &items[i]); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		chunk = append(chunk, buf[start:len(buf):len(buf)])
	}
	if len(chunk) > 0 || !sent {
		return send(chunk)
	}
	return nil
}

func (s *server) DeclareIndex(ctx context.Context, req *storagev1.DeclareIndexRequest) (*storagev1.DeclareIndexResponse, error) {
	ix, ok := s.engine.(storage.Indexer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the engine does not implement storage.Indexer")
	}
	if err := ix.DeclareIndex(ctx, storage.Index{Collection: req.Collection, Property: req.Property}); err != nil {
		return nil, s.status(err)
	}
	return &storagev1.DeclareIndexResponse{}, nil
}

func (s *server) Close(context.Context, *storagev1.CloseRequest) (*storagev1.CloseResponse, error) {
	if err := s.engine.Close(); err != nil {
		return nil, s.status(err)
	}
	return &storagev1.CloseResponse{}, nil
}

// decodeClock turns the expected-head ids of a StateWrite into a Clock,
// checking their length and order.
func decodeClock(raw [][]byte) (event.Clock, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	c := make(event.Clock, len(raw))
	for i, r := range raw {
		if len(r) != len(c[i]) {
			return nil, fmt.Errorf("event id %d of %d bytes, want %d", i, len(r), len(c[i]))
		}
		copy(c[i][:], r)
	}
	return c, c.Validate()
}

func encodeClock(c event.Clock) [][]byte {
	out := make([][]byte, len(c))
	for i := range c {
		out[i] = c[i][:]
	}
	return out
}
