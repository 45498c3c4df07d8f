package fsm

import (
	"errors"
	"fmt"
)

// ErrUnknownOp is returned by ApplyEntry for an opcode this binary does not
// know. The node must stop applying (and stop the group) rather than skip
// the command: skipping would make this replica diverge from the others.
var ErrUnknownOp = errors.New("unknown opcode in log entry")

// ApplyEntry applies a decoded entry to db and returns one reply per
// command. It is deterministic: the only clock is e.Now.
func (db *DB) ApplyEntry(e *Entry) ([]Reply, error) {
	if e.Now > db.now {
		db.now = e.Now // time never goes backwards inside a group
	}
	db.applying = true
	defer func() { db.applying = false }()
	replies := make([]Reply, len(e.Cmds))
	args := make([][]byte, 0, 8)
	skip := 0 // commands of a transaction whose watch guard failed
	for i, c := range e.Cmds {
		cmd := Commands.ByOp(c.Op)
		if cmd == nil {
			return nil, fmt.Errorf("%w: %d (command %d of %d)", ErrUnknownOp, c.Op, i, len(e.Cmds))
		}
		if skip > 0 {
			skip--
			replies[i] = NilArray
			continue
		}
		args = append(args[:0], nameArg(cmd))
		args = append(args, c.Args...)
		if c.Op == OpWatchGuard {
			g, ok := parseGuard(args)
			switch {
			case !ok:
				replies[i] = ErrMsg("ERR bad watch guard")
			case db.guardHolds(g):
				replies[i] = Int(1)
			default:
				replies[i], skip = Int(0), g.n
			}
			continue
		}
		replies[i] = cmd.Run(db, args)
		db.bumpAfter(cmd, args, replies[i])
	}
	return replies, nil
}

// ApplyEntryLocalTTL is ApplyEntry for the apply-time-ttl planted bug
// (debug-bugs, test-only, refused without debug-unsafe): relative expiries
// that reach the log unconverted (the leader then skips rewriting them into
// absolute deadlines) are resolved against local, the applying replica's own
// clock, instead of the entry's time. Replicas with different clocks then
// store different deadlines: this deliberately breaks determinism so that
// the Jepsen harness can prove it notices. Nothing else calls it.
func (db *DB) ApplyEntryLocalTTL(e *Entry, local int64) ([]Reply, error) {
	db.localTTL = local
	defer func() { db.localTTL = 0 }()
	return db.ApplyEntry(e)
}

// Read runs a read-only command against db with the reader's clock now.
func (db *DB) Read(cmd *Command, args [][]byte, now int64) Reply {
	return cmd.Run(db.ReadView(now), args)
}

func nameArg(c *Command) []byte { return []byte(c.Name) }

// ReadView returns a shallow copy of db for reading at the reader's clock
// now: it shares the trees and never deletes expired keys (it hides them).
func (db *DB) ReadView(now int64) *DB {
	view := *db
	if now > view.now {
		view.now = now
	}
	view.applying = false
	return &view
}
