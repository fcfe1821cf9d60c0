package transport

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
)

// ProtocolVersion is the version of the wire protocol this build speaks.
// Version 2: results stream in parts (More), ids are exactly 32 bytes,
// subscriptions can end with an error (SubEnded), and a server tells a client
// whose credentials expired (Notice). Version 3: live aggregates
// (Request.Aggregate, Message.AggUpdate); a version-3 server serves
// version-2 clients too (MinProtocolVersion), answering with the version
// both speak. Version 4: live queries with includes (SubscribeReq.Includes,
// TagIncluded); a version-4 server serves versions 2 to 4. Version 5:
// fetches continued after a pagination cursor (FetchReq.After); a version-5
// server serves versions 2 to 5. Version 6: a commit names the heads its
// sender computed (CommitReq.Expect), and the answer lists those entities as
// Unchanged instead of sending states the sender already holds; a version-6
// server serves versions 2 to 6. Version 7: live queries after a pagination
// cursor (SubscribeReq.After); a version-7 server serves versions 2 to 7.
// Version 8: a get names the heads its sender holds (GetReq.Known), and
// the answer lists those entities as Unchanged instead of sending states
// the sender already holds; a version-8 server serves versions 2 to 8.
// Version 9: a commit names the entities whose events must be made on
// their current heads (CommitReq.Current), refused as stale otherwise, so a
// client can edit its own copy without reading the entity first; a
// version-9 server serves versions 2 to 9.
const ProtocolVersion = 9

// MinProtocolVersion is the oldest version a durable node serves.
const MinProtocolVersion = 2

// Message is one frame of the protocol: exactly one field is set.
type Message struct {
	Hello    *Hello    `cbor:"1,keyasint,omitempty"`
	Request  *Request  `cbor:"2,keyasint,omitempty"`
	Response *Response `cbor:"3,keyasint,omitempty"`
	Updates  []Update  `cbor:"4,keyasint,omitempty"` // one durable commit's updates, all subscriptions

	Credentials []byte `cbor:"5,keyasint,omitempty"` // refreshed credentials
	Fault       *Fault `cbor:"6,keyasint,omitempty"` // the sender closes the connection after this

	// More says the Response or Updates of this message continue in the next
	// message with Response (same ID) or Updates: a result too large for one
	// frame streams as parts of at most about limits.ChunkBytes each. The
	// receiver takes the parts together as one answer or one commit.
	More bool `cbor:"7,keyasint,omitempty"`
	// SubEnded says the server ended a subscription, and why.
	SubEnded *SubEnded `cbor:"8,keyasint,omitempty"`
	// Notice tells the peer something without ending the connection
	// (CodeUnauthenticated: the credentials expired; refresh them to resume).
	Notice *Fault `cbor:"9,keyasint,omitempty"`
	// AggUpdate carries a live aggregate's groups (version 3).
	AggUpdate *AggUpdate `cbor:"10,keyasint,omitempty"`
}

// SubEnded ends one subscription from the server's side.
type SubEnded struct {
	Sub     uint64 `cbor:"1,keyasint"`
	Code    Code   `cbor:"2,keyasint"`
	Message string `cbor:"3,keyasint"`
	Kinds   string `cbor:"4,keyasint,omitempty"` // as in Fault
}

// Hello opens a connection, from each side.
type Hello struct {
	NodeID      string `cbor:"1,keyasint"`
	Durable     bool   `cbor:"2,keyasint"`
	SystemID    string `cbor:"3,keyasint,omitempty"`
	Version     uint32 `cbor:"4,keyasint"`
	Credentials []byte `cbor:"5,keyasint,omitempty"`
}

// Fault ends a connection, saying why.
type Fault struct {
	Code    Code   `cbor:"1,keyasint"`
	Message string `cbor:"2,keyasint"`
	// Kinds names the sentinel errors the error wrapped (comma-separated, as
	// core's table names them), so the receiver can wrap the same ones.
	Kinds string `cbor:"3,keyasint,omitempty"`
}

// Known is an entity the client already holds, with its head.
type Known struct {
	Entity id.EntityID `cbor:"1,keyasint"`
	Head   event.Clock `cbor:"2,keyasint"`
}

// Request asks the peer for something; exactly one body is set.
type Request struct {
	ID          uint64        `cbor:"1,keyasint"`
	Commit      *CommitReq    `cbor:"2,keyasint,omitempty"`
	Get         *GetReq       `cbor:"3,keyasint,omitempty"`
	GetEvents   *GetEventsReq `cbor:"4,keyasint,omitempty"`
	Fetch       *FetchReq     `cbor:"5,keyasint,omitempty"`
	Subscribe   *SubscribeReq `cbor:"6,keyasint,omitempty"`
	Unsubscribe *uint64       `cbor:"7,keyasint,omitempty"`
	Aggregate   *AggregateReq `cbor:"8,keyasint,omitempty"` // version 3
}

// CommitReq carries events to store, in causal order.
type CommitReq struct {
	Events []event.Event `cbor:"1,keyasint"`
	// Expect names, for entities whose state after the commit the sender
	// computed itself (it applied the same events to the state they were
	// made on), the head of that state. The answer lists an entity whose
	// resulting head is that one in Response.Unchanged instead of sending
	// its state; an entity whose head differs (a concurrent write merged
	// in) is sent in full as before (version 6; a client sends it only to a
	// peer that answered 6 or later).
	Expect []Known `cbor:"2,keyasint,omitempty"`
	// Current names entities of Events whose first event here must be made
	// on the entity's current head on the receiver (at most one per
	// event). If another write moved the head since, nothing is written
	// and the commit is refused with CodeConflict (kind "core.stale"): the
	// sender brings its copy current and makes its edit again. Used by a
	// client that edits its own copy of an entity without reading it from
	// the durable peer first (version 9; a client sends it only to a peer
	// that answered 9 or later).
	Current []id.EntityID `cbor:"3,keyasint,omitempty"`
}

// GetReq names entities of a collection.
type GetReq struct {
	Collection string        `cbor:"1,keyasint"`
	IDs        []id.EntityID `cbor:"2,keyasint"`
	// Known names, for entities of IDs the sender holds, the head it holds
	// (at most one per id). The answer lists an entity whose current head
	// is that one in Response.Unchanged instead of sending its state
	// (version 8; a client sends it only to a peer that answered 8 or
	// later).
	Known []Known `cbor:"3,keyasint,omitempty"`
}

// GetEventsReq names events of a collection.
type GetEventsReq struct {
	Collection string       `cbor:"1,keyasint"`
	IDs        []id.EventID `cbor:"2,keyasint"`
}

// FetchReq reads a selection once. Query is the printed bound selection.
type FetchReq struct {
	Collection string  `cbor:"1,keyasint"`
	Query      string  `cbor:"2,keyasint"`
	Known      []Known `cbor:"3,keyasint,omitempty"`
	// After continues the query's result after a pagination cursor (the
	// opaque text of query.Cursor.Encode): the server returns the rows its
	// ORDER BY sorts after it (version 5; a client sends it only to a peer
	// that answered 5 or later).
	After string `cbor:"4,keyasint,omitempty"`
}

// SubscribeReq starts (or re-points, for an existing ID) a subscription.
type SubscribeReq struct {
	Sub        uint64  `cbor:"1,keyasint"`
	Collection string  `cbor:"2,keyasint"`
	Query      string  `cbor:"3,keyasint"`
	Known      []Known `cbor:"4,keyasint,omitempty"`
	// Includes asks for the entities related to the rows as well, kept
	// current with them (version 4; a client sends it only to a peer
	// that answered 4 or later).
	Includes []Include `cbor:"5,keyasint,omitempty"`
	// After starts the subscription's result after a pagination cursor
	// (the opaque text of query.Cursor.Encode): with a LIMIT, its window is
	// the first LIMIT rows the query's ORDER BY sorts after it (version 7;
	// a client sends it only to a peer that answered 7 or later).
	After string `cbor:"6,keyasint,omitempty"`
}

// Include is one include of a subscription, resolved by the client: the
// entities of Collection that each row's Property refers to, or (Reverse)
// those whose Property refers to a row.
type Include struct {
	Name       string `cbor:"1,keyasint"`
	Collection string `cbor:"2,keyasint"`
	Property   string `cbor:"3,keyasint"`
	Reverse    bool   `cbor:"4,keyasint,omitempty"`
}

// MaxIncludes is the most includes one subscription may carry.
const MaxIncludes = 8

// Response answers a request. Error is empty on success; Code names the
// error's kind (see the Code constants).
type Response struct {
	ID     uint64         `cbor:"1,keyasint"`
	Error  string         `cbor:"2,keyasint,omitempty"`
	Code   Code           `cbor:"3,keyasint,omitempty"`
	States []entity.State `cbor:"4,keyasint,omitempty"`
	Events []event.Event  `cbor:"5,keyasint,omitempty"`
	// Unchanged lists known entities whose heads did not change.
	Unchanged []id.EntityID `cbor:"6,keyasint,omitempty"`
	// Kinds names the sentinel errors Error wrapped, as in Fault.
	Kinds string `cbor:"7,keyasint,omitempty"`
}

// Code classifies a response error so the requester can wrap the right sentinel.
type Code uint8

// The error codes.
const (
	CodeOK Code = iota
	CodeInternal
	CodeNotFound
	CodeDenied
	CodeUnauthenticated
	CodeInvalid
	CodeConflict
	CodeVersion
	CodeProtocol
	// CodeLimit: a limit was exceeded (limits.ErrExceeded).
	CodeLimit
	// CodeBusy: the server refused the request for now (too many in flight);
	// retrying later may succeed.
	CodeBusy
	// CodeClosed: the peer is shutting down.
	CodeClosed
)

// Tag says how an entity in an Update relates to the subscription.
type Tag uint8

// The tags. An untagged (Changed) item is a member that changed; the client derives Update.
const (
	Changed Tag = iota
	TagInitial
	TagAdd
	TagRemove
	// TagIncluded: the state of an entity one of the subscription's
	// includes holds (or, with Gone, one it held that the subscriber may no
	// longer read); it is not a member of the result (version 4).
	TagIncluded
)

// Update is one subscription's part of a durable commit. All the updates of
// one commit travel in one message, so a client reports them as one change.
type Update struct {
	Sub   uint64       `cbor:"1,keyasint"`
	Items []UpdateItem `cbor:"2,keyasint"`
}

// UpdateItem is one entity's state snapshot with its tag. Gone says the
// subscriber may no longer read the entity: State then holds only its id and
// collection, and the client drops it from its cache.
type UpdateItem struct {
	Tag   Tag          `cbor:"1,keyasint"`
	State entity.State `cbor:"2,keyasint"`
	Gone  bool         `cbor:"3,keyasint,omitempty"`
}

// MaxCommitEvents is the most events one commit request may carry.
const MaxCommitEvents = limits.CeilingCommitEvents

var (
	encMode = func() cbor.EncMode {
		m, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
	decMode = func() cbor.DecMode {
		m, err := cbor.DecOptions{
			MaxNestedLevels:   16,
			MaxArrayElements:  1 << 20,
			MaxMapPairs:       1 << 16,
			DupMapKey:         cbor.DupMapKeyEnforcedAPF,
			ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// Encode returns a message's frame.
func Encode(m *Message) ([]byte, error) { return EncodeSized(m, 0) }

// EncodeSized is Encode for a caller that knows about how large the frame
// will be (a part of a streamed answer, sized as it was cut): a response of
// states is encoded into a buffer of at least size bytes allocated up
// front, where growing one from a guess would allocate and copy it again
// on the way.
func EncodeSized(m *Message, size int) ([]byte, error) {
	b, ok, err := encodeResponse(m, size)
	if !ok {
		b, err = encMode.Marshal(m)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %v", ErrProtocol, err)
	}
	if len(b) > MaxFrameSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxFrameSize)
	}
	return b, nil
}

// Decode parses and checks a frame: size limit, known fields only, exactly
// one part set, events re-validated (their ids are recomputed from content).
func Decode(frame []byte) (*Message, error) {
	if len(frame) > MaxFrameSize {
		return nil, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrTooLarge, len(frame), MaxFrameSize)
	}
	m, err := decodeEnvelope(frame)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, set := range []bool{m.Hello != nil, m.Request != nil, m.Response != nil, len(m.Updates) > 0, m.Credentials != nil, m.Fault != nil, m.SubEnded != nil, m.Notice != nil, m.AggUpdate != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: message with %d parts, want exactly 1", ErrProtocol, n)
	}
	if m.More && m.Response == nil && len(m.Updates) == 0 {
		return nil, fmt.Errorf("%w: More on a message that is neither a response nor updates", ErrProtocol)
	}
	if r := m.Request; r != nil {
		k := 0
		for _, set := range []bool{r.Commit != nil, r.Get != nil, r.GetEvents != nil, r.Fetch != nil, r.Subscribe != nil, r.Unsubscribe != nil, r.Aggregate != nil} {
			if set {
				k++
			}
		}
		if k != 1 {
			return nil, fmt.Errorf("%w: request %d with %d bodies, want exactly 1 (unknown request type?)", ErrProtocol, r.ID, k)
		}
	}
	return m, nil
}

// decodeEnvelope decodes a frame into a Message, by the fast decoder when
// it reads the frame and by the generic decoder otherwise; Decode checks
// the result either way.
func decodeEnvelope(frame []byte) (*Message, error) {
	if m, ok := decodeFast(frame); ok {
		return m, nil
	}
	return decodeGeneric(frame)
}

// decodeGeneric decodes a frame with the generic decoder alone.
func decodeGeneric(frame []byte) (*Message, error) {
	var m Message
	if err := decMode.Unmarshal(frame, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return &m, nil
}
