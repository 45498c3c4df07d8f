package checker

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestSetValid(t *testing.T) {
	var h hist
	h.inv(0, SetAdd, "", int64(1))
	h.inv(1, SetAdd, "", int64(2))
	h.inv(2, SetRead, "", nil)
	h.ok(0, nil)
	h.ok(2, []int64{2}) // concurrent with both adds: may see either
	h.nemesis("start-partition")
	h.info(1)
	h.inv(3, SetAdd, "", int64(3))
	h.info(3)
	h.inv(4, SetAdd, "", int64(4))
	h.fail(4)
	h.inv(5, SetAdd, "", int64(5))
	h.nemesis("stop-partition")
	h.inv(6, SetRead, "", nil)
	h.ok(6, []int64{1, 2}) // 5 is still in flight
	h.ok(5, nil)
	// Final reads: 2 (info) was seen, 3 (info) recovered in one final
	// read, absent from the other: it may apply late.
	h.inv(7, SetRead, "", nil)
	h.ok(7, []int64{5, 2, 1})
	h.inv(8, SetRead, "", nil)
	h.ok(8, []int64{1, 2, 3, 5})
	r := checkBoth(t, h.ops, CheckSet)
	wantValid(t, r)
	wantStats(t, r, map[string]int{
		"adds": 5, "add-ok": 2, "add-info": 2, "add-fail": 1, "reads": 4, "read-ok": 4,
		"final-reads": 2, "elements": 5, "recovered": 2, "unresolved": 0,
	})
	if s := r.Summary(); !strings.HasPrefix(s, "set check: valid") {
		t.Fatal(s)
	}
}

func TestSetLost(t *testing.T) {
	var h hist
	h.inv(0, SetAdd, "", int64(1))
	a1 := h.ok(0, nil)
	h.inv(0, SetAdd, "", int64(2))
	h.info(0)
	h.inv(1, SetRead, "", nil)
	seen := h.ok(1, []int64{1, 2}) // the info add of 2 happened
	h.inv(2, SetRead, "", nil)
	f1 := h.ok(2, []int64{})
	h.inv(3, SetRead, "", nil)
	h.ok(3, []int64{1, 2})
	r := checkBoth(t, h.ops, CheckSet)
	first := wantAnomalies(t, r, map[string]int{Lost: 2})
	wantStats(t, r, map[string]int{"final-reads": 3}) // all three reads follow every add
	a := first[Lost]
	if !slices.Equal(a.Ops, []int{f1, a1}) || !strings.Contains(a.Explanation, "element 1") || !strings.Contains(a.Explanation, "1 of 3 final reads") {
		t.Fatalf("lost: %+v", a)
	}
	if e := r.Anomalies[1]; !slices.Equal(e.Ops, []int{f1, seen}) || !strings.Contains(e.Explanation, "seen by the read at op") {
		t.Fatalf("lost info element: %+v", e)
	}
}

func TestSetStaleRead(t *testing.T) {
	var h hist
	h.inv(0, SetAdd, "", int64(1))
	a1 := h.ok(0, nil)
	h.inv(0, SetAdd, "", int64(2))
	h.inv(1, SetRead, "", nil)
	h.ok(1, []int64{1}) // fine: 2 is concurrent
	h.inv(1, SetRead, "", nil)
	stale := h.ok(1, []int64{2}) // misses 1, acknowledged before
	h.ok(0, nil)
	h.inv(1, SetRead, "", nil)
	h.ok(1, []int64{1, 2})
	r := checkBoth(t, h.ops, CheckSet)
	a := wantAnomalies(t, r, map[string]int{StaleRead: 1})[StaleRead]
	if !slices.Equal(a.Ops, []int{stale, a1}) || !strings.Contains(a.Explanation, "1 (add ok at op 1)") {
		t.Fatalf("stale: %+v", a)
	}
	// Once seen, an info add's element must stay.
	h = hist{}
	h.inv(0, SetAdd, "", int64(7))
	h.info(0)
	h.inv(1, SetRead, "", nil)
	h.ok(1, []int64{7})
	h.inv(1, SetRead, "", nil)
	h.ok(1, nil)
	h.inv(2, SetAdd, "", int64(8)) // keeps the reads above from being final
	h.ok(2, nil)
	r = checkBoth(t, h.ops, CheckSet)
	wantAnomalies(t, r, map[string]int{StaleRead: 1})
}

func TestSetPhantoms(t *testing.T) {
	var h hist
	h.inv(0, SetAdd, "", int64(1))
	h.fail(0)
	h.inv(1, SetRead, "", nil)
	r1 := h.ok(1, []int64{1, 99, 3}) // 1 failed, 99 never added, 3 not yet
	h.inv(0, SetAdd, "", int64(3))
	h.ok(0, nil)
	h.inv(1, SetRead, "", nil)
	r2 := h.ok(1, []int64{3, 99})
	r := checkBoth(t, h.ops, CheckSet)
	wantAnomalies(t, r, map[string]int{Phantom: 2, AbortedRead: 1})
	var got []string
	for _, a := range r.Anomalies {
		got = append(got, a.Explanation)
		switch {
		case strings.HasPrefix(a.Explanation, "element 99"):
			if !slices.Equal(a.Ops, []int{r1, r2}) || !strings.Contains(a.Explanation, "no add of it was ever invoked") {
				t.Errorf("never added: %+v", a)
			}
		case strings.HasPrefix(a.Explanation, "element 3"):
			if !slices.Equal(a.Ops, []int{r1}) || !strings.Contains(a.Explanation, "invoked after the read completed") {
				t.Errorf("read before add: %+v", a)
			}
		case strings.HasPrefix(a.Explanation, "element 1"):
			if a.Type != AbortedRead || !slices.Equal(a.Ops, []int{r1, 1}) {
				t.Errorf("failed add: %+v", a)
			}
		}
	}
	if len(got) != 3 {
		t.Fatal(got)
	}
}

func TestSetReadsWithoutAdds(t *testing.T) {
	var h hist
	h.inv(0, SetRead, "", nil)
	h.ok(0, nil)
	h.inv(0, SetRead, "", nil)
	h.ok(0, []int64{})
	h.inv(1, SetRead, "", nil)
	h.info(1)
	h.inv(2, SetRead, "", nil)
	h.fail(2)
	r := checkBoth(t, h.ops, CheckSet)
	wantValid(t, r)
	wantStats(t, r, map[string]int{"reads": 4, "read-ok": 2, "read-info": 1, "read-fail": 1, "final-reads": 2, "adds": 0})
	h.inv(0, SetRead, "", nil)
	h.ok(0, []int64{4})
	wantAnomalies(t, checkBoth(t, h.ops, CheckSet), map[string]int{Phantom: 1})
}

func TestSetDuplicate(t *testing.T) {
	var h hist
	h.inv(0, SetAdd, "", int64(1))
	h.ok(0, nil)
	h.inv(0, SetRead, "", nil)
	h.ok(0, []int64{1, 1})
	a := wantAnomalies(t, checkBoth(t, h.ops, CheckSet), map[string]int{Duplicate: 1})[Duplicate]
	if !strings.Contains(a.Explanation, "1 element more than once: 1") {
		t.Fatal(a.Explanation)
	}
}

func TestSetNoFinalRead(t *testing.T) {
	var h hist
	h.inv(0, SetRead, "", nil)
	h.inv(1, SetAdd, "", int64(1))
	h.ok(0, []int64{})
	h.ok(1, nil)
	r := checkBoth(t, h.ops, CheckSet)
	wantValid(t, r)
	wantStats(t, r, map[string]int{"final-reads": 0})
	if !strings.Contains(r.Summary(), "No final read") {
		t.Fatal(r.Summary())
	}
}

func TestSetPendingAdd(t *testing.T) {
	// An add that never completes: reads invoked after its invocation
	// are final; it may or may not be in them.
	for _, final := range [][]int64{{1}, {1, 2}} {
		var h hist
		h.inv(0, SetAdd, "", int64(1))
		h.ok(0, nil)
		h.inv(1, SetAdd, "", int64(2))
		h.inv(0, SetRead, "", nil)
		h.ok(0, final)
		r := checkBoth(t, h.ops, CheckSet)
		wantValid(t, r)
		recovered := len(final) - 1
		wantStats(t, r, map[string]int{"final-reads": 1, "add-info": 1, "recovered": recovered, "unresolved": 1 - recovered})
	}
}

func TestSetSimulated(t *testing.T) {
	injected := 0
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		set := map[int64]bool{}
		next := int64(0)
		read := func() simOp {
			return simOp{f: SetRead, outcome: outcome(rng), apply: func() any {
				out := []int64{}
				for x := range set {
					out = append(out, x)
				}
				rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
				return out
			}}
		}
		gen := func() simOp {
			if rng.IntN(3) == 0 {
				return read()
			}
			next++
			x := next
			return simOp{f: SetAdd, arg: x, outcome: outcome(rng), apply: func() any { set[x] = true; return nil }}
		}
		final := func() simOp { op := read(); op.outcome = "ok"; return op }
		ops := simulate(rng, 5, 30, gen, final)
		r := checkBoth(t, ops, CheckSet)
		wantValid(t, r)
		if r.Stats["final-reads"] == 0 {
			t.Fatalf("seed %d: no final read", seed)
		}
		// Drop an acknowledged element from the last read: lost (or stale
		// when that read is not final).
		okAdds := map[int64]bool{}
		added := map[int]int64{} // process -> element of its open add
		for _, op := range ops {
			switch {
			case op.F == SetAdd && op.Type == "invoke":
				added[op.Process] = op.Value.(int64)
			case op.F == SetAdd && op.Type == "ok":
				okAdds[added[op.Process]] = true
			}
		}
		last := len(ops) - 1
		for ops[last].F != SetRead || ops[last].Type != "ok" {
			last--
		}
		elems := ops[last].Value.([]int64)
		i := slices.IndexFunc(elems, func(x int64) bool { return okAdds[x] })
		if i < 0 {
			continue
		}
		ops[last].Value = slices.Delete(slices.Clone(elems), i, i+1)
		injected++
		r = checkBoth(t, ops, CheckSet)
		if r.Valid || r.Stats[Lost] != 1 {
			t.Fatalf("seed %d: dropped element %d not lost: %s", seed, elems[i], r.Summary())
		}
	}
	if injected < 40 {
		t.Fatalf("only %d of 50 histories had an element to drop", injected)
	}
}
