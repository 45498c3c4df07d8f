package fsm

import (
	"bytes"
	"math"
	"strconv"
)

// Key-space commands (Redis 7.0 "generic" and expire families).
//
// Expiry: relative and second-based deadlines are resolved on the leader by
// Prepare, which turns EXPIRE, PEXPIRE and EXPIREAT into
// "PEXPIREAT key <unix ms> [NX] [XX] [GT] [LT]" so that every replica applies
// the same absolute deadline. Prepare validates against the original command
// (its name appears in the errors); Run of the original commands still
// works, resolving relative times against db.Now() (or, under the
// apply-time-ttl planted bug only, the applying replica's clock: ttlBase).
//
// Access times and access frequencies are not tracked: OBJECT IDLETIME
// always answers 0 and OBJECT FREQ answers the error Redis gives when no LFU
// maxmemory policy is selected (Troika never evicts).

// cloner is implemented by aggregate values (lists, hashes, ...) that COPY
// must deep-copy. Strings are immutable Go strings and are shared.
type cloner interface{ Clone() any }

// keyDBCount is the number of databases Redis reports in cluster mode
// (databases 16): COPY ... DB n validates n against it before refusing any
// database other than 0.
const keyDBCount = 16

var keyCommands = []*Command{
	def("del", OpDel, true, keyParseMany("del"), keyRunDel),
	def("unlink", OpUnlink, true, keyParseMany("unlink"), keyRunDel),
	def("exists", OpExists, false, keyParseMany("exists"), keyRunExists),
	def("type", OpType, false, keyParseOne("type"), keyRunType),
	// TOUCH only updates access times in Redis (flag readonly); with no
	// access times tracked it counts existing keys, like EXISTS.
	def("touch", OpTouch, false, keyParseMany("touch"), keyRunExists),

	keyExpireCommand("expire", OpExpire, 1000, true),
	keyExpireCommand("pexpire", OpPExpire, 1, true),
	keyExpireCommand("expireat", OpExpireAt, 1000, false),
	keyExpireCommand("pexpireat", OpPExpireAt, 1, false),

	def("ttl", OpTTL, false, keyParseOne("ttl"), keyRunTTL(false, false)),
	def("pttl", OpPTTL, false, keyParseOne("pttl"), keyRunTTL(true, false)),
	def("expiretime", OpExpireTime, false, keyParseOne("expiretime"), keyRunTTL(false, true)),
	def("pexpiretime", OpPExpireTime, false, keyParseOne("pexpiretime"), keyRunTTL(true, true)),
	def("persist", OpPersist, true, keyParseOne("persist"), keyRunPersist),

	def("rename", OpRename, true, keyParsePair("rename"), keyRunRename(false)),
	def("renamenx", OpRenameNX, true, keyParsePair("renamenx"), keyRunRename(true)),
	def("copy", OpCopy, true, keyParseCopy, keyRunCopy),
	def("object", OpObject, false, keyParseObject, keyRunObject),

	def("flushall", OpFlushAll, true, keyParseFlush("flushall"), keyRunFlush),
	def("flushdb", OpFlushDB, true, keyParseFlush("flushdb"), keyRunFlush),

	{
		Name:    "__expiredel",
		Op:      OpExpireDel,
		Write:   true,
		Prepare: func(args [][]byte, _ int64) ([][]byte, error) { return args, nil },
		Run:     keyRunExpireDel,
	},
}

// keyArity is Redis's "wrong number of arguments for '<name>' command".
func keyArity(name string) error { return &Error{Code: CodeWrongArgs, Arg: name} }

// keyParseOne parses "name key".
func keyParseOne(name string) func(args [][]byte) (string, error) {
	return func(args [][]byte) (string, error) {
		if len(args) != 2 {
			return "", keyArity(name)
		}
		return string(args[1]), nil
	}
}

// keyParseMany parses "name key [key ...]".
func keyParseMany(name string) func(args [][]byte) ([]string, error) {
	return func(args [][]byte) ([]string, error) {
		if len(args) < 2 {
			return nil, keyArity(name)
		}
		keys := make([]string, len(args)-1)
		for i, a := range args[1:] {
			keys[i] = string(a)
		}
		return keys, nil
	}
}

// keyParsePair parses "name key newkey".
func keyParsePair(name string) func(args [][]byte) ([2]string, error) {
	return func(args [][]byte) ([2]string, error) {
		if len(args) != 3 {
			return [2]string{}, keyArity(name)
		}
		return [2]string{string(args[1]), string(args[2])}, nil
	}
}

func keyRunDel(db *DB, keys []string) Reply {
	var n int64
	for _, k := range keys {
		if db.Delete(k) {
			n++
		}
	}
	return Int(n)
}

// keyRunExists counts existing keys; a key named twice counts twice.
func keyRunExists(db *DB, keys []string) Reply {
	var n int64
	for _, k := range keys {
		if db.Exists(k) {
			n++
		}
	}
	return Int(n)
}

func keyRunType(db *DB, key string) Reply {
	v, ok := db.Get(key)
	if !ok {
		return Status("none")
	}
	return Status(TypeName(v))
}

// Expire option flags.
const (
	keyExpNX = 1 << iota
	keyExpXX
	keyExpGT
	keyExpLT
)

type keyExpireArgs struct {
	key   string
	when  int64 // absolute deadline, unix ms
	flags uint8
}

// keyParseExpire parses "name key time [NX|XX|GT|LT ...]" in the order of
// Redis 7.0's expireGenericCommand: options first, then the integer, then
// the unit conversion and base addition with their overflow checks. unit is
// 1000 for seconds and 1 for milliseconds; base is added to the time (the
// current time for relative commands, 0 for absolute ones).
func keyParseExpire(name string, args [][]byte, unit, base int64) (keyExpireArgs, error) {
	var a keyExpireArgs
	if len(args) < 3 {
		return a, keyArity(name)
	}
	for _, opt := range args[3:] {
		switch {
		case EqualFold(opt, "nx"):
			a.flags |= keyExpNX
		case EqualFold(opt, "xx"):
			a.flags |= keyExpXX
		case EqualFold(opt, "gt"):
			a.flags |= keyExpGT
		case EqualFold(opt, "lt"):
			a.flags |= keyExpLT
		default:
			return a, &Error{Code: CodeUnsupportedOpt, Arg: string(opt)}
		}
	}
	if a.flags&keyExpNX != 0 && a.flags&(keyExpXX|keyExpGT|keyExpLT) != 0 {
		return a, &Error{Code: CodeExpireOptsNXXX}
	}
	if a.flags&keyExpGT != 0 && a.flags&keyExpLT != 0 {
		return a, &Error{Code: CodeExpireOptsGTLT}
	}
	when, ok := ParseInt(args[2])
	if !ok {
		return a, errNotInt
	}
	if unit != 1 {
		if when > math.MaxInt64/unit || when < math.MinInt64/unit {
			return a, &Error{Code: CodeInvalidExpire, Arg: name}
		}
		when *= unit
	}
	if base > 0 && when > math.MaxInt64-base {
		return a, &Error{Code: CodeInvalidExpire, Arg: name}
	}
	a.key = string(args[1])
	a.when = when + base
	return a, nil
}

// keyExpireCommand builds EXPIRE, PEXPIRE, EXPIREAT or PEXPIREAT. Prepare
// rewrites every one of them into PEXPIREAT with an absolute deadline.
func keyExpireCommand(name string, op Op, unit int64, relative bool) *Command {
	return &Command{
		Name:  name,
		Op:    op,
		Write: true,
		Prepare: func(args [][]byte, now int64) ([][]byte, error) {
			var base int64
			if relative {
				base = now
			}
			a, err := keyParseExpire(name, args, unit, base)
			if err != nil {
				return nil, err
			}
			out := [][]byte{[]byte("pexpireat"), []byte(a.key), strconv.AppendInt(nil, a.when, 10)}
			for _, f := range [...]struct {
				bit  uint8
				name string
			}{{keyExpNX, "NX"}, {keyExpXX, "XX"}, {keyExpGT, "GT"}, {keyExpLT, "LT"}} {
				if a.flags&f.bit != 0 {
					out = append(out, []byte(f.name))
				}
			}
			return out, nil
		},
		Run: func(db *DB, args [][]byte) Reply {
			var base int64
			if relative {
				base = db.ttlBase()
			}
			a, err := keyParseExpire(name, args, unit, base)
			if err != nil {
				return ErrReply(err)
			}
			return keyRunExpire(db, a)
		},
	}
}

// keyRunExpire applies a parsed expire. A key without a deadline has an
// infinite TTL for GT and LT: GT never succeeds on it, LT always does.
func keyRunExpire(db *DB, a keyExpireArgs) Reply {
	cur, ok := db.Expire(a.key)
	if !ok {
		return Zero
	}
	switch {
	case a.flags&keyExpNX != 0 && cur != 0,
		a.flags&keyExpXX != 0 && cur == 0,
		a.flags&keyExpGT != 0 && (cur == 0 || a.when <= cur),
		a.flags&keyExpLT != 0 && cur != 0 && a.when >= cur:
		return Zero
	}
	if a.when <= db.Now() {
		// Already expired (SetExpire would read a deadline of 0 as
		// "persist", so delete explicitly).
		db.Delete(a.key)
		return One
	}
	db.SetExpire(a.key, a.when)
	return One
}

// keyRunTTL implements TTL (ms=false, abs=false), PTTL, EXPIRETIME and
// PEXPIRETIME: -2 for a missing key, -1 for a key without deadline. Seconds
// are rounded as Redis does, (x+500)/1000, computed without overflow (Redis
// effectively divides unsigned, so a deadline near MaxInt64 rounds right).
func keyRunTTL(ms, abs bool) func(db *DB, key string) Reply {
	return func(db *DB, key string) Reply {
		exp, ok := db.Expire(key)
		switch {
		case !ok:
			return Int(-2)
		case exp == 0:
			return Int(-1)
		}
		v := exp
		if !abs {
			v = exp - db.Now()
			if v < 0 {
				v = 0
			}
		}
		if ms {
			return Int(v)
		}
		if v < 0 { // EXPIRETIME of a deadline before 1970 (cannot happen: already expired)
			return Int(v / 1000)
		}
		return Int(int64((uint64(v) + 500) / 1000))
	}
}

func keyRunPersist(db *DB, key string) Reply {
	exp, ok := db.Expire(key)
	if !ok || exp == 0 {
		return Zero
	}
	db.SetExpire(key, 0)
	return One
}

// keyRunRename implements RENAME and RENAMENX: the value moves with its
// deadline; a missing source is "ERR no such key" even when the names are
// equal; renaming a key onto itself is OK (RENAMENX: 0).
func keyRunRename(nx bool) func(db *DB, p [2]string) Reply {
	return func(db *DB, p [2]string) Reply {
		src, dst := p[0], p[1]
		it, ok := db.lookup(src)
		if !ok {
			return Err(CodeNoSuchKey)
		}
		if src == dst {
			if nx {
				return Zero
			}
			return OK
		}
		if db.Exists(dst) && nx {
			return Zero
		}
		db.Set(dst, it.value(), db.expOf(&it))
		db.remove(it)
		if nx {
			return One
		}
		return OK
	}
}

type keyCopyArgs struct {
	src, dst string
	replace  bool
}

// keyParseCopy parses "COPY source destination [DB n] [REPLACE]" like Redis
// 7.0 in cluster mode: the DB index is parsed and range-checked, then any
// database but 0 is refused.
func keyParseCopy(args [][]byte) (keyCopyArgs, error) {
	var c keyCopyArgs
	if len(args) < 3 {
		return c, keyArity("copy")
	}
	var dbid int64
	for j := 3; j < len(args); j++ {
		switch {
		case EqualFold(args[j], "replace"):
			c.replace = true
		case EqualFold(args[j], "db") && j+1 < len(args):
			n, ok := ParseInt(args[j+1])
			if !ok {
				return c, errNotInt
			}
			if n < math.MinInt32 || n > math.MaxInt32 {
				return c, &Error{Code: CodeIntRange}
			}
			if n < 0 || n >= keyDBCount {
				return c, &Error{Code: CodeInvalidDB}
			}
			dbid = n
			j++
		default:
			return c, errSyntax
		}
	}
	if dbid != 0 {
		return c, &Error{Code: CodeCopyCluster}
	}
	if bytes.Equal(args[1], args[2]) {
		return c, &Error{Code: CodeSameObject}
	}
	c.src, c.dst = string(args[1]), string(args[2])
	return c, nil
}

func keyRunCopy(db *DB, c keyCopyArgs) Reply {
	it, ok := db.lookup(c.src)
	if !ok {
		return Zero
	}
	if db.Exists(c.dst) && !c.replace {
		return Zero
	}
	val := it.value()
	switch v := val.(type) {
	case aggregate:
		val = v.cloneGen(db.gen) // a fresh value of the current generation
	case cloner:
		val = v.Clone()
	}
	db.Set(c.dst, val, db.expOf(&it))
	return One
}

type keyObjectArgs struct {
	sub string // lower case: help, encoding, freq, idletime, refcount
	key string
}

// keyParseObject parses OBJECT as Redis 7.0's container command: arity is
// checked per subcommand ("object|encoding"), unknown subcommands get
// "ERR unknown subcommand '<sub>'. Try OBJECT HELP.".
func keyParseObject(args [][]byte) (keyObjectArgs, error) {
	var o keyObjectArgs
	if len(args) < 2 {
		return o, keyArity("object")
	}
	for _, sub := range [...]string{"help", "encoding", "freq", "idletime", "refcount"} {
		if !EqualFold(args[1], sub) {
			continue
		}
		want := 3
		if sub == "help" {
			want = 2
		}
		if len(args) != want {
			return o, keyArity("object|" + sub)
		}
		o.sub = sub
		if want == 3 {
			o.key = string(args[2])
		}
		return o, nil
	}
	sub := args[1]
	if len(sub) > 128 {
		sub = sub[:128]
	}
	return o, &Error{Code: CodeUnknownSubcmd, Arg: "'" + string(sub) + "'. Try OBJECT HELP."}
}

var keyObjectHelp = [...]string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

func keyRunObject(db *DB, o keyObjectArgs) Reply {
	if o.sub == "help" {
		lines := make([]Reply, len(keyObjectHelp))
		for i, l := range keyObjectHelp {
			lines[i] = Status(l)
		}
		return Array(lines...)
	}
	v, ok := db.Get(o.key)
	if !ok {
		return Nil
	}
	switch o.sub {
	case "encoding":
		return Bulk(ObjectEncoding(v))
	case "freq":
		return Err(CodeLFUNotSelected)
	case "idletime":
		return Zero // access times are not tracked
	default: // refcount
		if s, ok := v.(string); ok {
			// Redis shares the objects of the integers 0..9999
			// (OBJ_SHARED_INTEGERS) with refcount OBJ_SHARED_REFCOUNT.
			if n, isInt := ParseInt([]byte(s)); isInt && n >= 0 && n < 10000 {
				return Int(math.MaxInt32)
			}
		}
		return One
	}
}

// ObjectEncoding returns OBJECT ENCODING's answer for a stored value. For a
// string it is "int" when the string is a canonical integer that fits an
// int64 (at most 20 bytes), "embstr" up to 44 bytes, else "raw" — what Redis
// answers for a value written by SET. Aggregates report their own encoding
// through an Encoding() string method.
func ObjectEncoding(v any) string {
	switch x := v.(type) {
	case RawString:
		return "raw"
	case FloatString:
		if len(x) <= 44 {
			return "embstr"
		}
		return "raw"
	case string:
		if len(x) <= 20 {
			if _, ok := ParseInt([]byte(x)); ok {
				return "int"
			}
		}
		if len(x) <= 44 {
			return "embstr"
		}
		return "raw"
	case interface{ Encoding() string }:
		return x.Encoding()
	}
	return "unknown"
}

// keyParseFlush parses "FLUSHALL|FLUSHDB [ASYNC|SYNC]".
func keyParseFlush(name string) func(args [][]byte) (struct{}, error) {
	return func(args [][]byte) (struct{}, error) {
		if len(args) < 1 {
			return struct{}{}, keyArity(name)
		}
		if len(args) > 2 || len(args) == 2 && !EqualFold(args[1], "sync") && !EqualFold(args[1], "async") {
			return struct{}{}, errSyntax
		}
		return struct{}{}, nil
	}
}

// keyRunFlush empties this group's keyspace (the node sends FLUSHALL to
// every group it leads). ASYNC is accepted and ignored: the copy-on-write
// trees are simply dropped.
func keyRunFlush(db *DB, _ struct{}) Reply {
	db.Flush()
	return OK
}

// keyRunExpireDel is the active expiry cycle's deletion: each named key is
// deleted only if it still exists and its deadline is at or before the
// entry's time (the key may have been rewritten or persisted since the
// leader chose it). It answers the number of keys deleted.
func keyRunExpireDel(db *DB, args [][]byte) Reply {
	var n int64
	for _, k := range args[min(1, len(args)):] {
		if db.deleteIfExpired(string(k)) {
			n++
		}
	}
	return Int(n)
}

// deleteIfExpired deletes key if it is present with a deadline at or before
// db.Now(), and reports whether it did. Unlike lookup it sees expired items.
func (db *DB) deleteIfExpired(key string) bool {
	it, ok := db.keys.Get(probe(key))
	if !ok || !db.expired(&it) {
		return false
	}
	db.remove(it)
	return true
}
