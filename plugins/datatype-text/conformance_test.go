package text

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/datatypetest"
	"github.com/ankurah/ankurah-go/core/property"
)

// textHarness draws every client id of a run from one seeded source, so a
// failing seed replays exactly and replicas never share an id.
type textHarness struct{ ids *rand.Rand }

func (h textHarness) Load(state []byte) (property.Backend, error) {
	return Load(state, WithClientIDs(func() uint64 { return uint64(h.ids.Uint32()) }))
}

func (textHarness) Edit(rng *rand.Rand, b property.Backend, size int) error {
	tb, ok := b.(*Backend)
	if !ok {
		return fmt.Errorf("not a text backend: %T", b)
	}
	name := []string{"title", "body"}[rng.IntN(2)]
	d := tb.Doc()
	if size > 1 {
		r := make([]rune, size)
		for i := range r {
			alphabet := []rune("lorem ipsum é😀𝄞\n")
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return d.Insert(name, rng.IntN(d.Len(name)+1), string(r))
	}
	ins, pos, n, s := randomEdit(rng, d.Len(name))
	if ins {
		return d.Insert(name, pos, s)
	}
	return d.Delete(name, pos, n)
}

func TestConformance(t *testing.T) {
	datatypetest.Run(t, func(seed uint64) datatypetest.Harness {
		return textHarness{ids: rand.New(rand.NewPCG(seed, 1))}
	})
}
