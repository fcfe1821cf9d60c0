package property

import (
	"slices"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// The LWW encoders write, without reflection, exactly what the generic CBOR
// encoder in core deterministic mode writes for lwwState and lwwOps (maps of
// integer keys, property names sorted by their encoding, a nil map as
// null); FuzzLWWEncode holds them to that, byte for byte. Replicas that
// applied the same events compare these bytes, so they must never change.

type setPair struct {
	name string
	v    value.Value
}

// appendLWWState appends the encoding of lwwState{height, entries}, the
// entries sorted in core deterministic order (LWW.entries).
func appendLWWState(dst []byte, height uint64, entries []lwwNamed) ([]byte, error) {
	dst = value.AppendHead(append(dst, 0xa2, 0x01), 0, height)
	dst = append(dst, 0x02)
	if entries == nil {
		return append(dst, 0xf6), nil
	}
	dst = value.AppendHead(dst, 5, uint64(len(entries)))
	for i := range entries {
		p := &entries[i]
		dst = append(value.AppendHead(dst, 3, uint64(len(p.name))), p.name...)
		dst = append(dst, 0xa3, 0x01)
		var err error
		if dst, err = p.Value.AppendCBOR(dst); err != nil {
			return nil, err
		}
		dst = append(dst, 0x02, 0x58, id.Size)
		dst = append(dst, p.Event[:]...)
		dst = value.AppendHead(append(dst, 0x03), 0, p.Height)
	}
	return dst, nil
}

// appendLWWOps appends the encoding of lwwOps{height, set} for the set
// held as pairs (nil: a nil map, written as null), one per name; it sorts
// pairs in place.
func appendLWWOps(dst []byte, height uint64, pairs []setPair) ([]byte, error) {
	dst = value.AppendHead(append(dst, 0xa2, 0x01), 0, height)
	dst = append(dst, 0x02)
	if pairs == nil {
		return append(dst, 0xf6), nil
	}
	slices.SortFunc(pairs, func(a, b setPair) int { return value.KeyOrder(a.name, b.name) })
	dst = value.AppendHead(dst, 5, uint64(len(pairs)))
	for _, p := range pairs {
		dst = append(value.AppendHead(dst, 3, uint64(len(p.name))), p.name...)
		var err error
		if dst, err = p.v.AppendCBOR(dst); err != nil {
			return nil, err
		}
	}
	return dst, nil
}
