package fsm

// List commands (non-blocking), with the semantics, reply shapes and error
// precedence of redis-server 7.0 (t_list.c). Argument errors that Redis
// reports before looking at the keyspace are reported by parse (hence by
// Prepare, on the leader); the rest by Run, in Redis's order. An emptied
// list deletes its key. Lists are mutated in place after DB.writable has
// made them safe to mutate (copy-on-write against snapshots).
//
// Multi-key commands (LMOVE, RPOPLPUSH, LMPOP) reach the FSM only when all
// their keys hash to one slot (resp answers CROSSSLOT otherwise), so they
// run atomically inside one group.

var listCommands = []*Command{
	def("lpush", OpLPush, true, parsePush("lpush", true, false), runPush),
	def("rpush", OpRPush, true, parsePush("rpush", false, false), runPush),
	def("lpushx", OpLPushX, true, parsePush("lpushx", true, true), runPush),
	def("rpushx", OpRPushX, true, parsePush("rpushx", false, true), runPush),
	def("lpop", OpLPop, true, parsePop("lpop", true), runPop),
	def("rpop", OpRPop, true, parsePop("rpop", false), runPop),
	def("llen", OpLLen, false, parseKey("llen"), runLLen),
	def("lrange", OpLRange, false, parseRange("lrange"), runLRange),
	def("lindex", OpLIndex, false, parseLIndex, runLIndex),
	def("lset", OpLSet, true, parseLSet, runLSet),
	def("lrem", OpLRem, true, parseLRem, runLRem),
	def("ltrim", OpLTrim, true, parseRange("ltrim"), runLTrim),
	def("linsert", OpLInsert, true, parseLInsert, runLInsert),
	def("lpos", OpLPos, false, parseLPos, runLPos),
	def("lmove", OpLMove, true, parseLMove, runLMove),
	def("rpoplpush", OpRPopLPush, true, parseRPopLPush, runLMove),
	def("lmpop", OpLMPop, true, parseLMPop, runLMPop),
}

// Keyspace access.

// listRead returns key's list, nil when the key does not exist; wrong is
// true when the key holds another type.
func (db *DB) listRead(key string) (l *List, wrong bool) {
	it, ok := db.lookup(key)
	if !ok {
		return nil, false
	}
	if it.obj == nil {
		return nil, true
	}
	l, isList := it.obj.v.(*List)
	return l, !isList
}

// listWrite is listRead for a command about to mutate the list: the list
// returned may be mutated in place (see DB.writable).
func (db *DB) listWrite(key string) (l *List, wrong bool) {
	it, ok := db.lookup(key)
	if !ok {
		return nil, false
	}
	if it.obj == nil {
		return nil, true
	}
	if _, isList := it.obj.v.(*List); !isList {
		return nil, true
	}
	return db.writable(it).(*List), false
}

// listCreate stores a new empty list under key (which must not exist).
func (db *DB) listCreate(key string) *List {
	l := newList(db.gen)
	db.Set(key, l, 0)
	return l
}

// listChanged accounts for n changes to key's list l and deletes the key
// when the list became empty, as Redis does.
func (db *DB) listChanged(key string, l *List, n int) {
	db.dirty += uint64(n)
	if l.Len() == 0 {
		db.Delete(key)
	}
}

// listRange returns elements [start, end] (already clamped) as bulk
// replies, reversed when reverse is set.
func listRange(l *List, start, end int, reverse bool) []Reply {
	out := make([]Reply, 0, end-start+1)
	if reverse {
		for i := end; i >= start; i-- {
			out = append(out, Bulk(l.At(i)))
		}
		return out
	}
	for i := start; i <= end; i++ {
		out = append(out, Bulk(l.At(i)))
	}
	return out
}

// popRange pops count elements (count <= Len()) from one end and returns
// them in the order popped.
func popRange(l *List, count int, left bool) []Reply {
	out := make([]Reply, count)
	for i := range out {
		out[i] = Bulk(l.pop(left))
	}
	return out
}

// parseListWhere parses LEFT or RIGHT (getListPositionFromObjectOrReply).
func parseListWhere(b []byte) (left bool, err error) {
	switch {
	case EqualFold(b, "left"):
		return true, nil
	case EqualFold(b, "right"):
		return false, nil
	}
	return false, errSyntax
}

// LPUSH, RPUSH, LPUSHX, RPUSHX.

type pushArgs struct {
	key   string
	vals  [][]byte
	left  bool
	onlyX bool // LPUSHX/RPUSHX: only push onto an existing list
}

func parsePush(name string, left, onlyX bool) func([][]byte) (pushArgs, error) {
	return func(args [][]byte) (pushArgs, error) {
		if len(args) < 3 {
			return pushArgs{}, wrongArgs(name)
		}
		return pushArgs{key: string(args[1]), vals: args[2:], left: left, onlyX: onlyX}, nil
	}
}

func runPush(db *DB, a pushArgs) Reply {
	l, wrong := db.listWrite(a.key)
	switch {
	case wrong:
		return WrongType
	case l == nil && a.onlyX:
		return Zero
	case l == nil:
		l = db.listCreate(a.key)
	}
	for _, v := range a.vals {
		l.push(string(v), a.left)
	}
	db.listChanged(a.key, l, len(a.vals))
	return Int(int64(l.Len()))
}

// LPOP, RPOP [count].

type popArgs struct {
	key      string
	count    int64
	hasCount bool
	left     bool
}

func parsePop(name string, left bool) func([][]byte) (popArgs, error) {
	return func(args [][]byte) (popArgs, error) {
		a := popArgs{left: left}
		if len(args) < 2 || len(args) > 3 {
			return a, wrongArgs(name)
		}
		a.key = string(args[1])
		if len(args) == 3 {
			n, ok := ParseInt(args[2])
			if !ok || n < 0 {
				return a, &Error{Code: CodeNotPositive}
			}
			a.count, a.hasCount = n, true
		}
		return a, nil
	}
}

func runPop(db *DB, a popArgs) Reply {
	l, wrong := db.listRead(a.key)
	switch {
	case l == nil && !wrong && a.hasCount:
		return NilArray
	case l == nil && !wrong:
		return Nil
	case wrong:
		return WrongType
	case a.hasCount && a.count == 0:
		return Array()
	}
	l, _ = db.listWrite(a.key)
	if !a.hasCount {
		r := Bulk(l.pop(a.left))
		db.listChanged(a.key, l, 1)
		return r
	}
	n := int(min(a.count, int64(l.Len())))
	out := popRange(l, n, a.left)
	db.listChanged(a.key, l, n)
	return Array(out...)
}

// LLEN, LRANGE, LINDEX.

func runLLen(db *DB, key string) Reply {
	l, wrong := db.listRead(key)
	switch {
	case wrong:
		return WrongType
	case l == nil:
		return Zero
	}
	return Int(int64(l.Len()))
}

// clampRange converts LRANGE/LTRIM indexes for a list of n elements into
// [start, end] with 0 <= start <= end < n; ok is false for an empty range.
func clampRange(start, end int64, n int) (int, int, bool) {
	ln := int64(n)
	if start < 0 {
		start += ln
	}
	if end < 0 {
		end += ln
	}
	start = max(start, 0)
	if start > end || start >= ln {
		return 0, 0, false
	}
	end = min(end, ln-1)
	return int(start), int(end), true
}

func runLRange(db *DB, a rangeArgs) Reply {
	l, wrong := db.listRead(a.key)
	switch {
	case wrong:
		return WrongType
	case l == nil:
		return Array()
	}
	start, end, ok := clampRange(a.start, a.end, l.Len())
	if !ok {
		return Array()
	}
	return Array(listRange(l, start, end, false)...)
}

type indexArgs struct {
	key   string
	index []byte // parsed after the key lookup, as Redis does
	val   []byte // LSET
}

func parseLIndex(args [][]byte) (indexArgs, error) {
	if len(args) != 3 {
		return indexArgs{}, wrongArgs("lindex")
	}
	return indexArgs{key: string(args[1]), index: args[2]}, nil
}

func runLIndex(db *DB, a indexArgs) Reply {
	l, wrong := db.listRead(a.key)
	switch {
	case l == nil && !wrong:
		return Nil
	case wrong:
		return WrongType
	}
	idx, ok := ParseInt(a.index)
	if !ok {
		return Err(CodeNotInt)
	}
	i, ok := l.Index(idx)
	if !ok {
		return Nil
	}
	return Bulk(l.At(i))
}

// LSET: "ERR no such key" and WRONGTYPE come before the index is parsed.

func parseLSet(args [][]byte) (indexArgs, error) {
	if len(args) != 4 {
		return indexArgs{}, wrongArgs("lset")
	}
	return indexArgs{key: string(args[1]), index: args[2], val: args[3]}, nil
}

func runLSet(db *DB, a indexArgs) Reply {
	l, wrong := db.listRead(a.key)
	switch {
	case l == nil && !wrong:
		return Err(CodeNoSuchKey)
	case wrong:
		return WrongType
	}
	idx, ok := ParseInt(a.index)
	if !ok {
		return Err(CodeNotInt)
	}
	i, ok := l.Index(idx)
	if !ok {
		return Err(CodeOutOfRange)
	}
	l, _ = db.listWrite(a.key)
	l.set(i, string(a.val))
	db.listChanged(a.key, l, 1)
	return OK
}

// LREM key count element.

type lremArgs struct {
	key   string
	count int64
	val   string
}

func parseLRem(args [][]byte) (lremArgs, error) {
	if len(args) != 4 {
		return lremArgs{}, wrongArgs("lrem")
	}
	n, ok := ParseInt(args[2])
	if !ok {
		return lremArgs{}, errNotInt
	}
	return lremArgs{key: string(args[1]), count: n, val: string(args[3])}, nil
}

func runLRem(db *DB, a lremArgs) Reply {
	l, wrong := db.listRead(a.key)
	switch {
	case wrong:
		return WrongType
	case l == nil:
		return Zero
	}
	count, fromTail := a.count, false
	if count < 0 {
		// -MinInt64 wraps to itself, as in Redis: then no count is ever
		// reached and every match is removed.
		count, fromTail = -count, true
	}
	if !listContains(l, a.val) {
		return Zero
	}
	l, _ = db.listWrite(a.key)
	removed := l.Remove(a.val, count, fromTail)
	db.listChanged(a.key, l, int(removed))
	return Int(removed)
}

func listContains(l *List, v string) bool {
	for i := 0; i < l.Len(); i++ {
		if l.At(i) == v {
			return true
		}
	}
	return false
}

// LTRIM key start stop: a missing key is OK.

func runLTrim(db *DB, a rangeArgs) Reply {
	l, wrong := db.listRead(a.key)
	switch {
	case wrong:
		return WrongType
	case l == nil:
		return OK
	}
	n := l.Len()
	start, end, ok := clampRange(a.start, a.end, n)
	if ok && start == 0 && end == n-1 {
		return OK // nothing to remove
	}
	l, _ = db.listWrite(a.key)
	if !ok {
		start, end = 1, 0 // remove everything
	}
	l.Trim(start, end)
	db.listChanged(a.key, l, n-l.Len())
	return OK
}

// LINSERT key BEFORE|AFTER pivot element.

type linsertArgs struct {
	key        string
	after      bool
	pivot, val string
}

func parseLInsert(args [][]byte) (linsertArgs, error) {
	if len(args) != 5 {
		return linsertArgs{}, wrongArgs("linsert")
	}
	a := linsertArgs{key: string(args[1]), pivot: string(args[3]), val: string(args[4])}
	switch {
	case EqualFold(args[2], "after"):
		a.after = true
	case EqualFold(args[2], "before"):
	default:
		return a, errSyntax
	}
	return a, nil
}

func runLInsert(db *DB, a linsertArgs) Reply {
	l, wrong := db.listRead(a.key)
	switch {
	case wrong:
		return WrongType
	case l == nil:
		return Zero
	}
	for i := 0; i < l.Len(); i++ {
		if l.At(i) != a.pivot {
			continue
		}
		if a.after {
			i++
		}
		l, _ = db.listWrite(a.key)
		l.Insert(i, a.val)
		db.listChanged(a.key, l, 1)
		return Int(int64(l.Len()))
	}
	return Int(-1)
}

// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].

type lposArgs struct {
	key, val      string
	rank, count   int64 // count -1: no COUNT option
	maxlen        int64
	fromTail, arr bool
}

func parseLPos(args [][]byte) (lposArgs, error) {
	a := lposArgs{rank: 1, count: -1}
	if len(args) < 3 {
		return a, wrongArgs("lpos")
	}
	a.key, a.val = string(args[1]), string(args[2])
	for j := 3; j < len(args); j++ {
		more := j+1 < len(args)
		switch {
		case EqualFold(args[j], "rank") && more:
			j++
			n, ok := ParseInt(args[j])
			if !ok {
				return a, errNotInt
			}
			if n == 0 {
				return a, &Error{Code: CodeLPosRankZero}
			}
			a.rank = n
		case EqualFold(args[j], "count") && more:
			j++
			n, ok := ParseInt(args[j])
			if !ok || n < 0 {
				return a, &Error{Code: CodeLPosCountNeg}
			}
			a.count = n
		case EqualFold(args[j], "maxlen") && more:
			j++
			n, ok := ParseInt(args[j])
			if !ok || n < 0 {
				return a, &Error{Code: CodeLPosMaxLenNeg}
			}
			a.maxlen = n
		default:
			return a, errSyntax
		}
	}
	a.arr = a.count != -1
	if a.rank < 0 {
		// -MinInt64 stays negative, as in Redis: then every match
		// qualifies (matches >= rank).
		a.rank, a.fromTail = -a.rank, true
	}
	return a, nil
}

// runLPos mirrors lposCommand, including its integer arithmetic.
func runLPos(db *DB, a lposArgs) Reply {
	l, wrong := db.listRead(a.key)
	switch {
	case l == nil && !wrong && a.arr:
		return Array()
	case l == nil && !wrong:
		return Nil
	case wrong:
		return WrongType
	}
	n := int64(l.Len())
	var out []Reply
	var matches int64
	for index := int64(0); index < n && (a.maxlen == 0 || index < a.maxlen); index++ {
		pos := index
		if a.fromTail {
			pos = n - index - 1
		}
		if l.At(int(pos)) != a.val {
			continue
		}
		matches++
		if matches < a.rank {
			continue
		}
		if !a.arr {
			return Int(pos)
		}
		out = append(out, Int(pos))
		if a.count != 0 && matches-a.rank+1 >= a.count {
			break
		}
	}
	if a.arr {
		return Array(out...)
	}
	return Nil
}

// LMOVE source destination LEFT|RIGHT LEFT|RIGHT, and RPOPLPUSH source
// destination (RIGHT LEFT).

type lmoveArgs struct {
	src, dst         string
	fromLeft, toLeft bool
}

func parseLMove(args [][]byte) (lmoveArgs, error) {
	if len(args) != 5 {
		return lmoveArgs{}, wrongArgs("lmove")
	}
	from, err := parseListWhere(args[3])
	if err != nil {
		return lmoveArgs{}, err
	}
	to, err := parseListWhere(args[4])
	if err != nil {
		return lmoveArgs{}, err
	}
	return lmoveArgs{src: string(args[1]), dst: string(args[2]), fromLeft: from, toLeft: to}, nil
}

func parseRPopLPush(args [][]byte) (lmoveArgs, error) {
	if len(args) != 3 {
		return lmoveArgs{}, wrongArgs("rpoplpush")
	}
	return lmoveArgs{src: string(args[1]), dst: string(args[2]), toLeft: true}, nil
}

// runLMove pops from the source and pushes onto the destination. With the
// same key for both, the list rotates (it is never emptied in between).
func runLMove(db *DB, a lmoveArgs) Reply {
	src, wrong := db.listRead(a.src)
	switch {
	case src == nil && !wrong:
		return Nil
	case wrong:
		return WrongType
	}
	if a.dst != a.src {
		if _, wrong := db.listRead(a.dst); wrong {
			return WrongType
		}
	}
	src, _ = db.listWrite(a.src)
	v := src.pop(a.fromLeft)
	dst := src
	if a.dst != a.src {
		if dst, _ = db.listWrite(a.dst); dst == nil {
			dst = db.listCreate(a.dst)
		}
	}
	dst.push(v, a.toLeft)
	db.listChanged(a.dst, dst, 1)
	db.listChanged(a.src, src, 1)
	return Bulk(v)
}

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count].

type lmpopArgs struct {
	keys  [][]byte
	left  bool
	count int64
}

func parseLMPop(args [][]byte) (lmpopArgs, error) {
	var a lmpopArgs
	if len(args) < 4 {
		return a, wrongArgs("lmpop")
	}
	numkeys, ok := ParseInt(args[1])
	if !ok || numkeys < 1 {
		return a, &Error{Code: CodeNumKeysZero}
	}
	whereIdx := 2 + numkeys
	if numkeys > int64(len(args)) || whereIdx >= int64(len(args)) {
		return a, errSyntax
	}
	left, err := parseListWhere(args[whereIdx])
	if err != nil {
		return a, err
	}
	a.keys, a.left, a.count = args[2:whereIdx], left, -1
	for j := int(whereIdx) + 1; j < len(args); j++ {
		if a.count != -1 || !EqualFold(args[j], "count") || j+1 >= len(args) {
			return a, errSyntax
		}
		j++
		n, ok := ParseInt(args[j])
		if !ok || n < 1 {
			return a, &Error{Code: CodeCountZero}
		}
		a.count = n
	}
	if a.count == -1 {
		a.count = 1
	}
	return a, nil
}

// runLMPop pops from the first non-empty list among the keys; a key of
// another type met before it is WRONGTYPE.
func runLMPop(db *DB, a lmpopArgs) Reply {
	for _, k := range a.keys {
		key := string(k)
		l, wrong := db.listRead(key)
		if wrong {
			return WrongType
		}
		if l == nil {
			continue
		}
		l, _ = db.listWrite(key)
		n := int(min(a.count, int64(l.Len())))
		out := popRange(l, n, a.left)
		db.listChanged(key, l, n)
		return Array(Bulk(key), Array(out...))
	}
	return NilArray
}
