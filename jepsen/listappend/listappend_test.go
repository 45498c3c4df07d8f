package listappend

import (
	"slices"
	"strings"
	"testing"

	"github.com/troika-db/troika/jepsen/history"
)

func TestValidSerial(t *testing.T) {
	h := newHist()
	h.txn(0, ok, ap("x", 1))
	h.txn(0, ok, rd("x", 1), ap("x", 2), rd("x", 1, 2))
	h.txn(1, ok, rd("x", 1, 2), rd("y"), ap("y", 1))
	h.txn(2, fail, ap("x", 3)) // failed and never read: harmless
	h.txn(1, ok, rd("y", 1), rd("x", 1, 2))
	for _, model := range []string{"", Serializable} {
		res := check(t, h.ops, model)
		wantTypes(t, res)
		st := res.Stats
		if st.Txns != 5 || st.OKTxns != 4 || st.FailTxns != 1 || st.Keys != 2 || st.Nodes != 4 || st.Edges == 0 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestValidConcurrentDisjoint(t *testing.T) {
	h := newHist()
	h.invoke(0, ap("x", 1), rd("x", 1))
	h.invoke(1, ap("y", 1), rd("y", 1))
	h.complete(1, ok)
	h.complete(0, ok)
	h.txn(2, ok, rd("x", 1), rd("y", 1))
	wantTypes(t, check(t, h.ops, ""))
}

// Info txns may or may not take effect, even after their info
// completion; neither is an anomaly.
func TestValidInfo(t *testing.T) {
	h := newHist()
	h.txn(0, info, ap("x", 1))  // applied
	h.txn(1, info, ap("x", 2))  // applied late, after T3
	h.txn(2, info, ap("x", 10)) // never applied
	h.txn(3, ok, rd("x", 1))
	h.txn(3, ok, ap("x", 3))
	h.invoke(4, ap("x", 4)) // never completes: treated as info
	h.txn(3, ok, rd("x", 1, 3, 2))
	res := check(t, h.ops, "")
	wantTypes(t, res)
	if st := res.Stats; st.InfoTxns != 4 || st.Nodes != 5 {
		t.Fatalf("stats %+v: want 4 info txns, 5 graph nodes (3 ok + 2 observed info)", st)
	}
}

func TestG0(t *testing.T) {
	h := newHist()
	h.invoke(0, ap("x", 1), ap("y", 1))
	h.invoke(1, ap("x", 2), ap("y", 2))
	t1 := h.complete(0, ok)
	t2 := h.complete(1, ok)
	h.txn(2, ok, rd("x", 1, 2), rd("y", 2, 1))
	res := check(t, h.ops, "")
	wantTypes(t, res, G0)
	a := res.Anomalies[G0][0]
	if !slices.Equal(a.Ops, []int{t1, t2}) {
		t.Fatalf("ops %v, want [%d %d]", a.Ops, t1, t2)
	}
	if !strings.HasPrefix(a.Explanation, "T2 -ww(x)-> T3 -ww(y)-> T2\n") {
		t.Fatalf("explanation %q", a.Explanation)
	}
	if !strings.Contains(a.Explanation, "T3 appended 2 to x right after T2's 1") {
		t.Fatalf("explanation %q lacks the evidence", a.Explanation)
	}
}

func TestG1c(t *testing.T) {
	h := newHist()
	h.invoke(0, ap("x", 1), rd("y", 1))
	h.invoke(1, ap("y", 1), rd("x", 1))
	h.complete(0, ok)
	h.complete(1, ok)
	res := check(t, h.ops, "")
	wantTypes(t, res, G1c)
	if e := res.Anomalies[G1c][0].Explanation; !strings.Contains(e, "-wr(x)->") || !strings.Contains(e, "-wr(y)->") {
		t.Fatalf("explanation %q", e)
	}
}

// Lost update: both read x empty and appended; one append's read is
// overwritten.
func TestGSingleLostUpdate(t *testing.T) {
	h := newHist()
	h.invoke(0, rd("x"), ap("x", 1))
	h.invoke(1, rd("x"), ap("x", 2))
	h.complete(0, ok)
	h.complete(1, ok)
	h.txn(2, ok, rd("x", 1, 2))
	res := check(t, h.ops, "")
	wantTypes(t, res, GSingle)
	if e := res.Anomalies[GSingle][0].Explanation; !strings.HasPrefix(e, "T2 -ww(x)-> T3 -rw(x)-> T2") ||
		!strings.Contains(e, "T3 read x empty and T2 appended 1, the next element") {
		t.Fatalf("explanation %q", e)
	}
}

// Write skew: each read both keys empty and appended to one.
func TestG2WriteSkew(t *testing.T) {
	h := newHist()
	h.invoke(0, rd("x"), rd("y"), ap("x", 1))
	h.invoke(1, rd("x"), rd("y"), ap("y", 1))
	h.complete(0, ok)
	h.complete(1, ok)
	h.txn(2, ok, rd("x", 1), rd("y", 1))
	wantTypes(t, check(t, h.ops, ""), G2)
	wantTypes(t, check(t, h.ops, Serializable), G2)
}

// A read that misses a write completed before it began: fine for
// serializability, a G-single with a real-time edge for strict.
func TestStaleRead(t *testing.T) {
	h := newHist()
	h.txn(0, ok, ap("x", 1))
	h.txn(1, ok, rd("x"))
	h.txn(2, ok, rd("x", 1))
	res := check(t, h.ops, "")
	wantTypes(t, res, GSingle+RealtimeSuffix)
	if e := res.Anomalies[GSingle+RealtimeSuffix][0].Explanation; !strings.HasPrefix(e, "T1 -rt-> T3 -rw(x)-> T1") ||
		!strings.Contains(e, "T1 completed (index 1) before T3 was invoked (index 2)") {
		t.Fatalf("explanation %q", e)
	}
	wantTypes(t, check(t, h.ops, Serializable))

	// With an unrelated txn in between, the reduced real-time graph has
	// T1 -rt-> T3 -rt-> T5; the example collapses the chain.
	h = newHist()
	h.txn(0, ok, ap("x", 1))
	h.txn(1, ok, ap("y", 1))
	h.txn(2, ok, rd("x"))
	h.txn(3, ok, rd("x", 1), rd("y", 1))
	res = check(t, h.ops, "")
	wantTypes(t, res, GSingle+RealtimeSuffix)
	if a := res.Anomalies[GSingle+RealtimeSuffix][0]; !slices.Equal(a.Ops, []int{1, 5}) ||
		!strings.HasPrefix(a.Explanation, "T1 -rt-> T5 -rw(x)-> T1\n  T1 -rt-> T5: T1 completed (index 1) before T5 was invoked (index 4)") {
		t.Fatalf("cycle %+v", a)
	}
}

func TestG0Realtime(t *testing.T) {
	h := newHist()
	h.txn(0, ok, ap("x", 1))
	h.txn(1, ok, ap("x", 2))
	h.txn(2, ok, rd("x", 2, 1))
	wantTypes(t, check(t, h.ops, ""), G0+RealtimeSuffix)
	wantTypes(t, check(t, h.ops, Serializable))
}

// A read of a write that had not been invoked yet.
func TestG1cRealtime(t *testing.T) {
	h := newHist()
	h.txn(0, ok, rd("y", 1))
	h.txn(1, ok, ap("y", 1))
	wantTypes(t, check(t, h.ops, ""), G1c+RealtimeSuffix)
	wantTypes(t, check(t, h.ops, Serializable))
}

// T1 -rw(x)-> T2 -rw(y)-> T3 -rt-> T1: serializable as T1 T2 T3, but T3
// completed before T1 began.
func TestG2Realtime(t *testing.T) {
	h := newHist()
	h.invoke(1, ap("x", 1), rd("y")) // T2
	h.invoke(2, ap("y", 1))          // T3
	h.complete(2, ok)
	h.txn(0, ok, rd("x")) // T1
	h.complete(1, ok)
	h.txn(3, ok, rd("x", 1), rd("y", 1))
	res := check(t, h.ops, "")
	wantTypes(t, res, G2+RealtimeSuffix)
	if a := res.Anomalies[G2+RealtimeSuffix][0]; len(a.Ops) != 3 {
		t.Fatalf("cycle %v", a)
	}
	wantTypes(t, check(t, h.ops, Serializable))
}

func TestG1a(t *testing.T) {
	h := newHist()
	w := h.txn(0, fail, ap("x", 1))
	r := h.txn(1, ok, rd("x", 1))
	res := check(t, h.ops, "")
	wantTypes(t, res, G1a)
	if a := res.Anomalies[G1a][0]; !slices.Equal(a.Ops, []int{w, r}) {
		t.Fatalf("ops %v", a.Ops)
	}
}

func TestDirtyUpdate(t *testing.T) {
	h := newHist()
	h.txn(0, fail, ap("x", 1))
	h.txn(1, ok, ap("x", 2))
	h.txn(2, ok, rd("x", 1, 2))
	wantTypes(t, check(t, h.ops, ""), G1a, DirtyUpdate)
}

// T2 saw x after T1's first append but not its second: G1b, and the
// resulting wr/rw cycle is a G-single.
func TestG1b(t *testing.T) {
	h := newHist()
	h.invoke(0, ap("x", 1), ap("x", 2))
	h.invoke(1, rd("x", 1))
	h.complete(1, ok)
	h.complete(0, ok)
	h.txn(2, ok, rd("x", 1, 2))
	res := check(t, h.ops, "")
	wantTypes(t, res, G1b, GSingle)
	if e := res.Anomalies[G1b][0].Explanation; !strings.Contains(e, "T3 appended 2 to x after 1") {
		t.Fatalf("explanation %q", e)
	}
}

func TestGarbageRead(t *testing.T) {
	h := newHist()
	h.txn(0, ok, ap("x", 1))
	h.txn(1, ok, rd("x", 1, 7))
	wantTypes(t, check(t, h.ops, ""), GarbageRead)
}

func TestDuplicateElements(t *testing.T) {
	h := newHist()
	h.txn(0, ok, ap("x", 1))
	h.txn(0, ok, ap("x", 2))
	h.txn(1, ok, rd("x", 1, 2, 1))
	h.txn(1, ok, rd("x", 1, 2))
	wantTypes(t, check(t, h.ops, ""), DuplicateElements)
}

func TestIncompatibleOrder(t *testing.T) {
	h := newHist()
	h.invoke(0, ap("x", 1))
	h.invoke(1, ap("x", 2))
	h.invoke(2, rd("x", 1, 2))
	h.invoke(3, rd("x", 2, 1))
	h.complete(0, ok)
	h.complete(1, ok)
	a := h.complete(2, ok)
	b := h.complete(3, ok)
	res := check(t, h.ops, "")
	wantTypes(t, res, IncompatibleOrder)
	if got := res.Anomalies[IncompatibleOrder][0].Ops; !slices.Equal(got, []int{b, a}) {
		t.Fatalf("ops %v, want [%d %d]", got, b, a)
	}
}

func TestInternal(t *testing.T) {
	h := newHist()
	h.txn(0, ok, ap("x", 1), rd("x"))
	wantTypes(t, check(t, h.ops, ""), Internal)

	// A non-repeatable read inside one txn: internal, and the rw edge of
	// its first read closes a G-single with T2's append.
	h = newHist()
	h.invoke(0, rd("x"), ap("x", 1), rd("x", 2, 1))
	h.txn(1, ok, ap("x", 2))
	h.complete(0, ok)
	wantTypes(t, check(t, h.ops, ""), Internal, GSingle)
}

// An acknowledged append never seen by a read that began after it was
// acknowledged.
func TestLostAppendRealtime(t *testing.T) {
	h := newHist()
	w := h.txn(0, ok, ap("x", 1))
	h.txn(1, ok, ap("x", 2))
	r := h.txn(2, ok, rd("x", 2))
	res := check(t, h.ops, "")
	wantTypes(t, res, LostAppend)
	if a := res.Anomalies[LostAppend][0]; !slices.Equal(a.Ops, []int{w, r}) {
		t.Fatalf("ops %v", a.Ops)
	}
	wantTypes(t, check(t, h.ops, Serializable))

	// The same read concurrent with the append proves nothing.
	h = newHist()
	h.invoke(2, rd("x", 2))
	h.txn(0, ok, ap("x", 1))
	h.txn(1, ok, ap("x", 2))
	h.complete(2, ok)
	wantTypes(t, check(t, h.ops, ""))
}

// Another txn saw one of T1's appends to x but no read ever saw the
// other: T1 was not atomic, whatever the model.
func TestLostAppendAtomicity(t *testing.T) {
	for _, typ := range []history.Type{ok, info} {
		h := newHist()
		h.invoke(0, ap("x", 1), ap("x", 2))
		h.invoke(1, rd("x", 2))
		h.complete(1, ok)
		h.complete(0, typ)
		for _, model := range []string{"", Serializable} {
			res := check(t, h.ops, model)
			wantTypes(t, res, LostAppend)
			if e := res.Anomalies[LostAppend][0].Explanation; !strings.Contains(e, "no read ever contained [1]") {
				t.Fatalf("explanation %q", e)
			}
		}
	}
	// A txn's own read is no witness: nobody else read x afterwards.
	h := newHist()
	h.txn(0, ok, ap("x", 1), rd("x", 1), ap("x", 2))
	wantTypes(t, check(t, h.ops, Serializable))
}

func TestMaxCycles(t *testing.T) {
	h := newHist()
	const n = 12
	for i := range n {
		x, y := "x"+string(rune('a'+i)), "y"+string(rune('a'+i))
		h.invoke(0, ap(x, 1), ap(y, 1))
		h.invoke(1, ap(x, 2), ap(y, 2))
		h.complete(0, ok)
		h.complete(1, ok)
		h.txn(2, ok, rd(x, 1, 2), rd(y, 2, 1))
	}
	res, err := Check(h.ops, Options{MaxCycles: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Anomalies[G0]) != 3 || res.Counts[G0] != n || res.Stats.SCCs != n {
		t.Fatalf("reported %d, counted %d G0, %d SCCs; want 3, %d, %d", len(res.Anomalies[G0]), res.Counts[G0], res.Stats.SCCs, n, n)
	}
}

func TestMalformed(t *testing.T) {
	for name, build := range map[string]func(h *hist){
		"element appended twice": func(h *hist) {
			h.txn(0, ok, ap("x", 1))
			h.txn(0, fail, ap("x", 1))
		},
		"unknown micro-op": func(h *hist) {
			h.txn(0, ok, history.MicroOp{F: "cas", Key: "x"})
		},
		"index not increasing": func(h *hist) {
			h.txn(0, ok, ap("x", 1))
			h.ops[1].Index = 0
		},
		"unpaired completion": func(h *hist) {
			h.emit(history.Op{Type: history.OK, Process: 3, F: "txn"})
		},
	} {
		h := newHist()
		build(h)
		if _, err := Check(h.ops, Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Check(nil, Options{Model: "snapshot-isolation"}); err == nil {
		t.Error("unknown model accepted")
	}
	// Non-txn events are ignored.
	h := newHist()
	h.emit(history.Op{Type: history.Info, Process: -1, F: "partition"})
	h.txn(0, ok, ap("x", 1))
	wantTypes(t, check(t, h.ops, ""))
}
