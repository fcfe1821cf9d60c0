package postgres_test

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// dropSchema removes a test's schema, so a long run leaves nothing behind.
func dropSchema(t interface{ Logf(string, ...any) }, url, schema string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Logf("dropping schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Logf("dropping schema %s: %v", schema, err)
	}
}
