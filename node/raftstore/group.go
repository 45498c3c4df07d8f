package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
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
	s      *Store
	id     uint32
	bucket []byte

	// Index bounds of the group's log, published by the committer after
	// each durable commit that touched the group.
	first, last atomic.Uint64
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
func (g *GroupStore) GetLog(index uint64, log *raft.Log) error {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], index)
	err := g.s.db.View(func(tx *bbolt.Tx) error {
		gb := tx.Bucket(g.bucket)
		if gb == nil {
			return raft.ErrLogNotFound
		}
		lb := gb.Bucket(logsBucket)
		if lb == nil {
			return raft.ErrLogNotFound
		}
		v := lb.Get(key[:])
		if v == nil {
			return raft.ErrLogNotFound
		}
		if err := decodeLog(v, log); err != nil {
			return err
		}
		if log.Index != index {
			return fmt.Errorf("%w: key %d holds entry %d", errCorrupt, index, log.Index)
		}
		return nil
	})
	if err == nil || errors.Is(err, raft.ErrLogNotFound) {
		// raft compares against ErrLogNotFound with ==.
		return err
	}
	return fmt.Errorf("raftstore: group %d: get log %d: %w", g.id, index, err)
}

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
	size := 0
	for _, l := range logs {
		size += encodedLen(l)
	}
	r := &request{
		g:    g,
		op:   opAppend,
		buf:  make([]byte, 0, size),
		ends: make([]int, len(logs)),
		keys: make([]byte, 0, 8*len(logs)),
	}
	for i, l := range logs {
		r.buf = appendLog(r.buf, l)
		r.ends[i] = len(r.buf)
		r.keys = indexKey(r.keys, l.Index)
	}
	if err := g.s.submit(r); err != nil {
		return fmt.Errorf("raftstore: group %d: store logs %d..%d: %w", g.id, logs[0].Index, logs[len(logs)-1].Index, err)
	}
	return nil
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
		gb := tx.Bucket(g.bucket)
		if gb == nil {
			return ErrKeyNotFound
		}
		sb := gb.Bucket(stableBucket)
		if sb == nil {
			return ErrKeyNotFound
		}
		v := sb.Get(key)
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
