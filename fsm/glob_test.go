package fsm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

type globCase struct {
	pattern, str string
	nocase       bool
	want         bool
}

var globCases = []globCase{
	// literals and the empty subject
	{"", "", false, true},
	{"", "a", false, false},
	{"a", "", false, false},
	{"*", "", false, false}, // Redis: callers special-case a lone "*"
	{"**", "", false, false},
	{"?", "", false, false},
	{"abc", "abc", false, true},
	{"abc", "abd", false, false},
	{"abc", "ab", false, false},
	{"ab", "abc", false, false},
	{"ABC", "abc", false, false},
	{"ABC", "abc", true, true},
	{"abc", "ABC", true, true},
	// stars
	{"*", "anything", false, true},
	{"***", "x", false, true},
	{"a*", "a", false, true},
	{"a*", "abc", false, true},
	{"a**", "a", false, true},
	{"*c", "abc", false, true},
	{"*c", "abd", false, false},
	{"a*c", "ac", false, true},
	{"a*c", "abbbc", false, true},
	{"a*c", "abbbcd", false, false},
	{"a*b*c", "axxbyyc", false, true},
	{"a*b*c", "axxbyy", false, false},
	{"*a*", "bab", false, true},
	{"*aa", "aaa", false, true},
	{"*ab*ab", "abxab", false, true},
	{"*ab*ab", "ababab", false, true},
	{"*ab*ab", "abab", false, true},
	{"*ab*ab", "aba", false, false},
	{"h*llo", "hllo", false, true},
	{"h*llo", "heeeello", false, true},
	// question marks
	{"h?llo", "hello", false, true},
	{"h?llo", "hllo", false, false},
	{"??", "ab", false, true},
	{"??", "a", false, false},
	{"?*", "a", false, true},
	{"*?", "a", false, true},
	{"*??", "a", false, false},
	// classes
	{"h[ae]llo", "hello", false, true},
	{"h[ae]llo", "hallo", false, true},
	{"h[ae]llo", "hillo", false, false},
	{"h[^e]llo", "hallo", false, true},
	{"h[^e]llo", "hello", false, false},
	{"h[a-b]llo", "hbllo", false, true},
	{"h[a-b]llo", "hcllo", false, false},
	{"[z-a]", "m", false, true}, // reversed range
	{"[z-a]", "A", false, false},
	{"[A-Z]", "q", true, true},
	{"[a-z]", "Q", true, true},
	{"[A-z]", "_", false, true}, // '_' lies between 'Z' and 'a'
	{"[A-z]", "_", true, false}, // nocase lowers the bounds to a..z
	{"[abc]", "B", true, true},
	{"[abc]", "B", false, false},
	{"[]", "a", false, false},
	{"[]", "]", false, false},
	{"[]]", "]", false, false}, // empty class then literal ']' needs 2 bytes
	{"[]]", "]]", false, false},
	{"[^]", "x", false, true},
	{"[^]]", "x]", false, true},
	{"[a-]", "b", false, false}, // the range 'a'..']' swaps to ']'..'a'
	{"[a-]", "^", false, true},
	{"[a-]x", "bx", false, false}, // the range swallowed the ']'; 'x' is inside the class
	{"[a-]x", "x", false, true},
	{"[-a]", "-", false, true},
	{"[a-]", "-", false, false},
	{"[!a]", "!", false, true}, // '!' is not negation in Redis
	// signed-char ranges: 0x80..0xff are negative
	{"[a-\xff]", "b", false, false}, // -1..'a'
	{"[a-\xff]", "\x00", false, true},
	{"[a-\xff]", "\xfe", false, false},
	{"[\x80-\xff]", "\xc0", false, true},
	{"[\x01-\x7f]", "\x80", false, false},
	// escapes
	{`\*`, "*", false, true},
	{`\*`, "a", false, false},
	{`\?`, "?", false, true},
	{`\[a]`, "[a]", false, true},
	{`a\`, `a\`, false, true}, // trailing backslash is literal
	{`\\`, `\`, false, true},
	{`\A`, "a", true, true}, // outside brackets escapes fold case
	{`[\]]`, "]", false, true},
	{`[\-]`, "-", false, true},
	{`[\^a]`, "^", false, true},
	{`[\P]ort`, "port", true, false}, // inside brackets escapes do not
	{`[\p]ort`, "port", true, true},
	{`[P]ort`, "port", true, true},
	{`[a\`, `\`, false, true}, // a lone trailing backslash in a class is literal
	// unterminated classes
	{"[", "[", false, false},
	{"a[", "a[", false, false},
	{"[abc", "b", false, true},
	{"[abc", "d", false, false},
	{"[abc", "bc", false, false},
	{"[^", "x", false, true},
	{"x[^", "x", false, false},
	{"*[", "a[", false, false},
}

func TestGlobMatchTable(t *testing.T) {
	for _, c := range globCases {
		if got := GlobMatch([]byte(c.pattern), []byte(c.str), c.nocase); got != c.want {
			t.Errorf("GlobMatch(%q, %q, nocase=%v) = %v, want %v", c.pattern, c.str, c.nocase, got, c.want)
		}
		if got := GlobMatchString(c.pattern, c.str, c.nocase); got != c.want {
			t.Errorf("GlobMatchString(%q, %q, nocase=%v) = %v, want %v", c.pattern, c.str, c.nocase, got, c.want)
		}
		if ref := refGlob([]byte(c.pattern), []byte(c.str), c.nocase); ref != c.want {
			t.Errorf("reference(%q, %q, nocase=%v) = %v, table says %v", c.pattern, c.str, c.nocase, ref, c.want)
		}
	}
}

func TestGlobStarNestingLimit(t *testing.T) {
	for _, n := range []int{999, 1000, 1001, 1002} {
		pat := strings.Repeat("*a", n)
		str := strings.Repeat("a", n)
		want := n <= maxStarNesting
		if got := GlobMatchString(pat, str, false); got != want {
			t.Errorf("%d star groups: got %v, want %v", n, got, want)
		}
		// A trailing star run is not a nesting level.
		if got := GlobMatchString(pat+"*", str+"b", false); got != want {
			t.Errorf("%d star groups + trailing star: got %v, want %v", n, got, want)
		}
	}
	// The 1001st run of stars may end the pattern.
	pat := strings.Repeat("a*", 1001)
	if !GlobMatchString(pat, strings.Repeat("a", 1001)+"zzz", false) {
		t.Errorf("1001 star groups with the last one trailing should match")
	}
}

func TestGlobPathological(t *testing.T) {
	// Exponential for naive recursion; linear-ish here. The test only
	// asserts the results, the work bound is structural (no recursion).
	pat := strings.Repeat("a*", 200) + "b"
	str := strings.Repeat("a", 5000)
	if GlobMatchString(pat, str, false) {
		t.Fatalf("pathological pattern matched")
	}
	if !GlobMatchString(pat, str+"b", false) {
		t.Fatalf("pathological pattern should match with a trailing b")
	}
	pat = strings.Repeat("*?", 300) + "x"
	if GlobMatchString(pat, strings.Repeat("y", 3000), false) {
		t.Fatalf("*?...x matched a string without x")
	}
}

func TestGlobMatchStringNoAlloc(t *testing.T) {
	p, s := "h*[a-z]l?o*", "hello world"
	allocs := testing.AllocsPerRun(100, func() {
		if !GlobMatchString(p, s, true) {
			t.Fatal("no match")
		}
	})
	if allocs != 0 {
		t.Fatalf("GlobMatchString allocates %.1f times per call", allocs)
	}
}

// refGlob is a line-by-line port of Redis 7.0's recursive stringmatchlen
// (without the skipLongerMatches optimisation, which never changes the
// outcome). Indices stand in for C pointers; reading at or past the end of
// the pattern yields the C string terminator, 0.
func refGlob(pat, str []byte, nocase bool) bool {
	return refGlobImpl(pat, 0, str, 0, nocase, 0)
}

func refGlobImpl(pat []byte, p int, str []byte, s int, nocase bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	at := func(i int) byte {
		if i < len(pat) {
			return pat[i]
		}
		return 0
	}
	lower := func(c int) int {
		if c >= 'A' && c <= 'Z' {
			return c + 32
		}
		return c
	}
	plen, slen := len(pat)-p, len(str)-s
	for plen > 0 && slen > 0 {
		switch pat[p] {
		case '*':
			for plen > 0 && at(p+1) == '*' {
				p++
				plen--
			}
			if plen == 1 {
				return true
			}
			for slen > 0 {
				if refGlobImpl(pat, p+1, str, s, nocase, nesting+1) {
					return true
				}
				s++
				slen--
			}
			return false
		case '?':
			s++
			slen--
		case '[':
			p++
			plen--
			not := at(p) == '^'
			if not {
				p++
				plen--
			}
			match := false
			for {
				if at(p) == '\\' && plen >= 2 {
					p++
					plen--
					if pat[p] == str[s] {
						match = true
					}
				} else if at(p) == ']' {
					break
				} else if plen == 0 {
					p--
					plen++
					break
				} else if plen >= 3 && at(p+1) == '-' {
					start, end, c := int(int8(pat[p])), int(int8(pat[p+2])), int(int8(str[s]))
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = lower(start), lower(end), lower(c)
					}
					p += 2
					plen -= 2
					if c >= start && c <= end {
						match = true
					}
				} else {
					if !nocase {
						if pat[p] == str[s] {
							match = true
						}
					} else if lower(int(int8(pat[p]))) == lower(int(int8(str[s]))) {
						match = true
					}
				}
				p++
				plen--
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s++
			slen--
		default:
			if pat[p] == '\\' && plen >= 2 {
				p++
				plen--
			}
			if !nocase {
				if pat[p] != str[s] {
					return false
				}
			} else if lower(int(int8(pat[p]))) != lower(int(int8(str[s]))) {
				return false
			}
			s++
			slen--
		}
		p++
		plen--
		if slen == 0 {
			for at(p) == '*' {
				p++
				plen--
			}
			break
		}
	}
	return plen == 0 && slen == 0
}

func FuzzGlobMatch(f *testing.F) {
	for _, c := range globCases {
		f.Add([]byte(c.pattern), []byte(c.str), c.nocase)
	}
	f.Add([]byte("*a*b*[c-a]?\\"), []byte("xaybzc!"), false)
	f.Add([]byte("[^\\]-a]*"), []byte("]]]"), true)
	f.Fuzz(func(t *testing.T, pat, str []byte, nocase bool) {
		got := GlobMatch(pat, str, nocase)
		if GlobMatchString(string(pat), string(str), nocase) != got {
			t.Fatalf("GlobMatch and GlobMatchString disagree on %q %q", pat, str)
		}
		// The reference is exponential; compare on short inputs only.
		if len(pat) <= 16 && len(str) <= 16 {
			if want := refGlob(pat, str, nocase); got != want {
				t.Fatalf("GlobMatch(%q, %q, %v) = %v, reference says %v", pat, str, nocase, got, want)
			}
		}
	})
}

func TestGlobRandomAgainstReference(t *testing.T) {
	// A deterministic sweep over a small alphabet that exercises every
	// token kind, so that `go test` checks the equivalence without -fuzz.
	rng := rand.New(rand.NewSource(7))
	alpha := []byte(`ab*?[]^-\A` + "\xff\x80")
	gen := func(n int, from []byte) []byte {
		b := make([]byte, rng.Intn(n+1))
		for i := range b {
			b[i] = from[rng.Intn(len(from))]
		}
		return b
	}
	for i := 0; i < 20000; i++ {
		pat := gen(10, alpha)
		str := gen(8, []byte("abAB]-^\\*\xff\x80"))
		nocase := i%2 == 0
		if got, want := GlobMatch(pat, str, nocase), refGlob(pat, str, nocase); got != want {
			t.Fatalf("GlobMatch(%q, %q, %v) = %v, reference says %v", pat, str, nocase, got, want)
		}
	}
}

// --- differential test against a real redis-server -------------------------

const globRedisServerPath = "/usr/bin/redis-server"

// globRESPConn is a minimal RESP2 client: enough for SET, KEYS and CONFIG GET.
type globRESPConn struct {
	c net.Conn
	r *bufio.Reader
}

func (rc *globRESPConn) do(args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		return nil, fmt.Errorf("write %q: %w", args[0], err)
	}
	return rc.read()
}

func (rc *globRESPConn) line() (string, error) {
	l, err := rc.r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	return strings.TrimSuffix(l, "\r\n"), nil
}

// read parses one reply: strings for + and $, int64 for :, []any for *,
// nil for null, and an error for -.
func (rc *globRESPConn) read() (any, error) {
	l, err := rc.line()
	if err != nil {
		return nil, err
	}
	if l == "" {
		return nil, errors.New("empty reply line")
	}
	switch l[0] {
	case '+':
		return l[1:], nil
	case '-':
		return nil, fmt.Errorf("server error: %s", l[1:])
	case ':':
		return strconv.ParseInt(l[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(l[1:])
		if err != nil {
			return nil, fmt.Errorf("bad bulk length %q: %w", l, err)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return nil, fmt.Errorf("read bulk: %w", err)
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(l[1:])
		if err != nil {
			return nil, fmt.Errorf("bad array length %q: %w", l, err)
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = rc.read(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown reply type %q", l)
}

func globStartRedis(t *testing.T) *globRESPConn {
	t.Helper()
	if _, err := os.Stat(globRedisServerPath); err != nil {
		t.Skipf("%s not available: %v", globRedisServerPath, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(globRedisServerPath, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "")
	var logBuf strings.Builder
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var conn net.Conn
	for i := 0; i < 200; i++ { // wait for the listener, up to ~10s
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connect to redis-server on %s: %v\n%s", addr, err, logBuf.String())
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute)) // guards against hangs only
	rc := &globRESPConn{c: conn, r: bufio.NewReader(conn)}
	if _, err := rc.do("PING"); err != nil {
		t.Fatalf("PING: %v", err)
	}
	return rc
}

func TestGlobDifferentialRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	rc := globStartRedis(t)
	keys := []string{
		"", "a", "b", "A", "ab", "abc", "ABC", "aBc", "hello", "hallo", "hillo", "hllo", "heeello",
		"user:1", "user:2", "user:10", "user:1:name", "USER:1", "a*b", "a?b", "a[b", "a]b", "a\\b",
		"[", "]", "^", "-", "*", "?", "\\", "x-y", "foo.bar", "foo_bar", "\x00", "\x01abc", "\x7f",
		"\x80", "\xc0", "\xfe", "\xff", "caf\xc3\xa9", "\x00\xff", "zzz", "mid_Z_", "{tag}k", "{tag}K",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", strings.Repeat("a", 1001), strings.Repeat("a", 1002),
	}
	for _, k := range keys {
		if _, err := rc.do("SET", k, "v"); err != nil {
			t.Fatalf("SET %q: %v", k, err)
		}
	}
	patterns := []string{
		"*", "**", "?", "??", "???", "a*", "*b", "*b*", "a?c", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo",
		"h[a-b]llo", "[z-a]*", "[A-Z]", "[a-z]", "[A-z]", "[]", "[]]", "[^]", "[a-]", "[-a]", "[\\]]",
		"a\\*b", "a\\?b", "a\\[b", "a[[]b", "a[]]b", "a\\\\b", "\\", "\\\\", "[\\\\]", "a[", "[", "[^",
		"[abc", "user:*", "user:?", "user:[0-9]", "user:[0-9]*", "user:*:name", "USER*", "*:*:*",
		"[\x00-\x7f]", "[\x80-\xff]", "[a-\xff]", "[\x01-\xff]", "[\xff-\x01]", "\x00*", "*\xff",
		"caf?*", "*[Z]*", "{tag}?", "[{]*", "*[^a-z]*", "x[!-]y", "[\\-]", "*a*a*a*a*a*b",
		strings.Repeat("*a", 1000), strings.Repeat("*a", 1001), strings.Repeat("*a", 1001) + "*",
		strings.Repeat("a*", 1001), strings.Repeat("?", 1001), strings.Repeat("?", 1002),
	}
	rng := rand.New(rand.NewSource(42))
	alpha := []byte("abAB*?[]^-\\:0\xff")
	for i := 0; i < 400; i++ {
		b := make([]byte, 1+rng.Intn(7))
		for j := range b {
			b[j] = alpha[rng.Intn(len(alpha))]
		}
		patterns = append(patterns, string(b))
	}
	for _, p := range patterns {
		reply, err := rc.do("KEYS", p)
		if err != nil {
			t.Fatalf("KEYS %q: %v", p, err)
		}
		got := globToStrings(t, reply)
		sort.Strings(got)
		var want []string
		for _, k := range keys {
			// KEYS treats the lone "*" as "all keys" before matching.
			if p == "*" || GlobMatchString(p, k, false) {
				want = append(want, k)
			}
		}
		sort.Strings(want)
		if !globEqualStrings(got, want) {
			t.Errorf("KEYS %q:\n redis   %q\n troika  %q", p, got, want)
		}
	}

	// CONFIG GET matches case-insensitively: use it for nocase.
	all := globConfigNames(t, rc, "*")
	cfgPatterns := []string{
		"*MAX*", "PORT", "[P]ort", "[\\P]ort", "[\\p]ort", "[M-P]ort", "[m-p]ORT", "*-[A-C]*",
		"[^a-m]*", "*TIMEOUT", "?ort", "*[Z-a]*", "slowlog-*", "*-*-*-*", "[a-\xff]*",
	}
	for i := 0; i < 150; i++ {
		b := make([]byte, 1+rng.Intn(6))
		for j := range b {
			b[j] = "amxMPO*?[]^-\\"[rng.Intn(13)]
		}
		cfgPatterns = append(cfgPatterns, string(b))
	}
	for _, p := range cfgPatterns {
		if !strings.ContainsAny(p, "*?[") {
			continue // CONFIG GET looks such names up directly
		}
		got := globConfigNames(t, rc, p)
		gotSet := map[string]bool{}
		for _, n := range got {
			gotSet[n] = true
			if !GlobMatchString(p, n, true) {
				t.Errorf("CONFIG GET %q returned %q, GlobMatch says no match", p, n)
			}
		}
		for _, n := range all {
			// Redis lists only one name of an alias pair, depending on
			// its dict order, so only names without aliases must show up.
			if GlobMatchString(p, n, true) && !gotSet[n] && !globHasConfigAlias(n) {
				t.Errorf("CONFIG GET %q did not return %q, GlobMatch says match", p, n)
			}
		}
	}
}

func globConfigNames(t *testing.T, rc *globRESPConn, pattern string) []string {
	t.Helper()
	reply, err := rc.do("CONFIG", "GET", pattern)
	if err != nil {
		t.Fatalf("CONFIG GET %q: %v", pattern, err)
	}
	pairs := globToStrings(t, reply)
	var names []string
	for i := 0; i+1 < len(pairs); i += 2 {
		names = append(names, pairs[i])
	}
	sort.Strings(names)
	return names
}

// globHasConfigAlias reports whether a Redis 7.0 config name is one half of a
// name/alias pair (replica/slave, listpack/ziplist, master/replica...).
func globHasConfigAlias(name string) bool {
	for _, w := range []string{"slave", "replica", "ziplist", "listpack", "master"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func globToStrings(t *testing.T, reply any) []string {
	t.Helper()
	arr, ok := reply.([]any)
	if !ok {
		t.Fatalf("expected an array reply, got %T %v", reply, reply)
	}
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("expected bulk strings, got %T", v)
		}
		out = append(out, s)
	}
	return out
}

func globEqualStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
