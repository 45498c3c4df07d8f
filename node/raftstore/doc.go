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
// makes all of them durable, and only then returns to each caller.
//
// The log is a journal: each transaction appends one record, under an
// ever-growing sequence number, holding the entries it stores for every
// group, so a commit rewrites a handful of pages however many groups it
// carries. An in-memory index per group maps log indexes to records; it is
// rebuilt at Open by scanning the journal, with truncations made durable as
// per-group "cuts". Records no live entry uses are garbage collected.
// GetLog reads one record in a bbolt read transaction; FirstIndex and
// LastIndex are served from memory.
//
// Stable-store misses return ErrKeyNotFound, whose text "not found" is what
// hashicorp/raft tests for. Log entries use a compact checksummed binary
// encoding (see codec.go), not msgpack.
//
// DESIGN.md explains the motivation, file layout, recovery and failure
// semantics.
package raftstore
