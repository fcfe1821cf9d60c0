package property

import (
	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/value"
)

// genericEnc is the generic core deterministic encoder, what the LWW
// encoders must write byte for byte.
var genericEnc, _ = cbor.CoreDetEncOptions().EncMode()

// EncodeLWWOpsForTest encodes an LWW payload with any height, as a forger would.
func EncodeLWWOpsForTest(height uint64, set map[string]value.Value) ([]byte, error) {
	return genericEnc.Marshal(lwwOps{Height: height, Set: set})
}

// LWWStateCanonicalForTest is lwwStateCanonical, CheckState's fast path.
var LWWStateCanonicalForTest = lwwStateCanonical

// DecodeLWWOpsForTest decodes an LWW payload both ways: canonical reports
// whether the direct reader (readLWWOps) took it, and its answer; err
// is the generic decoder's.
func DecodeLWWOpsForTest(b []byte) (canonical bool, height uint64, set map[string]value.Value, genericHeight uint64, genericSet map[string]value.Value, err error) {
	o, ok := readLWWOps(b)
	var g lwwOps
	err = decMode.Unmarshal(b, &g)
	set = make(map[string]value.Value, len(o.Set))
	for _, w := range o.Set {
		set[w.prop] = w.v
	}
	if len(set) != len(o.Set) {
		panic("readLWWOps: a property twice")
	}
	return ok, o.Height, set, g.Height, g.Set, err
}

// LWWStateGenericForTest is the generic encoder's bytes for l's state, from
// its entries as a map: what State must write whatever order the entries
// were applied in.
func LWWStateGenericForTest(l *LWW) ([]byte, error) {
	var m map[string]lwwEntry
	if l.entries != nil {
		m = make(map[string]lwwEntry, len(l.entries))
		for _, e := range l.entries {
			m[e.name] = e.lwwEntry
		}
	}
	return genericEnc.Marshal(lwwState{Height: l.height, Entries: m})
}
