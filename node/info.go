package node

import (
	"fmt"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
)

// Info returns the node-owned INFO sections, without the "# Title" line.
func (n *Node) Info(section string) string {
	switch strings.ToLower(section) {
	case "keyspace":
		return n.infoKeyspace()
	case "raft":
		return n.infoRaft()
	case "persistence":
		return n.infoPersistence()
	case "replication":
		return n.infoReplication()
	case "cluster":
		return "cluster_enabled:1\r\ntroika_cluster_mode:" + n.Mode() + "\r\n"
	}
	return ""
}

func (n *Node) ledGroups() []*dataGroup {
	var out []*dataGroup
	for _, g := range n.localGroups() {
		if _, ok := g.host.ready(); ok {
			out = append(out, g)
		}
	}
	return out
}

func (n *Node) infoKeyspace() string {
	keys, expires := 0, 0
	for _, g := range n.ledGroups() {
		g.fsm.read(func(db *fsm.DB) { keys += db.Len(); expires += db.Expires() })
	}
	if keys == 0 {
		return ""
	}
	return fmt.Sprintf("db0:keys=%d,expires=%d,avg_ttl=0\r\n", keys, expires)
}

func (n *Node) infoPersistence() string {
	var dirty uint64
	for _, g := range n.localGroups() {
		g.fsm.read(func(db *fsm.DB) { dirty += db.Dirty() })
	}
	fsync := "always"
	switch {
	case n.cfg.NoSync && n.cfg.SyncEvery > 0:
		fsync = "everysec"
	case n.cfg.NoSync:
		fsync = "no"
	}
	st := n.store.Stats()
	return fmt.Sprintf("loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:%d\r\nrdb_bgsave_in_progress:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\ntroika_appendfsync:%s\r\ntroika_log:%s\r\ntroika_log_commits:%d\r\ntroika_log_writes:%d\r\n",
		dirty, fsync, "raft-shared-journal", st.Commits, st.Requests)
}

func (n *Node) infoReplication() string {
	return "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_repl_offset:0\r\n"
}

// infoRaft reports, per group, the raft state as one line, e.g.
// group_3:role=leader,term=2,leader=<id>,commit_index=10,applied_index=10,fsm_index=10,last_log_index=10,last_snapshot_index=0,voters=1
func (n *Node) infoRaft() string {
	var b strings.Builder
	line := func(name string, h *raftHost, fsmIndex uint64) {
		st := h.raft.Stats()
		_, leader := h.leaderAddr()
		voters := 0
		if f := h.raft.GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if s.Suffrage == raft.Voter {
					voters++
				}
			}
		}
		fmt.Fprintf(&b, "%s:role=%s,term=%s,leader=%s,commit_index=%s,applied_index=%s,fsm_index=%d,last_log_index=%s,last_snapshot_index=%s,voters=%d\r\n",
			name, strings.ToLower(h.raft.State().String()), st["term"], leader, st["commit_index"], st["applied_index"],
			fsmIndex, st["last_log_index"], st["last_snapshot_index"], voters)
	}
	line("meta", n.meta, 0)
	for _, g := range n.localGroups() {
		line(fmt.Sprintf("group_%d", g.id), g.host, g.fsm.applied.Load())
	}
	return b.String()
}
