package tikv_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingcap/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// records is a slog handler that keeps what it is given.
type records struct {
	mu  sync.Mutex
	got []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.got = append(r.got, rec)
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// find returns the levels of the records whose message contains s.
func (r *records) find(s string) []slog.Level {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []slog.Level
	for _, rec := range r.got {
		if strings.Contains(rec.Message, s) {
			out = append(out, rec.Level)
		}
	}
	return out
}

// client-go's logs reach the engine's slog logger: at Debug while a
// connection is being made, at their own level (info at Debug) once it is.
func TestClientLogs_GoToSlogAtDebugWhileConnecting(t *testing.T) {
	rec := &records{}
	connected := tikv.RouteClientLogsForTest(slog.New(rec))
	log.SetLevel(zapcore.DebugLevel)
	defer log.SetLevel(zapcore.FatalLevel) // as TestMain left it
	log.Warn("while connecting", zap.String("url", "http://127.0.0.1:1"))
	connected()
	log.Warn("once connected")
	log.Error("an error")
	log.Info("region chatter")
	for msg, want := range map[string]slog.Level{"while connecting": slog.LevelDebug, "once connected": slog.LevelWarn, "an error": slog.LevelError, "region chatter": slog.LevelDebug} {
		if got := rec.find(msg); len(got) != 1 || got[0] != want {
			t.Errorf("%q logged at %v, want once at %v", msg, got, want)
		}
	}

	// An unreachable cluster: Open gives up with ctx's error, and the
	// client's retries (a warning a second on standard error before) are
	// Debug records of the engine's logger.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := tikv.Open(ctx, []string{"127.0.0.1:1"}, tikv.WithLogger(slog.New(rec)))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open: %v, want context.DeadlineExceeded", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(rec.find("failed to get cluster id")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no record of the client's retries reached the logger")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, l := range rec.find("failed to get cluster id") {
		if l != slog.LevelDebug {
			t.Fatalf("a retry while connecting logged at %v", l)
		}
	}
}
