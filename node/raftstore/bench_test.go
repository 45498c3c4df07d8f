package raftstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// BenchmarkGroupCommit has G goroutines, one per raft group (raft stores a
// group's log from one goroutine), each calling StoreLogs with one 128-byte
// entry in a loop, fsync on, against:
//
//   - segments: this package (layout 3: one frame per commit appended to a
//     preallocated segment file, one fdatasync);
//   - buckets: the bbolt layout 1 (one bucket per group, entries keyed by
//     index) with the same group committer, kept below only for comparison;
//   - raftboltdb: one raft-boltdb/v2 file per group.
//
// b.N is the total number of StoreLogs calls across all groups. Metrics:
// ops/s (b.N / elapsed), commits/s (group commits per second),
// writes/commit (StoreLogs calls per commit) and fsyncs/commit (fdatasync
// calls per commit; for the bbolt stores, pwrites/commit: page-run writes
// per commit, each commit then costing two fdatasyncs). A measurement only:
// nothing asserts on it.
//
//	go test -run '^$' -bench GroupCommit -benchtime 20000x -count 3 ./node/raftstore/
func BenchmarkGroupCommit(b *testing.B) {
	for _, groups := range []int{1, 16} {
		b.Run(fmt.Sprintf("segments/groups=%d", groups), func(b *testing.B) {
			s, err := Open(Config{Path: filepath.Join(b.TempDir(), "raft.db"), Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			stores := make([]logWriter, groups)
			for i := range stores {
				stores[i] = s.Group(uint32(i + 1))
			}
			c0, f0 := s.Stats().Commits, s.fsyncs.Load()
			runStoreLogs(b, stores, func() (uint64, int64) {
				return s.Stats().Commits - c0, int64(s.fsyncs.Load() - f0)
			}, "fsyncs/commit")
		})
		b.Run(fmt.Sprintf("buckets/groups=%d", groups), func(b *testing.B) {
			s, err := openLegacy(filepath.Join(b.TempDir(), "raft.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.close()
			stores := make([]logWriter, groups)
			for i := range stores {
				stores[i] = &legacyGroup{s: s, id: uint32(i + 1)}
			}
			w0 := pwrites(s.db)
			runStoreLogs(b, stores, func() (uint64, int64) { return s.commits, pwrites(s.db) - w0 }, "pwrites/commit")
		})
		b.Run(fmt.Sprintf("raftboltdb/groups=%d", groups), func(b *testing.B) {
			dir := b.TempDir()
			stores := make([]logWriter, groups)
			for i := range stores {
				bs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, fmt.Sprintf("group-%d.db", i+1))})
				if err != nil {
					b.Fatal(err)
				}
				defer bs.Close()
				stores[i] = bs
			}
			runStoreLogs(b, stores, nil, "")
		})
	}
}

type logWriter interface{ StoreLogs([]*raft.Log) error }

// runStoreLogs runs the writers; stats (nil: one commit per write), read
// after they are done, returns the commits and a count of I/O calls
// (reported per commit as the metric named unit) they caused.
func runStoreLogs(b *testing.B, stores []logWriter, stats func() (commits uint64, io int64), unit string) {
	data := bytes.Repeat([]byte("x"), 128)
	per := b.N / len(stores)
	extra := b.N % len(stores)
	var wg sync.WaitGroup
	errc := make(chan error, len(stores))
	b.ResetTimer()
	start := time.Now()
	for i, st := range stores {
		n := per
		if i < extra {
			n++
		}
		wg.Add(1)
		go func(st logWriter, n int) {
			defer wg.Done()
			for idx := 1; idx <= n; idx++ {
				l := &raft.Log{Index: uint64(idx), Term: 1, Type: raft.LogCommand, Data: data}
				if err := st.StoreLogs([]*raft.Log{l}); err != nil {
					errc <- err
					return
				}
			}
		}(st, n)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	c, w := uint64(b.N), int64(0)
	if stats != nil {
		c, w = stats()
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(c)/elapsed.Seconds(), "commits/s")
	if c > 0 {
		b.ReportMetric(float64(b.N)/float64(c), "writes/commit")
		if w > 0 {
			b.ReportMetric(float64(w)/float64(c), unit)
		}
	}
}

// legacyStore is the layout this package used before the journal (version
// 1: top-level bucket "g"+id per group with a "logs" sub-bucket keyed by
// big-endian index, FillPercent 0.9) with the same group committer, reduced
// to StoreLogs. It exists only so the benchmark can compare the layouts.
type legacyStore struct {
	db      *bbolt.DB
	reqs    chan *legacyReq
	wg      sync.WaitGroup
	commits uint64 // written by the committer, read after close or when idle
}

type legacyReq struct {
	id         uint32
	keys, vals [][]byte
	done       chan error
}

func openLegacy(path string) (*legacyStore, error) {
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{
		Timeout: openTimeout, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType,
	})
	if err != nil {
		return nil, err
	}
	s := &legacyStore{db: db, reqs: make(chan *legacyReq, queueLen)}
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// close stops the committer; callers must have stopped writing.
func (s *legacyStore) close() {
	close(s.reqs)
	s.wg.Wait()
	_ = s.db.Close()
}

func (s *legacyStore) run() {
	defer s.wg.Done()
	for r := range s.reqs {
		batch := []*legacyReq{r}
	drain:
		for len(batch) < maxBatchRequests {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := s.db.Update(func(tx *bbolt.Tx) error {
			touched := map[uint32]*bbolt.Bucket{}
			for _, r := range batch {
				name := binary.BigEndian.AppendUint32([]byte{'g'}, r.id)
				gb, err := tx.CreateBucketIfNotExists(name)
				if err != nil {
					return err
				}
				lb, err := gb.CreateBucketIfNotExists([]byte("logs"))
				if err != nil {
					return err
				}
				lb.FillPercent = 0.9
				for i := range r.keys {
					if err := lb.Put(r.keys[i], r.vals[i]); err != nil {
						return err
					}
				}
				touched[r.id] = lb
			}
			for _, lb := range touched { // the old committer re-read every touched group's bounds
				c := lb.Cursor()
				c.First()
				c.Last()
			}
			return nil
		})
		if err == nil {
			s.commits++
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

type legacyGroup struct {
	s  *legacyStore
	id uint32
}

func (g *legacyGroup) StoreLogs(logs []*raft.Log) error {
	r := &legacyReq{id: g.id, done: make(chan error, 1)}
	for _, l := range logs {
		r.keys = append(r.keys, binary.BigEndian.AppendUint64(nil, l.Index))
		r.vals = append(r.vals, appendLog(nil, l))
	}
	g.s.reqs <- r
	return <-r.done
}

func pwrites(db *bbolt.DB) int64 {
	st := db.Stats()
	return st.TxStats.GetWrite()
}
