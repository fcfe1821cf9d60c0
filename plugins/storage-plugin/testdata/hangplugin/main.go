// Command hangplugin serves the memory engine, except that reading a state
// or fetching hangs forever: the host must give up at its context deadline.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

type engine struct{ *memory.Engine }

func (e engine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	c, err := e.Engine.Collection(ctx, name)
	if err != nil {
		return nil, err
	}
	return collection{c}, nil
}

type collection struct{ storage.Collection }

func (collection) GetState(_ context.Context, eid id.EntityID) (entity.State, error) {
	slog.Warn("hangplugin: GetState hangs", "entity", eid.String())
	time.Sleep(time.Hour) // ignores its context on purpose
	return entity.State{}, nil
}

func (collection) FetchStates(context.Context, *query.Bound) ([]entity.State, error) {
	time.Sleep(time.Hour)
	return nil, nil
}

func main() { storageplugin.Serve(engine{memory.New()}) }
