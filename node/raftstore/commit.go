package raftstore

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// txn is one group commit: what it writes, computed before the frame is
// written, and applied to the in-memory state (publish) only once the
// frame is durable.
type txn struct {
	seq     uint64       // seq of its frame
	plans   []*groupPlan // one per group the batch touches, in first-touch order
	stable  []stableOp   // stable-store changes, in request order
	entries int          // entries in its frame
	seg     *segment     // where the frame was written; nil if there was nothing to write
	off     int64        // the frame's offset in seg
}

// stableOp is a Set, or (clear) the stable half of a DeleteGroup.
type stableOp struct {
	g        *GroupStore
	clear    bool
	key, val []byte
}

// groupPlan is what one commit does to one group's log.
type groupPlan struct {
	g      *GroupStore
	items  []item      // appended entries that survive the batch
	dedupe bool        // an index repeated or went backwards in the batch
	dels   [][2]uint64 // deleted ranges, in batch order
}

// item is one appended entry: its index, encoding (a slice of the request's
// buffer) and, once the frame is built, its offset in the frame.
type item struct {
	index uint64
	enc   []byte
	off   uint32
}

// del records the deletion of lo..hi. Entries the batch appended earlier in
// that range never reach the frame; older entries are deleted by replaying
// the range.
func (p *groupPlan) del(lo, hi uint64) {
	p.dels = append(p.dels, [2]uint64{lo, hi})
	p.items = slices.DeleteFunc(p.items, func(it item) bool { return lo <= it.index && it.index <= hi })
}

// apply writes batch as one frame (one write, one fdatasync). On success
// the caller must publish the returned txn.
func (s *Store) apply(batch []*request) (*txn, error) {
	if s.failed != nil {
		return nil, fmt.Errorf("raft log unusable after an earlier write failure (restart to recover): %w", s.failed)
	}
	t := &txn{}
	defer func() {
		for _, p := range t.plans {
			p.g.plan = nil
		}
	}()
	if err := s.plan(t, batch); err != nil {
		return nil, err
	}
	frame, payload := s.buildFrame(t)
	defer func() {
		if cap(frame) <= maxRecBufCap {
			s.recBuf = frame[:0]
		}
	}()
	if payload > maxFramePayload {
		return nil, &applyError{fmt.Errorf("commit of %d bytes exceeds the %d-byte limit", payload, maxFramePayload)}
	}
	if payload == 1 { // nothing but the kind byte: nothing to make durable
		return t, nil
	}
	if err := s.writeFrame(t, frame, payload); err != nil {
		return nil, err
	}
	s.commits.Add(1)
	return t, nil
}

// plan groups batch by raft group and validates it.
func (s *Store) plan(t *txn, batch []*request) error {
	for _, r := range batch {
		p := r.g.plan
		if p == nil {
			p = &groupPlan{g: r.g}
			r.g.plan = p
			t.plans = append(t.plans, p)
		}
		switch r.op {
		case opAppend:
			start := 0
			for k, end := range r.ends {
				i := r.idx[k]
				if n := len(p.items); n > 0 && i <= p.items[n-1].index {
					p.dedupe = true
				}
				p.items = append(p.items, item{index: i, enc: r.buf[start:end]})
				start = end
			}
		case opDeleteRange:
			if r.min <= r.max {
				p.del(r.min, r.max)
			}
		case opDeleteGroup:
			p.del(0, math.MaxUint64)
			t.stable = append(t.stable, stableOp{g: r.g, clear: true})
		case opSet:
			if len(r.key) == 0 {
				return &applyError{fmt.Errorf("group %d: set: empty key", r.g.id)}
			}
			if len(r.key) > maxKeyLen {
				return &applyError{fmt.Errorf("group %d: set: key of %d bytes exceeds %d", r.g.id, len(r.key), maxKeyLen)}
			}
			t.stable = append(t.stable, stableOp{g: r.g, key: r.key, val: r.val})
		default:
			return &applyError{fmt.Errorf("group %d: unknown op %d", r.g.id, r.op)}
		}
	}
	for _, p := range t.plans {
		if p.dedupe {
			p.items = lastPerIndex(p.items)
		}
	}
	return nil
}

// lastPerIndex keeps, for every index, only the last item appended.
func lastPerIndex(items []item) []item {
	seen := make(map[uint64]struct{}, len(items))
	out := make([]item, 0, len(items))
	for k := len(items) - 1; k >= 0; k-- {
		if _, dup := seen[items[k].index]; !dup {
			seen[items[k].index] = struct{}{}
			out = append(out, items[k])
		}
	}
	slices.Reverse(out)
	return out
}

// buildFrame encodes t's commit payload into s.recBuf, leaving room for the
// frame header and padding the end, and sets every item's offset. It
// returns the frame and its payload length.
func (s *Store) buildFrame(t *txn) ([]byte, int) {
	const v = binary.MaxVarintLen64
	size := frameHeaderLen + 1 + frameAlign
	for _, op := range t.stable {
		size += 1 + 3*v + len(op.key) + len(op.val)
	}
	for _, p := range t.plans {
		size += 1 + 3*v + 2*v*len(p.dels)
		for _, it := range p.items {
			size += v + len(it.enc)
		}
	}
	b := slices.Grow(s.recBuf[:0], size)[:frameHeaderLen]
	s.recBuf = nil
	b = append(b, kindCommit)
	for _, op := range t.stable {
		if op.clear {
			b = append(b, opTagClear)
			b = binary.AppendUvarint(b, uint64(op.g.id))
			continue
		}
		b = append(b, opTagSet)
		b = binary.AppendUvarint(b, uint64(op.g.id))
		b = appendBytes(b, op.key)
		b = appendBytes(b, op.val)
	}
	for _, p := range t.plans {
		if len(p.dels) == 0 && len(p.items) == 0 {
			continue
		}
		b = append(b, opTagLog)
		b = binary.AppendUvarint(b, uint64(p.g.id))
		b = binary.AppendUvarint(b, uint64(len(p.dels)))
		for _, d := range p.dels {
			b = binary.AppendUvarint(b, d[0])
			b = binary.AppendUvarint(b, d[1])
		}
		b = binary.AppendUvarint(b, uint64(len(p.items)))
		for k := range p.items {
			it := &p.items[k]
			b = binary.AppendUvarint(b, uint64(len(it.enc)))
			it.off = uint32(len(b)) // a frame over maxFramePayload is rejected before use
			b = append(b, it.enc...)
		}
		t.entries += len(p.items)
	}
	payload := len(b) - frameHeaderLen
	return b[:frameLen(payload)], payload
}

// writeFrame writes a built frame at the end of the active segment
// (starting a new segment first if it does not fit) and makes it durable.
func (s *Store) writeFrame(t *txn, frame []byte, payload int) error {
	need := int64(len(frame))
	if s.active.end+need > s.active.size {
		if err := s.rotate(need); err != nil {
			return err
		}
	}
	seg := s.active
	t.seq = s.nextSeq
	sealFrame(frame, payload, t.seq, s.storeID)
	if err := s.writeAt(seg, frame, seg.end, false); err != nil {
		return err
	}
	t.seg, t.off = seg, seg.end
	seg.end += need
	seg.lastSeq = t.seq
	s.nextSeq++
	return nil
}

// writeAt writes b at off in seg and, unless NoSync (and not force), makes
// it durable. Any failure is sticky: after a failed write or fdatasync the
// state of the file is unknown (and Linux may have dropped the dirty
// pages), so the store refuses further writes; reopening recovers.
func (s *Store) writeAt(seg *segment, b []byte, off int64, force bool) error {
	if _, err := seg.f.WriteAt(b, off); err != nil {
		s.failed = fmt.Errorf("write segment %d at %d: %w", seg.no, off, err)
		return s.failed
	}
	s.writes.Add(1)
	if s.noSync && !force {
		return nil
	}
	if err := fdatasync(seg.f); err != nil {
		s.failed = fmt.Errorf("fdatasync segment %d: %w", seg.no, err)
		return s.failed
	}
	s.fsyncs.Add(1)
	return nil
}

// rotate starts a new active segment with room for need more bytes. Its
// first frame is a checkpoint of the current state, written and synced on
// its own (even with NoSync) before anything else goes into the segment,
// so that older segments are never needed for stable values or for what
// was deleted, and a torn write can only ever affect the last frame.
func (s *Store) rotate(need int64) error {
	var prev uint32
	if s.active != nil {
		prev = s.active.no
	}
	ckpt, payload := s.buildCheckpoint(prev)
	seg, err := s.newSegment(s.nextSegNo, int64(len(ckpt))+need)
	if err != nil {
		return err
	}
	s.nextSegNo++
	old := s.active // nil when Open starts the first segment
	if s.noSync && old != nil {
		// Sync only ever syncs the active segment.
		if err := fdatasync(old.f); err != nil {
			s.failed = fmt.Errorf("fdatasync segment %d: %w", old.no, err)
			_ = seg.f.Close()
			return s.failed
		}
	}
	sealFrame(ckpt, payload, s.nextSeq, s.storeID)
	if err := s.writeAt(seg, ckpt, 0, true); err != nil {
		_ = seg.f.Close()
		return err
	}
	seg.lastSeq = s.nextSeq
	s.nextSeq++
	seg.end = int64(len(ckpt))
	s.segMu.Lock()
	s.segs[seg.no] = seg
	s.active = seg
	s.segMu.Unlock()
	if old != nil && old.live == 0 {
		s.dead = append(s.dead, old)
	}
	return nil
}

// buildCheckpoint encodes the state of every group (live index runs and
// stable values) as a frame, header left to be sealed.
func (s *Store) buildCheckpoint(prevSeg uint32) ([]byte, int) {
	s.gmu.Lock()
	groups := make([]*GroupStore, 0, len(s.groups))
	for _, g := range s.groups {
		groups = append(groups, g)
	}
	s.gmu.Unlock()
	slices.SortFunc(groups, func(a, b *GroupStore) int { return cmp.Compare(a.id, b.id) })
	states := make([]groupState, 0, len(groups))
	for _, g := range groups {
		st := groupState{id: g.id, stable: g.stable}
		for _, r := range g.idx.runs {
			st.runs = append(st.runs, [2]uint64{r.base, r.last()})
		}
		if len(st.runs) > 0 || len(st.stable) > 0 {
			states = append(states, st)
		}
	}
	b := appendCheckpoint(make([]byte, frameHeaderLen, 256), prevSeg, states)
	payload := len(b) - frameHeaderLen
	b = slices.Grow(b, frameAlign)
	return b[:frameLen(payload)], payload
}

// publish applies a durable commit to the in-memory state: stable values,
// every touched group's index and bounds, and segment usage.
func (s *Store) publish(t *txn) {
	for _, op := range t.stable {
		g := op.g
		g.smu.Lock()
		if op.clear {
			g.stable = nil
		} else {
			if g.stable == nil {
				g.stable = make(map[string][]byte)
			}
			g.stable[string(op.key)] = append([]byte{}, op.val...)
		}
		g.smu.Unlock()
	}
	for _, p := range t.plans {
		g := p.g
		if len(p.dels) == 0 && len(p.items) == 0 {
			continue
		}
		// Deletes first, then the surviving appends: an appended entry
		// survives only if no later delete of the batch covered it, so
		// this order gives the same result as the batch order.
		g.imu.Lock()
		for _, d := range p.dels {
			g.idx.deleteRange(d[0], d[1], s.release)
		}
		for _, it := range p.items {
			s.use(t.seg, g, it.index, loc{seg: t.seg.no, off: uint32(t.off) + it.off, n: uint32(len(it.enc))})
		}
		first, last := g.idx.bounds()
		g.imu.Unlock()
		g.publish(first, last)
	}
}

// use maps index to l (in seg) in g's index, releasing what it replaces.
// The caller holds g.imu (or is Open).
func (s *Store) use(seg *segment, g *GroupStore, index uint64, l loc) {
	seg.live++
	seg.liveBytes += int64(l.n)
	if old, ok := g.idx.set(index, l); ok {
		s.release(old)
	}
}

// release drops one reference to a segment; an inactive segment left with
// none is reclaimed after the current commit is answered.
func (s *Store) release(l loc) {
	seg := s.segs[l.seg]
	if seg == nil {
		return // cannot happen: the index only points at existing segments
	}
	seg.live--
	seg.liveBytes -= int64(l.n)
	if seg.live == 0 && seg != s.active {
		s.dead = append(s.dead, seg)
	}
}

// maintain runs after each commit has been answered: it reclaims dead
// segments, moves live entries out of a mostly dead segment if there are
// too many, and asks for the next spare when the active segment is half
// full.
func (s *Store) maintain() {
	s.reclaim()
	if s.failed != nil {
		return
	}
	if seg := s.relocationCandidate(); seg != nil {
		s.relocate(seg)
		s.reclaim()
	}
	if a := s.active; a.end*2 > a.size && s.halfKicked != a.no {
		s.halfKicked = a.no
		s.kickPreparer()
	}
}

// reclaim removes dead segments from the store and disposes of their files.
func (s *Store) reclaim() {
	if len(s.dead) == 0 {
		return
	}
	dead := s.dead
	s.dead = nil
	s.segMu.Lock()
	for _, seg := range dead {
		delete(s.segs, seg.no)
	}
	s.segMu.Unlock()
	for _, seg := range dead {
		_ = seg.f.Close()
		s.dispose(seg)
	}
}
