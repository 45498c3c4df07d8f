package resp

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/troika-db/troika/fsm"
)

func TestPingEchoAndUnknown(t *testing.T) {
	_, addr := testServer(t, Config{})
	c := dial(t, addr)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"ping", "hi"}, "$2\r\nhi\r\n"},
		{[]string{"PING", "a", "b"}, "-ERR wrong number of arguments for 'ping' command\r\n"},
		{[]string{"ECHO"}, "-ERR wrong number of arguments for 'echo' command\r\n"},
		{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"get", "a", "b"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"foo", "a", "b"}, "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"},
		{[]string{"FOO"}, "-ERR unknown command 'FOO', with args beginning with: \r\n"},
		{[]string{"CLIENT"}, "-ERR wrong number of arguments for 'client' command\r\n"},
		{[]string{"CLIENT", "FOO", "bar"}, "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"},
		{[]string{"client", "setname"}, "-ERR wrong number of arguments for 'client|setname' command\r\n"},
		{[]string{"SELECT", "0"}, "+OK\r\n"},
		{[]string{"SELECT", "1"}, "-ERR SELECT is not allowed in cluster mode\r\n"},
		{[]string{"SELECT", "x"}, "-ERR value is not an integer or out of range\r\n"},
		{[]string{"AUTH", "x"}, "-" + msgAuthNoPass + "\r\n"},
		{[]string{"AUTH", "default", "x"}, "+OK\r\n"},
		{[]string{"AUTH", "bob", "x"}, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{[]string{"AUTH", "a", "b", "c"}, "-ERR syntax error\r\n"},
		{[]string{"READONLY"}, "+OK\r\n"},
		{[]string{"READWRITE"}, "+OK\r\n"},
		{[]string{"ASKING"}, "+OK\r\n"},
		{[]string{"LATENCY", "LATEST"}, "*0\r\n"},
		{[]string{"LATENCY", "RESET"}, ":0\r\n"},
		{[]string{"SLOWLOG", "GET", "x"}, "-ERR count should be greater than or equal to -1\r\n"},
		{[]string{"SLOWLOG", "GET", "1", "2"}, "-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.\r\n"},
	}
	for _, tc := range cases {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
	long := strings.Repeat("x", 200)
	want := "-ERR unknown command '" + long[:128] + "', with args beginning with: '" + long[:128] + "' \r\n"
	if got := c.do(long, long, "more"); got != want {
		t.Errorf("long unknown command = %q", got)
	}
}

// TestHostileBulkLength is the redcon crash: the server must answer the
// protocol error, close that connection and keep serving others.
func TestHostileBulkLength(t *testing.T) {
	_, addr := testServer(t, Config{})
	for _, in := range []string{
		"*1\r\n$9223372036854775807\r\n",
		"*1\r\n$-3\r\n",
		"*1\r\n$536870913\r\n",
	} {
		c := dial(t, addr)
		c.send(in)
		if got := c.read(); got != "-ERR Protocol error: invalid bulk length\r\n" {
			t.Errorf("%q: got %q", in, got)
		}
		c.expectEOF()
	}
	c := dial(t, addr)
	c.send("*9999999999\r\n")
	if got := c.read(); got != "-ERR Protocol error: invalid multibulk length\r\n" {
		t.Errorf("huge multibulk: got %q", got)
	}
	c.expectEOF()
	// Commands before the bad request in the same pipeline still run.
	c = dial(t, addr)
	c.send("PING\r\n*1\r\nx\r\n")
	if got := c.read() + c.read(); got != "+PONG\r\n-ERR Protocol error: expected '$', got 'x'\r\n" {
		t.Errorf("pipeline then garbage: %q", got)
	}
	c.expectEOF()
	if got := dial(t, addr).do("PING"); got != "+PONG\r\n" {
		t.Errorf("server stopped serving: %q", got)
	}
}

func TestInlineCommands(t *testing.T) {
	_, addr := testServer(t, Config{})
	c := dial(t, addr)
	c.send("PING\r\nECHO \"a b\"\r\n\r\necho 'c'\n")
	if got := c.read() + c.read() + c.read(); got != "+PONG\r\n$3\r\na b\r\n$1\r\nc\r\n" {
		t.Errorf("inline = %q", got)
	}
	c.send("SET \"a b\r\n")
	if got := c.read(); got != "-ERR Protocol error: unbalanced quotes in request\r\n" {
		t.Errorf("unbalanced = %q", got)
	}
	c.expectEOF()
	c = dial(t, addr)
	c.send(strings.Repeat("a", inlineMaxSize+10))
	if got := c.read(); got != "-ERR Protocol error: too big inline request\r\n" {
		t.Errorf("big inline = %q", got)
	}
	c.expectEOF()
}

// TestPipelineBatching checks that consecutive data commands reach the
// backend in one Exec call, in order, and that a local command splits
// the batch without reordering replies.
func TestPipelineBatching(t *testing.T) {
	be := newFakeBackend()
	_, addr := testServer(t, Config{Backend: be})
	c := dial(t, addr)
	var pipe strings.Builder
	for i := range 5 {
		pipe.WriteString(encodeCommand("SET", "k", string(rune('0'+i))))
	}
	pipe.WriteString(encodeCommand("GET", "k"))
	pipe.WriteString(encodeCommand("GET")) // arity error inside the batch
	pipe.WriteString(encodeCommand("INCR", "n"))
	pipe.WriteString(encodeCommand("PING"))
	pipe.WriteString(encodeCommand("GET", "n"))
	pipe.WriteString(encodeCommand("DBSIZE"))
	c.send(pipe.String())
	var got strings.Builder
	for range 11 {
		got.WriteString(c.read())
	}
	want := strings.Repeat("+OK\r\n", 5) + "$1\r\n4\r\n" +
		"-ERR wrong number of arguments for 'get' command\r\n" + ":1\r\n+PONG\r\n$1\r\n1\r\n:2\r\n"
	if got.String() != want {
		t.Fatalf("replies = %q\nwant %q", got.String(), want)
	}
	calls := be.execCalls()
	if len(calls) != 2 || len(calls[0]) != 7 || len(calls[1]) != 2 {
		var sizes []int
		for _, c := range calls {
			sizes = append(sizes, len(c))
		}
		t.Fatalf("Exec call sizes = %v, want [7 2]", sizes)
	}
	first := calls[0]
	if !first[0].Write || first[5].Write || first[5].Slot != 7629 /* slot of "k" */ {
		t.Errorf("cmd flags: %+v / %+v", first[0], first[5])
	}
	if last := calls[1][1]; string(last.Args[0]) != "DBSIZE" || last.Slot != -1 {
		t.Errorf("DBSIZE cmd = %+v", last)
	}
}

func TestCrossSlotAndFlags(t *testing.T) {
	be := newFakeBackend()
	_, addr := testServer(t, Config{Backend: be})
	c := dial(t, addr)
	const cross = "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
	if got := c.do("MSET", "a", "1", "b", "2"); got != cross {
		t.Errorf("MSET a b = %q", got)
	}
	if got := c.do("MGET", "x", "y"); got != cross {
		t.Errorf("MGET x y = %q", got)
	}
	if got := c.do("MSET", "{t}a", "1", "{t}b", "2"); got != "+OK\r\n" {
		t.Errorf("MSET with hash tag = %q", got)
	}
	c.do("READONLY")
	c.do("ASKING")
	c.do("GET", "{t}a")
	c.do("GET", "{t}a")
	calls := be.execCalls()
	if len(calls) != 3 {
		t.Fatalf("%d Exec calls", len(calls))
	}
	if m := calls[0][0]; m.Slot != 15891 || !m.Write || m.ReadOnly || m.Asking {
		t.Errorf("MSET cmd = %+v", m)
	}
	if g := calls[1][0]; !g.ReadOnly || !g.Asking || g.Write {
		t.Errorf("GET after READONLY+ASKING = %+v", g)
	}
	if g := calls[2][0]; !g.ReadOnly || g.Asking {
		t.Errorf("second GET: Asking must apply to one command only: %+v", g)
	}
	if got := c.do("OBJECT", "ENCODING", "k"); !strings.HasPrefix(got, "-ERR fake backend does not implement OBJECT") {
		t.Errorf("OBJECT ENCODING not routed to the backend: %q", got)
	}
	if s := be.execCalls()[3][0]; s.Slot != 7629 {
		t.Errorf("OBJECT ENCODING k slot = %d", s.Slot)
	}
}

func TestBackendReplyEncoding(t *testing.T) {
	_, addr := testServer(t, Config{})
	c := dial(t, addr)
	checks := []struct {
		args         []string
		resp2, resp3 string
	}{
		{[]string{"GET", "missing"}, "$-1\r\n", "_\r\n"},
		{[]string{"INCRBYFLOAT", "f", "1.5"}, "$3\r\n1.5\r\n", ",1.5\r\n"},
		{[]string{"TTL", "m"}, "*2\r\n$1\r\nk\r\n:1\r\n", "%1\r\n$1\r\nk\r\n:1\r\n"},
		{[]string{"EXPIRE", "k", "x"}, "-ERR invalid expire time in 'expire' command\r\n", ""},
		{[]string{"DEL", "k"}, "-MOVED 3999 127.0.0.1:7001\r\n", ""},
	}
	for _, ch := range checks {
		if got := c.do(ch.args...); got != ch.resp2 {
			t.Errorf("RESP2 %q = %q, want %q", ch.args, got, ch.resp2)
		}
	}
	hello := c.do("HELLO", "3")
	if !strings.HasPrefix(hello, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n") ||
		!strings.HasSuffix(hello, "$4\r\nmode\r\n$7\r\ncluster\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n") {
		t.Errorf("HELLO 3 = %q", hello)
	}
	for _, ch := range checks {
		if ch.resp3 == "" {
			continue
		}
		if got := c.do(ch.args...); got != ch.resp3 {
			t.Errorf("RESP3 %q = %q, want %q", ch.args, got, ch.resp3)
		}
	}
	if got := c.do("CONFIG", "GET", "nothing*"); got != "%0\r\n" {
		t.Errorf("RESP3 empty map = %q", got)
	}
	if got := c.do("CLIENT", "INFO"); !strings.HasPrefix(got, "=") || !strings.Contains(got, "\r\ntxt:id=") {
		t.Errorf("RESP3 CLIENT INFO must be verbatim: %q", got)
	}
	if got := c.do("HELLO", "2"); !strings.HasPrefix(got, "*14\r\n") {
		t.Errorf("HELLO 2 = %q", got)
	}
	if got := c.do("GET", "missing"); got != "$-1\r\n" {
		t.Errorf("back to RESP2: %q", got)
	}
	for args, want := range map[string]string{
		"HELLO 4":        "-NOPROTO unsupported protocol version\r\n",
		"HELLO x":        "-ERR Protocol version is not an integer or out of range\r\n",
		"HELLO 2 foo":    "-ERR Syntax error in HELLO option 'foo'\r\n",
		"HELLO 3 AUTH x": "-ERR Syntax error in HELLO option 'AUTH'\r\n",
	} {
		if got := c.do(strings.Fields(args)...); got != want {
			t.Errorf("%s = %q, want %q", args, got, want)
		}
	}
}

func TestAuthFlows(t *testing.T) {
	_, addr := testServer(t, Config{RequirePass: "secret"})
	const noauth = "-NOAUTH Authentication required.\r\n"
	const wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	c := dial(t, addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, noauth},
		{[]string{"GET", "k"}, noauth},
		{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"foo"}, "-ERR unknown command 'foo', with args beginning with: \r\n"},
		{[]string{"AUTH", "wrong"}, wrongpass},
		{[]string{"AUTH", "default", "wrong"}, wrongpass},
		{[]string{"AUTH", "bob", "secret"}, wrongpass},
		{[]string{"HELLO", "3"}, "-" + msgHelloNoAuth + "\r\n"},
		{[]string{"HELLO", "3", "AUTH", "default", "wrong"}, wrongpass},
		{[]string{"AUTH", "secret"}, "+OK\r\n"},
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"RESET"}, "+RESET\r\n"},
		{[]string{"PING"}, noauth},
		{[]string{"AUTH", "default", "secret"}, "+OK\r\n"},
		{[]string{"PING"}, "+PONG\r\n"},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
	c2 := dial(t, addr)
	if got := c2.do("HELLO", "3", "AUTH", "default", "secret", "SETNAME", "app"); !strings.HasPrefix(got, "%7\r\n") {
		t.Errorf("HELLO 3 AUTH = %q", got)
	}
	if got := c2.do("CLIENT", "GETNAME"); got != "$3\r\napp\r\n" {
		t.Errorf("name after HELLO SETNAME = %q", got)
	}
	// Unauthenticated request limits, and AUTH in the same pipeline lifts them.
	c3 := dial(t, addr)
	c3.send("*11\r\n")
	if got := c3.read(); got != "-ERR Protocol error: unauthenticated multibulk length\r\n" {
		t.Errorf("unauth multibulk = %q", got)
	}
	c3.expectEOF()
	c4 := dial(t, addr)
	c4.send("*2\r\n$4\r\nECHO\r\n$16385\r\n")
	if got := c4.read(); got != "-ERR Protocol error: unauthenticated bulk length\r\n" {
		t.Errorf("unauth bulk = %q", got)
	}
	c4.expectEOF()
	c5 := dial(t, addr)
	c5.send(encodeCommand("AUTH", "secret") + encodeCommand("MSET", "{a}1", "1", "{a}2", "2", "{a}3", "3", "{a}4", "4", "{a}5", "5"))
	if got := c5.read() + c5.read(); got != "+OK\r\n+OK\r\n" {
		t.Errorf("AUTH then 11 args in one pipeline = %q", got)
	}
}

func TestSetOptionRequirePass(t *testing.T) {
	srv, addr := testServer(t, Config{})
	before := dial(t, addr)
	before.do("PING") // registered before the change
	if !srv.SetOption("requirepass", "pw") {
		t.Fatal("SetOption requirepass refused")
	}
	// Connections opened before the change stay authenticated, as in Redis.
	if got := before.do("PING"); got != "+PONG\r\n" {
		t.Errorf("old connection = %q", got)
	}
	if got := dial(t, addr).do("PING"); got != "-NOAUTH Authentication required.\r\n" {
		t.Errorf("new connection = %q", got)
	}
	for _, bad := range [][2]string{{"maxclients", "0"}, {"maxclients", "x"}, {"proto-max-bulk-len", "1zb"}, {"nosuch", "1"}, {"timeout", "-1"}} {
		if srv.SetOption(bad[0], bad[1]) {
			t.Errorf("SetOption(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if !srv.SetOption("proto-max-bulk-len", "1kb") || srv.protoMaxBulk.Load() != 1024 {
		t.Errorf("proto-max-bulk-len 1kb = %d", srv.protoMaxBulk.Load())
	}
	c := dial(t, addr)
	c.send("*1\r\n$1025\r\n")
	if got := c.read(); got != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Errorf("after lowering proto-max-bulk-len: %q", got)
	}
}

// panicBackend panics on every Exec.
type panicBackend struct{ fakeBackend }

func (p *panicBackend) Exec(context.Context, []Cmd) []fsm.Reply { panic("boom") }

func TestPanicRecovery(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	be := &panicBackend{fakeBackend: *newFakeBackend()}
	_, addr := testServer(t, Config{Backend: be, Logger: logger})
	c := dial(t, addr)
	c.send(encodeCommand("PING") + encodeCommand("GET", "k"))
	if got := c.read() + c.read(); got != "+PONG\r\n-ERR internal error\r\n" {
		t.Errorf("replies = %q", got)
	}
	c.expectEOF()
	if got := dial(t, addr).do("PING"); got != "+PONG\r\n" {
		t.Errorf("server stopped serving after a panic: %q", got)
	}
	if s := logs.String(); !strings.Contains(s, "panic") || !strings.Contains(s, "boom") || !strings.Contains(s, "goroutine") {
		t.Errorf("panic not logged with a stack: %s", s)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMaxClients(t *testing.T) {
	srv, addr := testServer(t, Config{MaxClients: 1})
	c1 := dial(t, addr)
	c1.do("PING") // make sure c1 is registered
	c2 := dial(t, addr)
	if got := c2.read(); got != "-ERR max number of clients + cluster connections reached\r\n" {
		t.Errorf("second client = %q", got)
	}
	c2.expectEOF()
	if srv.stats.rejectedConns.Load() != 1 {
		t.Errorf("rejected_connections = %d", srv.stats.rejectedConns.Load())
	}
}

func TestIdleTimeout(t *testing.T) {
	srv, addr := testServer(t, Config{})
	srv.SetOption("timeout", "1")
	c := dial(t, addr)
	if got := c.do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING = %q", got)
	}
	c.expectEOF() // closed by the reaper once idle for more than a second
}

func TestQueryBufferLimit(t *testing.T) {
	srv, addr := testServer(t, Config{})
	srv.SetOption("client-query-buffer-limit", "1kb")
	c := dial(t, addr)
	c.send("*2\r\n$4\r\nECHO\r\n$100000\r\n" + strings.Repeat("x", 4096))
	c.expectEOF()
	if got := dial(t, addr).do("PING"); got != "+PONG\r\n" {
		t.Errorf("server stopped serving: %q", got)
	}
}

func TestQuitAndClientKill(t *testing.T) {
	_, addr := testServer(t, Config{})
	c := dial(t, addr)
	c.send(encodeCommand("QUIT") + encodeCommand("PING"))
	if got := c.read(); got != "+OK\r\n" {
		t.Errorf("QUIT = %q", got)
	}
	c.expectEOF()

	victim := dial(t, addr)
	id := strings.TrimSuffix(strings.TrimPrefix(victim.do("CLIENT", "ID"), ":"), "\r\n")
	killer := dial(t, addr)
	if got := killer.do("CLIENT", "KILL", "ID", id); got != ":1\r\n" {
		t.Errorf("CLIENT KILL ID = %q", got)
	}
	victim.expectEOF()
	if got := killer.do("CLIENT", "KILL", "1.2.3.4:5"); got != "-ERR No such client\r\n" {
		t.Errorf("CLIENT KILL addr = %q", got)
	}
	if got := killer.do("CLIENT", "KILL", "ID", "0"); got != "-ERR client-id should be greater than 0\r\n" {
		t.Errorf("CLIENT KILL ID 0 = %q", got)
	}
	if got := killer.do("CLIENT", "KILL", "foo", "bar"); got != "-ERR syntax error\r\n" {
		t.Errorf("CLIENT KILL foo bar = %q", got)
	}
}

func TestClusterRouting(t *testing.T) {
	be := newFakeBackend()
	_, addr := testServer(t, Config{Backend: be})
	c := dial(t, addr)
	if got := c.do("CLUSTER", "KEYSLOT", "foo"); got != ":12182\r\n" {
		t.Errorf("CLUSTER KEYSLOT = %q", got)
	}
	if got := c.do("cluster", "nosuchsub"); got != "+cluster:nosuchsub\r\n" {
		t.Errorf("unknown CLUSTER subcommand must reach the backend: %q", got)
	}
	if got := c.do("CLUSTER"); got != "-ERR wrong number of arguments for 'cluster' command\r\n" {
		t.Errorf("CLUSTER = %q", got)
	}
	if got := c.do("CLUSTER", "KEYSLOT"); got != "-ERR wrong number of arguments for 'cluster|keyslot' command\r\n" {
		t.Errorf("CLUSTER KEYSLOT = %q", got)
	}
	if len(be.cluster) != 2 {
		t.Errorf("backend saw %d CLUSTER calls", len(be.cluster))
	}
}

// TestCloseWaits checks that Close ends connections and returns only when
// every goroutine is done, even with a client blocked mid-request.
func TestCloseWaits(t *testing.T) {
	srv, err := New(Config{Backend: newFakeBackend(), Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := dial(t, ln.Addr().String())
	c.do("PING")
	c.send("*2\r\n$4\r\nECHO\r\n$10\r\nabc") // incomplete request
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve = %v", err)
	}
	c.expectEOF()
	if err := srv.Serve(ln); err != ErrServerClosed {
		t.Fatalf("Serve after Close = %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// TestLargeArgument sends a 3MB value in small pieces followed by a
// pipelined GET: the reader must assemble it without losing the pipeline.
func TestLargeArgument(t *testing.T) {
	be := newFakeBackend()
	_, addr := testServer(t, Config{Backend: be})
	c := dial(t, addr)
	val := strings.Repeat("0123456789abcdef", 3<<16)
	req := encodeCommand("SET", "big", val) + encodeCommand("GET", "big")
	for i := 0; i < len(req); i += 7000 {
		c.send(req[i:min(i+7000, len(req))])
	}
	if got := c.read(); got != "+OK\r\n" {
		t.Fatalf("SET big = %q", got)
	}
	if got := c.read(); got != "$"+strconv.Itoa(len(val))+"\r\n"+val+"\r\n" {
		t.Fatalf("GET big returned %d bytes", len(got))
	}
}
