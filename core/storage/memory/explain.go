package memory

import "github.com/ankurah/ankurah-go/core/storage"

// The memory engine explains its plans (Explain, in memory.go) through the
// interface every engine that can do so declares.
var _ storage.Explainer = (*Engine)(nil)
