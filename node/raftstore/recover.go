package raftstore

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
)

// init reads (or creates) the head file, then rebuilds the store's state
// by replaying every segment, and makes sure an active segment exists.
func (s *Store) init() error {
	head := make([]byte, 64)
	n, err := s.head.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read head: %w", err)
	}
	head = head[:n]
	nums, err := listSegments(s.path)
	if err != nil {
		return err
	}
	if len(bytes.Trim(head, "\x00")) == 0 {
		// New (or a creation that crashed before writing the head).
		if len(nums) > 0 {
			return fmt.Errorf("%w: %d segment files but an empty head file", errCorruptJournal, len(nums))
		}
		if err := s.createHead(); err != nil {
			return err
		}
	} else if s.storeID, err = decodeHead(head); err != nil {
		return err
	}
	_ = os.Remove(s.sparePath() + ".tmp") // a spare whose preparation was interrupted
	if st, err := os.Stat(s.sparePath()); err == nil {
		s.spareReady, s.spareSize = true, st.Size()
	}
	if err := s.recover(nums); err != nil {
		return err
	}
	if s.active == nil {
		if err := s.rotate(0); err != nil {
			return fmt.Errorf("first segment: %w", err)
		}
	}
	s.gmu.Lock()
	for _, g := range s.groups {
		g.publish(g.idx.bounds())
	}
	s.gmu.Unlock()
	s.reclaim()
	return nil
}

func (s *Store) createHead() error {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return fmt.Errorf("store id: %w", err)
	}
	s.storeID = binary.LittleEndian.Uint64(id[:])
	if _, err := s.head.WriteAt(encodeHead(s.storeID), 0); err != nil {
		return fmt.Errorf("write head: %w", err)
	}
	if err := s.head.Sync(); err != nil {
		return fmt.Errorf("sync head: %w", err)
	}
	return s.syncDir()
}

// recover replays the segments in order. Within a segment, frames must
// carry consecutive seqs, the first one a checkpoint numbered above every
// frame of the segments before. The first frame that is missing, torn,
// corrupt or stale ends the segment, and nothing of the store numbered
// higher may follow it in the segment: a damaged frame followed by intact
// newer ones is corruption, not a torn tail, and fails Open. Only the last
// segment may end without having started (a crash while starting it).
func (s *Store) recover(nums []uint32) error {
	var (
		buf     []byte
		lastSeq uint64
	)
	for i, no := range nums {
		s.nextSegNo = max(s.nextSegNo, no+1)
		seg, err := openSegment(segPath(s.path, no), no)
		if err != nil {
			return err
		}
		if seg.size > math.MaxUint32 {
			_ = seg.f.Close()
			return fmt.Errorf("%w: segment %d is %d bytes", errCorruptJournal, no, seg.size)
		}
		if int64(cap(buf)) < seg.size {
			buf = make([]byte, seg.size)
		}
		b := buf[:seg.size]
		if _, err := seg.f.ReadAt(b, 0); err != nil {
			_ = seg.f.Close()
			return fmt.Errorf("read segment %d: %w", no, err)
		}
		s.segs[no] = seg // closed by closeFiles if Open fails
		prevActive := s.active
		last, started, err := s.replaySegment(seg, b, lastSeq)
		if err != nil {
			return fmt.Errorf("segment %d: %w", no, err)
		}
		if !started {
			if i != len(nums)-1 {
				return fmt.Errorf("%w: segment %d does not start with a checkpoint", errCorruptJournal, no)
			}
			// Crash while starting this segment: nothing in it counts.
			s.logger.Warn("raft log segment was never started, discarding it", "segment", no)
			delete(s.segs, no)
			_ = seg.f.Close()
			s.dispose(seg)
			s.active = prevActive
			break
		}
		if i == len(nums)-1 {
			s.logTail(seg, b[seg.end:], last)
		}
		lastSeq = last
	}
	s.nextSeq = lastSeq + 1
	s.dead = s.dead[:0]
	for _, no := range slices.Sorted(maps.Keys(s.segs)) {
		if seg := s.segs[no]; seg != s.active && seg.live == 0 {
			s.dead = append(s.dead, seg)
		}
	}
	return nil
}

func isZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

// logTail says what follows the last intact frame of the log: normally
// zeros or a recycled segment's old frames; anything else is the remains of
// a write that a crash interrupted (never acknowledged), which the next
// commit overwrites.
func (s *Store) logTail(seg *segment, tail []byte, last uint64) {
	if isZero(tail[:min(len(tail), frameHeaderLen)]) {
		return
	}
	if _, seq, ok := parseFrameHeader(tail, s.storeID); ok && seq <= last {
		return // stale frame of a recycled segment
	}
	s.logger.Warn("raft log ends with a torn write (a crash interrupted a commit that was never acknowledged); discarding it",
		"segment", seg.no, "offset", seg.end, "last_frame", last)
}

// replaySegment replays seg's frames (b is its content) into the store's
// state, after is the seq of the last frame of the segments before. It
// returns the seq of seg's last frame and whether seg holds any frame, and
// sets seg.end.
func (s *Store) replaySegment(seg *segment, b []byte, after uint64) (last uint64, started bool, err error) {
	last = after
	off := 0
	for {
		payload, seq, ok := parseFrame(b[off:], s.storeID)
		if !ok || !started && (seq <= after || payload[0] != kindCheckpoint) || started && seq != last+1 {
			break
		}
		s.active = seg // the segment being replayed is never counted dead
		if err := s.replayFrame(seg, int64(off), seq, payload); err != nil {
			return 0, false, fmt.Errorf("frame %d at offset %d: %w", seq, off, err)
		}
		started, last = true, seq
		off += frameLen(len(payload))
	}
	seg.end, seg.lastSeq = int64(off), last
	for p := off; p+frameHeaderLen <= len(b); p += frameAlign {
		if n, seq, ok := parseFrameHeader(b[p:], s.storeID); !ok || seq <= last {
			continue
		} else if _, ok := checkPayload(b[p:], n); ok {
			return 0, false, fmt.Errorf("%w: the frame at offset %d (after frame %d) is damaged, but frame %d at offset %d is intact",
				errCorruptJournal, off, last, seq, p)
		}
	}
	return last, started, nil
}

// replayFrame applies one frame found at off in seg.
func (s *Store) replayFrame(seg *segment, off int64, seq uint64, payload []byte) error {
	switch payload[0] {
	case kindCommit:
		return parseCommit(payload, &replayer{s: s, seg: seg, payload: payload, base: off + frameHeaderLen})
	case kindCheckpoint:
		prevNo, states, err := parseCheckpoint(payload)
		if err != nil {
			return err
		}
		if prev := s.segs[prevNo]; prev != nil && prev != seg && prev.lastSeq+1 != seq {
			return fmt.Errorf("%w: segment %d ends with frame %d at offset %d, but the checkpoint after it is frame %d: the rest of segment %d is damaged",
				errCorruptJournal, prevNo, prev.lastSeq, prev.end, seq, prevNo)
		}
		listed := make(map[uint32]bool, len(states))
		for _, st := range states {
			listed[st.id] = true
			g := s.groupLocked(st.id)
			g.idx.restrict(st.runs, s.release)
			g.stable = st.stable
		}
		for id, g := range s.groups {
			if !listed[id] {
				g.idx.deleteRange(0, math.MaxUint64, s.release)
				g.stable = nil
			}
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown frame kind %d", errCorruptJournal, payload[0])
	}
}

// replayer applies a commit frame's ops during Open.
type replayer struct {
	s       *Store
	seg     *segment
	payload []byte
	base    int64 // file offset of the payload
}

func (r *replayer) set(id uint32, key, val []byte) error {
	g := r.s.groupLocked(id)
	if g.stable == nil {
		g.stable = make(map[string][]byte)
	}
	g.stable[string(key)] = append([]byte{}, val...)
	return nil
}

func (r *replayer) clearStable(id uint32) error {
	r.s.groupLocked(id).stable = nil
	return nil
}

func (r *replayer) del(id uint32, lo, hi uint64) error {
	if lo > hi {
		return fmt.Errorf("%w: group %d: delete range %d..%d", errCorruptJournal, id, lo, hi)
	}
	r.s.groupLocked(id).idx.deleteRange(lo, hi, r.s.release)
	return nil
}

func (r *replayer) entry(id uint32, off, n int) error {
	i, err := entryIndex(r.payload[off : off+n])
	if err != nil {
		return fmt.Errorf("%w: group %d, entry at payload offset %d: %w", errCorruptJournal, id, off, err)
	}
	g := r.s.groupLocked(id)
	r.s.use(r.seg, g, i, loc{seg: r.seg.no, off: uint32(r.base) + uint32(off), n: uint32(n)})
	return nil
}
