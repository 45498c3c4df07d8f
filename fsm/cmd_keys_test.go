package fsm

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// keysTestList is a stand-in aggregate value (the real ones come later):
// it has a TypeName, an Encoding and a deep Clone.
type keysTestList struct{ items []string }

func (l *keysTestList) TypeName() string { return "list" }
func (l *keysTestList) Encoding() string { return "quicklist" }
func (l *keysTestList) Clone() any       { return &keysTestList{items: slices.Clone(l.items)} }

// set stores a string directly (no dependency on SET).
func (h *harness) keysSet(key, val string, exp int64) { h.db.Set(key, val, exp) }

func TestKeyDelUnlinkExists(t *testing.T) {
	h := newHarness(t)
	h.keysSet("a", "1", 0)
	h.keysSet("b", "2", 0)
	h.wantInt(h.do("EXISTS", "a", "a", "b", "nokey"), 3)
	h.wantInt(h.do("touch", "a", "a", "nokey"), 2)
	h.wantInt(h.do("del", "a", "a", "nokey"), 1)
	h.wantInt(h.do("exists", "a"), 0)
	h.wantInt(h.do("unlink", "b", "nokey"), 1)
	h.wantInt(h.do("unlink", "b"), 0)
	if h.db.Len() != 0 {
		t.Fatalf("len %d", h.db.Len())
	}
	for _, c := range []string{"del", "unlink", "exists", "touch", "type", "ttl", "pttl", "expiretime", "pexpiretime", "persist"} {
		r := h.do(c)
		h.wantErr(r, CodeWrongArgs)
		if r.Str != c {
			t.Fatalf("%s: arity arg %q", c, r.Str)
		}
	}
	for _, c := range []string{"type", "ttl", "pttl", "expiretime", "pexpiretime", "persist"} {
		h.wantErr(h.do(c, "a", "b"), CodeWrongArgs)
	}
}

func TestKeyType(t *testing.T) {
	h := newHarness(t)
	h.keysSet("s", "x", 0)
	h.db.Set("l", &keysTestList{items: []string{"a"}}, 0)
	h.wantStatus(h.do("type", "s"), "string")
	h.wantStatus(h.do("TYPE", "l"), "list")
	h.wantStatus(h.do("type", "nokey"), "none")
}

func TestKeyReadOnlyFlags(t *testing.T) {
	reads := []string{"exists", "type", "touch", "ttl", "pttl", "expiretime", "pexpiretime", "object"}
	writes := []string{"del", "unlink", "expire", "pexpire", "expireat", "pexpireat", "persist", "rename", "renamenx", "copy", "flushall", "flushdb", "__expiredel"}
	for _, n := range reads {
		if c := Commands.Lookup([]byte(n)); c == nil || c.Write || c.Prepare != nil {
			t.Fatalf("%s should be a read", n)
		}
	}
	for _, n := range writes {
		if c := Commands.Lookup([]byte(n)); c == nil || !c.Write || c.Prepare == nil {
			t.Fatalf("%s should be a write", n)
		}
	}
}

func TestKeyExpireAndTTL(t *testing.T) {
	h := newHarness(t)
	h.keysSet("k", "v", 0)
	h.wantInt(h.do("ttl", "nokey"), -2)
	h.wantInt(h.do("pttl", "nokey"), -2)
	h.wantInt(h.do("expiretime", "nokey"), -2)
	h.wantInt(h.do("pexpiretime", "nokey"), -2)
	h.wantInt(h.do("ttl", "k"), -1)
	h.wantInt(h.do("pttl", "k"), -1)
	h.wantInt(h.do("expiretime", "k"), -1)
	h.wantInt(h.do("pexpiretime", "k"), -1)

	h.wantInt(h.do("expire", "k", "10"), 1)
	h.wantInt(h.do("ttl", "k"), 10)
	h.wantInt(h.do("pttl", "k"), 10000)
	h.wantInt(h.do("pexpiretime", "k"), h.now+10000)
	h.wantInt(h.do("expiretime", "k"), (h.now+10000+500)/1000)

	// TTL rounds (ttl+500)/1000.
	for _, c := range []struct{ ms, want int64 }{{1500, 2}, {1499, 1}, {500, 1}, {499, 0}, {1, 0}} {
		h.wantInt(h.do("pexpire", "k", strconv.FormatInt(c.ms, 10)), 1)
		h.wantInt(h.do("ttl", "k"), c.want)
		h.wantInt(h.do("pttl", "k"), c.ms)
	}
	// EXPIRETIME rounds too, also next to MaxInt64 (Redis divides unsigned).
	for _, c := range []struct {
		at   string
		want int64
	}{{"1999999999499", 1999999999}, {"1999999999500", 2000000000}, {"9223372036854775499", 9223372036854775}, {"9223372036854775807", 9223372036854776}} {
		h.wantInt(h.do("pexpireat", "k", c.at), 1)
		h.wantInt(h.do("expiretime", "k"), c.want)
	}
	h.wantInt(h.do("pexpireat", "k", "9223372036854775807"), 1)
	h.wantInt(h.do("pttl", "k"), math.MaxInt64-h.now)

	h.wantInt(h.do("expireat", "k", strconv.FormatInt(h.now/1000+100, 10)), 1)
	h.wantInt(h.do("pexpiretime", "k"), (h.now/1000+100)*1000)

	// PERSIST.
	h.wantInt(h.do("persist", "k"), 1)
	h.wantInt(h.do("persist", "k"), 0)
	h.wantInt(h.do("persist", "nokey"), 0)
	h.wantInt(h.do("ttl", "k"), -1)
	if h.db.Expires() != 0 {
		t.Fatalf("expires %d", h.db.Expires())
	}

	// Missing key.
	h.wantInt(h.do("expire", "nokey", "10"), 0)
	h.wantInt(h.do("exists", "nokey"), 0)
}

func TestKeyExpirePastDeletes(t *testing.T) {
	h := newHarness(t)
	for _, c := range [][]string{
		{"expire", "k", "0"},
		{"expire", "k", "-1"},
		{"pexpire", "k", "-9223372036854775808"},
		{"pexpireat", "k", "0"}, // 0 must delete, not persist
		{"pexpireat", "k", "-9223372036854775808"},
		{"expireat", "k", "1"},
		{"pexpireat", "k", strconv.FormatInt(h.now, 10)},
		{"expire", "k", "-9223372036854775"},
	} {
		h.keysSet("k", "v", 0)
		h.wantInt(h.do(c...), 1)
		h.wantInt(h.do("exists", "k"), 0)
		if h.db.Len() != 0 {
			t.Fatalf("%v: key not deleted", c)
		}
	}
}

func TestKeyExpireErrors(t *testing.T) {
	h := newHarness(t)
	h.keysSet("k", "v", 0)
	for _, c := range []struct {
		args []string
		code Code
		arg  string
	}{
		{[]string{"expire", "k"}, CodeWrongArgs, "expire"},
		{[]string{"PEXPIREAT"}, CodeWrongArgs, "pexpireat"},
		{[]string{"expire", "k", "100", "nx", "xx"}, CodeExpireOptsNXXX, ""},
		{[]string{"expire", "k", "100", "Nx", "xX"}, CodeExpireOptsNXXX, ""},
		{[]string{"expire", "k", "100", "nx", "gt"}, CodeExpireOptsNXXX, ""},
		{[]string{"expire", "k", "100", "lt", "nx"}, CodeExpireOptsNXXX, ""},
		{[]string{"expire", "k", "100", "nx", "gt", "lt"}, CodeExpireOptsNXXX, ""},
		{[]string{"expire", "k", "100", "gt", "lt"}, CodeExpireOptsGTLT, ""},
		{[]string{"expire", "k", "abc", "foo"}, CodeUnsupportedOpt, "foo"},
		{[]string{"expire", "k", "100", "Foo"}, CodeUnsupportedOpt, "Foo"},
		{[]string{"expire", "k", "abc", "nx"}, CodeNotInt, ""},
		{[]string{"expire", "k", "1.5"}, CodeNotInt, ""},
		{[]string{"expire", "k", " 1"}, CodeNotInt, ""},
		{[]string{"expire", "k", "9223372036854775"}, CodeInvalidExpire, "expire"},
		{[]string{"expire", "nokey", "9223372036854776"}, CodeInvalidExpire, "expire"},
		{[]string{"EXPIRE", "k", "-9223372036854776"}, CodeInvalidExpire, "expire"},
		{[]string{"pexpire", "k", "9223372036854775807"}, CodeInvalidExpire, "pexpire"},
		{[]string{"expireat", "k", "9223372036854776"}, CodeInvalidExpire, "expireat"},
		{[]string{"expireat", "k", "-9223372036854776"}, CodeInvalidExpire, "expireat"},
	} {
		r := h.do(c.args...)
		h.wantErr(r, c.code)
		if r.Str != c.arg {
			t.Fatalf("%v: arg %q, want %q", c.args, r.Str, c.arg)
		}
	}
	h.wantInt(h.do("ttl", "k"), -1)
	// In range at the limits.
	h.wantInt(h.do("expireat", "k", "9223372036854775"), 1)
	h.wantInt(h.do("pexpireat", "k", "9223372036854775807"), 1)
	h.wantInt(h.do("expire", "k", "5", "lt", "lt", "LT"), 1)
	h.wantInt(h.do("ttl", "k"), 5)
}

// TestKeyExpirePrepareRewrite checks that every expire form is proposed as
// PEXPIREAT with an absolute deadline computed from the leader's clock.
func TestKeyExpirePrepareRewrite(t *testing.T) {
	const now = 1_700_000_000_123
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"expire", "k", "10"}, "pexpireat k 1700000010123"},
		{[]string{"EXPIRE", "k", "10", "gt", "xx"}, "pexpireat k 1700000010123 XX GT"},
		{[]string{"expire", "k", "-5", "nx"}, "pexpireat k 1699999995123 NX"},
		{[]string{"expire", "k", "7", "lt", "LT"}, "pexpireat k 1700000007123 LT"},
		{[]string{"pexpire", "k", "250"}, "pexpireat k 1700000000373"},
		{[]string{"expireat", "k", "1800000000"}, "pexpireat k 1800000000000"},
		{[]string{"expireat", "k", "-3"}, "pexpireat k -3000"},
		{[]string{"pexpireat", "k", "42", "XX", "lt"}, "pexpireat k 42 XX LT"},
		{[]string{"pexpireat", "k", "9223372036854775807"}, "pexpireat k 9223372036854775807"},
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
			t.Fatalf("%v: prepared %q, want %q", c.in, got, c.want)
		}
	}
	// Errors carry the original command's name.
	_, err := Commands.Lookup([]byte("pexpire")).Prepare(toArgs([]string{"pexpire", "k", "9223372036854775000"}), now)
	if e, ok := err.(*Error); !ok || e.Code != CodeInvalidExpire || e.Arg != "pexpire" {
		t.Fatalf("overflow: %v", err)
	}
	// The prepared args do not alias the input.
	in := toArgs([]string{"pexpireat", "key", "100"})
	out, _ := Commands.Lookup([]byte("pexpireat")).Prepare(in, now)
	in[1][0] = 'X'
	if string(out[1]) != "key" {
		t.Fatalf("prepared args alias the input")
	}
}

// TestKeyExpireOptionsMatrix is the NX/XX/GT/LT matrix as answered by
// redis-server 7.0.15 (EXPIRE k <ttl> <opts>, then TTL k).
func TestKeyExpireOptionsMatrix(t *testing.T) {
	matrix := []struct {
		state   string
		opts    string
		ttl     int64
		reply   int64
		wantTTL int64
	}{
		{"missing", "", 50, 0, -2}, {"missing", "NX", 50, 0, -2}, {"missing", "XX", 200, 0, -2},
		{"missing", "GT", 200, 0, -2}, {"missing", "LT", -1, 0, -2}, {"missing", "XX GT", 200, 0, -2},
		{"missing", "XX LT", -1, 0, -2},
		{"nottl", "", 50, 1, 50}, {"nottl", "", 200, 1, 200}, {"nottl", "", -1, 1, -2},
		{"nottl", "NX", 50, 1, 50}, {"nottl", "NX", 200, 1, 200}, {"nottl", "NX", -1, 1, -2},
		{"nottl", "XX", 50, 0, -1}, {"nottl", "XX", 200, 0, -1}, {"nottl", "XX", -1, 0, -1},
		{"nottl", "GT", 50, 0, -1}, {"nottl", "GT", 200, 0, -1}, {"nottl", "GT", -1, 0, -1},
		{"nottl", "LT", 50, 1, 50}, {"nottl", "LT", 200, 1, 200}, {"nottl", "LT", -1, 1, -2},
		{"nottl", "XX GT", 50, 0, -1}, {"nottl", "XX GT", 200, 0, -1}, {"nottl", "XX GT", -1, 0, -1},
		{"nottl", "XX LT", 50, 0, -1}, {"nottl", "XX LT", 200, 0, -1}, {"nottl", "XX LT", -1, 0, -1},
		{"ttl100", "", 50, 1, 50}, {"ttl100", "", 200, 1, 200}, {"ttl100", "", -1, 1, -2},
		{"ttl100", "NX", 50, 0, 100}, {"ttl100", "NX", 200, 0, 100}, {"ttl100", "NX", -1, 0, 100},
		{"ttl100", "XX", 50, 1, 50}, {"ttl100", "XX", 200, 1, 200}, {"ttl100", "XX", -1, 1, -2},
		{"ttl100", "GT", 50, 0, 100}, {"ttl100", "GT", 200, 1, 200}, {"ttl100", "GT", -1, 0, 100},
		{"ttl100", "LT", 50, 1, 50}, {"ttl100", "LT", 200, 0, 100}, {"ttl100", "LT", -1, 1, -2},
		{"ttl100", "XX GT", 50, 0, 100}, {"ttl100", "XX GT", 200, 1, 200}, {"ttl100", "XX GT", -1, 0, 100},
		{"ttl100", "XX LT", 50, 1, 50}, {"ttl100", "XX LT", 200, 0, 100}, {"ttl100", "XX LT", -1, 1, -2},
	}
	for _, m := range matrix {
		h := newHarness(t)
		switch m.state {
		case "nottl":
			h.keysSet("k", "v", 0)
		case "ttl100":
			h.keysSet("k", "v", h.now+100_000)
		}
		args := []string{"expire", "k", strconv.FormatInt(m.ttl, 10)}
		args = append(args, strings.Fields(m.opts)...)
		r := h.do(args...)
		if r.Kind != KindInt || r.Int != m.reply {
			t.Fatalf("%+v: reply %+v", m, r)
		}
		if r := h.do("ttl", "k"); r.Int != m.wantTTL {
			t.Fatalf("%+v: ttl %+v", m, r)
		}
	}
	// Equal deadlines: GT and LT both refuse, XX and no option accept.
	h := newHarness(t)
	h.keysSet("k", "v", 4_000_000_000_000)
	h.wantInt(h.do("pexpireat", "k", "4000000000000", "gt"), 0)
	h.wantInt(h.do("pexpireat", "k", "4000000000000", "lt"), 0)
	h.wantInt(h.do("pexpireat", "k", "4000000000000", "xx"), 1)
	h.wantInt(h.do("pexpireat", "k", "4000000000000"), 1)
	h.wantInt(h.do("pexpireat", "k", "4000000000001", "gt"), 1)
	h.wantInt(h.do("pexpiretime", "k"), 4_000_000_000_001)
}

// TestKeyLazyExpiry: an expired key vanishes for reads at once, and is
// physically deleted by the next write that touches it.
func TestKeyLazyExpiry(t *testing.T) {
	h := newHarness(t)
	h.keysSet("a", "1", 0)
	h.keysSet("b", "2", 0)
	h.wantInt(h.do("pexpire", "a", "100"), 1)
	h.wantInt(h.do("pexpire", "b", "100"), 1)
	h.now += 100
	h.wantInt(h.do("exists", "a", "b"), 0)
	h.wantInt(h.do("ttl", "a"), -2)
	h.wantStatus(h.do("type", "a"), "none")
	h.wantNil(h.do("object", "encoding", "a"))
	if h.db.Len() != 2 {
		t.Fatalf("reads must not delete: len %d", h.db.Len())
	}
	// A write at the later time deletes the expired key it touches.
	h.wantInt(h.do("persist", "a"), 0)
	if h.db.Len() != 1 {
		t.Fatalf("len %d after write", h.db.Len())
	}
	h.wantInt(h.do("del", "b"), 0) // expired keys are not counted
	if h.db.Len() != 0 || h.db.Expires() != 0 {
		t.Fatalf("len %d expires %d", h.db.Len(), h.db.Expires())
	}
	// Expire on an expired key: 0, and deleted.
	h.keysSet("c", "3", h.now+1)
	h.now += 5
	h.wantInt(h.do("expire", "c", "100"), 0)
	if h.db.Len() != 0 {
		t.Fatalf("len %d", h.db.Len())
	}
}

func TestKeyExpireDel(t *testing.T) {
	h := newHarness(t)
	h.keysSet("live", "1", 0)
	h.keysSet("later", "1", h.now+10_000)
	h.keysSet("gone1", "1", h.now+100)
	h.keysSet("gone2", "1", h.now+200)
	h.keysSet("rewritten", "1", h.now+100)
	keys := h.db.ExpiredKeys(h.now+300, 10)
	if len(keys) != 3 {
		t.Fatalf("expired keys %v", keys)
	}
	h.now += 300
	// "rewritten" got a new deadline after the leader picked it.
	h.db.Set("rewritten", "2", h.now+5000)
	args := append([]string{"__expiredel"}, keys...)
	args = append(args, "live", "later", "nokey", "gone1")
	h.wantInt(h.do(args...), 2)
	if h.db.Len() != 3 {
		t.Fatalf("len %d", h.db.Len())
	}
	h.wantInt(h.do("exists", "live", "later", "rewritten"), 3)
	h.wantInt(h.do("__expiredel"), 0)
	// Prepare passes its args through.
	in := toArgs([]string{"__expiredel", "a", "b"})
	out, err := Commands.Lookup([]byte("__expiredel")).Prepare(in, h.now)
	if err != nil || len(out) != 3 || string(out[2]) != "b" {
		t.Fatalf("prepare: %q %v", out, err)
	}
}

func TestKeyRename(t *testing.T) {
	h := newHarness(t)
	h.wantErr(h.do("rename", "nokey", "x"), CodeNoSuchKey)
	h.wantErr(h.do("rename", "nokey", "nokey"), CodeNoSuchKey)
	h.wantErr(h.do("renamenx", "nokey", "x"), CodeNoSuchKey)
	h.wantErr(h.do("rename", "a"), CodeWrongArgs)
	h.wantErr(h.do("renamenx", "a", "b", "c"), CodeWrongArgs)

	h.keysSet("a", "1", 0)
	h.wantStatus(h.do("rename", "a", "a"), "OK")
	h.wantInt(h.do("renamenx", "a", "a"), 0)
	h.wantInt(h.do("expire", "a", "100"), 1)
	h.wantStatus(h.do("rename", "a", "b"), "OK")
	h.wantInt(h.do("exists", "a"), 0)
	h.wantInt(h.do("ttl", "b"), 100)

	h.keysSet("c", "3", 0)
	h.wantInt(h.do("renamenx", "b", "c"), 0)
	h.wantInt(h.do("renamenx", "b", "d"), 1)
	h.wantInt(h.do("ttl", "d"), 100)
	// RENAME over an existing key replaces value and deadline.
	h.wantStatus(h.do("rename", "d", "c"), "OK")
	h.wantInt(h.do("ttl", "c"), 100)
	if s, _, _ := h.db.GetString("c"); s != "1" {
		t.Fatalf("c = %q", s)
	}
	// RENAME of a key without TTL onto a key with TTL drops the TTL.
	h.keysSet("e", "5", 0)
	h.wantStatus(h.do("rename", "e", "c"), "OK")
	h.wantInt(h.do("ttl", "c"), -1)
	if h.db.Len() != 1 || h.db.Expires() != 0 {
		t.Fatalf("len %d expires %d", h.db.Len(), h.db.Expires())
	}
	// An expired source is missing.
	h.keysSet("x", "1", h.now+10)
	h.now += 10
	h.wantErr(h.do("rename", "x", "y"), CodeNoSuchKey)
	// An expired destination does not block RENAMENX.
	h.keysSet("x", "1", 0)
	h.keysSet("y", "old", h.now+10)
	h.now += 10
	h.wantInt(h.do("renamenx", "x", "y"), 1)
	// Aggregates move (same value).
	l := &keysTestList{items: []string{"a"}}
	h.db.Set("l", l, 0)
	h.wantStatus(h.do("rename", "l", "l2"), "OK")
	if v, _ := h.db.Get("l2"); v != any(l) {
		t.Fatalf("rename must move the value")
	}
}

func TestKeyCopy(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		args []string
		code Code
	}{
		{[]string{"copy", "c"}, CodeWrongArgs},
		{[]string{"copy", "c", "c"}, CodeSameObject},
		{[]string{"copy", "nokey", "nokey"}, CodeSameObject},
		{[]string{"copy", "c", "e", "db"}, CodeSyntax},
		{[]string{"copy", "c", "e", "foo"}, CodeSyntax},
		{[]string{"copy", "c", "e", "foo", "db", "1"}, CodeSyntax},
		{[]string{"copy", "c", "e", "db", "1", "foo"}, CodeSyntax},
		{[]string{"copy", "c", "e", "db", "1"}, CodeCopyCluster},
		{[]string{"copy", "c", "e", "DB", "15"}, CodeCopyCluster},
		{[]string{"copy", "c", "c", "db", "1"}, CodeCopyCluster},
		{[]string{"copy", "nokey", "e", "db", "1"}, CodeCopyCluster},
		{[]string{"copy", "c", "e", "db", "16"}, CodeInvalidDB},
		{[]string{"copy", "c", "e", "db", "-1"}, CodeInvalidDB},
		{[]string{"copy", "c", "e", "db", "abc"}, CodeNotInt},
		{[]string{"copy", "c", "e", "db", "x", "foo"}, CodeNotInt},
		{[]string{"copy", "c", "e", "db", "9223372036854775808"}, CodeNotInt},
		{[]string{"copy", "c", "e", "db", "2147483648"}, CodeIntRange},
		{[]string{"copy", "c", "e", "db", "-2147483649"}, CodeIntRange},
		{[]string{"copy", "c", "c", "db", "0"}, CodeSameObject},
	} {
		h.wantErr(h.do(c.args...), c.code)
	}
	h.wantInt(h.do("copy", "nokey", "x"), 0)
	h.keysSet("c", "1", 0)
	h.wantInt(h.do("expire", "c", "100"), 1)
	h.wantInt(h.do("copy", "c", "e"), 1)
	h.wantInt(h.do("ttl", "e"), 100)
	h.wantInt(h.do("copy", "c", "e"), 0)
	h.wantInt(h.do("copy", "c", "e", "db", "0"), 0)
	h.wantInt(h.do("copy", "c", "e", "replace"), 1)
	h.wantInt(h.do("copy", "c", "e", "REPLACE", "replace", "db", "0"), 1)
	h.keysSet("n", "2", 0)
	h.wantInt(h.do("copy", "n", "e", "replace"), 1)
	h.wantInt(h.do("ttl", "e"), -1)
	if s, _, _ := h.db.GetString("e"); s != "2" {
		t.Fatalf("e = %q", s)
	}
	h.wantInt(h.do("exists", "c", "n", "e"), 3)

	// Aggregates are deep-copied.
	l := &keysTestList{items: []string{"a", "b"}}
	h.db.Set("l", l, 0)
	h.wantInt(h.do("copy", "l", "l2"), 1)
	v, _ := h.db.Get("l2")
	l2, ok := v.(*keysTestList)
	if !ok || l2 == l || !slices.Equal(l2.items, l.items) {
		t.Fatalf("copy of aggregate: %#v", v)
	}
	l2.items[0] = "z"
	if l.items[0] != "a" {
		t.Fatalf("copy shares the aggregate's storage")
	}
	// An expired destination does not block COPY.
	h.keysSet("old", "x", h.now+1)
	h.now++
	h.wantInt(h.do("copy", "n", "old"), 1)
}

func TestKeyObject(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ val, enc string }{
		{"0", "int"}, {"-1", "int"}, {"9999", "int"}, {"9223372036854775807", "int"},
		{"-9223372036854775808", "int"}, {"9223372036854775808", "embstr"},
		{"12345678901234567890", "embstr"}, {"007", "embstr"}, {"01", "embstr"}, {"+1", "embstr"},
		{"", "embstr"}, {"hello", "embstr"}, {" 1", "embstr"},
		{strings.Repeat("x", 44), "embstr"}, {strings.Repeat("x", 45), "raw"},
		{strings.Repeat("1", 44), "embstr"},
	} {
		h.keysSet("k", c.val, 0)
		h.wantBulk(h.do("object", "encoding", "k"), c.enc)
	}
	h.db.Set("l", &keysTestList{}, 0)
	h.wantBulk(h.do("OBJECT", "Encoding", "l"), "quicklist")

	// REFCOUNT: shared integers 0..9999 report INT_MAX.
	for _, c := range []struct {
		val  string
		want int64
	}{{"0", math.MaxInt32}, {"9999", math.MaxInt32}, {"10000", 1}, {"-1", 1}, {"abc", 1}, {"007", 1}} {
		h.keysSet("k", c.val, 0)
		h.wantInt(h.do("object", "refcount", "k"), c.want)
	}
	h.wantInt(h.do("object", "refcount", "l"), 1)
	h.wantInt(h.do("object", "idletime", "k"), 0)
	h.wantErr(h.do("object", "freq", "k"), CodeLFUNotSelected)
	for _, sub := range []string{"encoding", "refcount", "idletime", "freq"} {
		h.wantNil(h.do("object", sub, "nokey"))
		r := h.do("object", sub)
		h.wantErr(r, CodeWrongArgs)
		if r.Str != "object|"+sub {
			t.Fatalf("arity arg %q", r.Str)
		}
		h.wantErr(h.do("object", strings.ToUpper(sub), "k", "extra"), CodeWrongArgs)
	}
	r := h.do("object")
	h.wantErr(r, CodeWrongArgs)
	if r.Str != "object" {
		t.Fatalf("arity arg %q", r.Str)
	}
	r = h.do("object", "help", "x")
	if r.Code != CodeWrongArgs || r.Str != "object|help" {
		t.Fatalf("help arity: %+v", r)
	}
	r = h.do("object", "foo", "a", "b")
	h.wantErr(r, CodeUnknownSubcmd)
	if r.Str != "'foo'. Try OBJECT HELP." {
		t.Fatalf("unknown subcommand arg %q", r.Str)
	}
	r = h.do("object", strings.Repeat("s", 200))
	if r.Str != "'"+strings.Repeat("s", 128)+"'. Try OBJECT HELP." {
		t.Fatalf("long subcommand arg %q", r.Str)
	}

	help := h.do("object", "HELP")
	if help.Kind != KindArray || len(help.Arr) != 15 {
		t.Fatalf("help: %+v", help)
	}
	if help.Arr[0].Kind != KindStatus || help.Arr[0].Str != "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" ||
		help.Arr[14].Str != "    Prints this help." || help.Arr[11].Str != "    Return the number of references of the value associated with the specified" {
		t.Fatalf("help text: %+v", help)
	}
}

func TestKeyFlush(t *testing.T) {
	h := newHarness(t)
	for _, args := range [][]string{{"flushall"}, {"FLUSHALL", "sync"}, {"flushall", "ASYNC"}, {"flushdb"}, {"flushdb", "Sync"}, {"flushdb", "async"}} {
		for i := range 5 {
			h.keysSet(fmt.Sprint("k", i), "v", h.now+int64(i+1)*1000)
		}
		h.wantStatus(h.do(args...), "OK")
		if h.db.Len() != 0 || h.db.Expires() != 0 {
			t.Fatalf("%v: len %d", args, h.db.Len())
		}
	}
	for _, args := range [][]string{{"flushall", "foo"}, {"flushall", "sync", "async"}, {"flushdb", "x"}, {"flushdb", "sync", "async"}} {
		h.keysSet("k", "v", 0)
		h.wantErr(h.do(args...), CodeSyntax)
		if h.db.Len() != 1 {
			t.Fatalf("%v flushed", args)
		}
	}
}

// TestKeyStoredKeysDoNotAlias checks that keys written by commands do not
// alias the (log-buffer) arguments.
func TestKeyStoredKeysDoNotAlias(t *testing.T) {
	db := NewDB()
	db.SetNow(1000)
	db.Set("src", "v", 0)
	for _, c := range [][]string{{"copy", "src", "dst1"}, {"rename", "src", "dst2"}} {
		buf := AppendEntryHeader(nil, EntryBatch, 1000, 1)
		buf = AppendEntryCmd(buf, Commands.Lookup([]byte(c[0])).Op, toArgs(c))
		e, err := DecodeEntry(buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ApplyEntry(e); err != nil {
			t.Fatal(err)
		}
		for i := range buf {
			buf[i] = 'Z'
		}
	}
	if !db.Exists("dst1") || !db.Exists("dst2") || db.Len() != 2 {
		t.Fatalf("keys alias the entry buffer")
	}
}

// TestKeyCommandsNoPanic feeds every key command 0..6 short or garbage
// arguments through Prepare (writes) and Run, on an empty DB and on a DB
// holding each of the garbage names as a key.
func TestKeyCommandsNoPanic(t *testing.T) {
	garbage := []string{"", "k", "0", "-1", "nx", "gt", "xx", "lt", "db", "replace", "9223372036854775807",
		"-9223372036854775808", "99999999999999999999", "encoding", "help", "\x00", "*", "sync"}
	for _, populated := range []bool{false, true} {
		db := NewDB()
		db.SetNow(1_700_000_000_000)
		if populated {
			for i, g := range garbage {
				db.Set(g, g, int64(i%3)*1_700_000_000_000)
			}
			db.Set("list", &keysTestList{items: []string{"x"}}, 0)
		}
		for _, cmd := range keyCommands {
			n := 0
			for argc := 0; argc <= 6; argc++ {
				for seed := range 25 {
					args := [][]byte{[]byte(cmd.Name)}
					for i := range argc {
						args = append(args, []byte(garbage[(seed*7+i*5+argc)%len(garbage)]))
					}
					n++
					func() {
						defer func() {
							if p := recover(); p != nil {
								t.Fatalf("%s %q: panic %v", cmd.Name, args, p)
							}
						}()
						if cmd.Prepare != nil {
							if out, err := cmd.Prepare(args, db.Now()); err == nil && len(out) > 0 {
								if c := Commands.Lookup(out[0]); c != nil {
									c.Run(db, out)
								}
							}
						}
						cmd.Run(db, args)
						db.Read(cmd, args, db.Now())
					}()
				}
			}
		}
	}
}
