package transport

import (
	"math"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// The fast decoder reads, without reflection, the envelopes a server and a
// client read most — a commit request, a response, a commit's updates and a
// hello — and declines everything else (ok false), so that the generic
// decoder, which knows every rule and names every error, decides. It hands
// each event and state inside to the same Event.UnmarshalCBOR and
// State.UnmarshalCBOR the generic decoder calls, on the same bytes, so
// events are validated as before. It therefore never accepts a frame the
// generic decoder refuses and never reads one differently: FuzzDecodeFast
// holds it to that, and Decode runs the same checks on what either returns.
//
// What it declines: any other body or part, keys out of ascending order
// (so no duplicates) or unknown, heads that are not in shortest form,
// indefinite lengths, tags, simple values other than false, true, null and
// undefined, nesting or counts beyond decMode's limits, a field of a type
// the generic decoder would not put there (null included, but for an
// update's items), integers beyond
// their field, invalid UTF-8, trailing bytes, and any event or state its
// own decoder refuses.

// fastDecoder reads one frame.
type fastDecoder struct {
	b   []byte
	off int

	req  *requestFrame  // the request's allocation, once one is read
	resp *responseFrame // the response's, once one is read
}

// fast decoder limits: decMode's.
const (
	fastMaxDepth  = 16
	fastMaxArray  = 1 << 20
	fastMaxMap    = 1 << 16
	fastMaxKeyArg = 23 // keys are one-byte unsigned integers
)

// head reads a shortest-form definite head of the given major type.
func (d *fastDecoder) head(major byte) (uint64, bool) {
	arg, n, ok := value.ReadHead(d.b[d.off:], major)
	if !ok {
		return 0, false
	}
	d.off += n
	return arg, true
}

// count reads the head of an array (4) or map (5) at nesting depth depth
// (the container's own) and returns its count, within decMode's limits and
// the bytes left (every element takes at least one).
func (d *fastDecoder) count(major byte, depth int) (int, bool) {
	if depth > fastMaxDepth {
		return 0, false
	}
	n, ok := d.head(major)
	if !ok {
		return 0, false
	}
	limit := uint64(fastMaxArray)
	if major == 5 {
		limit = fastMaxMap
	}
	if n > limit || n > uint64(len(d.b)-d.off) {
		return 0, false
	}
	return int(n), true
}

// key reads a struct key, which must be greater than last.
func (d *fastDecoder) key(last byte) (byte, bool) {
	if d.off >= len(d.b) {
		return 0, false
	}
	k := d.b[d.off]
	if k > fastMaxKeyArg || k <= last {
		return 0, false
	}
	d.off++
	return k, true
}

// uint reads an unsigned integer no larger than max.
func (d *fastDecoder) uint(max uint64) (uint64, bool) {
	v, ok := d.head(0)
	return v, ok && v <= max
}

// bool reads false or true.
func (d *fastDecoder) bool() (bool, bool) {
	if d.off >= len(d.b) {
		return false, false
	}
	switch d.b[d.off] {
	case 0xf4:
		d.off++
		return false, true
	case 0xf5:
		d.off++
		return true, true
	}
	return false, false
}

// str reads a byte (2) or text (3) string's content, which aliases the frame.
func (d *fastDecoder) str(major byte) ([]byte, bool) {
	n, ok := d.head(major)
	if !ok || n > uint64(len(d.b)-d.off) {
		return nil, false
	}
	s := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return s, true
}

// text reads a text string of valid UTF-8.
func (d *fastDecoder) text() (string, bool) {
	s, ok := d.str(3)
	if !ok || !utf8.Valid(s) {
		return "", false
	}
	return string(s), true
}

// id32 reads an id: a byte string of exactly id.Size bytes.
func (d *fastDecoder) id32() ([id.Size]byte, bool) {
	var out [id.Size]byte
	if len(d.b)-d.off < 2+id.Size || d.b[d.off] != 0x58 || d.b[d.off+1] != id.Size {
		return out, false
	}
	copy(out[:], d.b[d.off+2:])
	d.off += 2 + id.Size
	return out, true
}

// skip passes over one well-formed item inside a container at depth depth
// and returns its bytes.
func (d *fastDecoder) skip(depth int) ([]byte, bool) {
	start := d.off
	if !d.skipItem(depth) {
		return nil, false
	}
	return d.b[start:d.off], true
}

func (d *fastDecoder) skipItem(depth int) bool {
	if d.off >= len(d.b) {
		return false
	}
	c := d.b[d.off]
	switch major := c >> 5; major {
	case 0, 1:
		_, ok := d.head(major)
		return ok
	case 2, 3:
		_, ok := d.str(major)
		return ok
	case 4, 5:
		n, ok := d.count(major, depth+1)
		if !ok {
			return false
		}
		if major == 5 {
			n *= 2
		}
		for range n {
			if !d.skipItem(depth + 1) {
				return false
			}
		}
		return true
	case 7:
		size := 0
		switch c {
		case 0xf4, 0xf5, 0xf6, 0xf7:
			size = 1
		case 0xf9:
			size = 3
		case 0xfa:
			size = 5
		case 0xfb:
			size = 9
		default:
			return false
		}
		if len(d.b)-d.off < size {
			return false
		}
		d.off += size
		return true
	}
	return false // tags
}

// fields reads a map of at most a few integer keys at depth, each greater
// than the one before, calling field for each key after the key is read;
// field reads the value and reports whether it could. Anything else
// (another major type, a key out of order, field's false) is false.
func (d *fastDecoder) fields(depth int, field func(k byte) bool) bool {
	n, ok := d.count(5, depth)
	if !ok {
		return false
	}
	last := byte(0)
	for range n {
		k, ok := d.key(last)
		if !ok || !field(k) {
			return false
		}
		last = k
	}
	return true
}

// decodeFast decodes frame when it is one of the envelopes the fast
// decoder reads, and reports whether it did.
func decodeFast(frame []byte) (*Message, bool) {
	if !handWritten || len(frame) == 0 {
		return nil, false
	}
	d := fastDecoder{b: frame}
	var m Message
	if !d.fields(1, func(k byte) (ok bool) {
		switch k {
		case 1:
			m.Hello, ok = d.hello()
		case 2:
			m.Request, ok = d.request()
		case 3:
			m.Response, ok = d.response()
		case 4:
			m.Updates, ok = d.updates()
		case 7:
			m.More, ok = d.bool()
		}
		return ok
	}) {
		return nil, false
	}
	if d.off != len(frame) {
		return nil, false
	}
	// The envelope goes into the allocation its request or response was
	// decoded into, when there is one.
	var out *Message
	switch {
	case d.req != nil:
		out = &d.req.m
	case d.resp != nil:
		out = &d.resp.m
	default:
		out = new(Message)
	}
	*out = m
	return out, true
}

// requestFrame is what a request decodes to, in one allocation: the
// envelope, the request, its commit, and room for a commit of one entity's
// event, head and expectation (the common case). A slice that does not fit
// is allocated on its own.
type requestFrame struct {
	m       Message
	r       Request
	c       CommitReq
	events  [1]event.Event
	expect  [1]Known
	head    [1]id.EventID
	current [1]id.EntityID
}

// responseFrame is requestFrame for a response: room for one unchanged
// entity (a commit's answer).
type responseFrame struct {
	m         Message
	r         Response
	unchanged [1]id.EntityID
}

func (d *fastDecoder) hello() (*Hello, bool) {
	h := new(Hello)
	if !d.fields(2, func(k byte) (ok bool) {
		switch k {
		case 1:
			h.NodeID, ok = d.text()
		case 2:
			h.Durable, ok = d.bool()
		case 3:
			h.SystemID, ok = d.text()
		case 4:
			var v uint64
			v, ok = d.uint(math.MaxUint32)
			h.Version = uint32(v)
		case 5:
			var s []byte
			s, ok = d.str(2)
			h.Credentials = append(make([]byte, 0, len(s)), s...)
		}
		return ok
	}) {
		return nil, false
	}
	return h, true
}

func (d *fastDecoder) request() (*Request, bool) {
	f := new(requestFrame)
	d.req = f
	r := &f.r
	if !d.fields(2, func(k byte) (ok bool) {
		switch k {
		case 1:
			r.ID, ok = d.uint(math.MaxUint64)
		case 2:
			r.Commit, ok = d.commit(f)
		}
		return ok
	}) {
		return nil, false
	}
	return r, true
}

func (d *fastDecoder) commit(f *requestFrame) (*CommitReq, bool) {
	c := &f.c
	if !d.fields(3, func(k byte) (ok bool) {
		switch k {
		case 1:
			c.Events, ok = d.events(4, f.events[:0])
		case 2:
			c.Expect, ok = d.knowns(4, f.expect[:0], f.head[:0])
		case 3:
			c.Current, ok = d.entityIDs(4, f.current[:0])
		}
		return ok
	}) {
		return nil, false
	}
	return c, true
}

// events reads an array (at depth depth) of events, each decoded and
// validated by Event.UnmarshalCBOR as the generic decoder would. They go
// into buf's array when they fit (buf is empty), a new one otherwise.
func (d *fastDecoder) events(depth int, buf []event.Event) ([]event.Event, bool) {
	n, ok := d.count(4, depth)
	if !ok {
		return nil, false
	}
	out := within(buf, n)
	for i := range out {
		raw, ok := d.skip(depth)
		if !ok || out[i].UnmarshalCBOR(raw) != nil {
			return nil, false
		}
	}
	return out, true
}

// states reads an array of states, each decoded by State.UnmarshalCBOR
// (into buf's array when they fit, as events).
func (d *fastDecoder) states(depth int, buf []entity.State) ([]entity.State, bool) {
	n, ok := d.count(4, depth)
	if !ok {
		return nil, false
	}
	out := within(buf, n)
	for i := range out {
		if !d.state(depth, &out[i]) {
			return nil, false
		}
	}
	return out, true
}

// state reads one state inside a container at depth depth into the zero
// State s.
func (d *fastDecoder) state(depth int, s *entity.State) bool {
	raw, ok := d.skip(depth)
	return ok && s.UnmarshalCBOR(raw) == nil
}

// entityIDs reads an array of entity ids (into buf's array when they fit,
// as events).
func (d *fastDecoder) entityIDs(depth int, buf []id.EntityID) ([]id.EntityID, bool) {
	n, ok := d.count(4, depth)
	if !ok {
		return nil, false
	}
	out := within(buf, n)
	for i := range out {
		if out[i], ok = d.id32(); !ok {
			return nil, false
		}
	}
	return out, true
}

// knowns reads an array of Known (into buf's array when they fit, as
// events; the first one's head into heads' array when it fits).
func (d *fastDecoder) knowns(depth int, buf []Known, heads []id.EventID) ([]Known, bool) {
	n, ok := d.count(4, depth)
	if !ok {
		return nil, false
	}
	out := within(buf, n)
	for i := range out {
		if !d.fields(depth+1, func(k byte) (ok bool) {
			switch k {
			case 1:
				out[i].Entity, ok = d.id32()
			case 2:
				out[i].Head, ok = d.clock(depth+2, heads)
				heads = nil
			}
			return ok
		}) {
			return nil, false
		}
	}
	return out, true
}

// clock reads an array of event ids (into buf's array when they fit, as
// events).
func (d *fastDecoder) clock(depth int, buf []id.EventID) (event.Clock, bool) {
	n, ok := d.count(4, depth)
	if !ok {
		return nil, false
	}
	out := event.Clock(within(buf, n))
	for i := range out {
		if out[i], ok = d.id32(); !ok {
			return nil, false
		}
	}
	return out, true
}

func (d *fastDecoder) response() (*Response, bool) {
	f := new(responseFrame)
	d.resp = f
	r := &f.r
	if !d.fields(2, func(k byte) (ok bool) {
		switch k {
		case 1:
			r.ID, ok = d.uint(math.MaxUint64)
		case 2:
			r.Error, ok = d.text()
		case 3:
			var v uint64
			v, ok = d.uint(math.MaxUint8)
			r.Code = Code(v)
		case 4:
			r.States, ok = d.states(3, nil)
		case 5:
			r.Events, ok = d.events(3, nil)
		case 6:
			r.Unchanged, ok = d.entityIDs(3, f.unchanged[:0])
		case 7:
			r.Kinds, ok = d.text()
		}
		return ok
	}) {
		return nil, false
	}
	return r, true
}

// within returns n elements: buf's array's when they fit in it, a new
// array's otherwise (buf is empty; a nil buf with n zero gives an empty
// slice, as make does).
func within[T any](buf []T, n int) []T {
	if n <= cap(buf) && buf != nil {
		return buf[:n:n]
	}
	return make([]T, n)
}

func (d *fastDecoder) updates() ([]Update, bool) {
	n, ok := d.count(4, 2)
	if !ok {
		return nil, false
	}
	out := make([]Update, n)
	for i := range out {
		u := &out[i]
		if !d.fields(3, func(k byte) (ok bool) {
			switch k {
			case 1:
				u.Sub, ok = d.uint(math.MaxUint64)
			case 2:
				u.Items, ok = d.items()
			}
			return ok
		}) {
			return nil, false
		}
	}
	return out, true
}

// items reads an update's items (an array at depth 4, or null, which the
// encoder writes for none).
func (d *fastDecoder) items() ([]UpdateItem, bool) {
	if d.off < len(d.b) && d.b[d.off] == 0xf6 {
		d.off++
		return nil, true
	}
	n, ok := d.count(4, 4)
	if !ok {
		return nil, false
	}
	out := make([]UpdateItem, n)
	for i := range out {
		it := &out[i]
		if !d.fields(5, func(k byte) (ok bool) {
			switch k {
			case 1:
				var v uint64
				v, ok = d.uint(math.MaxUint8)
				it.Tag = Tag(v)
			case 2:
				ok = d.state(5, &it.State)
			case 3:
				it.Gone, ok = d.bool()
			}
			return ok
		}) {
			return nil, false
		}
	}
	return out, true
}
