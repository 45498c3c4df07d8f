package raftstore

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// ErrClosed is returned (wrapped) by writes issued after Close.
var ErrClosed = errors.New("raftstore: store closed")

// Bucket layout (version 2, see DESIGN.md): metaBucket holds the layout
// version; journalBucket maps a big-endian commit sequence number to the
// record of everything that commit appended; boundsBucket maps a big-endian
// group id to the group's cuts (durable deletions); stableBucket maps group
// id + raft key to raft's StableStore values.
var (
	metaBucket     = []byte("meta")
	metaVersionKey = []byte("layout-version")
	journalBucket  = []byte("journal")
	boundsBucket   = []byte("bounds")
	stableBucket   = []byte("stable")
)

const (
	layoutVersion = 2

	// Bounds on one group-commit transaction. A batch is cut when either is
	// reached; the rest waits for the next transaction.
	maxBatchRequests = 4096
	maxBatchBytes    = 64 << 20

	// At most this many dead journal records are deleted per transaction
	// (about 1.5 ms of work measured on the dev VM), so collecting the
	// records of a large truncation does not stall one commit for long.
	maxGCPerTxn = 1024

	// Queue capacity; senders block when it is full (back-pressure).
	queueLen = 1024

	fileMode        = 0o600
	openTimeout     = 2 * time.Second // bbolt flock wait: a second opener fails instead of hanging
	initialMmapSize = 256 << 20       // avoids remapping (which blocks readers) as the file grows
	maxRecBufCap    = 4 << 20         // record buffers larger than this are not kept between commits
)

// Config configures Open.
type Config struct {
	// Path of the bbolt file (created if missing).
	Path string
	// NoSync skips fsync on commit, like Redis "appendfsync no": writes are
	// acknowledged once they are in the OS page cache, so a machine crash
	// (not a process crash) can lose acknowledged raft entries and votes,
	// which breaks raft's safety guarantees. For benchmarks and tests only.
	NoSync bool
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
}

// Stats are cumulative counters of the group committer.
type Stats struct {
	Commits   uint64 // bbolt write transactions committed (≈ fsyncs)
	Requests  uint64 // write requests acknowledged
	Fallbacks uint64 // batches re-run one request per transaction after an error
}

// Store is a node-wide raft log/stable store shared by all raft groups of a
// node, backed by one bbolt file with group commit. See DESIGN.md.
type Store struct {
	db     *bbolt.DB
	logger *slog.Logger
	path   string

	// mu guards closed; writers hold it shared while enqueueing so that
	// Close (exclusive) knows nothing can be enqueued after it.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request
	stop   chan struct{}
	wg     sync.WaitGroup

	gmu    sync.Mutex
	groups map[uint32]*GroupStore

	// Journal state, owned by the committer goroutine (and by Open before
	// the committer starts).
	nextSeq uint64               // seq of the next record; above every record and every cut
	recs    map[uint64]*recMeta  // every record in the journal
	garbage []uint64             // records with no live entry, deleted by the next transaction
	dirty   map[*GroupStore]bool // groups whose in-memory cuts are not yet persisted
	recBuf  []byte               // reused record buffer
	planned []*groupPlan         // groups touched by the transaction being applied

	commits, requests, fallbacks atomic.Uint64
}

// recMeta is the committer's view of one journal record.
type recMeta struct {
	live   int           // entries the index still maps to this record
	groups []*GroupStore // groups with a section in it
}

type opKind uint8

const (
	opAppend opKind = iota + 1
	opDeleteRange
	opSet
	opDeleteGroup
)

// request is one write handed to the committer. The caller blocks on done
// until the transaction containing it is durable (or failed).
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
// group's index from the journal (verifying every checksum) and starts the
// committer goroutine.
func Open(cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("raftstore: open: empty path")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "raftstore")
	db, err := bbolt.Open(cfg.Path, fileMode, &bbolt.Options{
		Timeout:         openTimeout,
		NoFreelistSync:  true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("raftstore: open %s: %w", cfg.Path, err)
	}
	db.NoSync = cfg.NoSync
	s := &Store{
		db:      db,
		logger:  logger,
		path:    cfg.Path,
		reqs:    make(chan *request, queueLen),
		stop:    make(chan struct{}),
		groups:  make(map[uint32]*GroupStore),
		nextSeq: 1,
		recs:    make(map[uint64]*recMeta),
		dirty:   make(map[*GroupStore]bool),
	}
	start := time.Now()
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftstore: open %s: %w", cfg.Path, err)
	}
	s.wg.Add(1)
	go s.run()
	logger.Info("raft log store opened", "path", cfg.Path, "groups", len(s.groups),
		"records", len(s.recs), "took", time.Since(start), "nosync", cfg.NoSync)
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
// accepted and collected pending garbage), waits for it and closes the bbolt
// file. Later writes fail with ErrClosed. Close is idempotent.
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
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("raftstore: close %s: %w", s.path, err)
	}
	s.logger.Info("raft log store closed", "path", s.path)
	return nil
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
// all groups, applies them in one bbolt transaction (one fsync) and then
// acknowledges each caller.
func (s *Store) run() {
	defer s.wg.Done()
	batch := make([]*request, 0, 64)
	for {
		var stopping bool
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.stop:
			stopping = true
		}
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
			// Let the writers just released run before the next commit
			// starts: the next transaction blocks in fsync while holding
			// this P, and the released raft loops are what refill the
			// queue, so yielding here makes the next commit larger.
			runtime.Gosched()
		}
		// After Close set closed, nothing new can be enqueued, so an empty
		// queue here means every accepted write has been answered.
		if stopping && len(s.reqs) == 0 {
			s.collectAll()
			return
		}
	}
}

// collectAll runs maintenance-only transactions until no garbage or
// unpersisted bounds remain (or one fails), so a cleanly closed file holds
// no dead records.
func (s *Store) collectAll() {
	// Every round makes progress; the bound only guards against a bug
	// turning Close into a hang.
	for round, rounds := 0, len(s.garbage)/maxGCPerTxn+3; (len(s.garbage) > 0 || len(s.dirty) > 0) && round < rounds; round++ {
		t, err := s.apply(nil)
		if err != nil {
			s.logger.Warn("raft log garbage collection at close failed", "err", err)
			return
		}
		s.publish(t)
	}
}

// commit applies batch in one transaction. If applying any request fails,
// the transaction is rolled back and each request is retried in its own
// transaction so that one bad request cannot fail the others.
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

// finish publishes the transaction's effects (on success) and then
// acknowledges callers, so a caller returning from StoreLogs already sees
// its entries in GetLog, FirstIndex and LastIndex.
func (s *Store) finish(batch []*request, t *txn, err error) {
	if err == nil {
		s.publish(t)
	}
	s.requests.Add(uint64(len(batch)))
	for _, r := range batch {
		r.done <- err
	}
}

// Sync flushes the log file to stable storage. With NoSync (appendfsync
// everysec) the node calls it once a second, bounding what a power loss can
// take to about a second of acknowledged writes.
func (s *Store) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("raft log sync: %w", err)
	}
	return nil
}
