package checker

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/troika-db/troika/jepsen/history"
)

// Anomaly types.
const (
	// Lost (set): an element known to be in the set (its add completed
	// ok, or a read that completed earlier saw it) is missing from a final
	// read.
	Lost = "lost"
	// StaleRead (set): an element known to be in the set before a
	// (non-final) read was invoked is missing from that read.
	StaleRead = "stale-read"
	// Phantom (set, ttl): a read returned a value that no operation wrote
	// before the read completed.
	Phantom = "phantom"
	// AbortedRead (set, ttl): a read returned a value whose only writes
	// invoked before the read completed all failed.
	AbortedRead = "aborted-read"
	// Duplicate (set): a read returned an element more than once.
	Duplicate = "duplicate"
	// OutOfBounds (counter): a read outside the values the counter could
	// have had while the read ran.
	OutOfBounds = "out-of-bounds"
	// WrongTotal (bank): the balances of a read do not sum to the total.
	WrongTotal = "wrong-total"
	// UnexpectedKey (bank): a read returned an account not configured.
	UnexpectedKey = "unexpected-key"
	// NegativeValue (bank): a read returned a negative balance.
	NegativeValue = "negative-value"
	// DivergentDeadline (ttl): reads of the same write of a key report
	// different expiry deadlines.
	DivergentDeadline = "divergent-deadline"
	// NoDeadline (ttl): a read found the key with its value but without an
	// expiry deadline (PEXPIRETIME -1), although every write sets one.
	NoDeadline = "no-deadline"
)

// isAnomalyType holds the anomaly types above.
var isAnomalyType = map[string]bool{
	Lost: true, StaleRead: true, Phantom: true, AbortedRead: true, Duplicate: true,
	OutOfBounds: true, WrongTotal: true, UnexpectedKey: true, NegativeValue: true,
	DivergentDeadline: true, NoDeadline: true,
}

// MaxExamples is how many anomalies of each type a Result reports;
// Result.Stats counts all of them.
const MaxExamples = 32

// Anomaly is one example of an anomaly.
type Anomaly struct {
	Type string
	// Ops are history indexes (history.Op.Index) of the operations
	// involved: of their completions, or of the invocation when an
	// operation never completed. The operation at fault (usually a read)
	// comes first.
	Ops []int
	// Explanation says what is wrong, in one line, with the numbers.
	Explanation string
}

// Result is the outcome of a check.
type Result struct {
	// Checker names the workload checked: "set", "counter", "bank" or
	// "ttl".
	Checker string
	// Valid is false iff an anomaly was found.
	Valid bool
	// Anomalies are examples, at most MaxExamples per type, grouped by
	// type.
	Anomalies []Anomaly
	// Stats count operations by kind and outcome (e.g. "add-ok",
	// "add-info", "add-fail", "read-ok"; see each checker) and, under the
	// anomaly type's name, every anomaly found (0 for those checked but
	// not found).
	Stats map[string]int
}

// Summary describes r in one paragraph: the verdict, the anomaly counts
// with the first example of each type, and the statistics.
func (r Result) Summary() string {
	var b strings.Builder
	name := r.Checker
	if name == "" {
		name = "history"
	}
	anomalyTypes := map[string]bool{}
	var types []string
	for _, a := range r.Anomalies {
		if !anomalyTypes[a.Type] {
			anomalyTypes[a.Type] = true
			types = append(types, a.Type)
		}
	}
	if r.Valid {
		fmt.Fprintf(&b, "%s check: valid, no anomalies found.", name)
	} else {
		counts := make([]string, 0, len(types))
		for _, t := range types {
			n := r.Stats[t]
			if n == 0 { // a Result built without counts
				for _, a := range r.Anomalies {
					if a.Type == t {
						n++
					}
				}
			}
			counts = append(counts, fmt.Sprintf("%d %s", n, t))
		}
		if len(counts) == 0 {
			counts = append(counts, "unspecified anomalies")
		}
		fmt.Fprintf(&b, "%s check: INVALID: %s.", name, strings.Join(counts, ", "))
		for _, t := range types {
			for _, a := range r.Anomalies {
				if a.Type == t {
					fmt.Fprintf(&b, " First %s: %s", t, strings.TrimSuffix(a.Explanation, "."))
					b.WriteString(".")
					break
				}
			}
		}
	}
	var keys []string
	for k := range r.Stats {
		if !anomalyTypes[k] && !isAnomalyType[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%d", k, r.Stats[k])
		}
		fmt.Fprintf(&b, " Stats: %s.", strings.Join(parts, ", "))
	}
	if r.Checker == "set" && r.Stats["adds"] > 0 && r.Stats["final-reads"] == 0 {
		b.WriteString(" No final read (an ok read invoked after every add ended): lost elements were not checked.")
	}
	return b.String()
}

// report accumulates a Result.
type report struct {
	res   Result
	found int
}

// newReport starts a Result for checker name that checks the given
// anomaly types (their counts start at 0).
func newReport(name string, types ...string) *report {
	r := &report{res: Result{Checker: name, Stats: map[string]int{}}}
	for _, t := range types {
		r.res.Stats[t] = 0
	}
	return r
}

// anomaly records one anomaly of type typ, keeping it as an example
// while fewer than MaxExamples of its type are kept.
func (r *report) anomaly(typ string, ops []int, format string, args ...any) {
	r.found++
	r.res.Stats[typ]++
	if r.res.Stats[typ] > MaxExamples {
		return
	}
	r.res.Anomalies = append(r.res.Anomalies, Anomaly{Type: typ, Ops: ops, Explanation: fmt.Sprintf(format, args...)})
}

// count adds n to the statistic key.
func (r *report) count(key string, n int) { r.res.Stats[key] += n }

// done returns the Result, its anomalies grouped by type (in the order of
// each type's first anomaly).
func (r *report) done() Result {
	r.res.Valid = r.found == 0
	order := map[string]int{}
	for _, a := range r.res.Anomalies {
		if _, ok := order[a.Type]; !ok {
			order[a.Type] = len(order)
		}
	}
	sort.SliceStable(r.res.Anomalies, func(i, j int) bool {
		return order[r.res.Anomalies[i].Type] < order[r.res.Anomalies[j].Type]
	})
	return r.res
}

// never is the position of an event that does not happen.
const never = math.MaxInt

// event is one operation: an invocation and its completion.
type event struct {
	inv    history.Op
	invPos int         // position of the invocation in the history
	cmp    *history.Op // nil: never completed
	cmpPos int         // position of the completion; never if none
}

// status is OK, Fail or Info (never completed counts as Info).
func (e *event) status() history.Type {
	if e.cmp == nil {
		return history.Info
	}
	return e.cmp.Type
}

// index is the history index that names the operation: its completion's,
// or its invocation's when it never completed.
func (e *event) index() int {
	if e.cmp == nil {
		return e.inv.Index
	}
	return e.cmp.Index
}

// key is the operation's key (the invocation's, else the completion's).
func (e *event) key() string {
	if e.inv.Key == "" && e.cmp != nil {
		return e.cmp.Key
	}
	return e.inv.Key
}

// value is the operation's argument: the invocation's Value, else the
// completion's.
func (e *event) value() any {
	if e.inv.Value == nil && e.cmp != nil {
		return e.cmp.Value
	}
	return e.inv.Value
}

// events pairs every client invocation with the next completion of the
// same process, in invocation order, as history.Pairs does but keeping
// positions. Nemesis events are skipped.
func events(ops []history.Op) ([]event, error) {
	open := map[int]int{} // process -> index in out
	var out []event
	for pos, op := range ops {
		if op.Process == history.NemesisProcess {
			continue
		}
		switch op.Type {
		case history.Invoke:
			if _, busy := open[op.Process]; busy {
				return nil, fmt.Errorf("checker: process %d invokes op %d before its previous op completed", op.Process, op.Index)
			}
			open[op.Process] = len(out)
			out = append(out, event{inv: op, invPos: pos, cmpPos: never})
		case history.OK, history.Fail, history.Info:
			i, ok := open[op.Process]
			if !ok {
				return nil, fmt.Errorf("checker: op %d completes nothing for process %d", op.Index, op.Process)
			}
			c := op
			out[i].cmp = &c
			out[i].cmpPos = pos
			delete(open, op.Process)
		default:
			return nil, fmt.Errorf("checker: op %d has unknown type %q", op.Index, op.Type)
		}
	}
	return out, nil
}

// origin tracks the writes (set adds, ttl writes) of one value, to tell
// whether a read may have seen it.
type origin struct {
	live        int // writes not failed (ok, info or never completed)
	ok          int // writes completed ok
	firstLive   int // position of the first live write's invocation
	firstLiveIx int
	firstFail   int // position of the first failed write's invocation
	firstFailIx int
	okAt        int // position of the first ok completion
	okIx        int
}

func newOrigin() *origin {
	return &origin{firstLive: never, firstFail: never, okAt: never}
}

// note records one write of the value.
func (o *origin) note(e *event) {
	switch e.status() {
	case history.Fail:
		if e.invPos < o.firstFail {
			o.firstFail, o.firstFailIx = e.invPos, e.index()
		}
		return
	case history.OK:
		o.ok++
		if e.cmpPos < o.okAt {
			o.okAt, o.okIx = e.cmpPos, e.index()
		}
	}
	o.live++
	if e.invPos < o.firstLive {
		o.firstLive, o.firstLiveIx = e.invPos, e.index()
	}
}

// classify says whether a read completing at position pos may have seen
// the value of o (o may be nil: never written): "" if so, Phantom if no
// write of it was invoked before pos, AbortedRead if every write invoked
// before pos failed.
func (o *origin) classify(pos int) string {
	switch {
	case o == nil:
		return Phantom
	case o.firstLive < pos:
		return ""
	case o.firstFail < pos:
		return AbortedRead
	}
	return Phantom
}

// why explains a Phantom or AbortedRead classification of o; what names
// the write ("add", "write").
func (o *origin) why(kind, what string) string {
	switch {
	case o == nil || (o.firstLive == never && o.firstFail == never):
		return fmt.Sprintf("no %s of it was ever invoked", what)
	case kind == AbortedRead:
		return fmt.Sprintf("every %s of it invoked before then failed (first: op %d)", what, o.firstFailIx)
	}
	return fmt.Sprintf("its first %s (op %d) was invoked after the read completed", what, o.firstLiveIx)
}

// joinInts formats up to max values of xs, noting how many more there are.
func joinInts[T int | int64](xs []T, max int) string {
	var b strings.Builder
	for i, x := range xs {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(xs)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, x)
	}
	return b.String()
}

// plural returns word, with an "s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// capOps returns at most max of ops.
func capOps(ops []int, max int) []int {
	if len(ops) > max {
		return ops[:max]
	}
	return ops
}
