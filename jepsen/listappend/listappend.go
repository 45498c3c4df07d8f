package listappend

import (
	"fmt"
	"math"
	"sort"

	"github.com/troika-db/troika/jepsen/history"
)

// Consistency models accepted by Options.Model.
const (
	StrictSerializable = "strict-serializable"
	Serializable       = "serializable"
)

// Anomaly types. Cycle anomalies that need a real-time edge carry the
// RealtimeSuffix (e.g. "G-single-realtime").
const (
	G0      = "G0"       // cycle of ww edges only (dirty write)
	G1a     = "G1a"      // aborted read: an ok read saw an element of a failed txn
	G1b     = "G1b"      // intermediate read: an ok read ended at a non-final append of another txn
	G1c     = "G1c"      // cycle of ww and wr edges, at least one wr (circular information flow)
	GSingle = "G-single" // cycle with exactly one rw edge (read skew, lost update)
	G2      = "G2"       // cycle with two or more rw edges (write skew)

	RealtimeSuffix = "-realtime"

	Internal          = "internal"           // a txn's read disagrees with its own earlier reads/appends
	DuplicateElements = "duplicate-elements" // an element occurs twice in one read
	IncompatibleOrder = "incompatible-order" // two reads of a key are not prefixes of one another
	GarbageRead       = "garbage-read"       // a read returned an element that no txn ever appended
	DirtyUpdate       = "dirty-update"       // a committed append follows a failed txn's element
	LostAppend        = "lost-append"        // an append that must be visible is not
)

// Options configure Check.
type Options struct {
	// Model is the consistency model to check: StrictSerializable (the
	// default, "") adds real-time edges and the real-time lost-append rule;
	// Serializable does not.
	Model string
	// MaxCycles bounds how many example cycles are reported per cycle
	// anomaly type (default 8). Result.Counts still counts all found.
	MaxCycles int
	// MaxExamples bounds how many examples are reported per non-cycle
	// anomaly type (default 32). Result.Counts still counts all found.
	MaxExamples int
}

// Anomaly is one example of an anomaly.
type Anomaly struct {
	Type string
	// Ops are the history indexes (history.Op.Index) of the completions
	// of the transactions involved (of the invocation when the
	// transaction never completed). For cycles, in cycle order.
	Ops []int
	// Explanation says why, in terms of the txns ("T<index>"), keys and
	// elements involved. For cycles its first line is the cycle with its
	// edge kinds, e.g. "T12 -ww(x)-> T40 -rw(y)-> T12", and one line per
	// edge follows.
	Explanation string
}

// Stats describe the checked history and the dependency graph.
type Stats struct {
	Ops      int // history events given to Check
	Txns     int // txn operations (invoke/completion pairs)
	OKTxns   int
	InfoTxns int // info, or never completed
	FailTxns int
	Keys     int
	Nodes    int // txns in the dependency graph (ok, and info whose appends were read)
	Edges    int // distinct (from, to) pairs in the dependency graph
	SCCs     int // strongly connected components with more than one txn
}

// Result is the outcome of Check.
type Result struct {
	// Valid is false iff any anomaly was found.
	Valid bool
	// Anomalies are the reported examples, by type.
	Anomalies map[string][]Anomaly
	// Counts is how many anomalies of each type were found, reported or
	// not. For cycle types it counts distinct example cycles found (at
	// most one per component per search), a lower bound on all cycles.
	Counts map[string]int
	Stats  Stats
	// Notes record limits hit while searching (so that a classification
	// may be coarser than the truth); empty normally.
	Notes []string
}

// Types returns the anomaly types found, sorted.
func (r Result) Types() []string {
	out := make([]string, 0, len(r.Counts))
	for t := range r.Counts {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

const never = math.MaxInt // completion position of a txn that never completed ok

// txn is one transaction of the history.
type txn struct {
	typ  history.Type // OK, Fail or Info (never completed counts as Info)
	inv  int          // Index of the invocation
	cmp  int          // Index of the ok completion; never otherwise
	op   int          // Index reported for it
	mops []history.MicroOp
	// observed: some ok read of another txn saw one of its appends.
	observed bool
	inGraph  bool
}

func (t *txn) name() string { return fmt.Sprintf("T%d", t.op) }

// readRef is one ok read micro-op: txn id and micro-op index.
type readRef struct{ t, m int32 }

// key is the per-key analysis state.
type key struct {
	name   string
	writer map[int64]int32 // element -> appending txn (any outcome)
	reads  []readRef       // ok reads, in history order of their txns
	order  []int64         // inferred version order (longest read, deduplicated)
	pos    map[int64]int32 // element -> position in order
	// longest is the read order comes from (-1 when no reads).
	longest int
	// compat[i]: reads[i] is (after deduplication) a prefix of order;
	// dedup[i] is reads[i] without duplicates (shares storage when none).
	compat []bool
	dedup  [][]int64
	// second is the longest read by a txn other than the longest's
	// reader (-1 if none).
	second int
	// extra: elements seen only in incompatible reads, with a reader
	// other than their writer (-1 if only the writer saw them).
	extra map[int64]int32
	// lastRead is the ok read of this key with the latest invocation.
	lastRead int32 // txn id, -1 if none
}

type checker struct {
	opt    Options
	strict bool
	txns   []txn
	keys   []*key
	keyID  map[string]int32
	res    *Result
	g      *graph
	// cycle search scratch space and budget
	scratch  scratch
	budget   int
	seenCyc  map[string]bool
	budgeted bool
}

// Check analyses a list-append history. ops must be in history order
// with strictly increasing Index; events whose F is not "txn" are
// ignored. It returns an error only for a malformed history (unpaired
// events, unknown micro-ops, an element appended twice to one key).
func Check(ops []history.Op, opt Options) (Result, error) {
	switch opt.Model {
	case "":
		opt.Model = StrictSerializable
	case StrictSerializable, Serializable:
	default:
		return Result{}, fmt.Errorf("listappend: unknown model %q", opt.Model)
	}
	if opt.MaxCycles <= 0 {
		opt.MaxCycles = 8
	}
	if opt.MaxExamples <= 0 {
		opt.MaxExamples = 32
	}
	res := Result{Anomalies: map[string][]Anomaly{}, Counts: map[string]int{}}
	c := &checker{
		opt: opt, strict: opt.Model == StrictSerializable,
		keyID: map[string]int32{}, res: &res, seenCyc: map[string]bool{},
		budget: searchBudget,
	}
	res.Stats.Ops = len(ops)
	if err := c.load(ops); err != nil {
		return Result{}, err
	}
	c.checkInternal()
	for _, k := range c.keys {
		c.analyseKey(k)
	}
	c.checkLostAppends()
	c.buildGraph()
	c.findCycles()
	res.Stats.Keys = len(c.keys)
	res.Valid = len(res.Counts) == 0
	return res, nil
}

// searchBudget bounds the edge visits spent on non-exhaustive cycle
// searches (G-single across components); see DESIGN.md.
const searchBudget = 20_000_000

func isCycleType(t string) bool {
	switch t {
	case G0, G1c, GSingle, G2, G0 + RealtimeSuffix, G1c + RealtimeSuffix, GSingle + RealtimeSuffix, G2 + RealtimeSuffix:
		return true
	}
	return false
}

// report records an anomaly, keeping at most the configured number of
// examples per type.
func (c *checker) report(typ string, ops []int, format string, args ...any) {
	c.res.Counts[typ]++
	limit := c.opt.MaxExamples
	if isCycleType(typ) {
		limit = c.opt.MaxCycles
	}
	if len(c.res.Anomalies[typ]) >= limit {
		return
	}
	c.res.Anomalies[typ] = append(c.res.Anomalies[typ], Anomaly{Type: typ, Ops: ops, Explanation: fmt.Sprintf(format, args...)})
}

// load pairs the txn events and indexes appends and reads per key.
func (c *checker) load(ops []history.Op) error {
	tops := make([]history.Op, 0, len(ops))
	for i, op := range ops {
		if i > 0 && op.Index <= ops[i-1].Index {
			return fmt.Errorf("listappend: op at position %d has index %d, not after %d", i, op.Index, ops[i-1].Index)
		}
		if op.F == "txn" {
			tops = append(tops, op)
		}
	}
	pairs, err := history.Pairs(tops)
	if err != nil {
		return fmt.Errorf("listappend: %w", err)
	}
	c.txns = make([]txn, len(pairs))
	st := &c.res.Stats
	st.Txns = len(pairs)
	for i, p := range pairs {
		t := &c.txns[i]
		t.typ, t.inv, t.cmp, t.op, t.mops = history.Info, p.Invoke.Index, never, p.Invoke.Index, p.Invoke.Txn
		if p.Complete != nil {
			t.typ, t.op = p.Complete.Type, p.Complete.Index
			if len(p.Complete.Txn) > 0 {
				t.mops = p.Complete.Txn
			}
			if t.typ == history.OK {
				t.cmp = p.Complete.Index
				if len(p.Complete.Txn) != len(p.Invoke.Txn) && len(p.Invoke.Txn) > 0 {
					return fmt.Errorf("listappend: op %d completes op %d with %d micro-ops instead of %d",
						t.op, t.inv, len(p.Complete.Txn), len(p.Invoke.Txn))
				}
			}
		}
		switch t.typ {
		case history.OK:
			st.OKTxns++
		case history.Fail:
			st.FailTxns++
		default:
			st.InfoTxns++
		}
		for m, mop := range t.mops {
			switch mop.F {
			case "append":
				k := c.key(mop.Key)
				if prev, dup := k.writer[mop.Elem]; dup {
					return fmt.Errorf("listappend: element %d appended to key %q by both op %d and op %d (elements must be unique per key)",
						mop.Elem, mop.Key, c.txns[prev].op, t.op)
				}
				k.writer[mop.Elem] = int32(i)
			case "r":
				if t.typ == history.OK {
					// A nil value in an ok read is an empty list (JSON
					// omits empty lists).
					k := c.key(mop.Key)
					k.reads = append(k.reads, readRef{int32(i), int32(m)})
				}
			default:
				return fmt.Errorf("listappend: op %d: unknown micro-op %q", t.op, mop.F)
			}
		}
	}
	return nil
}

func (c *checker) key(name string) *key {
	if id, ok := c.keyID[name]; ok {
		return c.keys[id]
	}
	k := &key{name: name, writer: map[int64]int32{}, longest: -1, second: -1, lastRead: -1}
	c.keyID[name] = int32(len(c.keys))
	c.keys = append(c.keys, k)
	return k
}

func (c *checker) readValue(r readRef) []int64 { return c.txns[r.t].mops[r.m].Value }

// checkInternal verifies that every read of an ok txn reflects the txn's
// own earlier reads and appends of that key: after a read of v and
// appends a..z, the next read must be exactly v+a..z; without an earlier
// read it must end with a..z.
func (c *checker) checkInternal() {
	for ti := range c.txns {
		t := &c.txns[ti]
		if t.typ != history.OK {
			continue
		}
		for j, mop := range t.mops {
			if mop.F != "r" {
				continue
			}
			var appended []int64 // own appends since the previous read, reversed
			var prev []int64
			hasPrev := false
			for i := j - 1; i >= 0; i-- {
				m := t.mops[i]
				if m.Key != mop.Key {
					continue
				}
				if m.F == "append" {
					appended = append(appended, m.Elem)
					continue
				}
				prev, hasPrev = m.Value, true
				break
			}
			for a, b := 0, len(appended)-1; a < b; a, b = a+1, b-1 {
				appended[a], appended[b] = appended[b], appended[a]
			}
			if hasPrev {
				want := append(append([]int64(nil), prev...), appended...)
				if !equal(mop.Value, want) {
					c.report(Internal, []int{t.op}, "%s read %s = %s, but its earlier read %s and own appends %s imply %s",
						t.name(), mop.Key, list(mop.Value), list(prev), list(appended), list(want))
				}
			} else if len(appended) > 0 && !hasSuffix(mop.Value, appended) {
				c.report(Internal, []int{t.op}, "%s read %s = %s, which does not end with its own earlier appends %s",
					t.name(), mop.Key, list(mop.Value), list(appended))
			}
		}
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasSuffix(v, s []int64) bool {
	return len(v) >= len(s) && equal(v[len(v)-len(s):], s)
}

func isPrefix(p, v []int64) bool {
	return len(p) <= len(v) && equal(p, v[:len(p)])
}

// list formats a list, eliding the middle of long ones.
func list(v []int64) string {
	const show = 6
	if len(v) <= 2*show {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%v ... (%d elements) ... %v", v[:show], len(v), v[len(v)-show:])
}
