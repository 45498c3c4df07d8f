package raftstore

import (
	"math"
	"slices"
	"sort"
)

// loc locates one encoded log entry: bytes [off, off+n) of segment file
// seg. Frames are capped at 1 GiB and a segment is no larger than it has to
// be to hold one frame (beyond the standard size), so offsets fit in 32
// bits; 12 bytes per live entry.
type loc struct {
	seg, off, n uint32
}

// run is a dense stretch of consecutive log indexes: locs[k] is the
// location of index base+k. Runs are never empty.
type run struct {
	base uint64
	locs []loc
}

func (r *run) last() uint64 { return r.base + uint64(len(r.locs)) - 1 }

// logIndex maps a group's live log indexes to segment locations. A raft log
// is one consecutive range, so this is normally a single dense run (12 bytes
// per entry); gaps (a snapshot install storing past LastIndex+1, holes
// punched by DeleteRange) start new runs. Runs are sorted and disjoint;
// adjacent runs need not be merged.
//
// The committer is the only writer. GroupStore.imu guards it against
// concurrent readers.
type logIndex struct {
	runs []run
}

// bounds returns the first and last live index, 0, 0 if empty.
func (x *logIndex) bounds() (first, last uint64) {
	if len(x.runs) == 0 {
		return 0, 0
	}
	return x.runs[0].base, x.runs[len(x.runs)-1].last()
}

// find returns the position of the first run whose last index is >= i.
func (x *logIndex) find(i uint64) int {
	return sort.Search(len(x.runs), func(k int) bool { return x.runs[k].last() >= i })
}

func (x *logIndex) get(i uint64) (loc, bool) {
	k := x.find(i)
	if k == len(x.runs) || x.runs[k].base > i {
		return loc{}, false
	}
	return x.runs[k].locs[i-x.runs[k].base], true
}

// set maps index i to l and returns the location it replaces, if any.
func (x *logIndex) set(i uint64, l loc) (old loc, replaced bool) {
	// Fast path: the next index after the last run (raft appends).
	if n := len(x.runs); n > 0 {
		r := &x.runs[n-1]
		if last := r.last(); last != math.MaxUint64 && i == last+1 {
			r.locs = append(r.locs, l)
			return loc{}, false
		}
	}
	k := x.find(i)
	if k < len(x.runs) && x.runs[k].base <= i {
		r := &x.runs[k]
		old, r.locs[i-r.base] = r.locs[i-r.base], l
		return old, true
	}
	// i falls in the gap before runs[k]; runs[k-1] (if any) ends below i.
	if k > 0 {
		if p := &x.runs[k-1]; p.last()+1 == i {
			p.locs = append(p.locs, l)
			return loc{}, false
		}
	}
	x.runs = slices.Insert(x.runs, k, run{base: i, locs: []loc{l}})
	return loc{}, false
}

// deleteRange removes indexes lo..hi (inclusive) and calls dead with the
// location of every live entry it removes.
func (x *logIndex) deleteRange(lo, hi uint64, dead func(loc)) {
	if lo > hi {
		return
	}
	k := x.find(lo)
	j := k
	var keep []run
	for ; j < len(x.runs) && x.runs[j].base <= hi; j++ {
		r := x.runs[j]
		a, b := max(lo, r.base), min(hi, r.last()) // removed part of r
		for _, l := range r.locs[a-r.base : b-r.base+1] {
			dead(l)
		}
		if r.base < a { // head survives (suffix truncation); it keeps the array
			keep = append(keep, run{base: r.base, locs: r.locs[:a-r.base]})
		}
		if b < r.last() { // tail survives (prefix truncation)
			// If the head survives too, both share the array; that is safe
			// because the head can only grow into the deleted slots a..b.
			// Copy when most of the array is dead, so memory follows the
			// live log (the copy costs no more than the deletion).
			tail := r.locs[b-r.base+1:]
			if uint64(len(tail)) <= b-a+1 {
				tail = slices.Clone(tail)
			}
			keep = append(keep, run{base: b + 1, locs: tail})
		}
	}
	if j > k {
		x.runs = slices.Replace(x.runs, k, j, keep...)
	}
}

// restrict removes every index outside runs ((base, last) pairs, sorted and
// disjoint) and calls dead with the location of every live entry it
// removes.
func (x *logIndex) restrict(runs [][2]uint64, dead func(loc)) {
	start := uint64(0)
	for _, r := range runs {
		if r[0] > start {
			x.deleteRange(start, r[0]-1, dead)
		}
		if r[1] == math.MaxUint64 {
			return
		}
		start = r[1] + 1
	}
	x.deleteRange(start, math.MaxUint64, dead)
}
