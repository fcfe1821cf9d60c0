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
