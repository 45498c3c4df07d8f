package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// ErrKeyNotFound is returned, unwrapped, by Get and GetUint64 for a missing
// key. hashicorp/raft recognises a missing stable key by comparing
// err.Error() with "not found" (api.go, raft.go), exactly like raft-boltdb's
// error of the same name, so this text must not change and must not be
// wrapped.
var ErrKeyNotFound = errors.New("not found")

// GroupStore is one raft group's view of a Store. It implements
// raft.LogStore and raft.StableStore. It deliberately does not implement
// raft.MonotonicLogStore: the store tolerates gaps in indexes (see DESIGN.md).
type GroupStore struct {
	s  *Store
	id uint32

	// Index bounds of the group's log, published by the committer after
	// each durable commit that touched the group.
	first, last atomic.Uint64

	// imu guards idx, which maps live log indexes to segment locations.
	// Only the committer writes idx, after the commit that made the change
	// durable.
	imu sync.RWMutex
	idx logIndex

	// smu guards stable, the group's stable-store values (all of them are
	// kept in memory; raft has three per group). Only the committer writes
	// it, after the commit that made the change durable.
	smu    sync.RWMutex
	stable map[string][]byte

	plan *groupPlan // owned by the committer: the commit being built, if it touches the group
}

var (
	_ raft.LogStore    = (*GroupStore)(nil)
	_ raft.StableStore = (*GroupStore)(nil)
)

// ID returns the group id.
func (g *GroupStore) ID() uint32 { return g.id }

func (g *GroupStore) publish(first, last uint64) {
	g.first.Store(first)
	g.last.Store(last)
}

// FirstIndex returns the first index written, 0 for an empty log. It is
// served from memory.
func (g *GroupStore) FirstIndex() (uint64, error) { return g.first.Load(), nil }

// LastIndex returns the last index written, 0 for an empty log. It is served
// from memory.
func (g *GroupStore) LastIndex() (uint64, error) { return g.last.Load(), nil }

// GetLog reads the entry at index into log; raft.ErrLogNotFound if absent.
// It reads the entry's bytes from its segment file (ReadAt; never waits for
// the committer) and decodes them, checking the entry's checksum.
func (g *GroupStore) GetLog(index uint64, log *raft.Log) error {
	l, ok := g.lookup(index)
	for {
		if !ok {
			// raft compares against ErrLogNotFound with ==.
			return raft.ErrLogNotFound
		}
		err := g.readEntry(index, l, log)
		if err == nil {
			return nil
		}
		if errors.Is(err, errRecordGone) {
			// The entry was deleted or overwritten (or relocated), and its
			// segment reclaimed, between the index lookup and the read:
			// look again.
			now, found := g.lookup(index)
			if !found || now != l {
				l, ok = now, found
				continue
			}
			err = fmt.Errorf("%w: segment %d is missing", errCorruptJournal, l.seg)
		}
		return fmt.Errorf("raftstore: group %d: get log %d: %w", g.id, index, err)
	}
}

func (g *GroupStore) lookup(index uint64) (loc, bool) {
	g.imu.RLock()
	defer g.imu.RUnlock()
	return g.idx.get(index)
}

// readBufs recycles GetLog's read buffers (decodeLog copies what it keeps).
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// readEntry reads and decodes the entry for index at l.
func (g *GroupStore) readEntry(index uint64, l loc, log *raft.Log) error {
	bp := readBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			readBufs.Put(bp)
		}
	}()
	if cap(*bp) < int(l.n) {
		*bp = make([]byte, l.n)
	}
	b := (*bp)[:l.n]
	if err := g.s.readAt(l, b); err != nil {
		return err
	}
	if err := decodeLog(b, log); err != nil {
		return fmt.Errorf("segment %d at %d: %w", l.seg, l.off, err)
	}
	if log.Index != index {
		return fmt.Errorf("%w: segment %d at %d holds entry %d where %d was expected", errCorrupt, l.seg, l.off, log.Index, index)
	}
	return nil
}

// readAt reads the bytes at l into b (len(b) == l.n). It holds segMu
// shared, so the segment file cannot be closed under it; the page cache
// normally serves the read.
func (s *Store) readAt(l loc, b []byte) error {
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	if s.filesClosed {
		return ErrClosed
	}
	seg := s.segs[l.seg]
	if seg == nil {
		return errRecordGone
	}
	if _, err := seg.f.ReadAt(b, int64(l.off)); err != nil {
		return fmt.Errorf("read segment %d at %d: %w", l.seg, l.off, err)
	}
	return nil
}

// errRecordGone reports a segment that was not found (GetLog retries once
// it knows whether that is a race with reclamation or corruption).
var errRecordGone = errors.New("segment not found")

// StoreLog durably stores one entry.
func (g *GroupStore) StoreLog(log *raft.Log) error {
	return g.StoreLogs([]*raft.Log{log})
}

// StoreLogs durably stores entries, overwriting any existing entry with the
// same index. It returns after the group commit containing them is synced.
func (g *GroupStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	r := newAppendRequest(g, logs)
	if err := g.s.submit(r); err != nil {
		return fmt.Errorf("raftstore: group %d: store logs %d..%d: %w", g.id, logs[0].Index, logs[len(logs)-1].Index, err)
	}
	return nil
}

// newAppendRequest encodes logs in the calling goroutine, so the committer
// only copies bytes.
func newAppendRequest(g *GroupStore, logs []*raft.Log) *request {
	size := 0
	for _, l := range logs {
		size += encodedLen(l)
	}
	r := &request{
		g:    g,
		op:   opAppend,
		buf:  make([]byte, 0, size),
		ends: make([]int, len(logs)),
		idx:  make([]uint64, len(logs)),
	}
	for i, l := range logs {
		r.buf = appendLog(r.buf, l)
		r.ends[i] = len(r.buf)
		r.idx[i] = l.Index
	}
	return r
}

// DeleteRange durably deletes entries min..max inclusive.
func (g *GroupStore) DeleteRange(min, max uint64) error {
	if err := g.s.submit(&request{g: g, op: opDeleteRange, min: min, max: max}); err != nil {
		return fmt.Errorf("raftstore: group %d: delete range %d..%d: %w", g.id, min, max, err)
	}
	return nil
}

// Set durably stores a stable key.
func (g *GroupStore) Set(key, val []byte) error {
	if err := g.s.submit(&request{g: g, op: opSet, key: key, val: val}); err != nil {
		return fmt.Errorf("raftstore: group %d: set %q: %w", g.id, key, err)
	}
	return nil
}

// Get returns a stable key's value, or nil and ErrKeyNotFound. Values are
// served from memory.
func (g *GroupStore) Get(key []byte) ([]byte, error) {
	if g.s.isClosed() {
		return nil, fmt.Errorf("raftstore: group %d: get %q: %w", g.id, key, ErrClosed)
	}
	g.smu.RLock()
	defer g.smu.RUnlock()
	v, ok := g.stable[string(key)]
	if !ok {
		return nil, ErrKeyNotFound
	}
	return append([]byte{}, v...), nil
}

// SetUint64 durably stores a stable key holding a big-endian uint64.
func (g *GroupStore) SetUint64(key []byte, val uint64) error {
	return g.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns a uint64 stable key, or 0 and ErrKeyNotFound.
func (g *GroupStore) GetUint64(key []byte) (uint64, error) {
	v, err := g.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftstore: group %d: get uint64 %q: value has %d bytes, want 8", g.id, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
