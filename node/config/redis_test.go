package config

// Differential tests against redis-server 7.0, skipped when it is absent.

import (
	"bufio"
	"context"
	"fmt"
	"github.com/troika-db/troika/fsm"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const redisServer = "/usr/bin/redis-server"

func needRedis(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs redis-server")
	}
	if _, err := os.Stat(redisServer); err != nil {
		t.Skipf("%s not available: %v", redisServer, err)
	}
}

// TestErrorsMatchRedis runs redis-server on bad configurations that mean
// the same to Troika and compares its report with Error's text.
func TestErrorsMatchRedis(t *testing.T) {
	needRedis(t)
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noNL := file("nonl.conf", "port 0")
	nl := file("nl.conf", "port 0\n")
	bad := file("bad.conf", "# comment\n\n   PORT   \"abc\"  \n")
	cases := []struct {
		args  []string
		stdin string
	}{
		{args: []string{"--port", "abc"}},
		{args: []string{"--port", "0", "--port", "70000"}},
		{args: []string{noNL, "--port", "abc"}},
		{args: []string{nl, "--port", "abc"}},
		{args: []string{bad}},
		{args: []string{"--port", "0", "--appendfsync", "maybe"}},
		{args: []string{"--port", "0", "--loglevel", "loud"}},
		{args: []string{"--port", "0", "--protected-mode", "maybe"}},
		{args: []string{"--port", "0", "--maxmemory", "a b"}},
		{args: []string{"--port", "0", "--maxmemory", "a\"b\\n\x01"}},
		{args: []string{"--port", "0", "--proto-max-bulk-len", "1k"}},
		{args: []string{"--port", "0", "--client-query-buffer-limit", "99999999999999999999"}},
		{args: []string{"--port", "0", "--timeout", "-1"}},
		{args: []string{"--port", "0", "--timeout", "01"}},
		{args: []string{"--port", "0", "--hz", "-1"}},
		{args: []string{"--port", "0", "--maxclients", "0"}},
		{args: []string{"--port", "0", "--slowlog-log-slower-than", "-2"}},
		{args: []string{"--port", "0", "--save", "3600"}},
		{args: []string{"--port", "0", "--save", "--maxmemory", "x"}},
		{args: []string{"--port", "0", "--requirepass", "--foo", "--maxmemory", "x"}},
		{args: []string{"--port", "0", "--bind", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"}},
		{args: []string{"--port", "0", "foo", "bar"}},
		{args: []string{"--port"}},
		{args: []string{"--foo", "bar"}},
		{args: []string{"--port 0", "--maxmemory", "x"}},
		{args: []string{"-", "--port", "0"}, stdin: "maxmemory zz\n"},
		{args: []string{nl, "-"}, stdin: "\n\nport x y\n"},
		{args: []string{file("q.conf", "port \"63\n")}},
		{args: []string{file("q2.conf", "port '6'3\n")}},
		{args: []string{file("c.conf", "port 6379 # comment\n")}},
		{args: []string{file("u.conf", "\n\nnosuch-directive 1\n")}},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, redisServer, c.args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(c.stdin)
		out, runErr := cmd.CombinedOutput()
		cancel()
		if runErr == nil {
			t.Errorf("%q: redis-server accepted the configuration", c.args)
			continue
		}
		report := string(out)
		if i := strings.Index(report, "***\n"); i >= 0 {
			report = report[i+4:]
		} else {
			t.Errorf("%q: no FATAL CONFIG FILE ERROR report from redis-server:\n%s", c.args, out)
			continue
		}
		report = strings.TrimSuffix(report, "\n")
		var stdin io.Reader = strings.NewReader(c.stdin)
		_, err := Load(c.args, stdin)
		if err == nil {
			t.Errorf("%q: Load accepted what redis-server rejects with\n%s", c.args, report)
			continue
		}
		if err.Error() != report {
			t.Errorf("%q:\nredis-server:\n%s\nLoad:\n%s", c.args, report, err)
		}
	}
}

// TestSplitArgsMatchRedis compares SplitArgs with sdssplitargs through
// Redis's inline protocol, which splits request lines with it.
func TestSplitArgsMatchRedis(t *testing.T) {
	needRedis(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(redisServer, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dial := func() (net.Conn, *bufio.Reader) {
		var conn net.Conn
		var err error
		for i := 0; i < 200; i++ { // wait for the listener, up to ~10s
			if conn, err = net.Dial("tcp", addr); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("connect to redis-server: %v", err)
		}
		_ = conn.SetDeadline(time.Now().Add(time.Minute)) // guards against hangs only
		return conn, bufio.NewReader(conn)
	}
	conn, r := dial()
	defer func() { conn.Close() }()

	lines := []string{
		`a b`, `"a b" c`, `"\x41\x4" '\'' "\q"`, `foo"bar" x`, `"a"b`, `'a'b`, `"abc`, `'abc`,
		`"" ''`, "a\vb \f c", `"\n\r\t\b\a"`, `'a\nb' "a'b"`, `"\"`, `"a"` + "\t" + `b`,
	}
	rng := rand.New(rand.NewSource(1))
	alpha := []byte(" \t\v\"'\\xAf0n ab")
	for i := 0; i < 300; i++ {
		b := make([]byte, 1+rng.Intn(12))
		for j := range b {
			b[j] = alpha[rng.Intn(len(alpha))]
		}
		line := string(b)
		if strings.HasSuffix(line, "\r") {
			continue // the inline protocol would strip it
		}
		lines = append(lines, line)
	}
	for _, line := range lines {
		want, splitErr := fsm.SplitArgs(line)
		// RPUSH a marker first so that the request is never empty.
		fmt.Fprintf(conn, "RPUSH L __ %s\n", line)
		reply, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read reply for %q: %v", line, err)
		}
		if strings.HasPrefix(reply, "-ERR Protocol error: unbalanced quotes") {
			if splitErr == nil {
				t.Errorf("%q: redis says unbalanced quotes, SplitArgs = %q", line, want)
			}
			conn.Close() // Redis closes the connection after a protocol error
			conn, r = dial()
			continue
		}
		if !strings.HasPrefix(reply, ":") {
			t.Fatalf("%q: unexpected reply %q", line, reply)
		}
		fmt.Fprintf(conn, "*4\r\n$6\r\nLRANGE\r\n$1\r\nL\r\n$1\r\n1\r\n$2\r\n-1\r\n")
		got := readArray(t, r)
		fmt.Fprintf(conn, "*2\r\n$3\r\nDEL\r\n$1\r\nL\r\n")
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		if splitErr != nil {
			t.Errorf("%q: SplitArgs says %v, redis split it into %q", line, splitErr, got)
			continue
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Errorf("%q: redis %q, SplitArgs %q", line, got, want)
		}
	}
}

func readArray(t *testing.T, r *bufio.Reader) []string {
	t.Helper()
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "*") {
		t.Fatalf("array header %q: %v", head, err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		h, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(h, "$") {
			t.Fatalf("bulk header %q: %v", h, err)
		}
		size, _ := strconv.Atoi(strings.TrimSpace(h[1:]))
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(buf[:size]))
	}
	return out
}
