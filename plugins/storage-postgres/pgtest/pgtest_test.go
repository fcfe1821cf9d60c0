package pgtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStart_ServesAndStopRemovesEverything(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if errors.Is(err, ErrNoServer) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.URL, ":5432/") {
		t.Errorf("server on the default port: %s", s.URL)
	}
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Errorf("fsync = %q, %v; want off", fsync, err)
	}
	_ = conn.Close(ctx)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("data directory %s still there: %v", s.dir, err)
	}
	if _, err := pgx.Connect(ctx, s.URL); err == nil {
		t.Error("server still answers after Stop")
	}
}

func TestSchemaName_UniqueAndPlain(t *testing.T) {
	a, b := SchemaName("TestX/some case"), SchemaName("TestX/some case")
	if a == b {
		t.Errorf("two calls gave %q", a)
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			t.Errorf("%q holds %q", a, r)
		}
	}
}
