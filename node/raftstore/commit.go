package raftstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"go.etcd.io/bbolt"
)

// txn is one group-commit transaction: what it writes, computed before the
// bbolt transaction runs, and applied to the in-memory state (publish) only
// after bbolt has committed it.
type txn struct {
	seq     uint64       // seq of its journal record; also the seq of the cuts it adds
	plans   []*groupPlan // one per group the batch touches, in first-touch order
	entries int          // entries in its record; 0 means it writes no record
	gc      int          // it deletes the records s.garbage[:gc]
	bounds  []boundsWrite
}

type boundsWrite struct {
	g    *GroupStore
	cuts []cut
}

// groupPlan is what one transaction does to one group's log.
type groupPlan struct {
	g           *GroupStore
	items       []item      // appended entries that survive the batch
	dedupe      bool        // an index repeated or went backwards in the batch
	dels        [][2]uint64 // deleted ranges, in batch order
	cuts        []cut       // the group's cuts after the batch, if cutsChanged
	cutsChanged bool
}

// item is one appended entry: its index, encoding (a slice of the
// request's buffer) and, once the record is built, its offset in it.
type item struct {
	index uint64
	enc   []byte
	off   uint32
}

// del records the deletion of lo..hi. Entries the batch appended earlier in
// that range never reach the record; older entries are killed by a cut
// carrying this transaction's seq.
func (p *groupPlan) del(lo, hi, seq uint64) {
	p.dels = append(p.dels, [2]uint64{lo, hi})
	p.items = slices.DeleteFunc(p.items, func(it item) bool { return lo <= it.index && it.index <= hi })
	if !p.cutsChanged {
		p.cuts, p.cutsChanged = p.g.cuts, true
	}
	if p.g.nrecs == 0 {
		// No journal record holds an entry of the group: nothing to kill.
		p.cuts = nil
		return
	}
	p.cuts = addCut(p.cuts, cut{lo, hi, seq})
}

// apply runs batch (possibly empty: maintenance only) in one bbolt write
// transaction. On success the caller must publish the returned txn.
func (s *Store) apply(batch []*request) (*txn, error) {
	t := &txn{seq: s.nextSeq}
	defer func() {
		for _, p := range t.plans {
			p.g.plan = nil
		}
	}()
	if err := s.plan(t, batch); err != nil {
		return nil, err
	}
	rec := s.buildRecord(t)
	s.prepareMaintenance(t)
	err := s.db.Update(func(tx *bbolt.Tx) error { return s.write(tx, t, batch, rec) })
	// bbolt holds on to Put values until the transaction ends; now the
	// buffer can be reused.
	if cap(rec) <= maxRecBufCap {
		s.recBuf = rec[:0]
	} else {
		s.recBuf = nil
	}
	if err != nil {
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
				p.del(r.min, r.max, t.seq)
			}
		case opDeleteGroup:
			p.del(0, math.MaxUint64, t.seq)
		case opSet:
			if len(r.key) == 0 {
				return &applyError{fmt.Errorf("group %d: set: empty key", r.g.id)}
			}
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

// buildRecord encodes the transaction's journal record into s.recBuf and
// sets every item's offset. It returns an empty slice if nothing survives.
func (s *Store) buildRecord(t *txn) []byte {
	size := 1 + crcLen
	for _, p := range t.plans {
		size += 2 * binary.MaxVarintLen64
		for _, it := range p.items {
			size += binary.MaxVarintLen64 + len(it.enc)
		}
	}
	rec := slices.Grow(s.recBuf[:0], size)
	rec = append(rec, recordVersion)
	for _, p := range t.plans {
		if len(p.items) == 0 {
			continue
		}
		rec = appendSectionHeader(rec, p.g.id, len(p.items))
		for k := range p.items {
			it := &p.items[k]
			rec = binary.AppendUvarint(rec, uint64(len(it.enc)))
			it.off = uint32(len(rec)) // a record over bbolt's 2 GiB limit fails at Put
			rec = append(rec, it.enc...)
		}
		t.entries += len(p.items)
	}
	if t.entries == 0 {
		return rec[:0]
	}
	return sealRecord(rec)
}

// prepareMaintenance adds pending garbage collection (oldest records first)
// and pending bounds rewrites to t, plus the bounds its own deletes change.
func (s *Store) prepareMaintenance(t *txn) {
	if len(s.garbage) > 0 {
		slices.Sort(s.garbage)
		t.gc = min(len(s.garbage), maxGCPerTxn)
	}
	for _, p := range t.plans {
		if p.cutsChanged {
			t.bounds = append(t.bounds, boundsWrite{p.g, p.cuts})
		}
	}
	for g := range s.dirty {
		if g.plan == nil || !g.plan.cutsChanged {
			t.bounds = append(t.bounds, boundsWrite{g, g.cuts})
		}
	}
}

// write performs t inside bbolt transaction tx.
func (s *Store) write(tx *bbolt.Tx, t *txn, batch []*request, rec []byte) error {
	jb, bb, sb := tx.Bucket(journalBucket), tx.Bucket(boundsBucket), tx.Bucket(stableBucket)
	if jb == nil || bb == nil || sb == nil {
		return fmt.Errorf("missing bucket (journal %t, bounds %t, stable %t)", jb != nil, bb != nil, sb != nil)
	}
	jb.FillPercent = 1.0 // keys only ever grow: pack leaves full
	for _, seq := range s.garbage[:t.gc] {
		if err := jb.Delete(seqKey(seq)); err != nil {
			return fmt.Errorf("delete journal record %d: %w", seq, err)
		}
	}
	for _, r := range batch {
		switch r.op {
		case opSet:
			if err := sb.Put(stableKey(r.g.id, r.key), r.val); err != nil {
				return &applyError{fmt.Errorf("group %d: set %q: %w", r.g.id, r.key, err)}
			}
		case opDeleteGroup:
			if err := deletePrefix(sb, groupKey(nil, r.g.id)); err != nil {
				return &applyError{fmt.Errorf("group %d: delete stable keys: %w", r.g.id, err)}
			}
		}
	}
	if t.entries > 0 {
		if err := jb.Put(seqKey(t.seq), rec); err != nil {
			return &applyError{fmt.Errorf("put journal record %d (%d bytes, %d entries): %w", t.seq, len(rec), t.entries, err)}
		}
	}
	for _, w := range t.bounds {
		k := groupKey(nil, w.g.id)
		var err error
		if len(w.cuts) == 0 {
			err = bb.Delete(k)
		} else {
			err = bb.Put(k, encodeCuts(w.cuts))
		}
		if err != nil {
			return fmt.Errorf("group %d: write bounds: %w", w.g.id, err)
		}
	}
	return nil
}

func deletePrefix(b *bbolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	// Re-seek after every delete: never rely on cursor position after Delete.
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("delete %q: %w", k, err)
		}
	}
	return nil
}

// publish applies a committed transaction to the in-memory state: garbage
// collection bookkeeping, the new record, every touched group's index and
// bounds, and the cuts to compact in the next transaction.
func (s *Store) publish(t *txn) {
	var recut []*GroupStore // groups whose cuts may now be compacted or dropped
	for _, seq := range s.garbage[:t.gc] {
		rm := s.recs[seq]
		delete(s.recs, seq)
		if rm == nil {
			continue
		}
		for _, g := range rm.groups {
			if g.nrecs--; g.nrecs == 0 && len(g.cuts) > 0 {
				recut = append(recut, g)
			}
		}
	}
	s.garbage = append(s.garbage[:0], s.garbage[t.gc:]...)
	for _, w := range t.bounds {
		delete(s.dirty, w.g)
	}
	if t.entries > 0 {
		rm := &recMeta{live: t.entries}
		for _, p := range t.plans {
			if len(p.items) > 0 {
				rm.groups = append(rm.groups, p.g)
				p.g.nrecs++
			}
		}
		s.recs[t.seq] = rm
		s.nextSeq = t.seq + 1
	}
	for _, p := range t.plans {
		g := p.g
		if len(p.dels) > 0 || len(p.items) > 0 {
			// Deletes first, then the surviving appends: an appended entry
			// survives only if no later delete of the batch covered it, so
			// this order gives the same result as the batch order.
			g.imu.Lock()
			for _, d := range p.dels {
				g.idx.deleteRange(d[0], d[1], s.release)
			}
			for _, it := range p.items {
				if old, ok := g.idx.set(it.index, loc{seq: t.seq, off: it.off, n: uint32(len(it.enc))}); ok {
					s.release(old)
				}
			}
			first, last := g.idx.bounds()
			g.imu.Unlock()
			g.publish(first, last)
		}
		if p.cutsChanged {
			g.cuts = p.cuts
			recut = append(recut, g)
		}
	}
	s.recanonicalize(recut)
}

// release drops one reference to a record; unreferenced records become
// garbage, deleted by the next transaction.
func (s *Store) release(l loc) {
	rm := s.recs[l.seq]
	if rm == nil {
		return // cannot happen: the index only points at existing records
	}
	if rm.live--; rm.live == 0 {
		s.garbage = append(s.garbage, l.seq)
	}
}

// recanonicalize merges each group's cuts to the canonical form and marks
// the groups whose durable bounds must be rewritten.
func (s *Store) recanonicalize(groups []*GroupStore) {
	for _, g := range groups {
		c := canonicalCuts(g.cuts, &g.idx)
		if g.nrecs == 0 {
			c = nil
		}
		if !slices.Equal(c, g.cuts) {
			g.cuts = c
			s.dirty[g] = true
		}
	}
}
