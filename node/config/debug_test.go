package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The test-only switches are refused without debug-unsafe yes, at startup
// and by CONFIG SET, with an error naming the directive.
func TestDebugSwitchesRequireUnsafe(t *testing.T) {
	for _, args := range [][]string{
		{"--debug-bugs", "follower-reads"},
		{"--debug-clock-offset-ms", "-250"},
		{"--debug-unsafe", "no", "--debug-bugs", "skip-fsync"},
	} {
		_, err := Load(args, nil)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("%q: err = %v, want *Error", args, err)
		}
		name := strings.TrimPrefix(args[len(args)-2], "--")
		if ce.Directive != name || err.Error() != name+" requires --debug-unsafe yes" {
			t.Errorf("%q: directive %q, error %q", args, ce.Directive, err)
		}
		if r := FatalReport(err, "Troika x"); !strings.Contains(r, name+" requires --debug-unsafe yes") {
			t.Errorf("%q: report %q", args, r)
		}
	}
	// Defaults spelled out are fine without debug-unsafe.
	if _, err := Load([]string{"--debug-bugs", "", "--debug-clock-offset-ms", "0"}, nil); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}

	s := NewStore(Default())
	for _, kv := range [][2]string{{"debug-bugs", "follower-reads"}, {"debug-clock-offset-ms", "10"}} {
		err := s.Set(kv[0], kv[1])
		want := "CONFIG SET failed (possibly related to argument '" + kv[0] + "') - " + kv[0] + " requires --debug-unsafe yes"
		if err == nil || err.Error() != want || !errors.Is(err, ErrInvalidValue) {
			t.Errorf("CONFIG SET %s %s: %v, want %q", kv[0], kv[1], err, want)
		}
	}
	if err := s.Set("debug-bugs", ""); err != nil {
		t.Errorf("CONFIG SET debug-bugs \"\": %v", err)
	}
	if got := s.Get("debug-*"); !reflect.DeepEqual(got, [][2]string{{"debug-bugs", ""}, {"debug-clock-offset-ms", "0"}, {"debug-unsafe", "no"}}) {
		t.Errorf("CONFIG GET debug-* = %q", got)
	}
	err := s.Set("debug-unsafe", "yes")
	if !errors.Is(err, ErrImmutable) {
		t.Errorf("CONFIG SET debug-unsafe: %v, want immutable", err)
	}
}

func TestDebugSwitchesWithUnsafe(t *testing.T) {
	c, err := Load([]string{"--debug-bugs", " Follower-Reads, skip-fsync,,follower-reads ", "--debug-unsafe", "yes", "--debug-clock-offset-ms", "-1500"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Values()
	if !v.DebugUnsafe || !reflect.DeepEqual(v.DebugBugs, []string{BugFollowerReads, BugSkipFsync}) || v.DebugClockOffset != -1500*time.Millisecond {
		t.Fatalf("values: unsafe %v bugs %q offset %v", v.DebugUnsafe, v.DebugBugs, v.DebugClockOffset)
	}
	s := NewStore(c)
	if err := s.Set("debug-bugs", strings.Join(BugNames(), ",")); err != nil {
		t.Fatal(err)
	}
	if got := s.Values().DebugBugs; !reflect.DeepEqual(got, BugNames()) {
		t.Errorf("after CONFIG SET: %q", got)
	}
	if err := s.Set("debug-clock-offset-ms", "86400000"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("debug-clock-offset-ms", "86400001"); err == nil {
		t.Error("offset beyond a day accepted")
	}
	if err := s.Set("debug-bugs", ""); err != nil || s.Values().DebugBugs != nil {
		t.Errorf("clearing: %v %q", err, s.Values().DebugBugs)
	}
	if Default().Values().DebugBugs != nil || Default().Values().DebugClockOffset != 0 {
		t.Error("defaults are not empty")
	}
}

func TestUnknownBugNameRejected(t *testing.T) {
	_, err := Load([]string{"--debug-unsafe", "yes", "--debug-bugs", "follower-reads,lose-everything"}, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Directive != "debug-bugs" {
		t.Fatalf("err = %v", err)
	}
	want := "unknown bug 'lose-everything'; valid bugs: follower-reads, unverified-leader-reads, skip-fsync, apply-time-ttl, retry-proposals"
	if ce.Msg != want {
		t.Errorf("msg %q, want %q", ce.Msg, want)
	}
	c, _ := Load([]string{"--debug-unsafe", "yes"}, nil)
	if err := NewStore(c).Set("debug-bugs", "nope"); err == nil || !strings.Contains(err.Error(), "unknown bug 'nope'; valid bugs: follower-reads") {
		t.Errorf("CONFIG SET unknown bug: %v", err)
	}
}

// TestReadmeConfigTable keeps README.md's configuration table equal to
// MarkdownTable(). UPDATE_README=1 rewrites the table in place.
func TestReadmeConfigTable(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("README: %v", err)
	}
	readme := string(b)
	const header = "| Directive | Type | Default | CONFIG SET | Description |\n"
	start := strings.Index(readme, header)
	if start < 0 {
		t.Fatal("README has no configuration table")
	}
	end := start
	for end < len(readme) {
		nl := strings.IndexByte(readme[end:], '\n')
		if nl < 0 || !strings.HasPrefix(readme[end:], "|") {
			break
		}
		end += nl + 1
	}
	want := MarkdownTable()
	if readme[start:end] == want {
		return
	}
	if os.Getenv("UPDATE_README") == "" {
		t.Fatal("README.md's configuration table differs from config.MarkdownTable(); run UPDATE_README=1 go test -run TestReadmeConfigTable ./node/config")
	}
	if err := os.WriteFile(path, []byte(readme[:start]+want+readme[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
}
