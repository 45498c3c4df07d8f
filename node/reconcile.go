package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Cadences of the cluster loop.
const (
	clusterTick    = 100 * time.Millisecond // gossip metadata, coverage
	reconcileEvery = 400 * time.Millisecond // placement and raft membership
	// notListedGrace: a local replica the configuration no longer places
	// here is dropped once its group has removed this node, or after this.
	notListedGrace = 30 * time.Second
	// catchUpLag: a non-voter this close to the leader's commit index is
	// promoted to voter.
	catchUpLag = 64
	// transferBackoff spaces leadership transfers of one group.
	transferBackoff = 5 * time.Second
	changeTimeout   = 10 * time.Second
)

// kick asks the cluster loop to run soon.
func (n *Node) kick() {
	select {
	case n.kickCh <- struct{}{}:
	default:
	}
}

// clusterLoop is the node's control loop. On every node it hosts the
// replicas the configuration places here, keeps the gossip metadata (leader
// hints) and the coverage view current, and, for each group this node
// leads, reconciles the group's raft membership with the configuration. On
// the meta leader it also registers members, manages the meta group's own
// voters, and plans placement. Every change is one raft configuration
// change at a time, waited for before the next.
func (n *Node) clusterLoop() {
	defer n.wg.Done()
	t := time.NewTicker(clusterTick)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		case <-n.kickCh:
		}
		n.refreshMeta()
		cfg := n.Config()
		n.updateCoverage(cfg)
		if cfg != nil && cfg.Mode != "" && cfg.Mode != n.lastMode {
			n.lastMode = cfg.Mode
			if n.cfg.OnModeChange != nil {
				n.cfg.OnModeChange(cfg.Mode)
			}
		}
		if time.Since(last) < reconcileEvery {
			continue
		}
		last = time.Now()
		if cfg == nil {
			if _, ok := n.meta.ready(); ok && n.id.Founder {
				if err := n.proposeMetaLocal(&metaCmd{Op: metaOpInit, Config: n.initialConfig()}); err != nil {
					n.log.Warn("cluster init failed", "err", err)
				}
			}
			continue
		}
		n.hostGroups(cfg)
		if _, ok := n.meta.ready(); ok {
			n.registerMembers(cfg)
			n.reconcileMetaRaft(n.Config())
			n.planAndPropose(n.Config())
		}
		for _, g := range n.localGroups() {
			if _, ok := g.host.ready(); ok {
				n.reconcileGroup(g, n.Config())
			}
		}
	}
}

// refreshMeta gossips this node's metadata when it changed (a leadership
// gained or lost).
func (n *Node) refreshMeta() {
	if n.gossip == nil {
		return
	}
	m := n.localMeta()
	if bytes.Equal(m, n.lastMeta) {
		return
	}
	n.lastMeta = m
	if err := n.gossip.UpdateMeta(time.Second); err != nil {
		n.log.Debug("gossip metadata update", "err", err)
	}
	n.hintsMu.Lock()
	n.hintsAt = time.Time{}
	n.hintsMu.Unlock()
}

// hostGroups starts the replicas the configuration places here and drops
// the ones it no longer does (after the group removed this node).
func (n *Node) hostGroups(cfg *ClusterConfig) {
	changed := false
	for _, gi := range cfg.Groups {
		if !slices.Contains(gi.Replicas, n.id.ID) || n.group(gi.ID) != nil {
			continue
		}
		if err := n.startGroup(gi.ID, nil); err != nil {
			n.log.Error("cannot host replica", "group", gi.ID, "err", err)
			continue
		}
		n.log.Info("hosting new replica", "group", gi.ID)
		changed = true
	}
	metaCurrent := n.meta.raft.AppliedIndex() >= n.meta.raft.CommitIndex() && n.metaLeader() != ""
	for _, g := range n.localGroups() {
		gi, ok := cfg.Group(g.id)
		if ok && slices.Contains(gi.Replicas, n.id.ID) {
			delete(n.notListed, g.id)
			continue
		}
		since, seen := n.notListed[g.id]
		if !seen {
			n.notListed[g.id] = time.Now()
			continue
		}
		if !metaCurrent {
			continue
		}
		removed := false
		if f := g.host.raft.GetConfiguration(); f.Error() == nil {
			removed = !slices.ContainsFunc(f.Configuration().Servers, func(s raft.Server) bool { return s.ID == raft.ServerID(n.id.ID) })
		}
		if !removed && time.Since(since) < notListedGrace {
			continue
		}
		n.log.Info("dropping replica no longer placed here", "group", g.id, "removed_by_group", removed)
		n.removeGroup(g.id)
		n.dropGroupData(g.id)
		delete(n.notListed, g.id)
		changed = true
	}
	if changed {
		n.id.Groups = n.id.Groups[:0]
		for _, g := range n.localGroups() {
			n.id.Groups = append(n.id.Groups, g.id)
		}
		if err := n.saveIdentity(); err != nil {
			n.log.Error("saving hosted groups", "err", err)
		}
	}
}

// dropGroupData deletes a dropped replica's log and snapshots, so that a
// later placement here starts clean.
func (n *Node) dropGroupData(gid uint32) {
	gs := n.store.Group(gid)
	if first, _ := gs.FirstIndex(); first > 0 {
		last, _ := gs.LastIndex()
		if err := gs.DeleteRange(first, last); err != nil {
			n.log.Warn("dropping replica log", "group", gid, "err", err)
		}
	}
	if err := os.RemoveAll(groupDir(n.cfg.Dir, gid)); err != nil {
		n.log.Warn("dropping replica snapshots", "group", gid, "err", err)
	}
}

// registerMembers records alive gossip members in the configuration (meta
// leader only): configuration never comes from gossip, but membership
// requests do.
func (n *Node) registerMembers(cfg *ClusterConfig) {
	for id, p := range n.peers() {
		if !n.alive(id) || slices.Contains(cfg.Forgotten, id) {
			continue
		}
		ni := NodeInfo{ID: id, Host: p.meta.Host, Port: p.meta.Port, BusPort: p.meta.BusPort}
		if cur, ok := cfg.Node(id); ok {
			ni.Draining = cur.Draining
			if cur == ni {
				continue
			}
		}
		if err := n.proposeMetaLocal(&metaCmd{Op: metaOpNode, Node: &ni}); err != nil {
			n.log.Warn("registering member failed", "node", id, "err", err)
			return
		}
		n.log.Info("member registered", "node", id, "addr", ni.Addr())
	}
}

// eligible reports whether node ni may hold replicas now.
func (n *Node) eligible(ni NodeInfo, now time.Time) bool {
	return !ni.Draining && n.deadFor(ni.ID, now) < time.Duration(n.nodeTimeout.Load())
}

// reconcileMetaRaft grows the meta group to 3 (5) voters as nodes join,
// keeps every other member as a non-voter (so every node has the
// configuration), and replaces voters that are dead past the node timeout
// or draining. One change per call.
func (n *Node) reconcileMetaRaft(cfg *ClusterConfig) {
	servers, ok := raftServers(n.meta.raft)
	if !ok {
		return
	}
	now := time.Now()
	inRaft := map[string]raft.ServerSuffrage{}
	for _, s := range servers {
		inRaft[string(s.ID)] = s.Suffrage
	}
	eligibleCount := 0
	for _, ni := range cfg.Nodes {
		if n.eligible(ni, now) {
			eligibleCount++
		}
	}
	target := metaVoterTarget(eligibleCount)
	// Members not in the meta group join it as non-voters.
	for _, ni := range cfg.Nodes {
		if _, ok := inRaft[ni.ID]; !ok && !ni.Draining && n.alive(ni.ID) {
			n.metaChange("add meta non-voter", ni.ID, n.meta.raft.AddNonvoter(raft.ServerID(ni.ID), raft.ServerAddress(ni.BusAddr()), 0, changeTimeout))
			return
		}
	}
	// Forgotten nodes leave it.
	for id := range inRaft {
		if _, ok := cfg.Node(id); !ok && id != n.id.ID {
			n.metaChange("remove forgotten meta member", id, n.meta.raft.RemoveServer(raft.ServerID(id), 0, changeTimeout))
			return
		}
	}
	var good, bad []string // voters to keep, voters to replace
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		ni, _ := cfg.Node(string(s.ID))
		if string(s.ID) == n.id.ID || (n.eligible(ni, now) && n.alive(ni.ID)) {
			good = append(good, string(s.ID))
		} else {
			bad = append(bad, string(s.ID))
		}
	}
	if len(good) < target {
		for _, ni := range cfg.Nodes {
			if inRaft[ni.ID] == raft.Nonvoter && n.eligible(ni, now) && n.alive(ni.ID) && n.caughtUp(0, ni, n.meta.raft) {
				n.metaChange("promote meta voter", ni.ID, n.meta.raft.AddVoter(raft.ServerID(ni.ID), raft.ServerAddress(ni.BusAddr()), 0, changeTimeout))
				return
			}
		}
	}
	if len(bad) > 0 && len(good) >= target {
		id := bad[0]
		ni, _ := cfg.Node(id)
		if ni.Draining || n.deadFor(id, now) >= time.Duration(n.nodeTimeout.Load()) {
			n.metaChange("demote meta voter", id, n.meta.raft.DemoteVoter(raft.ServerID(id), 0, changeTimeout))
			return
		}
	}
	if len(good) > target {
		for _, id := range good {
			if id != n.id.ID {
				n.metaChange("demote surplus meta voter", id, n.meta.raft.DemoteVoter(raft.ServerID(id), 0, changeTimeout))
				return
			}
		}
	}
}

func (n *Node) metaChange(what, id string, f raft.IndexFuture) {
	if err := f.Error(); err != nil {
		n.log.Warn(what+" failed", "node", id, "err", err)
		return
	}
	n.log.Info(what, "node", id)
}

func raftServers(r *raft.Raft) ([]raft.Server, bool) {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return nil, false
	}
	return f.Configuration().Servers, true
}

// caughtUp asks node ni how far its replica of group gid has applied and
// compares with the local leader's commit index.
func (n *Node) caughtUp(gid uint32, ni NodeInfo, leader *raft.Raft) bool {
	resp, err := n.rpc.call(ni.BusAddr(), rpcRequest{Method: rpcApplied, Group: gid}, 2*time.Second)
	if err != nil {
		return false
	}
	return resp.Index+catchUpLag >= leader.CommitIndex()
}

// planAndPropose runs placement on the meta leader and proposes its
// changes.
func (n *Node) planAndPropose(cfg *ClusterConfig) {
	now := time.Now()
	in := placementInput{cfg: cfg, eligible: map[string]bool{}, alive: map[string]bool{}, voters: map[uint32]map[string]bool{}, maxMoving: 4}
	for _, ni := range cfg.Nodes {
		in.eligible[ni.ID] = n.eligible(ni, now)
		in.alive[ni.ID] = n.alive(ni.ID)
	}
	for _, gi := range cfg.Groups {
		if v, ok := n.groupVoters(gi.ID, cfg); ok {
			in.voters[gi.ID] = v
		}
	}
	n.forgetDrained(cfg)
	for _, g := range planPlacement(in) {
		g := g
		if err := n.proposeMetaLocal(&metaCmd{Op: metaOpGroup, Group: &g}); err != nil {
			n.log.Warn("placement change failed", "group", g.ID, "err", err)
			return
		}
		n.log.Info("placement", "group", g.ID, "replicas", g.Replicas, "preferred_leader", g.Leader)
	}
}

// groupVoters returns the voters of group gid as its leader sees them.
func (n *Node) groupVoters(gid uint32, cfg *ClusterConfig) (map[string]bool, bool) {
	if g := n.group(gid); g != nil {
		if _, ok := g.host.ready(); ok {
			return votersOf(g.host.raft)
		}
	}
	id := n.leaderOf(gid)
	ni, ok := cfg.Node(id)
	if id == "" || !ok || id == n.id.ID {
		return nil, false
	}
	resp, err := n.rpc.call(ni.BusAddr(), rpcRequest{Method: rpcVoters, Group: gid}, 2*time.Second)
	if err != nil {
		return nil, false
	}
	var ids []string
	if err := json.Unmarshal(resp.Body, &ids); err != nil {
		return nil, false
	}
	v := map[string]bool{}
	for _, id := range ids {
		v[id] = true
	}
	return v, true
}

func votersOf(r *raft.Raft) (map[string]bool, bool) {
	servers, ok := raftServers(r)
	if !ok {
		return nil, false
	}
	v := map[string]bool{}
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			v[string(s.ID)] = true
		}
	}
	return v, true
}

// reconcileGroup makes the raft membership of a group this node leads
// match the configuration: add placed replicas as non-voters, promote them
// once caught up, remove replicas no longer placed (only while enough
// placed replicas are voters), and hand leadership to the preferred
// leader. One change per call.
func (n *Node) reconcileGroup(g *dataGroup, cfg *ClusterConfig) {
	gi, ok := cfg.Group(g.id)
	if !ok {
		return
	}
	r := g.host.raft
	servers, ok := raftServers(r)
	if !ok {
		return
	}
	in := map[string]raft.ServerSuffrage{}
	for _, s := range servers {
		in[string(s.ID)] = s.Suffrage
	}
	for _, id := range gi.Replicas {
		if _, ok := in[id]; ok {
			continue
		}
		if ni, ok := cfg.Node(id); ok && n.alive(id) {
			n.groupChange(g, "add non-voter", id, r.AddNonvoter(raft.ServerID(id), raft.ServerAddress(ni.BusAddr()), 0, changeTimeout))
			return
		}
	}
	for _, id := range gi.Replicas {
		if in[id] != raft.Nonvoter {
			continue
		}
		if ni, ok := cfg.Node(id); ok && n.alive(id) && n.caughtUp(g.id, ni, r) {
			n.groupChange(g, "promote voter", id, r.AddVoter(raft.ServerID(id), raft.ServerAddress(ni.BusAddr()), 0, changeTimeout))
			return
		}
	}
	placedVoters := 0
	for _, id := range gi.Replicas {
		if in[id] == raft.Voter {
			placedVoters++
		}
	}
	want := min(cfg.Replicas, len(gi.Replicas))
	for id := range in {
		if slices.Contains(gi.Replicas, id) || placedVoters < want {
			continue
		}
		if id == n.id.ID {
			n.transferLeadership(g, gi, in)
			return
		}
		n.groupChange(g, "remove replica", id, r.RemoveServer(raft.ServerID(id), 0, changeTimeout))
		return
	}
	if gi.Leader != "" && gi.Leader != n.id.ID && in[gi.Leader] == raft.Voter && n.alive(gi.Leader) && !n.held(g.id) {
		n.transferLeadership(g, gi, in)
	}
}

// transferLeadership hands group g to its preferred leader (or, when this
// node is being removed, to any caught-up placed voter).
func (n *Node) transferLeadership(g *dataGroup, gi GroupInfo, in map[string]raft.ServerSuffrage) {
	if time.Since(n.transfers[g.id]) < transferBackoff {
		return
	}
	cfg := n.Config()
	cands := []string{gi.Leader}
	cands = append(cands, gi.Replicas...)
	for _, id := range cands {
		if id == "" || id == n.id.ID || in[id] != raft.Voter || !n.alive(id) {
			continue
		}
		ni, ok := cfg.Node(id)
		if !ok || !n.caughtUp(g.id, ni, g.host.raft) {
			continue
		}
		n.transfers[g.id] = time.Now()
		if err := n.handOver(g, id, ni.BusAddr()); err != nil {
			n.log.Warn("leadership transfer failed", "group", g.id, "to", id, "err", err)
			return
		}
		n.log.Info("leadership transferred", "group", g.id, "to", id)
		return
	}
}

// errTransferBusy: another leadership transfer of the group is running.
var errTransferBusy = errors.New("a leadership transfer of this group is already running")

// handOver transfers the leadership of group g (led here) to voter id at
// bus address addr. The writes in flight commit first: a transfer that cut
// them off would leave their outcome unknown to the clients, so new
// proposals get TRYAGAIN meanwhile (proposer.pause).
func (n *Node) handOver(g *dataGroup, id, addr string) error {
	if !g.transferMu.TryLock() {
		return errTransferBusy
	}
	defer g.transferMu.Unlock()
	g.prop.pause(2 * time.Second)
	defer g.prop.resume()
	if err := g.host.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr)).Error(); err != nil {
		return fmt.Errorf("group %d: leadership transfer to %s: %w", g.id, id, err)
	}
	return nil
}

func (n *Node) groupChange(g *dataGroup, what, id string, f raft.IndexFuture) {
	if err := f.Error(); err != nil {
		n.log.Warn(what+" failed", "group", g.id, "node", id, "err", err)
		return
	}
	n.log.Info(what, "group", g.id, "node", id)
}

// errLeaving is returned by Leave when a leadership cannot be handed over.
var errLeaving = errors.New("leave")

// forgetDrained removes from the configuration a draining node that holds
// no replica any more and is not a meta voter.
func (n *Node) forgetDrained(cfg *ClusterConfig) {
	voters, ok := votersOf(n.meta.raft)
	if !ok {
		return
	}
	for _, ni := range cfg.Nodes {
		if !ni.Draining || voters[ni.ID] {
			continue
		}
		holds := false
		for _, g := range cfg.Groups {
			if slices.Contains(g.Replicas, ni.ID) {
				holds = true
			}
		}
		if holds {
			continue
		}
		if err := n.proposeMetaLocal(&metaCmd{Op: metaOpForget, ID: ni.ID}); err != nil {
			n.log.Warn("forgetting drained node failed", "node", ni.ID, "err", err)
			return
		}
		n.log.Info("node forgotten", "node", ni.ID)
	}
}
