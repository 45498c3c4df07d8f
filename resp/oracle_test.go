package resp

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const redisServerPath = "/usr/bin/redis-server"

// startRedis runs a real redis-server 7.0 in cluster mode on a free port,
// or skips the test when it is not installed.
func startRedis(t *testing.T, extra ...string) string {
	t.Helper()
	if _, err := os.Stat(redisServerPath); err != nil {
		t.Skipf("differential test skipped: %s not installed", redisServerPath)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--cluster-enabled", "yes", "--cluster-config-file", dir + "/nodes.conf", "--dir", dir,
		"--logfile", dir + "/redis.log"}, extra...)
	cmd := exec.Command(redisServerPath, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := net.Dial("tcp", addr)
		if err == nil {
			nc.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameReply sends raw to both servers on the given connections and
// requires byte-identical replies.
func sameReply(t *testing.T, redis, troika *rawConn, raw string) {
	t.Helper()
	redis.send(raw)
	troika.send(raw)
	want, got := redis.read(), troika.read()
	if got != want {
		t.Errorf("request %q:\n troika: %q\n  redis: %q", raw, got, want)
	}
}

func inline(args string) string { return encodeCommand(strings.Fields(args)...) }

// TestOracleServerCommands compares Troika with redis-server on the
// replies resp produces itself.
func TestOracleServerCommands(t *testing.T) {
	raddr := startRedis(t)
	if got := dial(t, raddr).do("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); got != "+OK\r\n" {
		t.Fatalf("ADDSLOTSRANGE: %q", got)
	}
	_, taddr := testServer(t, Config{})
	r, tr := dial(t, raddr), dial(t, taddr)
	long := strings.Repeat("y", 150)
	requests := []string{
		inline("PING"), inline("PING hello"), inline("PING a b"), inline("ECHO"), inline("ECHO x"),
		inline("GET"), inline("get a b"), inline("SET k"), inline("MSET a"), inline("EXPIRE k"),
		inline("foo a b"), inline("FOO"), encodeCommand("cmd", long, long, "z"), encodeCommand(long),
		inline("CLIENT"), inline("CLIENT FOO bar"), inline("client setname"), encodeCommand("CLIENT", "SETNAME", "a b"),
		inline("CLIENT SETNAME x"), inline("CLIENT GETNAME"), inline("CLIENT SETNAME"), inline("CLIENT NO-EVICT x"),
		inline("CLIENT NO-EVICT on"), inline("CLIENT LIST TYPE foo"), inline("CLIENT LIST ID x"),
		inline("CLIENT LIST ID 99999"), inline("CLIENT LIST x"), inline("CLIENT KILL 1.2.3.4:5"),
		inline("CLIENT KILL ID 0"), inline("CLIENT KILL ID x"), inline("CLIENT KILL ID 99999"), inline("CLIENT KILL foo bar"),
		inline("CLIENT KILL TYPE foo"), inline("CLIENT KILL SKIPME maybe"), inline("CLIENT KILL ADDR"),
		inline("CLIENT ID x"), inline("CLIENT INFO x"), inline("CLIENT HELLO"),
		inline("SELECT 0"), inline("SELECT 1"), inline("SELECT x"), inline("SELECT -1"), inline("SELECT"),
		inline("AUTH"), inline("AUTH x"), inline("AUTH default x"), inline("AUTH bob x"), inline("AUTH a b c"),
		inline("HELLO 4"), inline("HELLO 1"), inline("HELLO x"), inline("HELLO 2 foo"), inline("HELLO 3 AUTH x"),
		inline("HELLO 2 SETNAME"), inline("HELLO 3 AUTH bob x"),
		inline("COMMAND FOO"), inline("COMMAND COUNT x"), inline("COMMAND GETKEYS"), inline("COMMAND GETKEYS nosuch a"),
		inline("COMMAND GETKEYS ping x"), inline("COMMAND GETKEYS get"), inline("COMMAND GETKEYS set a"),
		inline("COMMAND GETKEYS mset a b c d"), inline("COMMAND GETKEYS mset a b c"), inline("COMMAND GETKEYS copy a b"),
		inline("COMMAND GETKEYS object encoding k"), inline("COMMAND GETKEYS object nosuch k"),
		inline("COMMAND GETKEYS lcs a b"), inline("COMMAND GETKEYS del a b c"), inline("COMMAND GETKEYS getex k PERSIST"),
		inline("COMMAND GETKEYSANDFLAGS mset a b"), inline("COMMAND GETKEYSANDFLAGS set k v"),
		inline("COMMAND GETKEYSANDFLAGS copy a b"), inline("COMMAND GETKEYSANDFLAGS getdel k"),
		inline("COMMAND INFO nosuch"), inline("COMMAND INFO get set nosuch mget"), inline("COMMAND DOCS nosuch"),
		inline("COMMAND DOCS get"), inline("COMMAND LIST FILTERBY foo x"), inline("COMMAND LIST FILTERBY MODULE x"),
		inline("COMMAND LIST x"), inline("COMMAND LIST FILTERBY"), inline("COMMAND HELP"),
		inline("SLOWLOG GET x"), inline("SLOWLOG GET -2"), inline("SLOWLOG GET 1 2"), inline("SLOWLOG LEN x"),
		inline("SLOWLOG HELP"), inline("SLOWLOG FOO"), inline("LATENCY LATEST"), inline("LATENCY RESET"),
		inline("LATENCY HISTORY"), inline("LATENCY HISTORY command"),
		inline("CONFIG SET maxclients"), inline("CONFIG SET a b c"), inline("CONFIG GET"), inline("CONFIG HELP"),
		inline("CONFIG FOO"), inline("CONFIG REWRITE"), inline("OBJECT HELP"), inline("OBJECT"), inline("OBJECT FOO k"),
		inline("OBJECT ENCODING"),
		inline("READONLY"), inline("READWRITE"), inline("ASKING"), inline("READONLY x"),
		inline("TIME x"), inline("INFO nosuchsection"), inline("CLUSTER"),
		inline("MSET a 1 b 2"), inline("MGET a b"), inline("DEL a b c"), inline("EXISTS x y"),
		inline("RENAME a b"), inline("COPY a b"), inline("LCS a b"), inline("MSETNX a 1 b 2"), inline("TOUCH a b"),
		inline("UNLINK a b"),
	}
	defer sameReply(t, r, tr, inline("QUIT x")) // last: it closes the connections
	for _, req := range requests {
		sameReply(t, r, tr, req)
	}
	// Inline requests too.
	for _, req := range []string{"PING\r\n", "ECHO \"a\\x41b\" 'c d'\r\n", "ECHO \"a\\x4x\"\r\n", "\r\n\r\nPING\r\n", "PING\n"} {
		sameReply(t, r, tr, req)
	}
	// RESET, then HELLO 2 and 3 (the id differs: compare the rest).
	sameReply(t, r, tr, inline("RESET"))
	for _, v := range []string{"2", "3"} {
		r.send(inline("HELLO " + v))
		tr.send(inline("HELLO " + v))
		want, got := stripHelloID(r.read()), stripHelloID(tr.read())
		if want != got {
			t.Errorf("HELLO %s:\n troika: %q\n  redis: %q", v, got, want)
		}
	}
	// RESP3 encodings of resp's own replies.
	for _, req := range []string{inline("CONFIG GET nosuchparam"), inline("COMMAND INFO get nosuch"),
		inline("COMMAND DOCS get mset"), inline("COMMAND GETKEYSANDFLAGS set k v"), inline("CLIENT GETNAME"), inline("PING"),
		inline("INFO nosuchsection")} {
		sameReply(t, r, tr, req)
	}
}

func stripHelloID(s string) string {
	i := strings.Index(s, "$2\r\nid\r\n:")
	if i < 0 {
		return s
	}
	j := strings.Index(s[i+9:], "\r\n")
	return s[:i+9] + "ID" + s[i+9+j:]
}

// TestOracleProtocolErrors compares protocol error handling on fresh
// connections: the error text and the closed connection.
func TestOracleProtocolErrors(t *testing.T) {
	raddr := startRedis(t, "--requirepass", "secret")
	_, taddr := testServer(t, Config{RequirePass: "secret"})
	for _, req := range []string{
		"*1\r\n$9223372036854775807\r\n", "*1\r\n$-5\r\n", "*1\r\n$abc\r\n", "*abc\r\n", "*1 \r\n",
		"*1\r\nxfoo\r\n", "set \"a b\r\n", "*11\r\n", "*10\r\n$16385\r\n", "*2147483648\r\n",
		"PING\r\nGET k\r\nfoo\r\nAUTH\r\nAUTH wrong\r\nAUTH default wrong\r\nAUTH bob secret\r\nHELLO 3\r\n" +
			"HELLO 3 AUTH default wrong\r\nCLIENT ID\r\nQUIT\r\n",
	} {
		r, tr := dial(t, raddr), dial(t, taddr)
		r.send(req)
		tr.send(req)
		want := readUntilEOF(t, r)
		got := readUntilEOF(t, tr)
		if got != want {
			t.Errorf("request %q:\n troika: %q\n  redis: %q", req, got, want)
		}
	}
}

func readUntilEOF(t *testing.T, c *rawConn) string {
	t.Helper()
	var b strings.Builder
	for {
		s, err := readRawReply(c.br)
		if err != nil {
			return b.String() + "<EOF>"
		}
		b.WriteString(s)
	}
}

// TestOracleCommandInfo compares COMMAND INFO and COMMAND DOCS for every
// command in Troika's table with redis-server's. A container's own fields
// must match exactly and each of Troika's subcommands must match Redis's;
// Troika may list fewer subcommands than Redis (it lists those it serves).
func TestOracleCommandInfo(t *testing.T) {
	raddr := startRedis(t)
	_, taddr := testServer(t, Config{})
	r, tr := dial(t, raddr), dial(t, taddr)
	for _, proto := range []string{"2", "3"} {
		r.do("HELLO", proto)
		tr.do("HELLO", proto)
		for _, cmd := range commandTable.all {
			want := parseTree(t, r.do("COMMAND", "INFO", cmd.Name)).children[0]
			got := parseTree(t, tr.do("COMMAND", "INFO", cmd.Name)).children[0]
			if want.head == "$-1" || want.head == "_" {
				if cmd.Doc.Since < "7.1" {
					t.Errorf("%s: unknown to redis-server 7.0 but not marked as newer", cmd.Name)
				}
				continue // a later Redis's command (CLIENT SETINFO)
			}
			if len(got.children) != 10 || len(want.children) != 10 {
				t.Fatalf("%s: malformed COMMAND INFO: %q / %q", cmd.Name, got.raw, want.raw)
			}
			for i := range 9 {
				if got.children[i].raw != want.children[i].raw {
					t.Errorf("RESP%s COMMAND INFO %s field %d:\n troika: %q\n  redis: %q",
						proto, cmd.Name, i, got.children[i].raw, want.children[i].raw)
				}
			}
			redisSubs := make(map[string]string)
			for _, s := range want.children[9].children {
				redisSubs[s.children[0].str] = s.raw
			}
			for _, s := range got.children[9].children {
				if w, ok := redisSubs[s.children[0].str]; ok && w != s.raw {
					t.Errorf("RESP%s COMMAND INFO %s: subcommand %s differs", proto, cmd.Name, s.children[0].str)
				}
			}

			wantDocs := parseTree(t, r.do("COMMAND", "DOCS", cmd.Name))
			gotDocs := parseTree(t, tr.do("COMMAND", "DOCS", cmd.Name))
			if len(wantDocs.children) != 2 || len(gotDocs.children) != 2 {
				t.Fatalf("%s: COMMAND DOCS shape: %q / %q", cmd.Name, gotDocs.raw, wantDocs.raw)
			}
			wd, gd := wantDocs.children[1], gotDocs.children[1]
			if len(cmd.Subcommands) == 0 {
				if gd.raw != wd.raw {
					t.Errorf("RESP%s COMMAND DOCS %s:\n troika: %q\n  redis: %q", proto, cmd.Name, gd.raw, wd.raw)
				}
				continue
			}
			for i := 0; i+1 < len(wd.children); i += 2 {
				k := wd.children[i].str
				if k == "subcommands" {
					continue
				}
				if g, ok := gd.field(k); !ok || g.raw != wd.children[i+1].raw {
					t.Errorf("RESP%s COMMAND DOCS %s field %s differs", proto, cmd.Name, k)
				}
			}
		}
	}
	// The COMMAND LIST format and a CLIENT LIST line's field names.
	r.do("HELLO", "2")
	tr.do("HELLO", "2")
	fields := func(line string) []string {
		var out []string
		for _, kv := range strings.Fields(line) {
			k, _, _ := strings.Cut(kv, "=")
			out = append(out, k)
		}
		return out
	}
	wantLine := parseTree(t, r.do("CLIENT", "INFO")).str
	gotLine := parseTree(t, tr.do("CLIENT", "INFO")).str
	if strings.Join(fields(gotLine), " ") != strings.Join(fields(wantLine), " ") || !strings.HasSuffix(gotLine, "\n") {
		t.Errorf("CLIENT INFO fields:\n troika: %q\n  redis: %q", gotLine, wantLine)
	}
}
