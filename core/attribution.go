package core

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/internal/intern"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// Attribution: who wrote what when. Events are content-addressed — an
// event's id is the hash of what it changes — so they carry no author and
// no time of their own, and adding either would change every id. Instead a
// durable node keeps, beside the data, a record of each event it accepts:
// the caller's name as its policy agent gives it (policy.Identifier), the
// peer the commit came through, and when the node received it.
//
// The record of an entity is one state in AttributionCollection, keyed by
// the entity's id, whose backends hold the entries of its most recent
// events in chunks (CBOR, each an attributionRecord, oldest entries first):
// "attribution" the newest chunk, the one a commit appends to, and
// "attribution/N" the sealed ones, oldest N first. A chunk is sealed when
// it holds attributionChunk entries; sealed chunks are carried from state
// to state unchanged (an engine that keeps states in memory shares their
// bytes), so a commit copies at most one chunk instead of the whole record,
// and the oldest sealed chunk is dropped once the newer ones hold the
// newest WithAttribution entries. It is written
// in the same storage batch as the events it describes — so a crash keeps
// both or neither, on every engine, through the plain storage contract (no
// engine needs to know of it) — with the head check of any state, so two
// servers sharing a store cannot lose each other's entries. Only the newest
// WithAttribution entries of an entity are kept (DefaultAttributionKeep),
// and names are cut to attributionNameBytes, so a record stays small
// however long the entity's history.
//
// The collection is reserved (ReservedCollection): no caller reads or
// writes it through a Context or a peer's request, whatever its policy
// grants; Node.Attribution reads it for an operator's tools.

// AttributionCollection holds what a durable node recorded of who wrote
// each entity's events, and when.
const AttributionCollection = "_ankurah_attribution"

// DefaultAttributionKeep is how many of an entity's most recent events a
// durable node records the author and time of, unless WithAttribution says
// otherwise; MaxAttributionKeep is the most it may be set to.
const (
	DefaultAttributionKeep = 64
	MaxAttributionKeep     = 1024
)

// attributionNameBytes bounds a recorded author or peer name (longer ones
// are cut at a character boundary).
const attributionNameBytes = 128

// attributionBackend names the record's newest chunk in its state; a
// sealed chunk is attributionSealed followed by its sequence number in
// decimal (1 for the first sealed, then each one more than the newest).
const (
	attributionBackend = "attribution"
	attributionSealed  = "attribution/"
)

// attributionChunk is how many entries the newest chunk holds before a
// commit seals it: a commit copies at most this many entries (fewer when
// WithAttribution keeps fewer), and a record keeps at most this many more
// than it shows.
const attributionChunk = 16

// WithAttribution sets how many of each entity's most recent events a
// durable node records the author and receipt time of
// (DefaultAttributionKeep); 0 records none. NewNode refuses a number below
// 0 or above MaxAttributionKeep. Ephemeral nodes record nothing.
func WithAttribution(keep int) Option { return func(c *config) { c.attributionKeep = keep } }

// Attribution is what a durable node recorded of one event when it accepted
// it.
type Attribution struct {
	// Event is the event's id.
	Event id.EventID `json:"event"`
	// Author names the caller whose commit carried the event, as the
	// node's policy agent names it (policy.Identifier; "" when the agent
	// names no one). A merge event the node made while accepting a commit
	// is that commit's.
	Author string `json:"author,omitempty"`
	// Peer is the node id of the connection the commit came through, ""
	// for a transaction of the node itself.
	Peer string `json:"peer,omitempty"`
	// At is when the node received the commit, by its clock (WithClock).
	At time.Time `json:"at"`
}

// attributionRecord is the stored form of an entity's attributions: the
// names once each, and the entries as fixed-size binary rows (so appending
// to a record decodes no entry, and a full record of DefaultAttributionKeep
// entries is about 3 KB).
type attributionRecord struct {
	// Names are the authors and peers the entries name, each once.
	Names []string `cbor:"1,keyasint,omitempty"`
	// Entries are attributionEntrySize bytes each, oldest first: the event
	// id (32 bytes), the receipt time in Unix milliseconds (big-endian
	// int64), then the author and the peer as big-endian uint16, each 0
	// for none or 1 + its index in Names.
	Entries []byte `cbor:"2,keyasint"`
}

const attributionEntrySize = 32 + 8 + 2 + 2

var attributionDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{MaxArrayElements: 2 * MaxAttributionKeep, MaxMapPairs: 16, MaxNestedLevels: 4}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// entries is how many entries the record holds.
func (r *attributionRecord) entries() int { return len(r.Entries) / attributionEntrySize }

// entry returns entry i.
func (r *attributionRecord) entry(i int) Attribution {
	row := r.Entries[i*attributionEntrySize : (i+1)*attributionEntrySize]
	var a Attribution
	copy(a.Event[:], row[:32])
	a.At = time.UnixMilli(int64(binary.BigEndian.Uint64(row[32:40]))).UTC()
	a.Author = r.name(binary.BigEndian.Uint16(row[40:42]))
	a.Peer = r.name(binary.BigEndian.Uint16(row[42:44]))
	return a
}

func (r *attributionRecord) name(ref uint16) string {
	if ref == 0 || int(ref) > len(r.Names) {
		return ""
	}
	return r.Names[ref-1]
}

// ref returns the reference to name, adding it to Names if needed.
func (r *attributionRecord) ref(name string) uint16 {
	if name == "" {
		return 0
	}
	for i, n := range r.Names {
		if n == name {
			return uint16(i + 1)
		}
	}
	r.Names = append(r.Names, name)
	return uint16(len(r.Names))
}

// makeRoom drops the oldest entries that adding more would push past keep
// and gives Entries the capacity for more, so the adds that follow copy the
// record once instead of growing it (a full record is keep entries: without
// this, every commit would copy it twice more).
func (r *attributionRecord) makeRoom(keep, more int) {
	kept := r.Entries
	if over := r.entries() + more - keep; over > 0 {
		kept = kept[min(over, r.entries())*attributionEntrySize:]
	}
	grown := make([]byte, len(kept), len(kept)+more*attributionEntrySize)
	copy(grown, kept)
	r.Entries = grown
}

// add appends an entry.
func (r *attributionRecord) add(ev id.EventID, author, peer string, atMillis int64) {
	var row [attributionEntrySize]byte
	copy(row[:32], ev[:])
	binary.BigEndian.PutUint64(row[32:40], uint64(atMillis))
	binary.BigEndian.PutUint16(row[40:42], r.ref(author))
	binary.BigEndian.PutUint16(row[42:44], r.ref(peer))
	r.Entries = append(r.Entries, row[:]...)
}

// appendEncoded returns the record with entries for evs added and only the
// newest keep entries kept, encoded as event.EncMode encodes an
// attributionRecord (canonical CBOR), in one new buffer: the kept entries
// are copied once, straight from wherever they are (the stored record).
// It returns nil when names would have to be dropped (keepNewest) or evs
// are more than keep, which the caller does the general way. r.Names may
// grow.
func (r *attributionRecord) appendEncoded(keep int, evs []id.EventID, author, peer string, atMillis int64) []byte {
	if len(evs) > keep {
		return nil // keepNewest drops the names of the old entries
	}
	old := r.Entries
	if over := r.entries() + len(evs) - keep; over > 0 {
		old = old[over*attributionEntrySize:]
	}
	ra, rp := r.ref(author), r.ref(peer)
	entries := len(old)/attributionEntrySize + len(evs)
	if len(r.Names) > 2*entries {
		return nil
	}
	size := 1 + 1 + cborHeadSize(uint64(len(r.Names))) + 1 + cborHeadSize(uint64(entries*attributionEntrySize)) + entries*attributionEntrySize
	for _, n := range r.Names {
		size += cborHeadSize(uint64(len(n))) + len(n)
	}
	b := make([]byte, 0, size)
	if len(r.Names) > 0 {
		b = append(b, 0xa2, 0x01)
		b = value.AppendHead(b, 4, uint64(len(r.Names)))
		for _, n := range r.Names {
			b = value.AppendHead(b, 3, uint64(len(n)))
			b = append(b, n...)
		}
	} else {
		b = append(b, 0xa1)
	}
	b = append(b, 0x02)
	b = value.AppendHead(b, 2, uint64(entries*attributionEntrySize))
	b = append(b, old...)
	var row [attributionEntrySize]byte
	binary.BigEndian.PutUint64(row[32:40], uint64(atMillis))
	binary.BigEndian.PutUint16(row[40:42], ra)
	binary.BigEndian.PutUint16(row[42:44], rp)
	for _, ev := range evs {
		copy(row[:32], ev[:])
		b = append(b, row[:]...)
	}
	return b
}

// cborHeadSize is the size of a canonical CBOR head for argument n.
func cborHeadSize(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	}
	return 9
}

// parseAttribution reads a record written the canonical way (as
// appendEncoded and event.EncMode write it), its Entries sharing b. Any
// other form — or anything it does not expect — is left to the general
// decoder (ok false), which accepts or refuses it as before.
func parseAttribution(b []byte) (rec attributionRecord, ok bool) {
	return parseAttributionShape(b, true)
}

// parseAttributionShape is parseAttribution, reading the names into
// rec.Names only when names is set (they are checked either way).
func parseAttributionShape(b []byte, names bool) (rec attributionRecord, ok bool) {
	if len(b) < 3 {
		return rec, false
	}
	pairs := 0
	switch b[0] {
	case 0xa1:
		pairs = 1
	case 0xa2:
		pairs = 2
	default:
		return rec, false
	}
	b = b[1:]
	if pairs == 2 {
		if b[0] != 0x01 {
			return rec, false
		}
		n, hl, ok := value.ReadHead(b[1:], 4)
		if !ok || n == 0 || n > 2*MaxAttributionKeep {
			return rec, false
		}
		b = b[1+hl:]
		if names {
			rec.Names = make([]string, 0, n)
		}
		for range n {
			l, hl, ok := value.ReadHead(b, 3)
			rest := b[hl:]
			if !ok || uint64(len(rest)) < l || !utf8.Valid(rest[:l]) {
				return attributionRecord{}, false
			}
			if names {
				rec.Names = append(rec.Names, intern.String(rest[:l]))
			}
			b = rest[l:]
		}
	}
	if len(b) == 0 || b[0] != 0x02 {
		return attributionRecord{}, false
	}
	l, hl, ok := value.ReadHead(b[1:], 2)
	rest := b[1+hl:]
	if !ok || uint64(len(rest)) != l {
		return attributionRecord{}, false
	}
	rec.Entries = rest[:l:l]
	return rec, true
}

// keepNewest drops all but the newest keep entries, and the names no kept
// entry uses.
func (r *attributionRecord) keepNewest(keep int) {
	over := r.entries() - keep
	if over <= 0 && len(r.Names) <= 2*r.entries() {
		return
	}
	if over > 0 {
		r.Entries = r.Entries[over*attributionEntrySize:]
	}
	remap := make([]uint16, len(r.Names)+1)
	var names []string
	for i := range r.entries() {
		row := r.Entries[i*attributionEntrySize : (i+1)*attributionEntrySize]
		for _, off := range []int{40, 42} {
			ref := binary.BigEndian.Uint16(row[off:])
			if ref == 0 || int(ref) > len(r.Names) {
				binary.BigEndian.PutUint16(row[off:], 0)
				continue
			}
			if remap[ref] == 0 {
				names = append(names, r.Names[ref-1])
				remap[ref] = uint16(len(names))
			}
			binary.BigEndian.PutUint16(row[off:], remap[ref])
		}
	}
	r.Names = names
}

// ReservedCollection reports whether a collection name is the framework's:
// the system id (SystemCollection), an ephemeral node's offline commits
// (OutboxCollection), the attribution record (AttributionCollection), and
// any other name beginning with "_ankurah_". Callers cannot read or write
// them through a Context or a peer's request; the node refuses with an
// error wrapping policy.ErrAccessDenied.
func ReservedCollection(name string) bool {
	return name == SystemCollection || len(name) > len(SystemCollection) && name[:len(SystemCollection)+1] == SystemCollection+"_"
}

// canAccess asks the policy agent whether cdata may use a collection,
// refusing the reserved collections first, whatever the agent allows.
func (n *Node) canAccess(ctx context.Context, cdata any, collection string) error {
	if ReservedCollection(collection) {
		return fmt.Errorf("%w: collection %q is reserved for the framework", policy.ErrAccessDenied, collection)
	}
	return n.agent.CanAccessCollection(ctx, cdata, collection)
}

// committer is who a commit came from, for the attribution record.
type committer struct {
	cdata any
	peer  string    // the peer's node id; "" for a local transaction
	at    time.Time // when the node received the commit
}

// attribute adds to batch the attribution records of its events (a
// durable node with WithAttribution above 0): each entity's record read
// anew, the events appended, the oldest dropped past the bound, written
// with the record's stored head as its expected head.
func (n *Node) attribute(ctx context.Context, batch *storage.Batch, by committer) error {
	keep := n.cfg.attributionKeep
	if keep <= 0 || n.cfg.role != Durable || len(batch.Events) == 0 {
		return nil
	}
	author := ""
	if ider, ok := n.agent.(policy.Identifier); ok {
		author = cutName(ider.Identify(by.cdata))
	}
	peer, at := cutName(by.peer), by.at.UnixMilli()
	coll, err := n.readCollection(ctx, AttributionCollection)
	if err != nil {
		return fmt.Errorf("ankurah: commit: attribution: %w", err)
	}
	if len(batch.Events) == 1 { // most commits: nothing to group
		ev := &batch.Events[0]
		evs := [1]id.EventID{ev.ID()}
		batch.States = slices.Grow(batch.States, 1)
		return n.attributeEntity(ctx, batch, coll, nil, ev.Entity, evs[:], author, peer, at)
	}
	// The events of each entity, in the batch's order. Most entities have
	// one event in a batch, so each group starts as a one-element window on
	// one array of all the ids (clipped: a second event copies it out).
	ids := make([]id.EventID, len(batch.Events))
	groups := make([][]id.EventID, 0, len(batch.Events))
	order := make([]id.EntityID, 0, len(batch.Events))
	group := make(map[id.EntityID]int, len(batch.Events))
	for i := range batch.Events {
		ev := &batch.Events[i]
		ids[i] = ev.ID()
		if g, ok := group[ev.Entity]; ok {
			groups[g] = append(groups[g], ids[i])
			continue
		}
		group[ev.Entity] = len(groups)
		groups = append(groups, ids[i:i+1:i+1])
		order = append(order, ev.Entity)
	}
	var ahead *readAhead // a bulk commit's records, read in one step (readahead.go)
	if len(order) >= readAheadMin {
		if m, ok, err := readStatesAhead(ctx, coll, order); err != nil {
			return fmt.Errorf("ankurah: commit: attribution: %w", err)
		} else if ok {
			ahead = &readAhead{states: map[string]map[id.EntityID]entity.State{AttributionCollection: m}}
		}
	}
	batch.States = slices.Grow(batch.States, len(order))
	for g, eid := range order {
		if err := n.attributeEntity(ctx, batch, coll, ahead, eid, groups[g], author, peer, at); err != nil {
			return err
		}
	}
	return nil
}

// attributeEntity adds to batch the record of one entity with evs, its
// events in the batch, added.
func (n *Node) attributeEntity(ctx context.Context, batch *storage.Batch, coll storage.Collection, ahead *readAhead, eid id.EntityID, evs []id.EventID, author, peer string, at int64) error {
	// Shared with the engine when it can (getStored): the record written
	// is a new state, which carries the sealed chunks' bytes over
	// unchanged and copies the newest chunk out.
	st, err := ahead.state(ctx, coll, AttributionCollection, eid)
	var stored *entity.State
	switch {
	case err == nil:
		stored = &st
	case errors.Is(err, storage.ErrNotFound):
	default:
		return fmt.Errorf("ankurah: commit: attribution of %s: %w", eid, err)
	}
	backends, err := n.nextAttribution(ctx, eid, stored, n.cfg.attributionKeep, evs, author, peer, at)
	if err != nil {
		return err
	}
	var expected event.Clock
	if stored != nil {
		expected = stored.Head
	}
	batch.States = append(batch.States, storage.StateWrite{
		State:    entity.State{ID: eid, Collection: AttributionCollection, Head: event.Clock{evs[len(evs)-1]}, Backends: backends},
		Expected: expected,
	})
	return nil
}

// sealedChunk is one sealed chunk of a stored record.
type sealedChunk struct {
	key     string // its backend's name
	seq     uint64 // the number the name ends in
	b       []byte // as stored
	entries int
}

// sealedChunks appends the sealed chunks of a stored record to dst, oldest
// first, with how many entries each holds. A chunk that does not decode is
// left out when skipDamaged (a commit drops it and says so in the log), and
// is an error otherwise.
func (n *Node) sealedChunks(ctx context.Context, dst []sealedChunk, st *entity.State, skipDamaged bool) ([]sealedChunk, error) {
	for _, sb := range st.Backends {
		k, b := sb.Name, sb.State
		if len(k) <= len(attributionSealed) || k[:len(attributionSealed)] != attributionSealed {
			continue
		}
		seq, err := strconv.ParseUint(k[len(attributionSealed):], 10, 64)
		entries := 0
		if err == nil {
			entries, err = chunkEntries(b)
		}
		if err != nil {
			if !skipDamaged {
				return dst, fmt.Errorf("%w: attribution chunk %q: %v", storage.ErrFormat, k, err)
			}
			n.log.WarnContext(ctx, "attribution chunk unreadable; dropping it", "entity", st.ID, "chunk", k, "err", err)
			continue
		}
		dst = append(dst, sealedChunk{key: k, seq: seq, b: b, entries: entries})
	}
	slices.SortFunc(dst, func(a, b sealedChunk) int { return cmp.Compare(a.seq, b.seq) })
	return dst, nil
}

// chunkEntries is how many entries an encoded chunk holds, read without
// copying its names when it is in the canonical form.
func chunkEntries(b []byte) (int, error) {
	if rec, ok := parseAttributionShape(b, false); ok {
		return rec.entries(), nil
	}
	rec, err := decodeChunk(b)
	return rec.entries(), err
}

// nextAttribution returns the backends of an entity's record with evs
// added: the newest chunk with them appended — or, when that would take it
// past attributionChunk entries (or keep, when smaller), sealed as it is
// stored and a new one begun — and the sealed chunks carried over, the
// oldest dropped while the rest hold keep entries.
func (n *Node) nextAttribution(ctx context.Context, eid id.EntityID, stored *entity.State, keep int, evs []id.EventID, author, peer string, at int64) (entity.Backends, error) {
	if len(evs) > keep {
		evs = evs[len(evs)-keep:]
	}
	var rec attributionRecord
	var sealedBuf [8]sealedChunk
	sealed := sealedBuf[:0]
	if stored != nil {
		var err error
		if rec, err = decodeAttribution(stored); err != nil {
			// A damaged record is replaced, not a reason to refuse the
			// commit: it only describes the data.
			n.log.WarnContext(ctx, "attribution record unreadable; starting it anew", "entity", eid, "err", err)
			rec = attributionRecord{}
		}
		sealed, _ = n.sealedChunks(ctx, sealed, stored, true)
	}
	var sealKey string
	if cur := rec.entries(); cur > 0 && cur+len(evs) > min(attributionChunk, keep) {
		var seq uint64 = 1
		if len(sealed) > 0 {
			seq = sealed[len(sealed)-1].seq + 1
		}
		sealKey = attributionSealed + strconv.FormatUint(seq, 10)
		sealed = append(sealed, sealedChunk{key: sealKey, seq: seq, b: attributionBytes(stored), entries: cur})
		rec = attributionRecord{}
	}
	newest := min(rec.entries()+len(evs), keep)
	b := rec.appendEncoded(keep, evs, author, peer, at)
	if b == nil {
		// Names to drop (many authors came and went): the general way.
		rec.makeRoom(keep, len(evs))
		for _, ev := range evs {
			rec.add(ev, author, peer, at)
		}
		rec.keepNewest(keep)
		var err error
		if b, err = event.EncMode().Marshal(rec); err != nil {
			return nil, fmt.Errorf("ankurah: commit: attribution: %w", err)
		}
	}
	total := newest
	for _, c := range sealed {
		total += c.entries
	}
	for len(sealed) > 0 && total-sealed[0].entries >= keep {
		total -= sealed[0].entries
		sealed = sealed[1:]
	}
	backends := make(entity.Backends, 0, len(sealed)+1)
	backends = append(backends, entity.Backend{Name: attributionBackend, State: b})
	for _, c := range sealed {
		backends = append(backends, entity.Backend{Name: c.key, State: c.b})
	}
	slices.SortFunc(backends, func(a, b entity.Backend) int { return value.KeyOrder(a.Name, b.Name) })
	return backends, nil
}

// attributionBytes is the newest chunk of a stored record, as stored.
func attributionBytes(st *entity.State) []byte {
	b, _ := st.Backends.Get(attributionBackend)
	return b
}

// decodeAttribution decodes an entity's newest chunk. Its Entries may
// share st's bytes (a chunk written the canonical way is read without
// copying them): they are only read, never changed in place.
func decodeAttribution(st *entity.State) (attributionRecord, error) {
	b, ok := st.Backends.Get(attributionBackend)
	if !ok {
		return attributionRecord{}, fmt.Errorf("%w: attribution record without its %q bytes", storage.ErrFormat, attributionBackend)
	}
	return decodeChunk(b)
}

// decodeChunk decodes one chunk of a record, canonical or not.
func decodeChunk(b []byte) (attributionRecord, error) {
	rec, ok := parseAttribution(b)
	if !ok {
		var err error
		if rec, err = decodeChunkGeneral(b); err != nil {
			return rec, err
		}
	}
	if len(rec.Entries)%attributionEntrySize != 0 || rec.entries() > MaxAttributionKeep || len(rec.Names) > 2*MaxAttributionKeep {
		return attributionRecord{}, fmt.Errorf("%w: attribution record of %d bytes of entries and %d names", storage.ErrFormat, len(rec.Entries), len(rec.Names))
	}
	return rec, nil
}

// decodeChunkGeneral decodes a chunk in any form the general decoder reads
// (its own function, so that only this path puts a record on the heap).
func decodeChunkGeneral(b []byte) (attributionRecord, error) {
	var rec attributionRecord
	if err := attributionDec.Unmarshal(b, &rec); err != nil {
		return attributionRecord{}, fmt.Errorf("%w: attribution record: %v", storage.ErrFormat, err)
	}
	return rec, nil
}

// Attribution returns what the node recorded of who wrote an entity's
// events and when, oldest first: at most the WithAttribution newest events
// the node accepted (events it stored by other ways — a dump loaded into
// its storage without the record, data older than the record — have none;
// a node with WithAttribution(0) returns all that is stored). It is for an
// operator's tools and is not policy-checked: hand it only to
// administrators. An entity without a record has none (no error).
func (n *Node) Attribution(ctx context.Context, eid id.EntityID) ([]Attribution, error) {
	coll, err := n.readCollection(ctx, AttributionCollection)
	if err != nil {
		return nil, err
	}
	st, err := coll.GetState(ctx, eid)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return n.readAttribution(ctx, &st, n.cfg.attributionKeep)
}

// readAttribution lists the entries of a stored record, oldest first: the
// sealed chunks', then the newest chunk's, the newest keep of them (all
// when keep is 0).
func (n *Node) readAttribution(ctx context.Context, st *entity.State, keep int) ([]Attribution, error) {
	rec, err := decodeAttribution(st)
	if err != nil {
		return nil, err
	}
	sealed, err := n.sealedChunks(ctx, nil, st, false)
	if err != nil {
		return nil, err
	}
	var out []Attribution
	for _, c := range sealed {
		r, err := decodeChunk(c.b)
		if err != nil {
			return nil, err
		}
		for i := range r.entries() {
			out = append(out, r.entry(i))
		}
	}
	for i := range rec.entries() {
		out = append(out, rec.entry(i))
	}
	if keep > 0 && len(out) > keep {
		out = slices.Clip(out[len(out)-keep:])
	}
	return out, nil
}

// cutName bounds a recorded name to attributionNameBytes, at a character
// boundary.
func cutName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= attributionNameBytes {
		return s
	}
	s = s[:attributionNameBytes]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
