package property

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// FuzzLWWEncode holds the LWW state and operations encoders to the generic
// encoder: the same bytes, or an error for the same inputs (strings that
// are not UTF-8), for maps built from the input (nil, empty, names of any
// length, values of every kind, heights at every head width).
func FuzzLWWEncode(f *testing.F) {
	f.Add([]byte("\x05\x04name\x04\x00\x00\x00\x00\x00\x00\x07\xcf\x03year\x02\x00\x00\x00\x00\x00\x00\x07\xcf"))
	f.Add(bytes.Repeat([]byte{3, 250, 7, 1, 0xff, 24}, 60))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		next := func(n int) []byte {
			n = min(n, len(b))
			out := b[:n]
			b = b[n:]
			return out
		}
		word := func() uint64 { return binary.BigEndian.Uint64(append(next(8), make([]byte, 8)...)) }
		num := func() int {
			if x := next(1); len(x) == 1 {
				return int(x[0])
			}
			return 0
		}
		height := word() >> (num() % 64)
		var entries map[string]lwwEntry
		var set map[string]value.Value
		if k := num() % 20; k > 0 {
			entries, set = map[string]lwwEntry{}, map[string]value.Value{}
			for range k - 1 {
				name := string(next(num() % 30))
				w := word()
				var v value.Value
				switch num() % 8 {
				case 1:
					v = value.Bool(w&1 == 1)
				case 2:
					v = value.Int(int64(w))
				case 3:
					v = value.Float(math.Float64frombits(w))
				case 4:
					v = value.String(string(next(num() % 40)))
				case 5:
					v = value.Bytes(next(num() % 40))
				case 6:
					v, _ = value.JSON(next(num() % 40))
				case 7:
					var e id.EntityID
					copy(e[:], next(id.Size))
					v = value.Ref(e)
				}
				var ev id.EventID
				copy(ev[:], next(id.Size))
				entries[name] = lwwEntry{Value: v, Event: ev, Height: word() >> (num() % 64)}
				set[name] = v
			}
		}
		want, werr := genericEnc.Marshal(lwwState{Height: height, Entries: entries})
		got, err := appendLWWState(nil, height, entriesOf(entries))
		if (err != nil) != (werr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("state: %x (%v), generic %x (%v)", got, err, want, werr)
		}
		want, werr = genericEnc.Marshal(lwwOps{Height: height, Set: set})
		got, err = appendLWWOps(nil, height, pairsOf(set))
		if (err != nil) != (werr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("ops: %x (%v), generic %x (%v)", got, err, want, werr)
		}
	})
}

// pairsOf is set as appendLWWOps takes it (nil for a nil map).
func pairsOf(set map[string]value.Value) []setPair {
	if set == nil {
		return nil
	}
	pairs := make([]setPair, 0, len(set))
	for k, v := range set {
		pairs = append(pairs, setPair{k, v})
	}
	return pairs
}
