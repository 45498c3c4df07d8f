package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/gossip"
	"github.com/troika-db/troika/node/raftstore"
	"github.com/troika-db/troika/node/transport"
	"github.com/troika-db/troika/slots"
)

// Config configures a Node. The wiring (cmd/troika-server) fills it from
// the redis.conf directives.
type Config struct {
	Dir         string // data directory
	Host        string // address announced to clients and peers
	Port        int    // client (RESP) port, announced in CLUSTER replies
	ClusterPort int    // node-to-node port (raft for every group)
	// ClusterListener, if set, is used instead of listening on ClusterPort
	// (tests pass 127.0.0.1:0 listeners).
	ClusterListener net.Listener
	Groups          int  // data groups created when bootstrapping (cluster-groups)
	Replicas        int  // replicas per group (cluster-replicas)
	NoSync          bool // appendfsync no/everysec: acknowledge before fsync (unsafe)
	// SyncEvery, with NoSync, fsyncs the log periodically (appendfsync
	// everysec: 1s). Zero never syncs explicitly (appendfsync no).
	SyncEvery time.Duration
	Tune      RaftTuning
	Hz        int // active expiry cycles per second
	Mode      string
	// Join lists members (cluster or client ports) to join through; empty
	// bootstraps a new one-node cluster when the directory is empty.
	Join []string
	// BindHost is the address the cluster port's UDP gossip socket binds
	// (default: Host).
	BindHost string
	// BusPort is the cluster port announced to peers (cluster-announce-bus-port);
	// 0 means ClusterPort.
	BusPort int
	// NodeTimeout: a node dead longer than this has its replicas placed
	// elsewhere (cluster-node-timeout). Default 15 s.
	NodeTimeout time.Duration
	// RequireFullCoverage and AllowReadsWhenDown are the Redis directives
	// (cluster-require-full-coverage, cluster-allow-reads-when-down); the
	// AP mode turns both on regardless. See SetCoverage.
	RequireFullCoverage bool
	AllowReadsWhenDown  bool
	// OnModeChange, optional, is called (from the cluster loop) with the
	// committed cluster-mode whenever it differs from the last one seen,
	// including once at startup, so that CONFIG GET shows it on every node.
	OnModeChange func(mode string)
	// Gossip tunes failure detection (zero: LAN defaults).
	Gossip gossip.Tuning
	// LinkFilter, for tests, cuts links between cluster addresses (raft,
	// RPC and gossip alike).
	LinkFilter transport.LinkFilter
	Logger     *slog.Logger
	// Clock is the node's data clock: it stamps log entries and TTL
	// deadlines and decides expiry (reads, active expiry, apply-time-ttl).
	// Raft's timers do not use it. Default time.Now; the wiring shifts it
	// by debug-clock-offset-ms.
	Clock func() time.Time
	// DebugUnsafe allows planted bugs (debug-unsafe). It also installs the
	// delaying log store that the SkipFsync bug switches on, so that bug
	// can be set at runtime.
	DebugUnsafe bool
	// Bugs are the planted bugs on at start (debug-bugs); see SetBugs.
	Bugs Bugs

	// Test knobs: the SkipFsync background write period (default 2 s) and
	// the RetryProposals delay (default 5 ms; retryNow: re-propose at once).
	skipFsyncEvery time.Duration
	retryAfter     time.Duration
	retryNow       bool
}

func (c Config) busPort() int {
	if c.BusPort != 0 {
		return c.BusPort
	}
	return c.ClusterPort
}

func (c Config) bindHost() string {
	if c.BindHost != "" {
		return c.BindHost
	}
	return c.Host
}

// identity is what a node persists about itself outside raft.
type identity struct {
	ID string `json:"id"`
	// Founder is true for the node that bootstrapped the cluster: it (and
	// only it) bootstraps the meta group and the initial data groups, and
	// only while they have no state at all.
	Founder bool     `json:"founder"`
	Groups  []uint32 `json:"groups"` // data groups hosted here
}

// Node hosts the meta group and this node's replicas of the data groups.
type Node struct {
	cfg   Config
	log   *slog.Logger
	id    identity
	start time.Time

	store     *raftstore.Store
	ln        net.Listener
	mux       *transport.Mux
	advertise net.Addr
	gossip    *gossip.Gossip
	rpc       *rpcClient

	// Leader hints from gossip, cached briefly (see hintedLeader).
	hintsMu  sync.Mutex
	hints    map[uint32]leadHint
	hintNode map[uint32]string
	hintsAt  time.Time

	kickCh     chan struct{}
	pubQueue   chan pubItem
	pubsubSink atomic.Pointer[func(channel, message []byte, sharded bool)]
	// cov is the coverage view the cluster loop keeps current.
	cov      atomic.Pointer[coverage]
	noLeader leaderless
	reqFull  atomic.Bool
	// nodeTimeout (ns): see Config.NodeTimeout and SetNodeTimeout.
	nodeTimeout atomic.Int64
	readsDown   atomic.Bool
	// notListed: local groups the configuration no longer places here,
	// with when that was first seen (owned by the cluster loop).
	notListed map[uint32]time.Time
	lastMeta  []byte
	lastMode  string
	transfers map[uint32]time.Time

	meta     *raftHost
	metaFSM  *metaFSM
	groupsMu sync.RWMutex
	groups   map[uint32]*dataGroup

	hz   atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup

	// bugs: the planted bugs switched on (never nil).
	bugs atomic.Pointer[Bugs]
	// holdMu guards holds: data groups whose leadership this node took by
	// CLUSTER FAILOVER, with when the automatic preferred-leader balancing
	// may move it again (see failoverHold).
	holdMu sync.Mutex
	holds  map[uint32]time.Time
}

// New opens (or creates) the node's data directory and starts its groups.
// A node whose directory is empty bootstraps a one-node cluster owning all
// slots; restarted on the same directory it comes back with its identity
// and data.
func New(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Groups <= 0 {
		cfg.Groups = 16
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 3
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Hz <= 0 {
		cfg.Hz = 10
	}
	if cfg.Mode == "" {
		cfg.Mode = "cp"
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = 15 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.skipFsyncEvery <= 0 {
		cfg.skipFsyncEvery = 2 * time.Second
	}
	if cfg.retryAfter <= 0 {
		cfg.retryAfter = 5 * time.Millisecond
	}
	if cfg.Bugs.Any() && !cfg.DebugUnsafe {
		return nil, errUnsafe
	}
	n := &Node{cfg: cfg, log: cfg.Logger, start: time.Now(), groups: map[uint32]*dataGroup{}, stop: make(chan struct{}),
		kickCh: make(chan struct{}, 1), pubQueue: make(chan pubItem, 4096), notListed: map[uint32]time.Time{}, transfers: map[uint32]time.Time{}}
	n.holds = map[uint32]time.Time{}
	bugs := cfg.Bugs
	n.bugs.Store(&bugs)
	n.hz.Store(int64(cfg.Hz))
	n.reqFull.Store(cfg.RequireFullCoverage)
	n.nodeTimeout.Store(int64(cfg.NodeTimeout))
	n.readsDown.Store(cfg.AllowReadsWhenDown)
	if err := n.loadIdentity(); err != nil {
		return nil, err
	}
	n.log = n.log.With("node", n.id.ID[:8])
	if bugs.Any() {
		n.log.Warn("PLANTED BUGS ACTIVE: this node deliberately violates its consistency guarantees (test-only)", "bugs", fmt.Sprintf("%+v", bugs))
	}
	if err := n.open(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) identityPath() string { return filepath.Join(n.cfg.Dir, "troika-node.json") }

func (n *Node) loadIdentity() error {
	b, err := os.ReadFile(n.identityPath())
	if err == nil {
		if err := json.Unmarshal(b, &n.id); err != nil || len(n.id.ID) != 40 {
			return fmt.Errorf("node identity %s is corrupt: %v", n.identityPath(), err)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("node identity: %w", err)
	}
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("node id: %w", err)
	}
	n.id = identity{ID: hex.EncodeToString(raw[:]), Founder: len(n.cfg.Join) == 0}
	if n.id.Founder {
		for g := 1; g <= n.cfg.Groups; g++ {
			n.id.Groups = append(n.id.Groups, uint32(g))
		}
	}
	// Written before anything is bootstrapped: a crash in between leaves an
	// identity whose groups have no state, which bootstraps again safely.
	return n.saveIdentity()
}

func (n *Node) saveIdentity() error {
	b, err := json.MarshalIndent(n.id, "", "  ")
	if err != nil {
		return err
	}
	tmp := n.identityPath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("save identity: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save identity: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, n.identityPath()); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	return nil
}

// ID returns the node's 40-character id.
func (n *Node) ID() string { return n.id.ID }

func (n *Node) busAddr() string {
	return net.JoinHostPort(n.cfg.Host, strconv.Itoa(n.cfg.busPort()))
}

func (n *Node) open() error {
	var err error
	n.store, err = raftstore.Open(raftstore.Config{Path: filepath.Join(n.cfg.Dir, "raft.db"), NoSync: n.cfg.NoSync, Logger: n.log})
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	n.ln = n.cfg.ClusterListener
	if n.ln == nil {
		n.ln, err = net.Listen("tcp", net.JoinHostPort(n.cfg.Host, strconv.Itoa(n.cfg.ClusterPort)))
		if err != nil {
			return fmt.Errorf("cluster port: %w", err)
		}
	}
	if tcp, ok := n.ln.Addr().(*net.TCPAddr); ok && n.cfg.ClusterPort == 0 {
		n.cfg.ClusterPort = tcp.Port
	}
	n.mux = transport.New(n.ln, transport.Config{Logger: n.log, Advertise: n.busAddr(), LinkFilter: n.cfg.LinkFilter})
	advertise, err := net.ResolveTCPAddr("tcp", n.busAddr())
	if err != nil {
		return fmt.Errorf("cluster address: %w", err)
	}
	n.advertise = advertise
	n.rpc = newRPCClient(n.mux)
	n.mux.Handle(kindRPC, n.serveRPC)
	self := []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(n.id.ID), Address: raft.ServerAddress(n.busAddr())}}
	var boot []raft.Server
	if n.id.Founder {
		boot = self
	}
	n.metaFSM = &metaFSM{}
	n.meta, err = startRaftHost(raftHostConfig{
		ID: 0, NodeID: n.id.ID, Dir: groupDir(n.cfg.Dir, 0), Store: n.store, Mux: n.mux,
		Advertise: advertise, FSM: n.metaFSM, Logger: n.log, Tune: n.cfg.Tune, Bootstrap: boot,
	})
	if err != nil {
		return err
	}
	n.meta.onLead = func(bool) { n.kick() }
	n.meta.onReady = n.kick
	n.meta.start()
	for _, gid := range n.id.Groups {
		if err := n.startGroup(gid, boot); err != nil {
			return err
		}
	}
	if err := n.startGossip(); err != nil {
		return err
	}
	n.wg.Add(3)
	go n.clusterLoop()
	go n.publishLoop()
	go n.rejoinLoop()
	if len(n.cfg.Join) > 0 {
		n.wg.Add(1)
		go n.joinLoop(n.cfg.Join)
	}
	if n.cfg.NoSync && n.cfg.SyncEvery > 0 {
		n.wg.Add(1)
		go n.syncLoop()
	}
	return nil
}

// syncLoop implements appendfsync everysec.
func (n *Node) syncLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if err := n.store.Sync(); err != nil {
				n.log.Warn("periodic log fsync failed", "err", err)
			}
		}
	}
}

func (n *Node) startGroup(gid uint32, boot []raft.Server) error {
	advertise := n.advertise
	g := &dataGroup{id: gid, log: n.log.With("group", gid), stop: make(chan struct{}), now: n.nowMS}
	g.fsm = newDataFSM(dataFSMConfig{
		Group: gid, Log: g.log,
		OnFatal: func(err error) {
			n.log.Error("data group stopped by a fatal apply error; this node no longer serves it", "group", gid, "err", err)
			n.removeGroup(gid)
		},
		Clock:        n.nowMS,
		ApplyTimeTTL: func() bool { return n.planted().ApplyTimeTTL },
	})
	hc := raftHostConfig{
		ID: gid, NodeID: n.id.ID, Dir: groupDir(n.cfg.Dir, gid), Store: n.store, Mux: n.mux,
		Advertise: advertise, FSM: g.fsm, Logger: n.log, Tune: n.cfg.Tune, Bootstrap: boot,
	}
	if n.cfg.DebugUnsafe {
		hc.SkipFsync = func() bool { return n.planted().SkipFsync }
		hc.SkipFsyncEvery = n.cfg.skipFsyncEvery
	}
	host, err := startRaftHost(hc)
	if err != nil {
		return err
	}
	g.host = host
	// Raft restores the newest snapshot inside NewRaft; nothing newer is
	// visible yet, so its index is what the FSM holds.
	g.fsm.publish(host.raft.AppliedIndex())
	// After a term's barrier, every entry up to the barrier is applied,
	// including no-ops and barriers raft never hands to the FSM.
	host.afterBarrier = func(index uint64) { g.fsm.publish(index) }
	host.onLead = func(bool) { n.kick() }
	host.onReady = n.kick
	g.prop = newProposer(host.raft, g.clock)
	g.prop.retry = func() bool { return n.planted().RetryProposals }
	g.prop.retryAfter, g.prop.retryNow = n.cfg.retryAfter, n.cfg.retryNow
	g.reads = newReadIndexer(host, g.fsm)
	g.hz.Store(n.hz.Load())
	host.start()
	g.wg.Add(1)
	go g.expiryLoop()
	n.groupsMu.Lock()
	n.groups[gid] = g
	n.groupsMu.Unlock()
	return nil
}

// nowMS reads the data clock (Config.Clock) in unix ms.
func (n *Node) nowMS() int64 { return n.cfg.Clock().UnixMilli() }

func (n *Node) removeGroup(gid uint32) {
	n.groupsMu.Lock()
	g := n.groups[gid]
	delete(n.groups, gid)
	n.groupsMu.Unlock()
	if g != nil {
		g.close()
	}
}

// group returns the local replica of data group gid, or nil.
func (n *Node) group(gid uint32) *dataGroup {
	n.groupsMu.RLock()
	g := n.groups[gid]
	n.groupsMu.RUnlock()
	return g
}

// localGroups returns the local data groups sorted by id.
func (n *Node) localGroups() []*dataGroup {
	n.groupsMu.RLock()
	out := make([]*dataGroup, 0, len(n.groups))
	for _, g := range n.groups {
		out = append(out, g)
	}
	n.groupsMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (n *Node) self() NodeInfo {
	return NodeInfo{ID: n.id.ID, Host: n.cfg.Host, Port: n.cfg.Port, BusPort: n.cfg.busPort()}
}

func (n *Node) initialConfig() *ClusterConfig {
	c := &ClusterConfig{
		Nodes:    []NodeInfo{n.self()},
		Slots:    slots.Even(len(n.id.Groups)),
		Replicas: n.cfg.Replicas,
		Mode:     n.cfg.Mode,
	}
	for _, gid := range n.id.Groups {
		c.Groups = append(c.Groups, GroupInfo{ID: gid, Replicas: []string{n.id.ID}})
	}
	// Even() numbers groups from 0; data group ids start at 1.
	var m slots.Map
	for _, r := range c.Slots.Ranges() {
		m.Set(r.Range, r.Group+1)
	}
	c.Slots = m
	return c
}

// proposeMeta submits a configuration change through the meta leader,
// wherever it is.
func (n *Node) proposeMeta(cmd *metaCmd) error {
	if _, ok := n.meta.ready(); ok {
		return n.proposeMetaLocal(cmd)
	}
	addr := n.metaLeader()
	if addr == "" {
		return errors.New("meta group has no leader")
	}
	body, err := encodeMetaCmd(cmd)
	if err != nil {
		return err
	}
	_, err = n.rpc.call(addr, rpcRequest{Method: rpcProposeMeta, Body: body}, rpcTimeout)
	return err
}

// encodeMetaCmd renders a meta-group log entry (the slot map of a
// configuration in its binary form).
func encodeMetaCmd(cmd *metaCmd) ([]byte, error) {
	if cmd.Config != nil {
		if _, err := cmd.Config.encode(); err != nil {
			return nil, err
		}
	}
	return json.Marshal(cmd)
}

// proposeMetaLocal applies cmd on the local meta raft (which must lead).
func (n *Node) proposeMetaLocal(cmd *metaCmd) error {
	b, err := encodeMetaCmd(cmd)
	if err != nil {
		return err
	}
	f := n.meta.raft.Apply(b, 5*time.Second)
	if err := f.Error(); err != nil {
		return err
	}
	if e, ok := f.Response().(error); ok && e != nil {
		return e
	}
	return nil
}

// Config returns the current committed cluster configuration (nil before
// the cluster is initialised).
func (n *Node) Config() *ClusterConfig { return n.metaFSM.config() }

// WaitReady blocks until the cluster configuration is known and every local
// group has a leader that is ready to serve.
func (n *Node) WaitReady(ctx context.Context) error {
	for {
		if n.Ready() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node not ready: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ready reports whether the configuration is known and every group of the
// configuration has a known leader, and the local ones that this node leads
// are ready.
func (n *Node) Ready() bool {
	cfg := n.Config()
	if cfg == nil {
		return false
	}
	if me, ok := cfg.Node(n.id.ID); !ok || me != n.self() {
		return false
	}
	for _, gi := range cfg.Groups {
		g := n.group(gi.ID)
		if g == nil {
			continue
		}
		addr, _ := g.host.leaderAddr()
		if addr == "" {
			return false
		}
		if addr == n.busAddr() {
			if _, ok := g.host.ready(); !ok {
				return false
			}
		}
	}
	return true
}

// SetNodeTimeout changes how long a node may be gone before its replicas
// are placed elsewhere (CONFIG SET cluster-node-timeout). Gossip's failure
// detection profile stays the one chosen at start.
func (n *Node) SetNodeTimeout(d time.Duration) {
	if d > 0 {
		n.nodeTimeout.Store(int64(d))
	}
}

// SetHz changes the active expiry frequency (CONFIG SET hz).
func (n *Node) SetHz(hz int) {
	if hz <= 0 {
		return
	}
	n.hz.Store(int64(hz))
	for _, g := range n.localGroups() {
		g.hz.Store(int64(hz))
	}
}

// Close stops every group and waits for all goroutines.
func (n *Node) Close() error {
	select {
	case <-n.stop:
		return nil
	default:
	}
	close(n.stop)
	n.wg.Wait()
	var errs []error
	for _, g := range n.localGroups() {
		n.removeGroup(g.id)
	}
	if n.meta != nil {
		if err := n.meta.close(); err != nil {
			errs = append(errs, fmt.Errorf("meta group: %w", err))
		}
	}
	if n.gossip != nil {
		if err := n.gossip.Close(); err != nil {
			errs = append(errs, fmt.Errorf("gossip: %w", err))
		}
	}
	if n.rpc != nil {
		n.rpc.close()
	}
	if n.mux != nil {
		if err := n.mux.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cluster port: %w", err))
		}
	} else if n.ln != nil {
		n.ln.Close()
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raft log: %w", err))
		}
	}
	return errors.Join(errs...)
}
