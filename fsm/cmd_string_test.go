package fsm

import (
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// strTestList is an aggregate stand-in used to provoke WRONGTYPE.
type strTestList struct{}

func (*strTestList) TypeName() string { return "list" }

func (h *harness) putList(key string) {
	h.t.Helper()
	h.db.Set(key, &strTestList{}, 0)
}

func (h *harness) wantErrArg(r Reply, c Code, arg string) {
	h.t.Helper()
	if r.Kind != KindError || r.Code != c || r.Str != arg {
		h.t.Fatalf("want error code %d arg %q, got %+v", c, arg, r)
	}
}

// wantText compares a reply rendered by strFmt (handy for arrays and maps).
func (h *harness) wantText(r Reply, want string) {
	h.t.Helper()
	if got := strFmt(r); got != want {
		h.t.Fatalf("want %s, got %s", want, got)
	}
}

// pttl returns the remaining TTL of key in ms at h.now (-1: none, -2: no key).
func (h *harness) pttl(key string) int64 {
	exp, ok := h.db.Expire(key)
	switch {
	case !ok || (exp != 0 && exp <= h.now):
		return -2
	case exp == 0:
		return -1
	}
	return exp - h.now
}

func strFmt(r Reply) string {
	switch r.Kind {
	case KindNil:
		return "nil"
	case KindStatus:
		return "+" + r.Str
	case KindError:
		return fmt.Sprintf("err%d(%s)", r.Code, r.Str)
	case KindInt:
		return strconv.FormatInt(r.Int, 10)
	case KindBulk:
		return strconv.Quote(r.Str)
	case KindArray, KindMap:
		parts := make([]string, len(r.Arr))
		for i, e := range r.Arr {
			parts[i] = strFmt(e)
		}
		open := "["
		if r.Kind == KindMap {
			open = "map["
		}
		return open + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("%+v", r)
}

func TestStringSetGet(t *testing.T) {
	h := newHarness(t)
	h.wantNil(h.do("GET", "k"))
	h.wantStatus(h.do("SET", "k", "v"), "OK")
	h.wantBulk(h.do("GET", "k"), "v")
	h.wantStatus(h.do("set", "k", ""), "OK")
	h.wantBulk(h.do("GET", "k"), "")

	// NX / XX.
	h.wantNil(h.do("SET", "k", "x", "NX"))
	h.wantStatus(h.do("SET", "k2", "x", "nx", "NX"), "OK") // repeating NX is allowed
	h.wantNil(h.do("SET", "missing", "x", "XX"))
	h.wantInt(h.do("STRLEN", "missing"), 0)
	h.wantStatus(h.do("SET", "k", "y", "XX"), "OK")
	h.wantBulk(h.do("GET", "k"), "y")

	// GET option, alone and with NX/XX (NX+GET is allowed since 7.0).
	h.wantNil(h.do("SET", "g", "1", "GET"))
	h.wantBulk(h.do("SET", "g", "2", "GET", "GET"), "1")
	h.wantBulk(h.do("SET", "g", "3", "NX", "GET"), "2")
	h.wantBulk(h.do("GET", "g"), "2")
	h.wantNil(h.do("SET", "g2", "3", "NX", "GET"))
	h.wantBulk(h.do("GET", "g2"), "3")
	h.wantNil(h.do("SET", "g3", "3", "XX", "GET"))
	h.wantNil(h.do("GET", "g3"))

	// Wrong type: plain SET replaces, NX does not, SET GET refuses.
	h.putList("l")
	h.wantErr(h.do("GET", "l"), CodeWrongType)
	h.wantErr(h.do("SET", "l", "v", "GET"), CodeWrongType)
	h.wantErr(h.do("SET", "l", "v", "NX", "GET"), CodeWrongType)
	h.wantNil(h.do("SET", "l", "v", "NX"))
	h.wantStatus(h.do("SET", "l", "v", "XX"), "OK")
	h.wantBulk(h.do("GET", "l"), "v")
	h.putList("l")
	h.wantStatus(h.do("SET", "l", "w"), "OK")
	if TypeName(mustGet(h, "l")) != "string" {
		t.Fatal("SET did not replace the list")
	}
}

func mustGet(h *harness, key string) any {
	v, _ := h.db.Get(key)
	return v
}

func TestStringSetSyntaxErrors(t *testing.T) {
	h := newHarness(t)
	h.do("SET", "k", "old")
	for _, args := range []string{
		"SET k v NX XX", "SET k v XX NX", "SET k v EX 10 PX 100",
		"SET k v EX 10 EXAT 100", "SET k v PXAT 10 EX 100", "SET k v EX 10 KEEPTTL",
		"SET k v KEEPTTL EX 10", "SET k v KEEPTTL PXAT 10", "SET k v EX",
		"SET k v PX", "SET k v PERSIST", "SET k v FOO",
		"SET k v NXX", "SET k v 10", "SET k v EX abc BAD",
	} {
		h.wantErr(h.do(strings.Fields(args)...), CodeSyntax)
	}
	for _, args := range []string{
		"SET k v EX 0", "SET k v EX -1", "SET k v PX 0", "SET k v EXAT 0", "SET k v PXAT -5",
		"set k v ex 9223372036854776", // * 1000 overflows
		"SET k v EX 9223372036854775", // + now overflows
		"SET k v PX 9223372036854775807", "SET k v EXAT 9223372036854776",
	} {
		h.wantErrArg(h.do(strings.Fields(args)...), CodeInvalidExpire, "set")
	}
	for _, v := range []string{"abc", "01", " 1", "1.5", "", "+1"} {
		h.wantErr(h.do("SET", "k", "v", "EX", v), CodeNotInt)
		h.wantErr(h.do("SET", "k", "v", "PXAT", v), CodeNotInt)
	}
	// Errors found by Prepare come before the type check.
	h.putList("l")
	h.wantErr(h.do("SET", "l", "v", "EX", "abc", "GET"), CodeNotInt)
	h.wantErrArg(h.do("SET", "l", "v", "GET", "EX", "0"), CodeInvalidExpire, "set")
	h.wantBulk(h.do("GET", "k"), "old")
}

func TestStringSetTTL(t *testing.T) {
	h := newHarness(t)
	h.wantStatus(h.do("SET", "k", "v", "EX", "10"), "OK")
	if got := h.pttl("k"); got != 10000 {
		t.Fatalf("pttl %d", got)
	}
	h.wantStatus(h.do("SET", "k", "v", "EX", "10", "EX", "20"), "OK") // last one wins
	if got := h.pttl("k"); got != 20000 {
		t.Fatalf("pttl %d", got)
	}
	h.wantStatus(h.do("SET", "k", "w", "KEEPTTL"), "OK")
	if got := h.pttl("k"); got != 20000 {
		t.Fatalf("KEEPTTL lost the ttl: %d", got)
	}
	h.wantStatus(h.do("SET", "k", "w", "keepttl", "KEEPTTL", "XX"), "OK")
	h.now += 19_999
	h.wantBulk(h.do("GET", "k"), "w")
	h.now++
	h.wantNil(h.do("GET", "k"))
	h.wantInt(h.do("STRLEN", "k"), 0)

	// SET without KEEPTTL clears the deadline.
	h.do("SET", "k", "v", "PX", "500")
	h.wantStatus(h.do("SET", "k", "v2"), "OK")
	if got := h.pttl("k"); got != -1 {
		t.Fatalf("SET kept the ttl: %d", got)
	}

	// Absolute deadlines.
	at := h.now + 5000
	h.do("SET", "a", "v", "PXAT", strconv.FormatInt(at, 10))
	if exp, _ := h.db.Expire("a"); exp != at {
		t.Fatalf("PXAT stored %d, want %d", exp, at)
	}
	h.do("SET", "a", "v", "EXAT", strconv.FormatInt(at/1000+100, 10))
	if exp, _ := h.db.Expire("a"); exp != (at/1000+100)*1000 {
		t.Fatalf("EXAT stored %d", exp)
	}
	// A deadline already in the past: OK, and the key is gone (old value too).
	h.wantStatus(h.do("SET", "a", "v", "EXAT", "1"), "OK")
	h.wantNil(h.do("GET", "a"))
	h.do("SET", "a", "old")
	h.wantBulk(h.do("SET", "a", "new", "PXAT", strconv.FormatInt(h.now, 10), "GET"), "old")
	h.wantNil(h.do("GET", "a"))
	if h.db.Len() != 1 { // only "k"
		t.Fatalf("expired SETs left %d keys", h.db.Len())
	}

	// NX on an expired key sets it.
	h.do("SET", "e", "1", "PX", "10")
	h.now += 10
	h.wantStatus(h.do("SET", "e", "2", "NX"), "OK")
	h.wantBulk(h.do("GET", "e"), "2")
	h.do("SET", "e", "1", "PX", "10")
	h.now += 10
	h.wantNil(h.do("SET", "e", "2", "XX"))
}

func TestStringPrepareRewrite(t *testing.T) {
	now := int64(1_700_000_000_000)
	ms := func(d int64) string { return strconv.FormatInt(now+d, 10) }
	for _, c := range []struct {
		in     []string
		want   string // prepared args joined by spaces
		runErr Code   // what Run answers on a DB where k holds "5" (0: no error)
	}{
		{[]string{"SET", "k", "v"}, "SET k v", 0},
		{[]string{"SET", "k", "v", "NX", "GET", "KEEPTTL"}, "SET k v NX GET KEEPTTL", 0},
		{[]string{"SET", "k", "v", "EX", "10"}, "set k v PXAT " + ms(10_000), 0},
		{[]string{"SET", "k", "v", "ex", "10", "NX"}, "set k v NX PXAT " + ms(10_000), 0},
		{[]string{"SET", "k", "v", "GET", "px", "1500", "XX"}, "set k v XX GET PXAT " + ms(1500), 0},
		{[]string{"SET", "k", "v", "EXAT", "1800000000"}, "set k v PXAT 1800000000000", 0},
		{[]string{"SET", "k", "v", "PXAT", "1800000000123"}, "set k v PXAT 1800000000123", 0},
		{[]string{"SETEX", "k", "10", "v"}, "set k v PXAT " + ms(10_000), 0},
		{[]string{"PSETEX", "k", "10", "v"}, "set k v PXAT " + ms(10), 0},
		{[]string{"GETEX", "k"}, "GETEX k", 0},
		{[]string{"GETEX", "k", "PERSIST"}, "GETEX k PERSIST", 0},
		{[]string{"GETEX", "k", "EX", "10"}, "getex k PXAT " + ms(10_000), 0},
		{[]string{"GETEX", "k", "PX", "7"}, "getex k PXAT " + ms(7), 0},
		{[]string{"GETEX", "k", "EXAT", "1800000000"}, "getex k PXAT 1800000000000", 0},
		{[]string{"GETEX", "k", "PXAT", "5"}, "GETEX k PXAT 5", 0},
		// Invalid GETEX values go to the log: the answer depends on the key.
		{[]string{"GETEX", "k", "EX", "abc"}, "GETEX k EX abc", CodeNotInt},
		{[]string{"GETEX", "k", "EX", "-1"}, "GETEX k EX -1", CodeInvalidExpire},
		{[]string{"GETEX", "k", "EX", "9223372036854775"}, "GETEX k EX 9223372036854775", CodeInvalidExpire},
		{[]string{"INCRBYFLOAT", "k", "abc"}, "INCRBYFLOAT k abc", CodeNotFloat},
		{[]string{"INCRBY", "k", "5"}, "INCRBY k 5", 0},
	} {
		cmd := Commands.Lookup([]byte(c.in[0]))
		out, err := cmd.Prepare(toArgs(c.in), now)
		if err != nil {
			t.Fatalf("%v: %v", c.in, err)
		}
		parts := make([]string, len(out))
		for i, a := range out {
			parts[i] = string(a)
		}
		if got := strings.Join(parts, " "); got != c.want {
			t.Errorf("%v: prepared %q, want %q", c.in, got, c.want)
		}
		// Run must accept what Prepare produced.
		db := NewDB()
		db.SetNow(now)
		db.Set("k", "5", 0)
		r := Commands.Lookup(out[0]).Run(db, out)
		if c.runErr == 0 && r.IsErr() || c.runErr != 0 && r.Code != c.runErr {
			t.Errorf("%v: Run of prepared args answered %+v", c.in, r)
		}
	}
	// Prepare answers these errors itself: such commands never reach the log.
	for _, c := range []struct {
		in   string
		code Code
		arg  string
	}{
		{"SETEX k 0 v", CodeInvalidExpire, "setex"}, {"SETEX k -1 v", CodeInvalidExpire, "setex"},
		{"setex k 9223372036854775 v", CodeInvalidExpire, "setex"}, {"SETEX k abc v", CodeNotInt, ""},
		{"PSETEX k 0 v", CodeInvalidExpire, "psetex"}, {"PSETEX k 9223372036854775807 v", CodeInvalidExpire, "psetex"},
		{"GETEX k NX", CodeSyntax, ""}, {"GETEX k EX 10 PERSIST", CodeSyntax, ""},
		{"GETEX k PERSIST EX 10", CodeSyntax, ""}, {"GETEX k EX", CodeSyntax, ""},
		{"GETEX k KEEPTTL", CodeSyntax, ""}, {"GETEX k GET", CodeSyntax, ""},
		{"INCRBY k 1.5", CodeNotInt, ""}, {"DECRBY k -9223372036854775808", CodeDecrOverflow, ""},
		{"SETRANGE k -1 x", CodeOffsetRange, ""}, {"SETRANGE k x x", CodeNotInt, ""},
		{"MSET a 1 b", CodeWrongArgs, "mset"}, {"MSETNX a", CodeWrongArgs, "msetnx"},
	} {
		in := strings.Fields(c.in)
		out, err := Commands.Lookup([]byte(in[0])).Prepare(toArgs(in), now)
		e, ok := err.(*Error)
		if !ok || e.Code != c.code || e.Arg != c.arg {
			t.Errorf("%v: got %q %v, want code %d arg %q", in, out, err, c.code, c.arg)
		}
	}
}

func TestStringGetEx(t *testing.T) {
	h := newHarness(t)
	h.wantNil(h.do("GETEX", "missing"))
	// A missing key answers nil whatever the expire value (Redis order).
	h.wantNil(h.do("GETEX", "missing", "EX", "abc"))
	h.wantNil(h.do("GETEX", "missing", "EX", "-1"))
	h.putList("l")
	h.wantErr(h.do("GETEX", "l", "EX", "abc"), CodeWrongType)
	h.wantErr(h.do("GETEX", "l"), CodeWrongType)

	h.do("SET", "s", "v")
	h.wantErr(h.do("GETEX", "s", "EX", "abc"), CodeNotInt)
	h.wantErrArg(h.do("GETEX", "s", "EX", "0"), CodeInvalidExpire, "getex")
	h.wantErrArg(h.do("GETEX", "s", "PXAT", "-1"), CodeInvalidExpire, "getex")
	h.wantErrArg(h.do("GETEX", "s", "EX", "9223372036854775"), CodeInvalidExpire, "getex")
	if h.pttl("s") != -1 {
		t.Fatal("failed GETEX changed the ttl")
	}

	h.wantBulk(h.do("GETEX", "s", "EX", "10"), "v")
	if got := h.pttl("s"); got != 10_000 {
		t.Fatalf("pttl %d", got)
	}
	h.wantBulk(h.do("GETEX", "s", "px", "100", "PX", "200"), "v")
	if got := h.pttl("s"); got != 200 {
		t.Fatalf("pttl %d", got)
	}
	h.wantBulk(h.do("GETEX", "s"), "v")
	if got := h.pttl("s"); got != 200 {
		t.Fatalf("plain GETEX changed the ttl: %d", got)
	}
	h.wantBulk(h.do("GETEX", "s", "PERSIST", "persist"), "v")
	if got := h.pttl("s"); got != -1 {
		t.Fatalf("PERSIST left ttl %d", got)
	}
	h.wantBulk(h.do("GETEX", "s", "EXAT", strconv.FormatInt(h.now/1000+60, 10)), "v")
	if exp, _ := h.db.Expire("s"); exp != (h.now/1000+60)*1000 {
		t.Fatalf("EXAT stored %d", exp)
	}
	h.wantBulk(h.do("GETEX", "s", "PX", "50"), "v")
	h.now += 50
	h.wantNil(h.do("GETEX", "s"))
	// A past absolute deadline returns the value and deletes the key.
	h.do("SET", "s", "v")
	h.wantBulk(h.do("GETEX", "s", "EXAT", "1"), "v")
	h.wantNil(h.do("GET", "s"))
	if h.db.Len() != 1 { // only "l"
		t.Fatalf("GETEX EXAT in the past left %d keys", h.db.Len())
	}
}

func TestStringGetSetDel(t *testing.T) {
	h := newHarness(t)
	h.wantNil(h.do("GETSET", "k", "1"))
	h.wantBulk(h.do("GETSET", "k", "2"), "1")
	h.do("SET", "t", "v", "EX", "100")
	h.wantBulk(h.do("GETSET", "t", "w"), "v")
	if h.pttl("t") != -1 {
		t.Fatal("GETSET kept the ttl")
	}
	h.putList("l")
	h.wantErr(h.do("GETSET", "l", "x"), CodeWrongType)
	h.wantErr(h.do("GETDEL", "l"), CodeWrongType)
	if TypeName(mustGet(h, "l")) != "list" {
		t.Fatal("failed GETSET/GETDEL touched the list")
	}

	h.wantBulk(h.do("GETDEL", "k"), "2")
	h.wantNil(h.do("GET", "k"))
	h.wantNil(h.do("GETDEL", "k"))
	h.do("SET", "e", "v", "PX", "5")
	h.now += 5
	h.wantNil(h.do("GETDEL", "e"))
}

func TestStringMultiKey(t *testing.T) {
	h := newHarness(t)
	h.wantStatus(h.do("MSET", "a", "1", "b", "2", "a", "3"), "OK")
	h.putList("l")
	h.wantText(h.do("MGET", "a", "b", "l", "missing", "a"), `["3" "2" nil nil "3"]`)

	h.do("SET", "t", "v", "EX", "100")
	h.do("MSET", "t", "w")
	if h.pttl("t") != -1 {
		t.Fatal("MSET kept the ttl")
	}
	h.wantErrArg(h.do("MSET", "a", "1", "b"), CodeWrongArgs, "mset")

	h.wantInt(h.do("MSETNX", "a", "9", "c", "9"), 0)
	h.wantNil(h.do("GET", "c"))
	h.wantBulk(h.do("GET", "a"), "3")
	h.wantInt(h.do("MSETNX", "l", "9", "c", "9"), 0) // a list counts as existing
	h.wantInt(h.do("MSETNX", "c", "1", "d", "2", "c", "3"), 1)
	h.wantText(h.do("MGET", "c", "d"), `["3" "2"]`)
	h.wantErrArg(h.do("MSETNX", "x", "1", "y"), CodeWrongArgs, "msetnx")

	h.wantInt(h.do("SETNX", "n", "1"), 1)
	h.wantInt(h.do("SETNX", "n", "2"), 0)
	h.wantInt(h.do("SETNX", "l", "2"), 0)
	h.wantBulk(h.do("GET", "n"), "1")
}

func TestStringSetExPSetEx(t *testing.T) {
	h := newHarness(t)
	h.wantStatus(h.do("SETEX", "k", "10", "v"), "OK")
	h.wantBulk(h.do("GET", "k"), "v")
	if got := h.pttl("k"); got != 10_000 {
		t.Fatalf("pttl %d", got)
	}
	h.wantStatus(h.do("PSETEX", "p", "1500", "w"), "OK")
	if got := h.pttl("p"); got != 1500 {
		t.Fatalf("pttl %d", got)
	}
	h.putList("l")
	h.wantStatus(h.do("SETEX", "l", "5", "s"), "OK") // replaces any type
	h.wantBulk(h.do("GET", "l"), "s")
	h.wantErrArg(h.do("SETEX", "k", "0", "v"), CodeInvalidExpire, "setex")
	h.wantErrArg(h.do("PSETEX", "k", "-5", "v"), CodeInvalidExpire, "psetex")
	h.wantErr(h.do("SETEX", "k", "1x", "v"), CodeNotInt)
	h.now += 1500
	h.wantNil(h.do("GET", "p"))
	h.now += 8500
	h.wantNil(h.do("GET", "k"))

	// Run also accepts the original form (relative to the entry's time).
	db := NewDB()
	db.SetNow(1000)
	cmd := Commands.Lookup([]byte("setex"))
	if r := cmd.Run(db, toArgs([]string{"setex", "k", "2", "v"})); r.Kind != KindStatus {
		t.Fatalf("Run: %+v", r)
	}
	if exp, _ := db.Expire("k"); exp != 3000 {
		t.Fatalf("Run stored deadline %d", exp)
	}
}

func TestStringAppendStrlenRange(t *testing.T) {
	h := newHarness(t)
	h.wantInt(h.do("APPEND", "a", "hello"), 5)
	h.wantInt(h.do("APPEND", "a", " world"), 11)
	h.wantInt(h.do("APPEND", "a", ""), 11)
	h.wantBulk(h.do("GET", "a"), "hello world")
	h.wantInt(h.do("STRLEN", "a"), 11)
	h.wantInt(h.do("STRLEN", "missing"), 0)
	h.do("SET", "t", "v", "EX", "100")
	h.wantInt(h.do("APPEND", "t", "w"), 2)
	h.wantInt(h.do("SETRANGE", "t", "0", "x"), 2)
	if got := h.pttl("t"); got != 100_000 {
		t.Fatalf("APPEND/SETRANGE lost the ttl: %d", got)
	}
	h.putList("l")
	for _, args := range [][]string{
		{"APPEND", "l", "x"}, {"STRLEN", "l"}, {"GETRANGE", "l", "0", "1"},
		{"SUBSTR", "l", "0", "1"}, {"SETRANGE", "l", "0", "x"}, {"SETRANGE", "l", "0", ""},
		{"SETRANGE", "l", "536870912", "x"},
	} {
		h.wantErr(h.do(args...), CodeWrongType)
	}

	h.do("SET", "s", "hello")
	for _, c := range []struct{ start, end, want string }{
		{"0", "-1", "hello"}, {"-1", "-5", ""}, {"-5", "-1", "hello"}, {"0", "-100", "h"},
		{"-100", "-100", "h"}, {"10", "20", ""}, {"3", "2", ""}, {"1", "3", "ell"},
		{"-3", "100", "llo"}, {"-9223372036854775808", "9223372036854775807", "hello"},
		{"4", "4", "o"}, {"5", "5", ""},
	} {
		h.wantBulk(h.do("GETRANGE", "s", c.start, c.end), c.want)
		h.wantBulk(h.do("SUBSTR", "s", c.start, c.end), c.want)
	}
	h.wantBulk(h.do("GETRANGE", "missing", "0", "1"), "")
	h.do("SET", "e", "")
	h.wantBulk(h.do("GETRANGE", "e", "0", "-1"), "")
	h.wantErr(h.do("GETRANGE", "s", "a", "1"), CodeNotInt)
	h.wantErr(h.do("GETRANGE", "missing", "0", "1.0"), CodeNotInt)
	h.wantErr(h.do("GETRANGE", "l", "x", "1"), CodeNotInt) // parsed before the lookup

	h.wantInt(h.do("SETRANGE", "r", "5", "ab"), 7)
	h.wantBulk(h.do("GET", "r"), "\x00\x00\x00\x00\x00ab")
	h.wantInt(h.do("SETRANGE", "r", "0", ""), 7)
	h.wantInt(h.do("SETRANGE", "r", "9", "z"), 10)
	h.wantInt(h.do("SETRANGE", "r", "1", "XY"), 10)
	h.wantBulk(h.do("GET", "r"), "\x00XY\x00\x00ab\x00\x00z")
	h.wantInt(h.do("SETRANGE", "nokey", "3", ""), 0)
	h.wantNil(h.do("GET", "nokey"))
	h.wantInt(h.do("SETRANGE", "nokey", "536870912", ""), 0) // empty value: no size check
	h.wantErr(h.do("SETRANGE", "nokey", "536870912", "x"), CodeStringTooLong)
	h.wantErr(h.do("SETRANGE", "r", "536870910", "abc"), CodeStringTooLong)
	h.wantErr(h.do("SETRANGE", "r", "9223372036854775807", "x"), CodeStringTooLong)
	h.wantErr(h.do("SETRANGE", "r", "-1", "x"), CodeOffsetRange)
	h.wantErr(h.do("SETRANGE", "l", "-1", "x"), CodeOffsetRange)
	h.wantErr(h.do("SETRANGE", "r", "x", ""), CodeNotInt)
	h.wantNil(h.do("GET", "nokey"))
}

func TestStringCheckLength(t *testing.T) {
	ok := [][2]int64{{0, 0}, {maxStringLen - 1, 1}, {0, maxStringLen}}
	bad := [][2]int64{{maxStringLen, 1}, {1, maxStringLen}, {math.MaxInt64, 1}, {1, math.MaxInt64}, {math.MaxInt64, math.MaxInt64}}
	for _, c := range ok {
		if !checkStringLength(c[0], c[1]) {
			t.Errorf("checkStringLength(%d, %d) refused", c[0], c[1])
		}
	}
	for _, c := range bad {
		if checkStringLength(c[0], c[1]) {
			t.Errorf("checkStringLength(%d, %d) allowed", c[0], c[1])
		}
	}
}

func TestStringIncrDecr(t *testing.T) {
	h := newHarness(t)
	h.wantInt(h.do("INCR", "n"), 1)
	h.wantInt(h.do("DECR", "n"), 0)
	h.wantInt(h.do("DECR", "n"), -1)
	h.wantInt(h.do("INCRBY", "n", "-9223372036854775806"), -9223372036854775807)
	h.wantInt(h.do("DECR", "n"), math.MinInt64)
	h.wantErr(h.do("DECRBY", "n", "1"), CodeOverflow)
	h.wantErr(h.do("DECR", "n"), CodeOverflow)
	h.wantBulk(h.do("GET", "n"), "-9223372036854775808")
	h.wantInt(h.do("INCRBY", "n", "9223372036854775807"), -1)
	h.wantInt(h.do("DECRBY", "n", "-5"), 4)
	h.wantInt(h.do("DECRBY", "m", "3"), -3)
	h.wantBulk(h.do("GET", "m"), "-3")

	h.do("SET", "big", "9223372036854775807")
	h.wantErr(h.do("INCR", "big"), CodeOverflow)
	h.wantInt(h.do("DECR", "big"), math.MaxInt64-1)
	h.do("SET", "big", "-10")
	h.wantErr(h.do("DECRBY", "big", "9223372036854775807"), CodeOverflow)
	h.wantErr(h.do("DECRBY", "big", "-9223372036854775808"), CodeDecrOverflow)
	h.wantErr(h.do("DECRBY", "missing", "-9223372036854775808"), CodeDecrOverflow)
	h.wantInt(h.do("DECRBY", "x", "-9223372036854775807"), math.MaxInt64)

	for _, v := range []string{" 1", "1 ", "01", "+1", "-0", "1.0", "abc", "", "12345678901234567890"} {
		h.do("SET", "w", v)
		h.wantErr(h.do("INCR", "w"), CodeNotInt)
		h.wantBulk(h.do("GET", "w"), v)
	}
	for _, v := range []string{"1.0", "+1", "01", "", "9223372036854775808"} {
		h.wantErr(h.do("INCRBY", "n", v), CodeNotInt)
		h.wantErr(h.do("DECRBY", "n", v), CodeNotInt)
	}
	h.putList("l")
	for _, args := range [][]string{{"INCR", "l"}, {"DECR", "l"}, {"INCRBY", "l", "1"}, {"DECRBY", "l", "1"}} {
		h.wantErr(h.do(args...), CodeWrongType)
	}
	h.wantErr(h.do("INCRBY", "l", "x"), CodeNotInt) // increment parsed first

	// INCR keeps the TTL.
	h.do("SET", "t", "5", "EX", "100")
	h.wantInt(h.do("INCR", "t"), 6)
	h.wantInt(h.do("INCRBY", "t", "10"), 16)
	if got := h.pttl("t"); got != 100_000 {
		t.Fatalf("INCR lost the ttl: %d", got)
	}
	h.now += 100_000
	h.wantInt(h.do("INCR", "t"), 1) // expired: starts again from 0
	if got := h.pttl("t"); got != -1 {
		t.Fatalf("ttl %d", got)
	}
}

func TestStringIncrByFloat(t *testing.T) {
	h := newHarness(t)
	// Outputs recorded from redis-server 7.0.15 on x86-64.
	for _, c := range []struct{ start, incr, want string }{
		{"10.5", "0.1", "10.6"}, {"10.6", "3.0e3", "3010.60000000000000009"}, {"0", "3.0e3", "3000"},
		{"0", "1e20", "100000000000000000000"}, {"1.1", "2.2", "3.3"}, {"0.1", "0.2", "0.3"},
		{"5", "-5.0001", "-0.0001"}, {"-0.0001", "1e-17", "-0.00009999999999999"},
		{"123456789012345678", "0.5", "123456789012345678.5"},
		{"12345678901234567890", "1", "12345678901234567891"}, {"10", "-10", "0"}, {"0", "-0.0000001", "-0.0000001"},
		{"-0.0", "0", "0"}, {"0", "-0", "0"}, {"1e-30", "0", "0"},
		{"0", "-0.000000000000000001", "0"}, {"0", "0.000000000000000015", "0.00000000000000002"},
		{"0", "0.000000000000000005", "0"},
		{"0.00000000000000001", "0.000000000000000005", "0.00000000000000002"},
		{"1e10", "0", "10000000000"}, {"1", "0x10", "17"}, {"17", "0x1p-2", "17.25"},
		{"3", "0x1.8p1", "6"}, {"17.25", "+1.5", "18.75"}, {"18.75", ".5", "19.25"},
		{"19.25", "5.", "24.25"}, {"0", "1e-4940", "0"}, {"0", "0e-5000", "0"},
		{"0", "1e300", "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"},
		{"1e300", "1e300", "2000000000000000000017994648159118387741047888546581495876520164642531293192361871511698304167500994380700745017228549671807185112369345967826192521041497292574654271283687306588168510215212033579453305864740061102765895241989080589545563779241212358535223254194821301134374772211380178849830208012288"},
	} {
		h.do("SET", "f", c.start)
		h.wantBulk(h.do("INCRBYFLOAT", "f", c.incr), c.want)
		h.wantBulk(h.do("GET", "f"), c.want)
	}
	// Huge but finite long doubles (beyond float64).
	h.do("SET", "f", "0")
	r := h.do("INCRBYFLOAT", "f", "1.18e4932")
	if r.Kind != KindBulk || len(r.Str) != 4933 || !strings.HasPrefix(r.Str, "11800000000000000000006528129180936992") {
		t.Fatalf("1.18e4932: %.60s... (%d chars)", r.Str, len(r.Str))
	}
	h.wantErr(h.do("INCRBYFLOAT", "f", "1.18e4932"), CodeNaNInf)

	for _, c := range []struct {
		start, incr string
		code        Code
	}{
		{"3", "abc", CodeNotFloat}, {"3", "1 ", CodeNotFloat}, {"3", " 1", CodeNotFloat},
		{"3", "", CodeNotFloat}, {"3", "1e", CodeNotFloat}, {"3", "--1", CodeNotFloat},
		{"3", "NaN", CodeNotFloat}, {"3", "nan", CodeNotFloat}, {"3", "1p3", CodeNotFloat},
		{"3", "1_0", CodeNotFloat}, {"3", "0x", CodeNotFloat}, {"3", "0b1", CodeNotFloat},
		{"3", "1e5000", CodeNotFloat}, {"3", "1e-5000", CodeNotFloat}, {"3", "1.2e4932", CodeNotFloat},
		{"3", "1e-4960", CodeNotFloat}, {"3", "1e99999999999999999999", CodeNotFloat},
		{"3", "inf", CodeNaNInf}, {"3", "-Infinity", CodeNaNInf}, {"3", "+INF", CodeNaNInf},
		{" 3", "1", CodeNotFloat}, {"3 ", "1", CodeNotFloat}, {"abc", "1", CodeNotFloat},
		{"1e5000", "1", CodeNotFloat}, {"inf", "1", CodeNaNInf}, {"abc", "inf", CodeNotFloat},
		{"1.18e4932", "-inf", CodeNaNInf}, {"1e4932", "1e4932", CodeNaNInf},
		{"0x1p16383", "0x1p16383", CodeNaNInf},
	} {
		h.do("SET", "f", c.start)
		h.wantErr(h.do("INCRBYFLOAT", "f", c.incr), c.code)
		h.wantBulk(h.do("GET", "f"), c.start)
	}
	h.wantBulk(h.do("INCRBYFLOAT", "nokey", "2.5e-3"), "0.0025")
	h.wantBulk(h.do("INCRBYFLOAT", "nokey2", "-1e-25"), "0")
	h.wantBulk(h.do("GET", "nokey2"), "0")
	h.wantErr(h.do("INCRBYFLOAT", "nokey3", "abc"), CodeNotFloat)
	h.wantNil(h.do("GET", "nokey3"))

	// Type check comes before the increment is parsed.
	h.putList("l")
	h.wantErr(h.do("INCRBYFLOAT", "l", "abc"), CodeWrongType)
	h.wantErr(h.do("INCRBYFLOAT", "l", "1"), CodeWrongType)

	// Keeps the TTL.
	h.do("SET", "t", "5", "EX", "100")
	h.wantBulk(h.do("INCRBYFLOAT", "t", "1.5"), "6.5")
	if got := h.pttl("t"); got != 100_000 {
		t.Fatalf("INCRBYFLOAT lost the ttl: %d", got)
	}
}

func TestStringLCS(t *testing.T) {
	h := newHarness(t)
	h.do("MSET", "key1", "ohmytext", "key2", "mynewtext", "a", "abcdef", "b", "xabyzcdefq", "c", "", "d", "aaaa", "e", "aa")
	// Expected replies recorded from redis-server 7.0.15.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"key1", "key2"}, `"mytext"`},
		{[]string{"key1", "key2", "LEN"}, `6`},
		{[]string{"key1", "key2", "IDX"}, `map["matches" [[[4 7] [5 8]] [[2 3] [0 1]]] "len" 6]`},
		{[]string{"key1", "key2", "IDX", "MINMATCHLEN", "4"}, `map["matches" [[[4 7] [5 8]]] "len" 6]`},
		{[]string{"key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"}, `map["matches" [[[4 7] [5 8] 4]] "len" 6]`},
		{[]string{"key1", "key2", "IDX", "WITHMATCHLEN"}, `map["matches" [[[4 7] [5 8] 4] [[2 3] [0 1] 2]] "len" 6]`},
		{[]string{"key1", "key2", "LEN", "WITHMATCHLEN"}, `6`},
		{[]string{"key1", "key2", "MINMATCHLEN", "-5", "IDX"}, `map["matches" [[[4 7] [5 8]] [[2 3] [0 1]]] "len" 6]`},
		{[]string{"a", "b", "idx", "withmatchlen"}, `map["matches" [[[2 5] [5 8] 4] [[0 1] [1 2] 2]] "len" 6]`},
		{[]string{"a", "b"}, `"abcdef"`},
		{[]string{"b", "a", "idx"}, `map["matches" [[[5 8] [2 5]] [[1 2] [0 1]]] "len" 6]`},
		{[]string{"d", "e", "idx"}, `map["matches" [[[2 3] [0 1]]] "len" 2]`},
		{[]string{"d", "e"}, `"aa"`},
		{[]string{"a", "c", "idx"}, `map["matches" [] "len" 0]`},
		{[]string{"a", "missing", "IDX"}, `map["matches" [] "len" 0]`},
		{[]string{"missing", "missing2"}, `""`},
		{[]string{"a", "b", "IdX", "MinMatchLen", "0", "WITHMATCHLEN"}, `map["matches" [[[2 5] [5 8] 4] [[0 1] [1 2] 2]] "len" 6]`},
		{[]string{"a", "b", "minmatchlen", "5", "minmatchlen", "1", "idx"}, `map["matches" [[[2 5] [5 8]] [[0 1] [1 2]]] "len" 6]`},
		{[]string{"a", "b", "len", "minmatchlen", "3", "withmatchlen"}, `6`},
	} {
		h.wantText(h.do(append([]string{"LCS"}, c.args...)...), c.want)
	}
	h.wantErr(h.do("LCS", "key1", "key2", "LEN", "IDX"), CodeLCSOpts)
	h.wantErr(h.do("LCS", "key1", "key2", "MINMATCHLEN"), CodeSyntax)
	h.wantErr(h.do("LCS", "key1", "key2", "MINMATCHLEN", "x"), CodeNotInt)
	h.wantErr(h.do("LCS", "key1", "key2", "FOO"), CodeSyntax)
	h.wantErr(h.do("LCS", "key1", "key2", "FOO", "LEN", "IDX"), CodeSyntax)
	h.wantErr(h.do("LCS", "key1", "key2", "LEN", "IDX", "FOO"), CodeSyntax)
	h.putList("l")
	h.wantErr(h.do("LCS", "key1", "l"), CodeLCSNotString)
	h.wantErr(h.do("LCS", "l", "key1", "FOO"), CodeLCSNotString) // before option parsing
	// Redis refuses a table larger than 512MB ((12001*12001)*4 bytes).
	big := strings.Repeat("a", 12000)
	h.do("SET", "big", big)
	h.wantErr(h.do("LCS", "big", "big", "LEN"), CodeLCSMemory)
	h.do("SET", "mid", big[:11200])
	h.wantErr(h.do("LCS", "big", "mid", "LEN"), CodeLCSMemory)
}

// TestStringValuesAreCopies applies an entry, then scribbles over its
// buffer: the stored values must not change.
func TestStringValuesAreCopies(t *testing.T) {
	db := NewDB()
	cmds := [][]string{
		{"SET", "a", "value-a"}, {"MSET", "b", "value-b", "c", "value-c"},
		{"APPEND", "d", "value-d"}, {"SETRANGE", "e", "1", "value-e"},
		{"GETSET", "f", "value-f"}, {"SETNX", "g", "value-g"}, {"SETEX", "h", "100", "value-h"},
		{"MSETNX", "i", "value-i"}, {"SET", "j", "value-j", "EX", "100"},
	}
	now := int64(1_700_000_000_000)
	buf := AppendEntryHeader(nil, EntryBatch, now, len(cmds))
	for _, c := range cmds {
		cmd := Commands.Lookup([]byte(c[0]))
		args, err := cmd.Prepare(toArgs(c), now)
		if err != nil {
			t.Fatal(err)
		}
		buf = AppendEntryCmd(buf, Commands.Lookup(args[0]).Op, args)
	}
	e, err := DecodeEntry(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ApplyEntry(e); err != nil {
		t.Fatal(err)
	}
	before := dumpDB(db)
	for i := range buf {
		buf[i] = 'X'
	}
	if after := dumpDB(db); after != before {
		t.Fatalf("stored values alias the log buffer:\n%s\n%s", before, after)
	}
}

func dumpDB(db *DB) string {
	var sb strings.Builder
	db.Ascend(0, math.MaxUint64, func(e KeyEntry) bool {
		fmt.Fprintf(&sb, "%q=%q@%d;", e.Key, fmt.Sprint(e.Val), e.Exp)
		return true
	})
	return sb.String()
}

// TestStringDeterminism prepares a mixed workload at a leader whose clock
// moves, encodes it, and applies the very same entries to two replicas:
// replies and keyspaces must be identical.
func TestStringDeterminism(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	keys := []string{"a", "b", "c", "n", "f"}
	templates := []string{
		"SET $k v$n EX $n", "SET $k v$n PX $n00 GET", "SETEX $k $n x", "PSETEX $k $n000 y",
		"GETEX $k EX $n", "GETEX $k PERSIST", "INCRBY $k $n", "INCRBYFLOAT $k 0.$n", "APPEND $k $n",
		"SETRANGE $k $n z", "MSET $k $n $j $n", "GETDEL $k", "SET $k $n NX KEEPTTL", "SET $k $n XX",
		"GETSET $k $n", "SET $k v EXAT 1", "GETEX $k PXAT 1",
	}
	gen := func() []string {
		r := strings.NewReplacer("$k", keys[rng.Intn(len(keys))], "$j", keys[rng.Intn(len(keys))],
			"$n", strconv.Itoa(rng.Intn(20)+1))
		return strings.Fields(r.Replace(templates[rng.Intn(len(templates))]))
	}
	var entries [][]byte
	now := int64(1_700_000_000_000)
	for i := 0; i < 300; i++ {
		now += int64(rng.Intn(3000))
		n := 1 + rng.Intn(4)
		buf := AppendEntryHeader(nil, EntryBatch, now, n)
		for j := 0; j < n; j++ {
			c := gen()
			cmd := Commands.Lookup([]byte(c[0]))
			args, err := cmd.Prepare(toArgs(c), now)
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			buf = AppendEntryCmd(buf, Commands.Lookup(args[0]).Op, args)
		}
		entries = append(entries, buf)
	}
	run := func() (string, string) {
		db := NewDB()
		var replies strings.Builder
		for _, b := range entries {
			e, err := DecodeEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := db.ApplyEntry(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				replies.WriteString(strFmt(r) + ";")
			}
		}
		return replies.String(), dumpDB(db)
	}
	r1, d1 := run()
	r2, d2 := run()
	if r1 != r2 || d1 != d2 {
		t.Fatal("replicas diverged")
	}
	if d1 == "" || !strings.Contains(r1, "+OK") {
		t.Fatalf("workload did nothing useful: %s", d1)
	}
}

// TestStringRobustness feeds every string command short and random
// argument lists through Prepare and Run: nothing may panic.
func TestStringRobustness(t *testing.T) {
	pool := []string{"", "k", "s", "l", "0", "1", "-1", "3", "100", "abc", "1.5", "inf", "nan",
		"9223372036854775807", "-9223372036854775808", "ex", "PX", "exat", "pxat", "nx", "xx",
		"get", "keepttl", "persist", "idx", "len", "withmatchlen", "minmatchlen", "0x1p3"}
	rng := rand.New(rand.NewSource(1))
	now := int64(1_700_000_000_000)
	for _, cmd := range stringCommands {
		for n := 0; n <= 6; n++ {
			for try := 0; try < 40; try++ {
				db := NewDB()
				db.SetNow(now)
				db.Set("k", "hello", 0)
				db.Set("s", "12", now+1000)
				db.Set("l", &strTestList{}, 0)
				args := make([][]byte, n)
				for i := range args {
					args[i] = []byte(pool[rng.Intn(len(pool))])
				}
				if n > 0 && try%2 == 0 {
					args[0] = []byte(cmd.Name)
				}
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s %q panicked: %v", cmd.Name, args, p)
						}
					}()
					if cmd.Prepare != nil {
						if out, err := cmd.Prepare(args, now); err == nil && len(out) > 0 {
							if target := Commands.Lookup(out[0]); target != nil {
								target.Run(db, out)
							}
						}
					}
					cmd.Run(db, args)
				}()
			}
		}
	}
}
