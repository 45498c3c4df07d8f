package resp

import (
	"fmt"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/slots"
)

// The Pub/Sub command family: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE,
// PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB.
// Delivery and the connection's asynchronous output are in pubsub.go.

func pubsubHandlers() map[string]handler {
	return map[string]handler{
		"subscribe":    cmdSubscribe,
		"unsubscribe":  cmdUnsubscribe,
		"psubscribe":   cmdPSubscribe,
		"punsubscribe": cmdPUnsubscribe,
		"ssubscribe":   cmdSSubscribe,
		"sunsubscribe": cmdSUnsubscribe,
		"publish":      cmdPublish,
		"spublish":     cmdSPublish,

		"pubsub|channels":      cmdPubsubChannels,
		"pubsub|shardchannels": cmdPubsubChannels,
		"pubsub|numsub":        cmdPubsubNumSub,
		"pubsub|shardnumsub":   cmdPubsubNumSub,
		"pubsub|numpat":        cmdPubsubNumPat,
		"pubsub|help":          helpHandler("PUBSUB", pubsubHelp),
	}
}

var pubsubHelp = []string{
	"CHANNELS [<pattern>]",
	"    Return the currently active channels matching a <pattern> (default: '*').",
	"NUMPAT",
	"    Return number of subscriptions to patterns.",
	"NUMSUB [<channel> ...]",
	"    Return the number of subscribers for the specified channels, excluding",
	"    pattern subscriptions(default: no channels).",
	"SHARDCHANNELS [<pattern>]",
	"    Return the currently active shard level channels matching a <pattern> (default: '*').",
	"SHARDNUMSUB [<shardchannel> ...]",
	"    Return the number of subscribers for the specified shard level channel(s)",
}

func cmdSubscribe(c *conn, args [][]byte)    { c.subscribe(kindChannel, args[1:]) }
func cmdPSubscribe(c *conn, args [][]byte)   { c.subscribe(kindPattern, args[1:]) }
func cmdUnsubscribe(c *conn, args [][]byte)  { c.unsubscribe(kindChannel, args[1:]) }
func cmdPUnsubscribe(c *conn, args [][]byte) { c.unsubscribe(kindPattern, args[1:]) }
func cmdSSubscribe(c *conn, args [][]byte)   { c.shardSubscribe(args, true) }
func cmdSUnsubscribe(c *conn, args [][]byte) { c.shardSubscribe(args, false) }
func (c *conn) shardSubscribe(args [][]byte, sub bool) {
	if _, ok := c.routeShard(args[1:]); !ok {
		return
	}
	if sub {
		c.subscribe(kindShard, args[1:])
	} else {
		c.unsubscribe(kindShard, args[1:])
	}
}

// subscribe adds the subscriptions and replies one confirmation per name
// with the connection's count after it, as Redis's pubsubSubscribeChannel.
// The confirmations are committed to the output while the hub is locked,
// so they precede every message the new subscriptions receive.
func (c *conn) subscribe(k subKind, names [][]byte) {
	h := &c.srv.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	ps := c.ps
	if ps == nil {
		ps = c.startPubSub()
	}
	for _, name := range names {
		h.add(ps, k, name)
		c.w.pushLen(3)
		c.w.bulkStr(subscribeName[k])
		c.w.bulk(name)
		c.w.int(ps.replyCount(k))
	}
	ps.syncState()
	c.commitOutput()
}

// unsubscribe removes the named subscriptions, or all of kind k (in
// subscription order) when names is empty, replying one confirmation per
// name; with nothing to remove, one confirmation with a null name.
func (c *conn) unsubscribe(k subKind, names [][]byte) {
	h := &c.srv.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	ps := c.ps
	confirm := func(name []byte) {
		c.w.pushLen(3)
		c.w.bulkStr(unsubscribeName[k])
		if name == nil {
			c.w.null()
		} else {
			c.w.bulk(name)
		}
		c.w.int(ps.replyCount(k))
	}
	if len(names) == 0 {
		var all []string
		if ps != nil {
			all = ps.ordered(k)
		}
		for _, name := range all {
			h.remove(ps, k, name)
			confirm([]byte(name))
		}
		if len(all) == 0 {
			confirm(nil)
		}
	} else {
		for _, name := range names {
			if ps != nil {
				h.remove(ps, k, string(name))
			}
			confirm(name)
		}
	}
	if ps != nil {
		ps.syncState()
		c.commitOutput()
	}
}

// routeShard is Redis Cluster's routing of sharded Pub/Sub: the shard
// channels must share one slot (else CROSSSLOT) that this node serves
// (else the PubSubBackend's redirect). On failure it replies the error,
// marks the call rejected and returns false. slot is -1 without channels.
func (c *conn) routeShard(channels [][]byte) (slot int, ok bool) {
	slot = -1
	for _, ch := range channels {
		s := slots.Slot(ch)
		if slot >= 0 && s != slot {
			c.w.error(msgCrossSlot)
			c.rejected = true
			return slot, false
		}
		slot = s
	}
	if pb := c.srv.cfg.PubSub; pb != nil && slot >= 0 {
		if redirect, served := pb.RouteSlot(slot); !served {
			c.writeRedirect(redirect)
			return slot, false
		}
	}
	return slot, true
}

func (c *conn) writeRedirect(r fsm.Reply) {
	if r.Kind != fsm.KindError {
		r = fsm.Err(fsm.CodeClusterDown)
	}
	c.w.reply(r)
	c.rejected = true
}

// publishArgs is PUBLISH and SPUBLISH's typed arguments.
type publishArgs struct {
	channel, message []byte
	sharded          bool
}

func cmdPublish(c *conn, args [][]byte) {
	c.publish(publishArgs{channel: args[1], message: args[2]})
}

func cmdSPublish(c *conn, args [][]byte) {
	c.publish(publishArgs{channel: args[1], message: args[2], sharded: true})
}

// publish delivers to this node's subscribers, hands the message to the
// cluster, and replies the number of local receivers (as Redis Cluster:
// the receivers on the node that got the PUBLISH).
func (c *conn) publish(p publishArgs) {
	slot := -1
	if p.sharded {
		var ok bool
		if slot, ok = c.routeShard([][]byte{p.channel}); !ok {
			return
		}
	}
	if c.ps != nil {
		// A subscriber publishing to itself (RESP3) sees its earlier
		// replies before the message, as in Redis.
		c.commitOutput()
	}
	n := c.srv.deliverLocal(p.channel, p.message, p.sharded)
	if pb := c.srv.cfg.PubSub; pb != nil {
		pb.Publish(p.channel, p.message, p.sharded, slot)
	}
	c.w.int(int64(n))
}

// pubsubListArgs is PUBSUB CHANNELS / SHARDCHANNELS [pattern].
type pubsubListArgs struct {
	kind    subKind
	pattern []byte // nil: every channel
}

func parsePubsubList(args [][]byte) (pubsubListArgs, string) {
	a := pubsubListArgs{kind: kindChannel}
	if lowerASCII(args[1]) == "shardchannels" {
		a.kind = kindShard
	}
	switch len(args) {
	case 2:
	case 3:
		a.pattern = args[2]
	default:
		return a, fmt.Sprintf(msgUnknownSubArity, truncate(args[1], 128), "PUBSUB")
	}
	return a, ""
}

func cmdPubsubChannels(c *conn, args [][]byte) {
	a, errText := parsePubsubList(args)
	if errText != "" {
		c.w.error(errText)
		return
	}
	names := c.srv.hub.names(a.kind, a.pattern)
	c.w.arrayLen(len(names))
	for _, n := range names {
		c.w.bulkStr(n)
	}
}

// cmdPubsubNumSub is PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: a flat
// array of name, subscriber count (pattern subscribers excluded).
func cmdPubsubNumSub(c *conn, args [][]byte) {
	kind := kindChannel
	if lowerASCII(args[1]) == "shardnumsub" {
		kind = kindShard
	}
	c.w.arrayLen(2 * (len(args) - 2))
	for _, ch := range args[2:] {
		c.w.bulk(ch)
		c.w.int(int64(c.srv.hub.numSub(kind, ch)))
	}
}

// cmdPubsubNumPat is PUBSUB NUMPAT: the number of distinct patterns.
func cmdPubsubNumPat(c *conn, _ [][]byte) {
	_, patterns, _ := c.srv.hub.counts()
	c.w.int(int64(patterns))
}

// allowedWhileSubscribed lists the commands a RESP2 connection may run
// while it has subscriptions.
func allowedWhileSubscribed(cmd *Command) bool {
	switch cmd.Name {
	case "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe",
		"psubscribe", "punsubscribe", "quit", "reset":
		return true
	}
	return false
}

// subscribedContextError is the rejection of cmd in the RESP2 subscribed
// context. Redis applies cluster routing first, so a cross-slot keyed
// command gets CROSSSLOT and an SPUBLISH to a slot served elsewhere its
// redirect.
func (c *conn) subscribedContextError(cmd *Command, args [][]byte) string {
	switch {
	case cmd.Route == RouteKeyed:
		if _, cross := c.commandSlot(cmd, args); cross {
			return msgCrossSlot
		}
	case cmd.Name == "spublish":
		if pb := c.srv.cfg.PubSub; pb != nil {
			if r, served := pb.RouteSlot(slots.Slot(args[1])); !served && r.Kind == fsm.KindError {
				return errorText(r)
			}
		}
	}
	return fmt.Sprintf(msgPubSubContext, cmd.Name)
}

// pubsubPing answers PING in the RESP2 subscribed context, where Redis
// replies ["pong", message] (message "" by default). It reports whether
// it did.
func (c *conn) pubsubPing(args [][]byte) bool {
	if c.ps == nil || c.w.proto != 2 || !c.subscribed.Load() || len(args) > 2 {
		return false
	}
	c.w.arrayLen(2)
	c.w.bulkStr("pong")
	if len(args) == 2 {
		c.w.bulk(args[1])
	} else {
		c.w.bulkStr("")
	}
	return true
}

// resetPubSub leaves every channel without notifications (RESET). The
// output returns to synchronous writes at the next flush.
func (c *conn) resetPubSub() {
	ps := c.ps
	if ps == nil {
		return
	}
	h := &c.srv.hub
	h.mu.Lock()
	h.removeAll(ps)
	ps.syncState()
	h.mu.Unlock()
}

// clientType is Redis's getClientType as CLIENT LIST/KILL TYPE see it.
func (c *conn) clientType() string {
	if c.subscribed.Load() {
		return "pubsub"
	}
	return "normal"
}
