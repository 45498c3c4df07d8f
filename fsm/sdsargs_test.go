package fsm

import (
	"errors"
	"reflect"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		line string
		want []string // nil with bad=true: unbalanced
		bad  bool
	}{
		{"", nil, false},
		{"   \t ", nil, false},
		{"\v\f a", []string{"a"}, false},  // isspace skips \v \f between arguments...
		{"a\vb", []string{"a\vb"}, false}, // ...but they do not end one
		{"port 6379", []string{"port", "6379"}, false},
		{"  a   b\tc\r\n", []string{"a", "b", "c"}, false},
		{`""`, []string{""}, false},
		{`''`, []string{""}, false},
		{`a "" b`, []string{"a", "", "b"}, false},
		{`"a b" c`, []string{"a b", "c"}, false},
		{`"\n\r\t\b\a"`, []string{"\n\r\t\b\a"}, false},
		{`"\x41\x4a\x4A\x7e"`, []string{"AJJ~"}, false},
		{`"\x4"`, []string{"x4"}, false}, // one hex digit: \x is just x
		{`"\xZZ"`, []string{"xZZ"}, false},
		{`"\q\\\""`, []string{`q\"`}, false},
		{`"\'"`, []string{"'"}, false},
		{`'a\nb'`, []string{`a\nb`}, false},  // single quotes keep backslashes...
		{`'it\'s'`, []string{"it's"}, false}, // ...except before a quote
		{`'a"b'`, []string{`a"b`}, false},
		{`"a'b"`, []string{"a'b"}, false},
		{`foo"bar baz"`, []string{"foobar baz"}, false},
		{`foo'bar'`, []string{"foobar"}, false},
		{`"a"	b`, []string{"a", "b"}, false},
		{"\"a\"\vb", []string{"a", "b"}, false}, // isspace after a closing quote
		{"a\x00b c", []string{"a"}, false},      // NUL ends the C string
		{`"abc`, nil, true},
		{`'abc`, nil, true},
		{`"a"b`, nil, true},
		{`'a'b`, nil, true},
		{`"a\"`, nil, true},
		{`'a\'`, nil, true},
		{`"\`, nil, true},
		{`a "b`, nil, true},
	}
	for _, c := range cases {
		got, err := SplitArgs(c.line)
		if c.bad {
			if !errors.Is(err, ErrUnbalancedQuotes) {
				t.Errorf("SplitArgs(%q) = %q, %v; want ErrUnbalancedQuotes", c.line, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", c.line, got, err, c.want)
		}
	}
}

func TestQuote(t *testing.T) {
	cases := map[string]string{
		"abc":          `"abc"`,
		"":             `""`,
		`a"b\c`:        `"a\"b\\c"`,
		"\n\r\t\a\b":   `"\n\r\t\a\b"`,
		"\x00\x7f\xff": `"\x00\x7f\xff"`,
		"a b'":         `"a b'"`,
	}
	for in, want := range cases {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
		back, err := SplitArgs(Quote(in))
		if err != nil || len(back) != 1 || back[0] != in {
			t.Errorf("SplitArgs(Quote(%q)) = %q, %v", in, back, err)
		}
	}
}

func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{
		"port 6379", `"a\x41" 'b\'c'`, `"unterminated`, `a"b"c`, "\x00", `"\`, "'\\'", "\v\f\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args, err := SplitArgs(line)
		if err != nil {
			if !errors.Is(err, ErrUnbalancedQuotes) || args != nil {
				t.Fatalf("SplitArgs(%q) = %q, %v", line, args, err)
			}
			return
		}
		// Quoting every argument and splitting again is the identity.
		var joined string
		for i, a := range args {
			if i > 0 {
				joined += " "
			}
			joined += Quote(a)
		}
		again, err := SplitArgs(joined)
		if err != nil || len(again) != len(args) {
			t.Fatalf("round trip of %q via %q: %q, %v", args, joined, again, err)
		}
		for i := range args {
			if again[i] != args[i] {
				t.Fatalf("round trip of %q via %q: %q", args, joined, again)
			}
		}
	})
}
