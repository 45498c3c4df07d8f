package fsm

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// String commands, with the semantics and errors of redis-server 7.0
// (t_string.c). Errors that Redis reports before looking at the keyspace
// are reported by Prepare, so such commands never reach the log; errors
// whose precedence depends on the key (for example GETEX on a missing key
// answers nil even when its EX argument is malformed) are left to Run.

// maxStringLen is Redis's default proto-max-bulk-len (512MB): the longest
// string APPEND and SETRANGE may produce. It is a constant so that every
// replica decides identically.
const maxStringLen = 512 << 20

var stringCommands = []*Command{
	{Name: "set", Op: OpSet, Write: true, Prepare: prepareSet, Run: runSet},
	def("get", OpGet, false, parseKey("get"), runGet),
	def("getset", OpGetSet, true, parseKeyVal("getset"), runGetSet),
	def("getdel", OpGetDel, true, parseKey("getdel"), runGetDel),
	{Name: "getex", Op: OpGetEx, Write: true, Prepare: prepareGetEx, Run: runGetEx},
	def("mget", OpMGet, false, parseKeys("mget"), runMGet),
	def("mset", OpMSet, true, parsePairs("mset"), runMSet),
	def("msetnx", OpMSetNX, true, parsePairs("msetnx"), runMSetNX),
	def("setnx", OpSetNX, true, parseKeyVal("setnx"), runSetNX),
	setexCommand("setex", OpSetEx, setEX),
	setexCommand("psetex", OpPSetEx, setPX),
	def("append", OpAppend, true, parseKeyVal("append"), runAppend),
	def("strlen", OpStrlen, false, parseKey("strlen"), runStrlen),
	def("getrange", OpGetRange, false, parseRange("getrange"), runGetRange),
	def("substr", OpSubstr, false, parseRange("substr"), runGetRange),
	def("setrange", OpSetRange, true, parseSetRange, runSetRange),
	def("incr", OpIncr, true, parseIncr("incr", 1), runIncrBy),
	def("decr", OpDecr, true, parseIncr("decr", -1), runIncrBy),
	def("incrby", OpIncrBy, true, parseIncrBy("incrby", false), runIncrBy),
	def("decrby", OpDecrBy, true, parseIncrBy("decrby", true), runIncrBy),
	def("incrbyfloat", OpIncrByFloat, true, parseKeyVal("incrbyfloat"), runIncrByFloat),
	{Name: "lcs", Op: OpLCS, Run: runLCS},
}

func wrongArgs(name string) error { return &Error{Code: CodeWrongArgs, Arg: name} }

// checkStringLength reports whether a string of size bytes may grow by add
// bytes (Redis's checkStringLength, overflow included).
func checkStringLength(size, add int64) bool {
	total := size + add
	return total <= maxStringLen && total >= size && total >= add
}

// Simple argument shapes.

type keyVal struct {
	key string
	val []byte
}

func parseKey(name string) func([][]byte) (string, error) {
	return func(args [][]byte) (string, error) {
		if len(args) != 2 {
			return "", wrongArgs(name)
		}
		return string(args[1]), nil
	}
}

func parseKeyVal(name string) func([][]byte) (keyVal, error) {
	return func(args [][]byte) (keyVal, error) {
		if len(args) != 3 {
			return keyVal{}, wrongArgs(name)
		}
		return keyVal{string(args[1]), args[2]}, nil
	}
}

func parseKeys(name string) func([][]byte) ([][]byte, error) {
	return func(args [][]byte) ([][]byte, error) {
		if len(args) < 2 {
			return nil, wrongArgs(name)
		}
		return args[1:], nil
	}
}

// parsePairs checks MSET/MSETNX's key value pairs (Redis answers an odd
// count with the arity error).
func parsePairs(name string) func([][]byte) ([][]byte, error) {
	return func(args [][]byte) ([][]byte, error) {
		if len(args) < 3 || len(args)%2 == 0 {
			return nil, wrongArgs(name)
		}
		return args[1:], nil
	}
}

// SET and GETEX options (parseExtendedStringArgumentsOrReply).

const (
	setNX = 1 << iota
	setXX
	setGet
	setKeepTTL
	setEX
	setPX
	setEXAT
	setPXAT
	setPersist

	setExpireFlags = setEX | setPX | setEXAT | setPXAT
)

type strOpts struct {
	key    string
	val    []byte // SET only
	flags  int
	expire []byte // the EX/PX/EXAT/PXAT argument, nil if none
}

// parseStrOpts parses the options of SET (from args[3]) or GETEX (from
// args[2]) with Redis's rules: NX/XX exclusive, at most one expire kind
// (repeating the same one is allowed, the last wins), KEEPTTL and PERSIST
// exclusive with any expire.
func parseStrOpts(args [][]byte, set bool) (strOpts, error) {
	var o strOpts
	j := 2
	if set {
		if len(args) < 3 {
			return o, wrongArgs("set")
		}
		o.val = args[2]
		j = 3
	} else if len(args) < 2 {
		return o, wrongArgs("getex")
	}
	o.key = string(args[1])
	for ; j < len(args); j++ {
		opt := args[j]
		hasNext := j+1 < len(args)
		f := o.flags
		switch {
		case EqualFold(opt, "nx") && f&setXX == 0 && set:
			o.flags |= setNX
		case EqualFold(opt, "xx") && f&setNX == 0 && set:
			o.flags |= setXX
		case EqualFold(opt, "get") && set:
			o.flags |= setGet
		case EqualFold(opt, "keepttl") && f&(setPersist|setExpireFlags) == 0 && set:
			o.flags |= setKeepTTL
		case EqualFold(opt, "persist") && !set && f&(setKeepTTL|setExpireFlags) == 0:
			o.flags |= setPersist
		case expireKind(opt) != 0 && f&(setKeepTTL|setPersist|setExpireFlags&^expireKind(opt)) == 0 && hasNext:
			o.flags |= expireKind(opt)
			o.expire = args[j+1]
			j++
		default:
			return o, errSyntax
		}
	}
	return o, nil
}

// expireKind returns the flag of an EX, PX, EXAT or PXAT option, else 0.
func expireKind(opt []byte) int {
	switch {
	case EqualFold(opt, "ex"):
		return setEX
	case EqualFold(opt, "px"):
		return setPX
	case EqualFold(opt, "exat"):
		return setEXAT
	case EqualFold(opt, "pxat"):
		return setPXAT
	}
	return 0
}

// expireAt resolves an expire argument into an absolute unix ms deadline
// (getExpireMillisecondsOrReply): relative kinds (EX, PX) are added to now.
// name is the command named in the invalid expire time error.
func expireAt(raw []byte, flags int, now int64, name string) (int64, error) {
	v, ok := ParseInt(raw)
	if !ok {
		return 0, errNotInt
	}
	seconds := flags&(setEX|setEXAT) != 0
	if v <= 0 || seconds && v > math.MaxInt64/1000 {
		return 0, &Error{Code: CodeInvalidExpire, Arg: name}
	}
	if seconds {
		v *= 1000
	}
	if flags&(setEX|setPX) != 0 {
		v += now // wraps to negative on overflow, as in Redis
	}
	if v <= 0 {
		return 0, &Error{Code: CodeInvalidExpire, Arg: name}
	}
	return v, nil
}

func msArg(ms int64) []byte { return strconv.AppendInt(nil, ms, 10) }

// prepareSet validates SET and rewrites any expire into PXAT <abs>.
func prepareSet(args [][]byte, now int64) ([][]byte, error) {
	o, err := parseStrOpts(args, true)
	if err != nil {
		return nil, err
	}
	if o.expire == nil {
		return args, nil
	}
	ms, err := expireAt(o.expire, o.flags, now, "set")
	if err != nil {
		return nil, err
	}
	out := [][]byte{[]byte("set"), args[1], args[2]}
	switch {
	case o.flags&setNX != 0:
		out = append(out, []byte("NX"))
	case o.flags&setXX != 0:
		out = append(out, []byte("XX"))
	}
	if o.flags&setGet != 0 {
		out = append(out, []byte("GET"))
	}
	return append(out, []byte("PXAT"), msArg(ms)), nil
}

func runSet(db *DB, args [][]byte) Reply {
	o, err := parseStrOpts(args, true)
	if err != nil {
		return ErrReply(err)
	}
	var exp int64
	if o.expire != nil {
		if exp, err = expireAt(o.expire, o.flags, db.ttlBase(), "set"); err != nil {
			return ErrReply(err)
		}
	}
	return setGeneric(db, o, exp, OK, Nil)
}

// setGeneric is Redis's setGenericCommand after the expire was resolved.
// okReply and abortReply are what SET (OK, nil) or SETNX (1, 0) answer.
func setGeneric(db *DB, o strOpts, exp int64, okReply, abortReply Reply) Reply {
	old, found, wrong := db.GetString(o.key)
	if o.flags&setGet != 0 && wrong {
		return WrongType
	}
	getReply := Nil
	if o.flags&setGet != 0 && found {
		getReply = Bulk(old)
	}
	if o.flags&setNX != 0 && found || o.flags&setXX != 0 && !found {
		if o.flags&setGet != 0 {
			return getReply
		}
		return abortReply
	}
	val := string(o.val)
	switch {
	case o.flags&setKeepTTL != 0:
		db.SetKeepTTL(o.key, val)
	case exp != 0 && exp <= db.Now():
		// An absolute deadline already in the past: Redis stores the key
		// and it expires at once; deleting is the same, observably.
		db.Delete(o.key)
	default:
		db.Set(o.key, val, exp)
	}
	if o.flags&setGet != 0 {
		return getReply
	}
	return okReply
}

// SETEX and PSETEX: Prepare turns them into SET k v PXAT <abs>.

type setexArgs struct {
	key      string
	ttl, val []byte
}

func parseSetex(name string, args [][]byte) (setexArgs, error) {
	if len(args) != 4 {
		return setexArgs{}, wrongArgs(name)
	}
	return setexArgs{key: string(args[1]), ttl: args[2], val: args[3]}, nil
}

func setexCommand(name string, op Op, flag int) *Command {
	return &Command{
		Name:  name,
		Op:    op,
		Write: true,
		Prepare: func(args [][]byte, now int64) ([][]byte, error) {
			a, err := parseSetex(name, args)
			if err != nil {
				return nil, err
			}
			ms, err := expireAt(a.ttl, flag, now, name)
			if err != nil {
				return nil, err
			}
			return [][]byte{[]byte("set"), args[1], args[3], []byte("PXAT"), msArg(ms)}, nil
		},
		Run: func(db *DB, args [][]byte) Reply {
			a, err := parseSetex(name, args)
			if err != nil {
				return ErrReply(err)
			}
			ms, err := expireAt(a.ttl, flag, db.ttlBase(), name)
			if err != nil {
				return ErrReply(err)
			}
			return setGeneric(db, strOpts{key: a.key, val: a.val, flags: flag, expire: a.ttl}, ms, OK, Nil)
		},
	}
}

// GETEX. Redis validates the expire value only after finding a string key,
// so Prepare rewrites a valid EX/PX/EXAT into PXAT <abs> and passes an
// invalid one through for Run to answer in the right order.

func prepareGetEx(args [][]byte, now int64) ([][]byte, error) {
	o, err := parseStrOpts(args, false)
	if err != nil {
		return nil, err
	}
	if o.expire == nil || o.flags&setPXAT != 0 {
		return args, nil
	}
	ms, err := expireAt(o.expire, o.flags, now, "getex")
	if err != nil {
		return args, nil // answered by Run (nil, WRONGTYPE or this error)
	}
	return [][]byte{[]byte("getex"), args[1], []byte("PXAT"), msArg(ms)}, nil
}

func runGetEx(db *DB, args [][]byte) Reply {
	o, err := parseStrOpts(args, false)
	if err != nil {
		return ErrReply(err)
	}
	s, ok, wrong := db.GetString(o.key)
	if !ok {
		return Nil
	}
	if wrong {
		return WrongType
	}
	switch {
	case o.expire != nil:
		ms, err := expireAt(o.expire, o.flags, db.ttlBase(), "getex")
		if err != nil {
			return ErrReply(err)
		}
		db.SetExpire(o.key, ms) // deletes the key when ms is not in the future
	case o.flags&setPersist != 0:
		if exp, _ := db.Expire(o.key); exp != 0 {
			db.SetExpire(o.key, 0)
		}
	}
	return Bulk(s)
}

// Plain reads and writes.

func runGet(db *DB, key string) Reply {
	s, ok, wrong := db.GetString(key)
	switch {
	case wrong:
		return WrongType
	case !ok:
		return Nil
	}
	return Bulk(s)
}

func runGetSet(db *DB, a keyVal) Reply {
	old := runGet(db, a.key)
	if old.IsErr() {
		return old
	}
	db.Set(a.key, string(a.val), 0)
	return old
}

func runGetDel(db *DB, key string) Reply {
	r := runGet(db, key)
	if r.Kind == KindBulk {
		db.Delete(key)
	}
	return r
}

func runMGet(db *DB, keys [][]byte) Reply {
	out := make([]Reply, len(keys))
	for i, k := range keys {
		s, ok, wrong := db.GetString(string(k))
		if ok && !wrong {
			out[i] = Bulk(s)
		} else {
			out[i] = Nil
		}
	}
	return Array(out...)
}

func runMSet(db *DB, kv [][]byte) Reply {
	for i := 0; i+1 < len(kv); i += 2 {
		db.Set(string(kv[i]), string(kv[i+1]), 0)
	}
	return OK
}

func runMSetNX(db *DB, kv [][]byte) Reply {
	for i := 0; i < len(kv); i += 2 {
		if db.Exists(string(kv[i])) {
			return Zero
		}
	}
	runMSet(db, kv)
	return One
}

func runSetNX(db *DB, a keyVal) Reply {
	return setGeneric(db, strOpts{key: a.key, val: a.val, flags: setNX}, 0, One, Zero)
}

func runAppend(db *DB, a keyVal) Reply {
	s, ok, wrong := db.GetString(a.key)
	switch {
	case wrong:
		return WrongType
	case !ok:
		db.Set(a.key, string(a.val), 0)
		return Int(int64(len(a.val)))
	}
	if !checkStringLength(int64(len(s)), int64(len(a.val))) {
		return Err(CodeStringTooLong)
	}
	db.Update(a.key, RawString(s+string(a.val))) // Redis unshares into "raw"
	return Int(int64(len(s) + len(a.val)))
}

func runStrlen(db *DB, key string) Reply {
	s, _, wrong := db.GetString(key)
	if wrong {
		return WrongType
	}
	return Int(int64(len(s)))
}

// GETRANGE / SUBSTR and SETRANGE.

type rangeArgs struct {
	key        string
	start, end int64
}

func parseRange(name string) func([][]byte) (rangeArgs, error) {
	return func(args [][]byte) (rangeArgs, error) {
		if len(args) != 4 {
			return rangeArgs{}, wrongArgs(name)
		}
		start, ok1 := ParseInt(args[2])
		end, ok2 := ParseInt(args[3])
		if !ok1 || !ok2 {
			return rangeArgs{}, errNotInt
		}
		return rangeArgs{string(args[1]), start, end}, nil
	}
}

func runGetRange(db *DB, a rangeArgs) Reply {
	s, ok, wrong := db.GetString(a.key)
	switch {
	case !ok:
		return Bulk("")
	case wrong:
		return WrongType
	}
	n := int64(len(s))
	start, end := a.start, a.end
	if start < 0 && end < 0 && start > end {
		return Bulk("")
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return Bulk("")
	}
	return Bulk(s[start : end+1])
}

type setRangeArgs struct {
	key    string
	offset int64
	val    []byte
}

func parseSetRange(args [][]byte) (setRangeArgs, error) {
	if len(args) != 4 {
		return setRangeArgs{}, wrongArgs("setrange")
	}
	off, ok := ParseInt(args[2])
	if !ok {
		return setRangeArgs{}, errNotInt
	}
	if off < 0 {
		return setRangeArgs{}, &Error{Code: CodeOffsetRange}
	}
	return setRangeArgs{string(args[1]), off, args[3]}, nil
}

func runSetRange(db *DB, a setRangeArgs) Reply {
	s, ok, wrong := db.GetString(a.key)
	if wrong {
		return WrongType
	}
	if len(a.val) == 0 {
		return Int(int64(len(s))) // nothing to write; a missing key stays missing
	}
	if !checkStringLength(a.offset, int64(len(a.val))) {
		return Err(CodeStringTooLong)
	}
	buf := make([]byte, max(int64(len(s)), a.offset+int64(len(a.val))))
	copy(buf, s)
	copy(buf[a.offset:], a.val)
	if ok { // SETRANGE always leaves a "raw" string in Redis
		db.Update(a.key, RawString(buf))
	} else {
		db.Set(a.key, RawString(buf), 0)
	}
	return Int(int64(len(buf)))
}

// INCR, DECR, INCRBY, DECRBY.

type incrArgs struct {
	key  string
	incr int64
}

func parseIncr(name string, incr int64) func([][]byte) (incrArgs, error) {
	return func(args [][]byte) (incrArgs, error) {
		if len(args) != 2 {
			return incrArgs{}, wrongArgs(name)
		}
		return incrArgs{string(args[1]), incr}, nil
	}
}

func parseIncrBy(name string, negate bool) func([][]byte) (incrArgs, error) {
	return func(args [][]byte) (incrArgs, error) {
		if len(args) != 3 {
			return incrArgs{}, wrongArgs(name)
		}
		n, ok := ParseInt(args[2])
		if !ok {
			return incrArgs{}, errNotInt
		}
		if negate {
			if n == math.MinInt64 {
				return incrArgs{}, &Error{Code: CodeDecrOverflow}
			}
			n = -n
		}
		return incrArgs{string(args[1]), n}, nil
	}
}

func runIncrBy(db *DB, a incrArgs) Reply {
	s, ok, wrong := db.GetString(a.key)
	if wrong {
		return WrongType
	}
	var v int64
	if ok {
		var isInt bool
		if v, isInt = ParseInt([]byte(s)); !isInt {
			return Err(CodeNotInt)
		}
	}
	if a.incr < 0 && v < 0 && a.incr < math.MinInt64-v ||
		a.incr > 0 && v > 0 && a.incr > math.MaxInt64-v {
		return Err(CodeOverflow)
	}
	v += a.incr
	if ok {
		db.Update(a.key, strconv.FormatInt(v, 10)) // keeps the TTL
	} else {
		db.Set(a.key, strconv.FormatInt(v, 10), 0)
	}
	return Int(v)
}

// INCRBYFLOAT. Redis computes in C long double, which on x86-64 (the
// platform the reference numbers come from) is the x87 80-bit extended
// format: a 64-bit mantissa and a 15-bit exponent. The arithmetic is
// emulated exactly with math/big at 64 bits of precision, so results (and
// their printed form, %.17Lf with trailing zeros removed) match Redis digit
// for digit, e.g. 10.5 + 0.1 = "10.6", and are identical on every replica.

const (
	ldPrec   = 64
	ldMaxExp = 16384  // finite iff the MantExp exponent is <= ldMaxExp
	ldMinExp = -16445 // below 2^-16446 (half the smallest subnormal) rounds to zero
	ldMaxLen = 5 * 1024
)

func newLD() *big.Float { return new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven) }

func runIncrByFloat(db *DB, a keyVal) Reply {
	s, ok, wrong := db.GetString(a.key)
	if wrong {
		return WrongType
	}
	cur := newLD()
	if ok {
		var valid bool
		if cur, valid = parseLongDouble(s); !valid {
			return Err(CodeNotFloat)
		}
	}
	incr, valid := parseLongDouble(string(a.val))
	if !valid {
		return Err(CodeNotFloat)
	}
	if cur.IsInf() || incr.IsInf() {
		return Err(CodeNaNInf)
	}
	sum := newLD().Add(cur, incr)
	if sum.MantExp(nil) > ldMaxExp {
		return Err(CodeNaNInf)
	}
	out := formatLongDouble(sum)
	if ok {
		db.Update(a.key, FloatString(out)) // keeps the TTL
	} else {
		db.Set(a.key, FloatString(out), 0)
	}
	return Bulk(out)
}

// parseLongDouble parses s as Redis's string2ld does with glibc's strtold:
// no leading space, the whole string consumed, decimal or hexadecimal
// (0x...p...) notation, inf/infinity accepted, nan and out-of-range values
// (overflow, or underflow to zero) rejected.
func parseLongDouble(s string) (*big.Float, bool) {
	if len(s) == 0 || len(s) >= ldMaxLen || isCSpace(s[0]) {
		return nil, false
	}
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg, i = s[0] == '-', 1
	}
	switch strings.ToLower(s[i:]) {
	case "inf", "infinity":
		return new(big.Float).SetInf(neg), true
	}
	hex := len(s) > i+1 && s[i] == '0' && s[i+1]|0x20 == 'x'
	j := i
	if hex {
		j += 2
	}
	// Mantissa: digits with at most one point. mag counts the digits
	// between the point and the first significant digit (negative when
	// that digit is after the point): the value's order of magnitude.
	digits, mag := 0, 0
	nonzero, point := false, false
	for ; j < len(s); j++ {
		c := s[j]
		if c == '.' && !point {
			point = true
			continue
		}
		if !isDigitIn(c, hex) {
			break
		}
		digits++
		switch {
		case c != '0' && !nonzero:
			nonzero = true
			if !point {
				mag++
			}
		case nonzero && !point:
			mag++
		case !nonzero && point:
			mag--
		}
	}
	if digits == 0 {
		return nil, false
	}
	var exp int64
	if j < len(s) {
		if c := s[j] | 0x20; hex && c != 'p' || !hex && c != 'e' {
			return nil, false
		}
		j++
		eneg := false
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			eneg = s[j] == '-'
			j++
		}
		if j == len(s) {
			return nil, false
		}
		for ; j < len(s); j++ {
			if s[j] < '0' || s[j] > '9' {
				return nil, false
			}
			if exp < 1e9 {
				exp = exp*10 + int64(s[j]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	if !nonzero {
		z := newLD()
		if neg {
			z.Neg(z)
		}
		return z, true
	}
	// Reject far out-of-range exponents before big.Float would spend time
	// on huge powers; borderline cases are decided exactly below.
	if hex {
		if m := exp + 4*int64(mag); m > ldMaxExp+8 || m < ldMinExp-8 {
			return nil, false
		}
	} else if m := exp + int64(mag); m > 4940 || m < -4960 {
		return nil, false
	}
	base := 10
	if hex {
		base = 0 // "0x" prefix; the grammar above already excluded '_'
	}
	f, _, err := newLD().Parse(s, base)
	if err != nil {
		return nil, false
	}
	mant := new(big.Float)
	e := f.MantExp(mant)
	if e > ldMaxExp || e < ldMinExp || e == ldMinExp && mant.Abs(mant).Cmp(big.NewFloat(0.5)) == 0 {
		return nil, false
	}
	return f, true
}

func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isDigitIn(c byte, hex bool) bool {
	if '0' <= c && c <= '9' {
		return true
	}
	c |= 0x20
	return hex && 'a' <= c && c <= 'f'
}

// formatLongDouble formats f as Redis's ld2string(LD_STR_HUMAN): %.17Lf,
// trailing zeros and a trailing point removed, "-0" printed as "0".
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}
