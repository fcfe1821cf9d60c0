// Package rules is a policy agent driven by a rules file: callers present
// signed tokens (JWT: HS256, RS256 or EdDSA) carrying a subject, roles and
// custom claims, and the file maps roles to per-collection read and write
// permissions with per-row conditions written in CEL.
//
//	tokens:
//	  keys:
//	    - alg: HS256
//	      secret_env: ANKURAH_JWT_SECRET
//	  leeway: 30s
//	roles:
//	  user:
//	    todo:
//	      read:
//	        where: "owner = ?"          # AnkQL, narrows every fetch and subscription
//	        args: ["auth.sub"]          # CEL over auth, bound to the ?s (never spliced)
//	        if: "resource.owner == auth.sub"
//	      write: "after.owner == auth.sub && (before == null || before.owner == auth.sub)"
//	  admin:
//	    "*": {read: "true", write: "true"}
//
// Deny by default: a collection no role of the caller mentions is refused, a
// request without a token is refused unless the file sets `anonymous: true`
// (its callers get the role "anonymous"), and every authenticated caller also
// has the role "authenticated". A caller is allowed when any of its roles
// allows. CEL conditions see `auth` (sub, roles, claims), `collection`,
// `resource` (the entity's properties, for reads), and `before` / `after`
// (for writes; before is null on creation; after._deleted is true for a
// delete). They are type-checked and compiled once when the file loads, and
// run with a cost limit. Trusted code in the server process uses
// node.Context(rules.System).
//
// A read rule's where narrows every fetch and subscription, and is also
// checked, by core/query, on every entity the caller gets, together with
// its if: an entity is readable when where matches and if holds, so Get and
// Fetch always agree. Conditions see property values as AnkQL does: a json
// object or array is a map or list whose members are what an AnkQL path
// yields (JSON null is null, integers int, other numbers double), a json
// document that is a scalar ('"alice"') is a json value equal to nothing but
// the same document (as `owner = 'alice'` does not match it), int and double
// compare numerically, and an entity reference is its id's text.
//
// Auth implements policy.Expiring: a connection's credentials expire at the
// token's exp plus tokens.leeway, after which the node refuses its requests
// and pauses its subscriptions until the client refreshes its token.
package rules

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/core/query"
	"go.yaml.in/yaml/v3"
)

// ErrConfig is wrapped by every error about a rules file.
var ErrConfig = errors.New("rules: invalid rules file")

// File is the rules file's structure (YAML, or JSON, which is YAML too).
type File struct {
	Tokens    Tokens                       `yaml:"tokens"`
	Anonymous bool                         `yaml:"anonymous"`
	Roles     map[string]map[string]*Grant `yaml:"roles"`
}

// Tokens configures token verification.
type Tokens struct {
	Keys     []Key         `yaml:"keys"`
	Issuer   string        `yaml:"issuer"`
	Audience string        `yaml:"audience"`
	Leeway   time.Duration `yaml:"leeway"`
	// RolesClaim names the claim holding the roles ("roles" by default).
	RolesClaim string `yaml:"roles_claim"`
}

// Key is one verification key. HS256 keys take secret, secret_env or
// secret_file; RS256 and EdDSA keys take a PEM public_key or public_key_file.
// A key with an id (kid) is used only for tokens naming it.
type Key struct {
	Alg           string `yaml:"alg"`
	ID            string `yaml:"kid"`
	Secret        string `yaml:"secret"`
	SecretEnv     string `yaml:"secret_env"`
	SecretFile    string `yaml:"secret_file"`
	PublicKey     string `yaml:"public_key"`
	PublicKeyFile string `yaml:"public_key_file"`
}

// Grant is one role's permissions on one collection ("*" for every collection).
type Grant struct {
	Read   *Rule `yaml:"read"`
	Write  *Rule `yaml:"write"`
	Delete *Rule `yaml:"delete"` // defaults to Write
}

// Rule is a permission: a CEL condition (If), and for reads an optional
// AnkQL filter (Where) whose ? placeholders are bound to CEL expressions over
// auth (Args). A rule written as a plain string is its If.
type Rule struct {
	If    string   `yaml:"if"`
	Where string   `yaml:"where"`
	Args  []string `yaml:"args"`
}

// UnmarshalYAML accepts a rule written as a plain CEL string.
func (r *Rule) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		r.If = n.Value
		return nil
	}
	type plain Rule
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*r = Rule(p)
	return nil
}

// ParseFile reads a rules file's text.
func ParseFile(data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if len(f.Roles) == 0 {
		return nil, fmt.Errorf("%w: no roles: every request would be denied (write at least one role)", ErrConfig)
	}
	for role, grants := range f.Roles {
		for coll, g := range grants {
			if g == nil {
				return nil, fmt.Errorf("%w: role %q collection %q: empty grant", ErrConfig, role, coll)
			}
			if g.Read != nil && g.Read.Where != "" {
				sel, err := query.Parse(g.Read.Where)
				if err != nil {
					return nil, fmt.Errorf("%w: role %q collection %q read.where: %v", ErrConfig, role, coll, err)
				}
				if sel.Placeholders != len(g.Read.Args) {
					return nil, fmt.Errorf("%w: role %q collection %q read.where has %d placeholders and %d args", ErrConfig, role, coll, sel.Placeholders, len(g.Read.Args))
				}
				if len(sel.OrderBy) > 0 || sel.Limit >= 0 {
					return nil, fmt.Errorf("%w: role %q collection %q read.where: a filter cannot ORDER BY or LIMIT", ErrConfig, role, coll)
				}
			}
		}
	}
	if f.Tokens.RolesClaim == "" {
		f.Tokens.RolesClaim = "roles"
	}
	return &f, nil
}

func readSecret(k Key) ([]byte, error) {
	switch {
	case k.Secret != "":
		return []byte(k.Secret), nil
	case k.SecretEnv != "":
		s := os.Getenv(k.SecretEnv)
		if s == "" {
			return nil, fmt.Errorf("%w: environment variable %s is empty", ErrConfig, k.SecretEnv)
		}
		return []byte(s), nil
	case k.SecretFile != "":
		b, err := os.ReadFile(k.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		return []byte(strings.TrimSpace(string(b))), nil
	}
	return nil, fmt.Errorf("%w: HS256 key without secret, secret_env or secret_file", ErrConfig)
}
