package datatypetest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// LWW is the harness of core's last-writer-wins backend: the hook that runs
// this suite against it.
func LWW(uint64) Harness { return lwwHarness{} }

type lwwHarness struct{}

func (lwwHarness) Load(state []byte) (property.Backend, error) { return property.LoadLWW(state) }

func (lwwHarness) Edit(rng *rand.Rand, b property.Backend, size int) error {
	l, ok := b.(*property.LWW)
	if !ok {
		return fmt.Errorf("not an LWW backend: %T", b)
	}
	prop := fmt.Sprintf("p%d", rng.IntN(4))
	var v value.Value
	switch rng.IntN(4) {
	case 0:
		v = value.Int(rng.Int64())
	case 1:
		v = value.String(strings.Repeat("x", rng.IntN(size+8)))
	case 2:
		v = value.Bool(rng.IntN(2) == 0)
	default:
		v = value.Float(rng.Float64())
	}
	l.Set(prop, v)
	return nil
}
