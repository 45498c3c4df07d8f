package raftstore

import (
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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
			l := loc{seq: uint64(step + 1), off: uint32(i)}
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
// After every reopen the store must equal the model, and the journal must
// hold no record that no live entry uses.
func TestRandomOpsSurviveRestart(t *testing.T) {
	const groups = 4
	path := filepath.Join(t.TempDir(), "raft.db")
	open := func() *Store {
		s, err := Open(Config{Path: path, NoSync: true, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	defer func() { _ = s.Close() }()
	rng := rand.New(rand.NewPCG(11, 12))
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
		if step%25 == 0 {
			// Crash recovery: open a copy of the file taken between two
			// commits, with uncollected garbage and uncompacted bounds.
			crashed := crashCopy(t, path)
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
			checkJournalIsLive(t, s)
		}
	}
}

// crashCopy copies the file of an open, idle store (as a crash would leave
// it: bbolt's last commit is complete) and opens the copy.
func crashCopy(t *testing.T, path string) *Store {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "crash.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Path: cp, NoSync: true, Logger: quietLogger()})
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

// checkJournalIsLive checks, on a freshly opened store, that every journal
// record holds a live entry (garbage was collected) and that every group
// has at most one cut per gap of its log.
func checkJournalIsLive(t *testing.T, s *Store) {
	t.Helper()
	used := map[uint64]bool{}
	for _, g := range s.groups {
		for _, r := range g.idx.runs {
			for _, l := range r.locs {
				used[l.seq] = true
			}
		}
		if len(g.cuts) > len(g.idx.runs)+1 {
			t.Fatalf("group %d: %d cuts for %d runs", g.id, len(g.cuts), len(g.idx.runs))
		}
	}
	for _, seq := range journalSeqs(t, s) {
		if !used[seq] {
			t.Fatalf("journal record %d is dead but was not collected", seq)
		}
	}
}

// TestReadersDuringTruncation runs GetLog readers against a writer that
// appends, overwrites and truncates, so records are collected under the
// readers' feet. Readers may miss an entry that was just truncated, but must
// never see an error or a wrong entry.
func TestReadersDuringTruncation(t *testing.T) {
	s, err := Open(Config{Path: filepath.Join(t.TempDir(), "raft.db"), NoSync: true, Logger: quietLogger()})
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
// truncated and its record collected before the read.
func TestGetLogAfterRecordCollected(t *testing.T) {
	s, _ := newStore(t)
	g := s.Group(1)
	mustStore(t, g, entries(1, 4, 1)...)
	stale, _ := g.lookup(2)
	mustStore(t, g, entries(1, 4, 2)...) // overwrite: record 1 dies
	mustStore(t, g, entry(5, 2))         // collects record 1
	var got raft.Log
	if err := g.readEntry(2, stale, &got); !errors.Is(err, errRecordGone) {
		t.Fatalf("read of a collected record = %v, want errRecordGone", err)
	}
	wantLog(t, g, entry(2, 2))
	// A live entry whose record is missing is corruption, not "not found".
	g.imu.Lock()
	g.idx.set(2, stale)
	g.imu.Unlock()
	if err := g.GetLog(2, &got); !errors.Is(err, errCorruptJournal) {
		t.Fatalf("GetLog with a dangling index entry = %v, want errCorruptJournal", err)
	}
}
