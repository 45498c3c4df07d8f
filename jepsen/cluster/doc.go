// Package cluster starts and breaks the Troika cluster a Jepsen-style test
// runs against. A Cluster lists its nodes (the client addresses the
// harness dials) and injects faults: kill and restart a node, pause and
// resume it, partition the nodes (all traffic, or only Raft's TCP or only
// gossip's UDP on the cluster port), add a node and remove one.
//
// New builds one of three backends:
//
//   - "local": troika-server processes on this machine, each in its own
//     network namespace joined by veth pairs to a bridge that also holds
//     the harness's address. Partitions are iptables DROP rules inside
//     each node's namespace that name peer addresses only, so the harness
//     always reaches every node. Needs root, ip and iptables.
//   - "docker": one container per node (a FROM scratch image around a
//     static binary) on a private docker network with fixed IPs;
//     partitions are the same iptables rules, entered into each container's
//     network namespace from the host with nsenter.
//   - "existing": a cluster someone else runs; no faults (ErrUnsupported).
//
// "auto" picks local when possible, else docker.
//
// Everything a run creates carries its run id (NamePrefix + 6 hex digits)
// in its name or label, and a record under StateDir names the owning
// process: Close removes it all, New removes what it created when it
// fails, and CleanupStale (called by New) removes what runs whose process
// died left behind. See DESIGN.md for the reasons.
package cluster
