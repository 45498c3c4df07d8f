package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troika-db/troika/node"
	"github.com/troika-db/troika/node/config"
)

// Every bug name node/config accepts maps to its own switch.
func TestBugsOfCoversEveryName(t *testing.T) {
	seen := map[node.Bugs]string{}
	for _, name := range config.BugNames() {
		b, err := bugsOf([]string{name})
		if err != nil || !b.Any() {
			t.Fatalf("%s: %+v, %v", name, b, err)
		}
		if other, dup := seen[b]; dup {
			t.Fatalf("%s and %s set the same switch", name, other)
		}
		seen[b] = name
	}
	all, err := bugsOf(config.BugNames())
	if err != nil || all != (node.Bugs{FollowerReads: true, UnverifiedLeaderReads: true, SkipFsync: true, ApplyTimeTTL: true, RetryProposals: true}) {
		t.Fatalf("all bugs: %+v, %v", all, err)
	}
	if _, err := bugsOf([]string{"nope"}); err == nil {
		t.Fatal("unknown name accepted")
	}
}

// The binary refuses the test-only switches without --debug-unsafe yes:
// non-zero exit, and the message names the directive.
func TestDebugSwitchesRefusedWithoutUnsafe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // never used: startup fails first
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--debug-bugs", "follower-reads"}, "debug-bugs requires --debug-unsafe yes"},
		{[]string{"--debug-unsafe", "no", "--debug-bugs", "follower-reads"}, "debug-bugs requires --debug-unsafe yes"},
		{[]string{"--debug-clock-offset-ms", "-500"}, "debug-clock-offset-ms requires --debug-unsafe yes"},
		{[]string{"--debug-unsafe", "yes", "--debug-bugs", "follower-reads,bogus"},
			"unknown bug 'bogus'; valid bugs: follower-reads, unverified-leader-reads, skip-fsync, apply-time-ttl, retry-proposals"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(troikaBin, append([]string{"--port", "0", "--dir", dir}, tc.args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("%v: exit %v, want a non-zero status", tc.args, err)
			continue
		}
		if !strings.Contains(stderr.String(), "FATAL CONFIG FILE ERROR") || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, tc.want, stderr.String())
		}
	}
}

// CONFIG SET refuses them too; with debug-unsafe the clock offset shifts
// TIME and the deadlines SET EX stamps, and debug-bugs is accepted.
func TestDebugSwitchesAtRuntime(t *testing.T) {
	t.Parallel()
	safe := startTroika(t)
	c := mustDial(t, safe.addr())
	defer c.close()
	want := "-ERR CONFIG SET failed (possibly related to argument 'debug-bugs') - debug-bugs requires --debug-unsafe yes\r\n"
	if got := c.mustDo(t, "CONFIG", "SET", "debug-bugs", "follower-reads"); got != want {
		t.Errorf("CONFIG SET debug-bugs without debug-unsafe = %q", got)
	}
	if got := c.mustDo(t, "CONFIG", "SET", "debug-clock-offset-ms", "5"); !strings.Contains(got, "debug-clock-offset-ms requires --debug-unsafe yes") {
		t.Errorf("CONFIG SET debug-clock-offset-ms without debug-unsafe = %q", got)
	}

	const hour = int64(time.Hour / time.Millisecond)
	p := startTroika(t, "--debug-unsafe", "yes", "--debug-clock-offset-ms", strconv.FormatInt(hour, 10))
	u := mustDial(t, p.addr())
	defer u.close()
	if log, _ := os.ReadFile(p.logFile); !bytes.Contains(log, []byte("DEBUG-UNSAFE IS ON")) {
		t.Errorf("no startup warning in the log:\n%s", log)
	}
	serverSec := func() int64 {
		r, err := parseReply([]byte(u.mustDo(t, "TIME")))
		if err != nil || len(r.elems) != 2 {
			t.Fatalf("TIME: %v %+v", err, r)
		}
		s, _ := strconv.ParseInt(r.elems[0].str, 10, 64)
		return s
	}
	before := time.Now().Unix()
	got := serverSec()
	if d := got - before - hour/1000; d < -5 || d > 60 {
		t.Errorf("TIME %d is not about an hour ahead of %d", got, before)
	}
	if r := u.mustDo(t, "SET", "k", "v", "EX", "100"); r != "+OK\r\n" {
		t.Fatalf("SET = %q", r)
	}
	r, err := parseReply([]byte(u.mustDo(t, "PEXPIRETIME", "k")))
	if err != nil {
		t.Fatal(err)
	}
	deadline, _ := strconv.ParseInt(r.str, 10, 64)
	if d := deadline - time.Now().UnixMilli() - hour - 100_000; d < -60_000 || d > 60_000 {
		t.Errorf("deadline %d is not an hour + 100 s ahead (off by %d ms)", deadline, d)
	}
	if r := u.mustDo(t, "CONFIG", "SET", "debug-bugs", "follower-reads,retry-proposals"); r != "+OK\r\n" {
		t.Errorf("CONFIG SET debug-bugs with debug-unsafe = %q", r)
	}
	if r := u.mustDo(t, "CONFIG", "SET", "debug-clock-offset-ms", "0"); r != "+OK\r\n" {
		t.Errorf("CONFIG SET debug-clock-offset-ms = %q", r)
	}
	if d := serverSec() - time.Now().Unix(); d < -5 || d > 5 {
		t.Errorf("TIME off by %d s after resetting the offset", d)
	}
}
