package bench

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	text "github.com/ankurah/ankurah-go/plugins/datatype-text"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

type tracePatch struct {
	pos, del int
	ins      string
}

func (p *tracePatch) UnmarshalJSON(b []byte) error {
	var a [3]json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(a[0], &p.pos); err != nil {
		return err
	}
	if err := json.Unmarshal(a[1], &p.del); err != nil {
		return err
	}
	return json.Unmarshal(a[2], &p.ins)
}

// automergePaper reads the trace's edits from $EDITING_TRACES_DIR or ../../shared.
func automergePaper(b *testing.B) []tracePatch {
	dir := os.Getenv("EDITING_TRACES_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "editing-traces")
	}
	f, err := os.Open(filepath.Join(dir, "automerge-paper.json.gz"))
	if err != nil {
		b.Skipf("automerge-paper trace not found (set EDITING_TRACES_DIR): %v", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	var tr struct {
		Txns []struct {
			Patches []tracePatch `json:"patches"`
		} `json:"txns"`
	}
	if err := json.NewDecoder(z).Decode(&tr); err != nil {
		b.Fatal(err)
	}
	var out []tracePatch
	for _, t := range tr.Txns {
		out = append(out, t.Patches...)
	}
	return out
}

// BenchmarkTextTrace_Commits replays the first TEXT_TRACE_EDITS edits of the
// automerge-paper trace (default 5,000) as Ankurah commits on one entity's
// text property: one transaction, one event and one storage write per edit.
func BenchmarkTextTrace_Commits(b *testing.B) {
	edits := automergePaper(b)
	n := 5000
	if s := os.Getenv("TEXT_TRACE_EDITS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	edits = edits[:min(n, len(edits))]
	engines := []struct {
		name string
		open func(b *testing.B) storage.Engine
	}{
		{"memory", func(*testing.B) storage.Engine { return memory.New() }},
		{"bolt", func(b *testing.B) storage.Engine {
			e, err := bolt.Open(context.Background(), filepath.Join(b.TempDir(), "t.db"))
			if err != nil {
				b.Fatal(err)
			}
			return e
		}},
	}
	for _, eng := range engines {
		b.Run(eng.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				e := eng.open(b)
				node, _ := core.NewNode(context.Background(), e, policy.Permissive{})
				c := node.Context(nil)
				trx := c.Begin()
				m, _ := trx.Create(ctx, "doc")
				m.Set("title", "automerge-paper")
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				eid := m.ID()
				for _, p := range edits {
					trx := c.Begin()
					m, err := trx.Edit(ctx, "doc", eid)
					if err != nil {
						b.Fatal(err)
					}
					t := new(text.Text).AnkurahMut(m.Handle("body"))
					if p.del > 0 {
						if err := t.Delete(p.pos, p.del); err != nil {
							b.Fatal(err)
						}
					}
					if p.ins != "" {
						if err := t.Insert(p.pos, p.ins); err != nil {
							b.Fatal(err)
						}
					}
					if err := trx.Commit(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				coll, _ := e.Collection(ctx, "doc")
				st, _ := coll.GetState(ctx, eid)
				evs, _ := coll.EntityEvents(ctx, eid)
				b.ReportMetric(float64(len(st.Backends.StateOf("text"))), "state-bytes")
				b.ReportMetric(float64(len(evs)), "events")
				node.Close()
				e.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(edits)), "µs/edit")
		})
	}
}
