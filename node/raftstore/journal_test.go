package raftstore

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// quiet waits until the committer has finished its housekeeping and waits
// for requests, so that the test may read (or, like commitTogether, run)
// committer-owned state. Only for tests with no concurrent writers.
func quiet(s *Store) *Store {
	for !s.idle.Load() || len(s.reqs) > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	return s
}

// commitTogether runs reqs in one group commit, as the committer does when
// they are queued at the same moment. Only for tests with no concurrent
// writers.
func commitTogether(t *testing.T, s *Store, reqs ...*request) {
	t.Helper()
	quiet(s)
	for _, r := range reqs {
		r.done = make(chan error, 1)
	}
	s.commit(reqs)
	for _, r := range reqs {
		if err := <-r.done; err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	s.maintain()
}

func appendReq(g *GroupStore, logs ...*raft.Log) *request { return newAppendRequest(g, logs) }

func deleteReq(g *GroupStore, lo, hi uint64) *request {
	return &request{g: g, op: opDeleteRange, min: lo, max: hi}
}

func entries(from, to, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, entry(i, term))
	}
	return out
}

func mustStore(t *testing.T, g *GroupStore, logs ...*raft.Log) {
	t.Helper()
	if err := g.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
}

func mustDelete(t *testing.T, g *GroupStore, lo, hi uint64) {
	t.Helper()
	if err := g.DeleteRange(lo, hi); err != nil {
		t.Fatal(err)
	}
}

func mustSet(t *testing.T, g *GroupStore, key, val string) {
	t.Helper()
	if err := g.Set([]byte(key), []byte(val)); err != nil {
		t.Fatal(err)
	}
}

func wantStable(t *testing.T, g *GroupStore, key, val string) {
	t.Helper()
	v, err := g.Get([]byte(key))
	if val == "" {
		if err != ErrKeyNotFound {
			t.Fatalf("group %d Get(%q) = %q, %v; want ErrKeyNotFound", g.id, key, v, err)
		}
		return
	}
	if err != nil || string(v) != val {
		t.Fatalf("group %d Get(%q) = %q, %v; want %q", g.id, key, v, err, val)
	}
}

// openSized opens the store at path with small segments, so tests rotate.
func openSized(t *testing.T, path string, segSize int64) *Store {
	t.Helper()
	s, err := Open(Config{Path: path, Logger: quietLogger(), segmentSize: segSize})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// segNums lists the segment files on disk.
func segNums(t *testing.T, path string) []uint32 {
	t.Helper()
	nums, err := listSegments(path)
	if err != nil {
		t.Fatal(err)
	}
	return nums
}

// checkSuffix checks the state TestSuffixTruncateAndRewrite builds.
func checkSuffix(t *testing.T, g *GroupStore) {
	t.Helper()
	wantBounds(t, g, 1, 7)
	wantLog(t, g, entry(1, 1))
	wantMissing(t, g, 2) // hole
	for i := uint64(3); i <= 4; i++ {
		wantLog(t, g, entry(i, 1))
	}
	wantMissing(t, g, 5) // truncated, then the log continued past a gap
	wantMissing(t, g, 6)
	wantLog(t, g, entry(7, 4))
	for i := uint64(8); i <= 12; i++ {
		wantMissing(t, g, i)
	}
}

func TestSuffixTruncateAndRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	g := s.Group(1)
	mustStore(t, g, entries(1, 10, 1)...)
	mustStore(t, g, entries(11, 12, 1)...)
	// Follower conflict: drop the suffix and rewrite part of it.
	mustDelete(t, g, 8, 12)
	wantBounds(t, g, 1, 7)
	mustStore(t, g, entries(8, 9, 2)...)
	wantBounds(t, g, 1, 9)
	wantLog(t, g, entry(8, 2))
	wantLog(t, g, entry(9, 2))
	wantMissing(t, g, 10)
	// Within one commit: append, truncate, append again.
	commitTogether(t, s, appendReq(g, entry(10, 3)), deleteReq(g, 9, 10), appendReq(g, entry(9, 3), entry(10, 3)))
	wantLog(t, g, entry(9, 3))
	wantLog(t, g, entry(10, 3))
	// Truncate a suffix, then store past a gap; then punch a hole.
	mustDelete(t, g, 5, math.MaxUint64)
	mustStore(t, g, entry(7, 4))
	mustDelete(t, g, 2, 2)
	checkSuffix(t, g)
	for round := 0; round < 2; round++ {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, path)
		checkSuffix(t, s.Group(1))
	}
	// The same state must also survive being carried by a checkpoint:
	// rotate segments until the ones holding the deletes are reclaimed.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSized(t, path, 4096)
	other := s.Group(2)
	for i := uint64(1); i <= 200; i++ {
		mustStore(t, other, entry(i, 1))
		mustDelete(t, other, 0, i-1)
	}
	checkSuffix(t, s.Group(1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSized(t, path, 4096)
	defer s.Close()
	checkSuffix(t, s.Group(1))
	wantBounds(t, s.Group(2), 200, 200)
}

// TestRotationAndReclamation writes far more than a segment through three
// groups that truncate their log prefix as raft does after snapshots: the
// log rotates, old segments are reclaimed, every live entry stays readable,
// and stable values survive, also across reopening.
func TestRotationAndReclamation(t *testing.T) {
	const (
		segSize = 16 << 10
		keep    = 40 // live entries per group (trailing logs)
		total   = 1500
	)
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openSized(t, path, segSize)
	gs := []*GroupStore{s.Group(0), s.Group(1), s.Group(2)}
	mustSet(t, gs[0], "LastVoteCand", "early") // only in the first segment's frames
	mustSet(t, gs[1], "gone", "x")
	if err := s.DeleteGroup(1); err != nil { // the clear must outlive the segment holding the Set
		t.Fatal(err)
	}
	for i := uint64(1); i <= total; i++ {
		var reqs []*request
		for k, g := range gs {
			if k == 0 && i%10 != 0 { // group 0 writes rarely
				continue
			}
			reqs = append(reqs, appendReq(g, entry(i, uint64(k+1))))
			if i > keep {
				reqs = append(reqs, deleteReq(g, 0, i-keep))
			}
		}
		if i%100 == 0 {
			reqs = append(reqs, &request{g: gs[2], op: opSet, key: []byte("CurrentTerm"), val: []byte(fmt.Sprint(i))})
		}
		commitTogether(t, s, reqs...)
		if n := len(quiet(s).segs); n > relocateMinSegments+3 {
			t.Fatalf("after %d commits: %d segments (on disk %v)", i, n, segNums(t, path))
		}
	}
	if segs := segNums(t, path); slices.Contains(segs, 1) || segs[len(segs)-1] < 5 {
		t.Fatalf("segments on disk = %v: want rotations, the first segment reclaimed", segs)
	}
	verify := func(s *Store) {
		t.Helper()
		g0, g1, g2 := s.Group(0), s.Group(1), s.Group(2)
		wantBounds(t, g0, total-keep+10, total)
		for i := uint64(total - keep + 10); i <= total; i += 10 {
			wantLog(t, g0, entry(i, 1))
		}
		wantMissing(t, g0, total-keep)
		for k, g := range []*GroupStore{g1, g2} {
			wantBounds(t, g, total-keep+1, total)
			for i := uint64(total - keep + 1); i <= total; i++ {
				wantLog(t, g, entry(i, uint64(k+2)))
			}
		}
		wantStable(t, g0, "LastVoteCand", "early")
		wantStable(t, g1, "gone", "")
		wantStable(t, g2, "CurrentTerm", fmt.Sprint(total))
	}
	verify(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSized(t, path, segSize)
	verify(s)
	checkSegmentsLive(t, s)
	// Reopen with another segment size: the layout does not depend on it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	verify(s)
}

// checkSegmentsLive checks, on an idle store, that the per-segment live
// counts match the indexes and that no inactive segment is dead.
func checkSegmentsLive(t *testing.T, s *Store) {
	t.Helper()
	quiet(s)
	live := map[uint32]int{}
	for _, g := range s.groups {
		for _, r := range g.idx.runs {
			for _, l := range r.locs {
				live[l.seg]++
				if s.segs[l.seg] == nil {
					t.Fatalf("group %d points into missing segment %d", g.id, l.seg)
				}
			}
		}
	}
	for no, seg := range s.segs {
		if seg.live != live[no] {
			t.Fatalf("segment %d: live count %d, indexes use it %d times", no, seg.live, live[no])
		}
		if seg != s.active && seg.live == 0 {
			t.Fatalf("segment %d is dead but was not reclaimed", no)
		}
	}
	if got, want := segNums(t, s.path), slices.Sorted(maps.Keys(s.segs)); !slices.Equal(got, want) {
		t.Fatalf("segment files %v, store uses %v", got, want)
	}
}

// TestRelocation: one group keeps a few old entries while another writes a
// lot; without compaction the old entries would pin every segment.
func TestRelocation(t *testing.T) {
	const segSize = 8 << 10
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openSized(t, path, segSize)
	rare, busy := s.Group(0), s.Group(1)
	for i := uint64(1); i <= 2000; i++ {
		if i%50 == 0 { // one quiet entry in almost every segment, never truncated
			mustStore(t, rare, entry(i/50, 7))
		}
		mustStore(t, busy, entry(i, 1))
		if i > 10 {
			mustDelete(t, busy, 0, i-10)
		}
		if n := len(quiet(s).segs); n > relocateMinSegments+3 {
			t.Fatalf("after %d writes: %d segments", i, n)
		}
	}
	verify := func(s *Store) {
		t.Helper()
		wantBounds(t, s.Group(0), 1, 40)
		for i := uint64(1); i <= 40; i++ {
			wantLog(t, s.Group(0), entry(i, 7))
		}
		wantBounds(t, s.Group(1), 1991, 2000)
	}
	verify(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSized(t, path, segSize)
	defer s.Close()
	verify(s)
	checkSegmentsLive(t, s)
}

// TestSpareSegments: dead segments of the standard size are recycled as the
// spare, whose stale frames must not confuse recovery once it is reused;
// the preparer makes a zero-filled spare when none is left.
func TestSpareSegments(t *testing.T) {
	const segSize = 8 << 10
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openSized(t, path, segSize)
	g := s.Group(1)
	for i := uint64(1); i <= 600; i++ {
		mustStore(t, g, entry(i, 1))
		mustDelete(t, g, 0, i-1)
		if i%150 == 0 { // stale frames meet recovery
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openSized(t, path, segSize)
			g = s.Group(1)
			wantBounds(t, g, i, i)
			wantLog(t, g, entry(i, 1))
		}
	}
	if _, err := os.Stat(s.sparePath()); err != nil {
		t.Fatalf("no spare segment after reclaiming segments: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Without a spare, the preparer zero-fills one once the active
	// segment is half full.
	if err := os.Remove(path + ".spare"); err != nil {
		t.Fatal(err)
	}
	s = openSized(t, path, segSize)
	defer s.Close()
	g = s.Group(1)
	i := uint64(601)
	waitFor(t, "a zero-filled spare", func() bool {
		if st, err := os.Stat(s.sparePath()); err == nil && st.Size() == segSize {
			return true
		}
		mustStore(t, g, entry(i, 1))
		i++
		return false
	})
	b, err := os.ReadFile(s.sparePath())
	if err != nil {
		t.Fatal(err)
	}
	if !isZero(b) {
		t.Fatal("prepared spare is not zero-filled")
	}
}

func TestDeleteGroupReclaims(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openSized(t, path, 4096)
	a, b := s.Group(1), s.Group(2)
	mustStore(t, a, entries(1, 5, 1)...)
	commitTogether(t, s, appendReq(a, entry(6, 1)), appendReq(b, entry(1, 1)))
	mustSet(t, a, "k", "v")
	if err := s.DeleteGroup(1); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, a, 0, 0)
	wantMissing(t, a, 6)
	wantStable(t, a, "k", "")
	mustDelete(t, b, 1, 1)
	for i := uint64(1); i <= 100; i++ { // move on to later segments
		mustStore(t, b, entry(i+1, 2))
		mustDelete(t, b, 0, i)
	}
	if quiet(s).segs[1] != nil {
		t.Fatal("segment 1 survived although nothing in it is live")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSized(t, path, 4096)
	defer s.Close()
	wantBounds(t, s.Group(1), 0, 0)
	wantMissing(t, s.Group(1), 6)
	wantStable(t, s.Group(1), "k", "")
	wantBounds(t, s.Group(2), 101, 101)
	checkSegmentsLive(t, s)
}

// TestStaleEntriesStayDead: entries deleted (or overwritten) in an old
// segment that survives, with the delete in a reclaimed segment, must not
// come back: the active segment's checkpoint rules them out.
func TestStaleEntriesStayDead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openSized(t, path, 4096)
	pin, g, busy := s.Group(1), s.Group(2), s.Group(3)
	commitTogether(t, s, appendReq(pin, entry(1, 1)), appendReq(g, entries(1, 10, 1)...)) // segment 1
	i := uint64(1)
	for ; quiet(s).active.no == 1; i++ {
		mustStore(t, busy, entry(i, 1))
	}
	mustDelete(t, g, 5, 10) // in segment 2
	mustDelete(t, g, 2, 2)  // a hole
	for ; quiet(s).segs[2] != nil; i++ {
		mustStore(t, busy, entry(i, 1))
		mustDelete(t, busy, 0, i-1)
	}
	if quiet(s).segs[1] == nil {
		t.Fatal("segment 1 was reclaimed although it holds live entries")
	}
	mustStore(t, g, entries(5, 6, 2)...)
	check := func(s *Store) {
		t.Helper()
		g := s.Group(2)
		wantBounds(t, g, 1, 6)
		wantMissing(t, g, 2)
		wantLog(t, g, entry(5, 2))
		wantLog(t, g, entry(6, 2))
		for i := uint64(7); i <= 10; i++ {
			wantMissing(t, g, i)
		}
		wantLog(t, s.Group(1), entry(1, 1))
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSized(t, path, 4096)
	defer s.Close()
	check(s)
}
