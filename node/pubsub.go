package node

import (
	"encoding/json"

	"github.com/troika-db/troika/fsm"
)

// pubsubMessage is a published message on its way to the other nodes.
type pubsubMessage struct {
	Channel []byte `json:"c"`
	Message []byte `json:"m"`
	Sharded bool   `json:"s,omitempty"`
}

// SetPubSubSink installs the function that delivers a message published on
// another node to this node's subscribers (the RESP server's Deliver).
func (n *Node) SetPubSubSink(f func(channel, message []byte, sharded bool)) {
	if f == nil {
		n.pubsubSink.Store(nil)
		return
	}
	n.pubsubSink.Store(&f)
}

// Publish hands a message published on this node to every other alive
// member (fire and forget, like Redis Cluster's bus: a member that is down
// misses it). A sharded message goes to the members holding the slot's
// group; a global one to every member.
func (n *Node) Publish(channel, message []byte, sharded bool, slot int) {
	cfg := n.Config()
	if cfg == nil || n.gossip == nil {
		return
	}
	var targets []NodeInfo
	if sharded && slot >= 0 {
		gi, ok := cfg.Group(uint32(cfg.Slots.Group(slot)))
		if !ok {
			return
		}
		for _, id := range gi.Replicas {
			if ni, ok := cfg.Node(id); ok {
				targets = append(targets, ni)
			}
		}
	} else {
		targets = cfg.Nodes
	}
	body, err := json.Marshal(pubsubMessage{Channel: channel, Message: message, Sharded: sharded})
	if err != nil {
		return
	}
	for _, ni := range targets {
		if ni.ID == n.id.ID || !n.alive(ni.ID) {
			continue
		}
		n.publishTo(ni.BusAddr(), body)
	}
}

// publishTo sends one message on the publisher's goroutine pool: a bounded
// queue per node keeps PUBLISH from waiting on a slow peer.
func (n *Node) publishTo(addr string, body []byte) {
	select {
	case n.pubQueue <- pubItem{addr: addr, body: body}:
	default:
		n.log.Warn("pub/sub forward queue full; message dropped", "peer", addr)
	}
}

type pubItem struct {
	addr string
	body []byte
}

// publishLoop forwards queued messages in order.
func (n *Node) publishLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case it := <-n.pubQueue:
			if _, err := n.rpc.call(it.addr, rpcRequest{Method: rpcPublish, Body: it.body}, rpcTimeout); err != nil {
				n.log.Debug("pub/sub forward failed", "peer", it.addr, "err", err)
			}
		}
	}
}

// RouteSlot reports whether this node serves slot (SPUBLISH, SSUBSCRIBE):
// it leads the slot's group. Otherwise the reply redirects the client.
func (n *Node) RouteSlot(slot int) (fsm.Reply, bool) {
	cfg := n.Config()
	if cfg == nil {
		return fsm.Err(fsm.CodeClusterDown), false
	}
	gid := uint32(cfg.Slots.Group(slot))
	if g := n.group(gid); g != nil {
		if _, ok := g.host.ready(); ok {
			return fsm.Reply{}, true
		}
	}
	if id := n.leaderOf(gid); id != "" {
		if ni, ok := cfg.Node(id); ok {
			return moved(slot, ni), false
		}
	}
	return fsm.Err(fsm.CodeClusterDown), false
}
