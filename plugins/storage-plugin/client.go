package storageplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
)

// closeTimeout bounds the Close call to a plugin before its process is killed.
const closeTimeout = 10 * time.Second

// hostEngine is the storage.Engine a host gets from Open.
type hostEngine struct {
	path           string
	client         *plugin.Client
	kill           func()
	rpc            storagev1.StorageClient
	logger         *slog.Logger
	callTimeout    time.Duration
	candidatesOnly bool

	mu     sync.Mutex
	closed bool
}

// hostIndexer is a hostEngine whose plugin implements storage.Indexer.
type hostIndexer struct{ *hostEngine }

var (
	_ storage.Engine  = (*hostEngine)(nil)
	_ storage.Indexer = hostIndexer{}
)

func (e *hostEngine) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); !ok && e.callTimeout > 0 {
		return context.WithTimeout(ctx, e.callTimeout)
	}
	return context.WithCancel(ctx)
}

// check fails fast on a closed engine or a dead process.
func (e *hostEngine) check(call string) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return fmt.Errorf("storageplugin: %s: %w", call, storage.ErrClosed)
	}
	if e.client.Exited() {
		return e.unavailable(call, "the process has exited")
	}
	return nil
}

func (e *hostEngine) unavailable(call, detail string) error {
	if e.client.Exited() {
		detail = "the plugin process has exited (" + detail + "); reopen the engine to start a fresh one"
	}
	return fmt.Errorf("%w: %s: %s: %s", ErrUnavailable, call, e.path, detail)
}

func (e *hostEngine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	if err := e.check("Collection"); err != nil {
		return nil, err
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	if _, err := e.rpc.OpenCollection(cctx, &storagev1.OpenCollectionRequest{Collection: name}); err != nil {
		return nil, e.fromStatus(cctx, "Collection", err)
	}
	return &hostCollection{e: e, name: name}, nil
}

func (e *hostEngine) Apply(ctx context.Context, b *storage.Batch) error {
	if err := e.check("Apply"); err != nil {
		return err
	}
	if b == nil {
		return fmt.Errorf("storageplugin: Apply: %w: nil batch", storage.ErrInvalid)
	}
	req := &storagev1.ApplyRequest{
		Events: make([][]byte, len(b.Events)),
		States: make([]*storagev1.StateWrite, len(b.States)),
	}
	for i := range b.Events {
		raw, err := b.Events[i].Encode()
		if err != nil {
			return fmt.Errorf("storageplugin: Apply: %w: event %d: %v", storage.ErrInvalid, i, err)
		}
		req.Events[i] = raw
	}
	for i := range b.States {
		raw, err := b.States[i].State.Encode()
		if err != nil {
			return fmt.Errorf("storageplugin: Apply: %w: state %d: %v", storage.ErrInvalid, i, err)
		}
		req.States[i] = &storagev1.StateWrite{State: raw, Expected: encodeClock(b.States[i].Expected)}
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	_, err := e.rpc.Apply(cctx, req)
	return e.fromStatus(cctx, "Apply", err)
}

// Close closes the plugin's engine and ends its process. Closing twice
// fails with storage.ErrClosed.
func (e *hostEngine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("storageplugin: Close: %w", storage.ErrClosed)
	}
	e.closed = true
	e.mu.Unlock()
	defer e.kill()
	if e.client.Exited() {
		return e.unavailable("Close", "the engine may not have been closed cleanly")
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_, err := e.rpc.Close(ctx, &storagev1.CloseRequest{})
	return e.fromStatus(ctx, "Close", err)
}

func (e hostIndexer) DeclareIndex(ctx context.Context, ix storage.Index) error {
	if err := e.check("DeclareIndex"); err != nil {
		return err
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	_, err := e.rpc.DeclareIndex(cctx, &storagev1.DeclareIndexRequest{Collection: ix.Collection, Property: ix.Property})
	return e.fromStatus(cctx, "DeclareIndex", err)
}

// hostCollection is a collection of a plugin's engine.
type hostCollection struct {
	e    *hostEngine
	name string
}

func (c *hostCollection) Name() string { return c.name }

func (c *hostCollection) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	if err := c.e.check("GetState"); err != nil {
		return entity.State{}, err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	resp, err := c.e.rpc.GetState(cctx, &storagev1.GetStateRequest{Collection: c.name, Entity: eid[:]})
	if err != nil {
		return entity.State{}, c.e.fromStatus(cctx, "GetState", err)
	}
	st, err := entity.Decode(resp.State)
	if err != nil {
		return entity.State{}, fmt.Errorf("%w: GetState: state from plugin: %v", ErrProtocol, err)
	}
	return st, nil
}

func (c *hostCollection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	if err := c.e.check("FetchStates"); err != nil {
		return nil, err
	}
	raw, err := EncodeSelection(sel)
	if err != nil {
		return nil, fmt.Errorf("storageplugin: FetchStates: %w", err)
	}
	var prog query.Program
	if c.e.candidatesOnly {
		// Compile before the call: a selection the host cannot evaluate
		// should fail the same way it would in process.
		if prog, err = query.Compile(sel, nil); err != nil {
			return nil, fmt.Errorf("storageplugin: FetchStates: %w: %v", storage.ErrInvalid, err)
		}
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	stream, err := c.e.rpc.FetchStates(cctx, &storagev1.FetchStatesRequest{Collection: c.name, Selection: raw})
	if err != nil {
		return nil, c.e.fromStatus(cctx, "FetchStates", err)
	}
	var states []entity.State
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, c.e.fromStatus(cctx, "FetchStates", err)
		}
		for _, b := range chunk.States {
			st, err := entity.Decode(b)
			if err != nil {
				return nil, fmt.Errorf("%w: FetchStates: state from plugin: %v", ErrProtocol, err)
			}
			states = append(states, st)
		}
	}
	if c.e.candidatesOnly {
		return storage.Residual(states, prog, sel.OrderBy, sel.Limit)
	}
	return states, nil
}

func (c *hostCollection) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	if err := c.e.check("GetEvents"); err != nil {
		return nil, err
	}
	req := &storagev1.GetEventsRequest{Collection: c.name, Ids: make([][]byte, len(ids))}
	for i := range ids {
		req.Ids[i] = ids[i][:]
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	stream, err := c.e.rpc.GetEvents(cctx, req)
	if err != nil {
		return nil, c.e.fromStatus(cctx, "GetEvents", err)
	}
	return c.recvEvents(cctx, "GetEvents", stream)
}

func (c *hostCollection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	if err := c.e.check("EntityEvents"); err != nil {
		return nil, err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	stream, err := c.e.rpc.EntityEvents(cctx, &storagev1.EntityEventsRequest{Collection: c.name, Entity: eid[:]})
	if err != nil {
		return nil, c.e.fromStatus(cctx, "EntityEvents", err)
	}
	return c.recvEvents(cctx, "EntityEvents", stream)
}

func (c *hostCollection) recvEvents(ctx context.Context, call string, stream interface {
	Recv() (*storagev1.EventsChunk, error)
}) ([]event.Event, error) {
	var evs []event.Event
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return nil, c.e.fromStatus(ctx, call, err)
		}
		for _, b := range chunk.Events {
			ev, err := event.Decode(b)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: event from plugin: %v", ErrProtocol, call, err)
			}
			evs = append(evs, ev)
		}
	}
}
