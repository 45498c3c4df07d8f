package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/troika-db/troika/gossip"
)

// nodeMeta is what a node gossips about itself: its addresses and the
// groups it currently leads (leader hints). Configuration never comes from
// gossip: the meta group decides who is a member and where replicas live;
// gossip only says who is alive and who leads what right now.
type nodeMeta struct {
	Host    string
	Port    int
	BusPort int
	Leads   []leadHint // sorted by group
}

// leadHint says "I lead group Group in term Term and am ready to serve".
type leadHint struct {
	Group uint32
	Term  uint64
}

const nodeMetaVersion = 1

// encode renders m compactly (memberlist limits node metadata to 512
// bytes): version, host, ports, then (group, term) varint pairs.
func (m nodeMeta) encode() []byte {
	b := []byte{nodeMetaVersion, byte(len(m.Host))}
	b = append(b, m.Host...)
	b = binary.AppendUvarint(b, uint64(m.Port))
	b = binary.AppendUvarint(b, uint64(m.BusPort))
	b = binary.AppendUvarint(b, uint64(len(m.Leads)))
	for _, l := range m.Leads {
		b = binary.AppendUvarint(b, uint64(l.Group))
		b = binary.AppendUvarint(b, l.Term)
	}
	return b
}

var errBadMeta = errors.New("bad node metadata")

func decodeNodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) < 2 || b[0] != nodeMetaVersion || len(b) < 2+int(b[1]) {
		return m, errBadMeta
	}
	m.Host = string(b[2 : 2+int(b[1])])
	b = b[2+int(b[1]):]
	next := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	port, ok1 := next()
	bus, ok2 := next()
	cnt, ok3 := next()
	if !ok1 || !ok2 || !ok3 || port > 65535 || bus > 65535 || cnt > 4096 {
		return m, errBadMeta
	}
	m.Port, m.BusPort = int(port), int(bus)
	for i := uint64(0); i < cnt; i++ {
		g, ok1 := next()
		t, ok2 := next()
		if !ok1 || !ok2 || g > 1<<32-1 {
			return m, errBadMeta
		}
		m.Leads = append(m.Leads, leadHint{Group: uint32(g), Term: t})
	}
	return m, nil
}

// localMeta is this node's current gossip metadata.
func (n *Node) localMeta() []byte {
	m := nodeMeta{Host: n.cfg.Host, Port: n.cfg.Port, BusPort: n.cfg.busPort()}
	if n.meta != nil {
		if term, ok := n.meta.ready(); ok {
			m.Leads = append(m.Leads, leadHint{Group: 0, Term: term})
		}
	}
	for _, g := range n.localGroups() {
		if term, ok := g.host.ready(); ok {
			m.Leads = append(m.Leads, leadHint{Group: g.id, Term: term})
		}
	}
	b := m.encode()
	if len(b) > 512 {
		// Too many groups led to fit memberlist's limit: keep the
		// addresses; routing falls back to MOVED via replicas.
		m.Leads = nil
		b = m.encode()
	}
	return b
}

// peer is a member as routing sees it.
type peer struct {
	id    string
	state gossip.State
	since time.Time
	meta  nodeMeta
}

// peers returns the gossip view (self included), keyed by node id.
func (n *Node) peers() map[string]peer {
	out := map[string]peer{}
	if n.gossip == nil {
		return out
	}
	for _, m := range n.gossip.Members() {
		nm, err := decodeNodeMeta(m.Meta)
		if err != nil {
			continue
		}
		out[m.Name] = peer{id: m.Name, state: m.State, since: m.Since, meta: nm}
	}
	return out
}

// alive reports whether the gossip layer considers node id alive (self is
// always alive). Without gossip (tests of one node) every node is alive.
func (n *Node) alive(id string) bool {
	if id == n.id.ID || n.gossip == nil {
		return true
	}
	m, ok := n.gossip.Member(id)
	return ok && (m.State == gossip.StateAlive || m.State == gossip.StateSuspect)
}

// deadFor reports how long node id has been dead or gone (0 if alive).
func (n *Node) deadFor(id string, now time.Time) time.Duration {
	if id == n.id.ID || n.gossip == nil {
		return 0
	}
	m, ok := n.gossip.Member(id)
	if !ok {
		// Never seen since this node started: count from our start.
		return now.Sub(n.start)
	}
	if m.State == gossip.StateAlive || m.State == gossip.StateSuspect {
		return 0
	}
	return now.Sub(m.Since)
}

// hintedLeader returns the node that claims, through gossip, to lead group
// gid in the highest term among alive members, or "".
func (n *Node) hintedLeader(gid uint32) string {
	n.hintsMu.Lock()
	defer n.hintsMu.Unlock()
	if time.Since(n.hintsAt) > 50*time.Millisecond || n.hints == nil {
		n.hints = map[uint32]leadHint{}
		n.hintNode = map[uint32]string{}
		for id, p := range n.peers() {
			// Only alive peers' claims count; this node's own claims are
			// not hints (its raft view is the truth, and its gossiped
			// metadata may lag a lost leadership).
			if p.state != gossip.StateAlive || id == n.id.ID {
				continue
			}
			for _, l := range p.meta.Leads {
				if cur, ok := n.hints[l.Group]; !ok || l.Term > cur.Term {
					n.hints[l.Group] = l
					n.hintNode[l.Group] = id
				}
			}
		}
		n.hintsAt = time.Now()
	}
	return n.hintNode[gid]
}

// leaderOf returns the node id leading data group gid as far as this node
// knows: the local replica's raft view first, then gossip hints.
func (n *Node) leaderOf(gid uint32) string {
	if g := n.group(gid); g != nil {
		if _, id := g.host.leaderAddr(); id != "" {
			return id
		}
	}
	return n.hintedLeader(gid)
}

// metaLeader returns the bus address of the meta group's leader, or "".
func (n *Node) metaLeader() string {
	if addr, _ := n.meta.leaderAddr(); addr != "" {
		return addr
	}
	id := n.hintedLeader(0)
	if cfg := n.Config(); cfg != nil && id != "" {
		if ni, ok := cfg.Node(id); ok {
			return ni.BusAddr()
		}
	}
	return ""
}

// startGossip creates the gossip member on the cluster port and joins the
// seeds (when any). Seeds may be cluster ports or client ports of members.
func (n *Node) startGossip() error {
	g, err := gossip.New(gossip.Config{
		Name:      n.id.ID,
		BindAddr:  net.JoinHostPort(n.cfg.bindHost(), strconv.Itoa(n.cfg.ClusterPort)),
		Advertise: n.busAddr(),
		Meta:      n.localMeta,
		Dial: func(addr string, timeout time.Duration) (net.Conn, error) {
			return n.mux.Dial(kindGossip, addr, timeout)
		},
		Allow:   n.linkAllowed,
		OnEvent: n.onGossipEvent,
		Tuning:  n.cfg.Gossip,
		Logger:  n.log,
	})
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	n.gossip = g
	n.mux.Handle(kindGossip, g.HandleStream)
	return nil
}

func (n *Node) onGossipEvent(gossip.Event) {
	n.hintsMu.Lock()
	n.hintsAt = time.Time{}
	n.hintsMu.Unlock()
	n.kick()
}

// joinSeeds joins the gossip of an existing cluster through seeds, retrying
// until it succeeds or the node stops. A seed may be a member's cluster
// port or its client port (then its cluster port is asked over RESP).
func (n *Node) joinLoop(seeds []string) {
	defer n.wg.Done()
	for attempt := 0; ; attempt++ {
		var bus []string
		for _, s := range seeds {
			if b, err := resolveSeed(s); err == nil {
				bus = append(bus, b...)
			} else {
				n.log.Debug("seed not reachable", "seed", s, "err", err)
			}
		}
		if len(bus) > 0 {
			k, err := n.gossip.Join(bus)
			if err == nil && k > 0 {
				n.log.Info("joined cluster", "seeds", seeds, "contacted", k)
				return
			}
			n.log.Warn("cluster join failed, retrying", "seeds", seeds, "err", err)
		}
		select {
		case <-n.stop:
			return
		case <-time.After(time.Duration(min(attempt+1, 10)) * 200 * time.Millisecond):
		}
	}
}

// sortedIDs returns the keys of m sorted.
func sortedIDs[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// linkAllowed applies the test link filter to gossip packets too.
func (n *Node) linkAllowed(from, to string) bool {
	return n.cfg.LinkFilter == nil || n.cfg.LinkFilter(from, to)
}
