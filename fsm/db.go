package fsm

import (
	"github.com/tidwall/btree"

	"github.com/troika-db/troika/slots"
)

// item is one key of the keyspace. Items are stored by value in a
// copy-on-write B-tree ordered by (ord, key), where ord = slot<<48 | a 48-bit
// hash of the key. That order gives three things at once: keys of one slot
// are contiguous (GETKEYSINSLOT, COUNTKEYSINSLOT, slot migration), SCAN can
// use a stateless numeric cursor (the ord to resume at), and the B-tree's
// O(1) Copy gives point-in-time snapshots.
//
// Layout (40 bytes, one extra allocation per key): a string value is stored
// in the same allocation as its key (kv = key + value), aggregates hang off
// obj, and the deadline of the few keys that have one lives in the ttls tree
// (flagTTL says to look there). Memory per key is what Redis users compare.
type item struct {
	ord  uint64
	kv   string  // key bytes, then (for strings) the value bytes
	meta uint64  // low 32 bits: key length; flagTTL
	obj  *object // non-nil for aggregate values
}

// object boxes an aggregate value (list, hash, ...): a pointer keeps item small.
type object struct{ v any }

const (
	flagTTL   = 1 << 32
	flagRaw   = 1 << 33 // string stored as RawString
	flagNoInt = 1 << 34 // string stored as FloatString
)

// RawString is a string value that Redis keeps in its "raw" encoding
// whatever its content (the result of APPEND and SETRANGE). OBJECT ENCODING
// and snapshots preserve the distinction; everything else sees a string.
type RawString string

// FloatString is a string value Redis never stores as "int" (the result of
// INCRBYFLOAT): "embstr" or "raw" by length.
type FloatString string

func (it *item) key() string    { return it.kv[:uint32(it.meta)] }
func (it *item) hasTTL() bool   { return it.meta&flagTTL != 0 }
func (it *item) strVal() string { return it.kv[uint32(it.meta):] }

// value returns the stored value: a string (RawString or FloatString when
// it carries an encoding flag), or the aggregate.
func (it *item) value() any {
	switch {
	case it.obj != nil:
		return it.obj.v
	case it.meta&flagRaw != 0:
		return RawString(it.strVal())
	case it.meta&flagNoInt != 0:
		return FloatString(it.strVal())
	}
	return it.strVal()
}

func probe(key string) item { return item{ord: Ord(key), kv: key, meta: uint64(uint32(len(key)))} }

func makeItem(key string, val any, hasTTL bool) item {
	it := item{ord: Ord(key), meta: uint64(uint32(len(key)))}
	switch s := val.(type) {
	case string:
		it.kv = key + s
	case RawString:
		it.kv = key + string(s)
		it.meta |= flagRaw
	case FloatString:
		it.kv = key + string(s)
		it.meta |= flagNoInt
	default:
		it.kv = key
		it.obj = &object{v: val}
	}
	if hasTTL {
		it.meta |= flagTTL
	}
	return it
}

// ttlItem records a key's deadline, looked up by (ord, key).
type ttlItem struct {
	ord uint64
	key string
	exp int64
}

// expItem indexes keys with a deadline for the active expiry cycle.
type expItem struct {
	exp int64
	ord uint64
	key string
}

func itemLess(a, b item) bool {
	if a.ord != b.ord {
		return a.ord < b.ord
	}
	return a.key() < b.key()
}

func ttlLess(a, b ttlItem) bool {
	if a.ord != b.ord {
		return a.ord < b.ord
	}
	return a.key < b.key
}

func expLess(a, b expItem) bool {
	if a.exp != b.exp {
		return a.exp < b.exp
	}
	if a.ord != b.ord {
		return a.ord < b.ord
	}
	return a.key < b.key
}

// Ord returns the position of key in the keyspace order: its slot in the top
// 16 bits and an FNV-1a hash of the key in the low 48 bits.
func Ord(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return uint64(slots.SlotString(key))<<48 | h&(1<<48-1)
}

// OrdSlot returns the slot part of an ord (or SCAN cursor).
func OrdSlot(ord uint64) int { return int(ord >> 48) }

// SlotOrd returns the first ord of slot.
func SlotOrd(slot int) uint64 { return uint64(slot) << 48 }

// DB is the keyspace of one raft group. It is not safe for concurrent use:
// the node's FSM adapter serialises Apply against reads with a RWMutex.
// Reads (Read) run on a shallow copy of the struct carrying the reader's
// clock, so concurrent readers never write to the shared DB.
//
// Time: DB never reads a clock. Now is set by the caller: during Apply it is
// the timestamp the leader stamped into the log entry, so every replica
// decides expiry identically; for reads it is the leader's clock.
type DB struct {
	keys  *btree.BTreeG[item]
	ttls  *btree.BTreeG[ttlItem] // deadline by key, for keys with flagTTL
	exps  *btree.BTreeG[expItem] // keys by deadline
	count *[slots.Count]uint32   // keys per slot (expired-but-not-deleted included)
	now   int64
	gen   uint64 // bumped by Snapshot; aggregates created in an older gen are cloned before mutation
	dirty uint64 // number of changes since start (INFO rdb_changes_since_last_save)
	// restoredIndex: see RestoredIndex.
	restoredIndex uint64
	// WATCH versions (watch.go): a counter of applied writes, the version
	// of the last FLUSHALL, and per slot the version of its last write
	// (nil until the first).
	wseq, wflush uint64
	wver         *[slots.Count]uint64
	// Applying is true while running inside Apply: lookups then delete
	// expired keys (deterministically, with the entry's time). During reads
	// it is false and expired keys are only hidden.
	applying bool
	// localTTL, when non-zero during Apply, is the applying replica's own
	// clock (unix ms): relative expiries are resolved against it instead
	// of the entry's time. Only the apply-time-ttl planted bug sets it
	// (ApplyEntryLocalTTL); it makes replicas disagree.
	localTTL int64
}

// NewDB returns an empty keyspace.
func NewDB() *DB {
	opts := btree.Options{NoLocks: true, Degree: 64}
	return &DB{
		keys:  btree.NewBTreeGOptions(itemLess, opts),
		ttls:  btree.NewBTreeGOptions(ttlLess, opts),
		exps:  btree.NewBTreeGOptions(expLess, opts),
		count: new([slots.Count]uint32),
	}
}

// SetNow sets the clock reading used for expiry decisions (unix ms).
func (db *DB) SetNow(ms int64) { db.now = ms }

// Now returns the current clock reading (unix ms).
func (db *DB) Now() int64 { return db.now }

// ttlBase is the time a relative expiry (EX, PX, EXPIRE, ...) that reaches
// Run unconverted counts from: the entry's time, except under the
// apply-time-ttl planted bug (see ApplyEntryLocalTTL).
func (db *DB) ttlBase() int64 {
	if db.applying && db.localTTL != 0 {
		return db.localTTL
	}
	return db.now
}

// RestoredIndex is the applied index recorded in the snapshot this DB was
// read from (0 when unknown or not restored).
func (db *DB) RestoredIndex() uint64 { return db.restoredIndex }

// Gen returns the current copy-on-write generation (see DB.writable).
func (db *DB) Gen() uint64 { return db.gen }

// Dirty returns the number of key changes applied since the DB was created.
func (db *DB) Dirty() uint64 { return db.dirty }

// Len returns the number of keys, including expired keys not yet deleted.
func (db *DB) Len() int { return db.keys.Len() }

// Expires returns the number of keys with a deadline.
func (db *DB) Expires() int { return db.exps.Len() }

// CountInSlot returns the number of keys stored in slot.
func (db *DB) CountInSlot(slot int) int { return int(db.count[slot]) }

// expOf returns the deadline of a stored item (0: none).
func (db *DB) expOf(it *item) int64 {
	if !it.hasTTL() {
		return 0
	}
	t, _ := db.ttls.Get(ttlItem{ord: it.ord, key: it.key()})
	return t.exp
}

func (db *DB) expired(it *item) bool {
	if !it.hasTTL() {
		return false
	}
	exp := db.expOf(it)
	return exp != 0 && exp <= db.now
}

// lookup finds key. An expired key is reported missing; inside Apply it is
// also deleted (lazy expiry, deterministic because now comes from the log).
func (db *DB) lookup(key string) (item, bool) {
	it, ok := db.keys.Get(probe(key))
	if !ok {
		return it, false
	}
	if db.expired(&it) {
		if db.applying {
			db.remove(it)
		}
		return item{}, false
	}
	return it, true
}

// Get returns the value of key and whether it exists (and is not expired).
func (db *DB) Get(key string) (any, bool) {
	it, ok := db.lookup(key)
	if !ok {
		return nil, false
	}
	return it.value(), true
}

// getWithExp returns the value and deadline of a live key.
func (db *DB) getWithExp(key string) (val any, exp int64, ok bool) {
	it, ok := db.lookup(key)
	if !ok {
		return nil, 0, false
	}
	return it.value(), db.expOf(&it), true
}

// Exists reports whether key exists and is not expired.
func (db *DB) Exists(key string) bool {
	_, ok := db.lookup(key)
	return ok
}

// Expire returns the absolute deadline of key in unix ms (0: none) and
// whether the key exists.
func (db *DB) Expire(key string) (int64, bool) {
	it, ok := db.lookup(key)
	if !ok {
		return 0, false
	}
	return db.expOf(&it), true
}

// aggregate is implemented by aggregate values that commands mutate in
// place (lists, ...). generation is the DB generation (see DB.Gen) the
// value was created or last cloned in; cloneGen returns a deep copy
// belonging to generation gen.
type aggregate interface {
	generation() uint64
	cloneGen(gen uint64) aggregate
}

// writable returns the value of the live aggregate item it, ready to be
// mutated in place. Copy-on-write: a value created before the latest
// Snapshot (an older generation) may be shared with that snapshot's trees,
// so it is cloned first and the clone, in a new object box, replaces it in
// the keyspace (the item keeps its key and deadline). Values of the current
// generation are returned as they are. Only Apply may call it.
func (db *DB) writable(it item) any {
	a, ok := it.obj.v.(aggregate)
	if !ok || a.generation() == db.gen {
		return it.obj.v
	}
	c := a.cloneGen(db.gen)
	it.obj = &object{v: c}
	db.keys.Set(it)
	return c
}

// GetString returns the string value of key. ok is false when the key does
// not exist; wrongType is true when it holds another type.
func (db *DB) GetString(key string) (s string, ok, wrongType bool) {
	it, found := db.lookup(key)
	if !found {
		return "", false, false
	}
	if it.obj != nil {
		return "", true, true
	}
	return it.strVal(), true, false
}

// Set stores val under key with deadline exp (0: none), replacing any
// previous value and deadline.
func (db *DB) Set(key string, val any, exp int64) {
	it := makeItem(key, val, exp != 0)
	prev, replaced := db.keys.Set(it)
	if replaced {
		db.dropTTL(&prev)
	} else {
		db.count[it.ord>>48]++
	}
	if exp != 0 {
		db.ttls.Set(ttlItem{ord: it.ord, key: key, exp: exp})
		db.exps.Set(expItem{exp: exp, ord: it.ord, key: key})
	}
	db.dirty++
}

// dropTTL removes the deadline records of a stored item, if any.
func (db *DB) dropTTL(it *item) {
	if !it.hasTTL() {
		return
	}
	t, ok := db.ttls.Delete(ttlItem{ord: it.ord, key: it.key()})
	if ok {
		db.exps.Delete(expItem{exp: t.exp, ord: t.ord, key: t.key})
	}
}

// SetKeepTTL stores val under key keeping the key's current deadline (if the
// key exists and is not expired).
func (db *DB) SetKeepTTL(key string, val any) {
	exp, _ := db.Expire(key)
	db.Set(key, val, exp)
}

// Update replaces the value of an existing key keeping its deadline. It
// reports false (and does nothing) when the key does not exist.
func (db *DB) Update(key string, val any) bool {
	it, ok := db.lookup(key)
	if !ok {
		return false
	}
	next := makeItem(key, val, it.hasTTL())
	db.keys.Set(next)
	db.dirty++
	return true
}

// SetExpire sets the deadline of an existing key (0 removes it, like
// PERSIST). A deadline at or before now deletes the key, as Redis does.
// It reports whether the key existed.
func (db *DB) SetExpire(key string, exp int64) bool {
	it, ok := db.lookup(key)
	if !ok {
		return false
	}
	if exp != 0 && exp <= db.now {
		db.remove(it)
		return true
	}
	db.dropTTL(&it)
	if exp != 0 {
		it.meta |= flagTTL
		db.ttls.Set(ttlItem{ord: it.ord, key: key, exp: exp})
		db.exps.Set(expItem{exp: exp, ord: it.ord, key: key})
	} else {
		it.meta &^= flagTTL
	}
	db.keys.Set(it)
	db.dirty++
	return true
}

// Delete removes key and reports whether it existed (and was not expired).
func (db *DB) Delete(key string) bool {
	it, ok := db.lookup(key)
	if !ok {
		return false
	}
	db.remove(it)
	return true
}

func (db *DB) remove(it item) {
	db.keys.Delete(it)
	db.dropTTL(&it)
	db.count[it.ord>>48]--
	db.dirty++
}

// Flush removes every key.
func (db *DB) Flush() {
	n := db.keys.Len()
	fresh := NewDB()
	db.keys, db.ttls, db.exps, db.count = fresh.keys, fresh.ttls, fresh.exps, fresh.count
	db.dirty += uint64(n)
}

// ExpiredKeys returns up to max keys whose deadline is at or before now, in
// deadline order. The leader's active expiry cycle proposes their deletion.
func (db *DB) ExpiredKeys(now int64, max int) []string {
	var out []string
	db.exps.Scan(func(e expItem) bool {
		if e.exp > now || len(out) >= max {
			return false
		}
		out = append(out, e.key)
		return true
	})
	return out
}

// KeyEntry is one key as seen by iteration.
type KeyEntry struct {
	Key string
	Exp int64
	Val any
	Ord uint64
}

// Ascend calls fn for every live key with ord in [from, to) in keyspace
// order until fn returns false. Expired keys are skipped.
func (db *DB) Ascend(from, to uint64, fn func(e KeyEntry) bool) {
	db.keys.Ascend(item{ord: from}, func(it item) bool {
		if it.ord >= to {
			return false
		}
		if db.expired(&it) {
			return true
		}
		return fn(KeyEntry{Key: it.key(), Exp: db.expOf(&it), Val: it.value(), Ord: it.ord})
	})
}

// Scan returns keys from cursor (an ord) up to but excluding limit, stopping
// after at least count keys have been visited and all keys sharing the last
// visited ord have been included (so a cursor never splits an ord: SCAN's
// guarantee that a key present for the whole iteration is returned holds).
// match filters the returned keys (nil: all). next is the ord to resume at,
// or limit when the range is exhausted.
func (db *DB) Scan(cursor, limit uint64, count int, match func(e KeyEntry) bool) (keys []string, next uint64) {
	visited := 0
	next = limit
	var lastOrd uint64
	db.keys.Ascend(item{ord: cursor}, func(it item) bool {
		if it.ord >= limit {
			return false
		}
		if visited >= count && it.ord != lastOrd {
			next = it.ord
			return false
		}
		visited++
		lastOrd = it.ord
		if db.expired(&it) {
			return true
		}
		if match == nil || match(KeyEntry{Key: it.key(), Exp: db.expOf(&it), Val: it.value(), Ord: it.ord}) {
			keys = append(keys, it.key())
		}
		return true
	})
	return keys, next
}

// RandomKey returns a live key chosen by pick (which receives the number of
// keys and returns an index), or "" and false when the DB is empty. The DB
// holds no randomness itself: the caller (a read on the leader) supplies it.
func (db *DB) RandomKey(pick func(n int) int) (string, bool) {
	n := db.keys.Len()
	for tries := 0; n > 0 && tries < 100; tries++ {
		it, ok := db.keys.GetAt(pick(n))
		if ok && !db.expired(&it) {
			return it.key(), true
		}
	}
	var key string
	found := false
	db.keys.Scan(func(it item) bool {
		if db.expired(&it) {
			return true
		}
		key, found = it.key(), true
		return false
	})
	return key, found
}

// TypeName returns Redis's TYPE name for a stored value.
func TypeName(v any) string {
	switch v.(type) {
	case string, RawString, FloatString:
		return "string"
	case nil:
		return "none"
	}
	if t, ok := v.(interface{ TypeName() string }); ok {
		return t.TypeName()
	}
	return "none"
}
