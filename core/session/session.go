// Package session is the wire session between two nodes, below the node's
// logic and above a transport.Connection: request ids and the matching of
// streamed responses to the requests that wait for them (Requests), the
// bounded queue of outgoing frames one writer sends (Outbox, with a Budget
// shared by a server's connections; a caller holding no lock may send on
// its own goroutine, SendNow and Hold/Flush, saving the hop to the writer),
// and the one table that turns errors into wire codes and kinds and back (CodeOf, KindsOf, Remote), so that
// errors.Is holds on the receiving side for every exported sentinel the
// sending side's error wrapped.
//
// Package core registers its own sentinels (Register) and drives a session
// per connection; nothing here knows about live queries or storage.
package session

import (
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// ErrRemote wraps every error a remote node reported.
var ErrRemote = errors.New("ankurah: remote error")

// codes classifies errors for the wire, in order (the first that an error
// wraps gives its code). The first sentinel of each is the one a receiver
// wraps for that code when the sender named no kinds.
var codes = []struct {
	code transport.Code
	errs []error
}{
	{transport.CodeNotFound, []error{storage.ErrNotFound}},
	{transport.CodeDenied, []error{policy.ErrAccessDenied}},
	{transport.CodeUnauthenticated, []error{policy.ErrUnauthenticated}},
	{transport.CodeConflict, []error{storage.ErrConflict}},
	{transport.CodeVersion, []error{transport.ErrVersion}},
	{transport.CodeProtocol, []error{transport.ErrProtocol}},
	{transport.CodeLimit, []error{limits.ErrExceeded, transport.ErrTooLarge}},
	{transport.CodeBusy, nil},
	{transport.CodeClosed, nil},
	{transport.CodeInvalid, []error{policy.ErrInvalid, event.ErrInvalid, event.ErrMissingParent, event.ErrBudgetExceeded, property.ErrInvalid,
		property.ErrUnknownBackend, query.ErrSyntax, query.ErrBind, query.ErrType, query.ErrCursor, limits.ErrInvalidName, value.ErrUnsupported, storage.ErrInvalid}},
}

// kinds names every exported sentinel an error may carry across the wire:
// the sender lists those its error wraps (KindsOf), the receiver wraps the
// same ones (Remote).
var kinds = []struct {
	kind string
	err  error
}{
	{"storage.not-found", storage.ErrNotFound}, {"storage.conflict", storage.ErrConflict},
	{"storage.invalid", storage.ErrInvalid}, {"storage.format", storage.ErrFormat}, {"storage.closed", storage.ErrClosed},
	{"storage.feed-gap", storage.ErrFeedGap},
	{"policy.denied", policy.ErrAccessDenied}, {"policy.unauthenticated", policy.ErrUnauthenticated}, {"policy.invalid", policy.ErrInvalid},
	{"event.invalid", event.ErrInvalid}, {"event.missing-parent", event.ErrMissingParent},
	{"event.budget", event.ErrBudgetExceeded}, {"event.too-large", event.ErrTooLarge},
	{"property.invalid", property.ErrInvalid}, {"property.unknown-backend", property.ErrUnknownBackend},
	{"query.syntax", query.ErrSyntax}, {"query.bind", query.ErrBind}, {"query.type", query.ErrType},
	{"query.cursor", query.ErrCursor},
	{"value.unsupported", value.ErrUnsupported},
	{"limits.exceeded", limits.ErrExceeded}, {"limits.invalid-name", limits.ErrInvalidName},
	{"transport.protocol", transport.ErrProtocol}, {"transport.version", transport.ErrVersion}, {"transport.too-large", transport.ErrTooLarge},
}

var tableMu sync.RWMutex

// Register adds a sentinel to the table under kind (a stable name, as
// "core.busy"); with a code other than CodeOK, an error wrapping it has that
// code (checked after the sentinels already registered for the code), and a
// receiver of that code without kinds wraps the first sentinel registered
// for it. Packages register their sentinels once, in an init function.
func Register(kind string, code transport.Code, err error) {
	tableMu.Lock()
	defer tableMu.Unlock()
	kinds = append(kinds, struct {
		kind string
		err  error
	}{kind, err})
	if code == transport.CodeOK {
		return
	}
	for i := range codes {
		if codes[i].code == code {
			codes[i].errs = append(codes[i].errs, err)
			return
		}
	}
	codes = append(codes, struct {
		code transport.Code
		errs []error
	}{code, []error{err}})
}

// CodeOf classifies an error for the wire (CodeInternal for errors of no
// known kind).
func CodeOf(err error) transport.Code {
	if err == nil {
		return transport.CodeOK
	}
	tableMu.RLock()
	defer tableMu.RUnlock()
	for _, c := range codes {
		for _, s := range c.errs {
			if errors.Is(err, s) {
				return c.code
			}
		}
	}
	return transport.CodeInternal
}

// KindsOf lists, comma-separated, the kinds of the sentinels err wraps.
func KindsOf(err error) string {
	tableMu.RLock()
	defer tableMu.RUnlock()
	var ks []string
	for _, s := range kinds {
		if errors.Is(err, s.err) {
			ks = append(ks, s.kind)
		}
	}
	return strings.Join(ks, ",")
}

// remoteError is an error a remote node reported: its message, wrapping
// ErrRemote and the sentinels the remote error wrapped.
type remoteError struct {
	msg  string
	errs []error
}

func (e *remoteError) Error() string   { return ErrRemote.Error() + ": " + e.msg }
func (e *remoteError) Unwrap() []error { return e.errs }

// Remote turns a wire error back into one that wraps ErrRemote and the same
// sentinels (those named by kinds, else the one its code stands for).
func Remote(code transport.Code, kindList, msg string) error {
	tableMu.RLock()
	defer tableMu.RUnlock()
	errs := []error{ErrRemote}
	for _, k := range strings.Split(kindList, ",") {
		for _, s := range kinds {
			if s.kind == k {
				errs = append(errs, s.err)
			}
		}
	}
	// The code's sentinel only when no kind named already stands for that
	// code: a syntax error (code invalid) is not also a policy.ErrInvalid.
	for _, c := range codes {
		if c.code == code && len(c.errs) > 0 && !slices.ContainsFunc(c.errs, func(e error) bool { return slices.Contains(errs, e) }) {
			errs = append(errs, c.errs[0])
		}
	}
	return &remoteError{msg: msg, errs: errs}
}

// MaxAccumulated bounds the items (states, unchanged ids, events) one
// streamed response may accumulate over its parts; past it the request fails
// with limits.ErrExceeded and its later parts are dropped.
const MaxAccumulated = 1 << 22

// Requests matches responses to the requests waiting for them: ids are
// handed out in order, and a response in several parts (Message.More) is
// accumulated until its last part, up to a bound on what the parts hold.
type Requests struct {
	mu      sync.Mutex
	next    uint64
	closed  bool
	pending map[uint64]*waiter
	free    []*waiter // waiters given back by Done, reused by Start (at most maxFreeWaiters)
}

type waiter struct {
	ch      chan *transport.Response
	partial *transport.Response
	parts   [][]entity.State // states of the parts after partial's, joined once at the last part
	nstates int              // states in partial and parts
	id      uint64           // the request it serves, or served last
	pending bool             // in Requests.pending
	free    bool             // in Requests.free
	outcome bool             // started with StartOutcome: the answer's states are not kept
	rows    bool             // started with StartRows: the receiver keeps the states' values
}

// maxFreeWaiters bounds the waiters Requests keeps for reuse; one given
// back beyond it is left to the garbage collector.
const maxFreeWaiters = 64

// Call is one request's place in Requests: its id and the channel its whole
// response arrives on (closed, without a response, when the session ends).
type Call struct {
	ID uint64
	C  <-chan *transport.Response
	w  *waiter
}

// Start allocates a request id and the channel its whole response arrives
// on. ok is false once the session has ended. The caller that received the
// response from the Call's channel may give it back with Done.
func (r *Requests) Start() (c Call, ok bool) { return r.start(false, false) }

// StartOutcome is Start for a caller that needs the outcome of its request
// (the error, unchanged ids and events) but not the answer's states: those
// the receiver stores as they arrive (Keeps reports false for it), and a
// response it delivers arrives with none, so a large answer in many parts
// accumulates nothing.
func (r *Requests) StartOutcome() (c Call, ok bool) { return r.start(true, false) }

// StartRows is Start for a caller that compares the answer's rows: Keeps
// reports rows for it, so the receiver keeps the states' values too (what
// a receiver keeps of a state is its own choice; Requests keeps what it is
// handed).
func (r *Requests) StartRows() (c Call, ok bool) { return r.start(false, true) }

// Keeps reports whether the request with id wants its answer's states (false
// for one started with StartOutcome or no longer waited for) and whether it
// was started with StartRows.
func (r *Requests) Keeps(id uint64) (states, rows bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.pending[id]
	if w == nil || w.outcome {
		return false, false
	}
	return true, w.rows
}

func (r *Requests) start(outcome, rows bool) (c Call, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Call{}, false
	}
	if r.pending == nil {
		r.pending = map[uint64]*waiter{}
	}
	r.next++
	var w *waiter
	if k := len(r.free); k > 0 {
		w, r.free[k-1] = r.free[k-1], nil
		r.free = r.free[:k-1]
	} else {
		w = &waiter{ch: make(chan *transport.Response, 1)}
	}
	w.id, w.pending, w.free, w.partial, w.parts, w.nstates, w.outcome, w.rows = r.next, true, false, nil, nil, 0, outcome, rows
	r.pending[r.next] = w
	return Call{ID: r.next, C: w.ch, w: w}, true
}

// Done gives back a call whose response was received from its channel (not
// one cancelled, or whose channel was closed: a response may still be on
// its way to those): its channel is reused by a later Start.
func (r *Requests) Done(c Call) {
	if c.w == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	w := c.w
	if r.closed || w.id != c.ID || w.pending || w.free || len(w.ch) > 0 {
		// Closed, serving another request or still this one, given back
		// already, or holding a response: not the caller's to give back.
		return
	}
	if len(r.free) < maxFreeWaiters {
		w.free, w.partial, w.parts = true, nil, nil
		r.free = append(r.free, w)
	}
}

// Cancel forgets a request nobody waits for any more.
func (r *Requests) Cancel(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.pending[id]; w != nil {
		// A response may already wait in its channel: the call is not
		// given back (Done refuses a call whose id its waiter lost).
		w.pending, w.id = false, 0
		w.partial, w.parts, w.nstates = nil, nil, 0 // the parts held so far are no one's
		delete(r.pending, id)
	}
}

// Deliver hands a response part to its request: with more set it is held
// until the last part, whose response then carries every part's states,
// unchanged ids and events (the first error of any part ends it at once;
// later parts are then no one's). It reports false for a response no request
// waits for (an unknown id, or one cancelled).
func (r *Requests) Deliver(resp *transport.Response, more bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.pending[resp.ID]
	if w == nil {
		return false
	}
	if w.outcome && len(resp.States) > 0 {
		cut := *resp
		cut.States = nil
		resp = &cut
	}
	if w.partial != nil {
		acc := w.partial
		// A part's states are kept as the part's slice and joined once,
		// at the last part: growing one slice part by part would copy
		// (and allocate) the answer about three times over.
		if len(resp.States) > 0 {
			w.parts = append(w.parts, resp.States)
			w.nstates += len(resp.States)
		}
		acc.Unchanged = append(acc.Unchanged, resp.Unchanged...)
		acc.Events = append(acc.Events, resp.Events...)
		if resp.Error != "" && acc.Error == "" {
			acc.Error, acc.Code, acc.Kinds = resp.Error, resp.Code, resp.Kinds
		}
		if n := w.nstates + len(acc.Unchanged) + len(acc.Events); n > MaxAccumulated && acc.Error == "" {
			err := limits.Exceeded("response-items", MaxAccumulated, n, "items in one streamed response")
			acc.Error, acc.Code, acc.Kinds = err.Error(), CodeOf(err), KindsOf(err)
		}
		resp = acc
	} else {
		w.nstates = len(resp.States)
	}
	if more && resp.Error == "" {
		w.partial = resp
		return true
	}
	if len(w.parts) > 0 {
		all := make([]entity.State, 0, w.nstates)
		all = append(all, resp.States...)
		for _, p := range w.parts {
			all = append(all, p...)
		}
		resp.States, w.parts = all, nil
	}
	delete(r.pending, resp.ID)
	w.pending = false
	w.ch <- resp
	return true
}

// Close ends every waiting request (their channels close) and refuses new ones.
func (r *Requests) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for id, w := range r.pending {
		w.partial, w.parts, w.nstates = nil, nil, 0
		close(w.ch)
		delete(r.pending, id)
	}
}
