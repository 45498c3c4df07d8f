package node

import (
	"errors"
	"sync"
	"time"
)

// coverage is the view of which data groups can serve. A group is down when
// no node is known to lead it (no local raft leader and no alive member
// claiming it). That is what a group that lost its quorum looks like, but
// also, for a few milliseconds, a group changing leader (an election or a
// leadership transfer): the group's own slots are refused meanwhile, but
// only a group leaderless for longer than downGrace counts as having lost
// its quorum for the cluster-wide rule (cluster-require-full-coverage).
type coverage struct {
	down    map[uint32]bool // no leader known now
	anyDown bool            // some group leaderless for longer than downGrace
	at      time.Time
}

// downGrace: a leader change (election, transfer) takes well under this.
const downGrace = 2 * time.Second

// leaderless remembers since when each group has had no known leader.
type leaderless struct {
	mu    sync.Mutex
	since map[uint32]time.Time
}

func (n *Node) updateCoverage(cfg *ClusterConfig) {
	now := time.Now()
	c := &coverage{down: map[uint32]bool{}, at: now}
	if cfg == nil {
		c.anyDown = true
		n.cov.Store(c)
		return
	}
	n.noLeader.mu.Lock()
	if n.noLeader.since == nil {
		n.noLeader.since = map[uint32]time.Time{}
	}
	for _, gi := range cfg.Groups {
		if n.leaderOf(gi.ID) != "" {
			delete(n.noLeader.since, gi.ID)
			continue
		}
		c.down[gi.ID] = true
		first, ok := n.noLeader.since[gi.ID]
		if !ok {
			first = now
			n.noLeader.since[gi.ID] = now
		}
		if now.Sub(first) >= downGrace {
			c.anyDown = true
		}
	}
	n.noLeader.mu.Unlock()
	n.cov.Store(c)
}

// coverageView returns the current coverage (computed now if the loop has
// not run yet).
func (n *Node) coverageView() *coverage {
	if c := n.cov.Load(); c != nil {
		return c
	}
	n.updateCoverage(n.Config())
	return n.cov.Load()
}

// apMode reports whether the committed configuration is in AP mode.
func (n *Node) apMode() bool {
	cfg := n.Config()
	return cfg != nil && cfg.Mode == "ap"
}

// requireFull: every data command fails while any group is down
// (cluster-require-full-coverage yes, CP mode).
func (n *Node) requireFull() bool { return n.reqFull.Load() && !n.apMode() }

// allowReadsDown: reads on a down group are served from the local replica,
// possibly stale (cluster-allow-reads-when-down yes, or AP mode).
func (n *Node) allowReadsDown() bool { return n.readsDown.Load() || n.apMode() }

// SetCoverage applies cluster-require-full-coverage and
// cluster-allow-reads-when-down (CONFIG SET). These are per node, as in
// Redis; the AP mode (SetMode) turns both on cluster-wide.
func (n *Node) SetCoverage(requireFull, allowReadsWhenDown bool) {
	n.reqFull.Store(requireFull)
	n.readsDown.Store(allowReadsWhenDown)
}

// SetMode switches the whole cluster between "cp" and "ap" through the meta
// group, so every node agrees (CONFIG SET cluster-mode).
func (n *Node) SetMode(mode string) error {
	if mode != "cp" && mode != "ap" {
		return errors.New("cluster-mode must be cp or ap")
	}
	if cfg := n.Config(); cfg != nil && cfg.Mode == mode {
		return nil
	}
	return n.proposeMeta(&metaCmd{Op: metaOpMode, Mode: mode})
}

// Mode returns the cluster's committed mode ("cp" before the configuration
// is known).
func (n *Node) Mode() string {
	if cfg := n.Config(); cfg != nil && cfg.Mode != "" {
		return cfg.Mode
	}
	return "cp"
}
