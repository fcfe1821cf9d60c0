//go:build js

package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall/js"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/value"
	indexeddb "github.com/ankurah/ankurah-go/plugins/storage-indexeddb"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// api is the state behind globalThis.__ankurah: one ephemeral node per page,
// and tables of the live queries, transactions and entities being edited
// that JavaScript holds by integer handle (so no js.Func is made per object).
type api struct {
	mu     sync.Mutex
	node   *core.Node
	ctx    *core.Context
	engine *indexeddb.Engine
	client *ws.Client

	next    int
	handles map[int]any
	subs    map[int]func()
}

type trxHandle struct {
	trx  *core.Transaction
	muts []*core.Mut
}

func newAPI() *api { return &api{handles: map[int]any{}, subs: map[int]func(){}} }

func (a *api) put(x any) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	a.handles[a.next] = x
	return a.next
}

func handle[T any](a *api, h js.Value) (T, error) {
	var zero T
	if h.Type() != js.TypeNumber {
		return zero, fmt.Errorf("%w: handle is a %s, want a number", errInvalidArg, h.Type())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	x, ok := a.handles[h.Int()]
	if !ok {
		return zero, fmt.Errorf("%w: unknown or released handle %d", errInvalidArg, h.Int())
	}
	t, ok := x.(T)
	if !ok {
		return zero, fmt.Errorf("%w: handle %d is a %T", errInvalidArg, h.Int(), x)
	}
	return t, nil
}

func (a *api) release(h int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.handles, h)
}

func (a *api) nodeCtx() (*core.Context, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx == nil {
		return nil, fmt.Errorf("%w: the node is not open (call open first)", core.ErrClosed)
	}
	return a.ctx, nil
}

// promise runs f on its own goroutine (never blocking the JS callback that
// asked) and settles a Promise with its result.
func promise(f func() (any, error)) js.Value {
	exec := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := f()
			if err != nil {
				reject.Invoke(jsErr(err))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	defer exec.Release()
	return jsPromise.New(exec)
}

// thrownKey marks what a synchronous export returns instead of throwing:
// a panic in a js.FuncOf callback ends the Go program (every later call
// fails with "Go program has already exited"), so syncFn returns
// {__ankurahThrow: error} and bindings/js throws the error.
const thrownKey = "__ankurahThrow"

// syncFn wraps a synchronous export: a Go error is returned as
// {__ankurahThrow: Error}, which bindings/js throws.
func syncFn(f func(args []js.Value) (any, error)) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any {
		v, err := f(args)
		if err != nil {
			o := jsObject.New()
			o.Set(thrownKey, jsErr(err))
			return o
		}
		return v
	})
}

func asyncFn(f func(args []js.Value) (any, error)) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any {
		return promise(func() (any, error) { return f(args) })
	})
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

func str(args []js.Value, i int, what string) (string, error) {
	v := arg(args, i)
	if v.Type() != js.TypeString {
		return "", fmt.Errorf("%w: %s must be a string, got %s", errInvalidArg, what, v.Type())
	}
	return v.String(), nil
}

// serverURLs reads connect's url argument: a string, or a non-empty array
// of strings, none empty.
func serverURLs(v js.Value) ([]string, error) {
	if v.Type() == js.TypeString {
		v = jsArray.New(v)
	} else if !v.InstanceOf(jsArray) {
		return nil, fmt.Errorf("%w: url must be a string or an array of strings, got %s", errInvalidArg, v.Type())
	}
	urls, err := strings(v, "url")
	if err != nil {
		return nil, err
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: url is an empty array; give at least one server URL", errInvalidArg)
	}
	for i, u := range urls {
		if u == "" {
			return nil, fmt.Errorf("%w: url[%d] is empty", errInvalidArg, i)
		}
	}
	return urls, nil
}

func (a *api) exports() js.Value {
	o := jsObject.New()
	fns := map[string]js.Func{
		"open":                     asyncFn(a.open),
		"connect":                  syncFn(a.connect),
		"disconnect":               asyncFn(a.disconnect),
		"refreshCredentials":       syncFn(a.refreshCredentials),
		"connectionState":          syncFn(a.connectionState),
		"subscribeConnectionState": syncFn(a.subscribeConnectionState),
		"unsubscribe":              syncFn(a.unsubscribe),
		"ready":                    asyncFn(a.ready),
		"get":                      asyncFn(a.get),
		"fetch":                    asyncFn(a.fetch),
		"fetchPage":                asyncFn(a.fetchPage), // page.go
		"cursorAt":                 asyncFn(a.cursorAt),
		"lqCursorAt":               syncFn(a.lqCursorAt),
		"lqNext":                   syncFn(a.lqNext),
		"lqAfter":                  syncFn(a.lqAfter),
		"query":                    asyncFn(a.query),
		"lqItems":                  syncFn(a.lqItems),
		"lqIncluded":               syncFn(a.lqIncluded),
		"declareRelations":         syncFn(a.declareRelations),
		"lqSubscribe":              syncFn(a.lqSubscribe),
		"lqUpdateSelection":        asyncFn(a.lqUpdateSelection),
		"lqClose":                  syncFn(a.lqClose),
		"begin":                    syncFn(a.begin),
		"trxCreate":                syncFn(a.trxCreate),
		"trxEdit":                  asyncFn(a.trxEdit),
		"trxDelete":                asyncFn(a.trxDelete),
		"trxRestore":               asyncFn(a.trxRestore),
		"trxCommit":                asyncFn(a.trxCommit),
		"trxRollback":              syncFn(a.trxRollback),
		"mutSet":                   syncFn(a.mutSet),
		"mutValues":                syncFn(a.mutValues),
		"mutDelete":                syncFn(a.mutDelete),
		"mutId":                    syncFn(a.mutID),
		"mutText":                  syncFn(a.mutText),
		"mutTextInsert":            syncFn(a.mutTextInsert),
		"mutTextDelete":            syncFn(a.mutTextDelete),
		"mutTextSplice":            syncFn(a.mutTextSplice),
		"mutTextReplace":           syncFn(a.mutTextReplace),
		"aggregate":                asyncFn(a.aggregate), // aggregate.go
		"agGroups":                 syncFn(a.agGroups),
		"agSubscribe":              syncFn(a.agSubscribe),
		"agError":                  syncFn(a.agError),
		"agClose":                  syncFn(a.agClose),
	}
	for name, f := range fns {
		o.Set(name, f)
	}
	return o
}

// open(dbName): opens the IndexedDB database and starts the ephemeral node.
func (a *api) open(args []js.Value) (any, error) {
	name, err := str(args, 0, "database name")
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.node != nil {
		if a.engine.Name() != name {
			return nil, fmt.Errorf("%w: the node is already open on database %q", errInvalidArg, a.engine.Name())
		}
		return nil, nil
	}
	e, err := indexeddb.Open(context.Background(), name)
	if err != nil {
		return nil, err
	}
	n, err := core.NewNode(context.Background(), e, policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		_ = e.Close()
		return nil, err
	}
	a.engine, a.node, a.ctx = e, n, n.Context(nil)
	return nil, nil
}

// connect(url, token, options): keeps the node connected to a durable
// node's /ws. url is one server's URL or an array of the URLs of several
// servers sharing one database: the first is tried first, and when a
// connection fails or drops the client moves on to the next (ws.WithServers).
// token is a string or a function returning one; a function is
// called on every (re)connection, so a renewed token is used. options may
// set minBackoffMs and maxBackoffMs, the reconnect backoff bounds.
func (a *api) connect(args []js.Value) (any, error) {
	urls, err := serverURLs(arg(args, 0))
	if err != nil {
		return nil, err
	}
	tok := arg(args, 1)
	creds := func() []byte {
		t := tok
		if t.Type() == js.TypeFunction {
			t = t.Invoke()
		}
		if t.Type() != js.TypeString {
			return nil
		}
		return []byte(t.String())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.node == nil {
		return nil, fmt.Errorf("%w: the node is not open (call open first)", core.ErrClosed)
	}
	if a.client != nil {
		return nil, fmt.Errorf("%w: already connected (disconnect first)", errInvalidArg)
	}
	// Dial with an ended context returns at once; the client keeps
	// connecting in the background, and the node works offline meanwhile.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opts := []ws.ClientOption{ws.WithCredentials(creds), ws.WithClientLogger(slog.Default())}
	if o := arg(args, 2); o.Type() == js.TypeObject {
		lo, hi := time.Second, 30*time.Second
		if v := o.Get("minBackoffMs"); v.Type() == js.TypeNumber && v.Float() > 0 {
			lo = time.Duration(v.Float() * float64(time.Millisecond))
		}
		if v := o.Get("maxBackoffMs"); v.Type() == js.TypeNumber && v.Float() > 0 {
			hi = time.Duration(v.Float() * float64(time.Millisecond))
		}
		opts = append(opts, ws.WithBackoff(lo, max(lo, hi)))
	}
	opts = append(opts, ws.WithServers(urls[1:]...))
	c, _ := ws.Dial(ctx, urls[0], a.node, opts...)
	a.client = c
	return nil, nil
}

// settle waits, up to a few seconds, while the client is in the middle of
// connecting. It works around a race in core: a live query opened while the
// connection is being established can miss the handshake's
// re-subscription and never hear of remote changes. Offline (connection
// refused) it returns as soon as the attempt fails.
func (a *api) settle() {
	a.mu.Lock()
	c := a.client
	a.mu.Unlock()
	if c == nil {
		return
	}
	changed := make(chan struct{}, 1)
	unsub := c.State().Subscribe(func(ws.State) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer unsub()
	deadline := time.After(3 * time.Second)
	for c.State().Get() == ws.Connecting {
		select {
		case <-changed:
		case <-deadline:
			return
		}
	}
}

func (a *api) disconnect([]js.Value) (any, error) {
	a.mu.Lock()
	c := a.client
	a.client = nil
	a.mu.Unlock()
	if c != nil {
		return nil, c.Close()
	}
	return nil, nil
}

func (a *api) currentClient() (*ws.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client == nil {
		return nil, fmt.Errorf("%w: not connected (call connect first)", core.ErrClosed)
	}
	return a.client, nil
}

func (a *api) refreshCredentials([]js.Value) (any, error) {
	c, err := a.currentClient()
	if err != nil {
		return nil, err
	}
	go c.RefreshCredentials()
	return nil, nil
}

// connectionState(): "connecting", "connected", "disconnected", "closed",
// or "offline" before connect.
func (a *api) connectionState([]js.Value) (any, error) {
	a.mu.Lock()
	c := a.client
	a.mu.Unlock()
	if c == nil {
		return "offline", nil
	}
	return c.State().Get().String(), nil
}

func (a *api) addSub(unsub func()) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	a.subs[a.next] = unsub
	return a.next
}

// subscribeConnectionState(cb): calls cb(state) on every change; returns a
// subscription id for unsubscribe.
func (a *api) subscribeConnectionState(args []js.Value) (any, error) {
	cb := arg(args, 0)
	if cb.Type() != js.TypeFunction {
		return nil, fmt.Errorf("%w: callback must be a function", errInvalidArg)
	}
	c, err := a.currentClient()
	if err != nil {
		return nil, err
	}
	return a.addSub(c.State().Subscribe(func(s ws.State) { cb.Invoke(s.String()) })), nil
}

func (a *api) unsubscribe(args []js.Value) (any, error) {
	v := arg(args, 0)
	if v.Type() != js.TypeNumber {
		return nil, fmt.Errorf("%w: subscription id must be a number", errInvalidArg)
	}
	a.mu.Lock()
	f := a.subs[v.Int()]
	delete(a.subs, v.Int())
	a.mu.Unlock()
	if f != nil {
		f()
	}
	return nil, nil
}

// ready(): resolves once a durable peer is connected.
func (a *api) ready([]js.Value) (any, error) {
	c, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	<-c.Node().Connected()
	return nil, nil
}

func (a *api) get(args []js.Value) (any, error) {
	c, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	coll, err := str(args, 0, "collection")
	if err != nil {
		return nil, err
	}
	s, err := str(args, 1, "entity id")
	if err != nil {
		return nil, err
	}
	eid, err := parseID(s)
	if err != nil {
		return nil, err
	}
	v, err := c.Get(context.Background(), coll, eid)
	if err != nil {
		return nil, err
	}
	return viewJS(v), nil
}

func queryArgs(args []js.Value, from int) (coll, q string, qargs []any, err error) {
	if coll, err = str(args, from, "collection"); err != nil {
		return
	}
	if q, err = str(args, from+1, "query"); err != nil {
		return
	}
	qargs, err = argsFromJS(arg(args, from+2))
	return
}

func (a *api) fetch(args []js.Value) (any, error) {
	c, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	coll, q, qargs, err := queryArgs(args, 0)
	if err != nil {
		return nil, err
	}
	vs, err := c.Fetch(context.Background(), coll, q, qargs...)
	if err != nil {
		return nil, err
	}
	return viewsJS(vs), nil
}

// queryOptions reads {include: [prop…], includeReverse: {name: "coll.prop"},
// after: cursor} (undefined: none) as query options.
func queryOptions(o js.Value) ([]any, error) {
	if o.IsUndefined() || o.IsNull() {
		return nil, nil
	}
	if o.Type() != js.TypeObject {
		return nil, fmt.Errorf("%w: query options must be an object", errInvalidArg)
	}
	var out []any
	if inc := o.Get("include"); !inc.IsUndefined() && !inc.IsNull() {
		if !jsArray.Call("isArray", inc).Bool() {
			return nil, fmt.Errorf("%w: include must be an array of property names", errInvalidArg)
		}
		for i := range inc.Length() {
			if inc.Index(i).Type() != js.TypeString {
				return nil, fmt.Errorf("%w: include[%d] must be a string", errInvalidArg, i)
			}
			out = append(out, core.Include(inc.Index(i).String()))
		}
	}
	if rev := o.Get("includeReverse"); !rev.IsUndefined() && !rev.IsNull() {
		if rev.Type() != js.TypeObject {
			return nil, fmt.Errorf("%w: includeReverse must map names to \"collection.property\"", errInvalidArg)
		}
		keys := jsObject.Call("keys", rev)
		for i := range keys.Length() {
			k := keys.Index(i).String()
			if rev.Get(k).Type() != js.TypeString {
				return nil, fmt.Errorf("%w: includeReverse.%s must be a string", errInvalidArg, k)
			}
			out = append(out, core.IncludeReverse(k, rev.Get(k).String()))
		}
	}
	after, err := afterOption(o)
	if err != nil {
		return nil, err
	}
	if after != nil {
		out = append(out, *after)
	}
	return out, nil
}

// declareRelations([{collection, property, target}]): the references
// includes and traversal follow (ankurah-gen's TypeScript Relations).
func (a *api) declareRelations(args []js.Value) (any, error) {
	n, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	list := arg(args, 0)
	if !jsArray.Call("isArray", list).Bool() {
		return nil, fmt.Errorf("%w: relations must be an array", errInvalidArg)
	}
	var rels []core.Relation
	for i := range list.Length() {
		r := list.Index(i)
		if r.Type() != js.TypeObject {
			return nil, fmt.Errorf("%w: relation %d must be an object", errInvalidArg, i)
		}
		rels = append(rels, core.Relation{Collection: r.Get("collection").String(), Property: r.Get("property").String(), Target: r.Get("target").String()})
	}
	return nil, n.Node().DeclareRelations(rels...)
}

// lqIncluded(h): {name: [entity]}, what the live query's includes hold.
func (a *api) lqIncluded(args []js.Value) (any, error) {
	lq, err := handle[*core.LiveQuery](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	return includedJS(lq.Includes(), lq.Included), nil
}

func includedJS(names []string, of func(string) []*core.View) js.Value {
	o := jsObject.New()
	for _, n := range names {
		o.Set(n, viewsJS(of(n)))
	}
	return o
}

// query(collection, query, args, options): a live query handle.
func (a *api) query(args []js.Value) (any, error) {
	c, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	coll, q, qargs, err := queryArgs(args, 0)
	if err != nil {
		return nil, err
	}
	opts, err := queryOptions(arg(args, 3))
	if err != nil {
		return nil, err
	}
	a.settle()
	lq, err := c.Query(context.Background(), coll, q, append(qargs, opts...)...)
	if err != nil {
		return nil, cursorErr(err, arg(args, 3))
	}
	return a.put(lq), nil
}

func (a *api) lqItems(args []js.Value) (any, error) {
	lq, err := handle[*core.LiveQuery](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	return viewsJS(lq.Items()), nil
}

func changeSetJS(cs core.ChangeSet) js.Value {
	changes := jsArray.New(len(cs.Changes))
	for i, ch := range cs.Changes {
		o := jsObject.New()
		o.Set("kind", ch.Kind.String())
		o.Set("entity", viewJS(ch.Entity))
		changes.SetIndex(i, o)
	}
	incs := jsArray.New(len(cs.IncludeChanges))
	for i, ch := range cs.IncludeChanges {
		o := jsObject.New()
		o.Set("name", ch.Name)
		o.Set("kind", ch.Kind.String())
		o.Set("entity", viewJS(ch.Entity))
		incs.SetIndex(i, o)
	}
	o := jsObject.New()
	o.Set("changes", changes)
	o.Set("items", viewsJS(cs.Items))
	o.Set("includeChanges", incs)
	names := make([]string, 0, len(cs.Included))
	for n := range cs.Included {
		names = append(names, n)
	}
	o.Set("included", includedJS(names, func(n string) []*core.View { return cs.Included[n] }))
	return o
}

// lqSubscribe(h, cb): cb(changeSet) with the Initial set, then one per
// commit that changes the result; returns a subscription id.
func (a *api) lqSubscribe(args []js.Value) (any, error) {
	lq, err := handle[*core.LiveQuery](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	cb := arg(args, 1)
	if cb.Type() != js.TypeFunction {
		return nil, fmt.Errorf("%w: callback must be a function", errInvalidArg)
	}
	return a.addSub(lq.Subscribe(func(cs core.ChangeSet) { cb.Invoke(changeSetJS(cs)) })), nil
}

// lqUpdateSelection(h, query, args, options): re-points the live query;
// options may set after (a cursor: the live page moves there; "" or null:
// the first page), and only that (the live query keeps its includes).
func (a *api) lqUpdateSelection(args []js.Value) (any, error) {
	lq, err := handle[*core.LiveQuery](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	q, err := str(args, 1, "query")
	if err != nil {
		return nil, err
	}
	qargs, err := argsFromJS(arg(args, 2))
	if err != nil {
		return nil, err
	}
	o := arg(args, 3)
	if !o.IsUndefined() && !o.IsNull() && o.Type() != js.TypeObject {
		return nil, fmt.Errorf("%w: updateSelection options must be an object", errInvalidArg)
	}
	if o.Type() == js.TypeObject {
		if inc := o.Get("include"); !inc.IsUndefined() || !o.Get("includeReverse").IsUndefined() {
			return nil, fmt.Errorf("%w: updateSelection options take only after (a live query keeps its includes)", errInvalidArg)
		}
		after, err := afterOption(o)
		if err != nil {
			return nil, err
		}
		if after != nil {
			qargs = append(qargs, *after)
		}
	}
	return nil, cursorErr(lq.UpdateSelection(context.Background(), q, qargs...), o)
}

func (a *api) lqClose(args []js.Value) (any, error) {
	h := arg(args, 0)
	lq, err := handle[*core.LiveQuery](a, h)
	if err != nil {
		return nil, err
	}
	a.release(h.Int())
	go lq.Close()
	return nil, nil
}

func (a *api) begin([]js.Value) (any, error) {
	c, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	return a.put(&trxHandle{trx: c.Begin()}), nil
}

func (a *api) addMut(t *trxHandle, m *core.Mut) int {
	a.mu.Lock()
	t.muts = append(t.muts, m)
	a.mu.Unlock()
	return a.put(m)
}

// refProps is the set of m's collection's properties declared as
// references (declareRelations), which take an entity id string.
func (a *api) refProps(m *core.Mut) map[string]bool {
	c, err := a.nodeCtx()
	if err != nil {
		return nil
	}
	var out map[string]bool
	for _, r := range c.Node().Relations() {
		if r.Collection == m.Collection() {
			if out == nil {
				out = map[string]bool{}
			}
			out[r.Property] = true
		}
	}
	return out
}

// setValues sets every property of a plain object on m. A property declared
// as a reference (refs) takes an entity id string, stored as a ref, or null;
// any other string there is refused, so a typo never stores a name where an
// id belongs.
func setValues(m *core.Mut, vals js.Value, refs map[string]bool) error {
	if vals.IsUndefined() || vals.IsNull() {
		return nil
	}
	if vals.Type() != js.TypeObject {
		return fmt.Errorf("%w: values must be an object", errInvalidArg)
	}
	keys := jsObject.Call("keys", vals)
	for i := range keys.Length() {
		k := keys.Index(i).String()
		jv := vals.Get(k)
		var v value.Value
		var err error
		if refs[k] && jv.Type() == js.TypeString {
			var eid id.EntityID
			if eid, err = parseID(jv.String()); err == nil {
				v = value.Ref(eid)
			}
		} else if refs[k] && !jv.IsNull() && !jv.IsUndefined() {
			err = fmt.Errorf("%w: a reference takes an entity id string or null, not a %s", errInvalidArg, jv.Type())
		} else {
			v, err = fromJS(jv)
		}
		if err != nil {
			return fmt.Errorf("property %q: %w", k, err)
		}
		if err := m.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// trxCreate(t, collection, values): a new entity's handle.
func (a *api) trxCreate(args []js.Value) (any, error) {
	t, err := handle[*trxHandle](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	coll, err := str(args, 1, "collection")
	if err != nil {
		return nil, err
	}
	m, err := t.trx.Create(context.Background(), coll)
	if err != nil {
		return nil, err
	}
	if err := setValues(m, arg(args, 2), a.refProps(m)); err != nil {
		return nil, err
	}
	return a.addMut(t, m), nil
}

func (a *api) trxEdit(args []js.Value) (any, error) {
	t, err := handle[*trxHandle](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	coll, err := str(args, 1, "collection")
	if err != nil {
		return nil, err
	}
	s, err := str(args, 2, "entity id")
	if err != nil {
		return nil, err
	}
	eid, err := parseID(s)
	if err != nil {
		return nil, err
	}
	m, err := t.trx.Edit(context.Background(), coll, eid)
	if err != nil {
		return nil, err
	}
	// mutValues and the text exports are synchronous: they run on the
	// event loop that delivers the durable peer's answers, so they must
	// not wait for one. The read an edit may leave to its first read
	// happens here.
	if err := m.Refresh(context.Background()); err != nil {
		return nil, err
	}
	return a.addMut(t, m), nil
}

func (a *api) trxDelete(args []js.Value) (any, error) {
	t, err := handle[*trxHandle](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	coll, err := str(args, 1, "collection")
	if err != nil {
		return nil, err
	}
	s, err := str(args, 2, "entity id")
	if err != nil {
		return nil, err
	}
	eid, err := parseID(s)
	if err != nil {
		return nil, err
	}
	return nil, t.trx.Delete(context.Background(), coll, eid)
}

// trxRestore(t, collection, id): undoes the entity's deletion when t
// commits (core.Transaction.Restore) and resolves with its Mut handle.
func (a *api) trxRestore(args []js.Value) (any, error) {
	t, err := handle[*trxHandle](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	coll, err := str(args, 1, "collection")
	if err != nil {
		return nil, err
	}
	s, err := str(args, 2, "entity id")
	if err != nil {
		return nil, err
	}
	eid, err := parseID(s)
	if err != nil {
		return nil, err
	}
	m, err := t.trx.Restore(context.Background(), coll, eid)
	if err != nil {
		return nil, err
	}
	return a.addMut(t, m), nil
}

// trxCommit(t): commits and resolves with the ids of the transaction's
// entities, in the order they were created or edited (creations get their
// id here), releasing their handles. It resolves once a durable peer
// accepted the commit, or at once when offline (the commit is sent on
// reconnection).
func (a *api) trxCommit(args []js.Value) (any, error) {
	h := arg(args, 0)
	t, err := handle[*trxHandle](a, h)
	if err != nil {
		return nil, err
	}
	a.release(h.Int())
	a.mu.Lock()
	muts := t.muts
	for hh, x := range a.handles {
		if m, ok := x.(*core.Mut); ok {
			for _, mm := range muts {
				if m == mm {
					delete(a.handles, hh)
				}
			}
		}
	}
	a.mu.Unlock()
	if err := t.trx.Commit(context.Background()); err != nil {
		return nil, err
	}
	ids := make([]any, len(muts))
	for i, m := range muts {
		ids[i] = m.ID().String()
	}
	return js.ValueOf(ids), nil
}

func (a *api) trxRollback(args []js.Value) (any, error) {
	h := arg(args, 0)
	t, err := handle[*trxHandle](a, h)
	if err != nil {
		return nil, err
	}
	a.release(h.Int())
	t.trx.Rollback()
	return nil, nil
}

func (a *api) mutSet(args []js.Value) (any, error) {
	m, err := handle[*core.Mut](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	return nil, setValues(m, arg(args, 1), a.refProps(m))
}

func (a *api) mutValues(args []js.Value) (any, error) {
	m, err := handle[*core.Mut](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	o := jsObject.New()
	for k, v := range m.Values() {
		if len(k) > 0 && k[0] == '_' {
			continue
		}
		o.Set(k, toJS(v))
	}
	return o, nil
}

func (a *api) mutDelete(args []js.Value) (any, error) {
	m, err := handle[*core.Mut](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	return nil, m.Delete()
}

// mutId(m): the entity id, or null for a creation not yet committed.
func (a *api) mutID(args []js.Value) (any, error) {
	m, err := handle[*core.Mut](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	if m.ID().IsZero() {
		return nil, nil
	}
	return m.ID().String(), nil
}
