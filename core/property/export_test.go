package property

import "github.com/ankurah/ankurah-go/core/value"

// EncodeLWWOpsForTest encodes an LWW payload with any height, as a forger would.
func EncodeLWWOpsForTest(height uint64, set map[string]value.Value) ([]byte, error) {
	return encMode.Marshal(lwwOps{Height: height, Set: set})
}

// LWWStateCanonicalForTest is lwwStateCanonical, CheckState's fast path.
var LWWStateCanonicalForTest = lwwStateCanonical
