package rules_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
	rules "github.com/ankurah/ankurah-go/plugins/policy-rules"
)

// Each collection's read rule is written twice, as the AnkQL filter and
// as the CEL condition, meaning the same thing; "note" has the filter only.
const valueRules = `
tokens:
  keys:
    - alg: HS256
      secret: "` + secret + `"
  leeway: 5s
roles:
  authenticated:
    todo:
      read:
        where: "owner = ?"
        args: ["auth.sub"]
        if: "resource.owner == auth.sub"
      write: "after.owner == auth.sub"
    doc:
      read:
        where: "meta.owner = ?"
        args: ["auth.sub"]
        if: "resource.meta.owner == auth.sub"
    gauge:
      read:
        where: "level >= ?"
        args: ["auth.claims.level"]
        if: "resource.level >= auth.claims.level"
    note:
      read:
        where: "owner = ?"
        args: ["auth.sub"]
`

// absent marks a property left unset.
var absent = value.Value{}

type valueCase struct {
	name       string
	collection string
	prop       string
	v          value.Value
	set        bool // false: the property is missing
	want       bool // alice (level 2) may read the row
}

func valueCases() []valueCase {
	j := value.MustJSON
	c := func(name, coll, prop string, v value.Value, want bool) valueCase {
		return valueCase{name: name, collection: coll, prop: prop, v: v, set: true, want: want}
	}
	missing := func(name, coll, prop string) valueCase {
		return valueCase{name: name, collection: coll, prop: prop, v: absent}
	}
	return []valueCase{
		// owner = ? / resource.owner == auth.sub
		c("string own", "todo", "owner", value.String("alice"), true),
		c("string other", "todo", "owner", value.String("bob"), false),
		c("int", "todo", "owner", value.Int(7), false),
		c("float", "todo", "owner", value.Float(1.5), false),
		c("bool", "todo", "owner", value.Bool(true), false),
		c("null", "todo", "owner", value.Null, false),
		c("bytes of the name", "todo", "owner", value.Bytes([]byte("alice")), false),
		c("json string scalar", "todo", "owner", j(`"alice"`), false), // json is not a string to AnkQL
		c("json null", "todo", "owner", j(`null`), false),
		c("json object", "todo", "owner", j(`{"owner":"alice"}`), false),
		missing("missing", "todo", "owner"),
		// meta.owner = ? / resource.meta.owner == auth.sub
		c("json path own", "doc", "meta", j(`{"owner":"alice","n":1}`), true),
		c("json path other", "doc", "meta", j(`{"owner":"bob"}`), false),
		c("json path null", "doc", "meta", j(`{"owner":null}`), false),
		c("json path object", "doc", "meta", j(`{"owner":{"name":"alice"}}`), false),
		c("json path array", "doc", "meta", j(`{"owner":["alice"]}`), false),
		c("json path missing key", "doc", "meta", j(`{"other":"alice"}`), false),
		c("json path into a scalar", "doc", "meta", j(`"alice"`), false),
		c("json path into a string", "doc", "meta", value.String("alice"), false),
		missing("json path missing property", "doc", "meta"),
		// level >= ? (claims.level = 2) / resource.level >= auth.claims.level
		c("int above", "gauge", "level", value.Int(3), true),
		c("int below", "gauge", "level", value.Int(1), false),
		c("float above", "gauge", "level", value.Float(2.5), true),
		c("float equal", "gauge", "level", value.Float(2), true),
		c("numeric string", "gauge", "level", value.String("3"), false),
		c("json number", "gauge", "level", j(`3`), false),
		c("bool level", "gauge", "level", value.Bool(true), false),
		c("null level", "gauge", "level", value.Null, false),
		c("bytes level", "gauge", "level", value.Bytes([]byte{3}), false),
		missing("missing level", "gauge", "level"),
		// a filter without a condition: CheckRead enforces the filter too
		c("filter only own", "note", "owner", value.String("alice"), true),
		c("filter only other", "note", "owner", value.String("bob"), false),
		c("filter only json scalar", "note", "owner", j(`"alice"`), false),
	}
}

func aliceToken(t *testing.T) []byte {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "level": 2, "exp": time.Now().Add(time.Hour).Unix()})
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// ReadFilter, run by core/query, and CheckRead give the same answer on a
// row whatever kind of value the rule reads.
func TestReadFilterAndCheckReadAgreeOnEveryKind(t *testing.T) {
	ctx := context.Background()
	agent, err := rules.New([]byte(valueRules))
	if err != nil {
		t.Fatal(err)
	}
	alice, err := agent.Authenticate(ctx, policy.Peer{}, aliceToken(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range valueCases() {
		t.Run(c.name, func(t *testing.T) {
			st := &entity.State{Collection: c.collection, Values: value.FieldsOf(map[string]value.Value{"title": value.String("x")})}
			if c.set {
				st.Values = st.Values.With(c.prop, c.v)
			}
			filter, err := agent.ReadFilter(ctx, alice, c.collection)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := query.Compile(&query.Bound{Where: filter, Limit: -1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			byFilter, _ := prog.Match(st.Values)
			cel, err := query.CompileCEL(&query.Bound{Where: filter, Limit: -1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			byCEL, _ := cel.Match(st.Values)
			err = agent.CheckRead(ctx, alice, st)
			byCheck := err == nil
			if !byCheck && !errors.Is(err, policy.ErrAccessDenied) {
				t.Fatalf("CheckRead: %v, want nil or ErrAccessDenied", err)
			}
			if byFilter != c.want || byCEL != c.want || byCheck != c.want {
				t.Fatalf("%s = %#v: ReadFilter (interpreter) %v, ReadFilter (CEL) %v, CheckRead %v; want %v", c.prop, c.v, byFilter, byCEL, byCheck, c.want)
			}
		})
	}
}

// Through a node: Get (CheckRead alone) and Fetch (ReadFilter pushed into
// the storage engine, then CheckRead) return the same rows.
func TestGetAndFetchAgreeOnEveryKind(t *testing.T) {
	ctx := context.Background()
	agent, err := rules.New([]byte(valueRules))
	if err != nil {
		t.Fatal(err)
	}
	n, err := core.NewNode(context.Background(), memory.New(), agent, core.WithRole(core.Durable))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	cases := valueCases()
	muts := make([]*core.Mut, len(cases))
	trx := n.Context(rules.System).Begin()
	for i, c := range cases {
		m, err := trx.Create(ctx, c.collection)
		if err != nil {
			t.Fatal(err)
		}
		m.Set("title", c.name)
		if c.set {
			if err := m.Set(c.prop, c.v); err != nil {
				t.Fatal(err)
			}
		}
		muts[i] = m
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	ids := make([]id.EntityID, len(cases))
	for i, m := range muts {
		ids[i] = m.ID() // known once committed
	}
	cd, err := agent.Authenticate(ctx, policy.Peer{}, aliceToken(t))
	if err != nil {
		t.Fatal(err)
	}
	alice := n.Context(cd)
	fetched := map[id.EntityID]bool{}
	for _, coll := range []string{"todo", "doc", "gauge", "note"} {
		vs, err := alice.Fetch(ctx, coll, "true")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			fetched[v.ID()] = true
		}
	}
	for i, c := range cases {
		_, err := alice.Get(ctx, c.collection, ids[i])
		got := err == nil
		if got != c.want || fetched[ids[i]] != c.want {
			t.Errorf("%s: Get %v (%v), Fetch %v; want %v", c.name, got, err, fetched[ids[i]], c.want)
		}
	}
}

// Write rules see values as the read filter does: a caller cannot write a
// row that it would then be unable to read back as its own.
func TestWriteRulesSeeValuesAsReadFiltersDo(t *testing.T) {
	ctx := context.Background()
	agent, err := rules.New([]byte(valueRules))
	if err != nil {
		t.Fatal(err)
	}
	alice, err := agent.Authenticate(ctx, policy.Peer{}, aliceToken(t))
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.Event{Collection: "todo"}
	for _, c := range []struct {
		owner value.Value
		ok    bool
	}{
		{value.String("alice"), true},
		{value.MustJSON(`"alice"`), false},
		{value.Bytes([]byte("alice")), false},
	} {
		after := &entity.State{Collection: "todo", Values: value.FieldsOf(map[string]value.Value{"owner": c.owner})}
		err := agent.CheckEvent(ctx, alice, ev, nil, after)
		if (err == nil) != c.ok {
			t.Errorf("create with owner %#v: %v, want allowed %v", c.owner, err, c.ok)
		}
		if readable := agent.CheckRead(ctx, alice, after) == nil; readable != c.ok {
			t.Errorf("read back owner %#v: %v, want %v", c.owner, readable, c.ok)
		}
	}
}

// A grant whose filter argument reads a claim the token lacks does not
// apply to that caller, for ReadFilter and CheckRead alike.
func TestUnbindableFilterDeniesAlike(t *testing.T) {
	ctx := context.Background()
	agent, err := rules.New([]byte(valueRules))
	if err != nil {
		t.Fatal(err)
	}
	tok := hsToken(t, "alice", nil, time.Now().Add(time.Hour)) // no level claim
	alice, err := agent.Authenticate(ctx, policy.Peer{}, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.ReadFilter(ctx, alice, "gauge"); !errors.Is(err, policy.ErrAccessDenied) {
		t.Errorf("ReadFilter without the claim: %v, want ErrAccessDenied", err)
	}
	st := &entity.State{Collection: "gauge", Values: value.FieldsOf(map[string]value.Value{"level": value.Int(5)})}
	if err := agent.CheckRead(ctx, alice, st); !errors.Is(err, policy.ErrAccessDenied) {
		t.Errorf("CheckRead without the claim: %v, want ErrAccessDenied", err)
	}
}

func TestAuth_ExpiresAtIsExpPlusLeeway(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	agent, err := rules.New([]byte(ownerRules), rules.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(10 * time.Minute)
	cd, err := agent.Authenticate(ctx, policy.Peer{}, hsToken(t, "alice", nil, exp))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := cd.(policy.Expiring)
	if !ok {
		t.Fatalf("%T does not implement policy.Expiring", cd)
	}
	if got, want := e.ExpiresAt(), exp.Add(5*time.Second); !got.Equal(want) {
		t.Errorf("ExpiresAt %v, want exp + leeway %v", got, want)
	}
	// A token already past exp but within the leeway is accepted, and
	// expires when the leeway runs out.
	cd, err = agent.Authenticate(ctx, policy.Peer{}, hsToken(t, "alice", nil, now.Add(-3*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cd.(policy.Expiring).ExpiresAt(), now.Add(2*time.Second); !got.Equal(want) {
		t.Errorf("within leeway: ExpiresAt %v, want %v", got, want)
	}
	if !rules.System.ExpiresAt().IsZero() {
		t.Errorf("System expires at %v, want never", rules.System.ExpiresAt())
	}
	if !(&rules.Auth{Subject: "by hand"}).ExpiresAt().IsZero() {
		t.Error("an Auth built by hand expires")
	}
	anon, err := rules.New([]byte("anonymous: true\nroles: {anonymous: {todo: {read: \"true\"}}}"))
	if err != nil {
		t.Fatal(err)
	}
	cd, err = anon.Authenticate(ctx, policy.Peer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cd.(policy.Expiring).ExpiresAt(); !got.IsZero() {
		t.Errorf("anonymous expires at %v, want never", got)
	}
}
