package raftstore

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// init checks (or creates) the layout, then rebuilds every
// group's index from the bounds and one scan of the journal, verifying every
// checksum. Records found dead and bounds that can be compacted are cleaned
// up in the same transaction.
func (s *Store) init() error {
	var t *txn
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := s.checkLayout(tx); err != nil {
			return err
		}
		if err := s.loadBounds(tx.Bucket(boundsBucket)); err != nil {
			return err
		}
		if err := s.scanJournal(tx.Bucket(journalBucket)); err != nil {
			return err
		}
		var recut []*GroupStore
		for seq, rm := range s.recs {
			if rm.live == 0 {
				s.garbage = append(s.garbage, seq)
			}
		}
		for _, g := range s.groups {
			g.publish(g.idx.bounds())
			if len(g.cuts) > 0 {
				recut = append(recut, g)
			}
		}
		s.recanonicalize(recut)
		t = &txn{seq: s.nextSeq}
		s.prepareMaintenance(t)
		return s.write(tx, t, nil, nil)
	})
	if err != nil {
		return err
	}
	s.publish(t)
	return nil
}

// checkLayout creates the buckets of a new file and rejects a file of any
// other layout version.
func (s *Store) checkLayout(tx *bbolt.Tx) error {
	mb := tx.Bucket(metaBucket)
	if mb == nil {
		var err error
		if mb, err = tx.CreateBucket(metaBucket); err != nil {
			return fmt.Errorf("create meta bucket: %w", err)
		}
		if err := mb.Put(metaVersionKey, binary.BigEndian.AppendUint32(nil, layoutVersion)); err != nil {
			return fmt.Errorf("write layout version: %w", err)
		}
		for _, name := range [][]byte{journalBucket, boundsBucket, stableBucket} {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create %s bucket: %w", name, err)
			}
		}
		return nil
	}
	v := mb.Get(metaVersionKey)
	switch {
	case len(v) == 4 && binary.BigEndian.Uint32(v) == layoutVersion:
	default:
		return fmt.Errorf("unsupported layout version %x (want %d)", v, layoutVersion)
	}
	for _, name := range [][]byte{journalBucket, boundsBucket, stableBucket} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: missing %s bucket", errCorruptJournal, name)
		}
	}
	return nil
}

func (s *Store) loadBounds(bb *bbolt.Bucket) error {
	return bb.ForEach(func(k, v []byte) error {
		if len(k) != 4 {
			return fmt.Errorf("%w: bounds key %x", errCorruptJournal, k)
		}
		id := binary.BigEndian.Uint32(k)
		cuts, err := decodeCuts(v)
		if err != nil {
			return fmt.Errorf("group %d: %w", id, err)
		}
		s.groupLocked(id).cuts = cuts
		for _, c := range cuts {
			// Records written from now on must not be killed by old cuts.
			s.nextSeq = max(s.nextSeq, c.seq)
		}
		return nil
	})
}

// scanJournal replays every record in commit order into the group indexes,
// skipping entries killed by their group's cuts; for an index stored more
// than once the newest live record wins.
func (s *Store) scanJournal(jb *bbolt.Bucket) error {
	return jb.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("%w: journal key %x", errCorruptJournal, k)
		}
		seq := binary.BigEndian.Uint64(k)
		rm := &recMeta{}
		s.recs[seq] = rm
		s.nextSeq = max(s.nextSeq, seq+1)
		err := parseRecord(v, func(id uint32, off, n int) error {
			g := s.groupLocked(id)
			if len(rm.groups) == 0 || rm.groups[len(rm.groups)-1] != g {
				rm.groups = append(rm.groups, g)
				g.nrecs++
			}
			i, err := entryIndex(v[off : off+n])
			if err != nil {
				return fmt.Errorf("%w: group %d, entry at offset %d: %w", errCorruptJournal, id, off, err)
			}
			if killed(g.cuts, i, seq) {
				return nil
			}
			if old, ok := g.idx.set(i, loc{seq: seq, off: uint32(off), n: uint32(n)}); ok {
				s.recs[old.seq].live--
			}
			rm.live++
			return nil
		})
		if err != nil {
			return fmt.Errorf("journal record %d: %w", seq, err)
		}
		return nil
	})
}
