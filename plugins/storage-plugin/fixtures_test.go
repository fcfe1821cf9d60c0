package storageplugin_test

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// created returns the genesis event of an entity of collection and its
// state with the given values.
func created(collection, label string, values map[string]value.Value) (event.Event, entity.State) {
	sum := sha256.Sum256([]byte(collection + "/" + label))
	ev := event.NewGenesis(collection, map[string][]byte{"lww": []byte(label)}, sum[:event.NonceSize], 1_700_000_000_000)
	return ev, entity.State{
		ID:         ev.Entity,
		Collection: collection,
		Head:       event.NewClock(ev.ID()),
		Backends:   entity.BackendsOf(map[string][]byte{"lww": []byte("state of " + label)}),
		Values:     value.FieldsOf(values),
	}
}

// createBatch is the batch that stores new entities.
func createBatch(pairs ...any) *storage.Batch {
	b := &storage.Batch{}
	for i := 0; i < len(pairs); i += 2 {
		b.Events = append(b.Events, pairs[i].(event.Event))
		b.States = append(b.States, storage.StateWrite{State: pairs[i+1].(entity.State)})
	}
	return b
}

// open starts a plugin and closes it when the test ends.
func open(t *testing.T, name string, opts ...storageplugin.Option) storage.Engine {
	t.Helper()
	e, err := storageplugin.Open(t.Context(), bin(t, name), opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func collection(t *testing.T, e storage.Engine, name string) storage.Collection {
	t.Helper()
	c, err := e.Collection(context.Background(), name)
	if err != nil {
		t.Fatalf("Collection(%q): %v", name, err)
	}
	return c
}

// execOutput runs a program with this process's environment minus the
// plugin cookie, as a user would by hand, and returns its combined output.
func execOutput(path string, args ...string) (string, error) {
	cmd := exec.Command(path, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, storageplugin.MagicCookieKey+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
