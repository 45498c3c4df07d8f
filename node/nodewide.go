package node

import (
	"context"
	"strconv"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/slots"
)

// execNodeWide runs a keyless command over the groups this node leads, the
// way a Redis Cluster master answers DBSIZE or SCAN for its own slots.
func (n *Node) execNodeWide(ctx context.Context, c Cmd) fsm.Reply {
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	name := c.Args[0]
	switch {
	case fsm.EqualFold(name, "dbsize"):
		return n.dbsize(rctx)
	case fsm.EqualFold(name, "keys"):
		return n.keys(rctx, c.Args)
	case fsm.EqualFold(name, "scan"):
		return n.scan(rctx, c.Args)
	case fsm.EqualFold(name, "randomkey"):
		return n.randomKey(rctx)
	case fsm.EqualFold(name, "flushall"), fsm.EqualFold(name, "flushdb"):
		return n.flush(rctx, c.Args)
	}
	// A keyed command whose arguments name no key (LMPOP 0 ...): Redis
	// runs it on the receiving node, where its own parsing rejects it.
	// Parsing is deterministic and needs no data: answer its error here.
	if cmd := fsm.Commands.Lookup(name); cmd != nil {
		if cmd.Prepare != nil {
			if _, err := cmd.Prepare(c.Args, n.nowMS()); err != nil {
				return fsm.ErrReply(err)
			}
		}
		return cmd.Run(fsm.NewDB().ReadView(n.nowMS()), c.Args)
	}
	return unknownCommand(c.Args)
}

func (n *Node) dbsize(ctx context.Context) fsm.Reply {
	gs, err := n.readyGroups(ctx)
	if err != nil {
		return fsm.Err(fsm.CodeTryAgain)
	}
	total := 0
	for _, g := range gs {
		g.fsm.read(func(db *fsm.DB) { total += db.Len() })
	}
	return fsm.Int(int64(total))
}

func (n *Node) keys(ctx context.Context, args [][]byte) fsm.Reply {
	if len(args) != 2 {
		return fsm.ErrArg(fsm.CodeWrongArgs, "keys")
	}
	gs, err := n.readyGroups(ctx)
	if err != nil {
		return fsm.Err(fsm.CodeTryAgain)
	}
	out := []fsm.Reply{}
	for _, g := range gs {
		now := g.clock()
		g.fsm.read(func(db *fsm.DB) {
			db.ReadView(now).Keys(args[1], func(k string) { out = append(out, fsm.Bulk(k)) })
		})
	}
	return fsm.Array(out...)
}

// scan iterates slots in ascending order. The cursor is an ord
// (slot<<48 | key hash) — see fsm.DB.Scan — so it is stateless, survives
// leader changes, and never skips a key present for the whole iteration.
func (n *Node) scan(ctx context.Context, args [][]byte) fsm.Reply {
	a, err := fsm.ParseScan(args)
	if err != nil {
		return fsm.ErrReply(err)
	}
	cfg := n.Config()
	if cfg == nil {
		return fsm.Err(fsm.CodeClusterDown)
	}
	cursor := a.Cursor
	var keys []fsm.Reply
	visited := 0
	for cursor>>48 < slots.Count {
		slot := int(cursor >> 48)
		gid := uint32(cfg.Slots.Group(slot))
		// The run of consecutive slots owned by the same group.
		end := slot
		for end+1 < slots.Count && uint32(cfg.Slots.Group(end+1)) == gid {
			end++
		}
		limit := fsm.SlotOrd(end + 1)
		if end+1 >= slots.Count {
			limit = ^uint64(0)
		}
		g := n.group(gid)
		if g != nil {
			if _, ok := g.host.ready(); ok {
				if err := g.linearize(ctx); err != nil {
					return fsm.Err(fsm.CodeTryAgain)
				}
				now := g.clock()
				var got []string
				var next uint64
				g.fsm.read(func(db *fsm.DB) {
					sa := a
					sa.Count = a.Count - visited
					got, next = db.ReadView(now).ScanRange(sa, cursor, limit)
				})
				for _, k := range got {
					keys = append(keys, fsm.Bulk(k))
				}
				visited += len(got)
				if next < limit {
					cursor = next
					return scanReply(cursor, keys)
				}
			}
		}
		if limit == ^uint64(0) {
			break
		}
		cursor = limit
		if visited >= a.Count {
			return scanReply(cursor, keys)
		}
	}
	return scanReply(0, keys)
}

func scanReply(cursor uint64, keys []fsm.Reply) fsm.Reply {
	if keys == nil {
		keys = []fsm.Reply{}
	}
	return fsm.Array(fsm.Bulk(strconv.FormatUint(cursor, 10)), fsm.Array(keys...))
}

func (n *Node) randomKey(ctx context.Context) fsm.Reply {
	gs, err := n.readyGroups(ctx)
	if err != nil {
		return fsm.Err(fsm.CodeTryAgain)
	}
	var nonEmpty []*dataGroup
	for _, g := range gs {
		var l int
		g.fsm.read(func(db *fsm.DB) { l = db.Len() })
		if l > 0 {
			nonEmpty = append(nonEmpty, g)
		}
	}
	for len(nonEmpty) > 0 {
		i := pick(len(nonEmpty))
		g := nonEmpty[i]
		now := g.clock()
		var key string
		var ok bool
		g.fsm.read(func(db *fsm.DB) { key, ok = db.ReadView(now).RandomKey(pick) })
		if ok {
			return fsm.Bulk(key)
		}
		nonEmpty = append(nonEmpty[:i], nonEmpty[i+1:]...)
	}
	return fsm.Nil
}

func (n *Node) flush(ctx context.Context, args [][]byte) fsm.Reply {
	cmd := fsm.Commands.Lookup(args[0])
	if cmd == nil {
		return unknownCommand(args)
	}
	var gs []*dataGroup
	for _, g := range n.localGroups() {
		if _, ok := g.host.ready(); ok {
			gs = append(gs, g)
		}
	}
	for _, g := range gs {
		prepped, err := n.prepare(cmd, args, g.clock())
		if err != nil {
			return fsm.ErrReply(err)
		}
		res := g.prop.propose([]prepared{{op: cmd.Op, args: prepped}})
		if res.err != nil {
			return n.writeErrReply(g, 0, res.err)
		}
		if len(res.replies) == 1 && res.replies[0].IsErr() {
			return res.replies[0]
		}
	}
	return fsm.OK
}
