package storage

import (
	"context"
	"encoding/base64"
	"log/slog"
	"sync/atomic"
)

var badRows atomic.Int64

// ReportBadRow records a row a scan skipped because it could not be decoded:
// one warning through log (slog.Default when nil) and one more in the count
// BadRowsSkipped returns. Engines call it instead of failing the scan.
func ReportBadRow(ctx context.Context, log *slog.Logger, r BadRow) {
	badRows.Add(1)
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(ctx, "skipping undecodable row (ankurah admin bad-rows lists them, remove-row removes one)",
		"collection", r.Collection, "kind", r.Kind, "key", base64.RawURLEncoding.EncodeToString(r.Key), "err", r.Err)
}

// BadRowsSkipped returns how many undecodable rows scans of this process have
// skipped since it started (a counter for metrics and tests).
func BadRowsSkipped() int64 { return badRows.Load() }
