package node

import (
	"context"

	"github.com/troika-db/troika/fsm"
)

// ExecTxn runs a MULTI/EXEC block. Its keyed commands all hash to one slot
// (resp checked); they become one proposal in the slot's group, reads
// included, so the FSM applies them back to back under its lock: no other
// client's command interleaves, and the reads see the block's own writes.
// Commands without keys that run node-wide (DBSIZE, KEYS, ...) run after
// the block and are not atomic with it. When the block cannot run (the slot
// is led elsewhere, the cluster is down) or its outcome is unknown, the one
// reply for EXEC comes back as whole.
//
// watches (WATCH) make the block conditional: a guard first in the
// proposal checks, when applied, that every watched slot is still at the
// version read by WATCH; if not, nothing runs and whole is a null array
// (EXEC's answer to an aborted transaction). Watched slots must belong to
// the block's group (resp asks for the same slot as its keys).
func (n *Node) ExecTxn(ctx context.Context, cmds []Cmd, watches []Watch) (replies []fsm.Reply, whole fsm.Reply) {
	slot := -1
	for _, c := range cmds {
		if c.Slot >= 0 {
			if slot >= 0 && c.Slot != slot {
				return nil, fsm.Err(fsm.CodeCrossSlot)
			}
			slot = c.Slot
		}
	}
	if slot < 0 && len(watches) > 0 {
		slot = watches[0].Slot
	}
	replies = make([]fsm.Reply, len(cmds))
	if slot >= 0 {
		g, _, redirect := n.route(ctx, slot, true, false)
		if g == nil {
			return nil, redirect
		}
		now := g.clock()
		var batch []prepared
		var idx []int
		vers := map[int]uint64{}
		if len(watches) > 0 {
			cfg := n.Config()
			for _, w := range watches {
				if cfg == nil || cfg.Slots.Group(w.Slot) != cfg.Slots.Group(slot) {
					return nil, fsm.Err(fsm.CodeCrossSlot)
				}
				vers[w.Slot] = w.Version
			}
		}
		for i, c := range cmds {
			if c.Slot < 0 {
				continue
			}
			cmd := fsm.Commands.Lookup(c.Args[0])
			if cmd == nil {
				replies[i] = unknownCommand(c.Args)
				continue
			}
			args, target := c.Args, cmd
			if cmd.Write {
				var err error
				if args, err = n.prepare(cmd, c.Args, now); err != nil {
					replies[i] = fsm.ErrReply(err)
					continue
				}
				if target = fsm.Commands.Lookup(args[0]); target == nil {
					replies[i] = fsm.ErrMsg("ERR internal error: bad rewrite")
					continue
				}
			}
			batch = append(batch, prepared{op: target.Op, args: args})
			idx = append(idx, i)
		}
		if len(watches) > 0 {
			// The guard goes first and covers every command after it.
			guard := prepared{op: fsm.OpWatchGuard, args: fsm.WatchGuardArgs(len(batch), vers)}
			batch = append([]prepared{guard}, batch...)
			idx = append([]int{-1}, idx...)
		}
		if len(batch) > 0 {
			res := g.prop.wait(g.prop.start(batch))
			if res.err != nil {
				return nil, n.writeErrReply(g, slot, res.err)
			}
			for k, i := range idx {
				if i < 0 { // the watch guard
					if r := res.replies[k]; r.Kind != fsm.KindInt || r.Int != 1 {
						return nil, fsm.NilArray
					}
					continue
				}
				replies[i] = res.replies[k]
			}
		}
	}
	for i, c := range cmds {
		if c.Slot < 0 {
			replies[i] = n.execNodeWide(ctx, c)
		}
	}
	return replies, fsm.Reply{}
}

// Watch is a slot version read by WATCH.
type Watch struct {
	Slot    int
	Version uint64
}

// WatchVersion reads, linearizably on the slot's leader, the version WATCH
// records for slot; or the reply that redirects the client.
func (n *Node) WatchVersion(ctx context.Context, slot int) (uint64, fsm.Reply) {
	g, mode, redirect := n.route(ctx, slot, false, false)
	if g == nil {
		return 0, redirect
	}
	if mode != readLeader {
		return 0, fsm.Err(fsm.CodeClusterDown)
	}
	if err := g.linearize(ctx); err != nil {
		return 0, n.readErrReply(g, slot, err)
	}
	var v uint64
	g.fsm.read(func(db *fsm.DB) { v = db.SlotVersion(slot) })
	return v, fsm.Reply{}
}
