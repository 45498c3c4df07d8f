package raftstore

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
)

func TestLogIndexAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var x logIndex
	model := map[uint64]loc{}
	dead := 0
	for step := 0; step < 20000; step++ {
		switch op := rng.IntN(10); {
		case op < 7:
			i := uint64(rng.IntN(300))
			if op == 0 {
				i = math.MaxUint64 - uint64(rng.IntN(3))
			}
			l := loc{seg: uint32(step + 1), off: uint32(i)}
			old, replaced := x.set(i, l)
			if prev, ok := model[i]; ok != replaced || (ok && prev != old) {
				t.Fatalf("step %d: set(%d) replaced %v %v, model %v %v", step, i, old, replaced, prev, ok)
			}
			model[i] = l
		default:
			lo := uint64(rng.IntN(300))
			hi := lo + uint64(rng.IntN(40))
			if op == 9 {
				hi = math.MaxUint64
			}
			want := 0
			for i := range model {
				if lo <= i && i <= hi {
					delete(model, i)
					want++
				}
			}
			dead = 0
			x.deleteRange(lo, hi, func(loc) { dead++ })
			if dead != want {
				t.Fatalf("step %d: deleteRange(%d, %d) released %d, want %d", step, lo, hi, dead, want)
			}
		}
		if step%97 == 0 || step > 19900 {
			keys := slices.Sorted(maps.Keys(model))
			first, last := x.bounds()
			if len(keys) == 0 && (first != 0 || last != 0) || len(keys) > 0 && (first != keys[0] || last != keys[len(keys)-1]) {
				t.Fatalf("step %d: bounds %d..%d, model %v", step, first, last, keys)
			}
			for i := uint64(0); i < 345; i++ {
				got, ok := x.get(i)
				if want, wok := model[i]; ok != wok || got != want {
					t.Fatalf("step %d: get(%d) = %v %v, want %v %v", step, i, got, ok, want, wok)
				}
			}
			for k := 1; k < len(x.runs); k++ {
				if x.runs[k-1].last() >= x.runs[k].base {
					t.Fatalf("step %d: runs overlap: %+v", step, x.runs)
				}
			}
		}
	}
}

// TestRandomOpsSurviveRestart drives random appends, overwrites, prefix,
// suffix and middle truncations, gaps, DeleteGroup and mixed single
// transactions against an in-memory model, reopening the store regularly.
// Segments are small, so the log rotates, reclaims and compacts all along.
// After every reopen the store must equal the model, and no segment may be
// dead. Crash copies are also opened with segments that were reclaimed
// since put back (a lost unlink or rename), which must not change the
// state.
func TestRandomOpsSurviveRestart(t *testing.T) {
	seeds := []uint64{11, 12, 13}
	if v := os.Getenv("RAFTSTORE_SEEDS"); v != "" { // soak: RAFTSTORE_SEEDS=200
		n, _ := strconv.Atoi(v)
		seeds = seeds[:0]
		for i := range n {
			seeds = append(seeds, uint64(100+i))
		}
	}
	for _, seed := range seeds {
		for _, segSize := range []int64{1 << 10, 16 << 10} {
			t.Run(fmt.Sprintf("seed=%d/segment=%d", seed, segSize), func(t *testing.T) {
				randomOpsSurviveRestart(t, seed, segSize)
			})
		}
	}
}

func randomOpsSurviveRestart(t *testing.T, seed uint64, segSize int64) {
	const groups = 4
	path := filepath.Join(t.TempDir(), "raft.db")
	open := func() *Store {
		s, err := Open(Config{Path: path, NoSync: true, Logger: quietLogger(), segmentSize: segSize, compactAfter: 1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	defer func() { _ = s.Close() }()
	rng := rand.New(rand.NewPCG(seed, 12))
	model := make([]map[uint64]uint64, groups+1) // group → index → term
	for i := range model {
		model[i] = map[uint64]uint64{}
	}
	term := uint64(1)
	bounds := func(id int) (uint64, uint64) {
		keys := slices.Sorted(maps.Keys(model[id]))
		if len(keys) == 0 {
			return 0, 0
		}
		return keys[0], keys[len(keys)-1]
	}
	// randomOp returns one request for group id and applies it to the model.
	randomOp := func(id int) *request {
		g := s.Group(uint32(id))
		first, last := bounds(id)
		term++
		switch op := rng.IntN(100); {
		case op < 45: // append 1..5 entries, at the end, overwriting a suffix, or past a gap
			from := last + 1
			switch {
			case op < 8 && last > first:
				from = first + uint64(rng.IntN(int(last-first)))
			case op < 12:
				from = last + 2 + uint64(rng.IntN(50))
			}
			logs := entries(from, from+uint64(rng.IntN(5)), term)
			for _, l := range logs {
				model[id][l.Index] = term
			}
			return newAppendRequest(g, logs)
		case op < 60 && last > 0: // suffix truncation
			lo := first + uint64(rng.IntN(int(last-first+1)))
			hi := last
			if op < 50 {
				hi = math.MaxUint64
			}
			return deleteModel(model[id], g, lo, hi)
		case op < 80 && last > 0: // prefix truncation
			return deleteModel(model[id], g, first, first+uint64(rng.IntN(int(last-first+1))))
		case op < 85: // hole anywhere
			lo := uint64(rng.IntN(int(last + 3)))
			return deleteModel(model[id], g, lo, lo+uint64(rng.IntN(4)))
		case op < 88:
			clear(model[id])
			return &request{g: g, op: opDeleteGroup}
		default:
			return &request{g: g, op: opSet, key: []byte("k"), val: []byte{byte(term)}}
		}
	}
	verify := func(when string, s *Store) {
		t.Helper()
		for id := 1; id <= groups; id++ {
			g := s.Group(uint32(id))
			first, last := bounds(id)
			if f, l := bounds2(t, g); f != first || l != last {
				t.Fatalf("%s: group %d bounds %d..%d, model %d..%d", when, id, f, l, first, last)
			}
			if last == 0 {
				continue
			}
			for i := first; i <= last; i++ {
				if tm, ok := model[id][i]; ok {
					wantLog(t, g, entry(i, tm))
				} else {
					wantMissing(t, g, i)
				}
			}
		}
	}
	saved := map[uint32][]byte{} // copies of segment files taken along the way
	for step := 1; step <= 600; step++ {
		if rng.IntN(4) == 0 { // several ops, possibly on one group, in one transaction
			var reqs []*request
			for n := 2 + rng.IntN(4); n > 0; n-- {
				reqs = append(reqs, randomOp(1+rng.IntN(groups)))
			}
			commitTogether(t, s, reqs...)
		} else {
			commitTogether(t, s, randomOp(1+rng.IntN(groups)))
		}
		if step%10 == 0 {
			verify("running", s)
		}
		if step%10 == 0 {
			quiet(s)
			for _, no := range segNums(t, path) {
				if _, ok := saved[no]; !ok && no != s.active.no {
					b, err := os.ReadFile(segPath(path, no))
					if err != nil {
						t.Fatal(err)
					}
					saved[no] = b
				}
			}
		}
		if step%25 == 0 {
			// Crash recovery: open a copy of the files taken between two
			// commits, with reclaimed segments resurrected.
			crashed := crashCopy(t, path, saved, segSize) // commitTogether left the store quiet
			verify("after crash", crashed)
			if err := crashed.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if step%75 == 0 {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open()
			verify("after reopen", s)
			checkSegmentsLive(t, s)
			live, size := 0, 0
			for _, seg := range s.segs {
				live += int(seg.liveBytes)
				size += int(seg.end)
			}
			t.Logf("step %d: segments %v, live %d of %d bytes", step, segNums(t, path), live, size)
		}
	}
}

// crashCopy copies the files of an open, idle store (as a crash would
// leave them: every commit is complete), adds the saved copies of older
// segments that have been reclaimed since, and opens the copy.
func crashCopy(t *testing.T, path string, saved map[uint32][]byte, segSize int64) *Store {
	t.Helper()
	dir := t.TempDir()
	cp := filepath.Join(dir, "crash.db")
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(path, cp)
	nums := segNums(t, path)
	for _, no := range nums {
		copyFile(segPath(path, no), segPath(cp, no))
	}
	for no, b := range saved {
		if !slices.Contains(nums, no) && no < nums[len(nums)-1] {
			if err := os.WriteFile(segPath(cp, no), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := Open(Config{Path: cp, NoSync: true, Logger: quietLogger(), segmentSize: segSize, compactAfter: 1})
	if err != nil {
		t.Fatalf("open crash copy: %v", err)
	}
	return s
}

// deleteModel deletes lo..hi from the model and returns the request.
func deleteModel(m map[uint64]uint64, g *GroupStore, lo, hi uint64) *request {
	for i := range m {
		if lo <= i && i <= hi {
			delete(m, i)
		}
	}
	return deleteReq(g, lo, hi)
}

// TestReadersDuringTruncation runs GetLog readers against a writer that
// appends, overwrites and truncates, so records are collected under the
// readers' feet (small segments: they are reclaimed under the readers'
// feet too). Readers may miss an entry that was just truncated, but must
// never see an error or a wrong entry.
func TestReadersDuringTruncation(t *testing.T) {
	s, err := Open(Config{Path: filepath.Join(t.TempDir(), "raft.db"), NoSync: true, Logger: quietLogger(), segmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := s.Group(1)
	var done atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			for !done.Load() {
				first, _ := g.FirstIndex()
				last, _ := g.LastIndex()
				if last == 0 {
					continue
				}
				i := first + uint64(rng.IntN(int(last-first+1)))
				var got raft.Log
				err := g.GetLog(i, &got)
				if errors.Is(err, raft.ErrLogNotFound) {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				if !logsEqual(&got, entry(i, 1)) && !logsEqual(&got, entry(i, 2)) {
					errc <- errors.New("GetLog returned a wrong entry")
					return
				}
			}
		}(uint64(r))
	}
	for i := uint64(1); i <= 600; i++ {
		mustStore(t, g, entry(i, 1))
		if i%7 == 0 { // overwrite the last three entries
			mustStore(t, g, entries(i-2, i, 2)...)
		}
		if i%40 == 0 {
			first, _ := g.FirstIndex()
			mustDelete(t, g, first, i-20)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// TestGetLogAfterRecordCollected plays the race TestReadersDuringTruncation
// rarely hits: GetLog looked an entry up, then the entry was overwritten or
// truncated and its segment reclaimed before the read.
func TestGetLogAfterRecordCollected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openSized(t, path, 4096)
	defer s.Close()
	g := s.Group(1)
	mustStore(t, g, entries(1, 4, 1)...)
	stale, _ := g.lookup(2)
	mustStore(t, g, entries(1, 4, 2)...) // overwrite: segment 1 loses its entries
	for i := uint64(5); quiet(s).segs[stale.seg] != nil; i++ {
		mustStore(t, g, entry(i, 2)) // until segment 1 is inactive and reclaimed
	}
	var got raft.Log
	if err := g.readEntry(2, stale, &got); !errors.Is(err, errRecordGone) {
		t.Fatalf("read of a reclaimed segment = %v, want errRecordGone", err)
	}
	wantLog(t, g, entry(2, 2))
	// A live entry whose segment is missing is corruption, not "not found".
	g.imu.Lock()
	g.idx.set(2, stale)
	g.imu.Unlock()
	if err := g.GetLog(2, &got); !errors.Is(err, errCorruptJournal) {
		t.Fatalf("GetLog with a dangling index entry = %v, want errCorruptJournal", err)
	}
}
