package checker

import (
	"slices"
	"strings"
	"testing"
)

const deadline = int64(1_767_225_600_000) // Unix ms, 2026-01-01

func TestTTLValid(t *testing.T) {
	var h hist
	h.inv(0, TTLRead, "k", nil)
	h.ok(0, nil) // absent before any write: ignored
	h.inv(1, TTLWrite, "k", int64(1))
	h.ok(1, nil)
	h.inv(2, TTLRead, "k", nil)
	h.ok(2, []int64{1, deadline})
	h.nemesis("start-partition")
	h.inv(3, TTLRead, "k", nil)
	h.ok(3, []any{int64(1), deadline})
	h.inv(1, TTLWrite, "k", int64(2))
	h.info(1)
	h.inv(4, TTLWrite, "j", int64(1)) // same value, another key
	h.fail(4)
	h.inv(5, TTLWrite, "j", int64(1))
	h.ok(5, nil)
	h.inv(2, TTLRead, "k", nil)
	h.ok(2, []int64{2, deadline + 5000})
	h.inv(3, TTLRead, "k", nil)
	h.ok(3, []int64{2, deadline + 5000})
	h.inv(2, TTLRead, "j", nil)
	h.ok(2, []int64{1, deadline + 9000})
	h.inv(3, TTLRead, "j", nil)
	h.info(3)
	h.inv(6, TTLRead, "k", nil)
	h.fail(6)
	r := checkBoth(t, h.ops, CheckTTL)
	wantValid(t, r)
	wantStats(t, r, map[string]int{
		"writes": 4, "write-ok": 2, "write-info": 1, "write-fail": 1,
		"reads": 8, "read-ok": 6, "read-absent": 1, "read-info": 1, "read-fail": 1,
		"values-read": 3, "ambiguous-values": 0,
	})
}

func TestTTLDivergentDeadline(t *testing.T) {
	var h hist
	h.inv(0, TTLWrite, "k", int64(7))
	w := h.ok(0, nil)
	h.inv(1, TTLRead, "k", nil)
	lo := h.ok(1, []int64{7, deadline})
	h.inv(2, TTLRead, "k", nil)
	hi := h.ok(2, []int64{7, deadline + 333})
	h.inv(1, TTLRead, "k", nil)
	h.ok(1, []int64{7, deadline})
	r := checkBoth(t, h.ops, CheckTTL)
	a := wantAnomalies(t, r, map[string]int{DivergentDeadline: 1})[DivergentDeadline]
	if !slices.Equal(a.Ops, []int{hi, lo, w}) {
		t.Errorf("ops %v, want %v", a.Ops, []int{hi, lo, w})
	}
	for _, want := range []string{`key "k" value 7 (written by op 1)`, "1767225600000 ms", "1767225600333 ms", "333 ms later", "2 distinct deadlines over 3 reads"} {
		if !strings.Contains(a.Explanation, want) {
			t.Errorf("explanation lacks %q: %s", want, a.Explanation)
		}
	}
	// An info write diverges just the same.
	h = hist{}
	h.inv(0, TTLWrite, "k", int64(7))
	h.info(0)
	for _, d := range []int64{deadline, deadline + 1} {
		h.inv(1, TTLRead, "k", nil)
		h.ok(1, []int64{7, d})
	}
	wantAnomalies(t, checkBoth(t, h.ops, CheckTTL), map[string]int{DivergentDeadline: 1})
}

func TestTTLAmbiguousValue(t *testing.T) {
	// The same value written twice: two deadlines are legitimate.
	var h hist
	h.inv(0, TTLWrite, "k", int64(7))
	h.ok(0, nil)
	h.inv(1, TTLRead, "k", nil)
	h.ok(1, []int64{7, deadline})
	h.inv(0, TTLWrite, "k", int64(7))
	h.ok(0, nil)
	h.inv(1, TTLRead, "k", nil)
	h.ok(1, []int64{7, deadline + 1000})
	r := checkBoth(t, h.ops, CheckTTL)
	wantValid(t, r)
	wantStats(t, r, map[string]int{"ambiguous-values": 1})
}

func TestTTLPhantomsAndNoDeadline(t *testing.T) {
	var h hist
	h.inv(0, TTLWrite, "k", int64(1))
	failed := h.fail(0)
	h.inv(1, TTLRead, "k", nil)
	aborted := h.ok(1, []int64{1, deadline})
	h.inv(1, TTLRead, "k", nil)
	never := h.ok(1, []int64{9, deadline})
	h.inv(1, TTLRead, "j", nil)
	early := h.ok(1, []int64{3, deadline}) // read before its write
	h.inv(0, TTLWrite, "j", int64(3))
	h.ok(0, nil)
	h.inv(1, TTLRead, "j", nil)
	h.ok(1, []int64{3, deadline})
	h.inv(1, TTLRead, "j", nil)
	noTTL := h.ok(1, []int64{3, -1})
	r := checkBoth(t, h.ops, CheckTTL)
	wantAnomalies(t, r, map[string]int{Phantom: 2, AbortedRead: 1, NoDeadline: 1, DivergentDeadline: 0})
	want := map[string]struct {
		ops  []int
		text string
	}{
		`key "k" value 1`: {[]int{aborted, failed}, "every write of it invoked before then failed"},
		`key "k" value 9`: {[]int{never}, "no write of it was ever invoked"},
		`key "j" value 3`: {[]int{early}, "invoked after the read completed"},
		"PEXPIRETIME -1":  {[]int{noTTL}, "no expiry"},
	}
	for _, a := range r.Anomalies {
		found := false
		for prefix, w := range want {
			if strings.Contains(a.Explanation, prefix) {
				found = true
				if !slices.Equal(a.Ops, w.ops) || !strings.Contains(a.Explanation, w.text) {
					t.Errorf("%s: got %+v, want ops %v and %q", a.Type, a, w.ops, w.text)
				}
			}
		}
		if !found {
			t.Errorf("unexpected: %+v", a)
		}
	}
}

func TestTTLReadsWithoutWrites(t *testing.T) {
	var h hist
	h.inv(0, TTLRead, "k", nil)
	h.ok(0, nil)
	r := checkBoth(t, h.ops, CheckTTL)
	wantValid(t, r)
	wantStats(t, r, map[string]int{"read-absent": 1, "values-read": 0})
}

func TestTTLBadValues(t *testing.T) {
	for _, v := range []any{[]int64{1}, []int64{1, 2, 3}, "x", []any{"a", 1}} {
		var h hist
		h.inv(0, TTLRead, "k", nil)
		h.ok(0, v)
		if _, err := CheckTTL(h.ops); err == nil {
			t.Errorf("read of %v: want an error", v)
		}
	}
	var h hist
	h.inv(0, TTLWrite, "k", nil)
	h.ok(0, nil)
	if _, err := CheckTTL(h.ops); err == nil {
		t.Error("write without a value: want an error")
	}
}
