package rules_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ankurah/ankurah-go/conformance/policytest"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/value"
	rules "github.com/ankurah/ankurah-go/plugins/policy-rules"
)

const secret = "test-secret-of-at-least-32-bytes!!"

const ownerRules = `
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
      write: "after.owner == auth.sub && (before == null || before.owner == auth.sub)"
  admin:
    "*":
      read: "true"
      write: "true"
`

func hsToken(t testing.TB, sub string, roles []string, exp time.Time) []byte {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "roles": roles, "exp": exp.Unix()})
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

func TestPolicyConformance(t *testing.T) {
	agent, err := rules.New([]byte(ownerRules))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	policytest.Run(t, policytest.Harness{
		Agent: agent,
		Credentials: func(user string) []byte {
			if user == "admin" {
				return hsToken(t, "root", []string{"admin"}, exp)
			}
			return hsToken(t, user, nil, exp)
		},
		Owner:  func(user string) any { return user },
		System: rules.System,
	})
}

func TestTokens_ExpiryWithSkewAndForgery(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	agent, err := rules.New([]byte(ownerRules), rules.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		token []byte
		ok    bool
	}{
		{"valid", hsToken(t, "alice", nil, now.Add(time.Minute)), true},
		{"expired within leeway", hsToken(t, "alice", nil, now.Add(-3*time.Second)), true},
		{"expired beyond leeway", hsToken(t, "alice", nil, now.Add(-time.Minute)), false},
		{"forged signature", forge(hsToken(t, "alice", nil, now.Add(time.Minute))), false},
		{"wrong key", func() []byte {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Minute).Unix()}).SignedString([]byte("another secret of 32 bytes!!!!!!"))
			return []byte(s)
		}(), false},
		{"alg none", []byte("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9."), false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		_, err := agent.Authenticate(ctx, policy.Peer{}, c.token)
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", c.name, err)
		}
	}
}

func forge(tok []byte) []byte {
	parts := strings.Split(string(tok), ".")
	parts[1] = strings.TrimRight(parts[1], "=") + "x"
	return []byte(strings.Join(parts, "."))
}

func TestTokens_RS256AndEdDSA(t *testing.T) {
	ctx := context.Background()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	pemOf := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rsa.pub"), []byte(pemOf(&rsaKey.PublicKey)), 0o600)
	os.WriteFile(filepath.Join(dir, "ed.pub"), []byte(pemOf(edPub)), 0o600)
	file := `
tokens:
  keys:
    - {alg: RS256, public_key_file: "` + filepath.Join(dir, "rsa.pub") + `"}
    - {alg: EdDSA, public_key_file: "` + filepath.Join(dir, "ed.pub") + `"}
roles:
  authenticated:
    todo: {read: "true"}
`
	agent, err := rules.New([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	rs, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(rsaKey)
	ed, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(edPriv)
	for name, tok := range map[string]string{"RS256": rs, "EdDSA": ed} {
		cd, err := agent.Authenticate(ctx, policy.Peer{}, []byte(tok))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if a := cd.(*rules.Auth); a.Subject != "alice" {
			t.Errorf("%s: subject %q", name, a.Subject)
		}
	}
	// An HS256 token signed with the RSA public key (algorithm confusion) is refused.
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(pemOf(&rsaKey.PublicKey)))
	if _, err := agent.Authenticate(ctx, policy.Peer{}, []byte(hs)); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("algorithm confusion: %v", err)
	}
}

func TestRulesFile_ErrorsNameTheProblem(t *testing.T) {
	cases := map[string]string{
		"no roles":      "tokens: {keys: [{alg: HS256, secret: x}]}",
		"bad CEL":       "roles: {user: {todo: {read: \"resource.owner ==\"}}}",
		"non-bool CEL":  "roles: {user: {todo: {write: \"'yes'\"}}}",
		"bad where":     "roles: {user: {todo: {read: {where: \"owner ==\", args: []}}}}",
		"args mismatch": "roles: {user: {todo: {read: {where: \"owner = ?\"}}}}",
		"unknown key":   "rolez: {}\nroles: {user: {todo: {read: \"true\"}}}",
		"unknown alg":   "tokens: {keys: [{alg: HS512, secret: x}]}\nroles: {user: {todo: {read: \"true\"}}}",
		"missing env":   "tokens: {keys: [{alg: HS256, secret_env: ANKURAH_TEST_NOT_SET}]}\nroles: {user: {todo: {read: \"true\"}}}",
	}
	for name, text := range cases {
		if _, err := rules.New([]byte(text)); !errors.Is(err, rules.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

func TestWatch_ReloadsAndKeepsPreviousOnError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(ownerRules)
	agent, err := rules.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	go agent.Watch(ctx, 10*time.Millisecond)
	alice, err := agent.Authenticate(ctx, policy.Peer{}, hsToken(t, "alice", nil, time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.CanAccessCollection(ctx, alice, "notes"); !errors.Is(err, policy.ErrAccessDenied) {
		t.Fatalf("notes before reload: %v", err)
	}
	write(ownerRules + "\n  reader:\n    notes: {read: \"true\"}\n")
	write(strings.Replace(ownerRules, "  admin:", "  authenticated2:\n    notes: {read: \"true\"}\n  admin:", 1))
	waitUntil(t, func() bool { return agent.CanAccessCollection(ctx, alice, "notes") != nil })
	write(strings.Replace(ownerRules, "    todo:\n      read:", "    notes: {read: \"true\"}\n    todo:\n      read:", 1))
	waitUntil(t, func() bool { return agent.CanAccessCollection(ctx, alice, "notes") == nil })
	write("roles: {broken: {todo: {read: \"(((\"}}}")
	time.Sleep(100 * time.Millisecond)
	if err := agent.CanAccessCollection(ctx, alice, "notes"); err != nil {
		t.Fatalf("a broken file replaced the rules: %v", err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCheckEvent_SeesBeforeAndAfter(t *testing.T) {
	ctx := context.Background()
	agent, _ := rules.New([]byte(ownerRules))
	alice, _ := agent.Authenticate(ctx, policy.Peer{}, hsToken(t, "alice", nil, time.Now().Add(time.Hour)))
	st := func(owner string) *entity.State {
		return &entity.State{Collection: "todo", Values: value.FieldsOf(map[string]value.Value{"owner": value.String(owner)})}
	}
	ev := &event.Event{Collection: "todo"}
	if err := agent.CheckEvent(ctx, alice, ev, nil, st("alice")); err != nil {
		t.Errorf("create own: %v", err)
	}
	if err := agent.CheckEvent(ctx, alice, ev, st("bob"), st("alice")); !errors.Is(err, policy.ErrAccessDenied) {
		t.Errorf("take over bob's: %v", err)
	}
	if err := agent.CheckEvent(ctx, nil, ev, nil, st("alice")); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("nil context data: %v", err)
	}
}

// The agent names callers for the server's record of who wrote what: by the
// token's subject, never by the token.
func TestIdentify_NamesCallersBySubject(t *testing.T) {
	ctx := context.Background()
	anon := "anonymous: true\n" + ownerRules
	agent, err := rules.New([]byte(anon))
	if err != nil {
		t.Fatal(err)
	}
	var _ policy.Identifier = agent
	tok := hsToken(t, "alice", []string{"admin"}, time.Now().Add(time.Hour))
	alice, err := agent.Authenticate(ctx, policy.Peer{}, tok)
	if err != nil {
		t.Fatal(err)
	}
	nobody, err := agent.Authenticate(ctx, policy.Peer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cdata policy.ContextData
		want  string
	}{
		{alice, "alice"},
		{rules.System, "system"},
		{nobody, "anonymous"},
		{nil, ""},
		{"alice", ""},
		{string(tok), ""},
	} {
		if got := agent.Identify(c.cdata); got != c.want {
			t.Errorf("Identify(%T %v) = %q, want %q", c.cdata, c.cdata, got, c.want)
		}
	}
}
