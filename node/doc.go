// Package node hosts a Troika node's raft groups: the meta group (the
// cluster configuration) and this node's replicas of the data groups, all
// sharing one node-wide log store (node/raftstore) and one cluster port
// (node/transport). It implements the write path (prepare at the leader,
// batch, propose, apply), the linearizable read path (coalesced read-index
// rounds), active expiry, and routing (MOVED/CLUSTERDOWN). It never writes
// RESP: replies are fsm.Reply values that resp encodes.
package node
