// Package limits is the one set of limits a node enforces where data enters
// it — from its own API and from the wire — so that whatever a node accepts
// it can always read back, send, and merge: property count, state and event
// size, names, exact id lengths, parents per event and head width, and what
// one connection may ask of a server (requests in flight, subscriptions, ids
// per request, queued bytes).
//
// Each limit has a default (Default) that a server may change (core.WithLimits,
// `ankurah serve --limit name=value`) up to a ceiling: the bound the decoders
// themselves enforce, which no configuration can pass, so that a value one
// node accepts every other node of the same build can decode. docs/limits.md
// lists every limit.
package limits

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors of this package, tested with errors.Is.
var (
	// ErrExceeded: something is larger or more numerous than a limit allows.
	// The error names the limit, its value and what was asked.
	ErrExceeded = errors.New("ankurah: limit exceeded")
	// ErrInvalidName: a collection, property or backend name the node refuses.
	ErrInvalidName = errors.New("ankurah: invalid name")
	// ErrConfig: a Limits value outside its ceiling, or an unknown limit name.
	ErrConfig = errors.New("ankurah: invalid limits")
)

// Ceilings: the bounds the decoders enforce (entity, event and transport
// packages). A configured limit above its ceiling is refused by Validate.
const (
	// CeilingFrameBytes is the largest wire frame (transport.MaxFrameSize).
	CeilingFrameBytes = 32 << 20
	// CeilingStateBytes leaves room in a frame for the message around one state.
	CeilingStateBytes = 24 << 20
	// CeilingEventBytes is the event decoder's size bound.
	CeilingEventBytes = 16 << 20
	// CeilingProperties stays below the decoders' 65,536 map pairs, with room
	// for reserved properties.
	CeilingProperties = 60000
	// CeilingParents bounds an event's parents and any head the wire carries;
	// the decoders refuse longer clocks.
	CeilingParents = 4096
	// CeilingCommitEvents is the most events one commit request may carry.
	CeilingCommitEvents = 10000
	// CeilingIDs bounds the ids (or known heads) one request may name.
	CeilingIDs = 1 << 20
	// NameBytes is the longest collection, property or backend name.
	NameBytes = 255
	// IDBytes is the exact length of every entity and event id.
	IDBytes = 32
)

// Limits is the set a node enforces. The zero value of a field means its
// default (see Default).
type Limits struct {
	// MaxProperties bounds the properties of one entity (all backends).
	MaxProperties int `limit:"max-properties"`
	// MaxStateBytes bounds one entity's encoded state.
	MaxStateBytes int `limit:"max-state-bytes"`
	// MaxEventBytes bounds one encoded event.
	MaxEventBytes int `limit:"max-event-bytes"`
	// MaxCommitEvents bounds the events of one commit.
	MaxCommitEvents int `limit:"max-commit-events"`
	// MaxParents bounds an event's parents (the head it was made on).
	MaxParents int `limit:"max-parents"`
	// HeadWidth is the widest head a durable node keeps: a commit that leaves
	// an entity's head wider gets a merge event (no operations, the whole head
	// as parents) in the same batch, which collapses the head to one event.
	HeadWidth int `limit:"head-width"`
	// MaxInFlight bounds the requests of one connection that are queued or
	// being served; more are refused at once with ErrBusy.
	MaxInFlight int `limit:"max-in-flight"`
	// MaxSubscriptions bounds one connection's subscriptions.
	MaxSubscriptions int `limit:"max-subscriptions"`
	// MaxIDs bounds the ids one get or get-events request names, and the
	// known heads one fetch or subscribe carries.
	MaxIDs int `limit:"max-ids"`
	// ChunkBytes is the target size of one part of a streamed result; a
	// result larger than this travels as several messages.
	ChunkBytes int `limit:"chunk-bytes"`
	// PeerQueueBytes bounds what waits to be sent to one connection; a peer
	// that lets more pile up (by not reading) is disconnected. Streamed
	// results wait for room instead.
	PeerQueueBytes int `limit:"peer-queue-bytes"`
	// ServerQueueBytes bounds what waits to be sent to all of a node's
	// connections together; past it, the connection being sent to is
	// disconnected as a slow consumer.
	ServerQueueBytes int `limit:"server-queue-bytes"`
}

// Default returns the default limits.
func Default() Limits {
	return Limits{
		MaxProperties:    4096,
		MaxStateBytes:    8 << 20,
		MaxEventBytes:    4 << 20,
		MaxCommitEvents:  CeilingCommitEvents,
		MaxParents:       64,
		HeadWidth:        16,
		MaxInFlight:      64,
		MaxSubscriptions: 1000,
		MaxIDs:           10000,
		ChunkBytes:       1 << 20,
		PeerQueueBytes:   64 << 20,
		ServerQueueBytes: 1 << 30,
	}
}

type bound struct{ min, max int }

var ceilings = map[string]bound{
	"max-properties":     {1, CeilingProperties},
	"max-state-bytes":    {1 << 10, CeilingStateBytes},
	"max-event-bytes":    {1 << 10, CeilingEventBytes},
	"max-commit-events":  {1, CeilingCommitEvents},
	"max-parents":        {2, CeilingParents},
	"head-width":         {1, CeilingParents - 1},
	"max-in-flight":      {1, 1 << 16},
	"max-subscriptions":  {1, 1 << 20},
	"max-ids":            {1, CeilingIDs},
	"chunk-bytes":        {1 << 10, CeilingStateBytes},
	"peer-queue-bytes":   {1 << 20, 1 << 40},
	"server-queue-bytes": {1 << 20, 1 << 50},
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := reflect.ValueOf(Default())
	v := reflect.ValueOf(&l).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Int() == 0 {
			v.Field(i).Set(d.Field(i))
		}
	}
	return l
}

// Validate checks every limit against its ceiling (after defaults), and that
// the limits agree with each other (a head is never wider than the parents an
// event may name, a state chunk is never below one state).
func (l Limits) Validate() error {
	l = l.WithDefaults()
	v := reflect.ValueOf(l)
	t := v.Type()
	for i := 0; i < v.NumField(); i++ {
		name := t.Field(i).Tag.Get("limit")
		b := ceilings[name]
		if x := int(v.Field(i).Int()); x < b.min || x > b.max {
			return fmt.Errorf("%w: %s = %d (allowed %d to %d)", ErrConfig, name, x, b.min, b.max)
		}
	}
	if l.HeadWidth >= l.MaxParents {
		return fmt.Errorf("%w: head-width %d must be below max-parents %d (a merge event names the whole head)", ErrConfig, l.HeadWidth, l.MaxParents)
	}
	return nil
}

// Set changes one limit by its name (as in docs/limits.md and `ankurah serve
// --limit name=value`); value is an integer, optionally with a KiB, MiB or
// GiB suffix.
func (l *Limits) Set(name, value string) error {
	v := reflect.ValueOf(l).Elem()
	t := v.Type()
	for i := 0; i < v.NumField(); i++ {
		if t.Field(i).Tag.Get("limit") != name {
			continue
		}
		n, err := parseSize(value)
		if err != nil {
			return fmt.Errorf("%w: %s=%q: %v", ErrConfig, name, value, err)
		}
		v.Field(i).SetInt(int64(n))
		return nil
	}
	return fmt.Errorf("%w: unknown limit %q (known: %s)", ErrConfig, name, strings.Join(Names(), ", "))
}

// Names lists the limits by name, in the order of the Limits fields.
func Names() []string {
	t := reflect.TypeOf(Limits{})
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Tag.Get("limit")
	}
	return out
}

// Get returns a limit by its name (after defaults).
func (l Limits) Get(name string) (int, bool) {
	l = l.WithDefaults()
	v := reflect.ValueOf(l)
	t := v.Type()
	for i := 0; i < v.NumField(); i++ {
		if t.Field(i).Tag.Get("limit") == name {
			return int(v.Field(i).Int()), true
		}
	}
	return 0, false
}

func parseSize(s string) (int, error) {
	mult := 1
	for _, suf := range []struct {
		s string
		m int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, suf.s) {
			s, mult = strings.TrimSuffix(s, suf.s), suf.m
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}

// Exceeded returns an error wrapping ErrExceeded that names the limit.
func Exceeded(name string, limit, got int, what string) error {
	return fmt.Errorf("%w: %s is %d, limit %s = %d", ErrExceeded, what, got, name, limit)
}

// ValidName checks a collection, property or backend name: 1 to 255 bytes of
// valid UTF-8 without NUL. (Names beginning with "_" are reserved for the
// framework; whether one may be written is the writer's rule, not this one's.)
func ValidName(name string) error {
	if name == "" || len(name) > NameBytes {
		return fmt.Errorf("%w: %q (must be 1 to %d bytes)", ErrInvalidName, truncate(name), NameBytes)
	}
	if !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: %q (NUL or invalid UTF-8)", ErrInvalidName, truncate(name))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
