package transport

import (
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// encodeResponse writes, without reflection, a message that is a response
// and nothing else (More or not) and carries no events — what a server
// sends most: the states of fetches, catch-ups and commit answers. It
// writes byte for byte what the generic encoder writes (FuzzEncodeResponse
// holds it to that); ok is false for any other message, which the generic
// encoder then writes.
func encodeResponse(m *Message) (b []byte, ok bool, err error) {
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
