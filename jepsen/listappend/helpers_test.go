package listappend

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/troika-db/troika/jepsen/history"
)

// hist builds small histories by hand: invoke a txn on a process, later
// complete it; Index is the position in the history.
type hist struct {
	ops     []history.Op
	pending map[int][]history.MicroOp
}

func newHist() *hist { return &hist{pending: map[int][]history.MicroOp{}} }

func (h *hist) emit(op history.Op) int {
	op.Index = len(h.ops)
	op.Time = int64(op.Index) * 1000
	h.ops = append(h.ops, op)
	return op.Index
}

// invoke starts a txn; reads carry the values they will return on ok.
func (h *hist) invoke(p int, mops ...history.MicroOp) {
	h.pending[p] = mops
	inv := make([]history.MicroOp, len(mops))
	for i, m := range mops {
		if m.F == "r" {
			m.Value = nil
		}
		inv[i] = m
	}
	h.emit(history.Op{Type: history.Invoke, Process: p, F: "txn", Txn: inv})
}

// complete completes the pending txn of p; only ok completions carry
// read values.
func (h *hist) complete(p int, typ history.Type) int {
	mops := h.pending[p]
	delete(h.pending, p)
	if typ != history.OK {
		out := make([]history.MicroOp, len(mops))
		for i, m := range mops {
			if m.F == "r" {
				m.Value = nil
			}
			out[i] = m
		}
		mops = out
	}
	return h.emit(history.Op{Type: typ, Process: p, F: "txn", Txn: mops})
}

// txn invokes and completes at once (no concurrency).
func (h *hist) txn(p int, typ history.Type, mops ...history.MicroOp) int {
	h.invoke(p, mops...)
	return h.complete(p, typ)
}

func ap(k string, e int64) history.MicroOp {
	return history.MicroOp{F: "append", Key: k, Elem: e}
}

func rd(k string, v ...int64) history.MicroOp {
	return history.MicroOp{F: "r", Key: k, Value: v}
}

const (
	ok   = history.OK
	fail = history.Fail
	info = history.Info
)

func check(t *testing.T, ops []history.Op, model string) Result {
	t.Helper()
	res, err := Check(ops, Options{Model: model})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if res.Valid != (len(res.Counts) == 0) || res.Valid != (len(res.Anomalies) == 0) {
		t.Fatalf("Valid=%v inconsistent with %v", res.Valid, res.Counts)
	}
	return res
}

// wantTypes asserts the exact set of anomaly types found.
func wantTypes(t *testing.T, res Result, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := res.Types(); !slices.Equal(got, want) {
		t.Fatalf("anomaly types = %v, want %v\n%s", got, want, dump(res))
	}
}

func dump(res Result) string {
	var b strings.Builder
	for _, typ := range res.Types() {
		for _, a := range res.Anomalies[typ] {
			fmt.Fprintf(&b, "%s ops %v: %s\n", typ, a.Ops, a.Explanation)
		}
	}
	for _, n := range res.Notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}
