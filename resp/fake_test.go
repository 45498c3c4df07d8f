package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troika-db/troika/fsm"
)

// fakeBackend is an in-memory string store that records every Exec call.
type fakeBackend struct {
	mu      sync.Mutex
	data    map[string]string
	calls   [][]Cmd
	txns    [][]Cmd
	cluster [][]string
	info    map[string]string
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{data: make(map[string]string), info: make(map[string]string)}
}

func (f *fakeBackend) Exec(_ context.Context, cmds []Cmd) []fsm.Reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]Cmd(nil), cmds...))
	out := make([]fsm.Reply, len(cmds))
	for i, c := range cmds {
		out[i] = f.exec(c)
	}
	return out
}

func (f *fakeBackend) exec(c Cmd) fsm.Reply {
	a := c.Args
	switch strings.ToLower(string(a[0])) {
	case "set":
		if string(a[1]) == "panic" {
			panic("fake backend: asked to panic")
		}
		f.data[string(a[1])] = string(a[2])
		return fsm.OK
	case "get":
		v, ok := f.data[string(a[1])]
		if !ok {
			return fsm.Nil
		}
		return fsm.Bulk(v)
	case "incr":
		n, err := strconv.ParseInt(f.data[string(a[1])], 10, 64)
		if err != nil && f.data[string(a[1])] != "" {
			return fsm.Err(fsm.CodeNotInt)
		}
		f.data[string(a[1])] = strconv.FormatInt(n+1, 10)
		return fsm.Int(n + 1)
	case "mset":
		for i := 1; i+1 < len(a); i += 2 {
			f.data[string(a[i])] = string(a[i+1])
		}
		return fsm.OK
	case "mget":
		var arr []fsm.Reply
		for _, k := range a[1:] {
			if v, ok := f.data[string(k)]; ok {
				arr = append(arr, fsm.Bulk(v))
			} else {
				arr = append(arr, fsm.Nil)
			}
		}
		return fsm.Array(arr...)
	case "dbsize":
		return fsm.Int(int64(len(f.data)))
	case "incrbyfloat":
		return fsm.Double(1.5)
	case "expire":
		return fsm.ErrArg(fsm.CodeInvalidExpire, "EXPIRE")
	case "ttl":
		return fsm.Reply{Kind: fsm.KindMap, Arr: []fsm.Reply{fsm.Bulk("k"), fsm.Int(1)}}
	case "del":
		return fsm.Reply{Kind: fsm.KindError, Code: fsm.CodeMoved, Int: 3999, Str: "127.0.0.1:7001"}
	}
	return fsm.ErrMsg("ERR fake backend does not implement " + string(a[0]))
}

// ExecTxn runs the commands under the lock (atomically), recording the
// block as one call; a "txn-moved" key makes the whole block redirect.
func (f *fakeBackend) ExecTxn(_ context.Context, cmds []Cmd, watches []Watch) ([]fsm.Reply, fsm.Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txns = append(f.txns, append([]Cmd(nil), cmds...))
	out := make([]fsm.Reply, len(cmds))
	for i, c := range cmds {
		if len(c.Args) > 1 && string(c.Args[1]) == "txn-moved" {
			return nil, fsm.Reply{Kind: fsm.KindError, Code: fsm.CodeMoved, Int: int64(c.Slot), Str: "127.0.0.1:7001"}
		}
		out[i] = f.exec(c)
	}
	return out, fsm.Reply{}
}

// Watch: the fake's version of every slot is the number of Exec calls.
func (f *fakeBackend) Watch(_ context.Context, slot int) (uint64, fsm.Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.calls)), fsm.Reply{}
}

func (f *fakeBackend) Cluster(_ context.Context, args [][]byte) fsm.Reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, a := range args {
		s = append(s, string(a))
	}
	f.cluster = append(f.cluster, s)
	if len(args) > 1 && strings.EqualFold(string(args[1]), "keyslot") {
		return fsm.Int(12182)
	}
	return fsm.Status("cluster:" + strings.ToLower(string(args[1])))
}

func (f *fakeBackend) Info(section string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info[section]
}

func (f *fakeBackend) execCalls() [][]Cmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]Cmd(nil), f.calls...)
}

// fakeSettings is a tiny CONFIG store.
type fakeSettings struct {
	mu sync.Mutex
	m  map[string]string
}

func newFakeSettings() *fakeSettings {
	return &fakeSettings{m: map[string]string{
		"maxclients": "10000", "timeout": "0", "requirepass": "", "maxmemory": "0",
		"slowlog-log-slower-than": "10000", "slowlog-max-len": "128",
		"proto-max-bulk-len": "536870912", "client-query-buffer-limit": "1073741824",
	}}
}

func (s *fakeSettings) Get(pattern string) [][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][2]string
	for k, v := range s.m {
		if fsm.GlobMatchString(pattern, k, true) {
			out = append(out, [2]string{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func (s *fakeSettings) Set(name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[name]; !ok {
		return fmt.Errorf("Unknown option or number of arguments for CONFIG SET - '%s'", name)
	}
	if name == "maxclients" || name == "timeout" {
		if _, err := strconv.Atoi(value); err != nil {
			return fmt.Errorf("CONFIG SET failed (possibly related to argument '%s') - argument couldn't be parsed into an integer", name)
		}
	}
	s.m[name] = value
	return nil
}

// testServer starts a Server on a loopback port and closes it at cleanup,
// checking that Serve returned ErrServerClosed.
func testServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Backend == nil {
		cfg.Backend = newFakeBackend()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return srv, ln.Addr().String()
}

// rawConn is a test client speaking raw bytes.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	// A generous deadline so that a bug fails the test instead of hanging it.
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// do sends a command as a multibulk request and returns the raw reply.
func (c *rawConn) do(args ...string) string {
	c.t.Helper()
	c.send(encodeCommand(args...))
	return c.read()
}

func encodeCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// read returns the next complete reply, raw.
func (c *rawConn) read() string {
	c.t.Helper()
	s, err := readRawReply(c.br)
	if err != nil {
		c.t.Fatalf("reading reply: %v", err)
	}
	return s
}

// expectEOF asserts that the server closes the connection.
func (c *rawConn) expectEOF() {
	c.t.Helper()
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("expected the connection to be closed, got %q", string(b)+string(rest))
	}
}

// readRawReply reads one RESP2/RESP3 reply and returns its exact bytes.
func readRawReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("malformed reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', '-', ':', ',', '_', '#', '(':
		return line, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		if n < 0 {
			return line, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return line + string(buf), nil
	case '*', '~', '%', '>', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		var b strings.Builder
		b.WriteString(line)
		for range max(n, 0) {
			s, err := readRawReply(br)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unknown reply type %q", line)
}
