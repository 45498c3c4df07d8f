package config

import (
	"errors"
	"github.com/troika-db/troika/fsm"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	v := Default().Values()
	if v.Port != 6379 || v.ClusterPort != 16379 || v.Dir != "./" {
		t.Errorf("port/cluster port/dir = %d/%d/%q", v.Port, v.ClusterPort, v.Dir)
	}
	if !reflect.DeepEqual(v.Bind, []string{"*", "-::*"}) {
		t.Errorf("bind = %q", v.Bind)
	}
	if v.AppendFsync != FsyncAlways || !v.AppendOnly || v.LogLevel != LogNotice || v.LogFile != "" {
		t.Errorf("appendfsync/appendonly/loglevel/logfile = %q/%v/%q/%q", v.AppendFsync, v.AppendOnly, v.LogLevel, v.LogFile)
	}
	if !v.ProtectedMode || v.RequirePass != "" || !v.ClusterEnabled || v.Daemonize || v.DebugUnsafe {
		t.Errorf("booleans: %+v", v)
	}
	if v.ProtoMaxBulkLen != 512<<20 || v.ClientQueryBufferLimit != 1<<30 || v.MaxMemory != 0 {
		t.Errorf("memory sizes: %d %d %d", v.ProtoMaxBulkLen, v.ClientQueryBufferLimit, v.MaxMemory)
	}
	if v.ClusterNodeTimeout != 15*time.Second || v.RaftElectionTimeout != time.Second || v.RaftHeartbeatTimeout != time.Second {
		t.Errorf("timeouts: %v %v %v", v.ClusterNodeTimeout, v.RaftElectionTimeout, v.RaftHeartbeatTimeout)
	}
	if v.ClusterGroups != 16 || v.ClusterReplicas != 3 || v.ClusterJoin != nil || v.ClusterMode != ModeCP {
		t.Errorf("cluster: %d %d %q %q", v.ClusterGroups, v.ClusterReplicas, v.ClusterJoin, v.ClusterMode)
	}
	if v.MaxClients != 10000 || v.Hz != 10 || v.SlowlogLogSlowerThan != 10000 || v.SlowlogMaxLen != 128 ||
		v.Databases != 16 || v.TCPKeepAlive != 300*time.Second || v.Timeout != 0 || v.Save != "" {
		t.Errorf("misc: %+v", v)
	}
	if v.RaftSnapshotThreshold != 8192 || v.RaftTrailingLogs != 10240 {
		t.Errorf("raft: %d %d", v.RaftSnapshotThreshold, v.RaftTrailingLogs)
	}
}

func TestDirectivesTable(t *testing.T) {
	ds := Directives()
	if len(ds) != len(table) {
		t.Fatalf("Directives() has %d entries, table %d", len(ds), len(table))
	}
	md := MarkdownTable()
	for i, d := range ds {
		if i > 0 && ds[i-1].Name >= d.Name {
			t.Errorf("not sorted at %s", d.Name)
		}
		if d.Type == "" || d.Doc == "" || strings.Contains(d.Doc, "\n") {
			t.Errorf("%s: missing type or doc, or multi-line doc", d.Name)
		}
		if !strings.Contains(md, "| `"+d.Name+"` |") {
			t.Errorf("MarkdownTable lacks %s", d.Name)
		}
	}
	runtime := map[string]bool{}
	for _, d := range ds {
		runtime[d.Name] = d.Runtime
	}
	for _, n := range []string{"requirepass", "protected-mode", "cluster-node-timeout", "proto-max-bulk-len", "hz", "save", "cluster-mode"} {
		if !runtime[n] {
			t.Errorf("%s should be runtime-changeable", n)
		}
	}
	for _, n := range []string{"port", "bind", "dir", "cluster-port", "cluster-groups", "daemonize", "raft-trailing-logs"} {
		if r, ok := runtime[n]; !ok || r {
			t.Errorf("%s should exist and be immutable", n)
		}
	}
}

func TestMemtoull(t *testing.T) {
	cases := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"123", 123, true}, {"007", 7, true}, {"", 0, true}, {"kb", 0, true},
		{"1b", 1, true}, {"1B", 1, true}, {"1k", 1000, true}, {"1K", 1000, true}, {"1kb", 1024, true},
		{"1Kb", 1024, true}, {"2m", 2000000, true}, {"2mb", 2 << 20, true}, {"3g", 3000000000, true},
		{"3GB", 3 << 30, true}, {"512mb", 512 << 20, true},
		{"99999999999999999999", 1<<64 - 1, true},     // strtoull saturates
		{"99999999999gb", 15140462030378500096, true}, // and the product wraps
		{"20000000000g", 1553255926290448384, true},   // (values checked against redis-server)
		{"-1", 0, false}, {"+5", 0, false}, {" 5", 0, false}, {"5 ", 0, false}, {"0x10", 0, false},
		{"1kib", 0, false}, {"1.5mb", 0, false}, {"1t", 0, false}, {strings.Repeat("1", 128), 0, false},
		{"5\x00junk", 5, true},
	}
	for _, c := range cases {
		got, ok := memtoull(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("memtoull(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

const sampleConf = `# Troika sample configuration
  # indented comment

port 7000
PORT 7001
bind 127.0.0.1 "::1"
requirepass "p@ss word\x21\n"
cluster-announce-ip '10.0.0.1'
logfile 'it\'s.log'
appendfsync EVERYSEC
protected-mode NO
proto-max-bulk-len 2MB
maxmemory 1k
save 3600 1
save 300 100
hz 1000
cluster-join "a:1, b:2,,c:3"
	timeout 30	
`

func TestParseSample(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	if err := os.WriteFile(inc, []byte("loglevel warning\ncluster-groups 8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(sampleConf + "include " + fsm.Quote(inc) + "\ncluster-groups 32\n")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	v := c.Values()
	if v.Port != 7001 || v.ClusterPort != 17001 {
		t.Errorf("port = %d / %d, want 7001 / 17001 (later lines win)", v.Port, v.ClusterPort)
	}
	if !reflect.DeepEqual(v.Bind, []string{"127.0.0.1", "::1"}) {
		t.Errorf("bind = %q", v.Bind)
	}
	if v.RequirePass != "p@ss word!\n" || v.ClusterAnnounceIP != "10.0.0.1" || v.LogFile != "it's.log" {
		t.Errorf("strings: %q %q %q", v.RequirePass, v.ClusterAnnounceIP, v.LogFile)
	}
	if v.AppendFsync != FsyncEverysec || v.ProtectedMode || v.ProtoMaxBulkLen != 2<<20 || v.MaxMemory != 1000 {
		t.Errorf("typed: %q %v %d %d", v.AppendFsync, v.ProtectedMode, v.ProtoMaxBulkLen, v.MaxMemory)
	}
	if v.Save != "3600 1 300 100" {
		t.Errorf("save lines should add up: %q", v.Save)
	}
	if v.Hz != 500 {
		t.Errorf("hz = %d, want clamped 500", v.Hz)
	}
	if !reflect.DeepEqual(v.ClusterJoin, []string{"a:1", "b:2", "c:3"}) {
		t.Errorf("cluster-join = %q", v.ClusterJoin)
	}
	if v.Timeout != 30*time.Second || v.LogLevel != LogWarning || v.ClusterGroups != 32 {
		t.Errorf("timeout/loglevel/groups = %v %q %d", v.Timeout, v.LogLevel, v.ClusterGroups)
	}
}

func TestIncludeRelativeToCwdAndGlob(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("conf.d", 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"conf.d/10-a.conf": "port 7100\nhz 20\n",
		"conf.d/20-b.conf": "port 7200\n",
		"main.conf":        "include conf.d/*.conf\ninclude conf.d/none-*.conf\n",
	} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load([]string{"main.conf"}, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Int("port") != 7200 || c.Int("hz") != 20 {
		t.Errorf("port %d hz %d: glob includes apply in sorted order", c.Int("port"), c.Int("hz"))
	}
	if c.File != filepath.Join(dir, "main.conf") {
		t.Errorf("File = %q", c.File)
	}
}

func TestIncludeErrors(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.conf")
	if err := os.WriteFile(loop, []byte("hz 11\ninclude "+loop+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Parse("include " + loop)
	if err == nil || !strings.Contains(err.Error(), "include nesting deeper than") {
		t.Errorf("include cycle: %v", err)
	}
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("# x\nhz fast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Parse("port 1\ninclude " + bad)
	var ce *Error
	if !errors.As(err, &ce) || ce.File != bad || ce.Line != 2 || ce.Directive != "hz" || ce.Text != "hz fast" {
		t.Errorf("error inside an included file: %#v", err)
	} else if !strings.Contains(err.Error(), "at line 2 of included file '"+bad+"'") {
		t.Errorf("text: %s", err)
	}
	missing := filepath.Join(dir, "missing.conf")
	_, err = Parse("\ninclude " + missing)
	if !errors.As(err, &ce) || ce.Line != 2 || ce.Directive != "include" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing include: %#v", err)
	} else if !strings.Contains(err.Error(), "can't open config file '"+missing+"': no such file or directory") {
		t.Errorf("text: %s", err)
	}
}

func TestLoadCommandLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "t.conf")
	if err := os.WriteFile(file, []byte("port 7000\nloglevel debug\nsave 60 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{file, "--port", "7001", "--loglevel", "verbose", "--port", "7002"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Int("port") != 7002 || c.String("loglevel") != "verbose" {
		t.Errorf("options must override the file, last one winning: %d %s", c.Int("port"), c.String("loglevel"))
	}
	if c.String("save") != "60 1" {
		t.Errorf("save = %q", c.String("save"))
	}

	// Multi-argument options, and "--name value" in one argument.
	c, err = Load([]string{"--bind", "127.0.0.1", "::1", "--port 7003", "--requirepass", "a b\"c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.String("bind") != "127.0.0.1 ::1" || c.Int("port") != 7003 || c.String("requirepass") != `a b"c` {
		t.Errorf("bind %q port %d requirepass %q", c.String("bind"), c.Int("port"), c.String("requirepass"))
	}

	// A lone --save before another option (or last) means save "".
	for _, args := range [][]string{
		{file, "--save", "--port", "7004"},
		{file, "--port", "7004", "--save"},
	} {
		c, err = Load(args, nil)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if c.String("save") != "" || c.Int("port") != 7004 {
			t.Errorf("%q: save %q port %d", args, c.String("save"), c.Int("port"))
		}
	}

	// An option whose value starts with "--" takes it as its value.
	c, err = Load([]string{"--requirepass", "--port"}, nil)
	if err != nil || c.String("requirepass") != "--port" {
		t.Errorf("requirepass --port: %v %q", err, c.String("requirepass"))
	}

	// "-" reads stdin after the file and before the options.
	c, err = Load([]string{file, "--hz", "30", "-"}, strings.NewReader("port 7005\nhz 40\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Int("port") != 7005 || c.Int("hz") != 30 {
		t.Errorf("stdin: port %d hz %d", c.Int("port"), c.Int("hz"))
	}

	// No arguments: defaults.
	if c, err = Load(nil, nil); err != nil || c.Int("port") != 6379 || c.File != "" {
		t.Errorf("no args: %v", err)
	}

	// A missing configuration file.
	_, err = Load([]string{filepath.Join(dir, "nope.conf")}, nil)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "can't open config file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestErrors checks that every error names the directive and the problem,
// in Redis's format. The line numbers and texts of the shared directives
// were checked against redis-server 7.0 (see also TestErrorsMatchRedis).
func TestErrors(t *testing.T) {
	cases := []struct {
		args      []string // Load arguments; text used when nil
		text      string
		line      int
		lineText  string
		directive string
		msg       string
	}{
		{args: []string{"--port", "abc"}, line: 2, lineText: `port "abc"`, directive: "port", msg: "argument couldn't be parsed into an integer"},
		{text: "save \"\"\nport abc\n", line: 2, lineText: "port abc", directive: "port", msg: "argument couldn't be parsed into an integer"},
		{args: []string{"--port", "0", "--port", "70000"}, line: 3, lineText: `port "70000"`, directive: "port", msg: "argument must be between 0 and 65535 inclusive"},
		{text: "foo bar", line: 1, lineText: "foo bar", directive: "foo", msg: "Bad directive or wrong number of arguments"},
		{text: "include", line: 1, lineText: "include", directive: "include", msg: "Bad directive or wrong number of arguments"},
		{text: "port 6379 # comment", line: 1, lineText: "port 6379 # comment", directive: "port", msg: "wrong number of arguments"},
		{text: "\n\n  port  ", line: 3, lineText: "port", directive: "port", msg: "wrong number of arguments"},
		{text: `port "63`, line: 1, lineText: `port "63`, directive: "port", msg: "Unbalanced quotes in configuration line"},
		{text: `requirepass 'x'y`, line: 1, lineText: `requirepass 'x'y`, directive: "requirepass", msg: "Unbalanced quotes in configuration line"},
		{text: "appendfsync sometimes", line: 1, lineText: "appendfsync sometimes", directive: "appendfsync", msg: "argument(s) must be one of the following: everysec, always, no"},
		{text: "loglevel loud", line: 1, lineText: "loglevel loud", directive: "loglevel", msg: "argument(s) must be one of the following: debug, verbose, notice, warning"},
		{text: "cluster-mode ca", line: 1, lineText: "cluster-mode ca", directive: "cluster-mode", msg: "argument(s) must be one of the following: cp, ap"},
		{text: "protected-mode maybe", line: 1, lineText: "protected-mode maybe", directive: "protected-mode", msg: "argument must be 'yes' or 'no'"},
		{text: "maxmemory lots", line: 1, lineText: "maxmemory lots", directive: "maxmemory", msg: "argument must be a memory value"},
		{text: "proto-max-bulk-len 1k", line: 1, lineText: "proto-max-bulk-len 1k", directive: "proto-max-bulk-len", msg: "argument must be between 1048576 and 9223372036854775807 inclusive"},
		{text: "client-query-buffer-limit 99999999999999999999", line: 1, lineText: "client-query-buffer-limit 99999999999999999999", directive: "client-query-buffer-limit", msg: "argument must be between 1048576 and 9223372036854775807 inclusive"},
		{text: "timeout -1", line: 1, lineText: "timeout -1", directive: "timeout", msg: "argument must be between 0 and 2147483647 inclusive"},
		{text: "timeout 01", line: 1, lineText: "timeout 01", directive: "timeout", msg: "argument couldn't be parsed into an integer"},
		{text: "maxclients 0", line: 1, lineText: "maxclients 0", directive: "maxclients", msg: "argument must be between 1 and 4294967295 inclusive"},
		{text: "slowlog-log-slower-than -2", line: 1, lineText: "slowlog-log-slower-than -2", directive: "slowlog-log-slower-than", msg: "argument must be between -1 and 9223372036854775807 inclusive"},
		{text: "hz -1", line: 1, lineText: "hz -1", directive: "hz", msg: "argument must be between 0 and 2147483647 inclusive"},
		{text: "cluster-groups 0", line: 1, lineText: "cluster-groups 0", directive: "cluster-groups", msg: "argument must be between 1 and 1024 inclusive"},
		{text: "cluster-replicas 8", line: 1, lineText: "cluster-replicas 8", directive: "cluster-replicas", msg: "argument must be between 1 and 7 inclusive"},
		{text: "save 3600", line: 1, lineText: "save 3600", directive: "save", msg: "Invalid save parameters"},
		{text: "save 0 1", line: 1, lineText: "save 0 1", directive: "save", msg: "Invalid save parameters"},
		{text: "save 10 x", line: 1, lineText: "save 10 x", directive: "save", msg: "Invalid save parameters"},
		{text: "bind " + strings.Repeat("a ", 17), line: 1, lineText: "bind " + strings.TrimSpace(strings.Repeat("a ", 17)), directive: "bind", msg: "Too many bind addresses specified."},
		{text: `bind ""`, line: 1, lineText: `bind ""`, directive: "bind", msg: "at least one bind address is required"},
		{text: "cluster-enabled no", line: 1, lineText: "cluster-enabled no", directive: "cluster-enabled", msg: "Troika always runs in cluster mode; cluster-enabled must be 'yes'"},
		{text: "cluster-enabled maybe", line: 1, lineText: "cluster-enabled maybe", directive: "cluster-enabled", msg: "argument must be 'yes' or 'no'"},
		{text: "daemonize yes", line: 1, lineText: "daemonize yes", directive: "daemonize", msg: "Troika does not daemonize; use a service manager"},
		{text: "cluster-join host", line: 1, lineText: "cluster-join host", directive: "cluster-join", msg: "argument must be a comma-separated list of host:port addresses; 'host' is not one"},
		{text: "cluster-join h:0", line: 1, lineText: "cluster-join h:0", directive: "cluster-join", msg: "invalid port in 'h:0': must be between 1 and 65535"},
		{text: "port 60000", directive: "port", msg: "port 60000 is too high: with cluster-port 0 the cluster bus listens on port+10000, so port must be 55535 or less (or set cluster-port)"},
		{text: "raft-election-timeout 500", directive: "raft-election-timeout", msg: "raft-election-timeout (500) must be greater than or equal to raft-heartbeat-timeout (1000)"},
	}
	for _, c := range cases {
		var err error
		if c.args != nil {
			_, err = Load(c.args, nil)
		} else {
			_, err = Parse(c.text)
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q%q: got %v, want a *Error", c.args, c.text, err)
			continue
		}
		if ce.Line != c.line || ce.Text != c.lineText || ce.Directive != c.directive || ce.Msg != c.msg {
			t.Errorf("%q%q: got line %d %q directive %q msg %q;\nwant line %d %q directive %q msg %q",
				c.args, c.text, ce.Line, ce.Text, ce.Directive, ce.Msg, c.line, c.lineText, c.directive, c.msg)
		}
		want := c.msg
		if c.line > 0 {
			want = "Reading the configuration file, at line " + strconv.Itoa(c.line) + "\n>>> '" + c.lineText + "'\n" + c.msg
		}
		if err.Error() != want {
			t.Errorf("%q%q: text\n%s\nwant\n%s", c.args, c.text, err, want)
		}
		if c.directive != "" && !strings.Contains(err.Error(), c.directive) {
			t.Errorf("%q%q: error text does not name %s", c.args, c.text, c.directive)
		}
	}
	// Accepted edge cases.
	c, err := Parse("cluster-port 20000\nport 60000\nraft-election-timeout 5\nraft-heartbeat-timeout 5\n")
	if err != nil || c.ClusterPort() != 20000 {
		t.Errorf("explicit cluster-port allows a high port: %v", err)
	}
	if !strings.HasPrefix(FatalReport(&Error{Line: 1, Text: "x", Msg: "m"}, "Troika 1.0"),
		"\n*** FATAL CONFIG FILE ERROR (Troika 1.0) ***\nReading the configuration file, at line 1\n>>> 'x'\nm") {
		t.Errorf("FatalReport: %q", FatalReport(&Error{Line: 1, Text: "x", Msg: "m"}, "Troika 1.0"))
	}
}

func TestUsage(t *testing.T) {
	u := Usage("./troika-server")
	if !strings.HasPrefix(u, "Usage: ./troika-server [/path/to/troika.conf] [options] [-]\n") || !strings.Contains(u, "--port 7777") {
		t.Errorf("Usage:\n%s", u)
	}
}
