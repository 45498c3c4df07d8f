package raftstore

import (
	"cmp"
	"fmt"
	"slices"
)

// A segment is reclaimed once no live entry points into it. Usually that
// happens on its own: raft truncates each group's log prefix after
// snapshots, and a segment holds a stretch of time of every group's log. A
// group that writes rarely (META, an idle data group) would however keep
// its last entries, and so whole segments, alive for a long time. So when
// more than relocateMinSegments inactive segments exist, the committer
// copies the live entries of the one with the smallest live fraction (if
// under half) to the end of the log, as an ordinary commit that rewrites
// each entry at its own index with the same bytes; the segment then dies
// and is reclaimed. Space use stays below about twice the live log plus
// relocateMinSegments segments, and a segment's entries are copied at most
// once per time they end up in a mostly dead segment.

// relocationCandidate returns the inactive segment to compact, or nil.
func (s *Store) relocationCandidate() *segment {
	if len(s.segs)-1 <= s.compactAfter {
		return nil
	}
	var best *segment
	for _, seg := range s.segs {
		if seg == s.active || seg.live == 0 || seg.liveBytes*2 >= seg.end {
			continue
		}
		// liveBytes/end < best.liveBytes/best.end, oldest first on ties.
		if best == nil || seg.liveBytes*best.end < best.liveBytes*seg.end ||
			seg.liveBytes*best.end == best.liveBytes*seg.end && seg.no < best.no {
			best = seg
		}
	}
	return best
}

// relocated is one live entry to copy forward.
type relocated struct {
	g     *GroupStore
	index uint64
	l     loc
}

// relocate copies (up to relocateMaxBytes of) seg's live entries to the
// active segment in one commit.
func (s *Store) relocate(seg *segment) {
	s.gmu.Lock()
	groups := make([]*GroupStore, 0, len(s.groups))
	for _, g := range s.groups {
		groups = append(groups, g)
	}
	s.gmu.Unlock()
	var todo []relocated
	for _, g := range groups { // the committer is the only writer of idx
		for _, r := range g.idx.runs {
			for k, l := range r.locs {
				if l.seg == seg.no {
					todo = append(todo, relocated{g, r.base + uint64(k), l})
				}
			}
		}
	}
	slices.SortFunc(todo, func(a, b relocated) int { return cmp.Compare(a.l.off, b.l.off) })
	budget := 0
	for k, e := range todo {
		if budget+int(e.l.n) > relocateMaxBytes && k > 0 {
			todo = todo[:k]
			break
		}
		budget += int(e.l.n)
	}
	batch, err := s.readRelocated(seg, todo)
	if err == nil {
		var t *txn
		if t, err = s.apply(batch); err == nil {
			s.publish(t)
		}
	}
	if err != nil {
		s.logger.Error("raft log compaction failed", "segment", seg.no, "err", err)
		return
	}
	s.logger.Debug("raft log entries relocated", "segment", seg.no, "entries", len(todo),
		"bytes", budget, "segment_live_bytes", seg.liveBytes)
}

// readRelocated reads the entries (sorted by offset) with a few large
// reads and builds one append request per group, entries in index order.
func (s *Store) readRelocated(seg *segment, todo []relocated) ([]*request, error) {
	const chunk = 1 << 20
	var (
		buf      []byte
		bufStart int64
		reqs     = map[*GroupStore]*request{}
	)
	for _, e := range todo {
		off, end := int64(e.l.off), int64(e.l.off)+int64(e.l.n)
		if off < bufStart || end > bufStart+int64(len(buf)) {
			n := max(int64(e.l.n), min(chunk, seg.end-off))
			buf = make([]byte, n)
			if _, err := seg.f.ReadAt(buf, off); err != nil {
				return nil, fmt.Errorf("read segment %d at %d: %w", seg.no, off, err)
			}
			bufStart = off
		}
		enc := buf[off-bufStart : end-bufStart]
		if idx, err := entryIndex(enc); err != nil || idx != e.index {
			return nil, fmt.Errorf("%w: segment %d at %d: entry for index %d: %v (index %d)", errCorruptJournal, seg.no, off, e.index, err, idx)
		}
		r := reqs[e.g]
		if r == nil {
			r = &request{g: e.g, op: opAppend}
			reqs[e.g] = r
		}
		r.buf = append(r.buf, enc...)
		r.ends = append(r.ends, len(r.buf))
		r.idx = append(r.idx, e.index)
	}
	batch := make([]*request, 0, len(reqs))
	for _, r := range reqs {
		batch = append(batch, r)
	}
	slices.SortFunc(batch, func(a, b *request) int { return cmp.Compare(a.g.id, b.g.id) })
	// plan marks a group for dedupe when indexes are out of order; sort
	// each request by index instead.
	for _, r := range batch {
		sortAppend(r)
	}
	return batch, nil
}

// sortAppend reorders an append request's entries by index.
func sortAppend(r *request) {
	if slices.IsSorted(r.idx) {
		return
	}
	type ent struct {
		i   uint64
		enc []byte
	}
	ents := make([]ent, len(r.idx))
	start := 0
	for k, end := range r.ends {
		ents[k] = ent{r.idx[k], r.buf[start:end]}
		start = end
	}
	slices.SortFunc(ents, func(a, b ent) int { return cmp.Compare(a.i, b.i) })
	buf := make([]byte, 0, len(r.buf))
	for k, e := range ents {
		buf = append(buf, e.enc...)
		r.ends[k], r.idx[k] = len(buf), e.i
	}
	r.buf = buf
}
