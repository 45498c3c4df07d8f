package raftstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned (wrapped) by writes issued after Close.
var ErrClosed = errors.New("raftstore: store closed")

const (
	// Bounds on one group commit. A batch is cut when either is reached;
	// the rest waits for the next commit.
	maxBatchRequests = 4096
	maxBatchBytes    = 64 << 20

	// Queue capacity; senders block when it is full (back-pressure).
	queueLen = 1024

	fileMode    = 0o600
	openTimeout = 2 * time.Second // lock wait: a second opener fails instead of hanging

	// defaultSegmentSize is the size of a segment file. Segments are
	// allocated in full when created, so a commit never grows a file.
	defaultSegmentSize = 64 << 20
	// bridgeSize is the size of a segment created on the commit path
	// because no spare was ready (and of a new store's first segment):
	// small, so that the log soon moves on to a zero-filled spare.
	bridgeSize = 4 << 20

	// Compaction: once more than relocateMinSegments segments besides the
	// active one exist, the one with the smallest live fraction, if under
	// half, has its live entries copied forward, at most relocateMaxBytes
	// per commit, so that a group writing rarely cannot pin old segments.
	relocateMinSegments = 4
	relocateMaxBytes    = 8 << 20

	maxKeyLen    = 32 << 10 // stable-store key limit (bbolt's, kept for compatibility)
	maxRecBufCap = 4 << 20  // frame buffers larger than this are not kept between commits
)

// Config configures Open.
type Config struct {
	// Path of the store's head file (created if missing). The log itself
	// lives in segment files next to it, named Path.<number>.seg, plus at
	// most one Path.spare; see DESIGN.md.
	Path string
	// NoSync skips fsync on commit, like Redis "appendfsync no": writes are
	// acknowledged once they are in the OS page cache, so a machine crash
	// (not a process crash) can lose acknowledged raft entries and votes,
	// which breaks raft's safety guarantees. For benchmarks and tests only.
	NoSync bool
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger

	segmentSize  int64 // tests: segment size (default defaultSegmentSize)
	compactAfter int   // tests: inactive segments before compaction (default relocateMinSegments)
}

// Stats are cumulative counters of the group committer.
type Stats struct {
	Commits   uint64 // frames written by the committer, each made durable by one fdatasync
	Requests  uint64 // write requests acknowledged
	Fallbacks uint64 // batches re-run one request per commit after an error
}

// Store is a node-wide raft log/stable store shared by all raft groups of a
// node: an append-only journal of segment files with group commit. See
// DESIGN.md.
type Store struct {
	logger  *slog.Logger
	path    string
	head    *os.File // holds the lock
	storeID uint64
	noSync  bool
	segSize int64
	// compactAfter is the number of inactive segments above which the
	// emptiest is compacted (relocateMinSegments unless a test says).
	compactAfter int

	// mu guards closed; writers hold it shared while enqueueing so that
	// Close (exclusive) knows nothing can be enqueued after it.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request
	stop   chan struct{}
	wg     sync.WaitGroup

	gmu    sync.Mutex
	groups map[uint32]*GroupStore

	// segMu guards segs, active and filesClosed for readers (GetLog, Sync);
	// only the committer (or Open, or Close) changes them, under the write
	// lock, and it reads them without locking.
	segMu       sync.RWMutex
	segs        map[uint32]*segment
	active      *segment
	filesClosed bool

	// The spare segment file (see segment.go).
	spareMu    sync.Mutex
	spareReady bool  // Path.spare exists
	spareBusy  bool  // the preparer is writing Path.spare.tmp
	spareSize  int64 // size of Path.spare
	prepKick   chan struct{}
	prepStop   chan struct{}
	prepWG     sync.WaitGroup

	// Owned by the committer goroutine (and by Open before it starts).
	nextSeq    uint64     // seq of the next frame
	nextSegNo  uint32     // number of the next segment
	dead       []*segment // inactive segments no live entry uses, reclaimed after answering callers
	failed     error      // a frame write or fsync failed: the log is unusable until reopened
	recBuf     []byte     // reused frame buffer
	halfKicked uint32     // segment for which the preparer was asked for the next spare

	// idle is set while the committer waits for requests: tests that
	// reach into committer-owned state wait for it.
	idle atomic.Bool

	commits, requests, fallbacks atomic.Uint64
	writes, fsyncs               atomic.Uint64 // frame writes and fdatasyncs (tests, benchmarks)
}

type opKind uint8

const (
	opAppend opKind = iota + 1
	opDeleteRange
	opSet
	opDeleteGroup
)

// request is one write handed to the committer. The caller blocks on done
// until the commit containing it is durable (or failed).
type request struct {
	g  *GroupStore
	op opKind

	// opAppend: buf holds the encoded entries back to back; entry i ends at
	// ends[i] and has log index idx[i].
	buf  []byte
	ends []int
	idx  []uint64

	// opDeleteRange
	min, max uint64

	// opSet
	key, val []byte

	done chan error
}

func (r *request) size() int { return len(r.buf) + 8*len(r.idx) + len(r.key) + len(r.val) }

// Open opens (creating if needed) the store at cfg.Path, rebuilds every
// group's index and stable values from the segment files (verifying every
// checksum; a torn last frame is discarded) and starts the committer.
func Open(cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("raftstore: open: empty path")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "raftstore")
	segSize := cfg.segmentSize
	if segSize <= 0 {
		segSize = defaultSegmentSize
	}
	head, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("raftstore: open %s: %w", cfg.Path, err)
	}
	if err := lockFile(head, openTimeout); err != nil {
		_ = head.Close()
		return nil, fmt.Errorf("raftstore: open %s: %w", cfg.Path, err)
	}
	s := &Store{
		logger:       logger,
		path:         cfg.Path,
		head:         head,
		noSync:       cfg.NoSync,
		segSize:      segSize,
		compactAfter: relocateMinSegments,
		reqs:         make(chan *request, queueLen),
		stop:         make(chan struct{}),
		groups:       make(map[uint32]*GroupStore),
		segs:         make(map[uint32]*segment),
		prepKick:     make(chan struct{}, 1),
		prepStop:     make(chan struct{}),
		nextSeq:      1,
		nextSegNo:    1,
	}
	if cfg.compactAfter > 0 {
		s.compactAfter = cfg.compactAfter
	}
	start := time.Now()
	if err := s.init(); err != nil {
		s.closeFiles()
		_ = head.Close()
		return nil, fmt.Errorf("raftstore: open %s: %w", cfg.Path, err)
	}
	s.prepWG.Add(1)
	go s.prepare()
	s.wg.Add(1)
	go s.run()
	logger.Info("raft log store opened", "path", cfg.Path, "groups", len(s.groups),
		"segments", len(s.segs), "took", time.Since(start), "nosync", cfg.NoSync)
	return s, nil
}

// Group returns the LogStore/StableStore view of group id. Views are
// memoized: every call with the same id returns the same *GroupStore.
func (s *Store) Group(id uint32) *GroupStore {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	return s.groupLocked(id)
}

func (s *Store) groupLocked(id uint32) *GroupStore {
	g, ok := s.groups[id]
	if !ok {
		g = &GroupStore{s: s, id: id}
		s.groups[id] = g
	}
	return g
}

// DeleteGroup durably drops every log entry and stable key of group id (used
// when a replica is removed from this node). The raft instance using the
// group must be shut down first; the GroupStore stays usable and is empty
// afterwards.
func (s *Store) DeleteGroup(id uint32) error {
	g := s.Group(id)
	if err := s.submit(&request{g: g, op: opDeleteGroup}); err != nil {
		return fmt.Errorf("raftstore: delete group %d: %w", id, err)
	}
	s.logger.Info("raft group storage deleted", "group", id)
	return nil
}

// Stats returns the committer's cumulative counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Requests: s.requests.Load(), Fallbacks: s.fallbacks.Load()}
}

// Close stops the committer (after it has committed every write already
// accepted and reclaimed dead segments), waits for it and closes the files.
// Later writes fail with ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	close(s.prepStop)
	s.prepWG.Wait()
	var err error
	if s.noSync && s.failed == nil {
		// A clean shutdown leaves nothing only in the page cache.
		if serr := fdatasync(s.active.f); serr != nil {
			err = fmt.Errorf("raftstore: close %s: sync: %w", s.path, serr)
		}
	}
	s.closeFiles()
	if cerr := s.head.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("raftstore: close %s: %w", s.path, cerr)
	}
	s.logger.Info("raft log store closed", "path", s.path)
	return err
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// closeFiles closes every segment; later reads fail with ErrClosed.
func (s *Store) closeFiles() {
	s.segMu.Lock()
	defer s.segMu.Unlock()
	s.filesClosed = true
	for _, seg := range s.segs {
		_ = seg.f.Close()
	}
}

// submit enqueues r and waits for its outcome.
func (s *Store) submit(r *request) error {
	r.done = make(chan error, 1)
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.reqs <- r
	s.mu.RUnlock()
	return <-r.done
}

// run is the committer: it takes every request queued at that moment, from
// all groups, writes them as one frame with one fdatasync and then
// acknowledges each caller; housekeeping follows.
func (s *Store) run() {
	defer s.wg.Done()
	batch := make([]*request, 0, 64)
	for {
		var stopping bool
		s.idle.Store(true)
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.stop:
			stopping = true
		}
		s.idle.Store(false)
		size := 0
		for _, r := range batch {
			size += r.size()
		}
		// Give writers that are runnable right now a chance to queue
		// before the batch is cut (cheap: no sleep, just a yield).
		runtime.Gosched()
	drain:
		for len(batch) < maxBatchRequests && size < maxBatchBytes {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				size += r.size()
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			s.commit(batch)
			clear(batch)
			batch = batch[:0]
			s.maintain()
			// Let the writers just released run before the next commit
			// starts: the next commit blocks in fdatasync while holding
			// this P, and the released raft loops are what refill the
			// queue, so yielding here makes the next commit larger.
			runtime.Gosched()
		}
		// After Close set closed, nothing new can be enqueued, so an empty
		// queue here means every accepted write has been answered.
		if stopping && len(s.reqs) == 0 {
			s.reclaim()
			return
		}
	}
}

// commit applies batch in one frame. If applying any request fails before
// anything is written, each request is retried in its own commit so that
// one bad request cannot fail the others.
func (s *Store) commit(batch []*request) {
	t, err := s.apply(batch)
	if err == nil {
		s.finish(batch, t, nil)
		return
	}
	var applyErr *applyError
	if !errors.As(err, &applyErr) || len(batch) == 1 {
		s.logger.Error("raft log commit failed", "requests", len(batch), "err", err)
		s.finish(batch, nil, err)
		return
	}
	s.fallbacks.Add(1)
	s.logger.Warn("raft log batch failed, retrying requests one by one", "requests", len(batch), "err", err)
	for _, r := range batch {
		one := []*request{r}
		t, err := s.apply(one)
		if err != nil {
			s.logger.Error("raft log commit failed", "group", r.g.id, "err", err)
		}
		s.finish(one, t, err)
	}
}

// applyError marks a failure of one request (as opposed to the commit).
type applyError struct{ err error }

func (e *applyError) Error() string { return e.err.Error() }
func (e *applyError) Unwrap() error { return e.err }

// finish publishes the commit's effects (on success) and then acknowledges
// callers, so a caller returning from StoreLogs already sees its entries in
// GetLog, FirstIndex and LastIndex.
func (s *Store) finish(batch []*request, t *txn, err error) {
	if err == nil {
		s.publish(t)
	}
	s.requests.Add(uint64(len(batch)))
	for _, r := range batch {
		r.done <- err
	}
}

// Sync flushes the log to stable storage. With NoSync (appendfsync
// everysec) the node calls it once a second, bounding what a power loss can
// take to about a second of acknowledged writes. Only the active segment
// can hold unsynced frames: a segment is synced before the log moves on.
func (s *Store) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	if err := fdatasync(s.active.f); err != nil {
		return fmt.Errorf("raft log sync: segment %d: %w", s.active.no, err)
	}
	return nil
}
