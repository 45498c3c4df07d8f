package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/slots"
	"github.com/troika-db/troika/snapshot"
)

// NodeInfo is a member of the cluster as the meta group records it.
type NodeInfo struct {
	ID      string `json:"id"`
	Host    string `json:"host"`     // address clients use
	Port    int    `json:"port"`     // client (RESP) port
	BusPort int    `json:"bus_port"` // cluster port (raft, gossip)
	// Draining is set by CLUSTER FORGET: placement moves the node's
	// replicas elsewhere, then the node is forgotten.
	Draining bool `json:"draining,omitempty"`
}

// Addr returns host:port for clients.
func (n NodeInfo) Addr() string { return fmt.Sprintf("%s:%d", n.Host, n.Port) }

// BusAddr returns host:busport, the raft address of the node.
func (n NodeInfo) BusAddr() string { return fmt.Sprintf("%s:%d", n.Host, n.BusPort) }

// GroupInfo is a data group and the nodes that hold its replicas.
type GroupInfo struct {
	ID       uint32   `json:"id"`
	Replicas []string `json:"replicas"`
	// Leader is the preferred leader (placement balances leaders over
	// nodes; the group's leader transfers leadership to it).
	Leader string `json:"leader,omitempty"`
}

// ClusterConfig is the cluster's configuration: the meta group's state. It
// is immutable once published; changes produce a new value.
type ClusterConfig struct {
	Epoch    uint64      `json:"epoch"`
	Nodes    []NodeInfo  `json:"nodes"` // sorted by ID
	Groups   []GroupInfo `json:"groups"`
	Slots    slots.Map   `json:"-"`
	SlotsBin []byte      `json:"slots"`
	Replicas int         `json:"replicas"` // desired replication factor
	Mode     string      `json:"mode"`     // "cp" or "ap"
	// Forgotten lists node ids removed by CLUSTER FORGET: gossip may still
	// carry them, but they are never registered again.
	Forgotten []string `json:"forgotten,omitempty"`
}

// Node returns the node with id.
func (c *ClusterConfig) Node(id string) (NodeInfo, bool) {
	i := sort.Search(len(c.Nodes), func(i int) bool { return c.Nodes[i].ID >= id })
	if i < len(c.Nodes) && c.Nodes[i].ID == id {
		return c.Nodes[i], true
	}
	return NodeInfo{}, false
}

// Group returns the group with id.
func (c *ClusterConfig) Group(id uint32) (GroupInfo, bool) {
	for _, g := range c.Groups {
		if g.ID == id {
			return g, true
		}
	}
	return GroupInfo{}, false
}

func (c *ClusterConfig) clone() *ClusterConfig {
	d := *c
	d.Nodes = append([]NodeInfo(nil), c.Nodes...)
	d.Forgotten = append([]string(nil), c.Forgotten...)
	d.Groups = make([]GroupInfo, len(c.Groups))
	for i, g := range c.Groups {
		d.Groups[i] = GroupInfo{ID: g.ID, Replicas: append([]string(nil), g.Replicas...), Leader: g.Leader}
	}
	return &d
}

func (c *ClusterConfig) encode() ([]byte, error) {
	b, err := c.Slots.MarshalBinary()
	if err != nil {
		return nil, err
	}
	c.SlotsBin = b
	return json.Marshal(c)
}

func decodeClusterConfig(b []byte) (*ClusterConfig, error) {
	var c ClusterConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if err := c.Slots.UnmarshalBinary(c.SlotsBin); err != nil {
		return nil, fmt.Errorf("slot map: %w", err)
	}
	c.SlotsBin = nil
	return &c, nil
}

// metaCmd is a meta-group log entry. Ops are stable strings.
type metaCmd struct {
	Op     string         `json:"op"`
	Config *ClusterConfig `json:"config,omitempty"` // "init"
	Node   *NodeInfo      `json:"node,omitempty"`   // "node": add or update a member
	Mode   string         `json:"mode,omitempty"`   // "mode"
	Group  *GroupInfo     `json:"group,omitempty"`  // "group": replace a group's replicas/leader
	ID     string         `json:"id,omitempty"`     // "drain", "forget": a node id
}

const (
	metaOpInit = "init"
	metaOpNode = "node"
	metaOpMode = "mode"
	// Appended for the multi-node cluster; never renumber or rename.
	metaOpGroup  = "group"
	metaOpDrain  = "drain"
	metaOpForget = "forget"
)

var errMetaUnknownOp = errors.New("unknown meta op")

// metaFSM is the meta group's state machine. Apply is deterministic: it only
// transforms the previous configuration with the entry's content.
type metaFSM struct {
	cfg atomic.Pointer[ClusterConfig]
	// changed is called (from the raft FSM goroutine) after each change.
	changed func(*ClusterConfig)
}

func (m *metaFSM) config() *ClusterConfig { return m.cfg.Load() }

func (m *metaFSM) Apply(l *raft.Log) interface{} {
	if l.Type != raft.LogCommand {
		return nil
	}
	var c metaCmd
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("meta: decode entry %d: %w", l.Index, err)
	}
	cur := m.cfg.Load()
	var next *ClusterConfig
	switch c.Op {
	case metaOpInit:
		if cur != nil {
			return errors.New("meta: cluster already initialised")
		}
		if c.Config == nil {
			return errors.New("meta: init without config")
		}
		next = c.Config.clone()
		if err := next.Slots.UnmarshalBinary(c.Config.SlotsBin); err != nil {
			return fmt.Errorf("meta: init slot map: %w", err)
		}
		next.SlotsBin = nil
	case metaOpNode:
		if cur == nil || c.Node == nil {
			return errors.New("meta: node update before init")
		}
		if slices.Contains(cur.Forgotten, c.Node.ID) {
			return fmt.Errorf("meta: node %s was forgotten", c.Node.ID)
		}
		next = cur.clone()
		i := sort.Search(len(next.Nodes), func(i int) bool { return next.Nodes[i].ID >= c.Node.ID })
		if i < len(next.Nodes) && next.Nodes[i].ID == c.Node.ID {
			draining := next.Nodes[i].Draining
			next.Nodes[i] = *c.Node
			next.Nodes[i].Draining = draining // only "drain" sets it
		} else {
			next.Nodes = append(next.Nodes, NodeInfo{})
			copy(next.Nodes[i+1:], next.Nodes[i:])
			next.Nodes[i] = *c.Node
		}
	case metaOpMode:
		if cur == nil || (c.Mode != "cp" && c.Mode != "ap") {
			return errors.New("meta: bad mode change")
		}
		next = cur.clone()
		next.Mode = c.Mode
	case metaOpGroup:
		if cur == nil || c.Group == nil {
			return errors.New("meta: group update before init")
		}
		next = cur.clone()
		found := false
		for i := range next.Groups {
			if next.Groups[i].ID == c.Group.ID {
				next.Groups[i] = GroupInfo{ID: c.Group.ID, Replicas: append([]string(nil), c.Group.Replicas...), Leader: c.Group.Leader}
				found = true
			}
		}
		if !found {
			return fmt.Errorf("meta: unknown group %d", c.Group.ID)
		}
	case metaOpDrain:
		if cur == nil {
			return errors.New("meta: drain before init")
		}
		next = cur.clone()
		found := false
		for i := range next.Nodes {
			if next.Nodes[i].ID == c.ID {
				next.Nodes[i].Draining = true
				found = true
			}
		}
		if !found {
			return fmt.Errorf("meta: unknown node %s", c.ID)
		}
	case metaOpForget:
		if cur == nil {
			return errors.New("meta: forget before init")
		}
		for _, g := range cur.Groups {
			for _, r := range g.Replicas {
				if r == c.ID {
					return fmt.Errorf("meta: node %s still holds a replica of group %d", c.ID, g.ID)
				}
			}
		}
		next = cur.clone()
		next.Nodes = slices.DeleteFunc(next.Nodes, func(ni NodeInfo) bool { return ni.ID == c.ID })
		if !slices.Contains(next.Forgotten, c.ID) {
			next.Forgotten = append(next.Forgotten, c.ID)
		}
	default:
		// An op this binary does not know: refuse to guess.
		panic(fmt.Errorf("%w %q at index %d", errMetaUnknownOp, c.Op, l.Index))
	}
	next.Epoch = l.Index
	m.cfg.Store(next)
	if m.changed != nil {
		m.changed(next)
	}
	return nil
}

func (m *metaFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &metaSnapshot{cfg: m.cfg.Load()}, nil
}

// Restore replaces the configuration with the one in a snapshot (written
// in the snapshot/ format, kind "meta", the configuration in the header).
func (m *metaFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	sr, err := snapshot.NewReader(rc)
	if err != nil {
		return fmt.Errorf("meta restore: %w", err)
	}
	h := sr.Header()
	if h.Kind != "meta" {
		return fmt.Errorf("meta restore: snapshot kind %q", h.Kind)
	}
	if _, err := sr.Next(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("meta restore: trailer: %v", err)
	}
	if len(h.Meta) == 0 {
		m.cfg.Store(nil)
		return nil
	}
	c, err := decodeClusterConfig(h.Meta)
	if err != nil {
		return fmt.Errorf("meta restore: %w", err)
	}
	m.cfg.Store(c)
	if m.changed != nil {
		m.changed(c)
	}
	return nil
}

type metaSnapshot struct{ cfg *ClusterConfig }

func (s *metaSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("meta persist: %w", err)
	}
	return sink.Close()
}

func (s *metaSnapshot) write(w io.Writer) error {
	var b []byte
	if s.cfg != nil {
		var err error
		if b, err = s.cfg.clone().encode(); err != nil {
			return err
		}
	}
	sw, err := snapshot.NewWriter(w, snapshot.Header{Kind: "meta", Meta: b})
	if err != nil {
		return err
	}
	return sw.Close()
}

func (s *metaSnapshot) Release() {}
