package raftstore

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// BenchmarkGroupCommit compares G goroutines, one per raft group, each
// calling StoreLogs with one entry in a loop, on (a) the shared
// group-commit store and (b) one raft-boltdb/v2 file per group in the same
// directory. Both fsync every write. b.N is the total number of StoreLogs
// calls across all groups; the "ops/s" metric is b.N / elapsed. It is a
// measurement only: nothing asserts on it.
//
//	go test -run ^$ -bench GroupCommit -benchtime 3s ./node/raftstore/
func BenchmarkGroupCommit(b *testing.B) {
	for _, groups := range []int{1, 16} {
		b.Run(fmt.Sprintf("shared/groups=%d", groups), func(b *testing.B) {
			s, err := Open(Config{Path: filepath.Join(b.TempDir(), "raft.db"), Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			stores := make([]raft.LogStore, groups)
			for i := range stores {
				stores[i] = s.Group(uint32(i + 1))
			}
			before := s.Stats()
			runStoreLogs(b, stores)
			after := s.Stats()
			if c := after.Commits - before.Commits; c > 0 {
				b.ReportMetric(float64(after.Requests-before.Requests)/float64(c), "writes/commit")
			}
		})
		b.Run(fmt.Sprintf("raftboltdb/groups=%d", groups), func(b *testing.B) {
			dir := b.TempDir()
			stores := make([]raft.LogStore, groups)
			for i := range stores {
				bs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, fmt.Sprintf("group-%d.db", i+1))})
				if err != nil {
					b.Fatal(err)
				}
				defer bs.Close()
				stores[i] = bs
			}
			runStoreLogs(b, stores)
		})
	}
}

func runStoreLogs(b *testing.B, stores []raft.LogStore) {
	data := bytes.Repeat([]byte("x"), 128)
	per := b.N / len(stores)
	extra := b.N % len(stores)
	var wg sync.WaitGroup
	errc := make(chan error, len(stores))
	b.ResetTimer()
	for i, st := range stores {
		n := per
		if i < extra {
			n++
		}
		wg.Add(1)
		go func(st raft.LogStore, n int) {
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
	b.StopTimer()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
