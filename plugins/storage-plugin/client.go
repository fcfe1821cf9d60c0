package storageplugin

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
)

var _ hostStorage = (*hostEngine)(nil)

func (e *hostEngine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	p, err := e.current("Collection")
	if err != nil {
		return nil, err
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	if _, err := p.rpc.OpenCollection(cctx, &storagev1.OpenCollectionRequest{Collection: name}); err != nil {
		return nil, e.fromStatus(p, cctx, "Collection", err)
	}
	return &hostCollection{e: e, name: name}, nil
}

func (e *hostEngine) Apply(ctx context.Context, b *storage.Batch) error {
	if b == nil {
		return fmt.Errorf("storageplugin: Apply: %w: nil batch", storage.ErrInvalid)
	}
	req := &storagev1.ApplyRequest{
		Events: make([][]byte, len(b.Events)),
		States: make([]*storagev1.StateWrite, len(b.States)),
	}
	// The events and states are encoded into one buffer (each a capped
	// piece of it), and the state messages made in one array: a batch of
	// thousands of entities costs a few allocations, not thousands.
	buf := make([]byte, 0, 256*(len(b.Events)+len(b.States)))
	piece := func(start int) []byte { return buf[start:len(buf):len(buf)] }
	for i := range b.Events {
		start := len(buf)
		buf = b.Events[i].AppendCBOR(buf)
		req.Events[i] = piece(start)
	}
	writes := make([]storagev1.StateWrite, len(b.States))
	for i := range b.States {
		start := len(buf)
		var err error
		if buf, err = b.States[i].State.AppendCBOR(buf); err != nil {
			return fmt.Errorf("storageplugin: Apply: %w: state %d: %v", storage.ErrInvalid, i, err)
		}
		writes[i].State, writes[i].Expected = piece(start), encodeClock(b.States[i].Expected)
		req.States[i] = &writes[i]
	}
	p, err := e.current("Apply")
	if err != nil {
		return err
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	_, err = p.rpc.Apply(cctx, req)
	return e.fromStatus(p, cctx, "Apply", err)
}

// hostCollection is a collection of a plugin's engine.
type hostCollection struct {
	e    *hostEngine
	name string
}

func (c *hostCollection) Name() string { return c.name }

func (c *hostCollection) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	p, err := c.e.current("GetState")
	if err != nil {
		return entity.State{}, err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	resp, err := p.rpc.GetState(cctx, &storagev1.GetStateRequest{Collection: c.name, Entity: eid[:]})
	if err != nil {
		return entity.State{}, c.e.fromStatus(p, cctx, "GetState", err)
	}
	st, err := entity.Decode(resp.State)
	if err != nil {
		return entity.State{}, fmt.Errorf("%w: GetState: state from plugin: %v", ErrProtocol, err)
	}
	return st, nil
}

func (c *hostCollection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	p, err := c.e.current("FetchStates")
	if err != nil {
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
	stream, err := p.rpc.FetchStates(cctx, &storagev1.FetchStatesRequest{Collection: c.name, Selection: raw})
	if err != nil {
		return nil, c.e.fromStatus(p, cctx, "FetchStates", err)
	}
	var states []entity.State
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, c.e.fromStatus(p, cctx, "FetchStates", err)
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
	p, err := c.e.current("GetEvents")
	if err != nil {
		return nil, err
	}
	req := &storagev1.GetEventsRequest{Collection: c.name, Ids: make([][]byte, len(ids))}
	for i := range ids {
		req.Ids[i] = ids[i][:]
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	stream, err := p.rpc.GetEvents(cctx, req)
	if err != nil {
		return nil, c.e.fromStatus(p, cctx, "GetEvents", err)
	}
	return c.recvEvents(p, cctx, "GetEvents", stream)
}

func (c *hostCollection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	p, err := c.e.current("EntityEvents")
	if err != nil {
		return nil, err
	}
	cctx, cancel := c.e.callCtx(ctx)
	defer cancel()
	stream, err := p.rpc.EntityEvents(cctx, &storagev1.EntityEventsRequest{Collection: c.name, Entity: eid[:]})
	if err != nil {
		return nil, c.e.fromStatus(p, cctx, "EntityEvents", err)
	}
	return c.recvEvents(p, cctx, "EntityEvents", stream)
}

func (c *hostCollection) recvEvents(p *process, ctx context.Context, call string, stream interface {
	Recv() (*storagev1.EventsChunk, error)
}) ([]event.Event, error) {
	var evs []event.Event
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return nil, c.e.fromStatus(p, ctx, call, err)
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
