package storageplugin

import (
	"context"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// slogLevel maps hclog levels onto slog's (Trace sits below Debug).
func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// hclogToSlog is an hclog.Logger that writes to a *slog.Logger: go-plugin
// logs what it does and every line of the plugin's stderr through it, so the
// plugin's logs reach the host's slog with their levels.
//
// go-plugin's own messages (process started, exited, …) are logged one level
// lower (Info becomes Debug); the plugin's lines, which go-plugin logs
// through a Named child, keep their level.
type hclogToSlog struct {
	l       *slog.Logger
	name    string
	implied []any
	demote  bool
}

func newHCLogAdapter(l *slog.Logger) hclog.Logger {
	return &hclogToSlog{l: l, demote: true}
}

func (h *hclogToSlog) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level == hclog.NoLevel {
		level = hclog.Info
	}
	if h.demote && level > hclog.Trace && level < hclog.Warn {
		level--
	}
	h.l.Log(context.Background(), slogLevel(level), msg, args...)
}

func (h *hclogToSlog) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogToSlog) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogToSlog) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogToSlog) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogToSlog) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogToSlog) enabled(l hclog.Level) bool {
	return h.l.Enabled(context.Background(), slogLevel(l))
}

func (h *hclogToSlog) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hclogToSlog) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hclogToSlog) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hclogToSlog) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hclogToSlog) IsError() bool { return h.enabled(hclog.Error) }

func (h *hclogToSlog) ImpliedArgs() []any { return h.implied }

func (h *hclogToSlog) With(args ...any) hclog.Logger {
	return &hclogToSlog{l: h.l.With(args...), name: h.name, implied: append(append([]any(nil), h.implied...), args...), demote: h.demote}
}

func (h *hclogToSlog) Name() string { return h.name }

func (h *hclogToSlog) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

func (h *hclogToSlog) ResetNamed(name string) hclog.Logger {
	return &hclogToSlog{l: h.l.With("plugin", name), name: name, implied: h.implied}
}

// SetLevel does nothing: the slog handler decides what is logged.
func (h *hclogToSlog) SetLevel(hclog.Level) {}

// GetLevel reports the lowest level the slog handler accepts.
func (h *hclogToSlog) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (h *hclogToSlog) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	level := slog.LevelInfo
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = slogLevel(opts.ForceLevel)
	}
	return slog.NewLogLogger(h.l.Handler(), level)
}

func (h *hclogToSlog) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(opts).Writer()
}

// pluginLogHandler is the slog handler a plugin process logs through: one
// JSON object per line on the process's real stderr, with the keys go-plugin
// parses on the host (@level, @message, @timestamp), so each record reaches
// the host's slog at its level.
func pluginLogHandler(w io.Writer) slog.Handler {
	level := slog.LevelInfo
	if lv := strings.ToLower(os.Getenv("ANKURAH_PLUGIN_LOG_LEVEL")); lv != "" {
		_ = level.UnmarshalText([]byte(lv))
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				return slog.String("@level", hclogLevelName(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				return slog.Attr{Key: "@message", Value: a.Value}
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			}
			return a
		},
	})
}

func hclogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
