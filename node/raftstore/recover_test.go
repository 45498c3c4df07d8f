package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
)

// frameInfo locates a frame in a segment file.
type frameInfo struct {
	seg      uint32
	off, len int64
	seq      uint64
	kind     byte
}

// framesOf lists the intact frames of every segment of a closed store.
func framesOf(t *testing.T, path string) []frameInfo {
	t.Helper()
	head, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := decodeHead(head)
	if err != nil {
		t.Fatal(err)
	}
	var out []frameInfo
	for _, no := range segNums(t, path) {
		b, err := os.ReadFile(segPath(path, no))
		if err != nil {
			t.Fatal(err)
		}
		var last uint64
		for off := 0; ; {
			p, seq, ok := parseFrame(b[off:], id)
			if !ok || last != 0 && seq != last+1 {
				break
			}
			out = append(out, frameInfo{no, int64(off), int64(frameLen(len(p))), seq, p[0]})
			last = seq
			off += frameLen(len(p))
		}
	}
	return out
}

func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b := make([]byte, 1)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// threeCommits builds a closed store whose last three commits each append
// entries 10i..10i+5 of group 1 (i = 1, 2, 3), after a Set.
func threeCommits(t *testing.T) (path string, frames []frameInfo) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	mustSet(t, s.Group(1), "CurrentTerm", "1")
	for i := uint64(1); i <= 3; i++ {
		mustStore(t, s.Group(1), entries(10*i, 10*i+5, 1)...)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, framesOf(t, path)
}

// TestTornTail models a crash in the middle of the last commit's write
// (and a crash between the write and its fdatasync, which can leave any
// part of the write on disk): Open must recover the state of the commit
// before, then append over the damaged bytes, and keep working across
// later reopens.
func TestTornTail(t *testing.T) {
	cases := []struct {
		name string
		tear func(t *testing.T, seg string, last frameInfo)
	}{
		{"truncated mid-frame", func(t *testing.T, seg string, last frameInfo) {
			if err := os.Truncate(seg, last.off+last.len/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"tail never written", func(t *testing.T, seg string, last frameInfo) {
			patchFile(t, seg, last.off+last.len/2, make([]byte, last.len-last.len/2))
		}},
		{"header never written", func(t *testing.T, seg string, last frameInfo) {
			patchFile(t, seg, last.off, make([]byte, frameHeaderLen))
		}},
		{"torn payload byte", func(t *testing.T, seg string, last frameInfo) {
			flipByte(t, seg, last.off+last.len-9)
		}},
		{"garbage after the last frame", func(t *testing.T, seg string, last frameInfo) {
			patchFile(t, seg, last.off+last.len, []byte(strings.Repeat("garbage!", 100)))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, frames := threeCommits(t)
			last := frames[len(frames)-1]
			tc.tear(t, segPath(path, last.seg), last)
			lost := tc.name != "garbage after the last frame"
			s := openStore(t, path)
			g := s.Group(1)
			wantStable(t, g, "CurrentTerm", "1")
			wantLog(t, g, entry(25, 1))
			if lost {
				wantBounds(t, g, 10, 25)
				wantMissing(t, g, 30)
			} else {
				wantBounds(t, g, 10, 35)
			}
			// Appending continues over the damaged bytes.
			mustStore(t, g, entries(30, 31, 2)...)
			mustSet(t, g, "CurrentTerm", "2")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, path)
			defer s.Close()
			g = s.Group(1)
			wantLog(t, g, entry(30, 2))
			wantLog(t, g, entry(31, 2))
			wantStable(t, g, "CurrentTerm", "2")
			if lost {
				wantBounds(t, g, 10, 31)
			} else {
				wantBounds(t, g, 10, 35)
			}
		})
	}
}

// TestCorruptionFailsOpen: damage anywhere but the last frame is not a
// torn write (later frames were written after it was synced) and must fail
// Open with an error naming the file, never silently drop committed data.
func TestCorruptionFailsOpen(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, frames []frameInfo)
	}{
		{"middle frame payload", func(t *testing.T, path string, f []frameInfo) {
			m := f[len(f)-2]
			flipByte(t, segPath(path, m.seg), m.off+m.len/2)
		}},
		{"middle frame header", func(t *testing.T, path string, f []frameInfo) {
			m := f[len(f)-3]
			flipByte(t, segPath(path, m.seg), m.off+1)
		}},
		{"checkpoint", func(t *testing.T, path string, f []frameInfo) {
			flipByte(t, segPath(path, f[0].seg), f[0].off+frameHeaderLen)
		}},
		{"head", func(t *testing.T, path string, _ []frameInfo) { flipByte(t, path, 26) }},
		{"entry with valid frame checksums", func(t *testing.T, path string, f []frameInfo) {
			// Checksums that hold over wrong content (a bug, not the
			// disk): the entry's own checksum catches it.
			m := f[len(f)-1]
			seg := segPath(path, m.seg)
			head, _ := os.ReadFile(path)
			id, _ := decodeHead(head)
			b, _ := os.ReadFile(seg)
			frame := b[m.off : m.off+m.len]
			n := int(binary.LittleEndian.Uint32(frame))
			frame[frameHeaderLen+n-8] ^= 0x40 // inside the last entry
			sealFrame(frame, n, m.seq, id)
			patchFile(t, seg, m.off, frame)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, frames := threeCommits(t)
			tc.damage(t, path, frames)
			s, err := Open(Config{Path: path, Logger: quietLogger()})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open accepted a corrupt log")
			}
			if !errors.Is(err, errCorruptJournal) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open error = %v; want a corrupt-journal error naming the file", err)
			}
			t.Logf("Open: %v", err)
		})
	}
}

// TestCorruptOlderSegment: an older segment ending in a damaged frame is
// corruption even though the frame is that segment's last.
func TestCorruptOlderSegment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openSized(t, path, 4096)
	g := s.Group(1)
	for i := uint64(1); quiet(s).active.no < 3; i++ {
		mustStore(t, g, entry(i, 1))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var lastOf1 frameInfo
	for _, f := range framesOf(t, path) {
		if f.seg == 1 {
			lastOf1 = f
		}
	}
	flipByte(t, segPath(path, 1), lastOf1.off+lastOf1.len/2)
	if _, err := Open(Config{Path: path, Logger: quietLogger(), segmentSize: 4096}); !errors.Is(err, errCorruptJournal) {
		t.Fatalf("Open = %v, want errCorruptJournal", err)
	}
}

// TestCrashWhileStartingSegment: a crash after a new segment file was
// named but before its checkpoint was durable leaves a last segment that
// never started, holding zeros or a recycled segment's stale frames.
func TestCrashWhileStartingSegment(t *testing.T) {
	for _, content := range []string{"zeros", "stale"} {
		t.Run(content, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raft.db")
			s := openSized(t, path, 4096)
			g := s.Group(1)
			for i := uint64(1); quiet(s).active.no < 2; i++ {
				mustStore(t, g, entry(i, 1))
			}
			last, _ := g.LastIndex()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 4096)
			if content == "stale" { // a copy of segment 1 recycled as segment 3
				var err error
				if b, err = os.ReadFile(segPath(path, 1)); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(segPath(path, 3), b, 0o600); err != nil {
				t.Fatal(err)
			}
			s = openSized(t, path, 4096)
			g = s.Group(1)
			wantBounds(t, g, 1, last)
			mustStore(t, g, entry(last+1, 2))
			for i := last + 2; quiet(s).active.no < 5; i++ {
				mustStore(t, g, entry(i, 2))
			}
			last, _ = g.LastIndex()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openSized(t, path, 4096)
			defer s.Close()
			wantBounds(t, s.Group(1), 1, last)
			wantLog(t, s.Group(1), entry(last, 2))
		})
	}
}

func TestOldLayoutRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("journal"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	_, err = Open(Config{Path: path, Logger: quietLogger()})
	if !errors.Is(err, errOldLayout) || !strings.Contains(err.Error(), "layout 2") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a bbolt file = %v, want errOldLayout naming the file", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("Open modified the old file")
	}
	if segs := segNums(t, path); len(segs) != 0 {
		t.Fatalf("Open created segments %v next to the old file", segs)
	}
}

func TestSecondOpenFails(t *testing.T) {
	s, path := newStore(t)
	start := time.Now()
	if s2, err := Open(Config{Path: path, Logger: quietLogger()}); err == nil {
		_ = s2.Close()
		t.Fatal("a second Open of the same store succeeded")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("second Open hung")
	}
	mustStore(t, s.Group(1), entry(1, 1))
}

func TestGetLogDetectsCorruptEntry(t *testing.T) {
	s, _ := newStore(t)
	g := s.Group(1)
	mustStore(t, g, entries(1, 3, 1)...)
	l, _ := g.idx.get(2) // no writer is running
	flipByte(t, segPath(s.path, l.seg), int64(l.off+l.n/2))
	var got raft.Log
	if err := g.GetLog(2, &got); !errors.Is(err, errCorrupt) {
		t.Fatalf("GetLog of a corrupt entry = %v, want errCorrupt", err)
	}
	wantLog(t, g, entry(1, 1))
}

// TestReopenAfterFullTruncation: after everything is deleted and the store
// reopened, new frames must continue the sequence.
func TestReopenAfterFullTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	g := s.Group(1)
	mustStore(t, g, entries(1, 3, 1)...)
	mustStore(t, g, entries(4, 5, 1)...)
	mustDelete(t, g, 4, 5)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	mustStore(t, s.Group(1), entry(4, 2))
	mustDelete(t, s.Group(1), 0, math64)
	mustStore(t, s.Group(1), entry(9, 3))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	wantBounds(t, s.Group(1), 9, 9)
	wantLog(t, s.Group(1), entry(9, 3))
}

const math64 = ^uint64(0)

type nopVisitor struct{}

func (nopVisitor) set(uint32, []byte, []byte) error { return nil }
func (nopVisitor) clearStable(uint32) error         { return nil }
func (nopVisitor) del(uint32, uint64, uint64) error { return nil }
func (nopVisitor) entry(uint32, int, int) error     { return nil }

// TestPayloadParsers: checkpoints round-trip, and damaged payloads (which
// only reach the parsers if their checksums hold, that is through a bug)
// fail cleanly with errCorruptJournal instead of panicking.
func TestPayloadParsers(t *testing.T) {
	states := []groupState{
		{id: 0, runs: [][2]uint64{{1, 10}}, stable: map[string][]byte{"CurrentTerm": {0, 0, 0, 0, 0, 0, 0, 3}, "empty": {}}},
		{id: 7, runs: [][2]uint64{{0, 0}, {5, 9}, {20, math64}}},
		{id: 9, stable: map[string][]byte{"k": []byte("v")}},
	}
	cp := appendCheckpoint(nil, 42, states)
	prev, got, err := parseCheckpoint(cp)
	if err != nil || prev != 42 || len(got) != len(states) {
		t.Fatalf("parseCheckpoint = %d, %+v, %v", prev, got, err)
	}
	for i := range states {
		if got[i].id != states[i].id || !slices.Equal(got[i].runs, states[i].runs) || len(got[i].stable) != len(states[i].stable) {
			t.Fatalf("group %d: got %+v, want %+v", i, got[i], states[i])
		}
		for k, v := range states[i].stable {
			if string(got[i].stable[k]) != string(v) {
				t.Fatalf("group %d key %q = %q, want %q", i, k, got[i].stable[k], v)
			}
		}
	}

	// A real commit payload holding every op kind.
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	g := s.Group(3)
	commitTogether(t, s, &request{g: g, op: opSet, key: []byte("k"), val: []byte("v")},
		&request{g: s.Group(4), op: opDeleteGroup}, deleteReq(g, 1, 5), appendReq(g, entries(6, 8, 1)...))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	frames := framesOf(t, path)
	last := frames[len(frames)-1]
	b, _ := os.ReadFile(segPath(path, last.seg))
	n := int(binary.LittleEndian.Uint32(b[last.off:]))
	commit := b[last.off+frameHeaderLen : last.off+frameHeaderLen+int64(n)]
	if err := parseCommit(commit, nopVisitor{}); err != nil {
		t.Fatalf("parseCommit: %v", err)
	}
	check := func(what string, p []byte, parse func([]byte) error) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: parser panicked: %v", what, r)
			}
		}()
		if err := parse(p); err != nil && !errors.Is(err, errCorruptJournal) {
			t.Fatalf("%s: error %v does not wrap errCorruptJournal", what, err)
		}
	}
	parsers := map[string]func([]byte) error{
		"commit":     func(p []byte) error { return parseCommit(p, nopVisitor{}) },
		"checkpoint": func(p []byte) error { _, _, err := parseCheckpoint(p); return err },
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for name, orig := range map[string][]byte{"commit": commit, "checkpoint": cp} {
		for cut := 0; cut < len(orig); cut++ {
			check(fmt.Sprintf("%s cut at %d", name, cut), orig[:cut], parsers[name])
		}
		for i := 0; i < 2000; i++ {
			p := slices.Clone(orig)
			for k := 1 + rng.IntN(3); k > 0; k-- {
				p[rng.IntN(len(p))] = byte(rng.Uint32())
			}
			check(fmt.Sprintf("%s damaged (%d)", name, i), p, parsers[name])
		}
	}
}

func TestSync(t *testing.T) {
	s, err := Open(Config{Path: filepath.Join(t.TempDir(), "raft.db"), NoSync: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mustStore(t, s.Group(1), entry(1, 1))
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close = %v, want ErrClosed", err)
	}
}

// TestWriteFailureIsSticky: after a failed write the store refuses writes
// (the file's state is unknown) until it is reopened, which recovers
// everything acknowledged before.
func TestWriteFailureIsSticky(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openStore(t, path)
	g := s.Group(1)
	mustStore(t, g, entries(1, 3, 1)...)
	_ = quiet(s).active.f.Close() // the next write fails
	if err := g.StoreLog(entry(4, 1)); err == nil {
		t.Fatal("write to a closed segment file succeeded")
	}
	err := g.SetUint64([]byte("CurrentTerm"), 2)
	if err == nil || !strings.Contains(err.Error(), "earlier write failure") {
		t.Fatalf("write after a failure = %v, want the sticky error", err)
	}
	wantBounds(t, g, 1, 3)
	_ = s.Close()
	s = openStore(t, path)
	defer s.Close()
	wantBounds(t, s.Group(1), 1, 3)
	mustStore(t, s.Group(1), entry(4, 2))
	wantLog(t, s.Group(1), entry(4, 2))
}
