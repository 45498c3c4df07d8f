package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(Config{Path: path, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func entry(index, term uint64) *raft.Log {
	return &raft.Log{
		Index: index, Term: term, Type: raft.LogCommand,
		Data:       []byte(fmt.Sprintf("data-%d-%d", index, term)),
		Extensions: []byte{byte(index)},
		AppendedAt: time.Unix(1_700_000_000+int64(index), int64(term)),
	}
}

func bounds2(t *testing.T, g *GroupStore) (uint64, uint64) {
	t.Helper()
	first, err := g.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := g.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return first, last
}

func wantBounds(t *testing.T, g *GroupStore, first, last uint64) {
	t.Helper()
	if f, l := bounds2(t, g); f != first || l != last {
		t.Fatalf("group %d bounds = %d..%d, want %d..%d", g.id, f, l, first, last)
	}
}

func wantLog(t *testing.T, g *GroupStore, want *raft.Log) {
	t.Helper()
	var got raft.Log
	if err := g.GetLog(want.Index, &got); err != nil {
		t.Fatalf("group %d GetLog(%d): %v", g.id, want.Index, err)
	}
	if !logsEqual(&got, want) {
		t.Fatalf("group %d GetLog(%d) = %+v, want %+v", g.id, want.Index, got, *want)
	}
}

func wantMissing(t *testing.T, g *GroupStore, index uint64) {
	t.Helper()
	var got raft.Log
	// raft compares with ==, so the sentinel must not be wrapped.
	if err := g.GetLog(index, &got); err != raft.ErrLogNotFound {
		t.Fatalf("group %d GetLog(%d) err = %v, want raft.ErrLogNotFound", g.id, index, err)
	}
}

func TestLogStoreConformance(t *testing.T) {
	s, _ := newStore(t)
	g := s.Group(1)
	if s.Group(1) != g {
		t.Fatal("Group must memoize views")
	}
	wantBounds(t, g, 0, 0)
	wantMissing(t, g, 1)

	if err := g.StoreLog(entry(1, 1)); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, g, 1, 1)
	wantLog(t, g, entry(1, 1))

	var batch []*raft.Log
	for i := uint64(2); i <= 10; i++ {
		batch = append(batch, entry(i, 1))
	}
	if err := g.StoreLogs(batch); err != nil {
		t.Fatal(err)
	}
	if err := g.StoreLogs(nil); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, g, 1, 10)
	for i := uint64(1); i <= 10; i++ {
		wantLog(t, g, entry(i, 1))
	}
	wantMissing(t, g, 11)
	wantMissing(t, g, 0)

	// Overwrite (follower conflict resolution).
	if err := g.StoreLogs([]*raft.Log{entry(9, 2), entry(10, 2)}); err != nil {
		t.Fatal(err)
	}
	wantLog(t, g, entry(9, 2))
	wantBounds(t, g, 1, 10)

	// Suffix truncation, prefix compaction, middle hole, no-op ranges.
	if err := g.DeleteRange(9, 10); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, g, 1, 8)
	wantMissing(t, g, 9)
	if err := g.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, g, 4, 8)
	wantMissing(t, g, 3)
	wantLog(t, g, entry(4, 1))
	if err := g.DeleteRange(6, 6); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, g, 6)
	wantLog(t, g, entry(5, 1))
	wantLog(t, g, entry(7, 1))
	wantBounds(t, g, 4, 8)
	if err := g.DeleteRange(100, 200); err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteRange(8, 4); err != nil { // min > max: nothing
		t.Fatal(err)
	}
	wantBounds(t, g, 4, 8)

	// Gap after a snapshot install: raft may store past LastIndex+1.
	if err := g.StoreLog(entry(1000, 3)); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, g, 4, 1000)
	if err := g.DeleteRange(0, 999); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, g, 1000, 1000)
	if err := g.DeleteRange(0, ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, g, 0, 0)
	wantMissing(t, g, 1000)

	// Entries at the extremes of the key space.
	if err := g.StoreLogs([]*raft.Log{entry(0, 1), entry(^uint64(0), 1)}); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, g, 0, ^uint64(0))
	wantLog(t, g, entry(^uint64(0), 1))
}

func TestStableStoreConformance(t *testing.T) {
	s, _ := newStore(t)
	g := s.Group(3)

	v, err := g.Get([]byte("missing"))
	if err == nil || err.Error() != "not found" || v != nil {
		t.Fatalf("Get(missing) = %q, %v; raft requires nil, \"not found\"", v, err)
	}
	n, err := g.GetUint64([]byte("missing"))
	if err == nil || err.Error() != "not found" || n != 0 {
		t.Fatalf("GetUint64(missing) = %d, %v", n, err)
	}

	if err := g.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if v, err := g.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := g.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := g.Get([]byte("empty")); err != nil || len(v) != 0 {
		t.Fatalf("Get(empty) = %q, %v", v, err)
	}
	if err := g.SetUint64([]byte("CurrentTerm"), 1<<40+5); err != nil {
		t.Fatal(err)
	}
	if n, err := g.GetUint64([]byte("CurrentTerm")); err != nil || n != 1<<40+5 {
		t.Fatalf("GetUint64 = %d, %v", n, err)
	}
	if _, err := g.GetUint64([]byte("LastVoteCand")); err == nil {
		t.Fatal("GetUint64 of a 6-byte value must fail")
	}
	// An empty key is rejected; the error reaches the caller.
	if err := g.Set(nil, []byte("x")); err == nil {
		t.Fatal("Set with empty key succeeded")
	}
}

// TestRaftSeesMissingState uses raft's own helper, which relies on the
// "not found" convention, against a fresh and a used group.
func TestRaftSeesMissingState(t *testing.T) {
	s, _ := newStore(t)
	g := s.Group(1)
	snaps := raft.NewInmemSnapshotStore()
	has, err := raft.HasExistingState(g, g, snaps)
	if err != nil || has {
		t.Fatalf("HasExistingState(fresh) = %v, %v", has, err)
	}
	if err := g.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	has, err = raft.HasExistingState(g, g, snaps)
	if err != nil || !has {
		t.Fatalf("HasExistingState(used) = %v, %v", has, err)
	}
	if has, err := raft.HasExistingState(s.Group(2), s.Group(2), snaps); err != nil || has {
		t.Fatalf("group 2 must be isolated from group 1: %v, %v", has, err)
	}
}

func TestGroupsAreIsolated(t *testing.T) {
	s, _ := newStore(t)
	a, b := s.Group(1), s.Group(2)
	if err := a.StoreLogs([]*raft.Log{entry(1, 1), entry(2, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := b.StoreLog(entry(5, 9)); err != nil {
		t.Fatal(err)
	}
	if err := a.Set([]byte("k"), []byte("a")); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, a, 1, 2)
	wantBounds(t, b, 5, 5)
	wantMissing(t, b, 1)
	if _, err := b.Get([]byte("k")); err != ErrKeyNotFound {
		t.Fatalf("group 2 sees group 1's key: %v", err)
	}
	if err := b.DeleteRange(0, 10); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, a, 1, 2)
	wantLog(t, a, entry(2, 1))
}

func TestPersistenceAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	for id := uint32(1); id <= 3; id++ {
		g := s.Group(id)
		for i := uint64(1); i <= 20; i++ {
			if err := g.StoreLog(entry(i, uint64(id))); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.DeleteRange(1, uint64(id)); err != nil {
			t.Fatal(err)
		}
		if err := g.SetUint64([]byte("CurrentTerm"), uint64(id)*10); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Group(1).StoreLog(entry(21, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v, want ErrClosed", err)
	}

	s = openStore(t, path)
	defer s.Close()
	for id := uint32(1); id <= 3; id++ {
		g := s.Group(id)
		wantBounds(t, g, uint64(id)+1, 20) // loaded at Open, before any read
		for i := uint64(id) + 1; i <= 20; i++ {
			wantLog(t, g, entry(i, uint64(id)))
		}
		if n, err := g.GetUint64([]byte("CurrentTerm")); err != nil || n != uint64(id)*10 {
			t.Fatalf("group %d term = %d, %v", id, n, err)
		}
	}
	wantBounds(t, s.Group(4), 0, 0)
}

func TestDeleteGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	a, b := s.Group(1), s.Group(2)
	for _, g := range []*GroupStore{a, b} {
		if err := g.StoreLogs([]*raft.Log{entry(1, 1), entry(2, 1)}); err != nil {
			t.Fatal(err)
		}
		if err := g.Set([]byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteGroup(1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(99); err != nil { // never existed
		t.Fatal(err)
	}
	wantBounds(t, a, 0, 0)
	wantMissing(t, a, 1)
	if _, err := a.Get([]byte("k")); err != ErrKeyNotFound {
		t.Fatalf("stable key survived DeleteGroup: %v", err)
	}
	wantBounds(t, b, 1, 2)
	// The view is reusable after deletion.
	if err := a.StoreLog(entry(7, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	wantBounds(t, s.Group(1), 7, 7)
	wantBounds(t, s.Group(2), 1, 2)
	if v, err := s.Group(2).Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("group 2 key = %q, %v", v, err)
	}
}

// TestBatchFallback puts a failing request in the same batch as good ones
// (by calling the committer's commit directly) and checks that only the bad
// request fails.
func TestBatchFallback(t *testing.T) {
	s, _ := newStore(t)
	g1, g2 := s.Group(1), s.Group(2)
	mk := func(r *request) *request { r.done = make(chan error, 1); return r }
	enc := appendLog(nil, entry(1, 1))
	good1 := mk(&request{g: g1, op: opAppend, buf: enc, ends: []int{len(enc)}, idx: []uint64{1}})
	bad := mk(&request{g: g2, op: opSet, key: nil, val: []byte("x")})
	good2 := mk(&request{g: g2, op: opSet, key: []byte("k"), val: []byte("v")})
	before := s.Stats()
	s.commit([]*request{good1, bad, good2})
	if err := <-good1.done; err != nil {
		t.Fatalf("good request 1 failed: %v", err)
	}
	if err := <-bad.done; err == nil {
		t.Fatal("bad request succeeded")
	}
	if err := <-good2.done; err != nil {
		t.Fatalf("good request 2 failed: %v", err)
	}
	if got := s.Stats().Fallbacks - before.Fallbacks; got != 1 {
		t.Fatalf("fallbacks = %d, want 1", got)
	}
	wantLog(t, g1, entry(1, 1))
	wantBounds(t, g1, 1, 1)
	if v, err := g2.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
}

// TestConcurrentGroups has many goroutines of many groups write at once
// (log appends, overwrites, truncations and stable keys), then verifies
// every entry, before and after a reopen.
func TestConcurrentGroups(t *testing.T) {
	const (
		groups     = 16
		writers    = 3  // per group, each owning a disjoint index range
		perWriter  = 60 // entries per writer
		rangeWidth = 1000
	)
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	var wg sync.WaitGroup
	errc := make(chan error, groups*(writers+1))
	var issued sync.Map // counts requests per goroutine, summed later
	for gid := uint32(1); gid <= groups; gid++ {
		g := s.Group(gid)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(g *GroupStore, w int) {
				defer wg.Done()
				base := uint64(w*rangeWidth + 1)
				n := 0
				for i := uint64(0); i < perWriter; {
					k := 1 + (i % 3) // batches of 1..3
					var batch []*raft.Log
					for j := uint64(0); j < k && i+j < perWriter; j++ {
						batch = append(batch, entry(base+i+j, 1))
					}
					if err := g.StoreLogs(batch); err != nil {
						errc <- err
						return
					}
					n++
					i += uint64(len(batch))
				}
				// Overwrite the last 5 with a higher term, append a tail,
				// then truncate the tail (follower conflict handling).
				var over []*raft.Log
				for i := base + perWriter - 5; i < base+perWriter; i++ {
					over = append(over, entry(i, 2))
				}
				tail := []*raft.Log{entry(base+perWriter, 2), entry(base+perWriter+1, 2)}
				if err := g.StoreLogs(over); err != nil {
					errc <- err
					return
				}
				if err := g.StoreLogs(tail); err != nil {
					errc <- err
					return
				}
				if err := g.DeleteRange(base+perWriter, base+perWriter+1); err != nil {
					errc <- err
					return
				}
				issued.Store(fmt.Sprintf("%d/%d", g.id, w), n+3)
			}(g, w)
		}
		wg.Add(1)
		go func(g *GroupStore) {
			defer wg.Done()
			for i := uint64(1); i <= 30; i++ {
				if err := g.SetUint64([]byte("CurrentTerm"), i); err != nil {
					errc <- err
					return
				}
			}
			issued.Store(fmt.Sprintf("%d/stable", g.id), 30)
		}(g)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var total uint64
	issued.Range(func(_, v any) bool { total += uint64(v.(int)); return true })
	st := s.Stats()
	if st.Requests != total {
		t.Fatalf("committer acknowledged %d requests, %d were issued", st.Requests, total)
	}
	if st.Commits == 0 || st.Commits > st.Requests {
		t.Fatalf("implausible stats %+v", st)
	}
	t.Logf("requests=%d commits=%d (%.1f requests per fsync)", st.Requests, st.Commits, float64(st.Requests)/float64(st.Commits))

	verify := func(s *Store) {
		t.Helper()
		for gid := uint32(1); gid <= groups; gid++ {
			g := s.Group(gid)
			wantBounds(t, g, 1, uint64((writers-1)*rangeWidth+perWriter))
			for w := 0; w < writers; w++ {
				base := uint64(w*rangeWidth + 1)
				for i := base; i < base+perWriter; i++ {
					term := uint64(1)
					if i >= base+perWriter-5 {
						term = 2
					}
					wantLog(t, g, entry(i, term))
				}
				wantMissing(t, g, base+perWriter)
				wantMissing(t, g, base+perWriter+1)
			}
			if n, err := g.GetUint64([]byte("CurrentTerm")); err != nil || n != 30 {
				t.Fatalf("group %d term = %d, %v", gid, n, err)
			}
		}
	}
	verify(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	verify(s)
}

// TestCloseWithConcurrentWriters checks that Close never strands a writer:
// every call returns, either durable (nil) or ErrClosed, and every write
// acknowledged as durable is there after reopening.
func TestCloseWithConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	const writers = 8
	acked := make([]uint64, writers) // last acknowledged index per writer group
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			g := s.Group(uint32(w + 1))
			for i := uint64(1); ; i++ {
				err := g.StoreLog(entry(i, 1))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				acked[w] = i
			}
		}(w)
	}
	// Let the writers get going; correctness does not depend on how far.
	for s.Stats().Requests < 50 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = openStore(t, path)
	defer s.Close()
	for w := 0; w < writers; w++ {
		g := s.Group(uint32(w + 1))
		if _, last := bounds2(t, g); last < acked[w] {
			t.Fatalf("writer %d: acknowledged %d but only %d is durable", w, acked[w], last)
		}
		for i := uint64(1); i <= acked[w]; i++ {
			wantLog(t, g, entry(i, 1))
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Config{}); err == nil {
		t.Fatal("empty path accepted")
	}
	dir := t.TempDir()
	if _, err := Open(Config{Path: dir, Logger: quietLogger()}); err == nil {
		t.Fatal("opening a directory succeeded")
	}
	if _, err := Open(Config{Path: filepath.Join(dir, "missing", "raft.db"), Logger: quietLogger()}); err == nil {
		t.Fatal("opening in a missing directory succeeded")
	}
}

func TestNoSyncStillWorks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(Config{Path: path, NoSync: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Group(1).StoreLog(entry(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	wantLog(t, s.Group(1), entry(1, 1))
}

func TestGetLogAfterCloseFails(t *testing.T) {
	s, _ := newStore(t)
	g := s.Group(1)
	if err := g.StoreLog(entry(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	err := g.GetLog(1, &l)
	if !errors.Is(err, ErrClosed) || err == raft.ErrLogNotFound || !bytes.Contains([]byte(err.Error()), []byte("group 1")) {
		t.Fatalf("GetLog after Close = %v, want a wrapped ErrClosed", err)
	}
}
