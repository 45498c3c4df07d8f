package node

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// lazyLog is the log store of the skip-fsync planted bug (test-only, see
// DESIGN.md). It wraps a data group's durable log store; it is installed
// whenever debug-unsafe is on, and while on() reports the bug on, it
// acknowledges command entries at once, keeping them in process memory
// only, and writes them to the durable store in the background every
// `every` (2 s). A kill -9 does not lose the OS page cache, so merely
// skipping fsync would be undetectable; holding the entries in memory
// simulates skipped fsyncs followed by a power loss: killing a majority
// loses acknowledged writes.
//
// The node must still restart cleanly, so the durable log stays a prefix
// of the log raft believes it has (raft panics on a hole): entries are
// written in index order, and any entry that is not a command
// (configuration changes, a new term's no-op, barriers), or any append
// while the bug is off, first writes out everything pending and is then
// written through. The stable store (term, vote) is not wrapped: it stays
// durable, so raft never votes twice in a term after a restart.
type lazyLog struct {
	base  raft.LogStore
	on    func() bool
	every time.Duration
	log   *slog.Logger

	// wmu serialises writes to base: flushes, write-through appends and
	// DeleteRange, so a flush never writes back entries a DeleteRange
	// removed.
	wmu sync.Mutex
	// mu guards pending (entries acknowledged but not yet in base, by
	// index; always a contiguous suffix of the log) and its bounds.
	mu       sync.RWMutex
	pending  map[uint64]*raft.Log
	lo, hi   uint64
	npending atomic.Int64

	// crashed (tests): stop writing anything to base, as if the process
	// had died; close then discards what is pending.
	crashed atomic.Bool

	stop chan struct{}
	done chan struct{}
}

var _ raft.LogStore = (*lazyLog)(nil)

func newLazyLog(base raft.LogStore, on func() bool, every time.Duration, log *slog.Logger) *lazyLog {
	l := &lazyLog{base: base, on: on, every: every, log: log, pending: map[uint64]*raft.Log{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.flushLoop()
	return l
}

func (l *lazyLog) flushLoop() {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if err := l.flush(); err != nil {
				l.log.Error("skip-fsync: background log write failed", "err", err)
			}
		}
	}
}

// FirstIndex implements raft.LogStore.
func (l *lazyLog) FirstIndex() (uint64, error) {
	first, err := l.base.FirstIndex()
	if err != nil {
		return 0, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.lo != 0 && (first == 0 || l.lo < first) {
		first = l.lo
	}
	return first, nil
}

// LastIndex implements raft.LogStore.
func (l *lazyLog) LastIndex() (uint64, error) {
	last, err := l.base.LastIndex()
	if err != nil {
		return 0, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return max(last, l.hi), nil
}

// GetLog implements raft.LogStore: pending entries first.
func (l *lazyLog) GetLog(index uint64, out *raft.Log) error {
	l.mu.RLock()
	e := l.pending[index]
	l.mu.RUnlock()
	if e != nil {
		*out = *e
		return nil
	}
	return l.base.GetLog(index, out)
}

// StoreLog implements raft.LogStore.
func (l *lazyLog) StoreLog(log *raft.Log) error { return l.StoreLogs([]*raft.Log{log}) }

// StoreLogs implements raft.LogStore. raft calls it from one goroutine per
// group at a time.
func (l *lazyLog) StoreLogs(logs []*raft.Log) error {
	lazy := l.crashed.Load() || l.on()
	for _, e := range logs {
		if e.Type != raft.LogCommand {
			lazy = lazy && l.crashed.Load()
		}
	}
	if !lazy {
		if l.npending.Load() == 0 {
			return l.base.StoreLogs(logs)
		}
		l.wmu.Lock()
		defer l.wmu.Unlock()
		if err := l.flushLocked(); err != nil {
			return err
		}
		return l.base.StoreLogs(logs)
	}
	l.mu.Lock()
	for _, e := range logs {
		c := *e
		l.pending[e.Index] = &c
		if l.lo == 0 || e.Index < l.lo {
			l.lo = e.Index
		}
		l.hi = max(l.hi, e.Index)
	}
	l.npending.Store(int64(len(l.pending)))
	l.mu.Unlock()
	return nil
}

// DeleteRange implements raft.LogStore.
func (l *lazyLog) DeleteRange(min, max uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	for i := range l.pending {
		if min <= i && i <= max {
			delete(l.pending, i)
		}
	}
	l.bounds()
	l.mu.Unlock()
	return l.base.DeleteRange(min, max)
}

// bounds recomputes lo, hi and npending after removals (mu held).
func (l *lazyLog) bounds() {
	l.lo, l.hi = 0, 0
	for i := range l.pending {
		if l.lo == 0 || i < l.lo {
			l.lo = i
		}
		if i > l.hi {
			l.hi = i
		}
	}
	l.npending.Store(int64(len(l.pending)))
}

// flush writes every pending entry to base, in index order.
func (l *lazyLog) flush() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.flushLocked()
}

func (l *lazyLog) flushLocked() error {
	if l.crashed.Load() {
		return nil
	}
	l.mu.RLock()
	batch := make([]*raft.Log, 0, len(l.pending))
	for _, e := range l.pending {
		batch = append(batch, e)
	}
	l.mu.RUnlock()
	if len(batch) == 0 {
		return nil
	}
	sort.Slice(batch, func(i, j int) bool { return batch[i].Index < batch[j].Index })
	if err := l.base.StoreLogs(batch); err != nil {
		return fmt.Errorf("skip-fsync: write %d delayed entries: %w", len(batch), err)
	}
	l.mu.Lock()
	for _, e := range batch {
		if l.pending[e.Index] == e {
			delete(l.pending, e.Index)
		}
	}
	l.bounds()
	l.mu.Unlock()
	return nil
}

// crash (tests) stops all writes to base: what is pending is lost at close,
// as after a power loss.
func (l *lazyLog) crash() { l.crashed.Store(true) }

// close stops the background writer and writes out what is pending (a
// clean shutdown loses nothing), unless crash was called. Call it after
// raft has shut down.
func (l *lazyLog) close() error {
	select {
	case <-l.stop:
		return nil
	default:
	}
	close(l.stop)
	<-l.done
	return l.flush()
}
