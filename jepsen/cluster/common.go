package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stopGrace is how long a node removed from the cluster gets to exit after
// SIGTERM (it hands over its leaderships for up to 5 s) before SIGKILL.
const stopGrace = 15 * time.Second

// node is one server of a local or docker cluster.
type node struct {
	Node
	dir     string   // data dir on this machine (<Dir>/<name>)
	args    []string // server arguments (after the binary or image)
	id      string   // CLUSTER MYID, once known
	removed bool     // RemoveNode took it out for good
	paused  bool

	// local backend
	ns, veth string
	proc     *process

	// docker backend
	container string
}

// driver is what a backend does to machines: the generic cluster type
// below keeps the node table and the partition, and implements the
// Cluster methods on top of it.
type driver interface {
	// prepare creates node n's network attachment before its first launch.
	prepare(ctx context.Context, n *node) error
	// launch starts node n's server (first start or restart) and returns
	// once the process or container runs.
	launch(ctx context.Context, n *node) error
	// alive reports whether n's server process exists (paused counts).
	alive(ctx context.Context, n *node) bool
	// signal kills (SIGKILL, waiting until it is gone), terminates
	// (SIGTERM, SIGKILL after stopGrace), pauses or resumes n.
	kill(ctx context.Context, n *node) error
	terminate(ctx context.Context, n *node) error
	pause(ctx context.Context, n *node) error
	resume(ctx context.Context, n *node) error
	// setRules replaces the contents of partChain in n's namespace with
	// rules (iptables rule specs without "-A chain"). A docker node that
	// is not running is skipped: launch's caller reapplies them.
	setRules(ctx context.Context, n *node, rules []string) error
	// diagnose returns the tail of n's logs, for errors.
	diagnose(n *node) string
	// close stops every server and removes what the driver created.
	close(ctx context.Context, nodes []*node) error
}

// cluster implements Cluster for the local and docker backends.
type cluster struct {
	kind        string
	runID       string
	opt         Options
	log         *slog.Logger
	drv         driver
	ipOf        func(i int) string // test-network address of node i
	port        int                // client port inside each node
	clusterPort int                // cluster bus port

	closeCtx    context.Context // canceled by Close: aborts operations in flight
	closeCancel context.CancelFunc

	ops sync.Mutex // serializes fault operations (and Close)

	mu     sync.Mutex // guards nodes, part, closed
	nodes  []*node
	part   *partition
	closed bool
}

func newCluster(kind, runID string, opt Options, drv driver, ipOf func(int) string) *cluster {
	c := &cluster{kind: kind, runID: runID, opt: opt, log: opt.Log, drv: drv, ipOf: ipOf}
	c.port, c.clusterPort = serverPorts(opt.ServerArgs)
	c.closeCtx, c.closeCancel = context.WithCancel(context.Background())
	return c
}

// serverPorts returns the client and cluster ports the server will use
// given extra arguments (the last --port / --cluster-port wins, as in the
// server; 0 for the cluster port means port+10000).
func serverPorts(args []string) (port, cport int) {
	port = 6379
	for i := 0; i+1 < len(args); i++ {
		switch strings.ToLower(args[i]) {
		case "--port":
			if v, err := strconv.Atoi(args[i+1]); err == nil {
				port = v
			}
		case "--cluster-port":
			if v, err := strconv.Atoi(args[i+1]); err == nil {
				cport = v
			}
		}
	}
	if cport == 0 {
		cport = port + 10000
	}
	return port, cport
}

// begin takes the operation lock and returns a context also canceled by
// Close; the caller must call the returned func.
func (c *cluster) begin(ctx context.Context) (context.Context, func(), error) {
	c.ops.Lock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		c.ops.Unlock()
		return nil, nil, errors.New("cluster: closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.closeCtx, cancel)
	return ctx, func() { stop(); cancel(); c.ops.Unlock() }, nil
}

// node returns node i, or an error when i is out of range.
func (c *cluster) node(i int) (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.nodes) {
		return nil, fmt.Errorf("cluster: no node %d (have %d)", i, len(c.nodes))
	}
	return c.nodes[i], nil
}

func (c *cluster) snapshot() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nodes)
}

func (c *cluster) Nodes() []Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Node
	}
	return out
}

func (c *cluster) LogPath(i int) string {
	n, err := c.node(i)
	if err != nil {
		return ""
	}
	return filepath.Join(n.dir, "troika.log")
}

// addNode creates node index len(nodes) joining through join (none: it
// bootstraps), starts it and waits until its client port answers.
func (c *cluster) addNode(ctx context.Context, join []string) (*node, error) {
	c.mu.Lock()
	i := len(c.nodes)
	n := &node{Node: Node{Index: i, Name: "n" + strconv.Itoa(i+1)}}
	n.IP = c.ipOf(i)
	n.Addr = net.JoinHostPort(n.IP, strconv.Itoa(c.port))
	n.dir = filepath.Join(c.opt.Dir, n.Name)
	c.nodes = append(c.nodes, n) // listed at once, so that Close cleans it up
	c.mu.Unlock()

	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return n, fmt.Errorf("node %s: data dir: %w", n.Name, err)
	}
	n.args = []string{"--cluster-announce-ip", n.IP}
	if len(join) > 0 {
		n.args = append(n.args, "--cluster-join", strings.Join(join, ","))
	}
	n.args = append(n.args, c.opt.ServerArgs...)
	c.log.Info("starting node", "node", n.Name, "ip", n.IP, "join", join)
	if err := c.drv.prepare(ctx, n); err != nil {
		return n, fmt.Errorf("node %s: %w", n.Name, err)
	}
	if err := c.startNode(ctx, n); err != nil {
		return n, err
	}
	id, err := respString(ctx, n.Addr, "CLUSTER", "MYID")
	if err != nil {
		return n, fmt.Errorf("node %s: CLUSTER MYID: %w", n.Name, err)
	}
	c.mu.Lock()
	n.id = id
	c.mu.Unlock()
	// An active partition covers the new node too (it is in no component).
	if c.currentPartition() != nil {
		if err := c.applyPartition(ctx); err != nil {
			return n, err
		}
	}
	return n, nil
}

// startNode launches n, applies its partition rules, and waits until its
// client port answers.
func (c *cluster) startNode(ctx context.Context, n *node) error {
	if err := c.drv.launch(ctx, n); err != nil {
		return fmt.Errorf("node %s: start: %w", n.Name, err)
	}
	n.paused = false
	if err := c.drv.setRules(ctx, n, c.rulesFor(n.Index)); err != nil {
		return fmt.Errorf("node %s: partition rules: %w", n.Name, err)
	}
	if err := c.waitAnswers(ctx, n); err != nil {
		return fmt.Errorf("node %s: %w%s", n.Name, err, c.drv.diagnose(n))
	}
	return nil
}

// waitAnswers polls n's client port until PING gets any reply.
func (c *cluster) waitAnswers(ctx context.Context, n *node) error {
	return poll(ctx, 100*time.Millisecond, func() error {
		if !c.drv.alive(ctx, n) {
			return errStop{fmt.Errorf("server exited before answering on %s", n.Addr)}
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := respCommand(pctx, n.Addr, "PING")
		var re respError
		if errors.As(err, &re) {
			return nil // e.g. LOADING: it answers
		}
		return err
	})
}

// errStop makes poll give up at once.
type errStop struct{ error }

func (e errStop) Unwrap() error { return e.error }

// poll calls f every interval until it returns nil, an errStop, or ctx
// ends (then the last error is returned with ctx's).
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		var stop errStop
		if errors.As(err, &stop) {
			return stop.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// waitFormed waits until every listed node answers CLUSTER INFO with
// cluster_state:ok and at least want known nodes, and the first one's
// CLUSTER NODES lists at least want nodes.
func waitFormed(ctx context.Context, nodes []Node, want int) error {
	return poll(ctx, 250*time.Millisecond, func() error {
		for _, n := range nodes {
			info, err := respString(ctx, n.Addr, "CLUSTER", "INFO")
			if err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
			if st := infoField(info, "cluster_state"); st != "ok" {
				return fmt.Errorf("%s: cluster_state:%s", n.Name, st)
			}
			if k, _ := strconv.Atoi(infoField(info, "cluster_known_nodes")); k < want {
				return fmt.Errorf("%s: cluster_known_nodes:%d, want %d", n.Name, k, want)
			}
		}
		text, err := respString(ctx, nodes[0].Addr, "CLUSTER", "NODES")
		if err != nil {
			return fmt.Errorf("%s: %w", nodes[0].Name, err)
		}
		if k := len(parseClusterNodes(text)); k < want {
			return fmt.Errorf("%s: CLUSTER NODES lists %d nodes, want %d", nodes[0].Name, k, want)
		}
		return nil
	})
}

// start brings up the initial opt.Nodes nodes: node 0 bootstraps, the
// others join it; then it waits until the cluster is formed.
func (c *cluster) start(ctx context.Context) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, c.opt.ReadyTimeout)
	defer cancel()
	n0, err := c.addNode(ctx, nil)
	if err != nil {
		return err
	}
	for i := 1; i < c.opt.Nodes; i++ {
		if _, err := c.addNode(ctx, []string{n0.Addr}); err != nil {
			return err
		}
	}
	if err := waitFormed(ctx, c.Nodes(), c.opt.Nodes); err != nil {
		return fmt.Errorf("cluster did not form: %w", err)
	}
	c.log.Info("cluster formed", "nodes", c.opt.Nodes)
	return nil
}

func (c *cluster) Kill(ctx context.Context, i int) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.removed || !c.drv.alive(ctx, n) {
		return nil
	}
	c.log.Info("kill", "node", n.Name)
	if err := c.drv.kill(ctx, n); err != nil {
		return fmt.Errorf("kill %s: %w", n.Name, err)
	}
	n.paused = false
	return nil
}

func (c *cluster) Start(ctx context.Context, i int) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.removed {
		return fmt.Errorf("start %s: node was removed from the cluster", n.Name)
	}
	if c.drv.alive(ctx, n) {
		return nil
	}
	c.log.Info("start", "node", n.Name)
	return c.startNode(ctx, n)
}

func (c *cluster) Pause(ctx context.Context, i int) error {
	return c.pauseResume(ctx, i, true)
}

func (c *cluster) Resume(ctx context.Context, i int) error {
	return c.pauseResume(ctx, i, false)
}

// pauseResume pauses or resumes node i; a node that is not running (or
// already in that state) is left alone.
func (c *cluster) pauseResume(ctx context.Context, i int, pause bool) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.removed || n.paused == pause || !c.drv.alive(ctx, n) {
		return nil
	}
	if pause {
		c.log.Info("pause", "node", n.Name)
		err = c.drv.pause(ctx, n)
	} else {
		c.log.Info("resume", "node", n.Name)
		err = c.drv.resume(ctx, n)
	}
	if err != nil {
		return fmt.Errorf("pause/resume %s: %w", n.Name, err)
	}
	n.paused = pause
	return nil
}

func (c *cluster) AddNode(ctx context.Context) (int, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return -1, err
	}
	defer done()
	var join []string
	for _, n := range c.snapshot() {
		if !n.removed && c.drv.alive(ctx, n) {
			join = append(join, n.Addr)
		}
	}
	if len(join) == 0 {
		return -1, errors.New("add node: no running node to join through")
	}
	n, err := c.addNode(ctx, join)
	if err != nil {
		idx := -1
		if n != nil {
			idx = n.Index
		}
		return idx, fmt.Errorf("add node: %w", err)
	}
	// Joined once another member lists it and it sees the cluster ok.
	err = poll(ctx, 250*time.Millisecond, func() error {
		info, err := respString(ctx, n.Addr, "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if st := infoField(info, "cluster_state"); st != "ok" {
			return fmt.Errorf("%s: cluster_state:%s", n.Name, st)
		}
		text, err := respString(ctx, join[0], "CLUSTER", "NODES")
		if err != nil {
			return err
		}
		for _, l := range parseClusterNodes(text) {
			if l.ID == n.id {
				return nil
			}
		}
		return fmt.Errorf("%s does not list %s yet", join[0], n.Name)
	})
	if err != nil {
		return n.Index, fmt.Errorf("add node %s: join: %w", n.Name, err)
	}
	c.log.Info("node added", "node", n.Name, "id", n.id)
	return n.Index, nil
}

func (c *cluster) RemoveNode(ctx context.Context, i int) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.removed {
		return nil
	}
	if n.id == "" {
		return fmt.Errorf("remove %s: its node id is unknown (it never answered)", n.Name)
	}
	c.log.Info("remove", "node", n.Name, "id", n.id)
	forgotten, via := false, ""
	var errs []error
	for _, o := range c.snapshot() {
		if o == n || o.removed || o.paused || !c.drv.alive(ctx, o) {
			continue
		}
		_, err := respCommand(ctx, o.Addr, "CLUSTER", "FORGET", n.id)
		var re respError
		if errors.As(err, &re) && strings.Contains(string(re), "Unknown node") {
			forgotten, via = true, o.Addr
			break
		}
		if err == nil {
			via = o.Addr
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", o.Name, err))
	}
	if via == "" {
		return fmt.Errorf("remove %s: no node accepted CLUSTER FORGET: %w", n.Name, errors.Join(errs...))
	}
	if !forgotten {
		err = poll(ctx, 250*time.Millisecond, func() error {
			text, err := respString(ctx, via, "CLUSTER", "NODES")
			if err != nil {
				return err
			}
			for _, l := range parseClusterNodes(text) {
				if l.ID == n.id {
					return fmt.Errorf("%s still lists %s", via, n.Name)
				}
			}
			return nil
		})
	}
	// Stop it in any case (the interface says: or ctx ends).
	sctx, cancel := context.WithTimeout(c.closeCtx, stopGrace+10*time.Second)
	defer cancel()
	n.removed = true
	var serr error
	if c.drv.alive(sctx, n) {
		serr = c.drv.terminate(sctx, n)
	}
	n.paused = false
	if err := errors.Join(err, serr); err != nil {
		return fmt.Errorf("remove %s: %w", n.Name, err)
	}
	c.log.Info("node removed", "node", n.Name)
	return nil
}

func (c *cluster) Close() error {
	c.closeCancel()
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.log.Info("closing cluster")
	err := c.drv.close(ctx, c.snapshot())
	if err == nil {
		err = unregisterRun(c.runID)
	}
	if err != nil {
		return fmt.Errorf("close %s cluster %s: %w", c.kind, c.runID, err)
	}
	return nil
}

var (
	_ Cluster = (*cluster)(nil)
	_ Cluster = (*existing)(nil)
	_ driver  = (*localDriver)(nil)
	_ driver  = (*dockerDriver)(nil)
)
