package fsm

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestScanParse(t *testing.T) {
	for _, c := range []struct {
		args []string
		want ScanArgs
	}{
		{[]string{"scan", "0"}, ScanArgs{Cursor: 0, Count: 10}},
		{[]string{"scan", ""}, ScanArgs{Cursor: 0, Count: 10}},
		{[]string{"scan", "007"}, ScanArgs{Cursor: 7, Count: 10}},
		{[]string{"scan", "+5"}, ScanArgs{Cursor: 5, Count: 10}},
		{[]string{"scan", "-0"}, ScanArgs{Cursor: 0, Count: 10}},
		{[]string{"scan", "-1"}, ScanArgs{Cursor: math.MaxUint64, Count: 10}},
		{[]string{"scan", "-18446744073709551615"}, ScanArgs{Cursor: 1, Count: 10}},
		{[]string{"scan", "18446744073709551615"}, ScanArgs{Cursor: math.MaxUint64, Count: 10}},
		{[]string{"scan", "12\x00junk"}, ScanArgs{Cursor: 12, Count: 10}},
		{[]string{"scan", "0", "count", "100", "MATCH", "a*", "type", "STRING"}, ScanArgs{Count: 100, Match: []byte("a*"), Type: "STRING"}},
		{[]string{"scan", "0", "match", "*"}, ScanArgs{Count: 10}},
		{[]string{"scan", "0", "count", "1", "count", "100", "match", "*", "match", "i*", "type", "string", "type", "list"},
			ScanArgs{Count: 100, Match: []byte("i*"), Type: "list"}},
		{[]string{"scan", "0", "match", "i*", "match", "*"}, ScanArgs{Count: 10}},
		{[]string{"scan", "0", "type", "foo"}, ScanArgs{Count: 10, Type: "foo"}},
	} {
		got, err := ParseScan(toArgs(c.args))
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if got.Cursor != c.want.Cursor || got.Count != c.want.Count || got.Type != c.want.Type ||
			string(got.Match) != string(c.want.Match) || (got.Match == nil) != (c.want.Match == nil) {
			t.Fatalf("%q: got %+v, want %+v", c.args, got, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		code Code
	}{
		{[]string{"scan"}, CodeWrongArgs},
		{[]string{"scan", "abc", "count", "0"}, CodeInvalidCursor},
		{[]string{"scan", " 1"}, CodeInvalidCursor},
		{[]string{"scan", "\t1"}, CodeInvalidCursor},
		{[]string{"scan", "1 "}, CodeInvalidCursor},
		{[]string{"scan", "0x1"}, CodeInvalidCursor},
		{[]string{"scan", "+"}, CodeInvalidCursor},
		{[]string{"scan", "-"}, CodeInvalidCursor},
		{[]string{"scan", "1.0"}, CodeInvalidCursor},
		{[]string{"scan", "18446744073709551616"}, CodeInvalidCursor},
		{[]string{"scan", "-18446744073709551616"}, CodeInvalidCursor},
		{[]string{"scan", "0", "count", "0"}, CodeSyntax},
		{[]string{"scan", "0", "count", "-1"}, CodeSyntax},
		{[]string{"scan", "0", "count", "abc"}, CodeNotInt},
		{[]string{"scan", "0", "count", "9223372036854775808"}, CodeNotInt},
		{[]string{"scan", "0", "count"}, CodeSyntax},
		{[]string{"scan", "0", "match"}, CodeSyntax},
		{[]string{"scan", "0", "type"}, CodeSyntax},
		{[]string{"scan", "0", "foo", "bar"}, CodeSyntax},
		{[]string{"scan", "0", "count", "5", "match"}, CodeSyntax},
	} {
		_, err := ParseScan(toArgs(c.args))
		e, ok := err.(*Error)
		if !ok || e.Code != c.code {
			t.Fatalf("%q: err %v, want code %d", c.args, err, c.code)
		}
	}
	// MATCH is copied out of the arguments.
	args := toArgs([]string{"scan", "0", "match", "ab*"})
	a, _ := ParseScan(args)
	args[3][0] = 'X'
	if string(a.Match) != "ab*" {
		t.Fatalf("match aliases args")
	}
}

// scanAll runs a full node-style SCAN over db: a single group owning every
// slot, so the range is [0, SlotOrd(16384)).
func scanAll(t *testing.T, db *DB, a ScanArgs, between func(step int)) (keys []string, cursors []uint64) {
	t.Helper()
	limit := SlotOrd(16384)
	cur := a.Cursor
	for step := 0; ; step++ {
		if step > 100000 {
			t.Fatal("scan does not terminate")
		}
		got, next := db.ScanRange(a, cur, limit)
		keys = append(keys, got...)
		if next >= limit {
			next = 0
		}
		cursors = append(cursors, next)
		if next == 0 {
			return keys, cursors
		}
		if next <= cur {
			t.Fatalf("cursor went backwards: %d -> %d", cur, next)
		}
		cur = next
		if between != nil {
			between(step)
		}
	}
}

func TestScanFullIteration(t *testing.T) {
	db := NewDB()
	db.SetNow(1000)
	for i := range 500 {
		db.Set(fmt.Sprint("key:", i), "v", 0)
	}
	keys, cursors := scanAll(t, db, ScanArgs{Count: 7}, nil)
	if len(keys) != 500 {
		t.Fatalf("got %d keys", len(keys))
	}
	slices.Sort(keys)
	if len(slices.Compact(keys)) != 500 {
		t.Fatalf("duplicates")
	}
	// Deterministic: an identical keyspace built in another order gives the
	// same cursors.
	db2 := NewDB()
	db2.SetNow(1000)
	for i := 499; i >= 0; i-- {
		db2.Set(fmt.Sprint("key:", i), "v", 0)
	}
	_, cursors2 := scanAll(t, db2, ScanArgs{Count: 7}, nil)
	if !slices.Equal(cursors, cursors2) {
		t.Fatalf("cursors differ")
	}
	if len(cursors) < 500/7 {
		t.Fatalf("count not honoured: %d steps", len(cursors))
	}
	// Empty DB: one step, cursor 0.
	k, c := scanAll(t, NewDB(), ScanArgs{Count: 10}, nil)
	if len(k) != 0 || len(c) != 1 || c[0] != 0 {
		t.Fatalf("empty: %v %v", k, c)
	}
	// A cursor past the last slot ends at once.
	if k, next := db.ScanRange(ScanArgs{Count: 10}, math.MaxUint64, SlotOrd(16384)); len(k) != 0 || next != SlotOrd(16384) {
		t.Fatalf("cursor -1: %v %d", k, next)
	}
}

// TestScanConcurrentChanges: keys present throughout the iteration are
// returned at least once while other keys are added and removed between
// calls; expired keys are not returned.
func TestScanConcurrentChanges(t *testing.T) {
	db := NewDB()
	db.SetNow(1000)
	stable := map[string]bool{}
	for i := range 300 {
		k := fmt.Sprint("stable:", i)
		stable[k] = true
		db.Set(k, "v", 0)
	}
	for i := range 200 {
		db.Set(fmt.Sprint("doomed:", i), "v", 0)
	}
	for i := range 50 {
		db.Set(fmt.Sprint("expired:", i), "v", 500)
	}
	keys, _ := scanAll(t, db, ScanArgs{Count: 3}, func(step int) {
		db.Set(fmt.Sprint("new:", step), "v", 0)
		db.Delete(fmt.Sprint("doomed:", step))
		db.Delete(fmt.Sprint("doomed:", 199-step))
	})
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
		if len(k) > 8 && k[:8] == "expired:" {
			t.Fatalf("expired key %q returned", k)
		}
	}
	for k := range stable {
		if !seen[k] {
			t.Fatalf("stable key %q not returned", k)
		}
	}
}

func TestScanFilters(t *testing.T) {
	db := NewDB()
	db.SetNow(1000)
	for i := range 100 {
		db.Set(fmt.Sprint("user:", i), "v", 0)
		db.Set(fmt.Sprint("item:", i), "v", 0)
	}
	db.Set("list:1", &keysTestList{}, 0)
	db.Set("list:2", &keysTestList{}, 0)
	db.Set("user:gone", "v", 900) // expired

	count := func(a ScanArgs) []string {
		keys, _ := scanAll(t, db, a, nil)
		slices.Sort(keys)
		return keys
	}
	if n := len(count(ScanArgs{Count: 5, Match: []byte("user:*")})); n != 100 {
		t.Fatalf("match user:* = %d", n)
	}
	if got := count(ScanArgs{Count: 5, Match: []byte("user:1?")}); len(got) != 10 || got[0] != "user:10" {
		t.Fatalf("match user:1? = %v", got)
	}
	if got := count(ScanArgs{Count: 5, Match: []byte("USER:1?")}); len(got) != 0 {
		t.Fatalf("match is case-sensitive: %v", got)
	}
	if got := count(ScanArgs{Count: 5, Type: "LIST"}); !slices.Equal(got, []string{"list:1", "list:2"}) {
		t.Fatalf("type list = %v", got)
	}
	if n := len(count(ScanArgs{Count: 5, Type: "string"})); n != 200 {
		t.Fatalf("type string = %d", n)
	}
	if got := count(ScanArgs{Count: 5, Type: "string", Match: []byte("list*")}); len(got) != 0 {
		t.Fatalf("type+match = %v", got)
	}
	if got := count(ScanArgs{Count: 5, Type: "foo"}); len(got) != 0 {
		t.Fatalf("unknown type = %v", got)
	}
	if n := len(count(ScanArgs{Count: 1000})); n != 202 {
		t.Fatalf("all = %d", n)
	}
	// Through ParseScan, and a zero Count defaults to 10.
	a, err := ParseScan(toArgs([]string{"scan", "0", "MATCH", "item:*", "COUNT", "1000"}))
	if err != nil {
		t.Fatal(err)
	}
	if keys, next := db.ScanRange(a, a.Cursor, SlotOrd(16384)); len(keys) != 100 || next != SlotOrd(16384) {
		t.Fatalf("one-shot scan: %d keys, next %d", len(keys), next)
	}
	if keys, _ := db.ScanRange(ScanArgs{}, 0, SlotOrd(16384)); len(keys) < 9 || len(keys) > 12 { // one expired key may be visited
		t.Fatalf("default count: %d keys", len(keys))
	}
}

// TestScanSlotRanges: a node owning several slot ranges composes SCAN by
// walking them in order; each range's scan stays inside it.
func TestScanSlotRanges(t *testing.T) {
	db := NewDB()
	var all []string
	for i := range 400 {
		k := fmt.Sprint("k", i)
		all = append(all, k)
		db.Set(k, "v", 0)
	}
	// Two ranges: slots [0, 5000) and [5000, 16384).
	ranges := [][2]int{{0, 5000}, {5000, 16384}}
	var got []string
	cur := uint64(0)
	for _, r := range ranges {
		from, limit := max(cur, SlotOrd(r[0])), SlotOrd(r[1])
		for {
			keys, next := db.ScanRange(ScanArgs{Count: 4}, from, limit)
			for _, k := range keys {
				if s := OrdSlot(Ord(k)); s < r[0] || s >= r[1] {
					t.Fatalf("key %q (slot %d) outside range %v", k, s, r)
				}
			}
			got = append(got, keys...)
			if next == limit {
				break
			}
			from = next
		}
	}
	slices.Sort(got)
	slices.Sort(all)
	if !slices.Equal(got, all) {
		t.Fatalf("got %d keys, want %d", len(got), len(all))
	}
}

func TestScanKeys(t *testing.T) {
	db := NewDB()
	db.SetNow(1000)
	db.Set("", "empty", 0)
	db.Set("a*", "v", 0)
	db.Set("abc", "v", 0)
	db.Set("abd", "v", 0)
	db.Set("x", "v", 0)
	db.Set("gone", "v", 500)
	keys := func(p string) []string {
		var out []string
		db.Keys([]byte(p), func(k string) { out = append(out, k) })
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		pattern string
		want    []string
	}{
		{"*", []string{"", "a*", "abc", "abd", "x"}}, // "*" includes the empty key
		{"a*", []string{"a*", "abc", "abd"}},
		{"ab?", []string{"abc", "abd"}},
		{"ab[c]", []string{"abc"}},
		{`a\*`, []string{"a*"}},
		{"abc", []string{"abc"}}, // exact lookup
		{"", []string{""}},
		{"nokey", nil},
		{"gone", nil}, // expired
		{"g*", nil},
		{"*?", []string{"a*", "abc", "abd", "x"}},
	} {
		if got := keys(c.pattern); !slices.Equal(got, c.want) {
			t.Fatalf("KEYS %q = %q, want %q", c.pattern, got, c.want)
		}
	}
}
