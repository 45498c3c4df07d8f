package node

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
)

// Bugs are the planted bugs (debug-bugs): test-only switches that break
// Troika's guarantees on purpose, so that the Jepsen-style harness
// (troika-jepsen) can prove it detects such bugs. They need
// Config.DebugUnsafe. Where each one lives is described in DESIGN.md.
type Bugs struct {
	// FollowerReads: a replica that is not the leader answers reads of its
	// groups from its local state at once (no MOVED, no read index).
	FollowerReads bool
	// UnverifiedLeaderReads: a node whose raft believes it leads answers
	// reads from its local state: no VerifyLeader round, no read index, no
	// wait for its term's barrier.
	UnverifiedLeaderReads bool
	// SkipFsync: data groups' log appends are acknowledged while held in
	// memory only and written to the log file in the background (every
	// 2 s): skipped fsyncs followed by a power loss.
	SkipFsync bool
	// ApplyTimeTTL: relative expiries are proposed as they are and
	// resolved in Apply with each replica's own clock.
	ApplyTimeTTL bool
	// RetryProposals: a proposal not applied within 5 ms (or failed) is
	// proposed once more, without deduplication.
	RetryProposals bool
}

// Any reports whether any bug is switched on.
func (b Bugs) Any() bool { return b != Bugs{} }

// errUnsafe refuses bugs without Config.DebugUnsafe.
var errUnsafe = errors.New("planted bugs (debug-bugs) require debug-unsafe")

// SetBugs switches planted bugs on or off at runtime (CONFIG SET
// debug-bugs). SkipFsync takes effect on groups' next appends (the
// delaying log store is installed at start whenever DebugUnsafe is set).
func (n *Node) SetBugs(b Bugs) error {
	if b.Any() && !n.cfg.DebugUnsafe {
		return errUnsafe
	}
	n.bugs.Store(&b)
	if b.Any() {
		n.log.Warn("PLANTED BUGS ACTIVE: this node deliberately violates its consistency guarantees (test-only)", "bugs", fmt.Sprintf("%+v", b))
	} else {
		n.log.Info("planted bugs switched off")
	}
	return nil
}

// planted returns the bugs switched on now.
func (n *Node) planted() Bugs { return *n.bugs.Load() }

// plantedReadRoute is the read routing of the follower-reads and
// unverified-leader-reads bugs: a local replica of the slot's group serves
// the read from its local state, at once, when this node is not the leader
// (follower-reads) or when its raft believes it leads, ready or not
// (unverified-leader-reads). ok is false when neither applies and the read
// is routed normally.
func (n *Node) plantedReadRoute(slot int) (*dataGroup, bool) {
	b := n.planted()
	if !b.FollowerReads && !b.UnverifiedLeaderReads {
		return nil, false
	}
	cfg := n.Config()
	if cfg == nil {
		return nil, false
	}
	g := n.group(uint32(cfg.Slots.Group(slot)))
	if g == nil {
		return nil, false
	}
	leads := g.host.raft.State() == raft.Leader
	if (leads && b.UnverifiedLeaderReads) || (!leads && b.FollowerReads) {
		return g, true
	}
	return nil, false
}

// prepare runs a write's Prepare at the leader with the group's clock.
// Under the apply-time-ttl bug, a command whose relative expiry Prepare
// would turn into an absolute deadline is validated but proposed as the
// client sent it, so that each replica's Apply resolves it with its own
// clock (dataFSM.ApplyBatch).
func (n *Node) prepare(cmd *fsm.Command, args [][]byte, now int64) ([][]byte, error) {
	out, err := cmd.Prepare(args, now)
	if err != nil || !fsm.HasRelativeTime(cmd.Op) || !n.planted().ApplyTimeTTL {
		return out, err
	}
	return args, nil
}
