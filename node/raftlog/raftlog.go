package raftlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level hclog's Trace maps to.
const LevelTrace = slog.LevelDebug - 4

// NameKey is the attribute key carrying the hclog logger name.
const NameKey = "logger"

// StacktraceKey is the attribute key for an hclog.CapturedStacktrace argument.
const StacktraceKey = "stacktrace"

// levelFloor is shared by every logger derived from one New call, so SetLevel
// on any of them affects all of them, as hclog documents.
type levelFloor struct {
	v atomic.Int32 // hclog.Level; hclog.NoLevel means "let the handler decide"
}

// logger implements hclog.Logger on top of a *slog.Logger.
type logger struct {
	sl      *slog.Logger // includes the implied attributes
	name    string
	implied []any // raw implied key/value pairs, as given to With
	floor   *levelFloor
}

var _ hclog.Logger = (*logger)(nil)

// New returns an hclog.Logger that writes through l. name becomes the
// "logger" attribute of every record (empty name: no attribute). A nil l
// means slog.Default().
func New(l *slog.Logger, name string) hclog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return &logger{sl: l, name: name, floor: &levelFloor{}}
}

// toSlog maps an hclog level to a slog level. ok is false for Off.
func toSlog(level hclog.Level) (slog.Level, bool) {
	switch level {
	case hclog.Trace:
		return LevelTrace, true
	case hclog.Debug:
		return slog.LevelDebug, true
	case hclog.NoLevel, hclog.Info:
		return slog.LevelInfo, true
	case hclog.Warn:
		return slog.LevelWarn, true
	case hclog.Error:
		return slog.LevelError, true
	default: // hclog.Off and anything unknown
		return 0, false
	}
}

func (l *logger) enabled(level hclog.Level) bool {
	if level == hclog.NoLevel {
		level = hclog.Info // hclog's default level
	}
	if floor := hclog.Level(l.floor.v.Load()); floor != hclog.NoLevel && level < floor {
		return false
	}
	sl, ok := toSlog(level)
	if !ok {
		return false
	}
	return l.sl.Handler().Enabled(context.Background(), sl)
}

// emit builds and hands one record to the handler. It must be called
// directly by the exported method the user called so that the source
// location (skip count) is right.
func (l *logger) emit(level hclog.Level, msg string, args []any) {
	if !l.enabled(level) {
		return
	}
	sl, _ := toSlog(level)
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // runtime.Callers, emit, the exported method
	r := slog.NewRecord(time.Now(), sl, msg, pcs[0])
	if l.name != "" {
		r.AddAttrs(slog.String(NameKey, l.name))
	}
	r.AddAttrs(attrs(args)...)
	// A handler error has nowhere to go: hclog has no error return either.
	_ = l.sl.Handler().Handle(context.Background(), r)
}

// Log emits msg at level.
func (l *logger) Log(level hclog.Level, msg string, args ...any) { l.emit(level, msg, args) }

// Trace emits msg at LevelTrace.
func (l *logger) Trace(msg string, args ...any) { l.emit(hclog.Trace, msg, args) }

// Debug emits msg at slog.LevelDebug.
func (l *logger) Debug(msg string, args ...any) { l.emit(hclog.Debug, msg, args) }

// Info emits msg at slog.LevelInfo.
func (l *logger) Info(msg string, args ...any) { l.emit(hclog.Info, msg, args) }

// Warn emits msg at slog.LevelWarn.
func (l *logger) Warn(msg string, args ...any) { l.emit(hclog.Warn, msg, args) }

// Error emits msg at slog.LevelError.
func (l *logger) Error(msg string, args ...any) { l.emit(hclog.Error, msg, args) }

// IsTrace reports whether Trace records would be emitted.
func (l *logger) IsTrace() bool { return l.enabled(hclog.Trace) }

// IsDebug reports whether Debug records would be emitted.
func (l *logger) IsDebug() bool { return l.enabled(hclog.Debug) }

// IsInfo reports whether Info records would be emitted.
func (l *logger) IsInfo() bool { return l.enabled(hclog.Info) }

// IsWarn reports whether Warn records would be emitted.
func (l *logger) IsWarn() bool { return l.enabled(hclog.Warn) }

// IsError reports whether Error records would be emitted.
func (l *logger) IsError() bool { return l.enabled(hclog.Error) }

// ImpliedArgs returns a copy of the key/value pairs accumulated by With.
func (l *logger) ImpliedArgs() []any {
	out := make([]any, len(l.implied))
	copy(out, l.implied)
	return out
}

// With returns a logger that adds args to every record.
func (l *logger) With(args ...any) hclog.Logger {
	if len(args) == 0 {
		return l
	}
	implied := make([]any, 0, len(l.implied)+len(args))
	implied = append(implied, l.implied...)
	implied = append(implied, args...)
	as := attrs(args)
	withArgs := make([]any, len(as))
	for i, a := range as {
		withArgs[i] = a
	}
	return &logger{sl: l.sl.With(withArgs...), name: l.name, implied: implied, floor: l.floor}
}

// Name returns the dotted logger name.
func (l *logger) Name() string { return l.name }

// Named returns a logger whose name has name appended (dot separated).
func (l *logger) Named(name string) hclog.Logger {
	n := name
	if l.name != "" {
		n = l.name + "." + name
	}
	return &logger{sl: l.sl, name: n, implied: l.implied, floor: l.floor}
}

// ResetNamed returns a logger whose name is exactly name.
func (l *logger) ResetNamed(name string) hclog.Logger {
	return &logger{sl: l.sl, name: name, implied: l.implied, floor: l.floor}
}

// SetLevel sets an hclog-side minimum level shared by every logger derived
// from the same New call. hclog.NoLevel removes the floor, leaving the
// decision to the slog handler alone; hclog.Off silences everything.
func (l *logger) SetLevel(level hclog.Level) { l.floor.v.Store(int32(level)) }

// GetLevel returns the lowest hclog level that would currently be emitted
// (hclog.Off if none), taking both the floor and the handler into account.
func (l *logger) GetLevel() hclog.Level {
	for lv := hclog.Trace; lv <= hclog.Error; lv++ {
		if l.enabled(lv) {
			return lv
		}
	}
	return hclog.Off
}

// StandardLogger returns a *log.Logger whose lines are logged through l.
func (l *logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

// StandardWriter returns an io.Writer that logs each written line through l,
// honouring opts.InferLevels, InferLevelsWithTimestamp and ForceLevel.
func (l *logger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	w := &stdWriter{l: l}
	if opts != nil {
		w.opts = *opts
	}
	return w
}

type stdWriter struct {
	l    *logger
	opts hclog.StandardLoggerOptions
}

func (w *stdWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte{'\n'}) {
		level, msg := w.classify(string(line))
		w.l.logLine(level, msg)
	}
	return len(p), nil
}

// logLine exists so that the skip count in emit stays correct.
func (l *logger) logLine(level hclog.Level, msg string) { l.emit(level, msg, nil) }

var levelTags = []struct {
	tag   string
	level hclog.Level
}{
	{"[TRACE]", hclog.Trace},
	{"[DEBUG]", hclog.Debug},
	{"[INFO]", hclog.Info},
	{"[WARN]", hclog.Warn},
	{"[ERR]", hclog.Error},
	{"[ERROR]", hclog.Error},
}

// classify strips a level tag ("[WARN] ...") from line and returns the level
// to log at, following hclog's StandardLoggerOptions semantics.
func (w *stdWriter) classify(line string) (hclog.Level, string) {
	level, msg, found := hclog.Info, line, false
	if w.opts.InferLevels || w.opts.ForceLevel != hclog.NoLevel {
		start := 0
		if w.opts.InferLevelsWithTimestamp {
			if i := strings.IndexByte(line, '['); i > 0 {
				start = i
			}
		}
		rest := line[start:]
		for _, t := range levelTags {
			if strings.HasPrefix(rest, t.tag) {
				level, msg, found = t.level, strings.TrimLeft(rest[len(t.tag):], " "), true
				break
			}
		}
		if !found {
			level = hclog.Info
		}
	}
	if w.opts.ForceLevel != hclog.NoLevel {
		level = w.opts.ForceLevel
	}
	return level, msg
}

// attrs converts hclog-style alternating key/value arguments to slog
// attributes, rendering hclog's helper types the way hclog does.
func attrs(args []any) []slog.Attr {
	if len(args) == 0 {
		return nil
	}
	var out []slog.Attr
	if len(args)%2 != 0 {
		last := args[len(args)-1]
		args = args[:len(args)-1]
		if cs, ok := last.(hclog.CapturedStacktrace); ok {
			out = append(out, slog.String(StacktraceKey, string(cs)))
		} else {
			args = append(append(make([]any, 0, len(args)+2), args...), hclog.MissingKey, last)
		}
	}
	for i := 0; i+1 < len(args); i += 2 {
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		out = append(out, value(key, args[i+1]))
	}
	return out
}

func value(key string, v any) slog.Attr {
	switch st := v.(type) {
	case hclog.Hex:
		return slog.String(key, "0x"+strconv.FormatUint(uint64(st), 16))
	case hclog.Octal:
		return slog.String(key, "0"+strconv.FormatUint(uint64(st), 8))
	case hclog.Binary:
		return slog.String(key, "0b"+strconv.FormatUint(uint64(st), 2))
	case hclog.Quote:
		return slog.String(key, strconv.Quote(string(st)))
	case hclog.CapturedStacktrace:
		return slog.String(StacktraceKey, string(st))
	case hclog.Format:
		if len(st) == 0 {
			return slog.String(key, "")
		}
		f, ok := st[0].(string)
		if !ok {
			return slog.String(key, fmt.Sprint(st...))
		}
		return slog.String(key, fmt.Sprintf(f, st[1:]...))
	default:
		return slog.Any(key, v)
	}
}
