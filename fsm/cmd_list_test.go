package fsm

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// wantBulks checks an array reply of bulk strings.
func (h *harness) wantBulks(r Reply, want ...string) {
	h.t.Helper()
	if r.Kind != KindArray || len(r.Arr) != len(want) {
		h.t.Fatalf("want array %q, got %+v", want, r)
	}
	for i, e := range r.Arr {
		if e.Kind != KindBulk || e.Str != want[i] {
			h.t.Fatalf("want array %q, got %+v (element %d)", want, r, i)
		}
	}
}

// wantInts checks an array reply of integers.
func (h *harness) wantInts(r Reply, want ...int64) {
	h.t.Helper()
	if r.Kind != KindArray || len(r.Arr) != len(want) {
		h.t.Fatalf("want array %v, got %+v", want, r)
	}
	for i, e := range r.Arr {
		if e.Kind != KindInt || e.Int != want[i] {
			h.t.Fatalf("want array %v, got %+v (element %d)", want, r, i)
		}
	}
}

// elems returns the whole list at key (via LRANGE).
func (h *harness) elems(key string) []string {
	h.t.Helper()
	r := h.do("LRANGE", key, "0", "-1")
	if r.Kind != KindArray {
		h.t.Fatalf("LRANGE %s: %+v", key, r)
	}
	out := make([]string, len(r.Arr))
	for i, e := range r.Arr {
		out[i] = e.Str
	}
	return out
}

func TestListPushPop(t *testing.T) {
	h := newHarness(t)
	h.wantInt(h.do("LPUSH", "l", "a"), 1)
	h.wantInt(h.do("lpush", "l", "b", "c"), 3)
	h.wantInt(h.do("RPUSH", "l", "x", "y"), 5)
	h.wantBulks(h.do("LRANGE", "l", "0", "-1"), "c", "b", "a", "x", "y")
	h.wantInt(h.do("LLEN", "l"), 5)
	h.wantBulk(h.do("LPOP", "l"), "c")
	h.wantBulk(h.do("RPOP", "l"), "y")
	h.wantBulks(h.do("LPOP", "l", "2"), "b", "a")
	h.wantBulks(h.do("RPOP", "l", "0"))
	h.wantBulks(h.do("RPOP", "l", "5"), "x") // count beyond the length
	if h.db.Exists("l") || h.db.Len() != 0 {
		t.Fatal("an emptied list must delete its key")
	}
	h.wantNil(h.do("LPOP", "l"))
	if r := h.do("LPOP", "l", "3"); r.Kind != KindNilArray {
		t.Fatalf("LPOP missing key with count: %+v", r)
	}
	if r := h.do("RPOP", "l", "0"); r.Kind != KindNilArray {
		t.Fatalf("RPOP missing key with count 0: %+v", r)
	}
	h.wantInt(h.do("LLEN", "l"), 0)

	h.do("RPUSH", "l", "1", "2", "3")
	h.wantBulks(h.do("RPOP", "l", "2"), "3", "2") // popped order
	for _, c := range []string{"-1", "abc", "1.5", "", "9223372036854775808"} {
		h.wantErr(h.do("LPOP", "l", c), CodeNotPositive)
	}
	h.wantErr(h.do("LPOP", "nokey", "x"), CodeNotPositive)
	h.wantBulks(h.do("LPOP", "l", "9223372036854775807"), "1")

	h.wantInt(h.do("LPUSHX", "l", "a"), 0)
	h.wantInt(h.do("RPUSHX", "l", "a"), 0)
	if h.db.Exists("l") {
		t.Fatal("PUSHX created a key")
	}
	h.do("RPUSH", "l", "m")
	h.wantInt(h.do("LPUSHX", "l", "a", "b"), 3)
	h.wantInt(h.do("RPUSHX", "l", "y", "z"), 5)
	h.wantBulks(h.do("LRANGE", "l", "0", "-1"), "b", "a", "m", "y", "z")

	for _, args := range [][]string{{"lpush", "l"}, {"rpush"}, {"lpushx", "l"}, {"rpushx"},
		{"lpop"}, {"rpop", "l", "1", "2"}, {"llen"}, {"llen", "a", "b"}, {"lrange", "l", "0"},
		{"lindex", "l"}, {"lset", "l", "0"}, {"lrem", "l", "0"}, {"ltrim", "l", "0"},
		{"linsert", "l", "before", "a"}, {"lpos", "l"}, {"lmove", "a", "b", "left"},
		{"rpoplpush", "a"}, {"lmpop", "1", "a"}} {
		r := h.do(args...)
		h.wantErr(r, CodeWrongArgs)
		if r.Str != args[0] {
			t.Fatalf("%v: arity error names %q", args, r.Str)
		}
	}
}

func TestListRangeIndexSet(t *testing.T) {
	h := newHarness(t)
	h.do("RPUSH", "l", "a", "b", "c", "d", "e", "f", "g")
	for _, c := range []struct {
		start, end string
		want       []string
	}{
		{"0", "0", []string{"a"}},
		{"2", "4", []string{"c", "d", "e"}},
		{"-3", "-1", []string{"e", "f", "g"}},
		{"-100", "1", []string{"a", "b"}},
		{"5", "100", []string{"f", "g"}},
		{"7", "8", nil},
		{"3", "2", nil},
		{"-1", "-3", nil},
		{"0", "-8", nil},
		{"-9223372036854775808", "9223372036854775807", []string{"a", "b", "c", "d", "e", "f", "g"}},
		{"9223372036854775807", "-9223372036854775808", nil},
	} {
		h.wantBulks(h.do("LRANGE", "l", c.start, c.end), c.want...)
	}
	h.wantErr(h.do("LRANGE", "l", "a", "1"), CodeNotInt)
	h.wantErr(h.do("LRANGE", "nokey", "0", "x"), CodeNotInt) // before the lookup
	h.wantBulks(h.do("LRANGE", "nokey", "0", "-1"))

	h.wantBulk(h.do("LINDEX", "l", "0"), "a")
	h.wantBulk(h.do("LINDEX", "l", "-1"), "g")
	h.wantBulk(h.do("LINDEX", "l", "-7"), "a")
	h.wantNil(h.do("LINDEX", "l", "7"))
	h.wantNil(h.do("LINDEX", "l", "-8"))
	h.wantNil(h.do("LINDEX", "l", "-9223372036854775808"))
	h.wantErr(h.do("LINDEX", "l", "x"), CodeNotInt)
	h.wantNil(h.do("LINDEX", "nokey", "x")) // the key is looked up first

	h.wantStatus(h.do("LSET", "l", "0", "A"), "OK")
	h.wantStatus(h.do("LSET", "l", "-1", "G"), "OK")
	h.wantErr(h.do("LSET", "l", "7", "x"), CodeOutOfRange)
	h.wantErr(h.do("LSET", "l", "-8", "x"), CodeOutOfRange)
	h.wantErr(h.do("LSET", "l", "x", "x"), CodeNotInt)
	h.wantErr(h.do("LSET", "nokey", "x", "x"), CodeNoSuchKey) // before the index
	h.wantBulks(h.do("LRANGE", "l", "0", "-1"), "A", "b", "c", "d", "e", "f", "G")
}

func TestListRemTrimInsert(t *testing.T) {
	h := newHarness(t)
	h.do("RPUSH", "l", "a", "b", "a", "c", "a", "d", "a")
	h.wantInt(h.do("LREM", "l", "2", "a"), 2)
	h.wantBulks(h.do("LRANGE", "l", "0", "-1"), "b", "c", "a", "d", "a")
	h.wantInt(h.do("LREM", "l", "-1", "a"), 1)
	h.wantBulks(h.do("LRANGE", "l", "0", "-1"), "b", "c", "a", "d")
	h.wantInt(h.do("LREM", "l", "0", "zz"), 0)
	h.wantInt(h.do("LREM", "l", "0", "a"), 1)
	h.do("RPUSH", "l", "x", "y", "x", "y", "x")
	h.wantInt(h.do("LREM", "l", "-2", "x"), 2)
	h.wantBulks(h.do("LRANGE", "l", "0", "-1"), "b", "c", "d", "x", "y", "y")
	h.wantInt(h.do("LREM", "l", "-9223372036854775808", "y"), 2) // -MinInt64 wraps: all
	h.wantErr(h.do("LREM", "nokey", "x", "a"), CodeNotInt)
	h.wantInt(h.do("LREM", "nokey", "1", "a"), 0)
	h.wantInt(h.do("LREM", "l", "0", "b"), 1)
	h.wantInt(h.do("LREM", "l", "0", "c"), 1)
	h.wantInt(h.do("LREM", "l", "0", "d"), 1)
	h.wantInt(h.do("LREM", "l", "5", "x"), 1)
	if h.db.Exists("l") {
		t.Fatal("LREM emptied the list but kept the key")
	}

	h.do("RPUSH", "t", "a", "b", "c", "d", "e", "f", "g")
	h.wantStatus(h.do("LTRIM", "t", "1", "-2"), "OK")
	h.wantBulks(h.do("LRANGE", "t", "0", "-1"), "b", "c", "d", "e", "f")
	h.wantStatus(h.do("LTRIM", "t", "-3", "100"), "OK")
	h.wantBulks(h.do("LRANGE", "t", "0", "-1"), "d", "e", "f")
	h.wantStatus(h.do("LTRIM", "t", "0", "-1"), "OK")
	h.wantBulks(h.do("LRANGE", "t", "0", "-1"), "d", "e", "f")
	h.wantStatus(h.do("LTRIM", "t", "2", "1"), "OK")
	if h.db.Exists("t") {
		t.Fatal("LTRIM to an empty range kept the key")
	}
	h.wantStatus(h.do("LTRIM", "nokey", "0", "1"), "OK")
	h.wantErr(h.do("LTRIM", "nokey", "a", "1"), CodeNotInt)

	h.do("RPUSH", "i", "a", "b", "c")
	h.wantInt(h.do("LINSERT", "i", "BEFORE", "b", "x"), 4)
	h.wantInt(h.do("LINSERT", "i", "after", "b", "y"), 5)
	h.wantInt(h.do("LINSERT", "i", "before", "a", "first"), 6)
	h.wantInt(h.do("LINSERT", "i", "AFTER", "c", "last"), 7)
	h.wantBulks(h.do("LRANGE", "i", "0", "-1"), "first", "a", "x", "b", "y", "c", "last")
	h.wantInt(h.do("LINSERT", "i", "BEFORE", "zz", "v"), -1)
	h.wantInt(h.do("LINSERT", "nokey", "BEFORE", "a", "v"), 0)
	h.wantErr(h.do("LINSERT", "nokey", "MIDDLE", "a", "v"), CodeSyntax)
	if h.db.Exists("nokey") {
		t.Fatal("LINSERT created a key")
	}
}

func TestListPos(t *testing.T) {
	h := newHarness(t)
	h.do("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
	h.wantInt(h.do("LPOS", "l", "a"), 0)
	h.wantInt(h.do("LPOS", "l", "c"), 2)
	h.wantNil(h.do("LPOS", "l", "zz"))
	h.wantInt(h.do("LPOS", "l", "c", "RANK", "2"), 6)
	h.wantNil(h.do("LPOS", "l", "c", "RANK", "4"))
	h.wantInt(h.do("LPOS", "l", "c", "RANK", "-1"), 7)
	h.wantInt(h.do("LPOS", "l", "c", "RANK", "-3"), 2)
	h.wantNil(h.do("LPOS", "l", "c", "RANK", "-4"))
	h.wantInts(h.do("LPOS", "l", "c", "COUNT", "0"), 2, 6, 7)
	h.wantInts(h.do("LPOS", "l", "c", "COUNT", "2"), 2, 6)
	h.wantInts(h.do("LPOS", "l", "c", "COUNT", "2", "RANK", "2"), 6, 7)
	h.wantInts(h.do("LPOS", "l", "c", "COUNT", "0", "RANK", "-2"), 6, 2)
	h.wantNil(h.do("LPOS", "l", "c", "MAXLEN", "2"))
	h.wantInt(h.do("LPOS", "l", "c", "MAXLEN", "3"), 2)
	h.wantInts(h.do("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "2", "COUNT", "0"), 7, 6)
	h.wantInts(h.do("LPOS", "l", "zz", "COUNT", "5"))
	// RANK MinInt64 stays negative when negated (as in Redis): every match
	// qualifies, from the tail, and COUNT's arithmetic never stops it.
	h.wantInt(h.do("LPOS", "l", "c", "RANK", "-9223372036854775808"), 7)
	h.wantInts(h.do("LPOS", "l", "c", "RANK", "-9223372036854775808", "COUNT", "1"), 7, 6, 2)
	h.wantErr(h.do("LPOS", "l", "c", "RANK", "0"), CodeLPosRankZero)
	h.wantErr(h.do("LPOS", "nokey", "c", "RANK", "0"), CodeLPosRankZero)
	h.wantErr(h.do("LPOS", "l", "c", "RANK", "x"), CodeNotInt)
	h.wantErr(h.do("LPOS", "l", "c", "COUNT", "-1"), CodeLPosCountNeg)
	h.wantErr(h.do("LPOS", "l", "c", "COUNT", "x"), CodeLPosCountNeg)
	h.wantErr(h.do("LPOS", "l", "c", "MAXLEN", "-1"), CodeLPosMaxLenNeg)
	h.wantErr(h.do("LPOS", "l", "c", "RANK"), CodeSyntax)
	h.wantErr(h.do("LPOS", "l", "c", "FOO", "1"), CodeSyntax)
	h.wantNil(h.do("LPOS", "nokey", "a"))
	h.wantInts(h.do("LPOS", "nokey", "a", "COUNT", "1"))
}

func TestListMoveAndMPop(t *testing.T) {
	h := newHarness(t)
	h.do("RPUSH", "{l}src", "a", "b", "c", "d")
	h.wantBulk(h.do("LMOVE", "{l}src", "{l}dst", "LEFT", "RIGHT"), "a")
	h.wantBulk(h.do("LMOVE", "{l}src", "{l}dst", "right", "left"), "d")
	h.wantBulk(h.do("RPOPLPUSH", "{l}src", "{l}dst"), "c")
	h.wantBulks(h.do("LRANGE", "{l}dst", "0", "-1"), "c", "d", "a")
	h.wantBulk(h.do("LMOVE", "{l}src", "{l}dst", "LEFT", "LEFT"), "b")
	if h.db.Exists("{l}src") {
		t.Fatal("LMOVE emptied the source but kept the key")
	}
	h.wantNil(h.do("LMOVE", "{l}src", "{l}dst", "LEFT", "LEFT"))
	// Same key: rotation, even for a single element.
	h.wantBulk(h.do("LMOVE", "{l}dst", "{l}dst", "LEFT", "RIGHT"), "b")
	h.wantBulks(h.do("LRANGE", "{l}dst", "0", "-1"), "c", "d", "a", "b")
	h.wantBulk(h.do("RPOPLPUSH", "{l}dst", "{l}dst"), "b")
	h.wantBulks(h.do("LRANGE", "{l}dst", "0", "-1"), "b", "c", "d", "a")
	h.do("RPUSH", "{l}one", "x")
	h.wantBulk(h.do("LMOVE", "{l}one", "{l}one", "LEFT", "RIGHT"), "x")
	h.wantBulks(h.do("LRANGE", "{l}one", "0", "-1"), "x")
	h.wantErr(h.do("LMOVE", "{l}a", "{l}b", "UP", "LEFT"), CodeSyntax)
	h.wantErr(h.do("LMOVE", "{l}a", "{l}b", "LEFT", "DOWN"), CodeSyntax)
	// Destination of another type: nothing moves.
	h.db.Set("{l}s", "str", 0)
	h.wantErr(h.do("LMOVE", "{l}dst", "{l}s", "LEFT", "LEFT"), CodeWrongType)
	h.wantErr(h.do("RPOPLPUSH", "{l}dst", "{l}s"), CodeWrongType)
	h.wantNil(h.do("RPOPLPUSH", "{l}nokey", "{l}s")) // missing source first
	h.wantBulks(h.do("LRANGE", "{l}dst", "0", "-1"), "b", "c", "d", "a")

	h.do("RPUSH", "{m}a", "1", "2", "3", "4", "5")
	h.do("RPUSH", "{m}b", "x", "y")
	r := h.do("LMPOP", "1", "{m}a", "LEFT")
	if r.Kind != KindArray || len(r.Arr) != 2 || r.Arr[0].Str != "{m}a" {
		t.Fatalf("LMPOP: %+v", r)
	}
	h.wantBulks(r.Arr[1], "1")
	h.wantBulks(h.do("LMPOP", "1", "{m}a", "RIGHT", "COUNT", "2").Arr[1], "5", "4")
	h.wantBulks(h.do("LMPOP", "3", "{m}no", "{m}a", "{m}b", "left", "count", "9").Arr[1], "2", "3")
	r = h.do("LMPOP", "2", "{m}a", "{m}b", "RIGHT")
	h.wantBulk(r.Arr[0], "{m}b")
	h.wantBulks(r.Arr[1], "y")
	h.do("LMPOP", "1", "{m}b", "LEFT")
	if r := h.do("LMPOP", "2", "{m}a", "{m}b", "LEFT"); r.Kind != KindNilArray {
		t.Fatalf("LMPOP of missing lists: %+v", r)
	}
	h.db.Set("{m}s", "str", 0)
	h.wantErr(h.do("LMPOP", "2", "{m}a", "{m}s", "LEFT"), CodeWrongType)
	h.do("RPUSH", "{m}a", "z")
	h.wantBulks(h.do("LMPOP", "2", "{m}a", "{m}s", "LEFT").Arr[1], "z") // stops before the string
	for _, c := range []struct {
		args []string
		code Code
	}{
		{[]string{"LMPOP", "0", "k", "LEFT"}, CodeNumKeysZero},
		{[]string{"LMPOP", "-1", "k", "LEFT"}, CodeNumKeysZero},
		{[]string{"LMPOP", "x", "k", "LEFT"}, CodeNumKeysZero},
		{[]string{"LMPOP", "5", "k", "LEFT"}, CodeSyntax},
		{[]string{"LMPOP", "9223372036854775807", "k", "LEFT"}, CodeSyntax},
		{[]string{"LMPOP", "1", "k", "MIDDLE"}, CodeSyntax},
		{[]string{"LMPOP", "1", "k", "LEFT", "COUNT", "0"}, CodeCountZero},
		{[]string{"LMPOP", "1", "k", "LEFT", "COUNT", "x"}, CodeCountZero},
		{[]string{"LMPOP", "1", "k", "LEFT", "COUNT"}, CodeSyntax},
		{[]string{"LMPOP", "1", "k", "LEFT", "COUNT", "1", "COUNT", "1"}, CodeSyntax},
		{[]string{"LMPOP", "1", "k", "LEFT", "FOO"}, CodeSyntax},
	} {
		h.wantErr(h.do(c.args...), c.code)
	}
}

func TestListWrongType(t *testing.T) {
	h := newHarness(t)
	h.db.Set("s", "v", 0)
	for _, args := range [][]string{
		{"LPUSH", "s", "a"}, {"RPUSH", "s", "a"}, {"LPUSHX", "s", "a"}, {"RPUSHX", "s", "a"},
		{"LPOP", "s"}, {"RPOP", "s", "0"}, {"LLEN", "s"}, {"LRANGE", "s", "0", "-1"},
		{"LINDEX", "s", "x"}, {"LSET", "s", "x", "v"}, {"LREM", "s", "0", "v"}, {"LTRIM", "s", "0", "1"},
		{"LINSERT", "s", "BEFORE", "v", "x"}, {"LPOS", "s", "v"}, {"LPOS", "s", "v", "COUNT", "0"},
		{"LMOVE", "s", "d", "LEFT", "LEFT"}, {"RPOPLPUSH", "s", "d"}, {"LMPOP", "1", "s", "LEFT"},
	} {
		h.wantErr(h.do(args...), CodeWrongType)
	}
	h.wantBulk(h.do("GET", "s"), "v")

	h.do("RPUSH", "l", "1", "2")
	for _, args := range [][]string{
		{"GET", "l"}, {"GETSET", "l", "v"}, {"GETDEL", "l"}, {"GETEX", "l", "PERSIST"},
		{"APPEND", "l", "x"}, {"STRLEN", "l"}, {"GETRANGE", "l", "0", "-1"}, {"SETRANGE", "l", "0", ""},
		{"INCR", "l"}, {"DECRBY", "l", "2"}, {"INCRBYFLOAT", "l", "1"}, {"SET", "l", "v", "GET"},
	} {
		h.wantErr(h.do(args...), CodeWrongType)
	}
	h.wantErr(h.do("LCS", "l", "s"), CodeLCSNotString)
	r := h.do("MGET", "l", "s")
	if len(r.Arr) != 2 || r.Arr[0].Kind != KindNil || r.Arr[1].Str != "v" {
		t.Fatalf("MGET over a list: %+v", r)
	}
	h.wantInt(h.do("SETNX", "l", "v"), 0)
	h.wantNil(h.do("SET", "l", "v", "NX"))
	h.wantBulks(h.do("LRANGE", "l", "0", "-1"), "1", "2")
	h.wantStatus(h.do("SET", "l", "v"), "OK") // SET overwrites any type
	h.wantStatus(h.do("TYPE", "l"), "string")
	h.wantBulk(h.do("GET", "l"), "v")
}

func TestListGenericKeyCommands(t *testing.T) {
	h := newHarness(t)
	h.do("RPUSH", "l", "a", "b", "c")
	h.wantStatus(h.do("TYPE", "l"), "list")
	h.wantBulk(h.do("OBJECT", "ENCODING", "l"), "quicklist")
	h.wantInt(h.do("EXISTS", "l", "l"), 2)
	h.wantInt(h.do("EXPIRE", "l", "100"), 1)
	h.wantInt(h.do("TTL", "l"), 100)
	h.do("LPUSH", "l", "z") // in-place mutation keeps the deadline
	h.do("LSET", "l", "0", "y")
	h.wantInt(h.do("TTL", "l"), 100)
	h.wantInt(h.do("PERSIST", "l"), 1)
	h.wantInt(h.do("TTL", "l"), -1)
	h.do("PEXPIRE", "l", "10")
	h.now += 11
	h.wantInt(h.do("LLEN", "l"), 0)
	h.wantInt(h.do("RPUSH", "l", "fresh"), 1) // the expired list is gone
	h.wantInt(h.do("TTL", "l"), -1)

	h.do("RPUSH", "{c}a", "1", "2")
	h.wantStatus(h.do("RENAME", "{c}a", "{c}b"), "OK")
	h.wantBulks(h.do("LRANGE", "{c}b", "0", "-1"), "1", "2")
	h.wantInt(h.do("COPY", "{c}b", "{c}c"), 1)
	h.do("RPUSH", "{c}c", "3")
	h.do("LSET", "{c}b", "0", "one")
	h.wantBulks(h.do("LRANGE", "{c}b", "0", "-1"), "one", "2")
	h.wantBulks(h.do("LRANGE", "{c}c", "0", "-1"), "1", "2", "3")
	h.wantInt(h.do("DEL", "{c}b", "{c}c"), 2)

	h.db.Set("s", "x", 0)
	var keys []string
	next := uint64(0)
	for {
		var ks []string
		ks, next = h.db.ReadView(h.now).ScanRange(ScanArgs{Count: 100, Type: "LIST"}, next, math.MaxUint64)
		keys = append(keys, ks...)
		if next == math.MaxUint64 {
			break
		}
	}
	if !slices.Equal(keys, []string{"l"}) {
		t.Fatalf("SCAN TYPE list: %q", keys)
	}
}

// TestListModel drives random list commands against a slice model,
// exercising the ring buffer's wrap-around, growth and shrinking.
func TestListModel(t *testing.T) {
	h := newHarness(t)
	r := rand.New(rand.NewPCG(1, 2))
	var model []string
	val := func() string { return strconv.Itoa(r.IntN(6)) }
	idx := func() string { return strconv.Itoa(r.IntN(2*len(model)+3) - len(model) - 1) }
	for step := 0; step < 20000; step++ {
		switch op := r.IntN(10); op {
		case 0, 1:
			vs := []string{val(), val(), val()}[:1+r.IntN(3)]
			h.do(append([]string{"LPUSH", "k"}, vs...)...)
			for _, v := range vs {
				model = append([]string{v}, model...)
			}
		case 2, 3:
			n := 1 + r.IntN(40)
			args := []string{"RPUSH", "k"}
			for range n {
				v := val()
				args = append(args, v)
				model = append(model, v)
			}
			h.do(args...)
		case 4:
			n := r.IntN(20)
			h.do("LPOP", "k", strconv.Itoa(n))
			model = model[min(n, len(model)):]
		case 5:
			n := r.IntN(20)
			h.do("RPOP", "k", strconv.Itoa(n))
			model = model[:len(model)-min(n, len(model))]
		case 6:
			v, c := val(), r.IntN(5)-2
			h.do("LREM", "k", strconv.Itoa(c), v)
			model = modelRem(model, v, c)
		case 7:
			if len(model) > 0 {
				i := r.IntN(len(model))
				v := val()
				after := r.IntN(2) == 0
				where := "BEFORE"
				if after {
					where = "AFTER"
				}
				pivot := model[i]
				j := slices.Index(model, pivot)
				if after {
					j++
				}
				h.do("LINSERT", "k", where, pivot, v)
				model = slices.Insert(model, j, v)
			}
		case 8:
			if len(model) > 30 || r.IntN(4) == 0 {
				s, e := idx(), idx()
				h.do("LTRIM", "k", s, e)
				model = modelTrim(model, s, e)
			}
		case 9:
			if len(model) > 0 {
				i := r.IntN(len(model))
				v := val()
				arg := i
				if r.IntN(2) == 0 {
					arg = i - len(model) // the same element, counted from the tail
				}
				h.wantStatus(h.do("LSET", "k", strconv.Itoa(arg), v), "OK")
				model[i] = v
			}
		}
		if step%97 == 0 || len(model) < 3 {
			got := h.elems("k")
			if !slices.Equal(got, model) && !(len(got) == 0 && len(model) == 0) {
				t.Fatalf("step %d: list %q, model %q", step, got, model)
			}
			if h.db.Exists("k") != (len(model) > 0) {
				t.Fatalf("step %d: key exists %v with %d elements", step, h.db.Exists("k"), len(model))
			}
		}
	}
}

func modelRem(m []string, v string, count int) []string {
	var out []string
	removed := 0
	if count >= 0 {
		for _, e := range m {
			if e == v && (count == 0 || removed < count) {
				removed++
				continue
			}
			out = append(out, e)
		}
		return out
	}
	for i := len(m) - 1; i >= 0; i-- {
		if m[i] == v && removed < -count {
			removed++
			continue
		}
		out = append(out, m[i])
	}
	slices.Reverse(out)
	return out
}

func modelTrim(m []string, s, e string) []string {
	start, _ := strconv.ParseInt(s, 10, 64)
	end, _ := strconv.ParseInt(e, 10, 64)
	a, b, ok := clampRange(start, end, len(m))
	if !ok {
		return nil
	}
	return slices.Clone(m[a : b+1])
}

// LPUSH is O(1) per element: a long list built at the head stays fast and
// its ring stays within a factor of two of the length.
func TestListLongPush(t *testing.T) {
	h := newHarness(t)
	const n = 200_000
	args := []string{"LPUSH", "k"}
	for i := range 1000 {
		args = append(args, strconv.Itoa(i))
	}
	for range n / 1000 {
		h.do(args...)
	}
	h.wantInt(h.do("LLEN", "k"), n)
	h.wantBulk(h.do("LINDEX", "k", "0"), "999")
	h.wantBulk(h.do("LINDEX", "k", "-1"), "0")
	v, _ := h.db.Get("k")
	l := v.(*List)
	if len(l.buf) > 2*n {
		t.Fatalf("ring of %d for %d elements", len(l.buf), n)
	}
	h.do("LTRIM", "k", "0", "9")
	if len(l.buf) > 64 {
		t.Fatalf("ring not shrunk after LTRIM: %d", len(l.buf))
	}
}

// TestListSnapshotRoundTrip checks the recList record: contents, deadline,
// binary and empty elements, and refusal of corrupt records.
func TestListSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.do("RPUSH", "l", "a", "", "b\x00\r\n", "\xff")
	h.do("RPUSH", "ttl", "x")
	h.do("PEXPIRE", "ttl", "60000")
	big := []string{"RPUSH", "big"}
	for i := range 5000 {
		big = append(big, fmt.Sprint(i))
	}
	h.do(big...)
	h.do("LPUSH", "big", "head") // wrapped ring
	h.do("SET", "s", "str")
	var buf bytes.Buffer
	if err := h.db.Snapshot().WriteTo(&buf, 3); err != nil {
		t.Fatal(err)
	}
	db, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, k := range []string{"l", "ttl", "big"} {
		want[k] = h.elems(k)
	}
	h.db = db
	for k, w := range want {
		if got := h.elems(k); !slices.Equal(got, w) {
			t.Fatalf("%s restored as %q, want %q", k, got[:min(len(got), 5)], w[:min(len(w), 5)])
		}
	}
	if exp, ok := db.Expire("ttl"); !ok || exp != h.now+60000 {
		t.Fatalf("deadline lost: %d %v", exp, ok)
	}
	h.wantStatus(h.do("TYPE", "big"), "list")
	h.wantBulk(h.do("GET", "s"), "str")
	// The restored lists are writable.
	h.wantInt(h.do("RPUSH", "l", "z"), 5)

	for _, b := range [][]byte{nil, {0}, {2, 1, 'a'}, {1, 5, 'a'}, {1, 1, 'a', 'x'}, {0xff}} {
		if _, err := decodeList(b); err == nil {
			t.Fatalf("decodeList(%q) accepted a corrupt record", b)
		}
	}
}

// TestListSnapshotCopyOnWrite: lists that exist when a snapshot is taken
// are cloned before their first mutation, so the snapshot written later
// still holds the values of the moment it was taken.
func TestListSnapshotCopyOnWrite(t *testing.T) {
	h := newHarness(t)
	keys := []string{"{x}push", "{x}pop", "{x}set", "{x}rem", "{x}trim", "{x}ins", "{x}src", "{x}dst", "{x}mpop", "{x}copy"}
	for _, k := range keys {
		h.do("RPUSH", k, "a", "b", "c")
	}
	before := map[string][]string{}
	for _, k := range keys {
		before[k] = h.elems(k)
	}
	snap := h.db.Snapshot()
	h.do("LPUSH", "{x}push", "new")
	h.do("RPUSH", "{x}push", "new2")
	h.do("LPOP", "{x}pop", "3") // deletes the key
	h.do("LSET", "{x}set", "1", "B")
	h.do("LREM", "{x}rem", "0", "b")
	h.do("LTRIM", "{x}trim", "1", "1")
	h.do("LINSERT", "{x}ins", "AFTER", "a", "i")
	h.do("LMOVE", "{x}src", "{x}dst", "LEFT", "RIGHT")
	h.do("LMPOP", "1", "{x}mpop", "RIGHT")
	h.do("COPY", "{x}copy", "{x}copy2")
	h.do("RPUSH", "{x}copy2", "only-in-copy")
	h.do("RPUSH", "{x}copy", "only-in-orig")
	// Mutate twice in the new generation: the clone is reused in place.
	h.do("RPUSH", "{x}set", "z")
	v1, _ := h.db.Get("{x}set")
	h.do("RPUSH", "{x}set", "z")
	if v2, _ := h.db.Get("{x}set"); v1 != v2 {
		t.Fatal("a list of the current generation was cloned again")
	}

	var buf bytes.Buffer
	if err := snap.WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	db, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	live := h.db
	h.db = db
	for _, k := range keys {
		if got := h.elems(k); !slices.Equal(got, before[k]) {
			t.Fatalf("snapshot of %s = %q, want %q", k, got, before[k])
		}
	}
	if db.Exists("{x}copy2") || db.Len() != len(keys) {
		t.Fatalf("snapshot has %d keys", db.Len())
	}
	h.db = live
	for k, want := range map[string][]string{
		"{x}push": {"new", "a", "b", "c", "new2"}, "{x}set": {"a", "B", "c", "z", "z"},
		"{x}rem": {"a", "c"}, "{x}trim": {"b"}, "{x}ins": {"a", "i", "b", "c"},
		"{x}src": {"b", "c"}, "{x}dst": {"a", "b", "c", "a"}, "{x}mpop": {"a", "b"},
		"{x}copy": {"a", "b", "c", "only-in-orig"}, "{x}copy2": {"a", "b", "c", "only-in-copy"},
	} {
		if got := h.elems(k); !slices.Equal(got, want) {
			t.Fatalf("live %s = %q, want %q", k, got, want)
		}
	}
	if h.db.Exists("{x}pop") {
		t.Fatal("LPOP of every element kept the key")
	}
}

// TestListSnapshotConcurrentStream streams a snapshot while lists keep
// being mutated (run with -race: in-place mutation of a list the snapshot
// shares would be a data race, and would corrupt the streamed contents).
func TestListSnapshotConcurrentStream(t *testing.T) {
	h := newHarness(t)
	const lists = 50
	for i := range lists {
		args := []string{"RPUSH", fmt.Sprint("l", i)}
		for j := range 200 {
			args = append(args, fmt.Sprint(j))
		}
		h.do(args...)
	}
	snap := h.db.Snapshot()
	var buf bytes.Buffer
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		werr = snap.WriteTo(&buf, 1)
	}()
	for round := range 20 {
		for i := range lists {
			k := fmt.Sprint("l", i)
			h.do("LPUSH", k, "x")
			h.do("RPOP", k)
			h.do("LSET", k, "5", fmt.Sprint(round))
		}
	}
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	db, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	for i := range lists {
		got := h.elems(fmt.Sprint("l", i))
		if len(got) != 200 || got[0] != "0" || got[5] != "5" || got[199] != "199" {
			t.Fatalf("l%d in the snapshot: %d elements, %q ...", i, len(got), got[:min(6, len(got))])
		}
	}
}

// Parse errors are answered by Prepare at the leader (nothing is proposed);
// errors that depend on the key are answered by Run.
func TestListPrepare(t *testing.T) {
	for _, args := range [][]string{
		{"lpop", "k", "-1"}, {"lrem", "k", "x", "v"}, {"ltrim", "k", "a", "1"},
		{"linsert", "k", "middle", "a", "b"}, {"lmove", "a", "b", "up", "left"},
		{"lmpop", "0", "k", "left"}, {"lmpop", "1", "k", "left", "count", "0"},
	} {
		cmd := Commands.Lookup([]byte(args[0]))
		if _, err := cmd.Prepare(toArgs(args), 0); err == nil {
			t.Fatalf("%v: Prepare accepted it", args)
		}
	}
	// LSET answers "no such key" before looking at the index.
	if _, err := Commands.Lookup([]byte("lset")).Prepare(toArgs([]string{"lset", "k", "x", "v"}), 0); err != nil {
		t.Fatalf("LSET with a bad index refused by Prepare: %v", err)
	}
	for _, name := range []string{"llen", "lrange", "lindex", "lpos"} {
		if c := Commands.Lookup([]byte(name)); c.Write || c.Prepare != nil {
			t.Fatalf("%s must be a read", name)
		}
	}
	for _, name := range []string{"lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lset", "lrem", "ltrim", "linsert", "lmove", "rpoplpush", "lmpop"} {
		if c := Commands.Lookup([]byte(name)); !c.Write {
			t.Fatalf("%s must be a write", name)
		}
	}
}
