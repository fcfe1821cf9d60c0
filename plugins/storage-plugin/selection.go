package storageplugin

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// A bound selection crosses the boundary as a CBOR form of its AST rather
// than as AnkQL text: every Value (bytes, json, entity refs, infinities)
// keeps its exact CBOR form, a plugin in another language can push the
// predicate down without an AnkQL parser, and the wire format does not
// depend on the printer and parser agreeing. The CDDL is in
// docs/storage-plugin-protocol.md.

// Expression tags: the first element of every expression array.
const (
	exprAnd        = 1
	exprOr         = 2
	exprNot        = 3
	exprLiteral    = 4
	exprComparison = 5
	exprIn         = 6
	exprIsNull     = 7
)

// maxSelectionDepth bounds expression nesting on decode.
const maxSelectionDepth = 64

// maxSelectionSize bounds an encoded selection on decode (16 MiB).
const maxSelectionSize = 16 << 20

var selDecMode = must(cbor.DecOptions{
	MaxNestedLevels:  maxSelectionDepth*2 + 8,
	MaxArrayElements: 1 << 20,
	MaxMapPairs:      16,
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
}.DecMode())

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type wireSelection struct {
	Where   cbor.RawMessage `cbor:"1,keyasint"`
	OrderBy []wireOrder     `cbor:"2,keyasint,omitempty"`
	Limit   int64           `cbor:"3,keyasint"`
	CEL     *wireCEL        `cbor:"4,keyasint,omitempty"`
}

// wireCEL is the predicate's portable compiled form (query.CELForm): the
// checked CEL expression, the paths its v list reads, and its a list's
// operands, each [false, value] or [true, [values...]] (an IN list).
type wireCEL struct {
	Checked []byte            `cbor:"1,keyasint"`
	Paths   [][]string        `cbor:"2,keyasint"`
	Args    []cbor.RawMessage `cbor:"3,keyasint"`
}

type wireOrder struct {
	_    struct{} `cbor:",toarray"`
	Path []string
	Desc bool
}

// EncodeSelection returns the CBOR form of a bound selection (CDDL `selection`).
func EncodeSelection(b *query.Bound) ([]byte, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil selection", storage.ErrInvalid)
	}
	where := b.Where
	if where == nil {
		where = &query.Literal{Value: true}
	}
	w, err := exprTree(where, 0)
	if err != nil {
		return nil, err
	}
	raw, err := event.EncMode().Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("%w: encode selection: %v", storage.ErrInvalid, err)
	}
	// The checked CEL form rides along; a predicate CEL cannot take (past
	// its parser's limits) goes without it, and a plugin that needs it is
	// told so by DecodeSelectionCEL.
	wc, err := wireCELOf(where)
	if err != nil {
		return nil, err
	}
	ws := wireSelection{Where: raw, Limit: b.Limit, CEL: wc}
	if b.Limit < 0 {
		ws.Limit = -1
	}
	for _, o := range b.OrderBy {
		ws.OrderBy = append(ws.OrderBy, wireOrder{Path: o.Path, Desc: o.Desc})
	}
	return event.EncMode().Marshal(ws)
}

func exprTree(e query.Expr, depth int) (any, error) {
	if depth > maxSelectionDepth {
		return nil, fmt.Errorf("%w: selection nested deeper than %d", storage.ErrInvalid, maxSelectionDepth)
	}
	terms := func(tag int, xs []query.Expr) (any, error) {
		out := make([]any, len(xs))
		for i, x := range xs {
			t, err := exprTree(x, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = t
		}
		return []any{tag, out}, nil
	}
	switch x := e.(type) {
	case *query.And:
		return terms(exprAnd, x.Terms)
	case *query.Or:
		return terms(exprOr, x.Terms)
	case *query.Not:
		t, err := exprTree(x.X, depth+1)
		if err != nil {
			return nil, err
		}
		return []any{exprNot, t}, nil
	case *query.Literal:
		return []any{exprLiteral, x.Value}, nil
	case *query.Comparison:
		if x.Value.Placeholder >= 0 {
			return nil, fmt.Errorf("%w: unbound placeholder ?%d", storage.ErrInvalid, x.Value.Placeholder+1)
		}
		return []any{exprComparison, []string(x.Path), int(x.Op), x.Value.Value}, nil
	case *query.In:
		vs := make([]value.Value, len(x.Values))
		for i, o := range x.Values {
			if o.Placeholder >= 0 {
				return nil, fmt.Errorf("%w: unbound placeholder ?%d", storage.ErrInvalid, o.Placeholder+1)
			}
			vs[i] = o.Value
		}
		return []any{exprIn, []string(x.Path), x.Not, vs}, nil
	case *query.IsNull:
		return []any{exprIsNull, []string(x.Path), x.Not}, nil
	}
	return nil, fmt.Errorf("%w: unknown expression %T", storage.ErrInvalid, e)
}

// DecodeSelection parses the CBOR form of a bound selection. Every error
// wraps storage.ErrInvalid and says what was wrong.
func DecodeSelection(b []byte) (*query.Bound, error) {
	if len(b) > maxSelectionSize {
		return nil, fmt.Errorf("%w: selection of %d bytes, limit %d", storage.ErrInvalid, len(b), maxSelectionSize)
	}
	var ws wireSelection
	if err := selDecMode.Unmarshal(b, &ws); err != nil {
		return nil, fmt.Errorf("%w: selection: %v", storage.ErrInvalid, err)
	}
	if len(ws.Where) == 0 {
		return nil, fmt.Errorf("%w: selection without predicate (key 1)", storage.ErrInvalid)
	}
	where, err := decodeExpr(ws.Where, 0)
	if err != nil {
		return nil, err
	}
	if ws.Limit < -1 {
		return nil, fmt.Errorf("%w: selection limit %d", storage.ErrInvalid, ws.Limit)
	}
	bound := &query.Bound{Where: where, Limit: ws.Limit}
	for i, o := range ws.OrderBy {
		if err := checkPath(o.Path); err != nil {
			return nil, fmt.Errorf("%w: order term %d: %v", storage.ErrInvalid, i, err)
		}
		bound.OrderBy = append(bound.OrderBy, query.Order{Path: o.Path, Desc: o.Desc})
	}
	return bound, nil
}

// wireCELOf is the predicate's checked CEL form for the wire (nil when CEL
// cannot take the predicate).
func wireCELOf(where query.Expr) (*wireCEL, error) {
	form, err := query.PortableCEL(&query.Bound{Where: where, Limit: -1}, nil)
	if err != nil {
		return nil, nil
	}
	wc := &wireCEL{Checked: form.Checked}
	for _, p := range form.Paths {
		wc.Paths = append(wc.Paths, p)
	}
	for _, a := range form.Args {
		var arg any = []any{false, a.Value}
		if a.IsList {
			arg = []any{true, a.List}
		}
		raw, err := event.EncMode().Marshal(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: encode selection: %v", storage.ErrInvalid, err)
		}
		wc.Args = append(wc.Args, raw)
	}
	return wc, nil
}

// DecodeSelectionCEL returns the portable compiled form (CEL) of an
// encoded selection's predicate — what a plugin with a CEL implementation
// evaluates instead of walking the expression tree — or an error wrapping
// storage.ErrInvalid when the selection carries none or it is malformed.
func DecodeSelectionCEL(b []byte) (*query.CELForm, error) {
	if len(b) > maxSelectionSize {
		return nil, fmt.Errorf("%w: selection of %d bytes, limit %d", storage.ErrInvalid, len(b), maxSelectionSize)
	}
	var ws wireSelection
	if err := selDecMode.Unmarshal(b, &ws); err != nil {
		return nil, fmt.Errorf("%w: selection: %v", storage.ErrInvalid, err)
	}
	if ws.CEL == nil || len(ws.CEL.Checked) == 0 {
		return nil, fmt.Errorf("%w: selection without a CEL form (key 4)", storage.ErrInvalid)
	}
	form := &query.CELForm{Checked: ws.CEL.Checked}
	for i, p := range ws.CEL.Paths {
		if err := checkPath(p); err != nil {
			return nil, fmt.Errorf("%w: CEL path %d: %v", storage.ErrInvalid, i, err)
		}
		form.Paths = append(form.Paths, p)
	}
	for i, raw := range ws.CEL.Args {
		var arg struct {
			_    struct{} `cbor:",toarray"`
			List bool
			Val  cbor.RawMessage
		}
		if err := selDecMode.Unmarshal(raw, &arg); err != nil {
			return nil, fmt.Errorf("%w: CEL argument %d: %v", storage.ErrInvalid, i, err)
		}
		a := query.CELArg{IsList: arg.List}
		var err error
		if arg.List {
			err = selDecMode.Unmarshal(arg.Val, &a.List)
		} else {
			err = selDecMode.Unmarshal(arg.Val, &a.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: CEL argument %d: %v", storage.ErrInvalid, i, err)
		}
		form.Args = append(form.Args, a)
	}
	return form, nil
}

func checkPath(p []string) error {
	if len(p) == 0 {
		return fmt.Errorf("empty path")
	}
	return nil
}

func decodeExpr(raw cbor.RawMessage, depth int) (query.Expr, error) {
	bad := func(format string, args ...any) (query.Expr, error) {
		return nil, fmt.Errorf("%w: selection expression: %s", storage.ErrInvalid, fmt.Sprintf(format, args...))
	}
	if depth > maxSelectionDepth {
		return bad("nested deeper than %d", maxSelectionDepth)
	}
	var parts []cbor.RawMessage
	if err := selDecMode.Unmarshal(raw, &parts); err != nil {
		return bad("not an array: %v", err)
	}
	if len(parts) == 0 {
		return bad("empty array")
	}
	var tag int
	if err := selDecMode.Unmarshal(parts[0], &tag); err != nil {
		return bad("tag: %v", err)
	}
	want := map[int]int{exprAnd: 2, exprOr: 2, exprNot: 2, exprLiteral: 2, exprComparison: 4, exprIn: 4, exprIsNull: 3}[tag]
	if want == 0 {
		return bad("unknown tag %d", tag)
	}
	if len(parts) != want {
		return bad("tag %d with %d elements, want %d", tag, len(parts), want)
	}
	var path []string
	if tag == exprComparison || tag == exprIn || tag == exprIsNull {
		if err := selDecMode.Unmarshal(parts[1], &path); err != nil {
			return bad("path: %v", err)
		}
		if err := checkPath(path); err != nil {
			return bad("%v", err)
		}
	}
	switch tag {
	case exprAnd, exprOr:
		var raws []cbor.RawMessage
		if err := selDecMode.Unmarshal(parts[1], &raws); err != nil {
			return bad("terms: %v", err)
		}
		if len(raws) < 2 {
			return bad("AND/OR with %d terms, want at least 2", len(raws))
		}
		terms := make([]query.Expr, len(raws))
		for i, r := range raws {
			t, err := decodeExpr(r, depth+1)
			if err != nil {
				return nil, err
			}
			terms[i] = t
		}
		if tag == exprAnd {
			return &query.And{Terms: terms}, nil
		}
		return &query.Or{Terms: terms}, nil
	case exprNot:
		x, err := decodeExpr(parts[1], depth+1)
		if err != nil {
			return nil, err
		}
		return &query.Not{X: x}, nil
	case exprLiteral:
		var v bool
		if err := selDecMode.Unmarshal(parts[1], &v); err != nil {
			return bad("literal: %v", err)
		}
		return &query.Literal{Value: v}, nil
	case exprComparison:
		var op int
		if err := selDecMode.Unmarshal(parts[2], &op); err != nil {
			return bad("operator: %v", err)
		}
		if op < int(query.Eq) || op > int(query.Like) {
			return bad("unknown operator %d", op)
		}
		var v value.Value
		if err := v.UnmarshalCBOR(parts[3]); err != nil {
			return bad("value: %v", err)
		}
		return &query.Comparison{Path: path, Op: query.Op(op), Value: query.Lit(v)}, nil
	case exprIn:
		var not bool
		if err := selDecMode.Unmarshal(parts[2], &not); err != nil {
			return bad("IN negation flag: %v", err)
		}
		var raws []cbor.RawMessage
		if err := selDecMode.Unmarshal(parts[3], &raws); err != nil {
			return bad("IN list: %v", err)
		}
		if len(raws) == 0 {
			return bad("empty IN list")
		}
		ops := make([]query.Operand, len(raws))
		for i, r := range raws {
			var v value.Value
			if err := v.UnmarshalCBOR(r); err != nil {
				return bad("IN value %d: %v", i, err)
			}
			ops[i] = query.Lit(v)
		}
		return &query.In{Path: path, Not: not, Values: ops}, nil
	default: // exprIsNull
		var not bool
		if err := selDecMode.Unmarshal(parts[2], &not); err != nil {
			return bad("IS NULL negation flag: %v", err)
		}
		return &query.IsNull{Path: path, Not: not}, nil
	}
}
