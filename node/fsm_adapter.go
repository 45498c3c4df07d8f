package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
)

// dataFSM adapts an fsm.DB to hashicorp/raft's BatchingFSM. It is a thin
// shell in the rqlite style: decode the entry, hand it to the stateless
// command processor (fsm.DB.ApplyEntry), publish the applied index.
//
// Concurrency: Apply holds mu for writing; reads (node's read path) hold it
// for reading. Snapshot only takes an O(1) copy-on-write view under the lock;
// Persist streams that view without any lock, so writes continue.
type dataFSM struct {
	group uint32
	log   *slog.Logger

	mu sync.RWMutex
	db *fsm.DB

	// applied is the highest log index whose effects are visible in db:
	// advanced by ApplyBatch and, for entries raft never hands to the FSM
	// (no-ops, barriers), by the group after a Barrier completes.
	applied atomic.Uint64
	notify  atomic.Pointer[chan struct{}] // closed and replaced on every advance

	fatal    atomic.Pointer[error]
	onFatal  func(error)
	lastTime atomic.Int64 // the newest entry timestamp applied (ms)
	// lastCmd is the index of the newest command entry applied: what a
	// follower must have applied to hold every write the leader holds
	// (followers never see no-ops and barriers, so their applied index
	// stops at the last command).
	lastCmd atomic.Uint64

	// clock and applyTimeTTL: see dataFSMConfig.
	clock        func() int64
	applyTimeTTL func() bool
}

// dataFSMConfig configures newDataFSM.
type dataFSMConfig struct {
	Group   uint32
	Log     *slog.Logger
	OnFatal func(error) // called (on its own goroutine) when Apply must stop
	// Clock is this replica's data clock (unix ms). Apply never reads it,
	// except under the apply-time-ttl planted bug (ApplyTimeTTL reports
	// whether it is on): relative expiries are then resolved with it.
	Clock        func() int64
	ApplyTimeTTL func() bool
}

func newDataFSM(c dataFSMConfig) *dataFSM {
	f := &dataFSM{group: c.Group, log: c.Log, db: fsm.NewDB(), onFatal: c.OnFatal, clock: c.Clock, applyTimeTTL: c.ApplyTimeTTL}
	ch := make(chan struct{})
	f.notify.Store(&ch)
	return f
}

// apply applies one decoded entry. Deterministic, except under the
// apply-time-ttl planted bug, which resolves relative expiries with this
// replica's own clock (fsm.DB.ApplyEntryLocalTTL).
func (f *dataFSM) apply(e *fsm.Entry) ([]fsm.Reply, error) {
	if f.applyTimeTTL != nil && f.clock != nil && f.applyTimeTTL() {
		return f.db.ApplyEntryLocalTTL(e, f.clock())
	}
	return f.db.ApplyEntry(e)
}

// applyResult is what Apply returns through the raft future. It is a
// pointer so the proposer can drop the replies once delivered: raft's log
// cache keeps the future (and so its response) alive for a while.
type applyResult struct {
	replies []fsm.Reply
	err     error
}

// Apply implements raft.FSM.
func (f *dataFSM) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch implements raft.BatchingFSM: one lock acquisition per batch.
func (f *dataFSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	if len(logs) == 0 {
		return out
	}
	if errp := f.fatal.Load(); errp != nil {
		for i := range out {
			out[i] = &applyResult{err: *errp}
		}
		return out
	}
	f.mu.Lock()
	var lastCmd uint64
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			out[i] = &applyResult{}
			continue
		}
		e, err := fsm.DecodeEntry(l.Data)
		var replies []fsm.Reply
		if err == nil {
			replies, err = f.apply(e)
			if e.Now > f.lastTime.Load() {
				f.lastTime.Store(e.Now)
			}
		}
		if err != nil {
			// A corrupt entry or an unknown opcode: stop deliberately
			// rather than diverge from the other replicas.
			err = fmt.Errorf("group %d: apply index %d: %w", f.group, l.Index, err)
			f.fatal.Store(&err)
			for j := i; j < len(out); j++ {
				out[j] = &applyResult{err: err}
			}
			f.mu.Unlock()
			f.log.Error("fsm stopped", "group", f.group, "index", l.Index, "err", err)
			if f.onFatal != nil {
				go f.onFatal(err)
			}
			return out
		}
		out[i] = &applyResult{replies: replies}
		lastCmd = l.Index
	}
	if lastCmd > 0 {
		f.lastCmd.Store(lastCmd)
	}
	f.mu.Unlock()
	f.publish(logs[len(logs)-1].Index)
	return out
}

func (f *dataFSM) publish(index uint64) {
	for {
		cur := f.applied.Load()
		if index <= cur {
			return
		}
		if f.applied.CompareAndSwap(cur, index) {
			break
		}
	}
	next := make(chan struct{})
	old := f.notify.Swap(&next)
	close(*old)
}

// waitApplied blocks until the FSM has applied index, or ctx ends.
func (f *dataFSM) waitApplied(ctx context.Context, index uint64) error {
	for {
		ch := f.notify.Load()
		if f.applied.Load() >= index {
			return nil
		}
		select {
		case <-*ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// read runs fn with the database under the read lock.
func (f *dataFSM) read(fn func(db *fsm.DB)) {
	f.mu.RLock()
	fn(f.db)
	f.mu.RUnlock()
}

// Snapshot implements raft.FSM: an O(1) copy-on-write view.
func (f *dataFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	view := f.db.Snapshot()
	view.SetIndex(f.applied.Load())
	f.mu.Unlock()
	return &dataSnapshot{group: f.group, view: view}, nil
}

// Restore implements raft.FSM: build a new DB from the stream, then swap it
// in atomically.
func (f *dataFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, err := fsm.ReadSnapshot(rc)
	if err != nil {
		return fmt.Errorf("group %d: restore: %w", f.group, err)
	}
	f.mu.Lock()
	f.db = db
	f.mu.Unlock()
	if idx := db.RestoredIndex(); idx > 0 {
		f.lastCmd.Store(idx)
		f.publish(idx)
	}
	return nil
}

type dataSnapshot struct {
	group uint32
	view  *fsm.Snapshot
}

// Persist streams the view; writes to the live DB are not blocked.
func (s *dataSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.view.WriteTo(sink, s.group); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("group %d: persist snapshot: %w", s.group, err)
	}
	return sink.Close()
}

func (s *dataSnapshot) Release() {}
