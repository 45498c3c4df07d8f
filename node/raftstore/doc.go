// Package raftstore is the node-wide durable raft log: one append-only
// journal shared by every raft group hosted on a node (the META group 0 and
// the data groups), with group commit.
//
// Open the Store once per node and hand each group its view:
//
//	st, err := raftstore.Open(raftstore.Config{Path: filepath.Join(dir, "raft.db"), Logger: log})
//	gs := st.Group(groupID) // implements raft.LogStore and raft.StableStore
//	r, err := raft.NewRaft(conf, fsm, gs, gs, snaps, trans)
//
// Writes from all groups (StoreLog, StoreLogs, DeleteRange, Set, SetUint64,
// and Store.DeleteGroup) go to a single committer goroutine, which encodes
// every request queued at that moment as one frame, writes it with one
// pwrite at the end of the active segment file and makes it durable with
// one fdatasync, and only then returns to each caller.
//
// Path names a small head file (layout version, store id, lock); the log
// itself is in segment files next to it (Path.<n>.seg, 64 MiB, allocated
// in full, zero-filled or recycled in advance so that a commit never grows
// a file). Each segment starts with a checkpoint of every group's live
// index ranges and stable values, so a segment is reclaimed as soon as no
// live entry points into it. An in-memory index per group maps log indexes
// to (segment, offset); Open rebuilds it by replaying the segments,
// verifying every checksum, treating a damaged last frame as a torn write
// (the log ends before it) and any other damage as corruption. GetLog
// reads the entry with ReadAt; FirstIndex, LastIndex, Get and GetUint64
// are served from memory.
//
// Stable-store misses return ErrKeyNotFound, whose text "not found" is what
// hashicorp/raft tests for. Log entries use a compact checksummed binary
// encoding (see codec.go), not msgpack.
//
// DESIGN.md explains the motivation, file format, recovery, reclamation and
// failure semantics.
package raftstore
