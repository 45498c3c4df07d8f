// Package raftstore is the node-wide durable raft log: one bbolt file shared
// by every raft group hosted on a node (the META group 0 and the data
// groups), with group commit.
//
// Open the Store once per node and hand each group its view:
//
//	st, err := raftstore.Open(raftstore.Config{Path: filepath.Join(dir, "raft.db"), Logger: log})
//	gs := st.Group(groupID) // implements raft.LogStore and raft.StableStore
//	r, err := raft.NewRaft(conf, fsm, gs, gs, snaps, trans)
//
// Writes from all groups (StoreLog, StoreLogs, DeleteRange, Set, SetUint64,
// and Store.DeleteGroup) go to a single committer goroutine, which applies
// every request queued at that moment in one bbolt transaction, so one fsync
// makes all of them durable, and only then returns to each caller. Reads use
// bbolt read transactions directly; FirstIndex and LastIndex are served from
// an in-memory per-group cache updated after each commit.
//
// Stable-store misses return ErrKeyNotFound, whose text "not found" is what
// hashicorp/raft tests for. Log entries use a compact checksummed binary
// encoding (see codec.go), not msgpack.
//
// DESIGN.md explains the motivation, file layout and failure semantics.
package raftstore
