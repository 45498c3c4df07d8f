package listappend

import (
	"slices"

	"github.com/troika-db/troika/jepsen/history"
)

// analyseKey infers the version order of one key from its ok reads and
// reports the anomalies visible in single reads: duplicate-elements,
// incompatible-order, garbage-read, G1a, G1b and dirty-update.
func (c *checker) analyseKey(k *key) {
	if len(k.reads) == 0 {
		return
	}
	k.dedup = make([][]int64, len(k.reads))
	k.compat = make([]bool, len(k.reads))
	scratch := map[int64]struct{}{}

	// The raw longest read, deduplicated once. Reads that are raw
	// prefixes of a duplicate-free longest read are duplicate-free and
	// need no hashing: in a healthy history that is every read.
	raw := 0
	for i, r := range k.reads {
		if len(c.readValue(r)) > len(c.readValue(k.reads[raw])) {
			raw = i
		}
	}
	rawLongest := c.readValue(k.reads[raw])
	_, rawDups := dedupe(rawLongest, scratch)
	for i, r := range k.reads {
		v := c.readValue(r)
		if len(rawDups) == 0 && isPrefix(v, rawLongest) {
			k.dedup[i] = v
			continue
		}
		d, dups := dedupe(v, scratch)
		k.dedup[i] = d
		if len(dups) > 0 {
			t := &c.txns[r.t]
			c.report(DuplicateElements, []int{t.op}, "%s read %s = %s, in which %s occur more than once",
				t.name(), k.name, list(v), list(dups))
		}
	}

	// The version order is the longest deduplicated read (the first one
	// in history order on ties); every other read must be a prefix of it.
	k.longest = 0
	for i := range k.reads {
		if len(k.dedup[i]) > len(k.dedup[k.longest]) {
			k.longest = i
		}
	}
	k.order = k.dedup[k.longest]
	k.pos = make(map[int64]int32, len(k.order))
	for p, e := range k.order {
		k.pos[e] = int32(p)
	}
	lt := &c.txns[k.reads[k.longest].t]
	for i, r := range k.reads {
		k.compat[i] = isPrefix(k.dedup[i], k.order)
		if !k.compat[i] {
			t := &c.txns[r.t]
			c.report(IncompatibleOrder, []int{t.op, lt.op},
				"%s read %s = %s and %s read %s = %s: neither is a prefix of the other, so no single order of appends explains both",
				t.name(), k.name, list(c.readValue(r)), lt.name(), k.name, list(c.readValue(k.reads[k.longest])))
		}
	}

	// Positions of the order holding garbage or failed txns' elements.
	var bad []int
	for p, e := range k.order {
		if w, ok := k.writer[e]; !ok || c.txns[w].typ == history.Fail {
			bad = append(bad, p)
		}
	}
	k.lastRead = -1
	for i, r := range k.reads {
		t := &c.txns[r.t]
		if k.lastRead < 0 || t.inv > c.txns[k.lastRead].inv {
			k.lastRead = r.t
		}
		var reported []int32 // failed writers reported for this read
		check := func(e int64) {
			w, ok := k.writer[e]
			switch {
			case !ok:
				c.report(GarbageRead, []int{t.op}, "%s read %s = %s, containing %d, which no txn ever appended to %s",
					t.name(), k.name, list(c.readValue(r)), e, k.name)
			case c.txns[w].typ == history.Fail && !slices.Contains(reported, w):
				reported = append(reported, w)
				c.report(G1a, []int{c.txns[w].op, t.op}, "%s read %s = %s, containing %d, appended by %s, which failed",
					t.name(), k.name, list(c.readValue(r)), e, c.txns[w].name())
			}
		}
		if k.compat[i] {
			for _, p := range bad {
				if p >= len(k.dedup[i]) {
					break
				}
				check(k.order[p])
			}
		} else {
			if k.extra == nil {
				k.extra = map[int64]int32{}
			}
			for _, e := range k.dedup[i] {
				check(e)
				if _, in := k.pos[e]; in {
					continue
				}
				if w, ok := k.writer[e]; ok && w != r.t {
					k.extra[e] = r.t
				} else if _, ok := k.extra[e]; !ok {
					k.extra[e] = -1
				}
			}
		}
		c.checkIntermediate(k, r)
	}
	// Every element of the order was seen by the longest reader; the
	// second longest read by another txn tells whether a txn other than
	// the writer saw it (see seenByOther).
	for i, r := range k.reads {
		if r.t != k.reads[k.longest].t && (k.second < 0 || len(k.dedup[i]) > len(k.dedup[k.second])) {
			k.second = i
		}
	}
	for _, e := range k.order {
		if w, ok := k.writer[e]; ok {
			c.txns[w].observed = true
		}
	}
	for e := range k.extra {
		if w, ok := k.writer[e]; ok {
			c.txns[w].observed = true
		}
	}

	// dirty-update: a failed txn's element followed by a committed one.
	for _, p := range bad {
		w, ok := k.writer[k.order[p]]
		if !ok {
			continue
		}
		for q := p + 1; q < len(k.order); q++ {
			if w2, ok := k.writer[k.order[q]]; ok && c.txns[w2].typ != history.Fail {
				c.report(DirtyUpdate, []int{c.txns[w].op, c.txns[w2].op},
					"in %s's version order, %s appended %d after %d, appended by %s, which failed",
					k.name, c.txns[w2].name(), k.order[q], k.order[p], c.txns[w].name())
				break
			}
		}
	}
}

// dedupe returns v without repeated elements (v itself when there are
// none) and the repeated elements.
func dedupe(v []int64, scratch map[int64]struct{}) (out, dups []int64) {
	clear(scratch)
	for i, e := range v {
		if _, ok := scratch[e]; !ok {
			scratch[e] = struct{}{}
			if out != nil {
				out = append(out, e)
			}
			continue
		}
		if out == nil {
			out = append(make([]int64, 0, len(v)), v[:i]...)
		}
		dups = append(dups, e)
	}
	if out == nil {
		out = v
	}
	return out, dups
}

// checkIntermediate reports G1b: the last element of a read was appended
// by another, non-failed txn that appended more to the key afterwards, so
// the reader saw that txn's intermediate state.
func (c *checker) checkIntermediate(k *key, r readRef) {
	v := c.readValue(r)
	if len(v) == 0 {
		return
	}
	last := v[len(v)-1]
	w, ok := k.writer[last]
	if !ok || w == r.t || c.txns[w].typ == history.Fail {
		return
	}
	wt := &c.txns[w]
	after := false
	for _, m := range wt.mops {
		if m.F != "append" || m.Key != k.name {
			continue
		}
		if after {
			t := &c.txns[r.t]
			c.report(G1b, []int{wt.op, t.op}, "%s read %s = %s, ending in %d, but %s appended %d to %s after %d: an intermediate state",
				t.name(), k.name, list(v), last, wt.name(), m.Elem, k.name, last)
			return
		}
		if m.Elem == last {
			after = true
		}
	}
}

// seenByOther returns an ok reader of e in key k other than e's writer,
// or -1.
func (c *checker) seenByOther(k *key, e int64) int32 {
	if p, ok := k.pos[e]; ok {
		w := k.writer[e]
		if lr := k.reads[k.longest].t; lr != w {
			return lr
		}
		if k.second >= 0 && int(p) < len(k.dedup[k.second]) {
			return k.reads[k.second].t
		}
		return -1
	}
	if r, ok := k.extra[e]; ok {
		return r
	}
	return -1
}

// seen tells whether any ok read of k contains e.
func (k *key) seen(e int64) bool {
	if _, ok := k.pos[e]; ok {
		return true
	}
	_, ok := k.extra[e]
	return ok
}

// checkLostAppends reports lost-append, per txn and key, for elements no
// ok read ever contained, when either
//   - (atomicity, any model) another txn's ok read contains a different
//     element the same txn appended to the key: that reader is
//     serialized after the txn, so it must see all of the txn's appends
//     to the key; or
//   - (real time, strict-serializable only, ok txns) some ok read of the
//     key was invoked after the txn completed.
func (c *checker) checkLostAppends() {
	type group struct {
		k     int32
		elems []int64
	}
	var groups []group
	for ti := range c.txns {
		t := &c.txns[ti]
		if t.typ == history.Fail {
			continue
		}
		groups = groups[:0]
	mops:
		for _, m := range t.mops {
			if m.F != "append" {
				continue
			}
			kid := c.keyID[m.Key]
			for gi := range groups {
				if groups[gi].k == kid {
					groups[gi].elems = append(groups[gi].elems, m.Elem)
					continue mops
				}
			}
			groups = append(groups, group{kid, []int64{m.Elem}})
		}
		for _, g := range groups {
			k := c.keys[g.k]
			var missing []int64
			witness, witnessed := int32(-1), int64(0)
			for _, e := range g.elems {
				if !k.seen(e) {
					missing = append(missing, e)
				} else if w := c.seenByOther(k, e); w >= 0 && witness < 0 {
					witness, witnessed = w, e
				}
			}
			if len(missing) == 0 {
				continue
			}
			if witness >= 0 {
				wt := &c.txns[witness]
				c.report(LostAppend, []int{t.op, wt.op},
					"%s appended %s to %s; %s read %d, so it follows %s, yet no read ever contained %s",
					t.name(), list(g.elems), k.name, wt.name(), witnessed, t.name(), list(missing))
				continue
			}
			if c.strict && t.typ == history.OK && k.lastRead >= 0 && c.txns[k.lastRead].inv > t.cmp {
				lt := &c.txns[k.lastRead]
				c.report(LostAppend, []int{t.op, lt.op},
					"%s appended %s to %s and completed (index %d) before %s was invoked (index %d), yet %s's read of %s and every other read lack %s",
					t.name(), list(g.elems), k.name, t.cmp, lt.name(), lt.inv, lt.name(), k.name, list(missing))
			}
		}
	}
}
