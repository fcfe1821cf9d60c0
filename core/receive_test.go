package core_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// A client checks every backend of a state its durable peer sends before
// storing it (without loading the ones it can check cheaply): a state
// whose backend does not load is refused with ErrInvalid, and nothing of
// the response is stored.
func TestSync_ClientRefusesStatesWhoseBackendsDoNotLoad(t *testing.T) {
	ctx := context.Background()
	serve := func(t *testing.T) (*core.Node, entity.State) {
		server := newNode(t)
		trx := server.Context(nil).Begin()
		m, err := trx.Create(ctx, "bad")
		must(t, err)
		must(t, m.Set("name", "x"))
		must(t, trx.Commit(ctx))
		coll, err := server.Engine().Collection(ctx, "bad")
		must(t, err)
		good, err := coll.GetState(ctx, m.ID())
		must(t, err)
		return server, good
	}
	_, good := serve(t)
	lww := good.Backends.StateOf("lww")
	for name, backends := range map[string]map[string][]byte{
		"truncated lww":   {"lww": lww[:len(lww)-1]},
		"lww with a tail": {"lww": append(append([]byte(nil), lww...), 0xf6)},
		"not lww at all":  {"lww": {0xff}},
		"unknown backend": {"lww": lww, "no-such-backend": {0xa0}},
	} {
		t.Run(name, func(t *testing.T) {
			server, good := serve(t)
			eid := id.EntityID{byte(len(name)), 0xbd}
			bad := entity.State{ID: eid, Collection: "bad", Head: event.NewClock(id.EventID{byte(len(name))}),
				Backends: entity.BackendsOf(backends), Values: value.FieldsOf(map[string]value.Value{"name": value.String("x")})}
			must(t, server.Engine().Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: bad}}}))
			client := newClient(t)
			link(t, server, client)
			_, err := client.Context(nil).Fetch(ctx, "bad", "name = 'x'")
			if !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("fetch of a state whose backend does not load: %v, want ErrInvalid", err)
			}
			local, err := client.Engine().Collection(ctx, "bad")
			must(t, err)
			for _, eid := range []id.EntityID{eid, good.ID} {
				if _, err := local.GetState(ctx, eid); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("the client stored %s of the refused response: %v", eid, err)
				}
			}
		})
	}
}
