package transport

import (
	"reflect"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// encodeResponse writes, without reflection, a message that is a response
// and nothing else (More or not) and carries no events — what a server
// sends most: the states of fetches, catch-ups and commit answers — or one
// that is a commit's subscription updates, or a commit request, and nothing
// else. It writes byte
// for byte what the generic encoder writes (FuzzEncodeResponse holds it to
// that); ok is false for any other message, which the generic encoder then
// writes. A response is written into a buffer of at least size bytes.
func encodeResponse(m *Message, size int) (b []byte, ok bool, err error) {
	if !handWritten {
		return nil, false, nil
	}
	if m.Response == nil && len(m.Updates) > 0 {
		return encodeUpdates(m)
	}
	if m.Request != nil && m.Request.Commit != nil {
		return encodeCommit(m)
	}
	r := m.Response
	if r == nil || m.Hello != nil || m.Request != nil || len(m.Updates) > 0 || len(m.Credentials) > 0 ||
		m.Fault != nil || m.SubEnded != nil || m.Notice != nil || m.AggUpdate != nil || len(r.Events) > 0 {
		return nil, false, nil
	}
	b = make([]byte, 0, max(size, 64+len(r.Error)+len(r.Kinds)+(2+id.Size)*len(r.Unchanged)+256*len(r.States)))
	if m.More {
		b = append(b, 0xa2, 0x03)
	} else {
		b = append(b, 0xa1, 0x03)
	}
	fields := uint64(1)
	for _, set := range [...]bool{r.Error != "", r.Code != 0, len(r.States) > 0, len(r.Unchanged) > 0, r.Kinds != ""} {
		if set {
			fields++
		}
	}
	b = value.AppendHead(b, 5, fields)
	b = value.AppendHead(append(b, 0x01), 0, r.ID)
	if r.Error != "" {
		b = append(value.AppendHead(append(b, 0x02), 3, uint64(len(r.Error))), r.Error...)
	}
	if r.Code != 0 {
		b = value.AppendHead(append(b, 0x03), 0, uint64(r.Code))
	}
	if len(r.States) > 0 {
		b = value.AppendHead(append(b, 0x04), 4, uint64(len(r.States)))
		for i := range r.States {
			if b, err = r.States[i].AppendCBOR(b); err != nil {
				return nil, true, err
			}
		}
	}
	if len(r.Unchanged) > 0 {
		b = value.AppendHead(append(b, 0x06), 4, uint64(len(r.Unchanged)))
		for _, e := range r.Unchanged {
			b = append(b, 0x58, id.Size)
			b = append(b, e[:]...)
		}
	}
	if r.Kinds != "" {
		b = append(value.AppendHead(append(b, 0x07), 3, uint64(len(r.Kinds))), r.Kinds...)
	}
	if m.More {
		b = append(b, 0x07, 0xf5)
	}
	return b, true, nil
}

// encodeUpdates writes a message of updates (More or not) and nothing else.
func encodeUpdates(m *Message) (b []byte, ok bool, err error) {
	if m.Hello != nil || m.Request != nil || len(m.Credentials) > 0 || m.Fault != nil ||
		m.SubEnded != nil || m.Notice != nil || m.AggUpdate != nil {
		return nil, false, nil
	}
	items := 0
	for i := range m.Updates {
		items += len(m.Updates[i].Items)
	}
	b = make([]byte, 0, 64+16*len(m.Updates)+256*items)
	if m.More {
		b = append(b, 0xa2, 0x04)
	} else {
		b = append(b, 0xa1, 0x04)
	}
	b = value.AppendHead(b, 4, uint64(len(m.Updates)))
	for i := range m.Updates {
		u := &m.Updates[i]
		b = value.AppendHead(append(b, 0xa2, 0x01), 0, u.Sub)
		b = append(b, 0x02)
		if u.Items == nil {
			b = append(b, 0xf6)
			continue
		}
		b = value.AppendHead(b, 4, uint64(len(u.Items)))
		for j := range u.Items {
			it := &u.Items[j]
			if it.Gone {
				b = append(b, 0xa3)
			} else {
				b = append(b, 0xa2)
			}
			b = append(value.AppendHead(append(b, 0x01), 0, uint64(it.Tag)), 0x02)
			if b, err = it.State.AppendCBOR(b); err != nil {
				return nil, true, err
			}
			if it.Gone {
				b = append(b, 0x03, 0xf5)
			}
		}
	}
	if m.More {
		b = append(b, 0x07, 0xf5)
	}
	return b, true, nil
}

// encodeCommit writes a message that is a commit request and nothing else.
func encodeCommit(m *Message) (b []byte, ok bool, err error) {
	q := m.Request
	if m.Hello != nil || m.Response != nil || len(m.Updates) > 0 || len(m.Credentials) > 0 || m.Fault != nil ||
		m.SubEnded != nil || m.Notice != nil || m.AggUpdate != nil || m.More ||
		q.Get != nil || q.GetEvents != nil || q.Fetch != nil || q.Subscribe != nil || q.Unsubscribe != nil || q.Aggregate != nil {
		return nil, false, nil
	}
	c := q.Commit
	b = make([]byte, 0, 64+160*len(c.Events)+80*len(c.Expect)+34*len(c.Current))
	b = value.AppendHead(append(b, 0xa1, 0x02, 0xa2, 0x01), 0, q.ID)
	b = append(b, 0x02)
	fields := uint64(1)
	if len(c.Expect) > 0 {
		fields++
	}
	if len(c.Current) > 0 {
		fields++
	}
	b = append(value.AppendHead(b, 5, fields), 0x01)
	if c.Events == nil {
		b = append(b, 0xf6)
	} else {
		b = value.AppendHead(b, 4, uint64(len(c.Events)))
		for i := range c.Events {
			b = c.Events[i].AppendCBOR(b)
		}
	}
	if len(c.Expect) > 0 {
		b = value.AppendHead(append(b, 0x02), 4, uint64(len(c.Expect)))
		for i := range c.Expect {
			k := &c.Expect[i]
			b = append(b, 0xa2, 0x01, 0x58, id.Size)
			b = append(b, k.Entity[:]...)
			b = append(b, 0x02)
			if k.Head == nil {
				b = append(b, 0xf6)
				continue
			}
			b = value.AppendHead(b, 4, uint64(len(k.Head)))
			for _, e := range k.Head {
				b = append(b, 0x58, id.Size)
				b = append(b, e[:]...)
			}
		}
	}
	if len(c.Current) > 0 {
		b = value.AppendHead(append(b, 0x03), 4, uint64(len(c.Current)))
		for _, e := range c.Current {
			b = append(b, 0x58, id.Size)
			b = append(b, e[:]...)
		}
	}
	return b, true, nil
}

// handLayouts are the layouts (event.FieldLayout) of the types the
// hand-written encoders write and the fast decoder reads, as they were
// written for.
var handLayouts = map[reflect.Type]string{
	reflect.TypeFor[Message]():    `Hello *transport.Hello "1,keyasint,omitempty"; Request *transport.Request "2,keyasint,omitempty"; Response *transport.Response "3,keyasint,omitempty"; Updates []transport.Update "4,keyasint,omitempty"; Credentials []uint8 "5,keyasint,omitempty"; Fault *transport.Fault "6,keyasint,omitempty"; More bool "7,keyasint,omitempty"; SubEnded *transport.SubEnded "8,keyasint,omitempty"; Notice *transport.Fault "9,keyasint,omitempty"; AggUpdate *transport.AggUpdate "10,keyasint,omitempty"; `,
	reflect.TypeFor[Response]():   `ID uint64 "1,keyasint"; Error string "2,keyasint,omitempty"; Code transport.Code "3,keyasint,omitempty"; States []entity.State "4,keyasint,omitempty"; Events []event.Event "5,keyasint,omitempty"; Unchanged []id.EntityID "6,keyasint,omitempty"; Kinds string "7,keyasint,omitempty"; `,
	reflect.TypeFor[Update]():     `Sub uint64 "1,keyasint"; Items []transport.UpdateItem "2,keyasint"; `,
	reflect.TypeFor[UpdateItem](): `Tag transport.Tag "1,keyasint"; State entity.State "2,keyasint"; Gone bool "3,keyasint,omitempty"; `,
	reflect.TypeFor[Request]():    `ID uint64 "1,keyasint"; Commit *transport.CommitReq "2,keyasint,omitempty"; Get *transport.GetReq "3,keyasint,omitempty"; GetEvents *transport.GetEventsReq "4,keyasint,omitempty"; Fetch *transport.FetchReq "5,keyasint,omitempty"; Subscribe *transport.SubscribeReq "6,keyasint,omitempty"; Unsubscribe *uint64 "7,keyasint,omitempty"; Aggregate *transport.AggregateReq "8,keyasint,omitempty"; `,
	reflect.TypeFor[CommitReq]():  `Events []event.Event "1,keyasint"; Expect []transport.Known "2,keyasint,omitempty"; Current []id.EntityID "3,keyasint,omitempty"; `,
	reflect.TypeFor[Hello]():      `NodeID string "1,keyasint"; Durable bool "2,keyasint"; SystemID string "3,keyasint,omitempty"; Version uint32 "4,keyasint"; Credentials []uint8 "5,keyasint,omitempty"; `,
	reflect.TypeFor[Known]():      `Entity id.EntityID "1,keyasint"; Head event.Clock "2,keyasint"; `,
}

// handWritten says every type the hand-written encoders write still has
// the fields they know. When a field is added to one, Encode leaves every
// message to the generic encoder (nothing is dropped), and
// TestFieldLayout_HandWrittenEncodersKnowEveryField fails until the
// encoders learn it.
var handWritten = func() bool {
	for t, want := range handLayouts {
		if event.FieldLayout(t) != want {
			return false
		}
	}
	return true
}()
