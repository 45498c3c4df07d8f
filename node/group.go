package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/node/raftlog"
	"github.com/troika-db/troika/node/raftstore"
	"github.com/troika-db/troika/node/transport"
)

// raftHost is one raft instance of this node (the meta group or a data
// group) with the plumbing every group shares: its slice of the node-wide
// log store, a stream on the shared cluster port, a snapshot store, and the
// leadership watcher that makes a new leader serve only after an entry of
// its own term has been applied.
type raftHost struct {
	id     uint32
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	log    *slog.Logger
	onLead func(leader bool) // optional, called from the watcher goroutine
	// onReady, optional, runs (on the watcher goroutine) once a new term's
	// barrier is applied and the group serves.
	onReady func()

	// readyTerm is the term in which this node, as leader, has applied a
	// barrier (so every entry committed by earlier leaders is applied).
	readyTerm atomic.Uint64
	// afterBarrier runs once the barrier of a new term has completed, with
	// the barrier's log index (everything up to it is applied), before
	// the group is marked ready (the data group publishes its applied index).
	afterBarrier func(index uint64)

	stable *hostStable
	lazy   *lazyLog // nil unless skip-fsync may be switched on

	stop chan struct{}
	wg   sync.WaitGroup
}

// hostStable is the group's stable store as its raft sees it. Once the
// group's raft has shut down, writes are dropped: hashicorp/raft handles
// heartbeats on transport goroutines that can outlive Shutdown, and one
// that raises the term would otherwise hit a closed store and panic. The
// raft instance is gone by then, so nothing depends on that write.
type hostStable struct {
	*raftstore.GroupStore
	closed atomic.Bool
}

func (s *hostStable) Set(key, val []byte) error {
	if s.closed.Load() {
		return nil
	}
	return s.GroupStore.Set(key, val)
}

func (s *hostStable) SetUint64(key []byte, val uint64) error {
	if s.closed.Load() {
		return nil
	}
	return s.GroupStore.SetUint64(key, val)
}

type raftHostConfig struct {
	ID        uint32
	NodeID    string
	Dir       string // per-group directory for snapshots
	Store     *raftstore.Store
	Mux       *transport.Mux
	Advertise net.Addr
	FSM       raft.FSM
	Logger    *slog.Logger
	Tune      RaftTuning
	// Bootstrap, when non-empty and the group has no state yet, bootstraps
	// the group with these voters (exactly once: never when state exists).
	Bootstrap []raft.Server
	// SkipFsync, when set (debug-unsafe), wraps the log store in a lazyLog
	// that delays appends while it reports the skip-fsync bug on; they
	// reach the log file every SkipFsyncEvery.
	SkipFsync      func() bool
	SkipFsyncEvery time.Duration
}

// RaftTuning holds the raft timing and log-compaction knobs.
type RaftTuning struct {
	HeartbeatTimeout  time.Duration
	ElectionTimeout   time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
}

func (t RaftTuning) withDefaults() RaftTuning {
	if t.HeartbeatTimeout == 0 {
		t.HeartbeatTimeout = time.Second
	}
	if t.ElectionTimeout == 0 {
		t.ElectionTimeout = time.Second
	}
	if t.SnapshotThreshold == 0 {
		t.SnapshotThreshold = 8192
	}
	if t.TrailingLogs == 0 {
		t.TrailingLogs = 10240
	}
	if t.SnapshotInterval == 0 {
		t.SnapshotInterval = 30 * time.Second
	}
	return t
}

func startRaftHost(cfg raftHostConfig) (*raftHost, error) {
	t := cfg.Tune.withDefaults()
	name := fmt.Sprintf("raft-g%d", cfg.ID)
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = raftlog.New(cfg.Logger, name)
	rc.HeartbeatTimeout = t.HeartbeatTimeout
	rc.ElectionTimeout = t.ElectionTimeout
	rc.LeaderLeaseTimeout = t.HeartbeatTimeout / 2
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotThreshold = t.SnapshotThreshold
	rc.TrailingLogs = t.TrailingLogs
	rc.SnapshotInterval = t.SnapshotInterval
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rc.NoSnapshotRestoreOnStart = false

	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("group %d: %w", cfg.ID, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, rc.Logger)
	if err != nil {
		return nil, fmt.Errorf("group %d: snapshot store: %w", cfg.ID, err)
	}
	gs := &hostStable{GroupStore: cfg.Store.Group(cfg.ID)}
	var base raft.LogStore = gs.GroupStore
	var lazy *lazyLog
	if cfg.SkipFsync != nil {
		lazy = newLazyLog(gs.GroupStore, cfg.SkipFsync, cfg.SkipFsyncEvery, cfg.Logger.With("group", cfg.ID))
		base = lazy
	}
	// closeLazy undoes newLazyLog when starting fails.
	closeLazy := func() {
		if lazy != nil {
			_ = lazy.close()
		}
	}
	logs, err := raft.NewLogCache(256, base)
	if err != nil {
		closeLazy()
		return nil, fmt.Errorf("group %d: log cache: %w", cfg.ID, err)
	}
	stream, err := cfg.Mux.Listen(cfg.ID, cfg.Advertise)
	if err != nil {
		closeLazy()
		return nil, fmt.Errorf("group %d: listen: %w", cfg.ID, err)
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 4,
		Timeout: 10 * time.Second,
		Logger:  rc.Logger,
	})
	if len(cfg.Bootstrap) > 0 {
		has, err := raft.HasExistingState(logs, gs, snaps)
		if err != nil {
			trans.Close()
			closeLazy()
			return nil, fmt.Errorf("group %d: inspect state: %w", cfg.ID, err)
		}
		if !has {
			conf := raft.Configuration{Servers: cfg.Bootstrap}
			if err := raft.BootstrapCluster(rc, logs, gs, snaps, trans, conf); err != nil {
				trans.Close()
				closeLazy()
				return nil, fmt.Errorf("group %d: bootstrap: %w", cfg.ID, err)
			}
		}
	}
	r, err := raft.NewRaft(rc, cfg.FSM, logs, gs, snaps, noPipeline{trans})
	if err != nil {
		trans.Close()
		closeLazy()
		return nil, fmt.Errorf("group %d: start raft: %w", cfg.ID, err)
	}
	h := &raftHost{id: cfg.ID, raft: r, trans: trans, stable: gs, lazy: lazy, log: cfg.Logger.With("group", cfg.ID), stop: make(chan struct{})}
	return h, nil
}

// start launches the leadership watcher. Call after the owner has set the
// hooks (afterBarrier, onLead).
func (h *raftHost) start() {
	h.wg.Add(1)
	go h.watchLeadership()
}

// ready reports whether this node leads the group in a term whose barrier
// has been applied. term is the current term.
func (h *raftHost) ready() (term uint64, ok bool) {
	term = h.raft.CurrentTerm()
	return term, h.readyTerm.Load() == term && h.raft.State() == raft.Leader
}

func (h *raftHost) watchLeadership() {
	defer h.wg.Done()
	leaderCh := h.raft.LeaderCh()
	for {
		select {
		case <-h.stop:
			return
		case isLeader := <-leaderCh:
			h.readyTerm.Store(0)
			if h.onLead != nil {
				h.onLead(isLeader)
			}
			if isLeader {
				h.establish()
			}
		}
	}
}

// establish applies a barrier in the new term, retrying while this node is
// still the leader; only then may it serve reads and writes.
func (h *raftHost) establish() {
	for attempt := 0; ; attempt++ {
		if h.raft.State() != raft.Leader {
			return
		}
		term := h.raft.CurrentTerm()
		err := h.raft.Barrier(5 * time.Second).Error()
		if err == nil {
			// Nothing is proposed in this term before the group is ready,
			// so the last log index is the barrier's own index. (raft's
			// AppliedIndex is not: it is advanced after the FSM goroutine
			// may already have answered the barrier.)
			if h.afterBarrier != nil {
				h.afterBarrier(h.raft.LastIndex())
			}
			if h.raft.CurrentTerm() == term && h.raft.State() == raft.Leader {
				h.readyTerm.Store(term)
				h.log.Info("leader ready", "term", term)
				if h.onReady != nil {
					h.onReady()
				}
			}
			return
		}
		if errors.Is(err, raft.ErrRaftShutdown) {
			return
		}
		h.log.Warn("barrier failed", "term", term, "attempt", attempt, "err", err)
		select {
		case <-h.stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leaderAddr returns the cluster (raft) address and id of the current leader.
func (h *raftHost) leaderAddr() (string, string) {
	addr, id := h.raft.LeaderWithID()
	return string(addr), string(id)
}

// verify confirms leadership for a linearizable read. The future always
// completes: raft answers it when a quorum responds, when leadership is
// lost, or at shutdown.
func (h *raftHost) verify() error { return h.raft.VerifyLeader().Error() }

// close stops the watcher and shuts raft down.
func (h *raftHost) close() error {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	err := h.raft.Shutdown().Error()
	h.stable.closed.Store(true)
	h.wg.Wait()
	h.trans.Close()
	if h.lazy != nil {
		if lerr := h.lazy.close(); lerr != nil {
			err = errors.Join(err, fmt.Errorf("group %d: %w", h.id, lerr))
		}
	}
	return err
}

func groupDir(dataDir string, id uint32) string {
	return filepath.Join(dataDir, "groups", fmt.Sprintf("g%d", id))
}

// noPipeline turns off hashicorp/raft's pipelined replication. Its pipeline
// can deadlock (v1.7.3): when a follower answers Success=false, the decoder
// goroutine exits while the sender parks on a full in-flight channel, so
// replication to that follower stops for good (heartbeats continue, so no
// election heals it) and Shutdown hangs. Seen here during leadership
// transfers in a 5-node test; also hashicorp/raft#612 and
// grafana/pyroscope#5518. Without the pipeline, raft sends one batched
// AppendEntries at a time per follower.
type noPipeline struct{ *raft.NetworkTransport }

func (noPipeline) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}
