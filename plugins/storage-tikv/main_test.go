package tikv_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pingcap/log"
	"github.com/tikv/client-go/v2/testutils"
	tikvstore "github.com/tikv/client-go/v2/tikv"
	"github.com/tikv/client-go/v2/txnkv"
	"go.uber.org/zap/zapcore"

	"github.com/ankurah/ankurah-go/core/keyenc"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// The tests run on client-go's in-process store, or on the real cluster
// whose PD endpoints TIKV_PD_ADDRS lists (comma-separated): the same tests
// either way. Every engine gets its own key prefix, so tests never see each
// other's data, on one shared client.

func TestMain(m *testing.M) {
	log.SetLevel(zapcore.FatalLevel) // client-go logs region and lock chatter through zap
	code := m.Run()
	if shared.client != nil {
		_ = shared.client.Close()
	}
	os.Exit(code)
}

var shared struct {
	once   sync.Once
	client *txnkv.Client
	real   bool
	err    error
}

// client returns the process's shared TiKV client.
func client(t testing.TB) *txnkv.Client {
	t.Helper()
	shared.once.Do(func() {
		if addrs := os.Getenv("TIKV_PD_ADDRS"); addrs != "" {
			shared.real = true
			shared.client, shared.err = txnkv.NewClient(strings.Split(addrs, ","))
			return
		}
		rpc, cluster, pd, err := testutils.NewMockTiKV("", nil)
		if err != nil {
			shared.err = err
			return
		}
		testutils.BootstrapWithSingleStore(cluster)
		store, err := tikvstore.NewTestTiKVStore(rpc, pd, nil, nil, 0)
		if err != nil {
			shared.err = err
			return
		}
		shared.client = &txnkv.Client{KVStore: store}
	})
	if shared.err != nil {
		t.Fatalf("tikv client: %v", shared.err)
	}
	return shared.client
}

// uniquePrefix returns a fresh key prefix; on a real cluster its keys are
// deleted when the test ends.
func uniquePrefix(t testing.TB) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := "ankurah-test-" + hex.EncodeToString(b[:])
	if shared.real {
		c := shared.client
		t.Cleanup(func() {
			root := append([]byte(p), 0)
			_, _ = c.DeleteRange(context.Background(), root, keyenc.PrefixEnd(root), 1)
		})
	}
	return p
}

// newEngine opens an engine under a fresh key prefix (unless opts set one).
func newEngine(t testing.TB, opts ...tikv.Option) *tikv.Engine {
	t.Helper()
	opts = append([]tikv.Option{tikv.WithKeyPrefix(uniquePrefix(t))}, opts...)
	e, err := tikv.New(context.Background(), client(t), opts...)
	if err != nil {
		t.Fatalf("tikv.New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
