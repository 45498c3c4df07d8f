package fsm

import (
	"fmt"
	"strings"
)

// Op is a command's stable opcode: the number written into the raft log in
// place of the command name. Opcodes are append-only and never renumbered or
// reused: a log written by one version must apply identically on the next.
// An entry with an opcode this binary does not know stops the node
// (ErrUnknownOp) instead of letting replicas diverge.
type Op uint16

// Opcodes. Append only; never renumber; never reuse a retired number.
const (
	OpInvalid Op = 0

	// Strings (1..39).
	OpSet         Op = 1
	OpGet         Op = 2
	OpGetSet      Op = 3
	OpGetDel      Op = 4
	OpGetEx       Op = 5
	OpMGet        Op = 6
	OpMSet        Op = 7
	OpMSetNX      Op = 8
	OpSetNX       Op = 9
	OpSetEx       Op = 10
	OpPSetEx      Op = 11
	OpAppend      Op = 12
	OpStrlen      Op = 13
	OpGetRange    Op = 14
	OpSetRange    Op = 15
	OpIncr        Op = 16
	OpDecr        Op = 17
	OpIncrBy      Op = 18
	OpDecrBy      Op = 19
	OpIncrByFloat Op = 20
	OpLCS         Op = 21
	OpSubstr      Op = 22

	// Keys (40..79).
	OpDel         Op = 40
	OpUnlink      Op = 41
	OpExists      Op = 42
	OpType        Op = 43
	OpTouch       Op = 44
	OpExpire      Op = 45
	OpPExpire     Op = 46
	OpExpireAt    Op = 47
	OpPExpireAt   Op = 48
	OpTTL         Op = 49
	OpPTTL        Op = 50
	OpExpireTime  Op = 51
	OpPExpireTime Op = 52
	OpPersist     Op = 53
	OpRename      Op = 54
	OpRenameNX    Op = 55
	OpCopy        Op = 56
	OpObject      Op = 57
	OpFlushAll    Op = 58 // flushes this group's keyspace
	OpFlushDB     Op = 59 // same as FLUSHALL: cluster mode has one database
	// OpExpireDel is internal: the active expiry cycle's deletion. It deletes
	// each named key only if it is expired at the entry's time (the key may
	// have been rewritten since the leader picked it).
	OpExpireDel Op = 60

	// Lists (80..119).
	OpLPush     Op = 80
	OpRPush     Op = 81
	OpLPushX    Op = 82
	OpRPushX    Op = 83
	OpLPop      Op = 84
	OpRPop      Op = 85
	OpLLen      Op = 86
	OpLRange    Op = 87
	OpLIndex    Op = 88
	OpLSet      Op = 89
	OpLRem      Op = 90
	OpLTrim     Op = 91
	OpLInsert   Op = 92
	OpLPos      Op = 93
	OpLMove     Op = 94
	OpRPopLPush Op = 95
	OpLMPop     Op = 96
)

// Command is one command the FSM implements.
type Command struct {
	Name  string // lower case
	Op    Op
	Write bool
	// Prepare runs on the leader before a write is proposed: it validates the
	// arguments (an error is answered without proposing anything) and
	// rewrites time-relative arguments into absolute ones using now (unix
	// ms), e.g. SET k v EX 10 -> SET k v PXAT <now+10000>. The returned args
	// (args[0] is a command name, possibly another command's) are what goes
	// into the log. Nil for reads.
	Prepare func(args [][]byte, now int64) ([][]byte, error)
	// Run executes the command against db. For writes it runs inside Apply
	// (deterministic: no clock, no randomness, no I/O); for reads under the
	// node's read lock. args[0] is the command name.
	Run func(db *DB, args [][]byte) Reply
}

// Table maps names and opcodes to commands. It is built once and never
// modified afterwards, so sharing it is safe.
type Table struct {
	byName map[string]*Command
	byOp   map[Op]*Command
}

// Commands is the table of every command the FSM implements.
var Commands = buildTable(stringCommands, keyCommands, listCommands, []*Command{watchGuard})

func buildTable(families ...[]*Command) *Table {
	t := &Table{byName: map[string]*Command{}, byOp: map[Op]*Command{}}
	for _, fam := range families {
		for _, c := range fam {
			if _, dup := t.byName[c.Name]; dup {
				panic("fsm: duplicate command " + c.Name)
			}
			if _, dup := t.byOp[c.Op]; dup || c.Op == OpInvalid {
				panic(fmt.Sprintf("fsm: bad or duplicate opcode %d for %s", c.Op, c.Name))
			}
			if c.Write && c.Prepare == nil {
				panic("fsm: write command without Prepare: " + c.Name)
			}
			t.byName[c.Name] = c
			t.byOp[c.Op] = c
		}
	}
	return t
}

// Lookup returns the command named name (any case), or nil.
func (t *Table) Lookup(name []byte) *Command {
	if c, ok := t.byName[string(name)]; ok { // fast path: already lower case
		return c
	}
	return t.byName[strings.ToLower(string(name))]
}

// ByOp returns the command with opcode op, or nil.
func (t *Table) ByOp(op Op) *Command { return t.byOp[op] }

// All returns every command (in no particular order).
func (t *Table) All() []*Command {
	out := make([]*Command, 0, len(t.byName))
	for _, c := range t.byName {
		out = append(out, c)
	}
	return out
}

// Error is a command error: a Code (text in resp/errors.go) and an optional
// argument completing the text.
type Error struct {
	Code Code
	Arg  string
}

func (e *Error) Error() string { return fmt.Sprintf("fsm error %d %q", e.Code, e.Arg) }

// Reply converts the error into an error reply.
func (e *Error) Reply() Reply { return ErrArg(e.Code, e.Arg) }

// ErrReply converts any error into an error reply (an *Error keeps its code).
func ErrReply(err error) Reply {
	if e, ok := err.(*Error); ok {
		return e.Reply()
	}
	return ErrMsg("ERR " + err.Error())
}

// Frequently used errors.
var (
	errSyntax    = &Error{Code: CodeSyntax}
	errNotInt    = &Error{Code: CodeNotInt}
	errNotFloat  = &Error{Code: CodeNotFloat}
	errWrongType = &Error{Code: CodeWrongType}
)

// WrongType is the WRONGTYPE reply.
var WrongType = Err(CodeWrongType)

// def builds a Command from a typed parser and a runner: "typed parse, then
// run". For writes, Prepare defaults to parsing for validation only.
func def[T any](name string, op Op, write bool, parse func(args [][]byte) (T, error), run func(db *DB, c T) Reply) *Command {
	c := &Command{
		Name:  name,
		Op:    op,
		Write: write,
		Run: func(db *DB, args [][]byte) Reply {
			v, err := parse(args)
			if err != nil {
				return ErrReply(err)
			}
			return run(db, v)
		},
	}
	if write {
		c.Prepare = func(args [][]byte, _ int64) ([][]byte, error) {
			_, err := parse(args)
			return args, err
		}
	}
	return c
}

// relativeTimeOps are the writes whose Prepare resolves a relative expiry
// (EX/PX, SETEX, PSETEX, EXPIRE, PEXPIRE) into an absolute deadline with
// the leader's clock.
var relativeTimeOps = map[Op]bool{
	OpSet: true, OpSetEx: true, OpPSetEx: true, OpGetEx: true, OpExpire: true, OpPExpire: true,
}

// HasRelativeTime reports whether Prepare of the write with opcode op may
// rewrite a relative expiry into an absolute one. The node's
// apply-time-ttl planted bug (test-only) proposes such commands unprepared
// so that Apply resolves them with each replica's own clock.
func HasRelativeTime(op Op) bool { return relativeTimeOps[op] }
