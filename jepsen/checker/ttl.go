package checker

import (
	"fmt"
	"sort"

	"github.com/troika-db/troika/jepsen/history"
)

// TTL workload op names (history.Op.F).
const (
	TTLWrite = "write"
	TTLRead  = "read"
)

// ttlVal identifies one written value of a key.
type ttlVal struct {
	key string
	v   int64
}

// ttlSeen is what the reads say about one written value.
type ttlSeen struct {
	deadlines map[int64][]int // deadline (ms) -> reads (indexes) reporting it
	reads     int
	badIn     []int // reads where it was a phantom or aborted read
	badKind   string
}

// CheckTTL checks a TTL workload: ops with F "write" (Key; Value: v, an
// integer, written with SET key v EX <long>; each value is normally
// written once per key) and F "read" (Key; ok completion Value:
// [v, deadline], what GET key and PEXPIRETIME key returned atomically,
// the deadline in Unix milliseconds; nil when the key was absent). Reads
// of an absent key are ignored.
//
// The leader fixes a write's absolute deadline when proposing it, so
// every replica stores the same deadline for it: all ok reads that saw
// value v of key k must report the same deadline, else DivergentDeadline
// (one anomaly per (key, value), with the smallest and largest deadline
// and their difference). Values written by more than one non-failed
// write are not compared (their deadlines may differ legitimately; see
// Stats["ambiguous-values"]); neither are writes retried inside one
// operation, which the workload must not do.
//
// Also: a value no write of the key invoked before the read completed is
// a Phantom, or an AbortedRead when all such writes failed (one anomaly
// per (key, value)); a value read with a negative deadline (PEXPIRETIME
// -1: no expiry; -2: no key) is NoDeadline (one per read).
//
// Stats: "writes", "write-ok", "write-info" (info or never completed),
// "write-fail", "reads", "read-ok", "read-info", "read-fail",
// "read-absent" (ok reads of nil), "values-read" (distinct (key, value)
// pairs read with a deadline), "ambiguous-values" and the anomaly counts.
func CheckTTL(ops []history.Op) (Result, error) {
	evs, err := events(ops)
	if err != nil {
		return Result{}, err
	}
	rep := newReport("ttl", DivergentDeadline, Phantom, AbortedRead, NoDeadline)
	for _, k := range []string{"writes", "write-ok", "write-info", "write-fail", "reads", "read-ok", "read-info", "read-fail", "read-absent", "values-read", "ambiguous-values"} {
		rep.count(k, 0)
	}
	writes := map[ttlVal]*origin{}
	type read struct {
		e        *event
		val      ttlVal
		deadline int64
	}
	var reads []read
	for i := range evs {
		e := &evs[i]
		st := e.status()
		switch e.inv.F {
		case TTLWrite:
			v, err := toInt(e.value())
			if err != nil {
				return Result{}, fmt.Errorf("checker: ttl write op %d: %w", e.inv.Index, err)
			}
			rep.count("writes", 1)
			rep.count("write-"+string(st), 1)
			k := ttlVal{e.key(), v}
			if writes[k] == nil {
				writes[k] = newOrigin()
			}
			writes[k].note(e)
		case TTLRead:
			rep.count("reads", 1)
			rep.count("read-"+string(st), 1)
			if st != history.OK {
				continue
			}
			if e.cmp.Value == nil {
				rep.count("read-absent", 1)
				continue
			}
			xs, err := toInts(e.cmp.Value)
			if err == nil && len(xs) != 2 {
				err = fmt.Errorf("%v has %d elements", e.cmp.Value, len(xs))
			}
			if err != nil {
				return Result{}, fmt.Errorf("checker: ttl read op %d: want [value, deadline ms] or nil: %w", e.cmp.Index, err)
			}
			reads = append(reads, read{e, ttlVal{e.key(), xs[0]}, xs[1]})
		default:
			return Result{}, fmt.Errorf("checker: ttl op %d: unknown f %q", e.inv.Index, e.inv.F)
		}
	}

	seen := map[ttlVal]*ttlSeen{}
	var order []ttlVal
	for _, r := range reads {
		s := seen[r.val]
		if s == nil {
			s = &ttlSeen{deadlines: map[int64][]int{}}
			seen[r.val] = s
			order = append(order, r.val)
		}
		ix := r.e.index()
		if kind := writes[r.val].classify(r.e.cmpPos); kind != "" {
			s.badIn = append(s.badIn, ix)
			s.badKind = kind
			continue
		}
		if r.deadline < 0 {
			rep.anomaly(NoDeadline, []int{ix}, "read at op %d found key %q = %d with PEXPIRETIME %d (%s), but every write sets an expiry",
				ix, r.val.key, r.val.v, r.deadline, noDeadlineWhy(r.deadline))
			continue
		}
		s.reads++
		s.deadlines[r.deadline] = append(s.deadlines[r.deadline], ix)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].key != order[j].key {
			return order[i].key < order[j].key
		}
		return order[i].v < order[j].v
	})
	for _, k := range order {
		s, w := seen[k], writes[k]
		if s.reads > 0 {
			rep.count("values-read", 1)
		}
		if len(s.badIn) > 0 {
			ixs := capOps(s.badIn, 8)
			if s.badKind == AbortedRead {
				ixs = append(append([]int(nil), ixs...), w.firstFailIx)
			}
			rep.anomaly(s.badKind, ixs, "key %q value %d is in %s at op %s, but %s",
				k.key, k.v, plural(len(s.badIn), "read"), joinInts(s.badIn, 8), w.why(s.badKind, "write"))
		}
		if len(s.deadlines) < 2 {
			continue
		}
		if w.live > 1 {
			rep.count("ambiguous-values", 1)
			continue
		}
		ds := make([]int64, 0, len(s.deadlines))
		for d := range s.deadlines {
			ds = append(ds, d)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		lo, hi := ds[0], ds[len(ds)-1]
		rlo, rhi := s.deadlines[lo][0], s.deadlines[hi][0]
		rep.anomaly(DivergentDeadline, []int{rhi, rlo, w.firstLiveIx},
			"key %q value %d (written by op %d): the read at op %d reports deadline %d ms but the read at op %d reports %d ms, %d ms later; "+
				"%d distinct deadlines over %d reads: %s",
			k.key, k.v, w.firstLiveIx, rlo, lo, rhi, hi, hi-lo, len(ds), s.reads, joinInts(ds, 8))
	}
	return rep.done(), nil
}

func noDeadlineWhy(d int64) string {
	switch d {
	case -1:
		return "no expiry"
	case -2:
		return "no such key"
	}
	return "invalid"
}
