package resp

import (
	"errors"
	"github.com/troika-db/troika/fsm"
	"reflect"
	"strings"
	"testing"
)

var testLimits = readLimits{maxBulk: defaultProtoMaxBulk, maxMultibulk: defaultMaxMultibulk}

// parseAll feeds input to a reader in one piece and returns every request
// and the final error.
func parseAll(input string, lim readLimits) ([][]string, error) {
	var r reader
	r.feed([]byte(input))
	return drain(&r, lim)
}

func drain(r *reader, lim readLimits) ([][]string, error) {
	var out [][]string
	for {
		args, err := r.next(lim)
		if err != nil || args == nil {
			return out, err
		}
		var s []string
		for _, a := range args {
			s = append(s, string(a))
		}
		out = append(out, s)
	}
}

func protoText(err error) string {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Text
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return ""
}

func TestReaderValid(t *testing.T) {
	cases := []struct {
		in   string
		want [][]string
	}{
		{"*1\r\n$4\r\nPING\r\n", [][]string{{"PING"}}},
		{"*2\r\n$3\r\nGET\r\n$0\r\n\r\n", [][]string{{"GET", ""}}},
		{"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", [][]string{{"PING"}, {"ECHO", "hi"}}},
		{"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", [][]string{{"PING"}}},
		{"PING\r\n", [][]string{{"PING"}}},
		{"PING\n", [][]string{{"PING"}}},
		{"\r\n\r\n  \r\nPING\r\n", [][]string{{"PING"}}},
		{"set a \"b c\"\r\nget 'x y'\r\n", [][]string{{"set", "a", "b c"}, {"get", "x y"}}},
		// Like Redis, the two bytes after a bulk are skipped unchecked.
		{"*1\r\n$4\r\nPINGxx", [][]string{{"PING"}}},
		{"*1\r\n$1\r\n\x00\r\n", [][]string{{"\x00"}}},
		// Incomplete input yields nothing yet.
		{"*2\r\n$3\r\nGET\r\n$1\r\n", nil},
		{"*1\r\n$4\r\nPI", nil},
		{"PIN", nil},
	}
	for _, c := range cases {
		got, err := parseAll(c.in, testLimits)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parse %q = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	big := strings.Repeat("x", inlineMaxSize+1)
	unauth := testLimits
	unauth.unauth = true
	cases := []struct {
		in   string
		lim  readLimits
		want string
	}{
		{"*1\r\n$9223372036854775807\r\n", testLimits, msgProtoBulkLen},
		{"*1\r\n$99999999999999999999999\r\n", testLimits, msgProtoBulkLen},
		{"*1\r\n$-5\r\n", testLimits, msgProtoBulkLen},
		{"*1\r\n$abc\r\n", testLimits, msgProtoBulkLen},
		{"*1\r\n$+4\r\nPING\r\n", testLimits, msgProtoBulkLen},
		{"*1\r\n$04\r\nPING\r\n", testLimits, msgProtoBulkLen},
		{"*1\r\n$536870913\r\n", testLimits, msgProtoBulkLen},
		{"*1\r\n$11\r\n", readLimits{maxBulk: 10, maxMultibulk: 10}, msgProtoBulkLen},
		{"*1048577\r\n", testLimits, msgProtoMultibulkLen},
		{"*2147483648\r\n", readLimits{maxBulk: 10, maxMultibulk: 1 << 40}, msgProtoMultibulkLen},
		{"*abc\r\n", testLimits, msgProtoMultibulkLen},
		{"*1 \r\n", testLimits, msgProtoMultibulkLen},
		{"*01\r\n", testLimits, msgProtoMultibulkLen},
		{"*\r\n", testLimits, msgProtoMultibulkLen},
		{"*1\r\nxfoo\r\n", testLimits, "ERR Protocol error: expected '$', got 'x'"},
		{"*1\r\n:1\r\n", testLimits, "ERR Protocol error: expected '$', got ':'"},
		{"*11\r\n", unauth, msgProtoUnauthMBulk},
		{"*10\r\n$16385\r\n", unauth, msgProtoUnauthBulk},
		{"set \"a b\r\n", testLimits, msgProtoQuotes},
		{"echo 'a\r\n", testLimits, msgProtoQuotes},
		{"echo \"a\"b\r\n", testLimits, msgProtoQuotes},
		{big, testLimits, msgProtoBigInline},
		{big + "\r\n", testLimits, msgProtoBigInline},
		{"*" + big, testLimits, msgProtoBigMBulkCount},
		{"*1\r\n$" + big, testLimits, msgProtoBigBulkCount},
	}
	for _, c := range cases {
		_, err := parseAll(c.in, c.lim)
		if got := protoText(err); got != c.want {
			in := c.in
			if len(in) > 40 {
				in = in[:40] + "..."
			}
			t.Errorf("parse %q: error %q, want %q", in, got, c.want)
		}
	}
	// Within the unauthenticated limits, requests are fine.
	if got, err := parseAll("*10\r\n"+strings.Repeat("$1\r\na\r\n", 10), unauth); err != nil || len(got) != 1 {
		t.Errorf("10 args unauthenticated: %v %v", got, err)
	}
	if _, err := parseAll("*1\r\n$16384\r\n", unauth); err != nil {
		t.Errorf("16384-byte bulk unauthenticated: %v", err)
	}
}

// TestReaderIncremental feeds a pipeline one byte at a time and checks
// that the result is the same as feeding it whole.
func TestReaderIncremental(t *testing.T) {
	in := "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\nPING\r\n*0\r\n" +
		"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nECHO \"x\\x41\\ny\"\r\n"
	want, err := parseAll(in, testLimits)
	if err != nil || len(want) != 4 {
		t.Fatalf("whole: %q %v", want, err)
	}
	var r reader
	var got [][]string
	for i := 0; i < len(in); i++ {
		r.feed([]byte{in[i]})
		more, err := drain(&r, testLimits)
		if err != nil {
			t.Fatalf("at byte %d: %v", i, err)
		}
		got = append(got, more...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("incremental = %q, want %q", got, want)
	}
	if want[3][1] != "xA\ny" {
		t.Errorf("inline escapes: %q", want[3][1])
	}
}

// TestReaderNoPreallocation checks that announcing a large bulk does not
// make the reader allocate for it.
func TestReaderNoPreallocation(t *testing.T) {
	var r reader
	r.feed([]byte("*1\r\n$536870912\r\nabc"))
	args, err := r.next(testLimits)
	if err != nil || args != nil {
		t.Fatalf("next = %v, %v", args, err)
	}
	if c := cap(r.buf); c > 1<<20 {
		t.Fatalf("buffer capacity %d after announcing 512MB", c)
	}
}

// TestReaderArgsAreCopies checks that returned arguments survive later
// input (the caller may keep them, e.g. in a raft entry).
func TestReaderArgsAreCopies(t *testing.T) {
	var r reader
	r.feed([]byte("*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n"))
	args, _ := r.next(testLimits)
	r.feed([]byte("*2\r\n$3\r\nSET\r\n$3\r\nxyz\r\n"))
	_, _ = r.next(testLimits)
	r.compact()
	if string(args[0]) != "GET" || string(args[1]) != "abc" {
		t.Fatalf("args changed: %q", args)
	}
	args[0] = append(args[0], 'X') // capacity-limited: must not clobber args[1]
	if string(args[1]) != "abc" {
		t.Fatalf("append clobbered the next argument: %q", args[1])
	}
}

func TestParseRedisInt(t *testing.T) {
	good := map[string]int64{"0": 0, "1": 1, "-1": -1, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63}
	for s, want := range good {
		if got, ok := fsm.ParseInt([]byte(s)); !ok || got != want {
			t.Errorf("fsm.ParseInt(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "1a", "9223372036854775808", "-9223372036854775809", "18446744073709551616"} {
		if _, ok := fsm.ParseInt([]byte(s)); ok {
			t.Errorf("fsm.ParseInt(%q) accepted", s)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"   ", nil, true},
		{"a b  c", []string{"a", "b", "c"}, true},
		{`"a b" 'c d'`, []string{"a b", "c d"}, true},
		{`"\x41\x4a\x4" x`, []string{"AJx4", "x"}, true},
		{`"\n\r\t\b\a\q"`, []string{"\n\r\t\b\a" + "q"}, true},
		{`'it\'s'`, []string{"it's"}, true},
		{`ab"c d"e`, nil, false},
		{`ab"c d" e`, []string{"abc d", "e"}, true},
		{`""`, []string{""}, true},
		{`"unterminated`, nil, false},
		{`'unterminated`, nil, false},
		{"a\x00b c", []string{"a"}, true},
		{"a\vb", []string{"a\vb"}, true},
	}
	for _, c := range cases {
		got, ok := splitArgs([]byte(c.in))
		var s []string
		for _, a := range got {
			s = append(s, string(a))
		}
		if ok != c.ok || !reflect.DeepEqual(s, c.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q, %v", c.in, s, ok, c.want, c.ok)
		}
	}
}
