package storage

import "errors"

// ErrUnavailable: the engine cannot serve the call now, but may later — its
// process is restarting, its server is unreachable, its file is locked by
// another process. Unlike the other sentinels it says nothing about the data:
// the same call, retried after a while, may succeed.
var ErrUnavailable = errors.New("storage: unavailable")
