package raftstore

import (
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
)

// commitTogether runs reqs in one group-commit transaction, as the
// committer does when they are queued at the same moment. Only for tests
// with no concurrent writers.
func commitTogether(t *testing.T, s *Store, reqs ...*request) {
	t.Helper()
	for _, r := range reqs {
		r.done = make(chan error, 1)
	}
	s.commit(reqs)
	for _, r := range reqs {
		if err := <-r.done; err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
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

// journalSeqs returns the keys of every record in the journal.
func journalSeqs(t *testing.T, s *Store) []uint64 {
	t.Helper()
	var seqs []uint64
	if err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(journalBucket).ForEach(func(k, _ []byte) error {
			seqs = append(seqs, binary.BigEndian.Uint64(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return seqs
}

// storedCuts returns the persisted cuts of group id (nil if none).
func storedCuts(t *testing.T, s *Store, id uint32) []cut {
	t.Helper()
	var cuts []cut
	if err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(boundsBucket).Get(groupKey(nil, id))
		if v == nil {
			return nil
		}
		var err error
		cuts, err = decodeCuts(v)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return cuts
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
	// Within one transaction: append, truncate, append again.
	commitTogether(t, s, appendReq(g, entry(10, 3)), deleteReq(g, 9, 10), appendReq(g, entry(9, 3), entry(10, 3)))
	wantLog(t, g, entry(9, 3))
	wantLog(t, g, entry(10, 3))
	// Truncate a suffix, then store past a gap; then punch a hole.
	mustDelete(t, g, 5, math.MaxUint64)
	mustStore(t, g, entry(7, 4))
	mustDelete(t, g, 2, 2)
	checkSuffix(t, g)
	for round := 0; round < 2; round++ { // the second reopen reads compacted bounds
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, path)
		checkSuffix(t, s.Group(1))
	}
	if n := len(storedCuts(t, s, 1)); n > 3 { // one per gap: [0,0], [2,2], [5,6], [8,max]
		t.Fatalf("%d cuts persisted", n)
	}
	_ = s.Close()
}

func TestPrefixTruncationCollectsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	gs := []*GroupStore{s.Group(1), s.Group(2), s.Group(3)}
	// 20 records, each holding one entry of every group.
	for i := uint64(1); i <= 20; i++ {
		commitTogether(t, s, appendReq(gs[0], entry(i, 1)), appendReq(gs[1], entry(i, 2)), appendReq(gs[2], entry(i, 3)))
	}
	if n := len(journalSeqs(t, s)); n != 20 {
		t.Fatalf("%d journal records, want 20", n)
	}
	poke := func() { // one more transaction: garbage is deleted by the next one
		t.Helper()
		if err := s.Group(99).SetUint64([]byte("poke"), 1); err != nil {
			t.Fatal(err)
		}
	}
	// Two groups truncating is not enough: group 3 still uses every record.
	mustDelete(t, gs[0], 1, 10)
	mustDelete(t, gs[1], 1, 10)
	poke()
	if n := len(journalSeqs(t, s)); n != 20 {
		t.Fatalf("%d journal records after two of three groups truncated, want 20", n)
	}
	mustDelete(t, gs[2], 1, 5)
	poke()
	seqs := journalSeqs(t, s)
	if len(seqs) != 15 || seqs[0] != 6 {
		t.Fatalf("journal after everyone truncated 1..5 = %v, want records 6..20", seqs)
	}
	// Prefix truncations in steps keep one cut per group.
	mustDelete(t, gs[2], 6, 10)
	poke()
	if seqs := journalSeqs(t, s); len(seqs) != 10 || seqs[0] != 11 {
		t.Fatalf("journal = %v, want records 11..20", seqs)
	}
	for id := uint32(1); id <= 3; id++ {
		if c := storedCuts(t, s, id); len(c) != 1 || c[0].min != 0 || c[0].max != 10 {
			t.Fatalf("group %d cuts = %v, want one cut 0..10", id, c)
		}
		wantBounds(t, s.Group(id), 11, 20)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	for id := uint32(1); id <= 3; id++ {
		g := s.Group(id)
		wantBounds(t, g, 11, 20)
		wantMissing(t, g, 10)
		wantLog(t, g, entry(11, uint64(id)))
		wantLog(t, g, entry(20, uint64(id)))
	}
	// Everything truncated: the journal and the bounds empty out (the last
	// garbage is collected by Close).
	for id := uint32(1); id <= 3; id++ {
		mustDelete(t, s.Group(id), 0, math.MaxUint64)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	if seqs := journalSeqs(t, s); len(seqs) != 0 {
		t.Fatalf("journal after full truncation = %v", seqs)
	}
	for id := uint32(1); id <= 3; id++ {
		if c := storedCuts(t, s, id); c != nil {
			t.Fatalf("group %d keeps cuts %v with no records left", id, c)
		}
		wantBounds(t, s.Group(id), 0, 0)
	}
	// New records must get sequence numbers that old cuts cannot kill.
	mustStore(t, s.Group(1), entry(1, 9))
	wantLog(t, s.Group(1), entry(1, 9))
}

func TestDeleteGroupCollectsJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	a, b := s.Group(1), s.Group(2)
	mustStore(t, a, entries(1, 5, 1)...)                                       // record 1: group 1 only
	commitTogether(t, s, appendReq(a, entry(6, 1)), appendReq(b, entry(1, 1))) // record 2: shared
	if err := a.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(1); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, a, 0, 0)
	wantMissing(t, a, 6)
	if _, err := a.Get([]byte("k")); err != ErrKeyNotFound {
		t.Fatalf("stable key survived DeleteGroup: %v", err)
	}
	if err := b.SetUint64([]byte("poke"), 1); err != nil {
		t.Fatal(err)
	}
	if seqs := journalSeqs(t, s); len(seqs) != 1 || seqs[0] != 2 {
		t.Fatalf("journal = %v, want only the shared record 2", seqs)
	}
	if c := storedCuts(t, s, 1); len(c) != 1 {
		t.Fatalf("group 1 cuts = %v, want one (record 2 still holds its entry 6)", c)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	wantBounds(t, s.Group(1), 0, 0)
	wantMissing(t, s.Group(1), 6)
	wantLog(t, s.Group(2), entry(1, 1))
	// Once the shared record dies too, the deleted group leaves no trace.
	mustDelete(t, s.Group(2), 1, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	if seqs := journalSeqs(t, s); len(seqs) != 0 {
		t.Fatalf("journal = %v, want empty", seqs)
	}
	if c := storedCuts(t, s, 1); c != nil {
		t.Fatalf("group 1 cuts = %v, want none", c)
	}
}

// corruptValue flips one byte of the value at key in bucket (of a closed
// store's file) with a raw bbolt transaction.
func corruptValue(t *testing.T, path string, bucket, key []byte, at func(n int) int) {
	t.Helper()
	db, err := bbolt.Open(path, fileMode, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		v := append([]byte(nil), b.Get(key)...)
		if len(v) == 0 {
			t.Fatalf("no value at %s/%x", bucket, key)
		}
		v[at(len(v))] ^= 0x40
		return b.Put(key, v)
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptionFailsOpen(t *testing.T) {
	cases := []struct {
		name        string
		bucket, key []byte
		at          func(n int) int
	}{
		{"middle record", journalBucket, seqKey(2), func(n int) int { return n / 2 }},
		{"last record", journalBucket, seqKey(3), func(n int) int { return n - 1 }},
		{"record header", journalBucket, seqKey(1), func(int) int { return 1 }},
		{"bounds", boundsBucket, groupKey(nil, 1), func(n int) int { return n / 2 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raft.db")
			s := openStore(t, path)
			g := s.Group(1)
			for i := uint64(1); i <= 3; i++ {
				mustStore(t, g, entries(10*i, 10*i+5, 1)...)
			}
			mustDelete(t, g, 10, 11)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			corruptValue(t, path, tc.bucket, tc.key, tc.at)
			s, err := Open(Config{Path: path, Logger: quietLogger()})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open accepted a corrupt file")
			}
			if !errors.Is(err, errCorruptJournal) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open error = %v; want a corrupt-journal error naming the file", err)
			}
			t.Logf("Open: %v", err)
		})
	}
}

func TestGetLogDetectsCorruptEntry(t *testing.T) {
	s, _ := newStore(t)
	g := s.Group(1)
	mustStore(t, g, entries(1, 3, 1)...)
	l, _ := g.idx.get(2) // no writer is running
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(journalBucket)
		v := append([]byte(nil), b.Get(seqKey(l.seq))...)
		v[l.off+l.n/2] ^= 1
		return b.Put(seqKey(l.seq), v)
	}); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := g.GetLog(2, &got); !errors.Is(err, errCorrupt) {
		t.Fatalf("GetLog of a corrupt entry = %v, want errCorrupt", err)
	}
	wantLog(t, g, entry(1, 1))
}

// TestSeqsStayAboveCuts: after the newest records are collected, a reopened
// store must still number new records above every cut, or the cut would
// kill them at the next restart.
func TestSeqsStayAboveCuts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	g := s.Group(1)
	mustStore(t, g, entries(1, 3, 1)...) // record 1
	mustStore(t, g, entries(4, 5, 1)...) // record 2
	mustDelete(t, g, 4, 5)               // cut 4..max at seq 3, record 2 dies
	if err := s.Close(); err != nil {    // collects record 2
		t.Fatal(err)
	}
	s = openStore(t, path)
	if seqs := journalSeqs(t, s); len(seqs) != 1 || seqs[0] != 1 {
		t.Fatalf("journal = %v, want record 1 only", seqs)
	}
	mustStore(t, s.Group(1), entry(4, 2))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	wantBounds(t, s.Group(1), 1, 4)
	wantLog(t, s.Group(1), entry(4, 2))
}
