package rules

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ankurah/ankurah-go/core/policy"
)

// Auth is what the agent knows of an authenticated caller: the context data
// of its requests. It implements policy.Expiring. Treat it as read-only once
// the agent has returned it (its read filters are cached in it).
type Auth struct {
	Subject string
	Roles   []string
	Claims  map[string]any
	system  bool
	expires time.Time // the token's exp plus the leeway; zero: never

	// filters caches the caller's bound read filters (filterKey -> *boundFilter).
	filters sync.Map
}

var _ policy.Expiring = (*Auth)(nil)

// ExpiresAt returns when the caller's token stops being accepted: its exp
// claim plus the rules file's leeway (tokens.leeway). It is the zero time
// (never) for System, anonymous callers and an Auth built by hand.
func (a *Auth) ExpiresAt() time.Time { return a.expires }

// System is the context data of trusted code in the server process: it may
// do anything. Use it explicitly (node.Context(rules.System)); a nil context
// data is denied like any unauthenticated caller.
var System = &Auth{Subject: "system", system: true}

type verifyKey struct {
	alg string
	kid string
	key any
}

func loadKeys(ks []Key) ([]verifyKey, error) {
	var out []verifyKey
	for i, k := range ks {
		var key any
		var err error
		switch k.Alg {
		case "HS256":
			key, err = readSecret(k)
		case "RS256", "EdDSA":
			key, err = readPublicKey(k)
		default:
			err = fmt.Errorf("%w: key %d: alg %q (want HS256, RS256 or EdDSA)", ErrConfig, i, k.Alg)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, verifyKey{alg: k.Alg, kid: k.ID, key: key})
	}
	return out, nil
}

func readPublicKey(k Key) (any, error) {
	data := []byte(k.PublicKey)
	if k.PublicKeyFile != "" {
		b, err := os.ReadFile(k.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		data = b
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, fmt.Errorf("%w: %s key: no PEM public key", ErrConfig, k.Alg)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s key: %v", ErrConfig, k.Alg, err)
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if k.Alg != "RS256" {
			return nil, fmt.Errorf("%w: RSA key declared as %s", ErrConfig, k.Alg)
		}
		return p, nil
	case ed25519.PublicKey:
		if k.Alg != "EdDSA" {
			return nil, fmt.Errorf("%w: Ed25519 key declared as %s", ErrConfig, k.Alg)
		}
		return p, nil
	}
	return nil, fmt.Errorf("%w: unsupported public key type %T", ErrConfig, pub)
}

// verify checks a token's signature, expiry (with leeway), issuer and
// audience, and returns its caller.
func (c *compiled) verify(token string, now time.Time) (*Auth, error) {
	var lastErr error
	for _, k := range c.keys {
		opts := []jwt.ParserOption{
			jwt.WithValidMethods([]string{k.alg}),
			jwt.WithLeeway(c.file.Tokens.Leeway),
			jwt.WithTimeFunc(func() time.Time { return now }),
			jwt.WithExpirationRequired(),
		}
		if c.file.Tokens.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(c.file.Tokens.Issuer))
		}
		if c.file.Tokens.Audience != "" {
			opts = append(opts, jwt.WithAudience(c.file.Tokens.Audience))
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
			if kid, _ := t.Header["kid"].(string); k.kid != "" && kid != k.kid {
				return nil, errors.New("key id does not match")
			}
			return k.key, nil
		}, opts...)
		if err != nil {
			lastErr = err
			continue
		}
		sub, _ := claims.GetSubject()
		if sub == "" {
			return nil, errors.New("token has no subject (sub)")
		}
		a := &Auth{Subject: sub, Claims: map[string]any(claims), Roles: []string{"authenticated"}}
		if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
			a.expires = exp.Time.Add(c.file.Tokens.Leeway)
		}
		switch r := claims[c.file.Tokens.RolesClaim].(type) {
		case []any:
			for _, x := range r {
				if s, ok := x.(string); ok && s != "anonymous" && s != "authenticated" {
					a.Roles = append(a.Roles, s)
				}
			}
		case string:
			a.Roles = append(a.Roles, r)
		}
		return a, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no verification keys configured")
	}
	return nil, lastErr
}
