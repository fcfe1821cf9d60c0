package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	rules "github.com/ankurah/ankurah-go/plugins/policy-rules"
)

// The inspector page, built from bindings/inspector by its build.sh into
// inspector/: index.html and assets/ are committed; ankurah.wasm.gz and
// wasm_exec.js are generated (without them the page's WebAssembly node is
// taken from the --static directory, as the example app has one).
//
//go:embed inspector
var inspectorFiles embed.FS

// Errors of the inspector's API, tested with errors.Is.
var (
	// ErrInspectUnauthenticated: the request has no valid token.
	ErrInspectUnauthenticated = errors.New("inspector: unauthenticated")
	// ErrInspectForbidden: the token is valid but lacks the admin role.
	ErrInspectForbidden = errors.New("inspector: not an admin")
)

// Bounds of the inspector's API.
const (
	// inspectStreams is how many snapshot streams may be open at once; more
	// are refused with 503 (each costs a snapshot a second).
	inspectStreams = 8
	// inspectInterval is how often a stream sends a snapshot.
	inspectInterval = time.Second
	// countsMaxAge is how long collection counts are reused: counting reads
	// every state of every collection.
	countsMaxAge = 5 * time.Second
	// maxHistory is the most events an entity's history shows; past it the
	// answer says it was cut.
	maxHistory = 2000
)

// inspector serves the inspector page at /inspect/ and its admin-only API:
//
//	GET /inspect/api/snapshot            one snapshot (JSON, below)
//	GET /inspect/api/stream              text/event-stream: a snapshot each second
//	GET /inspect/api/entity?collection=C&id=ID   an entity's state and event history
//
// A snapshot is {"node": core.Snapshot, "collections": [{name, entities,
// deleted}], "admin": subject}. Requests carry "Authorization: Bearer TOKEN";
// with a rules policy the token must grant the admin role (--inspect-role).
type inspector struct {
	ctx    context.Context // ends every stream when the server stops
	node   *core.Node
	engine storage.Engine
	agent  policy.Agent
	role   string // "" when there is no policy: everyone may inspect
	static string // the --static directory, for the WebAssembly node
	log    *slog.Logger
	assets fs.FS

	streams chan struct{} // one token per open stream

	countMu  sync.Mutex // held while counting, so one count runs at a time
	counted  time.Time
	counts   []collectionCount
	countErr string
}

// collectionCount is one collection's line in a snapshot.
type collectionCount struct {
	Name     string `json:"name"`
	Entities int    `json:"entities"`
	Deleted  int    `json:"deleted"`
}

// registerInspector adds the inspector's routes to mux.
func registerInspector(ctx context.Context, mux *http.ServeMux, node *core.Node, engine storage.Engine, agent policy.Agent, role, static string) {
	in := newInspector(ctx, node, engine, agent, role, static)
	mux.Handle("/inspect/", in)
	mux.Handle("/inspect", http.RedirectHandler("/inspect/", http.StatusMovedPermanently))
}

func newInspector(ctx context.Context, node *core.Node, engine storage.Engine, agent policy.Agent, role, static string) *inspector {
	if _, ok := agent.(policy.Permissive); ok {
		role = ""
	}
	sub, err := fs.Sub(inspectorFiles, "inspector")
	if err != nil {
		panic(err)
	}
	return &inspector{ctx: ctx, node: node, engine: engine, agent: agent, role: role, static: static, log: slog.Default(), assets: sub, streams: make(chan struct{}, inspectStreams)}
}

func (in *inspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/inspect/")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "the inspector only reads (GET)", http.StatusMethodNotAllowed)
		return
	}
	switch p {
	case "api/snapshot", "api/stream", "api/entity":
		admin, err := in.authorize(r)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, ErrInspectForbidden) {
				status = http.StatusForbidden
			}
			writeJSONError(w, status, err)
			return
		}
		switch p {
		case "api/snapshot":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			json.NewEncoder(w).Encode(in.snapshot(r.Context(), admin))
		case "api/stream":
			in.stream(w, r, admin)
		case "api/entity":
			in.entity(w, r)
		}
		return
	}
	in.asset(w, r, p)
}

// authorize checks the request's bearer token with the node's policy agent
// and returns the caller's subject. Without a policy everyone may inspect.
func (in *inspector) authorize(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if in.role == "" {
		return "", nil
	}
	if !ok || strings.TrimSpace(tok) == "" {
		return "", fmt.Errorf("%w: send the token as \"Authorization: Bearer TOKEN\" (ankurah token --policy RULES --role %s NAME mints one)", ErrInspectUnauthenticated, in.role)
	}
	cdata, err := in.agent.Authenticate(r.Context(), policy.Peer{NodeID: "inspector"}, []byte(strings.TrimSpace(tok)))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInspectUnauthenticated, err)
	}
	auth, ok := cdata.(*rules.Auth)
	if !ok {
		return "", fmt.Errorf("%w: the policy agent does not say which roles the caller has", ErrInspectForbidden)
	}
	if !slices.Contains(auth.Roles, in.role) {
		return "", fmt.Errorf("%w: %s has the roles %s; the inspector needs the role %q", ErrInspectForbidden, auth.Subject, strings.Join(auth.Roles, ", "), in.role)
	}
	return auth.Subject, nil
}

func writeJSONError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// inspectSnapshot is what the snapshot and stream endpoints send.
type inspectSnapshot struct {
	Node        nodeSnapshot      `json:"node"`
	Collections []collectionCount `json:"collections"`
	// CountsError says why the collections could not be counted.
	CountsError string    `json:"counts_error,omitempty"`
	CountedAt   time.Time `json:"counted_at"`
	Admin       string    `json:"admin,omitempty"`
	// Policy is true when the server runs with a policy (the admin role is required).
	Policy bool `json:"policy"`
}

// nodeSnapshot is core.Snapshot with each peer's caller shown as the
// policy-rules subject and roles (never the token).
type nodeSnapshot struct {
	core.Snapshot
	Peers []peerSnapshot `json:"peers"`
}

type peerSnapshot struct {
	core.PeerInfo
	Subject string   `json:"subject,omitempty"`
	Roles   []string `json:"roles,omitempty"`
}

func (in *inspector) snapshot(ctx context.Context, admin string) inspectSnapshot {
	s := in.node.Inspect(ctx)
	ns := nodeSnapshot{Snapshot: s, Peers: make([]peerSnapshot, len(s.Peers))}
	for i, p := range s.Peers {
		ns.Peers[i] = peerSnapshot{PeerInfo: p}
		if a, ok := p.Caller.(*rules.Auth); ok && a != nil {
			ns.Peers[i].Subject, ns.Peers[i].Roles = a.Subject, a.Roles
		}
	}
	counts, at, cerr := in.collectionCounts(ctx)
	return inspectSnapshot{Node: ns, Collections: counts, CountsError: cerr, CountedAt: at, Admin: admin, Policy: in.role != ""}
}

// collectionCounts counts every collection's entities, reusing a count
// younger than countsMaxAge; one count runs at a time.
func (in *inspector) collectionCounts(ctx context.Context) ([]collectionCount, time.Time, string) {
	in.countMu.Lock()
	defer in.countMu.Unlock()
	if !in.counted.IsZero() && time.Since(in.counted) < countsMaxAge {
		return in.counts, in.counted, in.countErr
	}
	counts, err := countCollections(ctx, in.engine)
	in.counted, in.counts, in.countErr = time.Now(), counts, ""
	if err != nil {
		in.countErr = err.Error()
	}
	return in.counts, in.counted, in.countErr
}

func countCollections(ctx context.Context, e storage.Engine) ([]collectionCount, error) {
	l, ok := e.(storage.CollectionLister)
	if !ok {
		return []collectionCount{}, errors.New("this storage cannot list its collections")
	}
	names, err := l.Collections(ctx)
	if err != nil {
		return []collectionCount{}, fmt.Errorf("listing collections: %w", err)
	}
	out := make([]collectionCount, 0, len(names))
	for _, name := range names {
		c, err := lookupCollection(ctx, e, name)
		if err != nil {
			return out, err
		}
		states, err := c.FetchStates(ctx, everything)
		if err != nil {
			return out, fmt.Errorf("collection %s: %w", printable(name), err)
		}
		cc := collectionCount{Name: name}
		for i := range states {
			if states[i].Deleted() {
				cc.Deleted++
			} else {
				cc.Entities++
			}
		}
		out = append(out, cc)
	}
	return out, nil
}

// stream sends a snapshot every inspectInterval as server-sent events
// ("data: JSON\n\n") until the client goes or the server stops. At most
// inspectStreams run at once; a write that takes over 10 s ends the stream.
func (in *inspector) stream(w http.ResponseWriter, r *http.Request, admin string) {
	select {
	case in.streams <- struct{}{}:
		defer func() { <-in.streams }()
	default:
		writeJSONError(w, http.StatusServiceUnavailable, fmt.Errorf("inspector: %d snapshot streams are open already; close one", inspectStreams))
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	t := time.NewTicker(inspectInterval)
	defer t.Stop()
	for {
		b, err := json.Marshal(in.snapshot(r.Context(), admin))
		if err != nil {
			in.log.Error("inspector snapshot", "err", err)
			return
		}
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-in.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// entityHistory is what the entity endpoint sends.
type entityHistory struct {
	ID         string                 `json:"id"`
	Collection string                 `json:"collection"`
	Head       []string               `json:"head"`
	Deleted    bool                   `json:"deleted"`
	Values     map[string]value.Value `json:"values"`
	// Events are the entity's events in causal order (parents first; ties
	// by id), at most maxHistory of them (Truncated then).
	Events    []historyEvent `json:"events"`
	Total     int            `json:"total"`
	Truncated bool           `json:"truncated,omitempty"`
}

// historyEvent is one event of an entity's history. An event itself says
// which properties it wrote and on which parents (and, for the genesis
// event, when it was created); who committed it and when the server
// received it are the server's attribution record (core.Node.Attribution).
type historyEvent struct {
	ID      string   `json:"id"`
	Parents []string `json:"parents"`
	Genesis bool     `json:"genesis"`
	// Created is the genesis event's timestamp (the creating node's clock).
	Created *time.Time `json:"created,omitempty"`
	// Attributed is true when the server recorded the event's commit; then
	// Author is the caller as the policy names it ("" when it names no
	// one), Peer the node id of the connection it came through ("" for the
	// server's own), and Received when the server accepted it. Events it
	// has no record of (stored before the record existed, loaded from a dump
	// without it, or older than the newest events kept) are not attributed.
	Attributed bool       `json:"attributed"`
	Author     string     `json:"author,omitempty"`
	Peer       string     `json:"peer,omitempty"`
	Received   *time.Time `json:"received,omitempty"`
	// Set holds the LWW properties the event wrote (writes of NULL not listed).
	Set map[string]value.Value `json:"set,omitempty"`
	// Other holds the size in bytes of other backends' operations.
	Other map[string]int `json:"other,omitempty"`
}

func (in *inspector) entity(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	coll, idText := r.URL.Query().Get("collection"), r.URL.Query().Get("id")
	if coll == "" || idText == "" {
		writeJSONError(w, http.StatusBadRequest, errors.New("inspector: want ?collection=NAME&id=ENTITY_ID"))
		return
	}
	eid, err := id.ParseEntityID(idText)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, fmt.Errorf("inspector: entity id %q: %w", idText, err))
		return
	}
	c, err := lookupCollection(ctx, in.engine, coll)
	if err != nil {
		writeJSONError(w, http.StatusNotFound, err)
		return
	}
	st, err := c.GetState(ctx, eid)
	if errors.Is(err, storage.ErrNotFound) {
		writeJSONError(w, http.StatusNotFound, fmt.Errorf("inspector: no entity %s in %s", eid, printable(coll)))
		return
	}
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, err)
		return
	}
	evs, err := c.EntityEvents(ctx, eid)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, err)
		return
	}
	attrs, err := in.node.Attribution(ctx, eid)
	if err != nil {
		// The record only describes the data: show the history without it.
		in.log.Warn("inspector: attribution record unreadable", "entity", eid, "err", err)
		attrs = nil
	}
	h := describeEntity(&st, evs, attrs)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(h)
}

// describeEntity is an entity's state with its events in causal order,
// each with what attrs recorded of it.
func describeEntity(st *entity.State, evs []event.Event, attrs []core.Attribution) entityHistory {
	byEvent := make(map[id.EventID]*core.Attribution, len(attrs))
	for i := range attrs {
		byEvent[attrs[i].Event] = &attrs[i]
	}
	h := entityHistory{ID: st.ID.String(), Collection: st.Collection, Head: clockStrings(st.Head), Deleted: st.Deleted(), Values: map[string]value.Value{}, Total: len(evs)}
	for k, v := range st.Values.All() {
		if k != entity.DeletedProperty {
			h.Values[k] = v
		}
	}
	ordered := causalOrder(evs)
	if len(ordered) > maxHistory {
		ordered, h.Truncated = ordered[:maxHistory], true
	}
	h.Events = make([]historyEvent, 0, len(ordered))
	for _, ev := range ordered {
		he := historyEvent{ID: ev.ID().String(), Parents: clockStrings(ev.Parent), Genesis: ev.IsGenesis()}
		if he.Genesis {
			t := time.UnixMilli(ev.Timestamp).UTC()
			he.Created = &t
		}
		if a := byEvent[ev.ID()]; a != nil {
			at := a.At
			he.Attributed, he.Author, he.Peer, he.Received = true, a.Author, a.Peer, &at
		}
		for backend, ops := range ev.Operations {
			if backend == property.LWWName {
				if set, err := lwwWrites(ev.ID(), ops); err == nil {
					he.Set = set
					continue
				}
			}
			if he.Other == nil {
				he.Other = map[string]int{}
			}
			he.Other[backend] = len(ops)
		}
		h.Events = append(h.Events, he)
	}
	return h
}

// lwwWrites is what an LWW payload sets, read by applying it to an empty
// backend (writes of NULL, which unset a property, are not listed).
func lwwWrites(ev id.EventID, ops []byte) (map[string]value.Value, error) {
	l := property.NewLWW()
	if err := l.Apply(ev, ops); err != nil {
		return nil, err
	}
	return l.Values().Map(), nil
}

// causalOrder sorts events parents first, ties (and events whose parents
// are missing) by id, so the same history always reads the same.
func causalOrder(evs []event.Event) []event.Event {
	byID := make(map[id.EventID]*event.Event, len(evs))
	for i := range evs {
		byID[evs[i].ID()] = &evs[i]
	}
	ids := make([]id.EventID, 0, len(byID))
	for k := range byID {
		ids = append(ids, k)
	}
	slices.SortFunc(ids, func(a, b id.EventID) int { return bytes.Compare(a[:], b[:]) })
	out := make([]event.Event, 0, len(ids))
	done := make(map[id.EventID]bool, len(ids))
	// Kahn's algorithm, taking the smallest ready id each round.
	for len(out) < len(ids) {
		progressed := false
		for _, k := range ids {
			if done[k] {
				continue
			}
			ready := true
			for _, p := range byID[k].Parent {
				if _, known := byID[p]; known && !done[p] {
					ready = false
					break
				}
			}
			if ready {
				done[k] = true
				out = append(out, *byID[k])
				progressed = true
				break
			}
		}
		if !progressed { // a cycle cannot be hashed, but stay safe
			for _, k := range ids {
				if !done[k] {
					done[k] = true
					out = append(out, *byID[k])
				}
			}
		}
	}
	return out
}

func clockStrings(c event.Clock) []string {
	out := make([]string, len(c))
	for i, e := range c {
		out[i] = e.String()
	}
	return out
}

// asset serves the page's files. The WebAssembly node is served gzipped as
// embedded when the client accepts it (decompressed otherwise); when the
// binary was built without it, the --static directory's copy is used.
func (in *inspector) asset(w http.ResponseWriter, r *http.Request, p string) {
	if p == "" {
		p = "index.html"
	}
	if p == "ankurah.wasm" {
		in.wasm(w, r)
		return
	}
	if p == "wasm_exec.js" {
		if _, err := fs.Stat(in.assets, p); err != nil && in.static != "" {
			http.ServeFile(w, r, filepath.Join(in.static, "wasm_exec.js"))
			return
		}
	}
	b, err := fs.ReadFile(in.assets, p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(p, "assets/") {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, p, time.Time{}, bytes.NewReader(b))
}

func (in *inspector) wasm(w http.ResponseWriter, r *http.Request) {
	gz, err := fs.ReadFile(in.assets, "ankurah.wasm.gz")
	if err != nil {
		if in.static != "" {
			if _, err := os.Stat(filepath.Join(in.static, "ankurah.wasm")); err == nil {
				http.Redirect(w, r, "/ankurah.wasm", http.StatusFound)
				return
			}
		}
		http.Error(w, "this ankurah binary was built without the inspector's WebAssembly node: run bindings/inspector/build.sh and rebuild, or serve --static with a built app (its ankurah.wasm is used)", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(gz))
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	io.Copy(w, zr)
}

func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
