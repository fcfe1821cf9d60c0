package adversarial_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fxamacker/cbor/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
	rules "github.com/ankurah/ankurah-go/plugins/policy-rules"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// patience bounds every wait of the suite: something that has not happened
// by then is taken to never happen (a hang fails the test, it never stalls).
const patience = 20 * time.Second

// testSecret signs every token of the suite (HS256).
const testSecret = "adversarial-suite-secret-that-is-long-enough"

// logger is the servers' and clients' logger: silent unless
// ANKURAH_TEST_LOG is set.
var logger = func() *slog.Logger {
	if os.Getenv("ANKURAH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}()

func deadline(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// waitFor fails the test if cond does not hold within patience.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s did not happen within %s", what, patience)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock is the server's clock (node and rules agent): it moves only
// when a test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// todosRules is examples/todos/rules.yaml with the suite's secret in place
// of the environment variable (so tests need no t.Setenv).
func todosRules(t testing.TB) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "todos", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return withSecret(t, src)
}

func testdataRules(t testing.TB, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return withSecret(t, src)
}

func withSecret(t testing.TB, src []byte) []byte {
	t.Helper()
	const env = "secret_env: ANKURAH_JWT_SECRET"
	if !bytes.Contains(src, []byte(env)) {
		t.Fatalf("rules file does not read its secret from %s", env)
	}
	return bytes.Replace(src, []byte(env), []byte(fmt.Sprintf("secret: %q", testSecret)), 1)
}

// server is a durable node served over websockets, as `ankurah serve` runs it.
type server struct {
	t      testing.TB // the test that started it: clients live as long as the server
	URL    string
	Node   *core.Node
	Engine *bolt.Engine
	Agent  *rules.Agent
	Clock  *fakeClock
	Limits limits.Limits

	byMu sync.Mutex
	by   *bystanders
}

type serverConfig struct {
	limits limits.Limits
	rules  []byte
}

type serverOption func(*serverConfig)

// withLimits sets the server node's limits (zero fields: defaults).
func withLimits(l limits.Limits) serverOption { return func(c *serverConfig) { c.limits = l } }

// withRules replaces the todos rules.
func withRules(src []byte) serverOption { return func(c *serverConfig) { c.rules = src } }

func startServer(t testing.TB, opts ...serverOption) *server {
	t.Helper()
	cfg := serverConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.rules == nil {
		cfg.rules = todosRules(t)
	}
	ctx := context.Background()
	clk := &fakeClock{now: time.Now().Truncate(time.Second)}
	eng, err := bolt.Open(ctx, filepath.Join(t.TempDir(), "ankurah.db"), bolt.WithNoSync(true), bolt.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	agent, err := rules.New(cfg.rules, rules.WithClock(clk.Now), rules.WithLogger(logger))
	if err != nil {
		eng.Close()
		t.Fatal(err)
	}
	node, err := core.NewNode(context.Background(), eng, agent, core.WithLimits(cfg.limits), core.WithClock(clk.Now), core.WithLogger(logger))
	if err != nil {
		eng.Close()
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.NewServer(node, ws.WithServerLogger(logger)))
	hs := httptest.NewServer(mux) // 127.0.0.1:0
	t.Cleanup(func() {
		node.Close()
		hs.Close()
		eng.Close()
	})
	return &server{t: t, URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", Node: node, Engine: eng, Agent: agent, Clock: clk, Limits: node.Limits()}
}

// token mints an HS256 token for sub, valid for an hour of the server's clock.
func (s *server) token(t testing.TB, sub string, roles ...string) string {
	return s.tokenUntil(t, sub, s.Clock.Now().Add(time.Hour), roles...)
}

func (s *server) tokenUntil(t testing.TB, sub string, exp time.Time, roles ...string) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "exp": exp.Unix()}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// system is trusted code in the server process.
func (s *server) system() *core.Context { return s.Node.Context(rules.System) }

// client is a well-behaved user: an ephemeral node connected with ws.Dial.
type client struct {
	*core.Node
	WS  *ws.Client
	tok atomic.Pointer[string]
}

func (c *client) ctx() *core.Context { return c.Node.Context(nil) }

// setToken changes the token sent on reconnects and RefreshCredentials.
func (c *client) setToken(tok string) { c.tok.Store(&tok) }

func (s *server) dial(t testing.TB, sub string, roles ...string) *client {
	t.Helper()
	c, err := s.dialToken(t, s.token(t, sub, roles...))
	if err != nil {
		t.Fatalf("dial as %s: %v", sub, err)
	}
	return c
}

func (s *server) dialToken(t testing.TB, tok string) (*client, error) {
	t.Helper()
	n, err := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral), core.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	c := &client{Node: n}
	c.setToken(tok)
	wc, err := ws.Dial(deadline(t), s.URL, n, ws.WithCredentials(func() []byte { return []byte(*c.tok.Load()) }),
		ws.WithBackoff(50*time.Millisecond, time.Second), ws.WithClientLogger(logger))
	c.WS = wc
	s.t.Cleanup(func() {
		wc.Close()
		n.Close()
	})
	return c, err
}

// createTodo commits a new todo with the given owner, title and properties.
func createTodo(c *core.Context, owner, title string, props map[string]any) (id.EntityID, error) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	trx := c.Begin()
	m, err := trx.Create(ctx, "todo")
	if err != nil {
		return id.EntityID{}, err
	}
	all := map[string]any{"owner": owner, "title": title}
	for k, v := range props {
		all[k] = v
	}
	for k, v := range all {
		if err := m.Set(k, v); err != nil {
			return id.EntityID{}, err
		}
	}
	if err := trx.Commit(ctx); err != nil {
		return id.EntityID{}, err
	}
	return m.ID(), nil
}

// editTodo sets properties of a todo in one commit.
func editTodo(c *core.Context, eid id.EntityID, props map[string]any) error {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	trx := c.Begin()
	m, err := trx.Edit(ctx, "todo", eid)
	if err != nil {
		return err
	}
	for k, v := range props {
		if err := m.Set(k, v); err != nil {
			return err
		}
	}
	return trx.Commit(ctx)
}

func mustCreate(t testing.TB, c *core.Context, owner, title string, props map[string]any) id.EntityID {
	t.Helper()
	eid, err := createTodo(c, owner, title, props)
	if err != nil {
		t.Fatalf("create %q for %s: %v", title, owner, err)
	}
	return eid
}

func mustEdit(t testing.TB, c *core.Context, eid id.EntityID, props map[string]any) {
	t.Helper()
	if err := editTodo(c, eid, props); err != nil {
		t.Fatalf("edit %s: %v", eid, err)
	}
}

// stored returns an entity's state as the server's engine holds it.
func (s *server) stored(t testing.TB, collection string, eid id.EntityID) entity.State {
	t.Helper()
	coll, err := s.Engine.LookupCollection(context.Background(), collection)
	if err != nil {
		t.Fatalf("collection %q: %v", collection, err)
	}
	st, err := coll.GetState(context.Background(), eid)
	if err != nil {
		t.Fatalf("stored state of %s: %v", eid, err)
	}
	return st
}

// events returns an entity's stored events in causal order (ties by id).
func (s *server) events(t testing.TB, collection string, eid id.EntityID) []event.Event {
	t.Helper()
	coll, err := s.Engine.LookupCollection(context.Background(), collection)
	if err != nil {
		t.Fatalf("collection %q: %v", collection, err)
	}
	evs, err := coll.EntityEvents(context.Background(), eid)
	if err != nil {
		t.Fatal(err)
	}
	return causal(evs)
}

// causal orders events parents first (ties by id bytes).
func causal(evs []event.Event) []event.Event {
	byID := map[id.EventID]event.Event{}
	for _, e := range evs {
		byID[e.ID()] = e
	}
	done := map[id.EventID]bool{}
	var out []event.Event
	for len(out) < len(evs) {
		var ready []id.EventID
		for eid, e := range byID {
			if done[eid] {
				continue
			}
			ok := true
			for _, p := range e.Parent {
				if _, have := byID[p]; have && !done[p] {
					ok = false
				}
			}
			if ok {
				ready = append(ready, eid)
			}
		}
		if len(ready) == 0 {
			break // a cycle cannot happen with content hashes
		}
		slices.SortFunc(ready, func(a, b id.EventID) int { return a.Compare(b) })
		for _, r := range ready {
			done[r] = true
			out = append(out, byID[r])
		}
	}
	return out
}

// ---- (3) stored data is unchanged ----

// snapshot is everything the server's engine stores: each collection's
// states (encoded) and the ids of each entity's events.
type snapshot map[string]map[id.EntityID]storedEntity

type storedEntity struct {
	state  []byte
	events []id.EventID
}

func (s *server) snapshot(t testing.TB) snapshot {
	t.Helper()
	ctx := context.Background()
	names, err := s.Engine.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := query.ParseBound("true")
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot{}
	for _, name := range names {
		coll, err := s.Engine.LookupCollection(ctx, name)
		if err != nil {
			t.Fatalf("snapshot: collection %q: %v", name, err)
		}
		states, err := coll.FetchStates(ctx, all)
		if err != nil {
			t.Fatalf("snapshot: fetch %q: %v", name, err)
		}
		m := make(map[id.EntityID]storedEntity, len(states))
		for i := range states {
			b, err := states[i].Encode()
			if err != nil {
				t.Fatal(err)
			}
			evs, err := coll.EntityEvents(ctx, states[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]id.EventID, len(evs))
			for j := range evs {
				ids[j] = evs[j].ID()
			}
			slices.SortFunc(ids, func(a, b id.EventID) int { return a.Compare(b) })
			m[states[i].ID] = storedEntity{state: b, events: ids}
		}
		snap[name] = m
	}
	return snap
}

// differences lists what changed from a to b, ignoring the entities in except.
func differences(a, b snapshot, except map[id.EntityID]bool) []string {
	var out []string
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		ca, ina := a[n]
		cb, inb := b[n]
		switch {
		case !ina && len(cb) == 0:
			continue // an empty collection holds no data (reads_test checks that reads create none)
		case !ina:
			out = append(out, fmt.Sprintf("collection %q was created with %d entities", trunc(n), len(cb)))
			continue
		case !inb:
			out = append(out, fmt.Sprintf("collection %q disappeared", trunc(n)))
			continue
		}
		for eid, ea := range ca {
			if except[eid] {
				continue
			}
			eb, ok := cb[eid]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s/%s disappeared", n, eid))
			case !bytes.Equal(ea.state, eb.state):
				out = append(out, fmt.Sprintf("%s/%s: state changed", n, eid))
			case !slices.Equal(ea.events, eb.events):
				out = append(out, fmt.Sprintf("%s/%s: events changed (%d -> %d)", n, eid, len(ea.events), len(eb.events)))
			}
		}
		for eid := range cb {
			if _, ok := ca[eid]; !ok && !except[eid] {
				out = append(out, fmt.Sprintf("%s/%s appeared", n, eid))
			}
		}
	}
	return out
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// ---- (2) the server keeps serving others ----

// bystanders are well-behaved users connected before the abuse: alice,
// bob, and bob's second device; bob keeps a live query open.
type bystanders struct {
	alice, bob, bobPhone *client
	bobLive              *core.LiveQuery
	round                int
}

func (s *server) bystanders(t testing.TB) *bystanders {
	t.Helper()
	s.byMu.Lock()
	defer s.byMu.Unlock()
	if s.by != nil {
		return s.by
	}
	b := &bystanders{alice: s.dial(t, "alice"), bob: s.dial(t, "bob"), bobPhone: s.dial(t, "bob")}
	lq, err := b.bob.ctx().Query(deadline(t), "todo", "true")
	if err != nil {
		t.Fatalf("bob's live query: %v", err)
	}
	s.t.Cleanup(lq.Close)
	b.bobLive = lq
	s.by = b
	return b
}

func hasTitle(lq *core.LiveQuery, title string) bool {
	for _, v := range lq.Items() {
		if s, _ := v.Get("title").AsString(); s == title {
			return true
		}
	}
	return false
}

// check fails the test unless the server still serves the bystanders:
// alice commits and fetches, bob fetches and subscribes, and a commit from
// bob's phone reaches both bob's new subscription and the one he opened
// before the abuse.
func (b *bystanders) check(t testing.TB) {
	t.Helper()
	ctx := deadline(t)
	b.round++
	at := fmt.Sprintf("alice's todo after abuse #%d", b.round)
	if _, err := createTodo(b.alice.ctx(), "alice", at, nil); err != nil {
		t.Fatalf("after the abuse, alice cannot commit: %v", err)
	}
	got, err := b.alice.ctx().Fetch(ctx, "todo", "title = ?", at)
	if err != nil || len(got) != 1 {
		t.Fatalf("after the abuse, alice's fetch: %d results, %v", len(got), err)
	}
	if _, err := b.bob.ctx().Fetch(ctx, "todo", "true"); err != nil {
		t.Fatalf("after the abuse, bob cannot fetch: %v", err)
	}
	bt := fmt.Sprintf("bob's todo after abuse #%d", b.round)
	fresh, err := b.bob.ctx().Query(ctx, "todo", "title = ?", bt)
	if err != nil {
		t.Fatalf("after the abuse, bob cannot subscribe: %v", err)
	}
	defer fresh.Close()
	if _, err := createTodo(b.bobPhone.ctx(), "bob", bt, nil); err != nil {
		t.Fatalf("after the abuse, bob's phone cannot commit: %v", err)
	}
	waitFor(t, "bob's live query (opened before the abuse) to receive his phone's commit", func() bool { return hasTitle(b.bobLive, bt) })
	waitFor(t, "bob's new live query to receive his phone's commit", func() bool { return hasTitle(fresh, bt) })
}

// guard is taken before an abuse; done asserts afterwards that stored data
// is unchanged (3) and that the server still serves others (2).
type guard struct {
	s      *server
	by     *bystanders
	before snapshot
	except map[id.EntityID]bool
}

func (s *server) guard(t testing.TB) *guard {
	t.Helper()
	by := s.bystanders(t)
	return &guard{s: s, by: by, before: s.snapshot(t), except: map[id.EntityID]bool{}}
}

// allow excludes entities a well-behaved writer changes during the abuse
// from the comparison.
func (g *guard) allow(ids ...id.EntityID) {
	for _, e := range ids {
		g.except[e] = true
	}
}

func (g *guard) done(t testing.TB) {
	t.Helper()
	if d := differences(g.before, g.s.snapshot(t), g.except); len(d) > 0 {
		if len(d) > 10 {
			d = append(d[:10], fmt.Sprintf("… and %d more", len(d)-10))
		}
		t.Errorf("stored data changed:\n  %s", strings.Join(d, "\n  "))
	}
	g.by.check(t)
}

// ---- (1) refusals ----

// wantErr fails unless err wraps sentinel and its text names every want.
func wantErr(t testing.TB, what string, err, sentinel error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted, want a refusal wrapping %q", what, sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: refused with %v, want an error wrapping %q", what, err, sentinel)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: error %q does not name %q", what, err, w)
		}
	}
}

// ---- raw connections ----

// raw is a hand-driven websocket connection to the server.
type raw struct {
	t    testing.TB
	c    *websocket.Conn
	next atomic.Uint64
	// notices and updates received while waiting for responses.
	mu      sync.Mutex
	notices []*transport.Fault
	updates [][]transport.Update
	faults  []*transport.Fault // faults disconnected read
}

func (s *server) rawDial(t testing.TB) *raw {
	t.Helper()
	c, _, err := websocket.Dial(deadline(t), s.URL, nil)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	c.SetReadLimit(transport.MaxFrameSize + 1<<20)
	t.Cleanup(func() { c.CloseNow() })
	return &raw{t: t, c: c}
}

// rawAs dials and completes the handshake with a token.
func (s *server) rawAs(t testing.TB, tok string) *raw {
	t.Helper()
	r := s.rawDial(t)
	r.send(hello(tok))
	m, err := r.read()
	if err != nil {
		t.Fatalf("raw handshake: %v", err)
	}
	if m.Hello == nil || !m.Hello.Durable {
		t.Fatalf("raw handshake: got %s", describe(m))
	}
	return r
}

func hello(tok string) *transport.Message {
	return &transport.Message{Hello: &transport.Hello{NodeID: "raw-client", Version: transport.ProtocolVersion, Credentials: []byte(tok)}}
}

func encode(t testing.TB, m *transport.Message) []byte {
	t.Helper()
	b, err := transport.Encode(m)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

func (r *raw) send(m *transport.Message) {
	r.t.Helper()
	if err := r.write(encode(r.t, m)); err != nil {
		r.t.Fatalf("raw send: %v", err)
	}
}

func (r *raw) write(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	return r.c.Write(ctx, websocket.MessageBinary, b)
}

// read returns the next message (an error when the connection ended or the
// frame does not decode).
func (r *raw) read() (*transport.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	typ, b, err := r.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("text message from the server: %q", b)
	}
	return transport.Decode(b)
}

func describe(m *transport.Message) string {
	switch {
	case m == nil:
		return "nothing"
	case m.Hello != nil:
		return fmt.Sprintf("hello %+v", *m.Hello)
	case m.Response != nil:
		r := m.Response
		return fmt.Sprintf("response %d (code %d %q, %d states, %d events, more %v)", r.ID, r.Code, r.Error, len(r.States), len(r.Events), m.More)
	case m.Fault != nil:
		return fmt.Sprintf("fault (code %d) %q", m.Fault.Code, m.Fault.Message)
	case m.Notice != nil:
		return fmt.Sprintf("notice (code %d) %q", m.Notice.Code, m.Notice.Message)
	case m.SubEnded != nil:
		return fmt.Sprintf("sub-ended %d (code %d) %q", m.SubEnded.Sub, m.SubEnded.Code, m.SubEnded.Message)
	case len(m.Updates) > 0:
		return fmt.Sprintf("updates for %d subscriptions", len(m.Updates))
	}
	return fmt.Sprintf("%+v", *m)
}

// outcome is how the server answered a request: a (complete) response, a
// fault, or the connection ending.
type outcome struct {
	resp   *transport.Response
	fault  *transport.Fault
	closed error
}

func (o outcome) String() string {
	switch {
	case o.resp != nil && o.resp.Error == "":
		return fmt.Sprintf("success (%d states, %d events)", len(o.resp.States), len(o.resp.Events))
	case o.resp != nil:
		return fmt.Sprintf("refused with code %d: %s", o.resp.Code, o.resp.Error)
	case o.fault != nil:
		return fmt.Sprintf("fault with code %d: %s", o.fault.Code, o.fault.Message)
	}
	return fmt.Sprintf("connection ended: %v", o.closed)
}

// code is the refusal's wire code (CodeOK for a success or a bare close).
func (o outcome) code() transport.Code {
	switch {
	case o.resp != nil:
		return o.resp.Code
	case o.fault != nil:
		return o.fault.Code
	}
	return transport.CodeOK
}

func (o outcome) message() string {
	switch {
	case o.resp != nil:
		return o.resp.Error
	case o.fault != nil:
		return o.fault.Message
	}
	return ""
}

// do sends a request (numbering it when its ID is 0) and waits for its
// whole answer, a fault or the end of the connection.
func (r *raw) do(req *transport.Request) outcome {
	r.t.Helper()
	if req.ID == 0 {
		req.ID = r.next.Add(1) + 1<<32
	}
	if err := r.write(encode(r.t, &transport.Message{Request: req})); err != nil {
		return outcome{closed: err}
	}
	return r.await(req.ID)
}

// doBytes sends a hand-made frame and waits for the answer to request id
// (0: any response), a fault, or the end of the connection.
func (r *raw) doBytes(frame []byte, reqID uint64) outcome {
	r.t.Helper()
	if err := r.write(frame); err != nil {
		return outcome{closed: err}
	}
	return r.await(reqID)
}

// await collects the parts of response reqID (0: the next response).
func (r *raw) await(reqID uint64) outcome {
	var acc *transport.Response
	for {
		m, err := r.read()
		if err != nil {
			return outcome{closed: err}
		}
		switch {
		case m.Fault != nil:
			return outcome{fault: m.Fault}
		case m.Notice != nil:
			r.mu.Lock()
			r.notices = append(r.notices, m.Notice)
			r.mu.Unlock()
		case len(m.Updates) > 0:
			r.mu.Lock()
			r.updates = append(r.updates, m.Updates)
			r.mu.Unlock()
		case m.Response != nil && (reqID == 0 || m.Response.ID == reqID):
			if acc == nil {
				acc = &transport.Response{ID: m.Response.ID}
			}
			acc.States = append(acc.States, m.Response.States...)
			acc.Events = append(acc.Events, m.Response.Events...)
			acc.Unchanged = append(acc.Unchanged, m.Response.Unchanged...)
			acc.Error, acc.Code, acc.Kinds = m.Response.Error, m.Response.Code, m.Response.Kinds
			if !m.More {
				return outcome{resp: acc}
			}
		}
	}
}

// ok fails unless the outcome is a successful response.
func (o outcome) ok(t testing.TB, what string) *transport.Response {
	t.Helper()
	if o.resp == nil || o.resp.Error != "" {
		t.Fatalf("%s: %s, want success", what, o)
	}
	return o.resp
}

// refused fails unless the outcome is a refusal (an error response or a
// fault) with one of codes and a message saying why.
func (o outcome) refused(t testing.TB, what string, codes ...transport.Code) {
	t.Helper()
	if o.resp == nil && o.fault == nil {
		t.Fatalf("%s: %s, want a refusal with code %v", what, o, codes)
	}
	if o.resp != nil && o.resp.Error == "" {
		t.Fatalf("%s: accepted (%s), want a refusal with code %v", what, o, codes)
	}
	if !slices.Contains(codes, o.code()) {
		t.Fatalf("%s: %s, want code %v", what, o, codes)
	}
	if strings.TrimSpace(o.message()) == "" {
		t.Fatalf("%s: refusal with code %d says nothing", what, o.code())
	}
}

// disconnected fails unless the connection ends within patience (messages
// still in flight are read and dropped); it returns how it ended.
func (r *raw) disconnected(t testing.TB, what string) error {
	t.Helper()
	for {
		m, err := r.read()
		if err == nil && m.Fault != nil {
			r.mu.Lock()
			r.faults = append(r.faults, m.Fault)
			r.mu.Unlock()
		}
		if err == nil || errors.Is(err, transport.ErrProtocol) {
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: the connection was not closed within %s", what, patience)
		}
		return err
	}
}

// faulted fails unless the server ends the connection saying why: with a
// fault of one of codes, or with a websocket close whose reason names the
// problem (what the transport itself refuses, a text message say).
func (r *raw) faulted(t testing.TB, what string, codes ...transport.Code) {
	t.Helper()
	o := r.await(^uint64(0)) // no response has this id: wait for the fault
	var ce websocket.CloseError
	if o.fault == nil && errors.As(o.closed, &ce) && ce.Code != websocket.StatusNormalClosure && strings.TrimSpace(ce.Reason) != "" {
		return // closed with a status and a reason
	}
	if o.fault == nil {
		t.Fatalf("%s: %s, want a fault with code %v or a close naming why", what, o, codes)
	}
	o.refused(t, what, codes...)
	r.disconnected(t, what)
}

// alive fails unless the connection still answers a request.
func (r *raw) alive(t testing.TB, what string) {
	t.Helper()
	r.do(&transport.Request{Fetch: &transport.FetchReq{Collection: "todo", Query: "title = 'alive?'"}}).ok(t, what+": the connection no longer answers")
}

// pipeline sends every request at once (from another goroutine) while
// reading the answers, pausing between reads, and returns each request's
// final response. It fails the test if the connection ends first or a
// request is answered twice.
func (r *raw) pipeline(t testing.TB, reqs []*transport.Request, pause time.Duration) map[uint64]*transport.Response {
	t.Helper()
	frames := make([][]byte, len(reqs))
	for i, req := range reqs {
		if req.ID == 0 {
			req.ID = r.next.Add(1) + 1<<32
		}
		frames[i] = encode(t, &transport.Message{Request: req})
	}
	errc := make(chan error, 1)
	go func() {
		for _, f := range frames {
			if err := r.write(f); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	got := make(map[uint64]*transport.Response, len(reqs))
	for len(got) < len(reqs) {
		m, err := r.read()
		if err != nil {
			t.Fatalf("pipeline: the connection ended after %d of %d answers: %v", len(got), len(reqs), err)
		}
		if m.Fault != nil {
			t.Fatalf("pipeline: fault after %d of %d answers: %s", len(got), len(reqs), describe(m))
		}
		if m.Response != nil && !m.More {
			if _, dup := got[m.Response.ID]; dup {
				t.Fatalf("pipeline: request %d answered twice", m.Response.ID)
			}
			got[m.Response.ID] = m.Response
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("pipeline: sending: %v", err)
	}
	return got
}

// ---- events crafted by hand ----

// lwwOps is the LWW backend's payload (core/property/lww.go).
type lwwOps struct {
	Height uint64                 `cbor:"1,keyasint"`
	Set    map[string]value.Value `cbor:"2,keyasint"`
}

func lwwPayload(t testing.TB, height uint64, props map[string]any) map[string][]byte {
	t.Helper()
	set := map[string]value.Value{}
	for k, v := range props {
		set[k] = value.MustFrom(v)
	}
	b, err := event.EncMode().Marshal(lwwOps{Height: height, Set: set})
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"lww": b}
}

// lwwHeight is an LWW state's height (the greatest height applied).
func lwwHeight(t testing.TB, st entity.State) uint64 {
	t.Helper()
	var s struct {
		Height uint64 `cbor:"1,keyasint"`
	}
	if err := cbor.Unmarshal(st.Backends.StateOf("lww"), &s); err != nil {
		t.Fatalf("lww state: %v", err)
	}
	return s.Height
}

// edit is a non-genesis LWW event on top of head.
func edit(t testing.TB, collection string, eid id.EntityID, head event.Clock, height uint64, props map[string]any) event.Event {
	return event.Event{Collection: collection, Entity: eid, Parent: head, Operations: lwwPayload(t, height, props)}
}

// genesis is a creation event with LWW properties.
func genesis(t testing.TB, collection string, props map[string]any) event.Event {
	nonce := make([]byte, event.NonceSize)
	copy(nonce, fmt.Sprintf("%016d", nonceSeq.Add(1)))
	return event.NewGenesis(collection, lwwPayload(t, 1, props), nonce, time.Now().UnixMilli())
}

var nonceSeq atomic.Int64

func commit(evs ...event.Event) *transport.Request {
	return &transport.Request{Commit: &transport.CommitReq{Events: evs}}
}

// cborEnc encodes hand-built frames (deterministically, like the protocol).
var cborEnc = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()
