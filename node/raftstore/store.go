package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// ErrClosed is returned (wrapped) by writes issued after Close.
var ErrClosed = errors.New("raftstore: store closed")

// Bucket layout. Every group owns one top-level bucket named
// groupPrefix + big-endian uint32 id, holding two nested buckets: logsBucket
// (big-endian uint64 index → encoded raft.Log) and stableBucket (raft's
// StableStore keys → values). metaBucket holds the layout version.
var (
	metaBucket     = []byte("meta")
	metaVersionKey = []byte("layout-version")
	logsBucket     = []byte("logs")
	stableBucket   = []byte("stable")
)

const (
	groupPrefix   = 'g'
	layoutVersion = 1

	// Bounds on one group-commit transaction. A batch is cut when either is
	// reached; the rest waits for the next transaction.
	maxBatchRequests = 4096
	maxBatchBytes    = 64 << 20

	// Queue capacity; senders block when it is full (back-pressure).
	queueLen = 1024

	fileMode    = 0o600
	openTimeout = 2 * time.Second // bbolt flock wait: a second opener fails instead of hanging
)

func groupBucket(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{groupPrefix}, id)
}

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

	commits, requests, fallbacks atomic.Uint64
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

	// opAppend: buf holds the encoded entries back to back, ends[i] is the
	// end offset of entry i, keys holds 8-byte index keys back to back.
	buf  []byte
	ends []int
	keys []byte

	// opDeleteRange
	min, max uint64

	// opSet
	key, val []byte

	done chan error
}

func (r *request) size() int { return len(r.buf) + len(r.keys) + len(r.key) + len(r.val) }

// Open opens (creating if needed) the store at cfg.Path and starts its
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
		Timeout:        openTimeout,
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("raftstore: open %s: %w", cfg.Path, err)
	}
	db.NoSync = cfg.NoSync
	s := &Store{
		db:     db,
		logger: logger,
		path:   cfg.Path,
		reqs:   make(chan *request, queueLen),
		stop:   make(chan struct{}),
		groups: make(map[uint32]*GroupStore),
	}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftstore: open %s: %w", cfg.Path, err)
	}
	s.wg.Add(1)
	go s.run()
	logger.Info("raft log store opened", "path", cfg.Path, "groups", len(s.groups), "nosync", cfg.NoSync)
	return s, nil
}

// init checks the layout version and loads the index cache of every group
// present in the file.
func (s *Store) init() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		mb, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return fmt.Errorf("create meta bucket: %w", err)
		}
		if v := mb.Get(metaVersionKey); v == nil {
			if err := mb.Put(metaVersionKey, binary.BigEndian.AppendUint32(nil, layoutVersion)); err != nil {
				return fmt.Errorf("write layout version: %w", err)
			}
		} else if len(v) != 4 || binary.BigEndian.Uint32(v) != layoutVersion {
			return fmt.Errorf("unsupported layout version %x (want %d)", v, layoutVersion)
		}
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			if len(name) != 5 || name[0] != groupPrefix {
				return nil
			}
			g := s.groupLocked(binary.BigEndian.Uint32(name[1:]))
			first, last, err := logBounds(b)
			if err != nil {
				return fmt.Errorf("group %d: %w", g.id, err)
			}
			g.publish(first, last)
			return nil
		})
	})
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
		g = &GroupStore{s: s, id: id, bucket: groupBucket(id)}
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
// accepted), waits for it and closes the bbolt file. Later writes fail with
// ErrClosed. Close is idempotent.
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
		}
		// After Close set closed, nothing new can be enqueued, so an empty
		// queue here means every accepted write has been answered.
		if stopping && len(s.reqs) == 0 {
			return
		}
	}
}

// commit applies batch in one transaction. If applying any request fails,
// the transaction is rolled back and each request is retried in its own
// transaction so that one bad request cannot fail the others.
func (s *Store) commit(batch []*request) {
	bounds, err := s.apply(batch)
	if err == nil {
		s.finish(batch, bounds, nil)
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
		bounds, err := s.apply(one)
		if err != nil {
			s.logger.Error("raft log commit failed", "group", r.g.id, "err", err)
		}
		s.finish(one, bounds, err)
	}
}

// applyError marks a failure of one request (as opposed to the commit).
type applyError struct {
	group uint32
	err   error
}

func (e *applyError) Error() string { return fmt.Sprintf("group %d: %v", e.group, e.err) }
func (e *applyError) Unwrap() error { return e.err }

type bounds struct{ first, last uint64 }

// apply runs batch in one write transaction and returns the new index
// bounds of every group it touched.
func (s *Store) apply(batch []*request) (map[*GroupStore]bounds, error) {
	touched := make(map[*GroupStore]bounds, 4)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, r := range batch {
			if err := applyOne(tx, r); err != nil {
				return &applyError{group: r.g.id, err: err}
			}
			touched[r.g] = bounds{}
		}
		for g := range touched {
			var b bounds
			if gb := tx.Bucket(g.bucket); gb != nil {
				first, last, err := logBounds(gb)
				if err != nil {
					return &applyError{group: g.id, err: err}
				}
				b = bounds{first, last}
			}
			touched[g] = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.commits.Add(1)
	return touched, nil
}

// finish publishes new bounds (on success) and then acknowledges callers,
// so a caller returning from StoreLogs already sees its entries in
// FirstIndex/LastIndex.
func (s *Store) finish(batch []*request, bs map[*GroupStore]bounds, err error) {
	if err == nil {
		for g, b := range bs {
			g.publish(b.first, b.last)
		}
	}
	s.requests.Add(uint64(len(batch)))
	for _, r := range batch {
		r.done <- err
	}
}

func applyOne(tx *bbolt.Tx, r *request) error {
	if r.op == opDeleteGroup {
		if err := tx.DeleteBucket(r.g.bucket); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
			return fmt.Errorf("delete bucket: %w", err)
		}
		return nil
	}
	gb, err := tx.CreateBucketIfNotExists(r.g.bucket)
	if err != nil {
		return fmt.Errorf("create group bucket: %w", err)
	}
	switch r.op {
	case opAppend:
		lb, err := gb.CreateBucketIfNotExists(logsBucket)
		if err != nil {
			return fmt.Errorf("create logs bucket: %w", err)
		}
		lb.FillPercent = 0.9 // appends are mostly in key order
		start := 0
		for i, end := range r.ends {
			k := r.keys[i*8 : i*8+8]
			if err := lb.Put(k, r.buf[start:end]); err != nil {
				return fmt.Errorf("put log %d: %w", binary.BigEndian.Uint64(k), err)
			}
			start = end
		}
	case opDeleteRange:
		lb := gb.Bucket(logsBucket)
		if lb == nil || r.min > r.max {
			return nil
		}
		minKey, maxKey := indexKey(nil, r.min), indexKey(nil, r.max)
		c := lb.Cursor()
		// Re-seek after every delete: never rely on cursor position after
		// Delete.
		for k, _ := c.Seek(minKey); k != nil && bytes.Compare(k, maxKey) <= 0; k, _ = c.Seek(minKey) {
			if err := c.Delete(); err != nil {
				return fmt.Errorf("delete log %d: %w", binary.BigEndian.Uint64(k), err)
			}
		}
	case opSet:
		sb, err := gb.CreateBucketIfNotExists(stableBucket)
		if err != nil {
			return fmt.Errorf("create stable bucket: %w", err)
		}
		if err := sb.Put(r.key, r.val); err != nil {
			return fmt.Errorf("set %q: %w", r.key, err)
		}
	default:
		return fmt.Errorf("unknown op %d", r.op)
	}
	return nil
}

// logBounds returns the first and last index in a group bucket's logs.
func logBounds(gb *bbolt.Bucket) (first, last uint64, err error) {
	lb := gb.Bucket(logsBucket)
	if lb == nil {
		return 0, 0, nil
	}
	c := lb.Cursor()
	fk, _ := c.First()
	if fk == nil {
		return 0, 0, nil
	}
	lk, _ := c.Last()
	if first, err = keyIndex(fk); err != nil {
		return 0, 0, err
	}
	if last, err = keyIndex(lk); err != nil {
		return 0, 0, err
	}
	return first, last, nil
}
