package checker

import (
	"fmt"

	"github.com/troika-db/troika/jepsen/history"
)

// Counter workload op names (history.Op.F).
const (
	CounterAdd  = "add"
	CounterRead = "read"
)

// CheckCounter checks a counter workload: ops with F "add" (Value: the
// delta, an integer, normally positive) and F "read" (ok completion
// Value: the counter, an integer; nil reads as 0, a counter never
// written). The counter starts at 0.
//
// Each ok read must lie within the values the counter could have had
// while the read ran:
//   - an ok add that completed before the read was invoked certainly
//     applied before the read;
//   - any other add not failed (ok, info or never completed) that was
//     invoked before the read completed may or may not have applied;
//   - adds invoked after the read completed cannot have applied.
//
// So lower = sum of the certain deltas + the negative possible ones and
// upper = sum of the certain deltas + the positive possible ones (with
// positive deltas: [sum of ok adds completed before the read was invoked,
// sum of non-failed adds invoked before it completed]). A read outside
// [lower, upper] is OutOfBounds. A final read (after the adds stopped) is
// bounded the same way: between the sum of the ok adds and that of all
// non-failed adds.
//
// Stats: "adds", "add-ok", "add-info" (info or never completed),
// "add-fail", "reads", "read-ok", "read-info", "read-fail" and the
// anomaly count.
func CheckCounter(ops []history.Op) (Result, error) {
	evs, err := events(ops)
	if err != nil {
		return Result{}, err
	}
	rep := newReport("counter", OutOfBounds)
	for _, k := range []string{"adds", "add-ok", "add-info", "add-fail", "reads", "read-ok", "read-info", "read-fail"} {
		rep.count(k, 0)
	}
	// Deltas by history position, summed into prefix sums below:
	// certain[p]: ok adds completing at p (split by sign in certPos and
	// certNeg); invPos/invNeg: non-failed adds invoked at p, by sign.
	n := len(ops) + 1
	certPos, certNeg := make([]int64, n), make([]int64, n)
	invPos, invNeg := make([]int64, n), make([]int64, n)
	certCnt, invCnt := make([]int, n), make([]int, n)
	type read struct {
		e *event
		v int64
	}
	var reads []read
	for i := range evs {
		e := &evs[i]
		st := e.status()
		switch e.inv.F {
		case CounterAdd:
			d, err := toInt(e.value())
			if err != nil {
				return Result{}, fmt.Errorf("checker: counter add op %d: %w", e.inv.Index, err)
			}
			rep.count("adds", 1)
			rep.count("add-"+string(st), 1)
			if st == history.Fail {
				continue
			}
			if d >= 0 {
				invPos[e.invPos+1] += d
			} else {
				invNeg[e.invPos+1] += d
			}
			invCnt[e.invPos+1]++
			if st == history.OK {
				if d >= 0 {
					certPos[e.cmpPos+1] += d
				} else {
					certNeg[e.cmpPos+1] += d
				}
				certCnt[e.cmpPos+1]++
			}
		case CounterRead:
			rep.count("reads", 1)
			rep.count("read-"+string(st), 1)
			if st != history.OK {
				continue
			}
			var v int64
			if e.cmp.Value != nil {
				if v, err = toInt(e.cmp.Value); err != nil {
					return Result{}, fmt.Errorf("checker: counter read op %d: %w", e.cmp.Index, err)
				}
			}
			reads = append(reads, read{e, v})
		default:
			return Result{}, fmt.Errorf("checker: counter op %d: unknown f %q", e.inv.Index, e.inv.F)
		}
	}
	// Prefix sums: x[p] is the sum over positions < p.
	for p := 1; p < n; p++ {
		certPos[p] += certPos[p-1]
		certNeg[p] += certNeg[p-1]
		invPos[p] += invPos[p-1]
		invNeg[p] += invNeg[p-1]
		certCnt[p] += certCnt[p-1]
		invCnt[p] += invCnt[p-1]
	}
	for _, r := range reads {
		a, b := r.e.invPos, r.e.cmpPos // a < b, both < len(ops)
		certain := certPos[a] + certNeg[a]
		maybeUp := invPos[b] - certPos[a]
		maybeDown := invNeg[b] - certNeg[a]
		lower, upper := certain+maybeDown, certain+maybeUp
		if r.v >= lower && r.v <= upper {
			continue
		}
		maybe := invCnt[b] - certCnt[a]
		var side string
		if r.v < lower {
			side = fmt.Sprintf("%d below the lower bound", lower-r.v)
		} else {
			side = fmt.Sprintf("%d above the upper bound", r.v-upper)
		}
		var down string
		if maybeDown != 0 {
			down = fmt.Sprintf(" and at least %d", maybeDown)
		}
		rep.anomaly(OutOfBounds, []int{r.e.index()},
			"read at op %d (invoked at op %d) returned %d, %s: the counter must be in [%d, %d] then; "+
				"%d ok %s completed before the read was invoked sum to %d, and %d other %s not failed (ok, info or pending) "+
				"invoked before it completed add at most %d%s",
			r.e.index(), r.e.inv.Index, r.v, side, lower, upper,
			certCnt[a], plural(certCnt[a], "add"), certain, maybe, plural(maybe, "add"), maybeUp, down)
	}
	return rep.done(), nil
}
