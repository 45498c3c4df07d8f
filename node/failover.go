package node

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
)

// failoverHold is how long the automatic preferred-leader balancing
// (reconcileGroup) leaves a leadership taken by CLUSTER FAILOVER where it
// is. Afterwards it may move it back to the group's preferred leader, as
// it would after any election; placement is never changed by a failover.
const failoverHold = 60 * time.Second

// failoverRPCTimeout bounds one leadership transfer request (the transfer
// itself runs asynchronously on the leader).
const failoverRPCTimeout = 2 * time.Second

// clusterFailover is CLUSTER FAILOVER [FORCE|TAKEOVER]: for every data
// group of which this node is a voter but not the leader, ask the group's
// leader to transfer leadership here (rpcFailover; the leader hands over
// with handOver, draining writes in flight first). As Redis does, it
// answers OK once the requests are made and the leaderships move
// asynchronously. Raft elects a leader only with a quorum, so FORCE and
// TAKEOVER (which in Redis skip the master's or the cluster's agreement)
// behave like the plain form; a group whose leader is unknown is skipped.
func (n *Node) clusterFailover(args [][]byte) fsm.Reply {
	if len(args) > 3 {
		return fsm.ErrArg(fsm.CodeUnknownSubArity, "cluster|"+string(args[1]))
	}
	if len(args) == 3 && !fsm.EqualFold(args[2], "force") && !fsm.EqualFold(args[2], "takeover") {
		return fsm.Err(fsm.CodeSyntax)
	}
	var targets []*dataGroup
	for _, g := range n.localGroups() {
		if g.host.raft.State() == raft.Leader {
			continue
		}
		if v, ok := votersOf(g.host.raft); ok && v[n.id.ID] {
			targets = append(targets, g)
		}
	}
	if len(targets) == 0 {
		return fsm.Err(fsm.CodeFailoverMaster)
	}
	body, err := json.Marshal(n.id.ID)
	if err != nil {
		return fsm.ErrMsg("ERR " + err.Error())
	}
	var wg sync.WaitGroup
	for _, g := range targets {
		n.hold(g.id)
		addr, id := g.host.leaderAddr()
		if addr == "" || id == n.id.ID {
			n.log.Warn("CLUSTER FAILOVER: group has no known leader; skipped", "group", g.id)
			continue
		}
		wg.Add(1)
		go func(gid uint32, addr string) {
			defer wg.Done()
			if _, err := n.rpc.call(addr, rpcRequest{Method: rpcFailover, Group: gid, Body: body}, failoverRPCTimeout); err != nil {
				n.log.Warn("CLUSTER FAILOVER: leadership transfer request failed", "group", gid, "leader", addr, "err", err)
				return
			}
			n.log.Info("CLUSTER FAILOVER: leadership transfer requested", "group", gid, "leader", addr)
		}(g.id, addr)
	}
	wg.Wait()
	return fsm.OK
}

// hold marks group gid as taken by a manual failover (see failoverHold).
func (n *Node) hold(gid uint32) {
	n.holdMu.Lock()
	n.holds[gid] = time.Now().Add(failoverHold)
	n.holdMu.Unlock()
}

// held reports whether a manual failover of gid is still respected.
func (n *Node) held(gid uint32) bool {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	until, ok := n.holds[gid]
	if ok && time.Now().After(until) {
		delete(n.holds, gid)
		ok = false
	}
	return ok
}

// acceptFailover answers rpcFailover on a group's leader: it checks that
// the requester is a voter of the group and starts the transfer to it in
// the background.
func (n *Node) acceptFailover(req rpcRequest) rpcResponse {
	var target string
	if err := json.Unmarshal(req.Body, &target); err != nil {
		return rpcResponse{Err: "bad failover request: " + err.Error()}
	}
	g := n.group(req.Group)
	if g == nil {
		return rpcResponse{Err: "group not hosted"}
	}
	if _, ok := g.host.ready(); !ok {
		return rpcResponse{Err: "not the leader"}
	}
	servers, ok := raftServers(g.host.raft)
	if !ok {
		return rpcResponse{Err: "configuration unavailable"}
	}
	addr := ""
	for _, s := range servers {
		if string(s.ID) == target && s.Suffrage == raft.Voter {
			addr = string(s.Address)
		}
	}
	if addr == "" {
		return rpcResponse{Err: "requester is not a voter of the group"}
	}
	started := g.spawn(func() {
		if err := n.handOver(g, target, addr); err != nil {
			n.log.Warn("CLUSTER FAILOVER: leadership transfer failed", "group", g.id, "to", target, "err", err)
			return
		}
		n.log.Info("CLUSTER FAILOVER: leadership transferred", "group", g.id, "to", target)
	})
	if !started {
		return rpcResponse{Err: "group closing"}
	}
	return rpcResponse{}
}
