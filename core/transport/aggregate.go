package transport

import (
	"github.com/ankurah/ankurah-go/core/value"
)

// MaxWireGroups bounds the groups of one live aggregate a server keeps for
// a client (a GROUP BY with more groups ends with a limit error), so a
// reset always fits a frame.
const MaxWireGroups = 10000

// AggregateReq (protocol version 3) starts a live aggregate on the durable
// node: a count, or a GROUP BY with terms in their text form (`sum(price)`,
// see storage.ParseAgg), over Query. Sub is from the subscription ids'
// space; Unsubscribe ends it.
type AggregateReq struct {
	Sub        uint64   `cbor:"1,keyasint"`
	Collection string   `cbor:"2,keyasint"`
	Query      string   `cbor:"3,keyasint"`
	GroupBy    []string `cbor:"4,keyasint,omitempty"`
	Aggs       []string `cbor:"5,keyasint,omitempty"`
}

// AggUpdate (protocol version 3) carries a live aggregate's groups: with
// Reset, every group (the initial value, sent before the request's
// response); otherwise the groups one commit changed, Gone for a group that
// lost its last row.
type AggUpdate struct {
	Sub    uint64      `cbor:"1,keyasint"`
	Reset  bool        `cbor:"2,keyasint,omitempty"`
	Groups []WireGroup `cbor:"3,keyasint,omitempty"`
}

// WireGroup is one group of a live aggregate: its key, row count and one
// value per term.
type WireGroup struct {
	Key    []value.Value `cbor:"1,keyasint,omitempty"`
	Count  int64         `cbor:"2,keyasint,omitempty"`
	Values []value.Value `cbor:"3,keyasint,omitempty"`
	Gone   bool          `cbor:"4,keyasint,omitempty"`
}
