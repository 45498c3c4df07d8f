package checker

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/troika-db/troika/jepsen/history"
)

// hist builds a history: each call appends one event with the next index
// and time; completions repeat the F and Key of the process's invocation.
type hist struct {
	ops  []history.Op
	open map[int]history.Op
}

func (h *hist) event(t history.Type, p int, f, key string, v any) int {
	i := len(h.ops)
	h.ops = append(h.ops, history.Op{Index: i, Type: t, Process: p, Time: int64(i) * 1000, F: f, Key: key, Value: v})
	return i
}

// inv invokes f on key (may be "") with value v; it returns the index.
func (h *hist) inv(p int, f, key string, v any) int {
	if h.open == nil {
		h.open = map[int]history.Op{}
	}
	i := h.event(history.Invoke, p, f, key, v)
	h.open[p] = h.ops[i]
	return i
}

func (h *hist) done(t history.Type, p int, v any) int {
	o := h.open[p]
	delete(h.open, p)
	return h.event(t, p, o.F, o.Key, v)
}

func (h *hist) ok(p int, v any) int { return h.done(history.OK, p, v) }
func (h *hist) info(p int) int      { return h.done(history.Info, p, nil) }
func (h *hist) fail(p int) int      { return h.done(history.Fail, p, nil) }

// nemesis appends a nemesis event.
func (h *hist) nemesis(f string) {
	h.event(history.Info, history.NemesisProcess, f, "", "n1 | n2 n3")
}

// roundTrip writes ops as JSON lines and reads them back (numbers become
// float64, lists []any, maps map[string]any).
func roundTrip(t *testing.T, ops []history.Op) []history.Op {
	t.Helper()
	var buf bytes.Buffer
	if err := history.Write(&buf, ops); err != nil {
		t.Fatal(err)
	}
	back, err := history.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// checkBoth runs check on ops as built and after a JSON round trip,
// requires identical results, and returns the first.
func checkBoth(t *testing.T, ops []history.Op, check func([]history.Op) (Result, error)) Result {
	t.Helper()
	r1, err := check(ops)
	if err != nil {
		t.Fatalf("in memory: %v", err)
	}
	r2, err := check(roundTrip(t, ops))
	if err != nil {
		t.Fatalf("after JSON round trip: %v", err)
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Fatalf("results differ after JSON round trip:\n%+v\n%+v", r1, r2)
	}
	if s := r1.Summary(); s == "" || strings.Contains(s, "\n") {
		t.Fatalf("summary should be one paragraph: %q", s)
	}
	return r1
}

// wantValid fails unless r is valid.
func wantValid(t *testing.T, r Result) {
	t.Helper()
	if !r.Valid || len(r.Anomalies) != 0 {
		t.Fatalf("want valid, got: %s\n%+v", r.Summary(), r.Anomalies)
	}
}

// wantAnomalies fails unless r is invalid with exactly counts (type ->
// count) anomalies, and returns the first example of each type.
func wantAnomalies(t *testing.T, r Result, counts map[string]int) map[string]Anomaly {
	t.Helper()
	if r.Valid {
		t.Fatalf("want invalid, got valid: %s", r.Summary())
	}
	first := map[string]Anomaly{}
	for _, a := range r.Anomalies {
		if _, ok := counts[a.Type]; !ok {
			t.Fatalf("unexpected %s anomaly: %s", a.Type, a.Explanation)
		}
		if _, ok := first[a.Type]; !ok {
			first[a.Type] = a
		}
	}
	for typ, n := range counts {
		if r.Stats[typ] != n {
			t.Fatalf("want %d %s, got %d: %s", n, typ, r.Stats[typ], r.Summary())
		}
		if _, ok := first[typ]; !ok && n > 0 {
			t.Fatalf("no %s example: %s", typ, r.Summary())
		}
	}
	return first
}

// wantStats fails unless r.Stats has the given values.
func wantStats(t *testing.T, r Result, want map[string]int) {
	t.Helper()
	for k, v := range want {
		if r.Stats[k] != v {
			t.Errorf("Stats[%q] = %d, want %d (%v)", k, r.Stats[k], v, r.Stats)
		}
	}
}

func TestToInt(t *testing.T) {
	type myInt int16
	good := map[any]int64{
		int64(-5): -5, 7: 7, float64(3): 3, int32(9): 9, uint8(200): 200,
		myInt(12): 12, float32(4): 4, json.Number("42"): 42, json.Number("1e3"): 1000,
	}
	for in, want := range good {
		got, err := toInt(in)
		if err != nil || got != want {
			t.Errorf("toInt(%v %T) = %d, %v; want %d", in, in, got, err, want)
		}
	}
	for _, in := range []any{nil, 1.5, "3", []int64{1}, uint64(1 << 63), 9.3e18, json.Number("x"), true} {
		if got, err := toInt(in); err == nil {
			t.Errorf("toInt(%v %T) = %d, want an error", in, in, got)
		}
	}
}

func TestToInts(t *testing.T) {
	type elem int64
	for _, in := range []any{[]int64{1, 2}, []int{1, 2}, []any{float64(1), int64(2)}, []float64{1, 2}, []elem{1, 2}, [2]int32{1, 2}} {
		got, err := toInts(in)
		if err != nil || !reflect.DeepEqual(got, []int64{1, 2}) {
			t.Errorf("toInts(%v %T) = %v, %v", in, in, got, err)
		}
	}
	for _, in := range []any{nil, []int64(nil), []any{}} {
		if got, err := toInts(in); err != nil || len(got) != 0 {
			t.Errorf("toInts(%#v) = %v, %v; want empty", in, got, err)
		}
	}
	for _, in := range []any{3, "12", []any{1.5}, []any{nil}, []string{"a"}} {
		if _, err := toInts(in); err == nil {
			t.Errorf("toInts(%#v): want an error", in)
		}
	}
}

func TestToIntMap(t *testing.T) {
	want := map[string]int64{"a": 1, "b": 0}
	one := int64(1)
	for _, in := range []any{
		map[string]int64{"a": 1, "b": 0},
		map[string]any{"a": float64(1), "b": nil},
		map[string]float64{"a": 1, "b": 0},
		map[string]int{"a": 1, "b": 0},
		map[string]*int64{"a": &one, "b": nil},
	} {
		got, err := toIntMap(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("toIntMap(%#v) = %v, %v", in, got, err)
		}
	}
	if got, err := toIntMap(nil); err != nil || len(got) != 0 {
		t.Errorf("toIntMap(nil) = %v, %v", got, err)
	}
	for _, in := range []any{[]int64{1}, map[int]int64{1: 1}, map[string]any{"a": "x"}, map[string]any{"a": 0.5}} {
		if _, err := toIntMap(in); err == nil {
			t.Errorf("toIntMap(%#v): want an error", in)
		}
	}
}

func TestMalformedHistories(t *testing.T) {
	checks := map[string]func([]history.Op) (Result, error){
		"set": CheckSet, "counter": CheckCounter, "ttl": CheckTTL,
		"bank": func(ops []history.Op) (Result, error) { return CheckBank(ops, BankOptions{}) },
	}
	bad := map[string][]history.Op{
		"double invoke": {
			{Index: 0, Type: history.Invoke, Process: 1, F: "read"},
			{Index: 1, Type: history.Invoke, Process: 1, F: "read"},
		},
		"orphan completion": {{Index: 0, Type: history.OK, Process: 1, F: "read"}},
		"unknown type":      {{Index: 0, Type: "bogus", Process: 1, F: "read"}},
		"unknown f":         {{Index: 0, Type: history.Invoke, Process: 1, F: "frobnicate"}},
	}
	for name, check := range checks {
		for what, ops := range bad {
			if _, err := check(ops); err == nil {
				t.Errorf("%s: %s: want an error", name, what)
			}
		}
		// Empty histories, and nemesis-only ones, are valid.
		for _, ops := range [][]history.Op{nil, {{Index: 0, Type: history.Info, Process: history.NemesisProcess, F: "start-partition"}}} {
			r, err := check(ops)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantValid(t, r)
			if r.Checker != name {
				t.Errorf("Checker = %q, want %q", r.Checker, name)
			}
		}
	}
}

func TestExamplesAreCapped(t *testing.T) {
	var h hist
	n := MaxExamples + 10
	for i := range n {
		h.inv(i, CounterRead, "", nil)
		h.ok(i, int64(i+1)) // nothing was ever added
	}
	r := checkBoth(t, h.ops, CheckCounter)
	if len(r.Anomalies) != MaxExamples || r.Stats[OutOfBounds] != n {
		t.Fatalf("want %d examples of %d, got %d of %d", MaxExamples, n, len(r.Anomalies), r.Stats[OutOfBounds])
	}
	if s := r.Summary(); !strings.Contains(s, "INVALID") || !strings.Contains(s, "42 out-of-bounds") {
		t.Fatalf("summary: %s", s)
	}
}

func TestSummary(t *testing.T) {
	r := Result{Checker: "bank", Valid: true, Stats: map[string]int{"reads": 3, WrongTotal: 0}}
	if s := r.Summary(); !strings.HasPrefix(s, "bank check: valid") || !strings.Contains(s, "reads=3") {
		t.Errorf("summary: %s", s)
	}
	r = Result{Checker: "set", Stats: map[string]int{Lost: 2, Phantom: 1, "adds": 5, "final-reads": 0}, Anomalies: []Anomaly{
		{Type: Lost, Ops: []int{1}, Explanation: "element 1 is gone"},
		{Type: Lost, Ops: []int{2}, Explanation: "element 2 is gone"},
		{Type: Phantom, Ops: []int{3}, Explanation: "element 9 came from nowhere"},
	}}
	s := r.Summary()
	for _, want := range []string{"set check: INVALID: 2 lost, 1 phantom.", "First lost: element 1 is gone.", "First phantom: element 9", "adds=5", "No final read"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q: %s", want, s)
		}
	}
	if strings.Contains(s, "lost=") {
		t.Errorf("anomaly counts should not repeat among the stats: %s", s)
	}
}

// simOp is one operation of a simulated linearizable store.
type simOp struct {
	f, key string
	arg    any
	// outcome is the completion's type: history.OK, Info, Fail, or ""
	// for an operation that never completes (its process stops).
	outcome history.Type
	// apply runs at the operation's linearization point and returns the
	// completion value. Fail operations never apply; Info and
	// never-completed ones may apply at any time after their invocation,
	// even after their completion, or never.
	apply func() any
}

// simulate runs procs processes, each invoking per operations from gen
// one after another (a process whose op ends in info is replaced by a
// new process number, as in Jepsen), then final operations from final
// (nil: none) once everything else has ended, one per process. Every op
// takes effect atomically at a random point between invocation and
// completion, so the history is linearizable.
func simulate(rng *rand.Rand, procs, per int, gen func() simOp, final func() simOp) []history.Op {
	type ev struct {
		t    float64
		kind int // 0 invoke, 1 linearize, 2 complete
		p    int
		op   *simOp
		res  *any
	}
	var evs []ev
	schedule := func(p int, t float64, op *simOp) float64 {
		res := new(any)
		inv := t + rng.Float64()
		lin := inv + rng.Float64()
		cmp := lin + rng.Float64()
		evs = append(evs, ev{inv, 0, p, op, res})
		switch op.outcome {
		case history.Fail:
		case history.Info, "":
			switch rng.IntN(3) {
			case 0: // never applies
			case 1:
				evs = append(evs, ev{lin, 1, p, op, res})
			default: // applies late
				evs = append(evs, ev{cmp + 10*rng.Float64(), 1, p, op, res})
			}
		default:
			evs = append(evs, ev{lin, 1, p, op, res})
		}
		if op.outcome != "" {
			evs = append(evs, ev{cmp, 2, p, op, res})
		}
		return cmp
	}
	end := 0.0
	next := procs
	for p := range procs {
		t, proc := 0.0, p
		for range per {
			op := gen()
			t = schedule(proc, t, &op)
			end = max(end, t)
			if op.outcome == "" {
				break
			}
			if op.outcome == history.Info {
				proc, next = next, next+1
			}
		}
	}
	if final != nil {
		for p := range procs {
			op := final()
			schedule(next+p, end+1, &op)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].t < evs[j].t })
	var h hist
	for _, e := range evs {
		switch e.kind {
		case 0:
			h.inv(e.p, e.op.f, e.op.key, e.op.arg)
		case 1:
			*e.res = e.op.apply()
		case 2:
			v := *e.res
			if e.op.outcome != history.OK {
				v = nil
			}
			h.done(e.op.outcome, e.p, v)
		}
	}
	return h.ops
}

// outcome picks a random outcome: mostly ok, some info, fail and never.
func outcome(rng *rand.Rand) history.Type {
	switch n := rng.IntN(20); {
	case n < 14:
		return history.OK
	case n < 17:
		return history.Info
	case n < 19:
		return history.Fail
	}
	return ""
}
