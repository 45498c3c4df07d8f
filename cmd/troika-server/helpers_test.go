package main

// Helpers shared by the end-to-end, differential and hostile-input suites:
// the troika-server binary built once per run, child-process management for
// troika-server and redis-server, and a raw RESP client that returns reply
// bytes untouched for byte-exact comparison.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	redisServerBin = "redis-server"
	redisCLIBin    = "redis-cli"
	systemPython   = "/usr/bin/python3" // the python3 that has python3-redis
	readyTimeout   = 60 * time.Second   // generous: only bounds waiting for readiness
	replyTimeout   = 30 * time.Second   // generous: a hung server fails instead of hanging the run
)

// troikaBin is the troika-server binary built by TestMain.
var troikaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "troika-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdtemp:", err)
		os.Exit(1)
	}
	troikaBin = filepath.Join(dir, "troika-server")
	args := []string{"build", "-o", troikaBin}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build troika-server: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{} // never hand out a port twice in one run
)

// freePorts returns n distinct TCP ports that were free a moment ago. They
// are taken below the kernel's ephemeral range, so that outgoing
// connections of concurrently running tests cannot grab them between the
// check and the server's bind; callers still retry on a bind failure
// (another process on the machine may take one).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	lo, hi := 20000, 32000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var elo, ehi int
		if _, err := fmt.Sscan(string(b), &elo, &ehi); err == nil && elo > lo+1000 && elo <= hi {
			hi = elo
		}
	}
	portMu.Lock()
	defer portMu.Unlock()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			t.Fatal("no free TCP port found")
		}
		p := lo + rand.IntN(hi-lo)
		if portsUsed[p] {
			continue
		}
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		portsUsed[p] = true
		ports = append(ports, p)
	}
	return ports
}

// troikaProc is one troika-server child process. Restarting keeps the
// ports, directory and arguments.
type troikaProc struct {
	t           testing.TB
	port        int
	clusterPort int
	dir         string
	logFile     string // --logfile
	outFile     string // stdout+stderr of every run
	pass        string // --requirepass, used by the readiness probe
	extra       []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
	err  error         // cmd.Wait result
}

// startTroika starts troika-server on a fresh data directory and waits until
// CLUSTER INFO reports cluster_state:ok. extra are further --directive args.
func startTroika(t testing.TB, extra ...string) *troikaProc {
	t.Helper()
	logDir := t.TempDir()
	ports := freePorts(t, 2)
	p := &troikaProc{
		t:           t,
		port:        ports[0],
		clusterPort: ports[1],
		dir:         t.TempDir(),
		logFile:     filepath.Join(logDir, "troika.log"),
		outFile:     filepath.Join(logDir, "troika.out"),
		extra:       extra,
	}
	for i := 0; i+1 < len(extra); i++ {
		if extra[i] == "--requirepass" {
			p.pass = extra[i+1]
		}
	}
	t.Cleanup(func() {
		if t.Failed() && p.alive() {
			p.logRaftInfo()
			p.quit() // a goroutine dump helps with hangs
		}
		p.stop()
		out, _ := os.ReadFile(p.outFile)
		if checkRaces(t, out); t.Failed() {
			p.dumpLogs()
		}
	})
	for attempt := 1; ; attempt++ {
		err := p.launch()
		if err == nil {
			p.requireFSMCaughtUp()
			return p
		}
		// Another process may have taken a port since freePorts checked it.
		if out, _ := os.ReadFile(p.outFile); attempt < 4 && bytes.Contains(out, []byte("address already in use")) {
			ports := freePorts(t, 2)
			p.port, p.clusterPort = ports[0], ports[1]
			continue
		}
		p.dumpLogs()
		t.Fatal(err)
	}
}

func (p *troikaProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// start launches the process (again) and waits for readiness.
func (p *troikaProc) start() {
	p.t.Helper()
	if err := p.launch(); err != nil {
		p.dumpLogs()
		p.t.Fatal(err)
	}
	p.requireFSMCaughtUp()
}

var raftGroupRe = regexp.MustCompile(`(?m)^(group_\d+):role=leader,.*,applied_index=(\d+),fsm_index=(\d+),`)

// requireFSMCaughtUp waits until, in INFO raft, the FSM of every data group
// this node leads has reached raft's applied index (a follower's FSM stops
// at the last command: raft hands it no no-ops or barriers). On an idle node that was just (re)started
// they must converge; a group that stays behind serves no read (this was a
// bug: the term barrier published raft's lagging AppliedIndex).
func (p *troikaProc) requireFSMCaughtUp() {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var behind []string
		c, err := dialRaw(p.addr())
		if err != nil {
			p.t.Fatal(err)
		}
		if p.pass != "" {
			c.do("AUTH", p.pass)
		}
		info, err := c.do("INFO", "raft")
		c.close()
		if err != nil {
			p.t.Fatal(err)
		}
		groups := raftGroupRe.FindAllStringSubmatch(string(info), -1)
		for _, m := range groups {
			applied, _ := strconv.ParseUint(m[2], 10, 64)
			fsmIdx, _ := strconv.ParseUint(m[3], 10, 64)
			if fsmIdx < applied {
				behind = append(behind, fmt.Sprintf("%s fsm_index=%d < applied_index=%d", m[1], fsmIdx, applied))
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("after startup the FSM applied index never catches up (reads of the group would "+
				"answer TRYAGAIN forever): %s", strings.Join(behind, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launch starts the process and waits for readiness; it fails if the
// process exits or does not become ready in time.
func (p *troikaProc) launch() error {
	args := append([]string{"--port", strconv.Itoa(p.port), "--cluster-port", strconv.Itoa(p.clusterPort),
		"--dir", p.dir, "--logfile", p.logFile}, p.extra...)
	out, err := os.OpenFile(p.outFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "=== start %s\n", strings.Join(args, " "))
	cmd := exec.Command(troikaBin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start troika-server: %w", err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		out.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return p.waitReady()
}

// alive reports whether the current process is still running.
func (p *troikaProc) alive() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL (kill -9) and waits for the process to exit.
func (p *troikaProc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// logRaftInfo logs INFO raft (per-group indexes), for failure reports.
func (p *troikaProc) logRaftInfo() {
	c, err := dialRaw(p.addr())
	if err != nil {
		return
	}
	defer c.close()
	if p.pass != "" {
		c.do("AUTH", p.pass)
	}
	if r, err := c.do("INFO", "raft"); err == nil {
		p.t.Logf("INFO raft at failure:\n%s", r)
	}
}

// quit sends SIGQUIT, so that the Go runtime writes every goroutine's
// stack to the output file, and waits a little for the exit.
func (p *troikaProc) quit() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || !p.alive() {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// stop is kill for cleanup: idempotent.
func (p *troikaProc) stop() { p.kill() }

// restart kills the process and starts it again on the same directory.
func (p *troikaProc) restart() {
	p.t.Helper()
	p.kill()
	p.start()
}

func (p *troikaProc) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	last := ""
	for time.Now().Before(deadline) {
		if !p.alive() {
			p.mu.Lock()
			defer p.mu.Unlock()
			return fmt.Errorf("troika-server exited during startup: %v", p.err)
		}
		c, err := dialRaw(p.addr())
		if err == nil {
			if p.pass != "" {
				c.do("AUTH", p.pass)
			}
			r, err := c.do("CLUSTER", "INFO")
			c.close()
			if err == nil && bytes.Contains(r, []byte("cluster_state:ok")) {
				return nil
			}
			last = fmt.Sprintf("%q %v", r, err)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("troika-server on %s not ready after %v: %s", p.addr(), readyTimeout, last)
}

// dumpLogs prints the tail of the log file and of stdout/stderr.
func (p *troikaProc) dumpLogs() {
	for _, f := range []string{p.outFile, p.logFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		limit := 6 << 10
		if f == p.outFile && bytes.Contains(b, []byte("SIGQUIT")) {
			limit = 512 << 10 // the goroutine dump
		}
		if len(b) > limit {
			b = b[len(b)-limit:]
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				b = b[i+1:]
			}
		}
		p.t.Logf("---- %s (tail) ----\n%s", f, b)
	}
}

// checkRaces fails t for every data race the race detector reported in a
// troika-server's output (only a -race build reports any).
func checkRaces(t testing.TB, out []byte) {
	t.Helper()
	reports := strings.Split(string(out), "WARNING: DATA RACE")
	for _, r := range reports[1:] {
		if end := strings.Index(r, "=================="); end >= 0 {
			r = r[:end]
		}
		t.Errorf("the race detector reported a data race in troika-server:%s", r)
	}
}

// skipIfBlocked skips a check that fails because of a reported bug, unless
// TROIKA_RUN_BLOCKED=1 (to see whether the bug is fixed).
func skipIfBlocked(t *testing.T, bug string) {
	t.Helper()
	if bug != "" && os.Getenv("TROIKA_RUN_BLOCKED") == "" {
		t.Skip("blocked on " + bug + " (TROIKA_RUN_BLOCKED=1 runs it)")
	}
}

// requireBinary skips the test when name is not on PATH.
func requireBinary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("skipped: %s is not installed (CI installs it)", name)
	}
	return path
}

// startRedis starts a real redis-server in cluster mode owning all 16384
// slots, waits for cluster_state:ok, and returns its address.
func startRedis(t testing.TB, extra ...string) string {
	t.Helper()
	bin := requireBinary(t, redisServerBin)
	for attempt := 1; ; attempt++ {
		addr, err := launchRedis(t, bin, extra)
		if err == nil {
			return addr
		}
		// Another process may have taken a port since freePorts checked it.
		if attempt < 4 && strings.Contains(err.Error(), "already in use") {
			continue
		}
		t.Fatal(err)
	}
}

func launchRedis(t testing.TB, bin string, extra []string) (string, error) {
	ports := freePorts(t, 2)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "redis.log")
	args := append([]string{"--port", strconv.Itoa(ports[0]), "--cluster-port", strconv.Itoa(ports[1]),
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--dir", dir, "--logfile", logFile}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	pass := ""
	for i := 0; i+1 < len(extra); i++ {
		if extra[i] == "--requirepass" {
			pass = extra[i+1]
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	deadline := time.Now().Add(readyTimeout)
	slotsAdded := false
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile)
			return "", fmt.Errorf("redis-server exited during startup:\n%s", log)
		default:
		}
		c, err := dialRaw(addr)
		if err != nil {
			last = err.Error()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if pass != "" {
			c.do("AUTH", pass)
		}
		if !slotsAdded {
			r, err := c.do("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
			if err == nil && string(r) != "+OK\r\n" {
				c.close()
				return "", fmt.Errorf("redis CLUSTER ADDSLOTSRANGE: %q", r)
			}
			slotsAdded = err == nil
		}
		r, err := c.do("CLUSTER", "INFO")
		c.close()
		if err == nil && bytes.Contains(r, []byte("cluster_state:ok")) {
			return addr, nil
		}
		last = fmt.Sprintf("%q %v", r, err)
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("redis-server on %s not ready: %s", addr, last)
}

// rawConn is a minimal RESP client returning raw reply bytes.
type rawConn struct {
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(addr string) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

func mustDial(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := dialRaw(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func (c *rawConn) close() { c.nc.Close() }

// encode returns args as a RESP multibulk request.
func encode(args ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

// send writes raw bytes.
func (c *rawConn) send(raw []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(replyTimeout))
	_, err := c.nc.Write(raw)
	return err
}

// read returns the next complete reply, raw.
func (c *rawConn) read() ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(replyTimeout))
	var b bytes.Buffer
	err := readReply(c.br, &b)
	return b.Bytes(), err
}

// do sends one command and returns its raw reply.
func (c *rawConn) do(args ...string) ([]byte, error) {
	if err := c.send(encode(args...)); err != nil {
		return nil, err
	}
	return c.read()
}

// mustDo is do for setup steps: any I/O error fails the test.
func (c *rawConn) mustDo(t testing.TB, args ...string) string {
	t.Helper()
	r, err := c.do(args...)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return string(r)
}

// pipeline writes req (n commands) while reading the n replies, so that
// neither side blocks on a full socket buffer.
func (c *rawConn) pipeline(t testing.TB, req []byte, n int) [][]byte {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- c.send(req) }()
	out := make([][]byte, n)
	for i := range n {
		r, err := c.read()
		if err != nil {
			t.Fatalf("pipelined reply %d of %d: %v", i, n, err)
		}
		out[i] = r
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return out
}

// readToEOF collects replies until the server closes the connection.
func (c *rawConn) readToEOF() (string, error) {
	var all bytes.Buffer
	for {
		r, err := c.read()
		all.Write(r)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err) {
				return all.String(), nil
			}
			return all.String(), err
		}
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// readReply copies one RESP2/RESP3 reply from br into out.
func readReply(br *bufio.Reader, out *bytes.Buffer) error {
	line, err := br.ReadBytes('\n')
	out.Write(line)
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("malformed reply line %q", line)
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return nil
	case '$', '!', '=':
		n, err := strconv.Atoi(body)
		if err != nil {
			return fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			out.Write(buf)
			return err
		}
		out.Write(buf)
		return nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return fmt.Errorf("bad aggregate length %q", line)
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if err := readReply(br, out); err != nil {
				return err
			}
		}
		if line[0] == '|' { // an attribute precedes the actual reply
			return readReply(br, out)
		}
		return nil
	}
	return fmt.Errorf("unknown reply type %q", line)
}

// rnode is a parsed reply, for the comparators that look inside replies.
type rnode struct {
	typ   byte
	str   string // simple/bulk/number text, or the raw line for aggregates
	raw   string // the reply's full bytes
	elems []rnode
}

func parseReply(raw []byte) (rnode, error) {
	n, rest, err := parseNode(raw)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("trailing bytes %q", rest)
	}
	return n, err
}

func parseNode(b []byte) (rnode, []byte, error) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 1 {
		return rnode{}, nil, fmt.Errorf("short reply %q", b)
	}
	n := rnode{typ: b[0], str: string(b[1:i])}
	rest := b[i+2:]
	switch n.typ {
	case '$', '!', '=':
		l, err := strconv.Atoi(n.str)
		if err != nil {
			return n, nil, err
		}
		if l >= 0 {
			if len(rest) < l+2 {
				return n, nil, fmt.Errorf("short bulk")
			}
			n.str, rest = string(rest[:l]), rest[l+2:]
		}
	case '*', '~', '>', '%':
		l, err := strconv.Atoi(n.str)
		if err != nil {
			return n, nil, err
		}
		if n.typ == '%' {
			l *= 2
		}
		for j := 0; j < l; j++ {
			var e rnode
			e, rest, err = parseNode(rest)
			if err != nil {
				return n, nil, err
			}
			n.elems = append(n.elems, e)
		}
	}
	n.raw = string(b[:len(b)-len(rest)])
	return n, rest, nil
}
