package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestToken_MintsATokenTheServerAccepts: a token from `ankurah token`
// passes the rules file's verification (the server reads alice's todos).
func TestToken_MintsATokenTheServerAccepts(t *testing.T) {
	rulesPath := filepath.Join("..", "..", "examples", "todos", "rules.yaml")
	url := startServer(t, rulesPath)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "--policy", rulesPath, "--role", "admin", "--ttl", "1h", "alice"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if claims["sub"] != "alice" || claims["roles"].([]any)[0] != "admin" {
		t.Fatalf("claims %v", claims)
	}
	if err := run(context.Background(), []string{"query", "--server", url, "--token", tok, "todo", "true"}, io.Discard, io.Discard); err != nil {
		t.Fatalf("query with the minted token: %v", err)
	}
	t.Setenv("ANKURAH_JWT_SECRET", "short")
	if err := run(context.Background(), []string{"token", "--policy", rulesPath, "alice"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Fatalf("short secret: %v", err)
	}
}
