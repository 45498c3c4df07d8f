// Package raftlog adapts log/slog to the hclog.Logger interface that
// hashicorp/raft requires, so that raft's own messages flow through the
// node's structured logger instead of a second, differently formatted
// stream.
//
// Level mapping (hclog → slog):
//
//	Trace → slog.LevelDebug-4 (LevelTrace)
//	Debug → slog.LevelDebug
//	Info  → slog.LevelInfo
//	Warn  → slog.LevelWarn
//	Error → slog.LevelError
//
// The logger name (New's name argument, extended by Named and replaced by
// ResetNamed, segments joined with ".") is emitted as the attribute "logger".
// Key/value arguments and implied arguments (With) become slog attributes;
// hclog's value helpers (Fmt, Hex, Octal, Binary, Quote) are rendered the way
// hclog renders them, a dangling value is keyed "EXTRA_VALUE_AT_END", and a
// trailing hclog.Stacktrace() is emitted as the attribute "stacktrace".
//
// Filtering happens in two places: the slog handler's Enabled decides first
// (so the IsX guards are cheap and truthful), and SetLevel adds an optional
// hclog-side floor shared by every logger derived from the same New call.
package raftlog
