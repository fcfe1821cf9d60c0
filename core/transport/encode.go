package transport

import (
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// encodeResponse writes, without reflection, a message that is a response
// and nothing else (More or not) and carries no events — what a server
// sends most: the states of fetches, catch-ups and commit answers — or one
// that is a commit's subscription updates and nothing else. It writes byte
// for byte what the generic encoder writes (FuzzEncodeResponse holds it to
// that); ok is false for any other message, which the generic encoder then
// writes.
func encodeResponse(m *Message) (b []byte, ok bool, err error) {
	if m.Response == nil && len(m.Updates) > 0 {
		return encodeUpdates(m)
	}
	r := m.Response
	if r == nil || m.Hello != nil || m.Request != nil || len(m.Updates) > 0 || len(m.Credentials) > 0 ||
		m.Fault != nil || m.SubEnded != nil || m.Notice != nil || m.AggUpdate != nil || len(r.Events) > 0 {
		return nil, false, nil
	}
	b = make([]byte, 0, 64+len(r.Error)+len(r.Kinds)+(2+id.Size)*len(r.Unchanged)+256*len(r.States))
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
