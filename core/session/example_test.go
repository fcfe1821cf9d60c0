package session_test

import (
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/session"
)

// An error crosses the wire as a message, a code and kinds; the receiver's
// error wraps the same sentinels, so errors.Is holds on both sides.
func ExampleRemote() {
	sent := fmt.Errorf("fetch: %w", query.ErrSyntax)
	code, kinds := session.CodeOf(sent), session.KindsOf(sent)
	received := session.Remote(code, kinds, sent.Error())
	fmt.Println(kinds)
	fmt.Println(errors.Is(received, query.ErrSyntax), errors.Is(received, session.ErrRemote))
	// Output:
	// query.syntax
	// true true
}
