package register

import (
	"bytes"
	"strings"
	"testing"

	"github.com/troika-db/troika/jepsen/history"
)

// h builds a history from (type, process, time, f, key, value) rows.
type row struct {
	t     history.Type
	p     int
	time  int64
	f     string
	key   string
	value any
}

func build(rows ...row) []history.Op {
	ops := make([]history.Op, len(rows))
	for i, r := range rows {
		ops[i] = history.Op{Index: i, Type: r.t, Process: r.p, Time: r.time, F: r.f, Key: r.key, Value: r.value}
	}
	return ops
}

const (
	inv  = history.Invoke
	ok   = history.OK
	fail = history.Fail
	info = history.Info
)

func check(t *testing.T, ops []history.Op) Result {
	t.Helper()
	r, err := Check(ops, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSequentialAndConcurrentHistories(t *testing.T) {
	seq := build(
		row{inv, 0, 1, Write, "x", int64(1)}, row{ok, 0, 2, Write, "x", int64(1)},
		row{inv, 0, 3, Read, "x", nil}, row{ok, 0, 4, Read, "x", int64(1)},
		row{inv, 0, 5, CAS, "x", []any{int64(1), int64(2)}}, row{ok, 0, 6, CAS, "x", nil},
		row{inv, 0, 7, Read, "x", nil}, row{ok, 0, 8, Read, "x", int64(2)},
		row{inv, 0, 9, Read, "y", nil}, row{ok, 0, 10, Read, "y", nil},
	)
	if r := check(t, seq); !r.Valid {
		t.Fatal("a sequential history is linearizable")
	}
	// A read overlapping a write may see either value.
	for _, seen := range []any{nil, int64(5)} {
		conc := build(
			row{inv, 0, 1, Write, "x", int64(5)},
			row{inv, 1, 2, Read, "x", nil},
			row{ok, 1, 3, Read, "x", seen},
			row{ok, 0, 4, Write, "x", int64(5)},
		)
		if r := check(t, conc); !r.Valid {
			t.Fatalf("overlapping read of %v is linearizable", seen)
		}
	}
}

func TestStaleReadIsNotLinearizable(t *testing.T) {
	stale := build(
		row{inv, 0, 1, Write, "x", int64(1)}, row{ok, 0, 2, Write, "x", int64(1)},
		row{inv, 0, 3, Write, "x", int64(2)}, row{ok, 0, 4, Write, "x", int64(2)},
		// Invoked after the second write completed, yet it sees the first.
		row{inv, 1, 5, Read, "x", nil}, row{ok, 1, 6, Read, "x", int64(1)},
		// Another key, linearizable on its own.
		row{inv, 2, 7, Write, "y", int64(3)}, row{ok, 2, 8, Write, "y", int64(3)},
	)
	r := check(t, stale)
	if r.Valid || r.Unknown {
		t.Fatalf("stale read accepted: %+v", r)
	}
	if len(r.Keys) != 1 || r.Keys[0].Key != "x" || r.Keys[0].Ops != 3 || r.Keys[0].From != 1 || r.Keys[0].To != 6 {
		t.Fatalf("failing keys %+v, want x with 3 ops from 1 to 6", r.Keys)
	}
	var buf bytes.Buffer
	if err := r.Visualize(&buf); err != nil || !strings.Contains(buf.String(), "<html") {
		t.Fatalf("visualization: %v (%d bytes)", err, buf.Len())
	}
}

func TestIndeterminateAndFailedOperations(t *testing.T) {
	// An info write may take effect after its invoke, even later than the
	// history's last event...
	late := build(
		row{inv, 0, 1, Write, "x", int64(7)}, row{info, 0, 2, Write, "x", int64(7)},
		row{inv, 1, 3, Read, "x", nil}, row{ok, 1, 4, Read, "x", nil},
		row{inv, 1, 5, Read, "x", nil}, row{ok, 1, 6, Read, "x", int64(7)},
	)
	if r := check(t, late); !r.Valid {
		t.Fatal("an info write applied late is linearizable")
	}
	// ...or never.
	never := build(
		row{inv, 0, 1, Write, "x", int64(7)},
		row{inv, 1, 3, Read, "x", nil}, row{ok, 1, 4, Read, "x", nil},
	)
	if r := check(t, never); !r.Valid {
		t.Fatal("a write that never completed may never apply")
	}
	// But not before its invoke.
	early := build(
		row{inv, 1, 1, Read, "x", nil}, row{ok, 1, 2, Read, "x", int64(7)},
		row{inv, 0, 3, Write, "x", int64(7)}, row{info, 0, 4, Write, "x", int64(7)},
	)
	if r := check(t, early); r.Valid {
		t.Fatal("a value read before its write was invoked was accepted")
	}
	// A failed write did not happen: reading its value is a violation.
	failed := build(
		row{inv, 0, 1, Write, "x", int64(3)}, row{fail, 0, 2, Write, "x", int64(3)},
		row{inv, 1, 3, Read, "x", nil}, row{ok, 1, 4, Read, "x", int64(3)},
	)
	if r := check(t, failed); r.Valid {
		t.Fatal("a failed write's value was accepted")
	}
	// An info cas whose comparison held may or may not have applied.
	for _, seen := range []int64{1, 2} {
		cas := build(
			row{inv, 0, 1, Write, "x", int64(1)}, row{ok, 0, 2, Write, "x", int64(1)},
			row{inv, 0, 3, CAS, "x", []any{int64(1), int64(2)}}, row{info, 0, 4, CAS, "x", nil},
			row{inv, 1, 5, Read, "x", nil}, row{ok, 1, 6, Read, "x", seen},
		)
		if r := check(t, cas); !r.Valid {
			t.Fatalf("info cas then read %d is linearizable", seen)
		}
	}
	// An ok cas whose comparison could not hold is a violation.
	badCAS := build(
		row{inv, 0, 1, Write, "x", int64(1)}, row{ok, 0, 2, Write, "x", int64(1)},
		row{inv, 0, 3, CAS, "x", []any{int64(9), int64(2)}}, row{ok, 0, 4, CAS, "x", nil},
	)
	if r := check(t, badCAS); r.Valid {
		t.Fatal("a cas from a value never held was accepted")
	}
}

func TestJSONRoundTripAndErrors(t *testing.T) {
	ops := build(
		row{inv, 0, 1, Write, "x", int64(1)}, row{ok, 0, 2, Write, "x", int64(1)},
		row{inv, 0, 3, CAS, "x", []any{int64(1), int64(4)}}, row{ok, 0, 4, CAS, "x", nil},
		row{inv, 1, 5, Read, "x", nil}, row{ok, 1, 6, Read, "x", int64(4)},
	)
	var buf bytes.Buffer
	if err := history.Write(&buf, ops); err != nil {
		t.Fatal(err)
	}
	back, err := history.Read(&buf) // numbers come back as float64
	if err != nil {
		t.Fatal(err)
	}
	if r := check(t, back); !r.Valid || r.Ops != 3 {
		t.Fatalf("after a JSON round trip: %+v", r)
	}
	if _, err := Check(build(row{inv, 0, 1, "incr", "x", nil}), 0); err == nil {
		t.Fatal("unknown op accepted")
	}
	if _, err := Check(build(row{inv, 0, 1, CAS, "x", int64(1)}), 0); err == nil {
		t.Fatal("malformed cas accepted")
	}
}
