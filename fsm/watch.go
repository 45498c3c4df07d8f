package fsm

import (
	"encoding/binary"
	"strconv"

	"github.com/troika-db/troika/slots"
)

// WATCH support. Every write command applied bumps a version of the slot of
// its keys (one counter per DB, so versions only grow); a transaction
// watched at version v of slot s runs only if s is still at v when its
// entry is applied. The check is per slot, not per key: a write to another
// key of the same slot also aborts the transaction (a spurious abort,
// which a WATCH client retries; never a missed one). Versions are part of
// the replicated state: the same on every replica, and in snapshots.

// OpWatchGuard is internal: the first command of a watched transaction.
// Args: n (the number of commands of the transaction that follow), then
// slot/version pairs. If a slot moved on, the guard answers 0 and the n
// commands are skipped; otherwise it answers 1.
const OpWatchGuard Op = 97

// watchGuardName is the guard's command name (never in the RESP table).
const watchGuardName = "__watchguard"

var watchGuard = &Command{
	Name:  watchGuardName,
	Op:    OpWatchGuard,
	Write: true,
	Run: func(db *DB, args [][]byte) Reply {
		if _, ok := parseGuard(args); !ok {
			return ErrMsg("ERR bad watch guard")
		}
		return Int(1) // ApplyEntry evaluates guards; Run only validates
	},
	Prepare: func(args [][]byte, _ int64) ([][]byte, error) {
		if _, ok := parseGuard(args); !ok {
			return nil, errBadGuard
		}
		return args, nil
	},
}

type guardErr struct{}

func (guardErr) Error() string { return "ERR bad watch guard" }

var errBadGuard = guardErr{}

type guard struct {
	n        int
	slots    []int
	versions []uint64
}

func parseGuard(args [][]byte) (guard, bool) {
	var g guard
	if len(args) < 2 || len(args)%2 != 0 {
		return g, false
	}
	n, err := strconv.Atoi(string(args[1]))
	if err != nil || n < 0 {
		return g, false
	}
	g.n = n
	for i := 2; i+1 < len(args); i += 2 {
		s, err1 := strconv.Atoi(string(args[i]))
		v, err2 := strconv.ParseUint(string(args[i+1]), 10, 64)
		if err1 != nil || err2 != nil || s < 0 || s >= slots.Count {
			return g, false
		}
		g.slots, g.versions = append(g.slots, s), append(g.versions, v)
	}
	return g, true
}

// WatchGuardArgs builds the guard's arguments (args[0] is its name) for a
// transaction of n commands watching slots at versions.
func WatchGuardArgs(n int, slotVersions map[int]uint64) [][]byte {
	args := [][]byte{[]byte(watchGuardName), []byte(strconv.Itoa(n))}
	for s, v := range slotVersions {
		args = append(args, []byte(strconv.Itoa(s)), []byte(strconv.FormatUint(v, 10)))
	}
	return args
}

// SlotVersion is the version of slot s: it changes whenever a write command
// touching a key of s (or FLUSHALL) is applied.
func (db *DB) SlotVersion(s int) uint64 {
	v := db.wflush
	if db.wver != nil && db.wver[s] > v {
		v = db.wver[s]
	}
	return v
}

// bumpAfter records that a write command ran: args is the full argument
// list (args[0] the name), r its reply (an error changed nothing).
func (db *DB) bumpAfter(cmd *Command, args [][]byte, r Reply) {
	if !cmd.Write || r.Kind == KindError || cmd.Op == OpWatchGuard {
		return
	}
	db.wseq++
	switch cmd.Op {
	case OpFlushAll, OpFlushDB:
		db.wflush = db.wseq
		return
	case OpExpireDel:
		for _, k := range args[1:] {
			db.bumpSlot(slots.Slot(k))
		}
		return
	}
	if len(args) > 1 {
		// Every keyed write names its (first) key at args[1], and all its
		// keys share one slot (CROSSSLOT is refused before proposing).
		db.bumpSlot(slots.Slot(args[1]))
	}
}

func (db *DB) bumpSlot(s int) {
	if db.wver == nil {
		db.wver = new([slots.Count]uint64)
	}
	db.wver[s] = db.wseq
}

// guardHolds evaluates a guard against the current versions.
func (db *DB) guardHolds(g guard) bool {
	for i, s := range g.slots {
		if db.SlotVersion(s) != g.versions[i] {
			return false
		}
	}
	return true
}

// encodeVersions appends the watch versions to a snapshot's meta: wseq,
// wflush, then the non-zero slots as (slot, version) pairs.
func (db *DB) encodeVersions(b []byte) []byte {
	b = binary.AppendUvarint(b, db.wseq)
	b = binary.AppendUvarint(b, db.wflush)
	var n uint64
	if db.wver != nil {
		for _, v := range db.wver {
			if v != 0 {
				n++
			}
		}
	}
	b = binary.AppendUvarint(b, n)
	if db.wver != nil {
		for s, v := range db.wver {
			if v != 0 {
				b = binary.AppendUvarint(b, uint64(s))
				b = binary.AppendUvarint(b, v)
			}
		}
	}
	return b
}

// decodeVersions reads what encodeVersions wrote (nothing: all zero).
func (db *DB) decodeVersions(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	next := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	seq, ok1 := next()
	fl, ok2 := next()
	n, ok3 := next()
	if !ok1 || !ok2 || !ok3 || n > slots.Count {
		return false
	}
	db.wseq, db.wflush = seq, fl
	for i := uint64(0); i < n; i++ {
		s, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 || s >= slots.Count {
			return false
		}
		db.bumpSlotTo(int(s), v)
	}
	return true
}

func (db *DB) bumpSlotTo(s int, v uint64) {
	if db.wver == nil {
		db.wver = new([slots.Count]uint64)
	}
	db.wver[s] = v
}
