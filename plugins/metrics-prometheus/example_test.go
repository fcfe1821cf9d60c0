package prommetrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	prommetrics "github.com/ankurah/ankurah-go/plugins/metrics-prometheus"
)

// A program that embeds a node serves its metrics like `ankurah serve`:
// instrument the engine, give the node the Metrics, collect the node's
// levels, and mount the handler.
func Example() {
	ctx := context.Background()
	m := prommetrics.New(nil)
	node, err := core.NewNode(ctx, m.InstrumentEngine(memory.New()), policy.Permissive{}, core.WithMetrics(m))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()
	if err := m.CollectNode(node); err != nil {
		fmt.Println(err)
		return
	}
	trx := node.Context(nil).Begin()
	album, _ := trx.Create(ctx, "album")
	album.Set("name", "Origin of Symmetry")
	if err := trx.Commit(ctx); err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(m.Handler()) // mux.Handle("/metrics", m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "ankurah_commits_total") || strings.HasPrefix(line, "ankurah_peers") {
			fmt.Println(line)
		}
	}
	// Output:
	// ankurah_commits_total{outcome="conflict"} 0
	// ankurah_commits_total{outcome="denied"} 0
	// ankurah_commits_total{outcome="error"} 0
	// ankurah_commits_total{outcome="ok"} 1
	// ankurah_peers 0
}
