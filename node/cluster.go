package node

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/gossip"
	"github.com/troika-db/troika/slots"
)

// groupLeader returns the id of the node serving data group gid as master
// in CLUSTER replies: its leader as far as this node knows (local raft,
// then gossip hints), else its first alive replica (clients refuse gaps in
// the slot map, so every range names somebody), else "".
func (n *Node) groupLeader(cfg *ClusterConfig, gid uint32) string {
	if id := n.leaderOf(gid); id != "" {
		return id
	}
	if gi, ok := cfg.Group(gid); ok {
		for _, r := range gi.Replicas {
			if n.alive(r) {
				return r
			}
		}
		if len(gi.Replicas) > 0 {
			return gi.Replicas[0]
		}
	}
	return ""
}

// slotOwner is a run of slots with the node serving it as master.
type slotOwner struct {
	slots.Range
	group  uint32
	master string // node id, "" when unknown
}

func (n *Node) owners(cfg *ClusterConfig) []slotOwner {
	leaders := map[uint32]string{}
	var out []slotOwner
	for _, r := range cfg.Slots.Ranges() {
		gid := uint32(r.Group)
		l, ok := leaders[gid]
		if !ok {
			l = n.groupLeader(cfg, gid)
			leaders[gid] = l
		}
		if k := len(out) - 1; k >= 0 && out[k].master == l && l != "" && out[k].End+1 == r.Start {
			out[k].End = r.End
			continue
		}
		out = append(out, slotOwner{Range: r.Range, group: gid, master: l})
	}
	return out
}

// Cluster answers CLUSTER subcommands from the committed configuration plus
// the leaders this node knows.
func (n *Node) Cluster(ctx context.Context, args [][]byte) fsm.Reply {
	if len(args) < 2 {
		return fsm.ErrArg(fsm.CodeWrongArgs, "cluster")
	}
	sub := strings.ToLower(string(args[1]))
	cfg := n.Config()
	wrong := fsm.ErrArg(fsm.CodeWrongArgs, "cluster|"+sub)
	switch sub {
	case "myid":
		return fsm.Bulk(n.id.ID)
	case "myshardid":
		return fsm.Bulk(shardID(n.id.ID))
	case "keyslot":
		if len(args) != 3 {
			return wrong
		}
		return fsm.Int(int64(slots.Slot(args[2])))
	case "info":
		return fsm.Bulk(n.clusterInfo(cfg))
	}
	if cfg == nil {
		return fsm.Err(fsm.CodeClusterDown)
	}
	switch sub {
	case "slots":
		return n.clusterSlots(cfg)
	case "shards":
		return n.clusterShards(cfg)
	case "nodes":
		return fsm.Bulk(n.clusterNodes(cfg))
	case "countkeysinslot":
		if len(args) != 3 {
			return wrong
		}
		slot, ok := fsm.ParseInt(args[2])
		if !ok {
			return fsm.Err(fsm.CodeNotInt)
		}
		if slot < 0 || slot >= slots.Count {
			return fsm.ErrMsg("ERR Invalid slot")
		}
		g, _, rep := n.route(ctx, int(slot), false, false)
		if g == nil {
			if rep.Code == fsm.CodeMoved {
				return fsm.Zero
			}
			return rep
		}
		var c int
		g.fsm.read(func(db *fsm.DB) { c = db.CountInSlot(int(slot)) })
		return fsm.Int(int64(c))
	case "getkeysinslot":
		if len(args) != 4 {
			return wrong
		}
		slot, ok1 := fsm.ParseInt(args[2])
		count, ok2 := fsm.ParseInt(args[3])
		if !ok1 || !ok2 {
			return fsm.Err(fsm.CodeNotInt)
		}
		if slot < 0 || slot >= slots.Count || count < 0 {
			return fsm.ErrMsg("ERR Invalid slot or number of keys")
		}
		out := []fsm.Reply{}
		g, _, _ := n.route(ctx, int(slot), false, false)
		if g != nil {
			now := g.clock()
			g.fsm.read(func(db *fsm.DB) {
				db.ReadView(now).Ascend(fsm.SlotOrd(int(slot)), fsm.SlotOrd(int(slot)+1), func(e fsm.KeyEntry) bool {
					if int64(len(out)) >= count {
						return false
					}
					out = append(out, fsm.Bulk(e.Key))
					return true
				})
			})
		}
		return fsm.Array(out...)
	case "readonly", "readwrite":
		return fsm.OK
	case "failover":
		return n.clusterFailover(args)
	case "forget":
		if len(args) != 3 {
			return wrong
		}
		id := string(args[2])
		if id == n.id.ID {
			return fsm.ErrMsg("ERR I tried hard but I can't forget myself...")
		}
		if _, ok := cfg.Node(id); !ok {
			return fsm.ErrMsg("ERR Unknown node " + id)
		}
		if err := n.proposeMeta(&metaCmd{Op: metaOpDrain, ID: id}); err != nil {
			return fsm.ErrMsg("ERR " + err.Error())
		}
		return fsm.OK
	}
	return fsm.ErrArg(fsm.CodeUnknownSubcmd, fmt.Sprintf("'%s'. Try CLUSTER HELP.", args[1]))
}

// shardID derives a stable 40-hex shard id from a node id.
func shardID(nodeID string) string {
	h := sha1.Sum([]byte("troika-shard:" + nodeID))
	return hex.EncodeToString(h[:])
}

func nodeEntry(ni NodeInfo) fsm.Reply {
	return fsm.Array(fsm.Bulk(ni.Host), fsm.Int(int64(ni.Port)), fsm.Bulk(ni.ID), fsm.Reply{Kind: fsm.KindMap})
}

// clusterSlots lists every slot range with its master (the group leader)
// and the group's other replicas. All 16384 slots are always listed: a
// range whose leader is unknown names its first replica.
func (n *Node) clusterSlots(cfg *ClusterConfig) fsm.Reply {
	var out []fsm.Reply
	for _, o := range n.owners(cfg) {
		gi, _ := cfg.Group(o.group)
		master := o.master
		if master == "" && len(gi.Replicas) > 0 {
			master = gi.Replicas[0]
		}
		mi, ok := cfg.Node(master)
		if !ok {
			continue
		}
		entry := []fsm.Reply{fsm.Int(int64(o.Start)), fsm.Int(int64(o.End)), nodeEntry(mi)}
		for _, rid := range gi.Replicas {
			if rid == master {
				continue
			}
			if ri, ok := cfg.Node(rid); ok {
				entry = append(entry, nodeEntry(ri))
			}
		}
		out = append(out, fsm.Array(entry...))
	}
	return fsm.Array(out...)
}

// masterSlots maps each node id to the slot ranges it serves as master.
func (n *Node) masterSlots(cfg *ClusterConfig) map[string][]slots.Range {
	m := map[string][]slots.Range{}
	for _, o := range n.owners(cfg) {
		master := o.master
		if master == "" {
			if gi, ok := cfg.Group(o.group); ok && len(gi.Replicas) > 0 {
				master = gi.Replicas[0]
			}
		}
		rs := m[master]
		if k := len(rs) - 1; k >= 0 && rs[k].End+1 == o.Start {
			rs[k].End = o.End
		} else {
			rs = append(rs, o.Range)
		}
		m[master] = rs
	}
	return m
}

// clusterShards reports one shard per node that masters slots (Troika's
// replication unit is the group, but clients expect a shard per master).
func (n *Node) clusterShards(cfg *ClusterConfig) fsm.Reply {
	ms := n.masterSlots(cfg)
	var out []fsm.Reply
	for _, ni := range cfg.Nodes {
		rs := ms[ni.ID]
		sl := []fsm.Reply{}
		for _, r := range rs {
			sl = append(sl, fsm.Int(int64(r.Start)), fsm.Int(int64(r.End)))
		}
		role := "master"
		node := fsm.Reply{Kind: fsm.KindMap, Arr: []fsm.Reply{
			fsm.Bulk("id"), fsm.Bulk(ni.ID),
			fsm.Bulk("port"), fsm.Int(int64(ni.Port)),
			fsm.Bulk("ip"), fsm.Bulk(ni.Host),
			fsm.Bulk("endpoint"), fsm.Bulk(ni.Host),
			fsm.Bulk("role"), fsm.Bulk(role),
			fsm.Bulk("replication-offset"), fsm.Int(int64(cfg.Epoch)),
			fsm.Bulk("health"), fsm.Bulk("online"),
		}}
		out = append(out, fsm.Reply{Kind: fsm.KindMap, Arr: []fsm.Reply{
			fsm.Bulk("slots"), fsm.Array(sl...),
			fsm.Bulk("nodes"), fsm.Array(node),
		}})
	}
	return fsm.Array(out...)
}

// clusterNodes renders CLUSTER NODES exactly in Redis 7.0's format:
// <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
func (n *Node) clusterNodes(cfg *ClusterConfig) string {
	ms := n.masterSlots(cfg)
	var b strings.Builder
	nodes := append([]NodeInfo(nil), cfg.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	now := time.Now().UnixMilli()
	for _, ni := range nodes {
		flags := "master"
		link := "connected"
		pong := now
		if ni.ID == n.id.ID {
			flags = "myself,master"
			pong = 0
		} else if n.gossip != nil {
			m, ok := n.gossip.Member(ni.ID)
			switch {
			case !ok:
				flags, link, pong = "master,fail?", "disconnected", 0
			case m.State == gossip.StateSuspect:
				flags = "master,fail?"
			case m.State == gossip.StateDead || m.State == gossip.StateLeft:
				flags, link, pong = "master,fail", "disconnected", m.Since.UnixMilli()
			}
		}
		fmt.Fprintf(&b, "%s %s:%d@%d %s - 0 %d %d %s", ni.ID, ni.Host, ni.Port, ni.BusPort, flags, pong, cfg.Epoch, link)
		for _, r := range ms[ni.ID] {
			b.WriteByte(' ')
			b.WriteString(r.String())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (n *Node) clusterInfo(cfg *ClusterConfig) string {
	state := "fail"
	assigned, size, known := 0, 0, 0
	var epoch uint64
	if cfg != nil {
		assigned = slots.Count
		known = len(cfg.Nodes)
		size = len(n.masterSlots(cfg))
		epoch = cfg.Epoch
		if n.coverageOK(cfg) {
			state = "ok"
		}
	}
	lines := []string{
		"cluster_state:" + state,
		"cluster_slots_assigned:" + strconv.Itoa(assigned),
		"cluster_slots_ok:" + strconv.Itoa(assigned),
		"cluster_slots_pfail:0",
		"cluster_slots_fail:0",
		"cluster_known_nodes:" + strconv.Itoa(known),
		"cluster_size:" + strconv.Itoa(size),
		"cluster_current_epoch:" + strconv.FormatUint(epoch, 10),
		"cluster_my_epoch:" + strconv.FormatUint(epoch, 10),
		"cluster_stats_messages_sent:0",
		"cluster_stats_messages_received:0",
		"total_cluster_links_buffer_limit_exceeded:0",
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// coverageOK reports whether every group has a known leader.
func (n *Node) coverageOK(cfg *ClusterConfig) bool {
	for _, gi := range cfg.Groups {
		if n.leaderOf(gi.ID) == "" {
			return false
		}
	}
	return true
}
