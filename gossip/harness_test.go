package gossip

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout is the generous deadline for conditions that take a few
// protocol rounds.
const waitTimeout = 20 * time.Second

func testLogger() *slog.Logger {
	if os.Getenv("GOSSIP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newName(t *testing.T) string {
	t.Helper()
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// links is a shared link filter: isolated addresses talk to nobody.
type links struct {
	mu       sync.Mutex
	isolated map[string]bool
}

func (l *links) allow(from, to string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return from == to || !(l.isolated[from] || l.isolated[to])
}

func (l *links) isolate(addr string, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isolated == nil {
		l.isolated = make(map[string]bool)
	}
	l.isolated[addr] = on
}

// eventLog records the events of one node.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// of returns the events about member name, in delivery order.
func (l *eventLog) of(name string) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.Member.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// testNode is a Gossip behind a minimal Mux substitute: a TCP listener on
// the cluster port whose connections go to HandleStream and are closed when
// it returns (as node/transport.Mux does), and a Dial that dials it.
type testNode struct {
	name string
	g    *Gossip
	ln   net.Listener
	wg   sync.WaitGroup // accept loop and stream handlers
	log  *eventLog

	metaMu sync.Mutex
	meta   []byte

	closeOnce sync.Once
}

type nodeOpts struct {
	name  string
	addr  string // "" = pick a free port
	meta  []byte
	links *links
	tune  func(*Tuning) // adjusts FastTuning
	allow func(from, to string) bool
}

func startNode(t *testing.T, o nodeOpts) *testNode {
	t.Helper()
	n := &testNode{name: o.name, log: &eventLog{}, meta: o.meta}
	if n.name == "" {
		n.name = newName(t)
	}
	var err error
	for attempt := 0; ; attempt++ {
		addr := o.addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		n.ln, err = net.Listen("tcp", addr)
		if err == nil {
			cfg := Config{
				Name:     n.name,
				BindAddr: n.ln.Addr().String(), // UDP on the TCP port number
				Meta:     n.getMeta,
				Dial: func(addr string, timeout time.Duration) (net.Conn, error) {
					return net.DialTimeout("tcp", addr, timeout)
				},
				OnEvent: n.log.add,
				Tuning:  FastTuning(),
				Logger:  testLogger().With("node", n.name[:6]),
			}
			if o.links != nil {
				cfg.Allow = o.links.allow
			}
			if o.allow != nil {
				cfg.Allow = o.allow
			}
			if o.tune != nil {
				o.tune(&cfg.Tuning)
			}
			n.g, err = New(cfg)
			if err == nil {
				break
			}
			_ = n.ln.Close()
		}
		// The UDP port may be taken while the TCP one was free; a fixed
		// address may still be in TIME_WAIT-like limbo for a moment.
		if attempt >= 20 {
			t.Fatalf("start node: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.wg.Add(1)
	go n.acceptLoop()
	t.Cleanup(n.close)
	return n
}

func (n *testNode) acceptLoop() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer c.Close()
			n.g.HandleStream(c)
		}()
	}
}

func (n *testNode) getMeta() []byte {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	return n.meta
}

func (n *testNode) setMeta(m []byte) {
	n.metaMu.Lock()
	n.meta = m
	n.metaMu.Unlock()
}

// close stops the node like a crash: no Leave.
func (n *testNode) close() {
	n.closeOnce.Do(func() {
		_ = n.ln.Close()
		if err := n.g.Close(); err != nil {
			panic(err)
		}
		n.wg.Wait()
	})
}

func (n *testNode) addr() string { return n.g.LocalAddr() }

// startCluster starts count nodes, all joined through the first one.
func startCluster(t *testing.T, count int, l *links) []*testNode {
	t.Helper()
	return startClusterTuned(t, count, l, nil)
}

func startClusterTuned(t *testing.T, count int, l *links, tune func(*Tuning)) []*testNode {
	t.Helper()
	nodes := make([]*testNode, count)
	for i := range nodes {
		nodes[i] = startNode(t, nodeOpts{meta: []byte(fmt.Sprintf("meta-%d", i)), links: l, tune: tune})
	}
	for _, n := range nodes[1:] {
		if _, err := n.g.Join([]string{nodes[0].addr()}); err != nil {
			t.Fatalf("join: %v", err)
		}
	}
	return nodes
}

// waitFor polls cond until it returns "" or the deadline passes.
func waitFor(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stateOf describes how observer sees member: "" if as wanted.
func stateOf(observer, member *testNode, want State) string {
	m, ok := observer.g.Member(member.name)
	if !ok {
		return fmt.Sprintf("%s does not know %s", observer.name[:6], member.name[:6])
	}
	if m.State != want {
		return fmt.Sprintf("%s sees %s %s, want %s", observer.name[:6], member.name[:6], m.State, want)
	}
	return ""
}

// allSee checks that every observer sees every member alive with its meta.
func allSee(observers, members []*testNode) string {
	var errs []string
	for _, o := range observers {
		for _, m := range members {
			got, ok := o.g.Member(m.name)
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("%s misses %s", o.name[:6], m.name[:6]))
			case got.State != StateAlive:
				errs = append(errs, fmt.Sprintf("%s sees %s %s", o.name[:6], m.name[:6], got.State))
			case string(got.Meta) != string(m.getMeta()):
				errs = append(errs, fmt.Sprintf("%s sees %s meta %q, want %q", o.name[:6], m.name[:6], got.Meta, m.getMeta()))
			case got.Addr != m.addr():
				errs = append(errs, fmt.Sprintf("%s sees %s at %s, want %s", o.name[:6], m.name[:6], got.Addr, m.addr()))
			}
		}
	}
	return strings.Join(errs, "; ")
}
