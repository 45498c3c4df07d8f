package fsm

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// List is a Redis list value: a deque of strings kept in a ring buffer whose
// capacity is a power of two, so pushes and pops at either end are O(1)
// amortized and indexing is O(1). Elements are immutable Go strings, so a
// copy of the ring is a deep copy.
//
// A List is mutated in place by the list commands, which first obtain it
// through DB.writable: a List created before the latest Snapshot (gen older
// than the DB's) is cloned first, so snapshots stay point-in-time.
type List struct {
	buf  []string // the ring; len(buf) is 0 or a power of two
	head int      // position in buf of element 0
	n    int      // number of elements
	gen  uint64   // DB generation the value belongs to (see DB.Gen)
}

// listMinCap is the smallest ring allocated; rings never shrink below it.
const listMinCap = 8

// newList returns an empty list belonging to generation gen.
func newList(gen uint64) *List { return &List{gen: gen} }

// TypeName is TYPE's answer for a list.
func (l *List) TypeName() string { return "list" }

// Encoding is OBJECT ENCODING's answer: redis-server 7.0 always stores
// lists as quicklists (the listpack encoding for small lists is 7.2's).
func (l *List) Encoding() string { return "quicklist" }

// Len returns the number of elements.
func (l *List) Len() int { return l.n }

func (l *List) generation() uint64 { return l.gen }

// cloneGen returns a deep copy of l belonging to generation gen.
func (l *List) cloneGen(gen uint64) aggregate {
	c := &List{gen: gen, n: l.n}
	if l.n > 0 {
		c.buf = make([]string, ringCap(l.n))
		l.copyTo(c.buf)
	}
	return c
}

// Clone returns a deep copy of l (COPY).
func (l *List) Clone() any { return l.cloneGen(l.gen) }

// ringCap returns the ring capacity for n elements: the next power of two,
// at least listMinCap.
func ringCap(n int) int {
	if n <= listMinCap {
		return listMinCap
	}
	return 1 << bits.Len(uint(n-1))
}

func (l *List) pos(i int) int { return (l.head + i) & (len(l.buf) - 1) }

// At returns element i (0 <= i < Len()).
func (l *List) At(i int) string { return l.buf[l.pos(i)] }

// set replaces element i (0 <= i < Len()).
func (l *List) set(i int, v string) { l.buf[l.pos(i)] = v }

// copyTo copies the elements, in order, to the start of dst.
func (l *List) copyTo(dst []string) {
	if l.n == 0 {
		return
	}
	end := l.head + l.n
	if end <= len(l.buf) {
		copy(dst, l.buf[l.head:end])
		return
	}
	k := copy(dst, l.buf[l.head:])
	copy(dst[k:], l.buf[:end-len(l.buf)])
}

// resize moves the elements into a new ring of capacity c (>= n).
func (l *List) resize(c int) {
	buf := make([]string, c)
	l.copyTo(buf)
	l.buf, l.head = buf, 0
}

func (l *List) grow() {
	if l.n == len(l.buf) {
		l.resize(ringCap(l.n + 1))
	}
}

// shrink releases memory after removals: a ring at most a quarter full is
// halved (never below listMinCap).
func (l *List) shrink() {
	if l.n == 0 {
		l.buf, l.head = nil, 0
		return
	}
	if len(l.buf) > listMinCap && l.n <= len(l.buf)/4 {
		l.resize(max(ringCap(l.n*2), listMinCap))
	}
}

// PushFront adds v at the head.
func (l *List) PushFront(v string) {
	l.grow()
	l.head = (l.head - 1) & (len(l.buf) - 1)
	l.buf[l.head] = v
	l.n++
}

// PushBack adds v at the tail.
func (l *List) PushBack(v string) {
	l.grow()
	l.buf[l.pos(l.n)] = v
	l.n++
}

// PopFront removes and returns the head (the list must not be empty).
func (l *List) PopFront() string {
	v := l.buf[l.head]
	l.buf[l.head] = "" // release the string
	l.head = (l.head + 1) & (len(l.buf) - 1)
	l.n--
	l.shrink()
	return v
}

// PopBack removes and returns the tail (the list must not be empty).
func (l *List) PopBack() string {
	p := l.pos(l.n - 1)
	v := l.buf[p]
	l.buf[p] = ""
	l.n--
	l.shrink()
	return v
}

// push adds v at the head (left) or the tail.
func (l *List) push(v string, left bool) {
	if left {
		l.PushFront(v)
	} else {
		l.PushBack(v)
	}
}

// pop removes an element from the head (left) or the tail.
func (l *List) pop(left bool) string {
	if left {
		return l.PopFront()
	}
	return l.PopBack()
}

// Insert inserts v before element i (0 <= i <= Len()), moving the shorter
// side of the list.
func (l *List) Insert(i int, v string) {
	l.grow()
	if i < l.n-i {
		l.head = (l.head - 1) & (len(l.buf) - 1)
		l.n++
		for j := 0; j < i; j++ {
			l.set(j, l.At(j+1))
		}
	} else {
		l.n++
		for j := l.n - 1; j > i; j-- {
			l.set(j, l.At(j-1))
		}
	}
	l.set(i, v)
}

// Trim keeps elements [start, end] (0 <= start <= end < Len()), or none
// when start > end.
func (l *List) Trim(start, end int) {
	if start > end {
		start, end = l.n, l.n-1
	}
	for j := 0; j < start; j++ {
		l.set(j, "")
	}
	for j := end + 1; j < l.n; j++ {
		l.set(j, "")
	}
	l.head = l.pos(start)
	l.n = end - start + 1
	l.shrink()
}

// Remove deletes the elements equal to v, at most count of them when count
// is positive, scanning from the tail when fromTail is set (LREM). It
// returns the number removed.
func (l *List) Remove(v string, count int64, fromTail bool) int64 {
	var removed int64
	w := 0 // elements kept so far, compacted towards the scan's start
	for r := 0; r < l.n; r++ {
		ri := r
		if fromTail {
			ri = l.n - 1 - r
		}
		e := l.At(ri)
		if e == v && (count == 0 || removed != count) {
			removed++
			continue
		}
		wi := w
		if fromTail {
			wi = l.n - 1 - w
		}
		l.set(wi, e)
		w++
	}
	if removed == 0 {
		return 0
	}
	if fromTail {
		for j := 0; j < l.n-w; j++ {
			l.set(j, "")
		}
		l.head = l.pos(l.n - w)
	} else {
		for j := w; j < l.n; j++ {
			l.set(j, "")
		}
	}
	l.n = w
	l.shrink()
	return removed
}

// Index returns the position of element e in the list, with Redis's
// negative indexes (-1 is the tail); ok is false when out of range.
func (l *List) Index(e int64) (int, bool) {
	if e < 0 {
		e += int64(l.n)
	}
	if e < 0 || e >= int64(l.n) {
		return 0, false
	}
	return int(e), true
}

// snapshotRecord encodes the list: uvarint count, then each element as
// uvarint length and bytes.
func (l *List) snapshotRecord() (uint8, []byte) {
	size := binary.MaxVarintLen64
	for i := 0; i < l.n; i++ {
		size += len(l.At(i)) + 2
	}
	b := binary.AppendUvarint(make([]byte, 0, size), uint64(l.n))
	for i := 0; i < l.n; i++ {
		e := l.At(i)
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return recList, b
}

var errCorruptList = errors.New("corrupt list record")

// decodeList decodes a recList record into a list of generation 0 (a
// restored DB starts at generation 0).
func decodeList(b []byte) (any, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > uint64(len(b)) { // every element takes at least one byte
		return nil, errCorruptList
	}
	b = b[k:]
	l := &List{buf: make([]string, ringCap(int(n)))}
	for i := uint64(0); i < n; i++ {
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) {
			return nil, errCorruptList
		}
		l.PushBack(string(b[k : k+int(size)]))
		b = b[k+int(size):]
	}
	if len(b) != 0 {
		return nil, errCorruptList
	}
	return l, nil
}
