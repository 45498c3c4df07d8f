package fsm

import "math"

// Node-wide key iteration: KEYS, SCAN (and the node's DBSIZE and RANDOMKEY)
// run on the node over every group it holds locally; the FSM provides the
// per-DB pieces.
//
// SCAN cursors. A cursor is an ord: slot<<48 | the 48-bit hash of a key
// (see Ord), i.e. a position in the keyspace order shared by every group.
// The node walks its slot ranges in ascending slot order; for the range
// holding the cursor's slot it calls ScanRange(args, cursor, end-of-range
// ord) on the group owning it. ScanRange returns the ord to resume at, or
// the range's limit when the range is exhausted, in which case the node
// continues with the next range (starting at its first ord, SlotOrd). The
// reply's cursor is the ord to resume at, 0 once every range is done:
// cursor 0 starts an iteration and 0 ends it. A returned cursor is never 0
// mid-iteration (it is the ord of a key after at least one visited key), and
// a cursor at or beyond SlotOrd(16384) (e.g. -1, which parses as
// 2^64-1) denotes an empty remainder: the iteration ends.
//
// Guarantees, as Redis's: a key present during the whole iteration is
// returned at least once (the order is stable, an ord depends on the key
// alone, and DB.Scan never splits an ord between two calls); keys added or
// removed during the iteration may or may not be returned. Unlike Redis, a
// key is never returned twice (there is no rehashing). Cursors are
// deterministic: the same keyspace gives the same cursors on every replica.

// ScanArgs are the parsed arguments of SCAN.
type ScanArgs struct {
	Cursor uint64
	Match  []byte // nil: every key (no MATCH, or MATCH *)
	Count  int    // keys to visit per call (default 10)
	Type   string // "" : every type; else compared ASCII case-insensitively
}

// scanDefaultCount is SCAN's default COUNT.
const scanDefaultCount = 10

// ParseScan parses "SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]"
// (args[0] is the command name) with Redis 7.0's errors: the cursor first
// ("ERR invalid cursor"), then the options in order, a repeated option
// overriding the earlier one; COUNT must be an integer ("ERR value is not
// an integer or out of range") of at least 1 (else "ERR syntax error"); an
// option without its value or an unknown option is a syntax error. An
// unknown TYPE is not an error in 7.0: it just matches nothing.
func ParseScan(args [][]byte) (ScanArgs, error) {
	a := ScanArgs{Count: scanDefaultCount}
	if len(args) < 2 {
		return a, &Error{Code: CodeWrongArgs, Arg: "scan"}
	}
	cur, ok := scanParseCursor(args[1])
	if !ok {
		return a, &Error{Code: CodeInvalidCursor}
	}
	a.Cursor = cur
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return a, errSyntax
		}
		v := args[i+1]
		switch {
		case EqualFold(args[i], "count"):
			n, ok := ParseInt(v)
			if !ok || n > math.MaxInt {
				return a, errNotInt
			}
			if n < 1 {
				return a, errSyntax
			}
			a.Count = int(n)
		case EqualFold(args[i], "match"):
			if len(v) == 1 && v[0] == '*' {
				a.Match = nil
			} else {
				a.Match = append(make([]byte, 0, len(v)), v...)
			}
		case EqualFold(args[i], "type"):
			a.Type = string(v)
		default:
			return a, errSyntax
		}
	}
	return a, nil
}

// scanParseCursor parses a cursor as Redis does with strtoul(3) (base 10,
// unsigned long of 64 bits): the argument is read as a C string (up to a
// NUL byte); a leading space is refused; an optional sign is accepted and
// "-n" wraps to 2^64-n; trailing garbage and overflow are refused; the
// empty string is cursor 0.
func scanParseCursor(b []byte) (uint64, bool) {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	if len(b) == 0 {
		return 0, true
	}
	switch b[0] {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return 0, false
	}
	neg := false
	i := 0
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return 0, false // no digits: strtoul leaves the end pointer at the start
	}
	var v uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false // ERANGE
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}

// ScanRange runs one SCAN step over the ords [from, limit) of this DB: it
// visits about a.Count keys (never splitting an ord) and returns those that
// pass the MATCH and TYPE filters, with the ord to resume at (limit when the
// range is exhausted). Expired keys are skipped.
func (db *DB) ScanRange(a ScanArgs, from, limit uint64) (keys []string, next uint64) {
	count := a.Count
	if count < 1 {
		count = scanDefaultCount
	}
	return db.Scan(from, limit, count, a.filter())
}

// filter returns the MATCH/TYPE predicate, or nil when there is none.
func (a ScanArgs) filter() func(e KeyEntry) bool {
	if a.Match == nil && a.Type == "" {
		return nil
	}
	useMatch, match, typ := a.Match != nil, string(a.Match), []byte(a.Type)
	return func(e KeyEntry) bool {
		if len(typ) > 0 && !EqualFold(typ, TypeName(e.Val)) {
			return false
		}
		return !useMatch || GlobMatchString(match, e.Key, false)
	}
}

// Keys calls fn for every live key of this DB matching the glob pattern, in
// keyspace order. As in Redis, the lone pattern "*" means every key
// (including the empty key, which the matcher itself would not match). A
// pattern without glob metacharacters is an exact lookup.
func (db *DB) Keys(pattern []byte, fn func(key string)) {
	all := len(pattern) == 1 && pattern[0] == '*'
	if !all && !scanHasGlobMeta(pattern) {
		key := string(pattern)
		if db.Exists(key) {
			fn(key)
		}
		return
	}
	pat := string(pattern)
	db.Ascend(0, math.MaxUint64, func(e KeyEntry) bool {
		if all || GlobMatchString(pat, e.Key, false) {
			fn(e.Key)
		}
		return true
	})
}

// scanHasGlobMeta reports whether p contains a byte that is special to the
// glob matcher (outside of which matching is byte equality).
func scanHasGlobMeta(p []byte) bool {
	for _, c := range p {
		switch c {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}
