// Package node hosts a Troika node's raft groups: the meta group (the
// cluster configuration) and this node's replicas of the data groups, all
// sharing one node-wide log store (node/raftstore) and one cluster port
// (node/transport). It implements the write path (prepare at the leader,
// batch, propose, apply), the linearizable read path (coalesced read-index
// rounds, follower read index for READONLY), active expiry, membership
// (gossip through package gossip, joining, graceful leave), placement of
// replicas and leaders (planned by the meta leader, carried out by each
// group's leader as raft configuration changes), routing (MOVED, the
// CLUSTERDOWN variants of the CP/AP settings) and Pub/Sub fan-out between
// nodes. It never writes RESP: replies are fsm.Reply values that resp
// encodes.
package node
