package resp

import (
	"time"

	"github.com/troika-db/troika/fsm"
)

// txnState is a connection's open MULTI block.
type txnState struct {
	cmds  []queuedCmd
	dirty bool // a command was refused while queuing: EXEC aborts
}

// queuedCmd is a command queued by MULTI. Its arguments are copied: the
// reader reuses its buffer once the current batch of requests is answered.
type queuedCmd struct {
	cmd  *Command
	args [][]byte
	slot int // RouteKeyed: the slot of its keys; -1 otherwise
}

// txnControl: commands that act on the MULTI block itself instead of being
// queued (as in Redis: EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
func txnControl(cmd *Command) bool {
	switch cmd.Name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return true
	}
	return false
}

// queueInTxn queues a command inside MULTI and answers QUEUED, or refuses
// it (CROSSSLOT inside one command) and marks the transaction to abort.
func (c *conn) queueInTxn(cmd *Command, args [][]byte) {
	slot := -1
	if cmd.Route == RouteKeyed {
		s, cross := c.commandSlot(cmd, args)
		if cross {
			c.txn.dirty = true
			c.srv.cmdStats(cmd).rejected.Add(1)
			c.w.error(msgCrossSlot)
			c.mark = len(c.w.b)
			return
		}
		slot = s
	}
	own := make([][]byte, len(args))
	for i, a := range args {
		own[i] = append([]byte(nil), a...)
	}
	c.txn.cmds = append(c.txn.cmds, queuedCmd{cmd: cmd, args: own, slot: slot})
	c.setInfo(func(i *connInfo) { i.multi = len(c.txn.cmds) })
	c.w.status("QUEUED")
	c.mark = len(c.w.b)
}

func cmdMulti(c *conn, _ [][]byte) {
	if c.txn != nil {
		c.w.error(msgMultiNested)
		return
	}
	c.txn = &txnState{}
	c.setInfo(func(i *connInfo) { i.multi = 0 })
	c.publishFlags()
	c.w.ok()
}

func cmdDiscard(c *conn, _ [][]byte) {
	if c.txn == nil {
		c.w.error(msgDiscardWithoutMulti)
		return
	}
	c.endTxn()
	c.watched = nil
	c.w.ok()
}

// endTxn leaves MULTI (EXEC, DISCARD, RESET).
func (c *conn) endTxn() {
	c.txn = nil
	c.setInfo(func(i *connInfo) { i.multi = -1 })
	c.publishFlags()
}

// cmdExec runs the queued commands. Every keyed command must hash to one
// slot (as Redis Cluster requires for a transaction): the data commands are
// then one atomic proposal in the slot's group (Backend.ExecTxn), so no
// other client's command interleaves. Commands answered by resp itself run
// at their place in the reply; node-wide commands (DBSIZE, KEYS, ...) run
// after the group's commands and are not part of the atomic block.
func cmdExec(c *conn, _ [][]byte) {
	if c.txn == nil {
		c.w.error(msgExecWithoutMulti)
		return
	}
	txn := c.txn
	watches := c.watched
	c.endTxn()
	c.watched = nil
	if txn.dirty {
		c.w.error(msgExecAbort)
		return
	}
	slot := -1
	var data []Cmd
	var dataIdx []int
	for i, q := range txn.cmds {
		switch q.cmd.Route {
		case RouteKeyed, RouteNodeWide:
			if q.slot >= 0 {
				if slot >= 0 && q.slot != slot {
					c.w.error(msgCrossSlot)
					return
				}
				slot = q.slot
			}
			dataIdx = append(dataIdx, i)
			data = append(data, Cmd{Args: q.args, Slot: q.slot, Write: q.cmd.write, ReadOnly: c.readOnly})
		}
	}
	for _, w := range watches {
		if slot >= 0 && w.Slot != slot {
			// A watched key of another slot than the block's keys: it
			// cannot be checked atomically with them.
			c.w.error(msgCrossSlot)
			return
		}
	}
	var replies []fsm.Reply
	if len(data) > 0 || len(watches) > 0 {
		start := time.Now()
		var whole fsm.Reply
		replies, whole = c.srv.backend.ExecTxn(c.srv.ctx, data, watches)
		if whole.Kind == fsm.KindError || whole.Kind == fsm.KindNilArray {
			c.w.reply(whole)
			return
		}
		share := time.Since(start) / time.Duration(max(len(data), 1))
		for k, i := range dataIdx {
			q := txn.cmds[i]
			if k < len(replies) {
				isErr := replies[k].Kind == fsm.KindError
				c.record(q.cmd, q.args, share, isErr, false)
			}
		}
	}
	c.w.arrayLen(len(txn.cmds))
	k := 0
	for _, q := range txn.cmds {
		switch q.cmd.Route {
		case RouteKeyed, RouteNodeWide:
			if k < len(replies) {
				c.w.reply(replies[k])
			} else {
				c.w.error(msgInternal)
			}
			k++
		case RouteCluster:
			c.w.reply(c.srv.backend.Cluster(c.srv.ctx, q.args))
		default:
			q.cmd.run(c, q.args)
		}
	}
}

// cmdWatch records, for each key, the version of its slot (read
// linearizably from the slot's leader); EXEC then runs only if none moved.
func cmdWatch(c *conn, args [][]byte) {
	if c.txn != nil {
		c.w.error(msgWatchInMulti)
		return
	}
	s, cross := c.commandSlot(commandTable.lookup(args).cmd, args)
	if s < 0 {
		c.w.error(msgInternal) // arity guarantees a key
		return
	}
	if cross {
		c.rejected = true
		c.w.error(msgCrossSlot)
		return
	}
	v, redirect := c.srv.backend.Watch(c.srv.ctx, s)
	if redirect.Kind == fsm.KindError {
		c.rejected = isRejection(redirect.Code)
		c.w.reply(redirect)
		return
	}
	c.watched = append(c.watched, Watch{Slot: s, Version: v})
	c.w.ok()
}

func cmdUnwatch(c *conn, _ [][]byte) {
	c.watched = nil
	c.w.ok()
}
