package node

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
)

// Cmd is one data command from a client connection (the wiring converts
// resp.Cmd into it). Slot is -1 for node-wide commands without keys.
type Cmd struct {
	Args     [][]byte
	Slot     int
	Write    bool
	ReadOnly bool
	Asking   bool
}

// readTimeout bounds how long a read waits for its linearizable barrier.
const readTimeout = 5 * time.Second

// Exec runs a connection's pipeline. Consecutive keyed writes are prepared
// at the leader and proposed together (one proposal per group, packed with
// other clients' proposals into one log entry by the group's proposer);
// consecutive keyed reads share one read barrier per group. Segments run in
// order, so a command observes every earlier command of the pipeline.
func (n *Node) Exec(ctx context.Context, cmds []Cmd) []fsm.Reply {
	replies := make([]fsm.Reply, len(cmds))
	for i := 0; i < len(cmds); {
		if cmds[i].Slot < 0 {
			replies[i] = n.execNodeWide(ctx, cmds[i])
			i++
			continue
		}
		j := i + 1
		for j < len(cmds) && cmds[j].Slot >= 0 && cmds[j].Write == cmds[i].Write {
			j++
		}
		if cmds[i].Write {
			n.execWrites(ctx, cmds[i:j], replies[i:j])
		} else {
			n.execReads(ctx, cmds[i:j], replies[i:j])
		}
		i = j
	}
	return replies
}

// readMode says how a routed read is served.
type readMode int

const (
	readLeader   readMode = iota // linearizable on the leader (read index round)
	readFollower                 // linearizable on a follower: the leader's verified commit index, applied locally
	readStale                    // local replica as is (AP, or reads allowed while the group is down)
)

// route returns the local replica that serves slot for this command and how
// a read is served there, or the reply that sends the client elsewhere
// (MOVED to the group's leader) or tells it the slot cannot be served
// (CLUSTERDOWN variants, as Redis words them for each setting).
func (n *Node) route(ctx context.Context, slot int, write, readOnly bool) (*dataGroup, readMode, fsm.Reply) {
	cfg := n.Config()
	if cfg == nil {
		return nil, 0, fsm.Err(fsm.CodeClusterDown)
	}
	gid := uint32(cfg.Slots.Group(slot))
	g := n.group(gid)
	cov := n.coverageView()
	if cov.anyDown || cov.down[gid] {
		// The view is refreshed every 100 ms; before refusing anything,
		// look again now (leaders may have just been elected).
		n.updateCoverage(cfg)
		cov = n.cov.Load()
	}
	down := cov.down[gid]
	if (n.requireFull() && cov.anyDown) || down {
		if n.allowReadsDown() {
			if write {
				return nil, 0, fsm.Err(fsm.CodeClusterDownRO)
			}
			if down {
				if g != nil {
					return g, readStale, fsm.Reply{}
				}
				if r, ok := n.movedToReplica(cfg, gid, slot); ok {
					return nil, 0, r
				}
				return nil, 0, fsm.Err(fsm.CodeClusterDown)
			}
			// The cluster is down but this slot's group is not: serve
			// the read normally below.
		} else if down && !n.requireFull() {
			return nil, 0, fsm.Err(fsm.CodeSlotNotServed)
		} else {
			return nil, 0, fsm.Err(fsm.CodeClusterDown)
		}
	}
	if g == nil {
		if id := n.leaderOf(gid); id != "" {
			if ni, ok := cfg.Node(id); ok {
				return nil, 0, moved(slot, ni)
			}
		}
		if r, ok := n.movedToReplica(cfg, gid, slot); ok {
			return nil, 0, r
		}
		return nil, 0, fsm.Err(fsm.CodeClusterDown)
	}
	var deadline time.Time
	for {
		if _, ok := g.host.ready(); ok {
			return g, readLeader, fsm.Reply{}
		}
		leaderID := n.leaderOf(gid)
		if !write && readOnly && leaderID != n.id.ID {
			if n.apMode() {
				return g, readStale, fsm.Reply{}
			}
			if leaderID != "" {
				return g, readFollower, fsm.Reply{}
			}
		}
		switch {
		case leaderID == "":
			if n.requireFull() {
				return nil, 0, fsm.Err(fsm.CodeClusterDown)
			}
			return nil, 0, fsm.Err(fsm.CodeSlotNotServed)
		case leaderID != n.id.ID:
			if ni, ok := cfg.Node(leaderID); ok {
				return nil, 0, moved(slot, ni)
			}
			return nil, 0, fsm.Err(fsm.CodeClusterDown)
		}
		// This node was just elected: its term barrier is being applied.
		if deadline.IsZero() {
			deadline = time.Now().Add(readTimeout)
		} else if time.Now().After(deadline) {
			return nil, 0, fsm.Err(fsm.CodeTryAgain)
		}
		select {
		case <-ctx.Done():
			return nil, 0, fsm.Err(fsm.CodeTryAgain)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// movedToReplica sends the client to the first alive node placed to hold
// group gid (used when no leader is known, for reads allowed while down).
func (n *Node) movedToReplica(cfg *ClusterConfig, gid uint32, slot int) (fsm.Reply, bool) {
	gi, ok := cfg.Group(gid)
	if !ok {
		return fsm.Reply{}, false
	}
	for _, id := range gi.Replicas {
		if id != n.id.ID && n.alive(id) {
			if ni, ok := cfg.Node(id); ok {
				return moved(slot, ni), true
			}
		}
	}
	return fsm.Reply{}, false
}

func moved(slot int, ni NodeInfo) fsm.Reply {
	return fsm.Reply{Kind: fsm.KindError, Code: fsm.CodeMoved, Int: int64(slot), Str: ni.Addr()}
}

type groupBatch struct {
	g    *dataGroup
	idx  []int
	cmds []prepared
	res  proposalResult
}

func (n *Node) execWrites(ctx context.Context, cmds []Cmd, replies []fsm.Reply) {
	// A pipeline touches few groups: a slice scan beats a map here.
	var order []*groupBatch
	for i, c := range cmds {
		cmd := fsm.Commands.Lookup(c.Args[0])
		if cmd == nil || !cmd.Write {
			replies[i] = unknownCommand(c.Args)
			continue
		}
		g, _, redirect := n.route(ctx, c.Slot, true, false)
		if g == nil {
			replies[i] = redirect
			continue
		}
		args, err := n.prepare(cmd, c.Args, g.clock())
		if err != nil {
			replies[i] = fsm.ErrReply(err)
			continue
		}
		target := fsm.Commands.Lookup(args[0])
		if target == nil {
			replies[i] = fsm.ErrMsg("ERR internal error: bad rewrite")
			continue
		}
		var b *groupBatch
		for _, o := range order {
			if o.g == g {
				b = o
				break
			}
		}
		if b == nil {
			b = &groupBatch{g: g}
			order = append(order, b)
		}
		b.idx = append(b.idx, i)
		b.cmds = append(b.cmds, prepared{op: target.Op, args: args})
	}
	// One proposal per group; groups are proposed concurrently when a
	// pipeline spans several.
	started := make([]*proposal, len(order))
	for k, b := range order {
		started[k] = b.g.prop.start(b.cmds)
	}
	for k, b := range order {
		b.res = b.g.prop.wait(started[k])
	}
	for _, b := range order {
		res := b.res
		for k, i := range b.idx {
			if res.err != nil {
				replies[i] = n.writeErrReply(b.g, cmds[i].Slot, res.err)
			} else {
				replies[i] = res.replies[k]
			}
		}
	}
}

// writeErrReply classifies a failed proposal. Errors raised before the entry
// reached the log are definite failures: the client is redirected or told
// the cluster is down, and may retry. Errors after the entry may have been
// appended (leadership lost, shutdown) are indeterminate: the write may
// still commit, so it must never be reported as failed.
func (n *Node) writeErrReply(g *dataGroup, slot int, err error) fsm.Reply {
	switch {
	case errors.Is(err, errProposerPaused):
		return fsm.Err(fsm.CodeTryAgain)
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, errProposerClosed):
		if _, id := g.host.leaderAddr(); id != "" && id != n.id.ID {
			if ni, ok := n.Config().Node(id); ok {
				return moved(slot, ni)
			}
		}
		return fsm.Err(fsm.CodeClusterDown)
	default:
		n.log.Warn("write outcome unknown", "group", g.id, "err", err)
		return fsm.ErrArg(fsm.CodeTimeout, err.Error())
	}
}

func (n *Node) execReads(ctx context.Context, cmds []Cmd, replies []fsm.Reply) {
	// No per-call timer: each read-index round is bounded by roundTimeout,
	// and a timer per request costs more than the read itself.
	rctx := ctx
	type readSet struct {
		g    *dataGroup
		mode readMode
		idx  []int
		err  error
	}
	var order []*readSet
	for i, c := range cmds {
		g, mode, redirect := n.routeRead(rctx, c.Slot, c.ReadOnly)
		if g == nil {
			replies[i] = redirect
			continue
		}
		var s *readSet
		for _, o := range order {
			if o.g == g && o.mode == mode {
				s = o
				break
			}
		}
		if s == nil {
			s = &readSet{g: g, mode: mode}
			order = append(order, s)
		}
		s.idx = append(s.idx, i)
	}
	var leaders []*readSet
	for _, s := range order {
		switch s.mode {
		case readLeader:
			leaders = append(leaders, s)
		case readFollower:
			s.err = n.followerBarrier(rctx, s.g)
		}
	}
	if len(leaders) == 1 {
		// Coalesced with other clients' reads of the group.
		leaders[0].err = leaders[0].g.linearize(rctx)
	} else if len(leaders) > 1 {
		// Verify every group at once: start all rounds, then wait.
		rounds := make([]pendingRound, len(leaders))
		for k, s := range leaders {
			rounds[k] = s.g.reads.start()
		}
		for k, s := range leaders {
			s.err = s.g.reads.finish(rounds[k])
		}
	}
	for _, s := range order {
		if s.err != nil {
			for _, i := range s.idx {
				replies[i] = n.readErrReply(s.g, cmds[i].Slot, s.err)
			}
			continue
		}
		now := s.g.clock()
		s.g.fsm.read(func(db *fsm.DB) {
			for _, i := range s.idx {
				cmd := fsm.Commands.Lookup(cmds[i].Args[0])
				if cmd == nil || cmd.Write {
					replies[i] = unknownCommand(cmds[i].Args)
					continue
				}
				replies[i] = db.Read(cmd, cmds[i].Args, now)
			}
		})
	}
}

// routeRead routes a keyed read: as route does, except under the
// follower-reads and unverified-leader-reads planted bugs, which serve it
// from the local replica as is (plantedReadRoute).
func (n *Node) routeRead(ctx context.Context, slot int, readOnly bool) (*dataGroup, readMode, fsm.Reply) {
	if g, ok := n.plantedReadRoute(slot); ok {
		return g, readStale, fsm.Reply{}
	}
	return n.route(ctx, slot, false, readOnly)
}

// followerBarrier makes a READONLY read on a follower linearizable: the
// leader confirms its leadership and returns its commit index, which the
// local replica then waits to apply.
func (n *Node) followerBarrier(ctx context.Context, g *dataGroup) error {
	addr, _ := g.host.leaderAddr()
	if addr == "" {
		return errNotReady
	}
	resp, err := n.rpc.call(addr, rpcRequest{Method: rpcReadIndex, Group: g.id}, readTimeout)
	if err != nil {
		return err
	}
	if g.fsm.applied.Load() >= resp.Index {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return g.fsm.waitApplied(wctx, resp.Index)
}

func (n *Node) readErrReply(g *dataGroup, slot int, err error) fsm.Reply {
	if _, id := g.host.leaderAddr(); id != "" && id != n.id.ID {
		if ni, ok := n.Config().Node(id); ok {
			return moved(slot, ni)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errNotReady) {
		return fsm.Err(fsm.CodeTryAgain)
	}
	return fsm.Err(fsm.CodeClusterDown)
}

func unknownCommand(args [][]byte) fsm.Reply {
	return fsm.ErrArg(fsm.CodeUnknownCommand, string(args[0]))
}

// readyGroups returns the local groups this node leads and may serve, after
// a linearizable barrier on each.
func (n *Node) readyGroups(ctx context.Context) ([]*dataGroup, error) {
	var out []*dataGroup
	for _, g := range n.localGroups() {
		if _, ok := g.host.ready(); !ok {
			continue
		}
		if err := g.linearize(ctx); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// pick returns a pseudo-random index below n (reads only: never in Apply).
func pick(n int) int { return rand.IntN(n) }

func itoa(i int) string { return strconv.Itoa(i) }
