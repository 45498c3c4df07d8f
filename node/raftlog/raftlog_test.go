package raftlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// capture returns a logger writing JSON lines at the given handler level and
// a function decoding what was written so far.
func capture(t *testing.T, level slog.Level, name string) (hclog.Logger, func() []map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level})
	l := New(slog.New(h), name)
	return l, func() []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			m := map[string]any{}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("bad json line %q: %v", line, err)
			}
			out = append(out, m)
		}
		buf.Reset()
		return out
	}
}

func TestLevelsMapping(t *testing.T) {
	l, read := capture(t, LevelTrace, "raft")
	l.Trace("t")
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	l.Log(hclog.NoLevel, "n")
	l.Log(hclog.Off, "off")
	recs := read()
	want := []struct{ msg, level string }{
		{"t", "DEBUG-4"}, {"d", "DEBUG"}, {"i", "INFO"}, {"w", "WARN"}, {"e", "ERROR"}, {"n", "INFO"},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d: %v", len(recs), len(want), recs)
	}
	for i, w := range want {
		if recs[i]["msg"] != w.msg || recs[i]["level"] != w.level {
			t.Errorf("record %d = %v, want msg %q level %q", i, recs[i], w.msg, w.level)
		}
		if recs[i][NameKey] != "raft" {
			t.Errorf("record %d name = %v", i, recs[i][NameKey])
		}
	}
}

func TestIsXFollowsHandler(t *testing.T) {
	l, read := capture(t, slog.LevelInfo, "")
	if l.IsTrace() || l.IsDebug() {
		t.Fatal("trace/debug reported enabled on an Info handler")
	}
	if !l.IsInfo() || !l.IsWarn() || !l.IsError() {
		t.Fatal("info/warn/error reported disabled on an Info handler")
	}
	if got := l.GetLevel(); got != hclog.Info {
		t.Fatalf("GetLevel = %v, want Info", got)
	}
	l.Debug("hidden")
	l.Info("shown")
	recs := read()
	if len(recs) != 1 || recs[0]["msg"] != "shown" {
		t.Fatalf("records = %v", recs)
	}
	if _, ok := recs[0][NameKey]; ok {
		t.Fatalf("empty name must not produce an attribute: %v", recs[0])
	}
}

func TestSetLevelSharedFloor(t *testing.T) {
	l, read := capture(t, LevelTrace, "a")
	child := l.Named("b").With("k", 1)
	l.SetLevel(hclog.Warn)
	if child.IsInfo() || !child.IsWarn() {
		t.Fatal("SetLevel on parent did not affect derived logger")
	}
	if got := child.GetLevel(); got != hclog.Warn {
		t.Fatalf("GetLevel = %v", got)
	}
	child.Info("no")
	child.Warn("yes")
	if recs := read(); len(recs) != 1 || recs[0]["msg"] != "yes" {
		t.Fatalf("records = %v", recs)
	}
	child.SetLevel(hclog.Off)
	if l.IsError() || l.GetLevel() != hclog.Off {
		t.Fatal("Off must silence everything")
	}
	l.SetLevel(hclog.NoLevel)
	if !l.IsTrace() {
		t.Fatal("NoLevel must defer to the handler")
	}
}

func TestNamesAndImpliedArgs(t *testing.T) {
	l, read := capture(t, slog.LevelDebug, "raft")
	n := l.Named("net").Named("pool")
	if n.Name() != "raft.net.pool" {
		t.Fatalf("Name = %q", n.Name())
	}
	w := n.With("group", 7, "peer", "10.0.0.1:7000")
	w2 := w.With("extra")
	if got := w2.ImpliedArgs(); len(got) != 5 || got[0] != "group" || got[4] != "extra" {
		t.Fatalf("ImpliedArgs = %v", got)
	}
	// Mutating the returned slice must not affect the logger.
	w.ImpliedArgs()[0] = "mutated"
	r := w.ResetNamed("fresh")
	if r.Name() != "fresh" {
		t.Fatalf("ResetNamed name = %q", r.Name())
	}
	r.Info("hello", "term", uint64(3))
	w2.Info("dangling")
	recs := read()
	if len(recs) != 2 {
		t.Fatalf("records = %v", recs)
	}
	got := recs[0]
	if got[NameKey] != "fresh" || got["group"] != float64(7) || got["peer"] != "10.0.0.1:7000" || got["term"] != float64(3) {
		t.Fatalf("record = %v", got)
	}
	if recs[1][hclog.MissingKey] != "extra" || recs[1][NameKey] != "raft.net.pool" {
		t.Fatalf("record = %v", recs[1])
	}
	if l.Name() != "raft" || len(l.ImpliedArgs()) != 0 {
		t.Fatal("derivation mutated the parent")
	}
}

func TestArgRendering(t *testing.T) {
	l, read := capture(t, slog.LevelDebug, "")
	l.Info("m",
		"hex", hclog.Hex(255),
		"oct", hclog.Octal(8),
		"bin", hclog.Binary(5),
		"quote", hclog.Quote("a\"b"),
		"fmt", hclog.Fmt("%d-%s", 4, "x"),
		"err", errors.New("boom"),
		42, "non-string key",
		"odd")
	l.Error("with stack", "k", "v", hclog.CapturedStacktrace("stack here"))
	recs := read()
	if len(recs) != 2 {
		t.Fatalf("records = %v", recs)
	}
	want := map[string]any{
		"hex": "0xff", "oct": "010", "bin": "0b101", "quote": `"a\"b"`, "fmt": "4-x",
		"err": "boom", "42": "non-string key", hclog.MissingKey: "odd",
	}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("%s = %#v, want %#v", k, recs[0][k], v)
		}
	}
	if recs[1][StacktraceKey] != "stack here" || recs[1]["k"] != "v" {
		t.Fatalf("record = %v", recs[1])
	}
}

func TestStandardLogger(t *testing.T) {
	l, read := capture(t, slog.LevelDebug, "std")
	sl := l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	sl.Print("[WARN] disk slow")
	sl.Print("[ERR] failed")
	sl.Print("[TRACE] dropped by handler")
	sl.Print("plain line")
	forced := l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error})
	forced.Print("[INFO] forced")
	ts := l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true, InferLevelsWithTimestamp: true})
	ts.Print("2024/01/01 10:00:00 [DEBUG] with timestamp")
	recs := read()
	want := []struct{ msg, level string }{
		{"disk slow", "WARN"}, {"failed", "ERROR"}, {"plain line", "INFO"}, {"forced", "ERROR"}, {"with timestamp", "DEBUG"},
	}
	if len(recs) != len(want) {
		t.Fatalf("records = %v", recs)
	}
	for i, w := range want {
		if recs[i]["msg"] != w.msg || recs[i]["level"] != w.level || recs[i][NameKey] != "std" {
			t.Errorf("record %d = %v, want %+v", i, recs[i], w)
		}
	}
}

func TestSourceLocation(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{AddSource: true})), "")
	l.Info("where")
	if !strings.Contains(buf.String(), "raftlog_test.go") {
		t.Fatalf("source should point at the caller: %s", buf.String())
	}
}

func TestNilLoggerUsesDefault(t *testing.T) {
	if New(nil, "x") == nil {
		t.Fatal("nil")
	}
}
