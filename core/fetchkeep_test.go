package core_test

import (
	"context"
	"fmt"
	"testing"
)

// A client that fetched rows, was away while one of them was deleted on
// the server, and fetches again forgets that row: by its id when the fetch
// has no LIMIT, and by the window the answer covers when it has one (the
// deleted row was the window's last; the new last row, a4, is found by the
// answer's values).
func TestFetch_AgainForgetsARowDeletedWhileAway(t *testing.T) {
	for _, sel := range []string{"year > 2000 ORDER BY year", "year > 2000 ORDER BY year LIMIT 3"} {
		t.Run(sel, func(t *testing.T) {
			ctx := context.Background()
			server := newNode(t)
			ids := createAlbums(t, server.Context(nil),
				album{"a1", "x", 2001}, album{"a2", "x", 2002}, album{"a3", "x", 2003},
				album{"a4", "x", 2004}, album{"a5", "x", 2005})
			client := newClient(t)
			p := link(t, server, client)
			got, err := client.Context(nil).Fetch(ctx, "album", sel)
			must(t, err)
			first := fmt.Sprint(names(got))
			p.Close()
			waitFor(t, "disconnect", func() bool {
				select {
				case <-client.Connected():
					return false
				default:
					return true
				}
			})
			trx := server.Context(nil).Begin()
			must(t, trx.Delete(ctx, "album", ids[2]))
			must(t, trx.Commit(ctx))
			link(t, server, client)
			got, err = client.Context(nil).Fetch(ctx, "album", sel)
			must(t, err)
			want := "[a1 a2 a4 a5]"
			if first == "[a1 a2 a3]" {
				want = "[a1 a2 a4]"
			}
			if g := fmt.Sprint(names(got)); g != want {
				t.Fatalf("first fetch %s; after a3 was deleted while away: %s, want %s", first, g, want)
			}
			if _, err := client.Context(nil).Get(ctx, "album", ids[2]); err == nil {
				t.Fatal("the client still holds a3")
			}
		})
	}
}
