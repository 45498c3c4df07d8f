package resp

import (
	"time"

	"github.com/troika-db/troika/fsm"
)

// handler runs a command answered by resp itself; it writes its reply to c.w.
type handler func(c *conn, args [][]byte)

// handle routes one request. Checks happen in Redis 7.0's order: unknown
// command, unknown subcommand, arity, authentication, CROSSSLOT for keyed
// commands, then the RESP2 Pub/Sub context (checked first here, so
// subscribedContextError applies CROSSSLOT itself). Data commands are
// queued so that consecutive ones reach the Backend in a single Exec
// call; any other command first flushes the queue, so replies and side
// effects keep the pipeline's order.
func (c *conn) handle(args [][]byte) {
	res := commandTable.lookup(args)
	asking := c.asking
	if res.cmd == nil || res.cmd.Name != "asking" {
		c.asking = false
	}
	if res.cmd != nil { // like Redis, even a rejected command becomes cmd= in CLIENT LIST
		c.mu.Lock()
		c.info.lastCmd = res.cmd.Name
		c.mu.Unlock()
	}
	if res.err != "" {
		if c.txn != nil {
			c.txn.dirty = true // refused while queuing: EXEC will abort
		}
		if res.cmd != nil {
			c.srv.cmdStats(res.cmd).rejected.Add(1)
		}
		c.queueError(res.err)
		return
	}
	cmd := res.cmd
	if c.authRequired() && !cmd.noAuth {
		if c.txn != nil {
			c.txn.dirty = true
		}
		c.srv.cmdStats(cmd).rejected.Add(1)
		c.queueError(msgNoAuth)
		return
	}
	if c.ps != nil && c.w.proto == 2 && c.subscribed.Load() && !allowedWhileSubscribed(cmd) {
		c.srv.cmdStats(cmd).rejected.Add(1)
		c.queueError(c.subscribedContextError(cmd, args))
		return
	}

	if c.txn != nil && !txnControl(cmd) {
		c.flushPending()
		c.queueInTxn(cmd, args)
		return
	}

	switch cmd.Route {
	case RouteKeyed, RouteNodeWide:
		slot := -1
		if cmd.Route == RouteKeyed {
			s, cross := c.commandSlot(cmd, args)
			if cross {
				c.srv.cmdStats(cmd).rejected.Add(1)
				c.queueError(msgCrossSlot)
				return
			}
			slot = s
		}
		c.pending = append(c.pending, pendingReply{cmd: len(c.batch)})
		c.batch = append(c.batch, Cmd{Args: args, Slot: slot, Write: cmd.write, ReadOnly: c.readOnly, Asking: asking})
		c.batchCmds = append(c.batchCmds, cmd)
	case RouteCluster:
		c.flushPending()
		start := time.Now()
		r := c.srv.backend.Cluster(c.srv.ctx, args)
		c.w.reply(r)
		c.mark = len(c.w.b)
		c.record(cmd, args, time.Since(start), r.Kind == fsm.KindError, r.Kind == fsm.KindError && isRejection(r.Code))
	default:
		c.flushPending()
		start := time.Now()
		errsBefore := c.w.errs
		c.rejected = false
		cmd.run(c, args)
		c.mark = len(c.w.b)
		c.record(cmd, args, time.Since(start), c.w.errs != errsBefore, c.rejected)
	}
}

// queueError adds an error decided by resp to the current batch, keeping
// its place among the batch's replies without splitting the batch.
func (c *conn) queueError(text string) {
	if len(c.pending) == 0 {
		c.w.error(text)
		c.mark = len(c.w.b)
		return
	}
	c.pending = append(c.pending, pendingReply{errText: text, cmd: -1})
}

// flushPending sends the queued data commands to the Backend in one Exec
// call and writes every queued reply in order.
func (c *conn) flushPending() {
	if len(c.pending) == 0 {
		return
	}
	var replies []fsm.Reply
	var share time.Duration
	if len(c.batch) > 0 {
		start := time.Now()
		replies = c.srv.backend.Exec(c.srv.ctx, c.batch)
		share = time.Since(start) / time.Duration(len(c.batch))
		if len(replies) != len(c.batch) {
			c.srv.log.Error("backend returned a wrong number of replies",
				"commands", len(c.batch), "replies", len(replies))
		}
	}
	for _, p := range c.pending {
		if p.cmd < 0 {
			c.w.error(p.errText)
			continue
		}
		cmd := c.batchCmds[p.cmd]
		if p.cmd >= len(replies) {
			c.w.error(msgInternal)
			c.srv.cmdStats(cmd).failed.Add(1)
			continue
		}
		r := replies[p.cmd]
		c.w.reply(r)
		isErr := r.Kind == fsm.KindError
		c.record(cmd, c.batch[p.cmd].Args, share, isErr, isErr && isRejection(r.Code))
	}
	c.mark = len(c.w.b)
	clear(c.batch) // drop references to the arguments
	c.pending, c.batch, c.batchCmds = c.pending[:0], c.batch[:0], c.batchCmds[:0]
}

// record updates command statistics and the slow log for one command.
func (c *conn) record(cmd *Command, args [][]byte, d time.Duration, failed, rejected bool) {
	st := c.srv.cmdStats(cmd)
	if rejected {
		st.rejected.Add(1)
		return
	}
	us := d.Microseconds()
	st.calls.Add(1)
	st.usec.Add(us)
	if failed {
		st.failed.Add(1)
	}
	c.srv.stats.commands.Add(1)
	if !cmd.skipSlowlog {
		c.srv.slowlog.maybeAdd(c, cmd, args, us)
	}
}
