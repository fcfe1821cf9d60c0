//go:build js

package main

import (
	"fmt"
	"math"
	"syscall/js"

	"github.com/ankurah/ankurah-go/core"
	text "github.com/ankurah/ankurah-go/plugins/datatype-text"
)

// Collaborative text (plugins/datatype-text, registered as backend "text"
// by its import). A text property reads as its string in get, fetch, live
// query items and mutValues; these exports edit it inside a transaction.
// Concurrent edits of the same text from other nodes merge (Yjs/YATA)
// instead of one overwriting the other.
//
// Positions and lengths count Unicode code points, not the UTF-16 code
// units JavaScript string indices count: "a😀b" has length 3 here and 4 in
// JavaScript. @ankurah/client's TextMut documents the same and converts
// nothing; Array.from(s) splits a string into code points. Strings cross the
// boundary as UTF-8 (syscall/js), so a lone surrogate becomes U+FFFD.

// textMut resolves the (mut handle, property name) arguments every text
// export starts with.
func (a *api) textMut(args []js.Value) (*text.Mut, error) {
	m, err := handle[*core.Mut](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	prop, err := str(args, 1, "property")
	if err != nil {
		return nil, err
	}
	if err := core.ValidateName(prop); err != nil {
		return nil, err
	}
	if prop[0] == '_' {
		return nil, fmt.Errorf("%w: %q (names beginning with _ are reserved)", core.ErrInvalidName, prop)
	}
	h := m.Handle(prop)
	if !h.Writable() {
		return nil, fmt.Errorf("%w: edit text property %q", core.ErrTransactionDone, prop)
	}
	return new(text.Text).AnkurahMut(h), nil
}

// count reads args[i] as a non-negative integer (a position or a length).
func count(args []js.Value, i int, what string) (int, error) {
	v := arg(args, i)
	if v.Type() != js.TypeNumber {
		return 0, fmt.Errorf("%w: %s must be a number, got %s", errInvalidArg, what, v.Type())
	}
	f := v.Float()
	if f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %s must be a non-negative integer, got %v", errInvalidArg, what, f)
	}
	return int(f), nil
}

// mutTextInsert(m, prop, pos, s): inserts s at code point pos.
func (a *api) mutTextInsert(args []js.Value) (any, error) {
	t, err := a.textMut(args)
	if err != nil {
		return nil, err
	}
	pos, err := count(args, 2, "position")
	if err != nil {
		return nil, err
	}
	s, err := str(args, 3, "text")
	if err != nil {
		return nil, err
	}
	return nil, t.Insert(pos, s)
}

// mutTextDelete(m, prop, pos, n): deletes n code points from pos.
func (a *api) mutTextDelete(args []js.Value) (any, error) {
	t, err := a.textMut(args)
	if err != nil {
		return nil, err
	}
	pos, err := count(args, 2, "position")
	if err != nil {
		return nil, err
	}
	n, err := count(args, 3, "length")
	if err != nil {
		return nil, err
	}
	return nil, t.Delete(pos, n)
}

// mutTextSplice(m, prop, pos, n, s): replaces n code points from pos with s.
func (a *api) mutTextSplice(args []js.Value) (any, error) {
	t, err := a.textMut(args)
	if err != nil {
		return nil, err
	}
	pos, err := count(args, 2, "position")
	if err != nil {
		return nil, err
	}
	n, err := count(args, 3, "length")
	if err != nil {
		return nil, err
	}
	s, err := str(args, 4, "text")
	if err != nil {
		return nil, err
	}
	return nil, t.Splice(pos, n, s)
}

// mutTextReplace(m, prop, s): makes the text equal to s by editing only
// what lies between the common prefix and suffix of the old and new text,
// so concurrent edits elsewhere in it survive.
func (a *api) mutTextReplace(args []js.Value) (any, error) {
	t, err := a.textMut(args)
	if err != nil {
		return nil, err
	}
	s, err := str(args, 2, "text")
	if err != nil {
		return nil, err
	}
	return nil, t.Replace(s)
}

// mutText(m, prop): the text as the transaction sees it ("" when unset).
func (a *api) mutText(args []js.Value) (any, error) {
	t, err := a.textMut(args)
	if err != nil {
		return nil, err
	}
	return t.String(), nil
}
