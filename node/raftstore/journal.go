package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// errCorruptJournal is wrapped by every error about a malformed journal
// record or bounds value, and by Open when the journal fails verification.
var errCorruptJournal = errors.New("raftstore: corrupt journal")

// Journal record, version 1. One record holds everything one transaction
// appended, for every group in the batch:
//
//	byte     version (=1)
//	section* one per group:
//	  uvarint  group id
//	  uvarint  entry count (> 0)
//	  count ×  (uvarint len, len bytes: one log entry in the codec.go encoding)
//	uint32   CRC-32C (Castagnoli) of every preceding byte, little endian
//
// Each entry carries its own checksum too, so GetLog, which reads one entry
// out of a record, verifies what it returns without checking the record.
const recordVersion byte = 1

// seqKey is the journal key of record seq: big-endian, so bbolt's key order
// is commit order and every new record is appended at the end of the tree.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

// groupKey is a group's key in the bounds bucket and the prefix of its keys
// in the stable bucket.
func groupKey(dst []byte, id uint32) []byte { return binary.BigEndian.AppendUint32(dst, id) }

func stableKey(id uint32, key []byte) []byte {
	return append(groupKey(make([]byte, 0, 4+len(key)), id), key...)
}

// appendSectionHeader starts a group's section of a record.
func appendSectionHeader(dst []byte, id uint32, count int) []byte {
	dst = binary.AppendUvarint(dst, uint64(id))
	return binary.AppendUvarint(dst, uint64(count))
}

// sealRecord appends the record checksum.
func sealRecord(rec []byte) []byte {
	return binary.LittleEndian.AppendUint32(rec, crc32.Checksum(rec, crcTable))
}

// parseRecord verifies record rec and calls fn for every entry, in order,
// with the group id and the entry's offset and length within rec.
func parseRecord(rec []byte, fn func(group uint32, off, n int) error) error {
	if len(rec) < 1+crcLen {
		return fmt.Errorf("%w: record of %d bytes is too short", errCorruptJournal, len(rec))
	}
	body := rec[:len(rec)-crcLen]
	if want, got := binary.LittleEndian.Uint32(rec[len(body):]), crc32.Checksum(body, crcTable); want != got {
		return fmt.Errorf("%w: record checksum mismatch (stored %08x, computed %08x)", errCorruptJournal, want, got)
	}
	if body[0] != recordVersion {
		return fmt.Errorf("%w: unknown record version %d", errCorruptJournal, body[0])
	}
	p := 1
	uvarint := func(what string) (uint64, error) {
		v, n := binary.Uvarint(body[p:])
		if n <= 0 {
			return 0, fmt.Errorf("%w: bad %s varint at offset %d", errCorruptJournal, what, p)
		}
		p += n
		return v, nil
	}
	for p < len(body) {
		group, err := uvarint("group id")
		if err != nil {
			return err
		}
		if group > math.MaxUint32 {
			return fmt.Errorf("%w: group id %d out of range", errCorruptJournal, group)
		}
		count, err := uvarint("entry count")
		if err != nil {
			return err
		}
		if count == 0 {
			return fmt.Errorf("%w: empty section for group %d", errCorruptJournal, group)
		}
		for ; count > 0; count-- {
			n, err := uvarint("entry length")
			if err != nil {
				return err
			}
			if n > uint64(len(body)-p) {
				return fmt.Errorf("%w: entry of %d bytes at offset %d overruns the record", errCorruptJournal, n, p)
			}
			if err := fn(uint32(group), p, int(n)); err != nil {
				return err
			}
			p += int(n)
		}
	}
	return nil
}

// A cut records a deletion durably: entries of the group with an index in
// [min, max] stored in journal records older than seq are dead. A group's
// cuts are sorted and disjoint. At startup an entry (index i, record q) is
// live unless a cut of its group covers i with seq > q, and among live
// entries for the same index the newest record wins. That rebuilds exactly
// the index the store had, whatever mix of appends, overwrites, prefix and
// suffix truncations and holes produced it.
type cut struct{ min, max, seq uint64 }

// addCut returns cuts plus c, trimming older cuts where c overlaps them (c is
// at least as new, so it kills a superset there).
func addCut(cuts []cut, c cut) []cut {
	out := make([]cut, 0, len(cuts)+2)
	for _, o := range cuts {
		if o.max < c.min || o.min > c.max {
			out = append(out, o)
			continue
		}
		if o.min < c.min {
			out = append(out, cut{o.min, c.min - 1, o.seq})
		}
		if o.max > c.max {
			out = append(out, cut{c.max + 1, o.max, o.seq})
		}
	}
	out = append(out, c)
	slices.SortFunc(out, func(a, b cut) int {
		if a.min < b.min {
			return -1
		}
		if a.min > b.min {
			return 1
		}
		return 0
	})
	return out
}

// killed reports whether an entry for index i stored in record seq is dead.
func killed(cuts []cut, i, seq uint64) bool {
	k, _ := slices.BinarySearchFunc(cuts, i, func(c cut, i uint64) int {
		if c.max < i {
			return -1
		}
		if c.min > i {
			return 1
		}
		return 0
	})
	return k < len(cuts) && cuts[k].min <= i && i <= cuts[k].max && seq < cuts[k].seq
}

// canonicalCuts rewrites a group's cuts into at most one per gap of its live
// index (normally two: below FirstIndex and above LastIndex), so cuts do not
// pile up with every truncation. A gap gets a cut iff some cut intersects it,
// with the largest seq of those. This is exact: every dead entry lies in a
// gap under a cut whose seq exceeds its record's, so the merged cut still
// kills it, and gaps hold no live entry that the merge could kill. Cuts over
// live indexes are not needed: the live entry is the newest for its index.
func canonicalCuts(cuts []cut, x *logIndex) []cut {
	if len(cuts) == 0 {
		return nil
	}
	var out []cut
	j := 0
	gap := func(lo, hi uint64) {
		for j < len(cuts) && cuts[j].max < lo {
			j++
		}
		var seq uint64
		found := false
		for k := j; k < len(cuts) && cuts[k].min <= hi; k++ {
			seq, found = max(seq, cuts[k].seq), true
		}
		if found {
			out = append(out, cut{lo, hi, seq})
		}
	}
	start, open := uint64(0), true
	for i := range x.runs {
		r := &x.runs[i]
		if r.base > start {
			gap(start, r.base-1)
		}
		if l := r.last(); l == math.MaxUint64 {
			open = false
		} else {
			start = l + 1
		}
	}
	if open {
		gap(start, math.MaxUint64)
	}
	return out
}

// Bounds value (a group's cuts), version 1:
//
//	byte    version (=1)
//	uvarint count, count × (uvarint min, uvarint max, uvarint seq)
//	uint32  CRC-32C of every preceding byte, little endian
const boundsVersion byte = 1

func encodeCuts(cuts []cut) []byte {
	b := make([]byte, 0, 2+len(cuts)*3*binary.MaxVarintLen64+crcLen)
	b = append(b, boundsVersion)
	b = binary.AppendUvarint(b, uint64(len(cuts)))
	for _, c := range cuts {
		b = binary.AppendUvarint(b, c.min)
		b = binary.AppendUvarint(b, c.max)
		b = binary.AppendUvarint(b, c.seq)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func decodeCuts(v []byte) ([]cut, error) {
	if len(v) < 2+crcLen {
		return nil, fmt.Errorf("%w: bounds of %d bytes is too short", errCorruptJournal, len(v))
	}
	body := v[:len(v)-crcLen]
	if want, got := binary.LittleEndian.Uint32(v[len(body):]), crc32.Checksum(body, crcTable); want != got {
		return nil, fmt.Errorf("%w: bounds checksum mismatch (stored %08x, computed %08x)", errCorruptJournal, want, got)
	}
	if body[0] != boundsVersion {
		return nil, fmt.Errorf("%w: unknown bounds version %d", errCorruptJournal, body[0])
	}
	b := body[1:]
	var bad string
	uvarint := func(what string) uint64 {
		if bad != "" {
			return 0
		}
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = "bad " + what + " varint"
			return 0
		}
		b = b[n:]
		return v
	}
	n := uvarint("count")
	if bad == "" && n > uint64(len(b)) {
		bad = fmt.Sprintf("count %d exceeds %d remaining bytes", n, len(b))
	}
	var cuts []cut
	for i := uint64(0); bad == "" && i < n; i++ {
		c := cut{uvarint("cut min"), uvarint("cut max"), uvarint("cut seq")}
		if bad == "" && (c.min > c.max || (len(cuts) > 0 && c.min <= cuts[len(cuts)-1].max)) {
			bad = fmt.Sprintf("cut %d..%d out of order", c.min, c.max)
		}
		cuts = append(cuts, c)
	}
	if bad == "" && len(b) != 0 {
		bad = fmt.Sprintf("%d trailing bytes", len(b))
	}
	if bad != "" {
		return nil, fmt.Errorf("%w: bounds: %s", errCorruptJournal, bad)
	}
	return cuts, nil
}
