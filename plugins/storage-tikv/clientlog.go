package tikv

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/pingcap/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// client-go and its PD client log through one process-wide zap logger
// (github.com/pingcap/log), which writes to standard error in its own
// format: while a cluster is unreachable it prints a warning a second until
// the caller gives up. Open routes that logger to the engine's slog logger
// (WithLogger), so an application has one log, and while a connection is
// being made — when every record is a retry the caller will hear about as
// Open's error — it logs the client's records at Debug. Once connected, the
// client's warnings and errors keep their level (its info records stay at
// Debug: they are region and lock chatter). The logger of the engine opened
// last is the one used.

var clientLog struct {
	once    sync.Once
	mu      sync.Mutex
	logger  *slog.Logger
	opening int // Opens in progress
}

// routeClientLogs sends the client library's logs to l from now on, at
// Debug until the returned function is called (when the connection is made
// or given up).
func routeClientLogs(l *slog.Logger) (connected func()) {
	clientLog.once.Do(func() {
		lvl := zap.NewAtomicLevelAt(log.GetLevel()) // keep a level set before (tests quiet it)
		core := &slogCore{level: lvl}
		log.ReplaceGlobals(zap.New(core), &log.ZapProperties{Core: core, Syncer: zapcore.AddSync(discard{}), Level: lvl})
	})
	clientLog.mu.Lock()
	clientLog.logger = l
	clientLog.opening++
	clientLog.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			clientLog.mu.Lock()
			clientLog.opening--
			clientLog.mu.Unlock()
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// slogCore is a zap core writing to the routed slog logger.
type slogCore struct {
	level  zap.AtomicLevel
	fields []zapcore.Field
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return c.level.Enabled(l) }

func (c *slogCore) With(fs []zapcore.Field) zapcore.Core {
	return &slogCore{level: c.level, fields: append(slices.Clip(c.fields), fs...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	clientLog.mu.Lock()
	l, opening := clientLog.logger, clientLog.opening > 0
	clientLog.mu.Unlock()
	if l == nil {
		return nil
	}
	lvl := slog.LevelDebug
	if !opening {
		switch {
		case e.Level >= zapcore.ErrorLevel:
			lvl = slog.LevelError
		case e.Level == zapcore.WarnLevel:
			lvl = slog.LevelWarn
		}
	}
	ctx := context.Background()
	if !l.Enabled(ctx, lvl) {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]any, 0, 2*len(keys)+2)
	if e.Caller.Defined {
		attrs = append(attrs, "at", e.Caller.TrimmedPath())
	}
	for _, k := range keys {
		attrs = append(attrs, k, enc.Fields[k])
	}
	l.Log(ctx, lvl, "tikv client: "+e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }
