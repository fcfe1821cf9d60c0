package rules

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
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
	a.path = path
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
	last, _ := os.ReadFile(a.path)
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

// ReadFilter returns the OR of the caller's read filters (nil when a
// granting role has none), with placeholders bound to values from the token.
func (a *Agent) ReadFilter(_ context.Context, cdata policy.ContextData, collection string) (query.Expr, error) {
	auth, err := authOf(cdata)
	if err != nil {
		return nil, err
	}
	if auth.system {
		return nil, nil
	}
	vars := map[string]any{"auth": authVars(auth), "collection": collection, "resource": map[string]any{}, "before": nil, "after": map[string]any{}}
	var terms []query.Expr
	granted := false
	for _, g := range a.cur.Load().grantsFor(auth, collection) {
		if g.read == nil {
			continue
		}
		granted = true
		if g.read.where == nil {
			return nil, nil
		}
		args := make([]any, len(g.read.args))
		for i, p := range g.read.args {
			out, _, err := p.Eval(vars)
			if err != nil {
				return nil, denied("read filter argument: %v", err)
			}
			args[i] = out.Value()
		}
		b, err := g.read.where.Bind(args...)
		if err != nil {
			return nil, denied("read filter: %v", err)
		}
		terms = append(terms, b.Where)
	}
	if !granted {
		return nil, denied("no role of %q may read %q", auth.Subject, collection)
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &query.Or{Terms: terms}, nil
}

// CheckRead allows an entity when one of the caller's read rules does.
func (a *Agent) CheckRead(_ context.Context, cdata policy.ContextData, st *entity.State) error {
	auth, err := authOf(cdata)
	if err != nil {
		return err
	}
	if auth.system {
		return nil
	}
	vars := map[string]any{"auth": authVars(auth), "collection": st.Collection, "resource": props(st), "before": nil, "after": map[string]any{}}
	for _, g := range a.cur.Load().grantsFor(auth, st.Collection) {
		if g.read == nil {
			continue
		}
		ok, err := g.read.allows(vars)
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
