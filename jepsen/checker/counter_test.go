package checker

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/troika-db/troika/jepsen/history"
)

func TestCounterValid(t *testing.T) {
	var h hist
	h.inv(0, CounterAdd, "", int64(5))
	h.ok(0, nil)
	h.inv(0, CounterAdd, "", int64(3))
	h.inv(1, CounterRead, "", nil)
	h.ok(1, int64(5)) // the +3 is concurrent: 5 or 8
	h.inv(1, CounterRead, "", nil)
	h.ok(1, int64(8))
	h.info(0) // the +3 may have applied
	h.nemesis("start-kill")
	h.inv(2, CounterAdd, "", int64(100))
	h.fail(2) // never applies
	h.inv(3, CounterAdd, "", int64(10))
	h.info(3) // may apply any time later
	// Never completes.
	h.inv(4, CounterAdd, "", int64(1))
	h.inv(5, CounterRead, "", nil)
	h.ok(5, int64(8))
	h.inv(5, CounterRead, "", nil)
	h.ok(5, int64(19))
	h.inv(5, CounterRead, "", nil)
	h.info(5)
	h.inv(6, CounterRead, "", nil)
	h.fail(6)
	r := checkBoth(t, h.ops, CheckCounter)
	wantValid(t, r)
	wantStats(t, r, map[string]int{
		"adds": 5, "add-ok": 1, "add-info": 3, "add-fail": 1,
		"reads": 6, "read-ok": 4, "read-info": 1, "read-fail": 1,
	})
}

func TestCounterOutOfBounds(t *testing.T) {
	var h hist
	h.inv(0, CounterAdd, "", int64(5))
	h.ok(0, nil)
	h.inv(0, CounterAdd, "", int64(2))
	h.info(0)
	h.inv(1, CounterAdd, "", int64(100))
	h.fail(1)
	h.inv(2, CounterRead, "", nil)
	low := h.ok(2, int64(4)) // the ok +5 is missing
	h.inv(2, CounterRead, "", nil)
	high := h.ok(2, int64(8)) // at most 5+2
	h.inv(2, CounterRead, "", nil)
	failed := h.ok(2, int64(105)) // saw the failed add
	h.inv(2, CounterRead, "", nil)
	h.ok(2, int64(7))
	h.inv(2, CounterRead, "", nil)
	h.ok(2, nil) // nil reads as 0
	r := checkBoth(t, h.ops, CheckCounter)
	wantAnomalies(t, r, map[string]int{OutOfBounds: 4})
	got := map[int]string{}
	for _, a := range r.Anomalies {
		got[a.Ops[0]] = a.Explanation
	}
	for ix, want := range map[int]string{
		low:    "returned 4, 1 below the lower bound: the counter must be in [5, 7] then; 1 ok add completed before the read was invoked sum to 5, and 1 other add not failed",
		high:   "returned 8, 1 above the upper bound",
		failed: "returned 105, 98 above",
	} {
		if !strings.Contains(got[ix], want) {
			t.Errorf("op %d: got %q, want %q", ix, got[ix], want)
		}
	}
}

func TestCounterNegativeDeltas(t *testing.T) {
	var h hist
	h.inv(0, CounterAdd, "", int64(10))
	h.ok(0, nil)
	h.inv(0, CounterAdd, "", int64(-4))
	h.info(0)
	for _, v := range []int64{10, 6} { // the -4 may or may not apply
		h.inv(1, CounterRead, "", nil)
		h.ok(1, v)
	}
	wantValid(t, checkBoth(t, h.ops, CheckCounter))
	h.inv(1, CounterRead, "", nil)
	h.ok(1, int64(5))
	a := wantAnomalies(t, checkBoth(t, h.ops, CheckCounter), map[string]int{OutOfBounds: 1})[OutOfBounds]
	if !strings.Contains(a.Explanation, "[6, 10]") || !strings.Contains(a.Explanation, "at least -4") {
		t.Fatal(a.Explanation)
	}
}

func TestCounterReadsWithoutAdds(t *testing.T) {
	var h hist
	h.inv(0, CounterRead, "", nil)
	h.ok(0, int64(0))
	h.inv(0, CounterRead, "", nil)
	h.ok(0, nil)
	wantValid(t, checkBoth(t, h.ops, CheckCounter))
	h.inv(0, CounterRead, "", nil)
	h.ok(0, int64(1))
	wantAnomalies(t, checkBoth(t, h.ops, CheckCounter), map[string]int{OutOfBounds: 1})
}

func TestCounterBadValues(t *testing.T) {
	var h hist
	h.inv(0, CounterAdd, "", "one")
	h.ok(0, nil)
	if _, err := CheckCounter(h.ops); err == nil {
		t.Fatal("want an error for a non-integer delta")
	}
	h = hist{}
	h.inv(0, CounterRead, "", nil)
	h.ok(0, 1.5)
	if _, err := CheckCounter(h.ops); err == nil {
		t.Fatal("want an error for a non-integer read")
	}
}

func TestCounterSimulated(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 2))
		var counter int64
		read := func() simOp {
			return simOp{f: CounterRead, outcome: outcome(rng), apply: func() any { return counter }}
		}
		gen := func() simOp {
			if rng.IntN(3) == 0 {
				return read()
			}
			d := 1 + rng.Int64N(5)
			return simOp{f: CounterAdd, arg: d, outcome: outcome(rng), apply: func() any { counter += d; return nil }}
		}
		final := func() simOp { op := read(); op.outcome = "ok"; return op }
		ops := simulate(rng, 5, 40, gen, final)
		wantValid(t, checkBoth(t, ops, CheckCounter))
		// A read off by more than all the adds is out of bounds.
		i := slices.IndexFunc(ops, func(o history.Op) bool { return o.F == CounterRead && o.Type == "ok" })
		if i < 0 {
			continue
		}
		ops[i].Value = ops[i].Value.(int64) + 1000
		r := checkBoth(t, ops, CheckCounter)
		if r.Stats[OutOfBounds] != 1 {
			t.Fatalf("seed %d: %s", seed, r.Summary())
		}
	}
}
