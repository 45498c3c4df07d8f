package checker

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/troika-db/troika/jepsen/history"
)

// Set workload op names (history.Op.F).
const (
	SetAdd  = "add"
	SetRead = "read"
)

// setElem is what the history says about one element.
type setElem struct {
	*origin
	// knownAt is the earliest position from which the element is
	// certainly in the set: its first ok add's completion, or the
	// completion of the first ok read that legitimately saw it. knownIx
	// names that op; knownByRead tells which of the two it is.
	knownAt     int
	knownIx     int
	knownByRead bool
	inFinal     int   // final reads containing it
	phantomIn   []int // reads (indexes) where it was a phantom or aborted read
	phantomKind string
	lostIn      []int // final reads (indexes) missing it
}

// setRead is one ok read.
type setRead struct {
	ev    *event
	elems []int64 // sorted, without duplicates
	final bool
}

// CheckSet checks a grow-only set workload: ops with F "add" (Value: the
// element, an integer; each element is normally added once) and F "read"
// (ok completion Value: the set's elements, a list of integers; nil is
// the empty set).
//
// An element is known to be in the set from the completion of an ok add
// of it, or from the completion of an ok read that saw it (an info add
// may take effect at any time, but once seen it must stay). Then:
//   - every ok read must contain every element known before the read was
//     invoked: an element missing from a final read is Lost (one anomaly
//     per element), from an earlier read a StaleRead (one per read);
//   - final reads are the ok reads invoked after every add ended (after
//     the last add invocation and the last add completion in the
//     history); without one, lost elements cannot be told and are not
//     checked (Stats["final-reads"] == 0);
//   - every element of an ok read must have an add invoked before the
//     read completed: otherwise it is a Phantom, or an AbortedRead when
//     such adds exist but all failed (one anomaly per element);
//   - a read listing an element twice is a Duplicate.
//
// Stats: "adds", "add-ok", "add-info" (info or never completed),
// "add-fail", "reads", "read-ok", "read-info", "read-fail",
// "final-reads", "elements" (distinct elements added), "recovered"
// (elements whose adds were all info/fail but which a final read
// contains), "unresolved" (elements with info adds only, in no final
// read: they may still appear later) and the anomaly counts.
func CheckSet(ops []history.Op) (Result, error) {
	evs, err := events(ops)
	if err != nil {
		return Result{}, err
	}
	rep := newReport("set", Lost, StaleRead, Phantom, AbortedRead, Duplicate)
	for _, k := range []string{"adds", "add-ok", "add-info", "add-fail", "reads", "read-ok", "read-info", "read-fail", "final-reads", "elements", "recovered", "unresolved"} {
		rep.count(k, 0)
	}
	elems := map[int64]*setElem{}
	var reads []*setRead
	lastAdd := -1
	for i := range evs {
		e := &evs[i]
		st := e.status()
		switch e.inv.F {
		case SetAdd:
			v, err := toInt(e.value())
			if err != nil {
				return Result{}, fmt.Errorf("checker: set add op %d: %w", e.inv.Index, err)
			}
			rep.count("adds", 1)
			rep.count("add-"+string(st), 1)
			lastAdd = max(lastAdd, e.invPos)
			if e.cmp != nil {
				lastAdd = max(lastAdd, e.cmpPos)
			}
			el := elems[v]
			if el == nil {
				el = &setElem{origin: newOrigin(), knownAt: never}
				elems[v] = el
			}
			el.note(e)
			if st == history.OK && e.cmpPos < el.knownAt {
				el.knownAt, el.knownIx, el.knownByRead = e.cmpPos, e.index(), false
			}
		case SetRead:
			rep.count("reads", 1)
			rep.count("read-"+string(st), 1)
			if st != history.OK {
				continue
			}
			xs, err := toInts(e.cmp.Value)
			if err != nil {
				return Result{}, fmt.Errorf("checker: set read op %d: %w", e.cmp.Index, err)
			}
			xs = slices.Clone(xs)
			slices.Sort(xs)
			var dups []int64
			for j := 1; j < len(xs); j++ {
				if xs[j] == xs[j-1] && (len(dups) == 0 || dups[len(dups)-1] != xs[j]) {
					dups = append(dups, xs[j])
				}
			}
			if len(dups) > 0 {
				rep.anomaly(Duplicate, []int{e.index()}, "read at op %d lists %d %s more than once: %s",
					e.index(), len(dups), plural(len(dups), "element"), joinInts(dups, 16))
				xs = slices.Compact(xs)
			}
			reads = append(reads, &setRead{ev: e, elems: xs})
		default:
			return Result{}, fmt.Errorf("checker: set op %d: unknown f %q", e.inv.Index, e.inv.F)
		}
	}
	rep.count("elements", len(elems))

	// Pass 1: which reads are final, which elements are legitimately
	// read (and from when they are known), which are phantoms.
	var phantoms []int64
	for _, r := range reads {
		r.final = r.ev.invPos > lastAdd
		if r.final {
			rep.count("final-reads", 1)
		}
		for _, x := range r.elems {
			el := elems[x]
			var o *origin
			if el != nil {
				o = el.origin
			}
			if kind := o.classify(r.ev.cmpPos); kind != "" {
				if el == nil {
					el = &setElem{knownAt: never}
					elems[x] = el
				}
				if el.phantomIn == nil {
					phantoms = append(phantoms, x)
				}
				el.phantomIn = append(el.phantomIn, r.ev.index())
				el.phantomKind = kind
				continue
			}
			if r.final {
				el.inFinal++
			}
			if r.ev.cmpPos < el.knownAt {
				el.knownAt, el.knownIx, el.knownByRead = r.ev.cmpPos, r.ev.index(), true
			}
		}
	}

	// Pass 2: elements known before each read was invoked must be in it.
	// known is sorted by knownAt, so those known before a read are a
	// prefix; when the read holds that many of them, none is missing.
	var known []int64
	for x, el := range elems {
		if el.knownAt != never {
			known = append(known, x)
		}
	}
	sort.Slice(known, func(i, j int) bool {
		a, b := elems[known[i]], elems[known[j]]
		if a.knownAt != b.knownAt {
			return a.knownAt < b.knownAt
		}
		return known[i] < known[j]
	})
	var lost []int64
	for _, r := range reads {
		p := sort.Search(len(known), func(i int) bool { return elems[known[i]].knownAt >= r.ev.invPos })
		held := 0
		for _, x := range r.elems {
			// Known before the invocation implies legitimately read.
			if elems[x].knownAt < r.ev.invPos {
				held++
			}
		}
		if held == p {
			continue
		}
		var missing []int64
		for _, x := range known[:p] {
			if _, in := slices.BinarySearch(r.elems, x); !in {
				missing = append(missing, x)
			}
		}
		if r.final {
			for _, x := range missing {
				el := elems[x]
				if el.lostIn == nil {
					lost = append(lost, x)
				}
				el.lostIn = append(el.lostIn, r.ev.index())
			}
			continue
		}
		ixs := []int{r.ev.index()}
		descs := make([]string, 0, min(len(missing), 8))
		for i, x := range missing {
			if i == 8 {
				descs = append(descs, fmt.Sprintf("and %d more", len(missing)-8))
				break
			}
			el := elems[x]
			descs = append(descs, fmt.Sprintf("%d (%s)", x, el.knownHow()))
			ixs = append(ixs, el.knownIx)
		}
		rep.anomaly(StaleRead, ixs, "read at op %d (invoked at op %d) misses %d %s known to be in the set before it was invoked: %s",
			r.ev.index(), r.ev.inv.Index, len(missing), plural(len(missing), "element"), strings.Join(descs, ", "))
	}

	finals := rep.res.Stats["final-reads"]
	slices.Sort(lost)
	for _, x := range lost {
		el := elems[x]
		ixs := append(slices.Clone(capOps(el.lostIn, 8)), el.knownIx)
		rep.anomaly(Lost, ixs, "element %d, known to be in the set (%s), is missing from %s at op %s (%d of %d final reads)",
			x, el.knownHow(), plural(len(el.lostIn), "final read"), joinInts(el.lostIn, 8), len(el.lostIn), finals)
	}
	slices.Sort(phantoms)
	for _, x := range phantoms {
		el := elems[x]
		o := el.origin
		ixs := capOps(el.phantomIn, 8)
		if o != nil && el.phantomKind == AbortedRead {
			ixs = append(slices.Clone(ixs), o.firstFailIx)
		}
		rep.anomaly(el.phantomKind, ixs, "element %d is in %s at op %s, but %s",
			x, plural(len(el.phantomIn), "read"), joinInts(el.phantomIn, 8), o.why(el.phantomKind, "add"))
	}
	for _, el := range elems {
		if el.origin == nil || el.ok > 0 {
			continue
		}
		switch {
		case el.inFinal > 0:
			rep.count("recovered", 1)
		case el.live > 0:
			rep.count("unresolved", 1)
		}
	}
	return rep.done(), nil
}

// knownHow says how an element came to be known in the set.
func (el *setElem) knownHow() string {
	if el.knownByRead {
		return fmt.Sprintf("seen by the read at op %d", el.knownIx)
	}
	return fmt.Sprintf("add ok at op %d", el.knownIx)
}
