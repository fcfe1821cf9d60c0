// Command wrongplugin serves the memory engine with a bug: FetchStates
// ignores LIMIT. The conformance command must fail on it and name the cases.
package main

import (
	"context"

	"github.com/ankurah/ankurah-go/core/entity"
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

func (c collection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	unlimited := *sel
	unlimited.Limit = -1
	return c.Collection.FetchStates(ctx, &unlimited)
}

func main() { storageplugin.Serve(engine{memory.New()}) }
