package text

import (
	"fmt"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/property"
)

// Text is the model field type of a collaborative text property:
//
//	type Doc struct {
//		Title string
//		Body  text.Text
//	}
//
// The generated Mut exposes the field as a *Mut, the View as a View.
type Text struct{}

var _ property.Typed = Text{}

// AnkurahBackend returns "text": the text backend owns fields of this type.
func (Text) AnkurahBackend() string { return Name }

// AnkurahMut returns the handle a transaction edits the field through.
func (Text) AnkurahMut(h property.Handle) *Mut { return &Mut{h: h} }

// AnkurahView returns the read-only handle of the field.
func (Text) AnkurahView(h property.Handle) View { return View{h: h} }

func doc(h property.Handle) (*Doc, error) {
	be, err := h.Backend(Name)
	if err != nil {
		return nil, err
	}
	tb, ok := be.(*Backend)
	if !ok {
		return nil, fmt.Errorf("%w: backend %q of property %q is a %T", property.ErrInvalid, Name, h.Property(), be)
	}
	return tb.doc, nil
}

// Mut edits one text property inside a transaction. Positions and lengths
// count Unicode code points.
type Mut struct{ h property.Handle }

func (m *Mut) writable() (*Doc, error) {
	if !m.h.Writable() {
		return nil, fmt.Errorf("%w: text property %q", property.ErrReadOnly, m.h.Property())
	}
	return doc(m.h)
}

// Insert inserts s at position pos.
func (m *Mut) Insert(pos int, s string) error {
	d, err := m.writable()
	if err != nil {
		return err
	}
	return d.Insert(m.h.Property(), pos, s)
}

// Delete deletes n code points from position pos.
func (m *Mut) Delete(pos, n int) error {
	d, err := m.writable()
	if err != nil {
		return err
	}
	return d.Delete(m.h.Property(), pos, n)
}

// Splice replaces n code points from position pos with s.
func (m *Mut) Splice(pos, n int, s string) error {
	d, err := m.writable()
	if err != nil {
		return err
	}
	name := m.h.Property()
	if pos < 0 || n < 0 || pos+n > d.Len(name) {
		return fmt.Errorf("%w: splice %d at %d in %q of length %d", ErrOutOfRange, n, pos, name, d.Len(name))
	}
	if err := d.Delete(name, pos, n); err != nil {
		return err
	}
	return d.Insert(name, pos, s)
}

// Replace makes the text equal to s, editing only the part between the
// common prefix and suffix so that concurrent edits elsewhere survive.
func (m *Mut) Replace(s string) error {
	d, err := m.writable()
	if err != nil {
		return err
	}
	cur := []rune(d.Text(m.h.Property()))
	next := []rune(toValidUTF8(s))
	p := 0
	for p < len(cur) && p < len(next) && cur[p] == next[p] {
		p++
	}
	q := 0
	for q < len(cur)-p && q < len(next)-p && cur[len(cur)-1-q] == next[len(next)-1-q] {
		q++
	}
	return m.Splice(p, len(cur)-p-q, string(next[p:len(next)-q]))
}

// String returns the current text ("" when the backend cannot be reached).
func (m *Mut) String() string { return View(*m).String() }

// Len returns the length of the text in code points.
func (m *Mut) Len() int { return utf8.RuneCountInString(m.String()) }

// View reads one text property.
type View struct{ h property.Handle }

// String returns the current text ("" when the backend cannot be reached).
func (v View) String() string {
	d, err := doc(v.h)
	if err != nil {
		return ""
	}
	return d.Text(v.h.Property())
}
