package node

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/gossip"
)

// testCluster runs real nodes in-process: each with its own directory,
// cluster port (raft, RPC, gossip) and a link filter shared by all, so a
// test can cut any link between two nodes both ways.
type testCluster struct {
	t        *testing.T
	groups   int
	replicas int
	mu       sync.Mutex
	nodes    []*Node // nil once stopped
	dirs     []string
	ports    []int // announced client ports (labels only in-process)
	buses    []string
	cut      map[[2]string]bool
	// configure, optional, adjusts node i's Config before it starts.
	configure func(i int, cfg *Config)
}

func newTestCluster(t *testing.T, size, groups, replicas int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, size, groups, replicas, nil)
}

// newTestClusterWith is newTestCluster with configure applied to every
// node's Config (planted bugs, clocks, ...).
func newTestClusterWith(t *testing.T, size, groups, replicas int, configure func(i int, cfg *Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, groups: groups, replicas: replicas, cut: map[[2]string]bool{}, configure: configure}
	for i := 0; i < size; i++ {
		c.add()
	}
	t.Cleanup(c.closeAll)
	c.waitFor(60*time.Second, "cluster formed", func() error { return c.settled(size) })
	return c
}

// allowed is the shared link filter.
func (c *testCluster) allowed(from, to string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.cut[[2]string{from, to}]
}

// isolate cuts every link between node i and the others (both ways).
func (c *testCluster) isolate(i int, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for j, b := range c.buses {
		if j == i {
			continue
		}
		if cut {
			c.cut[[2]string{c.buses[i], b}] = true
			c.cut[[2]string{b, c.buses[i]}] = true
		} else {
			delete(c.cut, [2]string{c.buses[i], b})
			delete(c.cut, [2]string{b, c.buses[i]})
		}
	}
}

// add starts a new node; the first bootstraps, the others join node 0.
func (c *testCluster) add() int {
	c.t.Helper()
	dir := c.t.TempDir()
	c.mu.Lock()
	i := len(c.dirs)
	c.dirs = append(c.dirs, dir)
	c.ports = append(c.ports, 17000+i)
	c.buses = append(c.buses, "")
	c.nodes = append(c.nodes, nil)
	c.mu.Unlock()
	c.start(i)
	return i
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	if c.buses[i] != "" {
		// Restart on the same address: the cluster knows it there.
		ln.Close()
		if ln, err = net.Listen("tcp", c.buses[i]); err != nil {
			c.t.Fatal(err)
		}
	}
	c.mu.Lock()
	c.buses[i] = ln.Addr().String()
	var join []string
	if i > 0 {
		join = []string{c.buses[0]}
	}
	dir, port := c.dirs[i], c.ports[i]
	c.mu.Unlock()
	cfg := Config{
		Dir: dir, Port: port, ClusterListener: ln, ClusterPort: ln.Addr().(*net.TCPAddr).Port,
		Groups: c.groups, Replicas: c.replicas, Logger: quietLogger(), Hz: 20, Join: join,
		Tune:        RaftTuning{HeartbeatTimeout: 150 * time.Millisecond, ElectionTimeout: 150 * time.Millisecond},
		NodeTimeout: 3 * time.Second, Gossip: gossip.FastTuning(), LinkFilter: c.allowed,
		RequireFullCoverage: true,
	}
	if c.configure != nil {
		c.configure(i, &cfg)
	}
	n, err := New(cfg)
	if err != nil {
		c.t.Fatalf("node %d: %v", i, err)
	}
	c.mu.Lock()
	c.nodes[i] = n
	c.mu.Unlock()
}

// stop closes node i (a crash as far as the others can tell: no leave).
func (c *testCluster) stop(i int) {
	c.mu.Lock()
	n := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if n != nil {
		n.Close()
	}
}

func (c *testCluster) closeAll() {
	for i := range c.nodes {
		c.stop(i)
	}
}

func (c *testCluster) live() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, n := range c.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

func (c *testCluster) waitFor(timeout time.Duration, what string, cond func() error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("%s: not reached within %v: %v", what, timeout, err)
}

// settled checks that every live node has the configuration with `size`
// members, every group has its replicas as voters, and every group has a
// leader that all live nodes agree on.
func (c *testCluster) settled(size int) error {
	live := c.live()
	want := min(c.replicas, size)
	for _, n := range live {
		cfg := n.Config()
		if cfg == nil || len(cfg.Nodes) != size {
			return fmt.Errorf("node %s: config %v", n.ID()[:6], cfg)
		}
		for _, gi := range cfg.Groups {
			if len(gi.Replicas) != want {
				return fmt.Errorf("group %d replicas %v", gi.ID, gi.Replicas)
			}
		}
	}
	cfg := live[0].Config()
	for _, gi := range cfg.Groups {
		leader := ""
		for _, n := range live {
			l := n.leaderOf(gi.ID)
			if l == "" || (leader != "" && l != leader) {
				return fmt.Errorf("group %d: leader %q vs %q", gi.ID, l, leader)
			}
			leader = l
		}
		ln := c.byID(leader)
		if ln == nil {
			return fmt.Errorf("group %d led by unknown %s", gi.ID, leader)
		}
		g := ln.group(gi.ID)
		if g == nil {
			return fmt.Errorf("group %d not hosted by its leader", gi.ID)
		}
		v, ok := votersOf(g.host.raft)
		if !ok || len(v) != want {
			return fmt.Errorf("group %d voters %v", gi.ID, v)
		}
		// No replica move in flight either: a non-voter still catching up
		// (or one being removed) means the placement is not final yet.
		if srv, ok := raftServers(g.host.raft); !ok || len(srv) != want {
			return fmt.Errorf("group %d servers %v", gi.ID, srv)
		}
		for _, r := range gi.Replicas {
			if !v[r] {
				return fmt.Errorf("group %d: replica %s not a voter", gi.ID, r[:6])
			}
		}
	}
	return nil
}

func (c *testCluster) byID(id string) *Node {
	for _, n := range c.live() {
		if n.ID() == id {
			return n
		}
	}
	return nil
}

func (c *testCluster) byAddr(addr string) *Node {
	for _, n := range c.live() {
		if fmt.Sprintf("%s:%d", n.cfg.Host, n.cfg.Port) == addr {
			return n
		}
	}
	return nil
}

// client runs one command like a cluster client: it starts at some live
// node, follows MOVED, and retries CLUSTERDOWN/TRYAGAIN until deadline.
func (c *testCluster) client(deadline time.Duration, args ...string) fsm.Reply {
	c.t.Helper()
	end := time.Now().Add(deadline)
	var last fsm.Reply
	hop := 0
	var target *Node
	for time.Now().Before(end) {
		if target == nil {
			live := c.live()
			target = live[hop%len(live)]
		}
		hop++
		last = target.Exec(context.Background(), []Cmd{cmdOf(args...)})[0]
		switch {
		case last.Kind == fsm.KindError && last.Code == fsm.CodeMoved:
			target = c.byAddr(last.Str)
		case last.Kind == fsm.KindError && (last.Code == fsm.CodeClusterDown || last.Code == fsm.CodeTryAgain || last.Code == fsm.CodeSlotNotServed):
			target = nil
			time.Sleep(50 * time.Millisecond)
		default:
			return last
		}
	}
	return last
}

// digest hashes a group's replica state (a snapshot stream is in key order
// and deterministic).
func digest(t *testing.T, g *dataGroup) (uint64, [32]byte) {
	h := sha256.New()
	var idx uint64
	g.fsm.read(func(db *fsm.DB) {
		idx = g.fsm.lastCmd.Load()
		if err := db.Snapshot().WriteTo(h, g.id); err != nil {
			t.Fatal(err)
		}
	})
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return idx, sum
}

// converged compares every group's replicas at equal applied index.
func (c *testCluster) converged() error {
	live := c.live()
	for _, gi := range live[0].Config().Groups {
		var idx0 uint64
		var d0 [32]byte
		first := true
		for _, n := range live {
			g := n.group(gi.ID)
			if g == nil {
				continue
			}
			idx, d := digest(c.t, g)
			if first {
				idx0, d0, first = idx, d, false
				continue
			}
			if idx != idx0 {
				return fmt.Errorf("group %d applied %d vs %d", gi.ID, idx, idx0)
			}
			if d != d0 {
				return fmt.Errorf("group %d: replicas differ at index %d", gi.ID, idx)
			}
		}
	}
	return nil
}

// mostLeading returns the index of the live node leading the most groups.
func (c *testCluster) mostLeading() int {
	best, bestN := -1, -1
	c.mu.Lock()
	nodes := append([]*Node(nil), c.nodes...)
	c.mu.Unlock()
	for i, n := range nodes {
		if n == nil {
			continue
		}
		k := 0
		for _, g := range n.localGroups() {
			if g.host.raft.State() == raft.Leader {
				k++
			}
		}
		if k > bestN {
			best, bestN = i, k
		}
	}
	return best
}
