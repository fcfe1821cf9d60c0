//go:build js && wasm

package indexeddb

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// jsError is a DOMException (or any JS error) turned into a Go error.
type jsError struct {
	name, msg string
}

func (e *jsError) Error() string { return "indexeddb: " + e.name + ": " + e.msg }

func toError(v js.Value) error {
	if v.IsNull() || v.IsUndefined() {
		return &jsError{name: "Error", msg: "unknown error"}
	}
	name, msg := "Error", v.String()
	if n := v.Get("name"); n.Type() == js.TypeString {
		name = n.String()
	}
	if m := v.Get("message"); m.Type() == js.TypeString {
		msg = m.String()
	}
	return &jsError{name: name, msg: msg}
}

// result is what a request's callback hands to the waiting goroutine.
type result struct {
	v   js.Value
	err error
}

// await waits for an IDBRequest (or IDBOpenDBRequest) to succeed or fail.
// The callbacks only send to a buffered channel, so Go never blocks inside
// them; the waiting goroutine runs before control returns to the browser's
// event loop, so a transaction stays active across awaits.
func await(ctx context.Context, req js.Value) (js.Value, error) {
	ch := make(chan result, 1)
	ok := js.FuncOf(func(js.Value, []js.Value) any {
		ch <- result{v: req.Get("result")}
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			args[0].Call("preventDefault") // the transaction's own handler reports the abort
		}
		ch <- result{err: toError(req.Get("error"))}
		return nil
	})
	req.Set("onsuccess", ok)
	req.Set("onerror", fail)
	defer func() {
		req.Set("onsuccess", js.Null())
		req.Set("onerror", js.Null())
		ok.Release()
		fail.Release()
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

// awaitAll waits for requests issued together (so IndexedDB pipelines
// them) and returns their results in order. One pair of callbacks serves
// them all.
func awaitAll(ctx context.Context, reqs []js.Value) ([]js.Value, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	ch := make(chan error, 1)
	left := len(reqs)
	ok := js.FuncOf(func(js.Value, []js.Value) any {
		if left--; left == 0 {
			ch <- nil
		}
		return nil
	})
	fail := js.FuncOf(func(this js.Value, args []js.Value) any {
		if len(args) > 0 {
			args[0].Call("preventDefault")
		}
		select {
		case ch <- toError(this.Get("error")):
		default:
		}
		return nil
	})
	for _, r := range reqs {
		r.Set("onsuccess", ok)
		r.Set("onerror", fail)
	}
	defer func() {
		for _, r := range reqs {
			r.Set("onsuccess", js.Null())
			r.Set("onerror", js.Null())
		}
		ok.Release()
		fail.Release()
	}()
	select {
	case err := <-ch:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := make([]js.Value, len(reqs))
	for i, r := range reqs {
		out[i] = r.Get("result")
	}
	return out, nil
}

// txn is an IndexedDB transaction with its outcome delivered to a channel.
type txn struct {
	t     js.Value
	done  chan error
	funcs []js.Func
}

var errAborted = errors.New("indexeddb: transaction aborted")

func (e *Engine) begin(mode string, stores ...string) (*txn, error) {
	names := make([]any, len(stores))
	for i, s := range stores {
		names[i] = s
	}
	var t js.Value
	if err := catch(func() { t = e.db.Call("transaction", names, mode) }); err != nil {
		return nil, err
	}
	x := &txn{t: t, done: make(chan error, 1)}
	complete := js.FuncOf(func(js.Value, []js.Value) any {
		x.done <- nil
		return nil
	})
	abort := js.FuncOf(func(js.Value, []js.Value) any {
		err := errAborted
		if e := t.Get("error"); !e.IsNull() && !e.IsUndefined() {
			err = fmt.Errorf("%w: %w", errAborted, toError(e))
		}
		x.done <- err
		return nil
	})
	x.funcs = []js.Func{complete, abort}
	t.Set("oncomplete", complete)
	t.Set("onabort", abort)
	return x, nil
}

func (x *txn) store(name string) js.Value { return x.t.Call("objectStore", name) }

// wait returns once the transaction completed or aborted.
func (x *txn) wait() error {
	err := <-x.done
	x.t.Set("oncomplete", js.Null())
	x.t.Set("onabort", js.Null())
	for _, f := range x.funcs {
		f.Release()
	}
	return err
}

// commit asks the transaction to commit now and waits for the outcome.
func (x *txn) commit() error {
	_ = catch(func() { x.t.Call("commit") }) // already finishing: wait reports the outcome
	return x.wait()
}

// abort aborts the transaction (if still running) and waits for it to end.
func (x *txn) abort() {
	_ = catch(func() { x.t.Call("abort") }) // already ended: wait returns its outcome
	_ = x.wait()
}

// catch runs f, turning a thrown JS exception into an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = toError(je.Value)
				return
			}
			panic(r)
		}
	}()
	f()
	return nil
}

var (
	uint8Array = js.Global().Get("Uint8Array")
	keyRangeJS = js.Global().Get("IDBKeyRange")
)

// bytesJS copies b into a new Uint8Array (a binary key or a stored value).
func bytesJS(b []byte) js.Value {
	a := uint8Array.New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// bytesGo copies a Uint8Array or ArrayBuffer into a Go slice.
func bytesGo(v js.Value) []byte {
	if !v.InstanceOf(uint8Array) {
		v = uint8Array.New(v)
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// key builds an array key.
func key(parts ...any) js.Value { return js.ValueOf(parts) }

// emptyArray sorts after every binary, string and number key, so [x, []]
// bounds every array key that starts with x.
func emptyArray() js.Value { return js.ValueOf([]any{}) }

func bound(lo, hi js.Value, loOpen, hiOpen bool) js.Value {
	return keyRangeJS.Call("bound", lo, hi, loOpen, hiOpen)
}

// prefixRange is every array key that starts with parts.
func prefixRange(parts ...any) js.Value {
	hi := append(append([]any(nil), parts...), emptyArray())
	return bound(key(parts...), key(hi...), false, true)
}
