package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const tokenUsage = `usage:
  ankurah token --policy rules.yaml [--role ROLE]... [--ttl 24h] [--kid KID] SUBJECT

token mints a development token: a JWT with sub=SUBJECT, the roles given, and
an expiry, signed with the rules file's HS256 key (its secret, secret_env or
secret_file, read as ankurah serve reads it). Give it to a client with
--token. Production tokens come from your identity provider.
`

// tokenCmd runs `ankurah token`.
func tokenCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tokenUsage, "\nflags:\n"); fs.PrintDefaults() }
	policyFile := fs.String("policy", "", "rules file whose HS256 key signs the token (required)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	kid := fs.String("kid", "", "the key to sign with, by its kid (when the file has several HS256 keys)")
	var roles []string
	fs.Func("role", "a role the token grants (repeatable; every valid token has the role authenticated)", func(s string) error {
		roles = append(roles, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		fs.Usage()
		return errors.New("token: want one SUBJECT (the user id the token names)")
	}
	if *policyFile == "" {
		return errors.New("token: --policy names the rules file whose HS256 key signs the token")
	}
	if *ttl <= 0 {
		return fmt.Errorf("token: --ttl %v: want a positive duration", *ttl)
	}
	f, err := readRulesFile(*policyFile)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	keys, err := hs256Keys(*policyFile, f)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	var key *hs256Key
	for i := range keys {
		if *kid == "" || keys[i].ID == *kid {
			key = &keys[i]
			break
		}
	}
	switch {
	case key == nil && *kid != "":
		return fmt.Errorf("token: --policy %s has no HS256 key with kid %q", *policyFile, *kid)
	case key == nil:
		return fmt.Errorf("token: --policy %s has no HS256 key (tokens for RS256 and EdDSA keys are signed with their private key, which the rules file does not hold)", *policyFile)
	case len(key.Secret) < minHS256Secret:
		return fmt.Errorf("token: --policy %s: %w: the secret from %s is %d bytes, at least %d are needed", *policyFile, ErrWeakSecret, key.From, len(key.Secret), minHS256Secret)
	}
	now := time.Now()
	claims := jwt.MapClaims{"sub": fs.Arg(0), "iat": now.Unix(), "exp": now.Add(*ttl).Unix()}
	if len(roles) > 0 {
		claims[f.Tokens.RolesClaim] = roles
	}
	if f.Tokens.Issuer != "" {
		claims["iss"] = f.Tokens.Issuer
	}
	if f.Tokens.Audience != "" {
		claims["aud"] = f.Tokens.Audience
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if key.ID != "" {
		t.Header["kid"] = key.ID
	}
	s, err := t.SignedString(key.Secret)
	if err != nil {
		return fmt.Errorf("token: signing: %w", err)
	}
	_, err = fmt.Fprintln(stdout, s)
	return err
}
