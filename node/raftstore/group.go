package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
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

	// imu guards idx, which maps live log indexes to journal locations.
	// Only the committer writes idx, after the commit that made the change
	// durable.
	imu sync.RWMutex
	idx logIndex

	// Owned by the committer goroutine.
	cuts  []cut      // durable deletions (see cut); persisted unless s.dirty[g]
	nrecs int        // journal records holding a section of this group
	plan  *groupPlan // the transaction being applied, if it touches the group
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
// It reads one journal record in a bbolt read transaction and decodes the
// entry's bytes, checking the entry's checksum.
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
			// The entry was deleted or overwritten, and its record garbage
			// collected, between the index lookup and the read: look again.
			now, found := g.lookup(index)
			if !found || now != l {
				l, ok = now, found
				continue
			}
			err = fmt.Errorf("%w: record %d is missing", errCorruptJournal, l.seq)
		}
		return fmt.Errorf("raftstore: group %d: get log %d: %w", g.id, index, err)
	}
}

func (g *GroupStore) lookup(index uint64) (loc, bool) {
	g.imu.RLock()
	defer g.imu.RUnlock()
	return g.idx.get(index)
}

// readEntry decodes the entry for index at l.
func (g *GroupStore) readEntry(index uint64, l loc, log *raft.Log) error {
	return g.s.db.View(func(tx *bbolt.Tx) error {
		jb := tx.Bucket(journalBucket)
		if jb == nil {
			return errors.New("missing journal bucket")
		}
		rec := jb.Get(seqKey(l.seq))
		if rec == nil {
			return errRecordGone
		}
		if uint64(l.off)+uint64(l.n) > uint64(len(rec)) {
			return fmt.Errorf("%w: entry at %d+%d overruns record %d of %d bytes", errCorruptJournal, l.off, l.n, l.seq, len(rec))
		}
		if err := decodeLog(rec[l.off:l.off+l.n], log); err != nil {
			return fmt.Errorf("record %d: %w", l.seq, err)
		}
		if log.Index != index {
			return fmt.Errorf("%w: record %d holds entry %d where %d was expected", errCorrupt, l.seq, log.Index, index)
		}
		return nil
	})
}

// errRecordGone reports a journal record that was not found (GetLog
// retries once it knows whether that is a race or corruption).
var errRecordGone = errors.New("journal record not found")

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

// Get returns a stable key's value, or nil and ErrKeyNotFound.
func (g *GroupStore) Get(key []byte) ([]byte, error) {
	var out []byte
	err := g.s.db.View(func(tx *bbolt.Tx) error {
		sb := tx.Bucket(stableBucket)
		if sb == nil {
			return errors.New("missing stable bucket")
		}
		v := sb.Get(stableKey(g.id, key))
		if v == nil {
			return ErrKeyNotFound
		}
		out = append(make([]byte, 0, len(v)), v...)
		return nil
	})
	if err == nil || err == ErrKeyNotFound {
		return out, err
	}
	return nil, fmt.Errorf("raftstore: group %d: get %q: %w", g.id, key, err)
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
