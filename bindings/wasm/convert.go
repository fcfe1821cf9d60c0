//go:build js

package main

import (
	"errors"
	"fmt"
	"math"
	"syscall/js"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	text "github.com/ankurah/ankurah-go/plugins/datatype-text"
)

var (
	jsObject     = js.Global().Get("Object")
	jsArray      = js.Global().Get("Array")
	jsUint8Array = js.Global().Get("Uint8Array")
	jsJSON       = js.Global().Get("JSON")
	jsError      = js.Global().Get("Error")
	jsPromise    = js.Global().Get("Promise")
)

// errorCodes give JS callers a stable code for the errors they handle.
var errorCodes = []struct {
	err  error
	code string
}{
	{storage.ErrNotFound, "not_found"},
	{storage.ErrConflict, "conflict"},
	{core.ErrRetriesExhausted, "conflict"},
	{query.ErrSyntax, "syntax"},
	{query.ErrBind, "bind"},
	{query.ErrType, "type"},
	{policy.ErrAccessDenied, "access_denied"},
	{policy.ErrUnauthenticated, "unauthenticated"},
	{core.ErrTransactionDone, "transaction_done"},
	{core.ErrInvalidName, "invalid_name"},
	{core.ErrClosed, "closed"},
	{storage.ErrClosed, "closed"},
	{event.ErrBudgetExceeded, "budget_exceeded"},
	{core.ErrLimit, "limit"},
	{core.ErrBusy, "busy"},
	{query.ErrCursor, "cursor"},
	{core.ErrCursorUnsupported, "cursor_unsupported"},
	{errInvalidArg, "invalid_argument"},
	{storage.ErrBadAggregate, "invalid_argument"},
	{text.ErrOutOfRange, "invalid_argument"},
}

var errInvalidArg = errors.New("invalid argument")

// jsErr makes a JS Error carrying the Go message and a code.
func jsErr(err error) js.Value {
	e := jsError.New(err.Error())
	e.Set("name", "AnkurahError")
	code := "internal"
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			code = c.code
			break
		}
	}
	e.Set("code", code)
	return e
}

// toJS converts a Value for JavaScript: null, boolean, number, string,
// Uint8Array, parsed JSON, or an entity id string for a ref.
func toJS(v value.Value) any {
	switch v.Kind() {
	case value.KindBool:
		b, _ := v.AsBool()
		return b
	case value.KindInt:
		i, _ := v.AsInt()
		return float64(i)
	case value.KindFloat:
		f, _ := v.AsFloat()
		return f
	case value.KindString:
		s, _ := v.AsString()
		return s
	case value.KindBytes:
		b, _ := v.AsBytes()
		a := jsUint8Array.New(len(b))
		js.CopyBytesToJS(a, b)
		return a
	case value.KindJSON:
		raw, _ := v.AsJSON()
		return jsJSON.Call("parse", string(raw))
	case value.KindRef:
		r, _ := v.AsRef()
		return r.String()
	}
	return nil
}

// fromJS converts a JavaScript value: integral numbers become ints (so
// 1985 compares as an int), other numbers floats, Uint8Array bytes, other
// objects and arrays JSON.
func fromJS(v js.Value) (value.Value, error) {
	switch v.Type() {
	case js.TypeNull, js.TypeUndefined:
		return value.Null, nil
	case js.TypeBoolean:
		return value.Bool(v.Bool()), nil
	case js.TypeNumber:
		f := v.Float()
		if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return value.Int(int64(f)), nil
		}
		return value.From(f)
	case js.TypeString:
		return value.String(v.String()), nil
	case js.TypeObject:
		if v.InstanceOf(jsUint8Array) {
			b := make([]byte, v.Length())
			js.CopyBytesToGo(b, v)
			return value.Bytes(b), nil
		}
		return value.JSON([]byte(jsJSON.Call("stringify", v).String()))
	}
	return value.Null, fmt.Errorf("%w: a %s has no Ankurah value", errInvalidArg, v.Type())
}

func argsFromJS(a js.Value) ([]any, error) {
	if a.IsUndefined() || a.IsNull() {
		return nil, nil
	}
	if !jsArray.Call("isArray", a).Bool() {
		return nil, fmt.Errorf("%w: query arguments must be an array", errInvalidArg)
	}
	out := make([]any, a.Length())
	for i := range out {
		v, err := fromJS(a.Index(i))
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// viewJS is an entity snapshot as JavaScript sees it.
func viewJS(v *core.View) js.Value {
	vals := jsObject.New()
	for k, x := range v.Values() {
		vals.Set(k, toJS(x))
	}
	o := jsObject.New()
	o.Set("id", v.ID().String())
	o.Set("collection", v.Collection())
	o.Set("values", vals)
	if v.Deleted() {
		o.Set("deleted", true)
	}
	return o
}

func viewsJS(vs []*core.View) js.Value {
	a := jsArray.New(len(vs))
	for i, v := range vs {
		a.SetIndex(i, viewJS(v))
	}
	return a
}

func parseID(s string) (id.EntityID, error) {
	e, err := id.ParseEntityID(s)
	if err != nil {
		return e, fmt.Errorf("%w: entity id %q: %w", errInvalidArg, s, err)
	}
	return e, nil
}
