package rules

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
)

// Agent enforces a rules file. It implements policy.Agent.
type Agent struct {
	cur  atomic.Pointer[compiled]
	now  func() time.Time
	log  *slog.Logger
	path string
	read []byte // the file's contents when Open read it
}

var _ policy.Agent = (*Agent)(nil)

// Option configures an Agent.
type Option func(*Agent)

// WithClock sets the clock tokens are checked against (time.Now by default).
func WithClock(now func() time.Time) Option { return func(a *Agent) { a.now = now } }

// WithLogger sets the agent's logger.
func WithLogger(l *slog.Logger) Option { return func(a *Agent) { a.log = l } }

// New returns an agent for a rules file's text.
func New(data []byte, opts ...Option) (*Agent, error) {
	a := &Agent{now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(a)
	}
	if err := a.Load(data); err != nil {
		return nil, err
	}
	return a, nil
}

// Open returns an agent for the rules file at path. Watch re-reads it on change.
func Open(path string, opts ...Option) (*Agent, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	a, err := New(data, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a.path, a.read = path, data
	return a, nil
}

// Load replaces the rules with a new file's text. On error the previous
// rules stay in force.
func (a *Agent) Load(data []byte) error {
	f, err := ParseFile(data)
	if err != nil {
		return err
	}
	c, err := compileFile(f)
	if err != nil {
		return err
	}
	a.cur.Store(c)
	return nil
}

// Watch re-reads the file Open read whenever its contents change (checked
// every interval) until ctx ends. A broken file keeps the previous rules and
// logs why. New rules apply to requests that start after the reload.
func (a *Agent) Watch(ctx context.Context, interval time.Duration) {
	if a.path == "" {
		return
	}
	last := a.read // what the rules in force were loaded from, not what the file holds when Watch starts
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := os.ReadFile(a.path)
		if err != nil || bytes.Equal(data, last) {
			continue
		}
		last = data
		if err := a.Load(data); err != nil {
			a.log.Error("rules file changed but is invalid; keeping the previous rules", "path", a.path, "err", err)
			continue
		}
		a.log.Info("rules reloaded", "path", a.path)
	}
}

var _ policy.Identifier = (*Agent)(nil)

// Identify names a caller by its token's subject ("system" for System,
// "anonymous" for a caller without a token where the rules allow one; ""
// for context data that is not an *Auth).
func (a *Agent) Identify(cdata policy.ContextData) string {
	auth, ok := cdata.(*Auth)
	if !ok || auth == nil {
		return ""
	}
	if auth.Subject == "" && slices.Contains(auth.Roles, "anonymous") {
		return "anonymous"
	}
	return auth.Subject
}

func authOf(cdata policy.ContextData) (*Auth, error) {
	a, ok := cdata.(*Auth)
	if !ok || a == nil {
		return nil, fmt.Errorf("%w: no authenticated caller", policy.ErrUnauthenticated)
	}
	return a, nil
}

// Authenticate verifies a token (the credentials) and returns its caller.
func (a *Agent) Authenticate(_ context.Context, _ policy.Peer, credentials []byte) (policy.ContextData, error) {
	c := a.cur.Load()
	if len(credentials) == 0 {
		if c.file.Anonymous {
			return &Auth{Roles: []string{"anonymous"}}, nil
		}
		return nil, fmt.Errorf("%w: a token is required", policy.ErrUnauthenticated)
	}
	auth, err := c.verify(string(credentials), a.now())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", policy.ErrUnauthenticated, err)
	}
	return auth, nil
}

// grants lists the caller's grants on a collection.
func (c *compiled) grantsFor(auth *Auth, collection string) []*cgrant {
	var out []*cgrant
	for _, role := range auth.Roles {
		if g := c.grants[role][collection]; g != nil {
			out = append(out, g)
		}
		if g := c.grants[role]["*"]; g != nil {
			out = append(out, g)
		}
	}
	return out
}

func denied(format string, args ...any) error {
	return fmt.Errorf("%w: %s", policy.ErrAccessDenied, fmt.Sprintf(format, args...))
}

// CanAccessCollection allows a collection that one of the caller's roles mentions.
func (a *Agent) CanAccessCollection(_ context.Context, cdata policy.ContextData, collection string) error {
	auth, err := authOf(cdata)
	if err != nil {
		return err
	}
	if auth.system || len(a.cur.Load().grantsFor(auth, collection)) > 0 {
		return nil
	}
	return denied("no role of %q may use collection %q", auth.Subject, collection)
}

// filterKey names a read rule's where bound for one caller: the rule (of
// the rules in force; a reload makes new rules) and the collection (its args
// may read it).
type filterKey struct {
	rule       *crule
	collection string
}

// boundFilter is a read rule's where bound for one caller: the predicate
// ReadFilter hands the node (pushed into fetches and subscriptions, run by
// the storage engine or core/query) and the same predicate compiled by
// core/query for CheckRead, so the two can never disagree on a row.
type boundFilter struct {
	where query.Expr
	prog  query.Program
}

// filter binds r's where for auth on collection (cached in auth).
func (a *Agent) filter(auth *Auth, r *crule, collection string) (*boundFilter, error) {
	key := filterKey{rule: r, collection: collection}
	if f, ok := auth.filters.Load(key); ok {
		return f.(*boundFilter), nil
	}
	vars := map[string]any{"auth": authVars(auth), "collection": collection, "resource": map[string]any{}, "before": nil, "after": map[string]any{}}
	b, err := r.bind(vars)
	if err != nil {
		return nil, err
	}
	prog, err := query.Compile(b, nil)
	if err != nil {
		return nil, err
	}
	f := &boundFilter{where: b.Where, prog: prog}
	auth.filters.Store(key, f)
	return f, nil
}

// readGrant is one grant of reads to a caller: its rule and its bound
// filter (nil when the rule has no where).
type readGrant struct {
	rule   *crule
	filter *boundFilter
}

// readRules is what the caller's read rules on a collection say: whether
// any role grants reads, and the usable grants. A grant whose filter cannot
// be bound for this caller (an arg reads a claim its token lacks, say) is
// left out, by ReadFilter and CheckRead alike.
func (a *Agent) readRules(auth *Auth, collection string) (granted bool, grants []readGrant) {
	for _, g := range a.cur.Load().grantsFor(auth, collection) {
		if g.read == nil {
			continue
		}
		granted = true
		rg := readGrant{rule: g.read}
		if g.read.where != nil {
			f, err := a.filter(auth, g.read, collection)
			if err != nil {
				a.log.Warn("read filter cannot be bound for this caller; its grant does not apply", "collection", collection, "subject", auth.Subject, "err", err)
				continue
			}
			rg.filter = f
		}
		grants = append(grants, rg)
	}
	return granted, grants
}

// ReadFilter returns the OR of the caller's read filters (nil when a
// granting role has none), with placeholders bound to values from the token.
// CheckRead evaluates the very same filters on each row, with core/query.
func (a *Agent) ReadFilter(_ context.Context, cdata policy.ContextData, collection string) (query.Expr, error) {
	auth, err := authOf(cdata)
	if err != nil {
		return nil, err
	}
	if auth.system {
		return nil, nil
	}
	granted, grants := a.readRules(auth, collection)
	if !granted {
		return nil, denied("no role of %q may read %q", auth.Subject, collection)
	}
	if len(grants) == 0 {
		return nil, denied("no read filter of %q on %q can be bound for this caller", auth.Subject, collection)
	}
	var terms []query.Expr
	for _, g := range grants {
		if g.filter == nil {
			return nil, nil
		}
		terms = append(terms, g.filter.where)
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &query.Or{Terms: terms}, nil
}

// CheckRead allows an entity when one of the caller's read rules does: its
// where (the filter ReadFilter returns, evaluated by core/query) matches
// the entity and its if holds. So Get, which asks CheckRead alone, and
// Fetch, which applies ReadFilter and then CheckRead, answer alike.
func (a *Agent) CheckRead(_ context.Context, cdata policy.ContextData, st *entity.State) error {
	auth, err := authOf(cdata)
	if err != nil {
		return err
	}
	if auth.system {
		return nil
	}
	_, grants := a.readRules(auth, st.Collection)
	var vars map[string]any
	for _, g := range grants {
		if g.filter != nil {
			if ok, err := g.filter.prog.Match(st.Values); err != nil || !ok {
				continue
			}
		}
		if vars == nil {
			vars = map[string]any{"auth": authVars(auth), "collection": st.Collection, "resource": props(st), "before": nil, "after": map[string]any{}}
		}
		ok, err := g.rule.allows(vars)
		if err != nil {
			a.log.Warn("read condition failed", "collection", st.Collection, "err", err)
			continue
		}
		if ok {
			return nil
		}
	}
	return denied("%q may not read this entity of %q", auth.Subject, st.Collection)
}

// CheckEventRead allows an event when the caller may read the entity after it.
func (a *Agent) CheckEventRead(ctx context.Context, cdata policy.ContextData, _ *event.Event, after *entity.State) error {
	return a.CheckRead(ctx, cdata, after)
}

// CheckEvent allows a write (or delete) when one of the caller's rules does,
// seeing the state before (null on creation) and after.
func (a *Agent) CheckEvent(_ context.Context, cdata policy.ContextData, ev *event.Event, before, after *entity.State) error {
	auth, err := authOf(cdata)
	if err != nil {
		return err
	}
	if auth.system {
		return nil
	}
	var b any
	if before != nil {
		b = props(before)
	}
	vars := map[string]any{"auth": authVars(auth), "collection": ev.Collection, "resource": props(after), "before": b, "after": props(after)}
	deleting := after != nil && after.Deleted() && (before == nil || !before.Deleted())
	for _, g := range a.cur.Load().grantsFor(auth, ev.Collection) {
		r := g.write
		if deleting {
			r = g.del
		}
		if r == nil {
			continue
		}
		ok, err := r.allows(vars)
		if err != nil {
			a.log.Warn("write condition failed", "collection", ev.Collection, "err", err)
			continue
		}
		if ok {
			return nil
		}
	}
	what := "write"
	if deleting {
		what = "delete"
	}
	return denied("%q may not %s this entity of %q", auth.Subject, what, ev.Collection)
}

// ValidateEvent accepts well-formed events (the node checks structure and
// ancestry; CheckEvent decides permission).
func (a *Agent) ValidateEvent(context.Context, policy.Peer, *event.Event) error { return nil }

// ValidateState accepts well-formed states.
func (a *Agent) ValidateState(context.Context, policy.Peer, *entity.State) error { return nil }
