package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	rules "github.com/ankurah/ankurah-go/plugins/policy-rules"
)

// ErrWeakSecret: an HS256 key of a rules file is shorter than
// minHS256Secret bytes.
var ErrWeakSecret = errors.New("HS256 secret too short")

// minHS256Secret is the shortest HS256 secret serve accepts: RFC 7518 §3.2
// asks for a key at least as long as the hash output (256 bits).
const minHS256Secret = 32

// hs256Key is an HS256 key of a rules file with its secret read.
type hs256Key struct {
	ID     string // kid, may be empty
	From   string // where the secret came from, for messages
	Secret []byte
}

// readRulesFile parses a rules file (the policy-rules plugin's format).
func readRulesFile(path string) (*rules.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	f, err := rules.ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("--policy %s: %w", path, err)
	}
	return f, nil
}

// hs256Keys reads the secrets of a rules file's HS256 keys (secret,
// secret_env or secret_file, as the plugin reads them).
func hs256Keys(path string, f *rules.File) ([]hs256Key, error) {
	var out []hs256Key
	for i, k := range f.Tokens.Keys {
		if !strings.EqualFold(k.Alg, "HS256") {
			continue
		}
		key := hs256Key{ID: k.ID}
		switch {
		case k.Secret != "":
			key.From, key.Secret = fmt.Sprintf("tokens.keys[%d].secret", i), []byte(k.Secret)
		case k.SecretEnv != "":
			key.From, key.Secret = "environment variable "+k.SecretEnv, []byte(os.Getenv(k.SecretEnv))
			if len(key.Secret) == 0 {
				return nil, fmt.Errorf("--policy %s: tokens.keys[%d] reads its HS256 secret from %s, which is empty: export %s=… (at least %d random bytes, e.g. $(openssl rand -hex 32))",
					path, i, k.SecretEnv, k.SecretEnv, minHS256Secret)
			}
		case k.SecretFile != "":
			b, err := os.ReadFile(k.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("--policy %s: tokens.keys[%d].secret_file: %w", path, i, err)
			}
			key.From, key.Secret = "file "+k.SecretFile, []byte(strings.TrimSpace(string(b)))
		default:
			return nil, fmt.Errorf("--policy %s: tokens.keys[%d]: HS256 key without secret, secret_env or secret_file", path, i)
		}
		out = append(out, key)
	}
	return out, nil
}

// checkRulesSecrets refuses a rules file whose HS256 secrets are shorter
// than minHS256Secret bytes: a short secret can be guessed offline from any
// one token.
func checkRulesSecrets(path string) error {
	f, err := readRulesFile(path)
	if err != nil {
		return err
	}
	keys, err := hs256Keys(path, f)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if len(k.Secret) < minHS256Secret {
			return fmt.Errorf("--policy %s: %w: the secret from %s is %d bytes, HS256 needs at least %d (RFC 7518 §3.2); make one with: openssl rand -hex 32",
				path, ErrWeakSecret, k.From, len(k.Secret), minHS256Secret)
		}
	}
	return nil
}
