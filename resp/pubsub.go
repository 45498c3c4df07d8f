package resp

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/redcon"
	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/slots"
)

// Pub/Sub delivery (see DESIGN.md, "Pub/Sub"). The hub maps every channel,
// pattern and shard channel to its subscribers. A connection that
// subscribes gets a connPubSub: an output buffer shared by its own replies
// and by the messages other goroutines publish, and a writer goroutine
// that copies that buffer to the socket, so a publisher never blocks on a
// subscriber and a subscriber blocked in Read still receives promptly.
//
// Lock order: hub.mu, then connPubSub.mu, then conn.mu.

// subKind is the kind of a subscription.
type subKind uint8

const (
	kindChannel subKind = iota // SUBSCRIBE
	kindPattern                // PSUBSCRIBE
	kindShard                  // SSUBSCRIBE
	numKinds
)

var (
	subscribeName   = [numKinds]string{"subscribe", "psubscribe", "ssubscribe"}
	unsubscribeName = [numKinds]string{"unsubscribe", "punsubscribe", "sunsubscribe"}
)

// Pre-encoded message type names.
const (
	bulkMessage  = "$7\r\nmessage\r\n"
	bulkPMessage = "$8\r\npmessage\r\n"
	bulkSMessage = "$8\r\nsmessage\r\n"
)

// hub is the server's subscription registry. Publishers hold mu for
// reading while they append to subscribers' output, so a subscription
// change (which holds it for writing) is atomic with respect to delivery.
type hub struct {
	mu   sync.RWMutex
	subs [numKinds]map[string]map[*connPubSub]struct{}
}

func (h *hub) init() {
	for k := range h.subs {
		h.subs[k] = make(map[string]map[*connPubSub]struct{})
	}
}

// add subscribes ps to name (a no-op if it already is). h.mu is held.
func (h *hub) add(ps *connPubSub, k subKind, name []byte) {
	if _, ok := ps.subs[k][string(name)]; ok {
		return
	}
	n := string(name)
	ps.seq++
	ps.subs[k][n] = ps.seq
	set := h.subs[k][n]
	if set == nil {
		set = make(map[*connPubSub]struct{})
		h.subs[k][n] = set
	}
	set[ps] = struct{}{}
}

// remove unsubscribes ps from name; it reports false if ps was not
// subscribed. h.mu is held.
func (h *hub) remove(ps *connPubSub, k subKind, name string) bool {
	if _, ok := ps.subs[k][name]; !ok {
		return false
	}
	delete(ps.subs[k], name)
	set := h.subs[k][name]
	delete(set, ps)
	if len(set) == 0 {
		delete(h.subs[k], name)
	}
	return true
}

// removeAll drops every subscription of ps, silently. h.mu is held.
func (h *hub) removeAll(ps *connPubSub) {
	for k := range numKinds {
		for name := range ps.subs[k] {
			h.remove(ps, k, name)
		}
	}
}

// counts returns the number of channels, patterns and shard channels with
// at least one subscriber (INFO pubsub_channels, pubsub_patterns,
// pubsubshard_channels).
func (h *hub) counts() (channels, patterns, shard int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs[kindChannel]), len(h.subs[kindPattern]), len(h.subs[kindShard])
}

// names returns the subscribed names of kind k matching pattern (all when
// pattern is nil), sorted.
func (h *hub) names(k subKind, pattern []byte) []string {
	pat := string(pattern)
	h.mu.RLock()
	out := make([]string, 0, len(h.subs[k]))
	for name := range h.subs[k] {
		if pattern == nil || fsm.GlobMatchString(pat, name, false) {
			out = append(out, name)
		}
	}
	h.mu.RUnlock()
	slices.Sort(out)
	return out
}

// numSub returns the number of subscribers of name.
func (h *hub) numSub(k subKind, name []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs[k][string(name)])
}

// Deliver delivers a message that was published on another node of the
// cluster to this node's subscribers: those of the channel and, unless
// sharded, those of every matching pattern. It returns the number of
// receivers. It is safe to call from any goroutine, and never blocks on a
// subscriber.
func (s *Server) Deliver(channel, message []byte, sharded bool) int {
	return s.deliverLocal(channel, message, sharded)
}

// deliverLocal appends a message to the output of every local subscriber,
// channel subscribers first, then pattern subscribers, as Redis's
// pubsubPublishMessage. A client subscribed both to the channel and to
// matching patterns receives (and counts) once per subscription.
func (s *Server) deliverLocal(channel, message []byte, sharded bool) int {
	h := &s.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	var tail []byte // "$len channel $len message", encoded once
	encode := func() []byte {
		if tail == nil {
			tail = make([]byte, 0, len(channel)+len(message)+32)
			tail = redcon.AppendBulk(tail, channel)
			tail = redcon.AppendBulk(tail, message)
		}
		return tail
	}
	lim := s.pubsubLimit.Load()
	n := 0
	if sharded {
		for ps := range h.subs[kindShard][string(channel)] {
			ps.push(lim, 3, bulkSMessage, "", encode())
			n++
		}
		return n
	}
	for ps := range h.subs[kindChannel][string(channel)] {
		ps.push(lim, 3, bulkMessage, "", encode())
		n++
	}
	if len(h.subs[kindPattern]) > 0 {
		ch := string(channel)
		for pat, set := range h.subs[kindPattern] {
			if !fsm.GlobMatchString(pat, ch, false) {
				continue
			}
			for ps := range set {
				ps.push(lim, 4, bulkPMessage, pat, encode())
				n++
			}
		}
	}
	return n
}

// UnsubscribeShardSlot unsubscribes every client from the shard channels
// that hash to slot, sending each the sunsubscribe notification, as Redis
// does when a slot leaves the node. The wiring calls it when this node
// stops serving slot. It returns the number of subscriptions removed.
func (s *Server) UnsubscribeShardSlot(slot int) int {
	h := &s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	for name := range h.subs[kindShard] {
		if slots.Slot([]byte(name)) == slot {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	lim := s.pubsubLimit.Load()
	removed := 0
	for _, name := range names {
		for ps := range h.subs[kindShard][name] {
			h.remove(ps, kindShard, name)
			removed++
			var b []byte
			b = redcon.AppendBulkString(b, name)
			b = redcon.AppendInt(b, int64(len(ps.subs[kindShard])))
			ps.push(lim, 3, "$12\r\nsunsubscribe\r\n", "", b)
			ps.syncState()
		}
	}
	return removed
}

// OutputLimit is one class of Redis's client-output-buffer-limit: a client
// whose pending output reaches Hard bytes, or stays at or above Soft bytes
// for longer than SoftTime, is disconnected. A negative value disables
// that limit.
type OutputLimit struct {
	Hard     int64
	Soft     int64
	SoftTime time.Duration
}

// defaultPubSubLimit is Redis's "client-output-buffer-limit pubsub 32mb 8mb 60".
var defaultPubSubLimit = OutputLimit{Hard: 32 << 20, Soft: 8 << 20, SoftTime: 60 * time.Second}

// normalized maps negative values to 0, which means "no limit".
func (l OutputLimit) normalized() OutputLimit {
	return OutputLimit{Hard: max(l.Hard, 0), Soft: max(l.Soft, 0), SoftTime: max(l.SoftTime, 0)}
}

// reached is Redis's checkClientOutputBufferLimits for a client with used
// bytes pending; softSince is the client's soft-limit timer.
func (l *OutputLimit) reached(used int64, softSince *time.Time, now func() time.Time) bool {
	hard := l.Hard > 0 && used >= l.Hard
	soft := false
	if l.Soft > 0 && used >= l.Soft {
		t := now()
		if softSince.IsZero() {
			*softSince = t
		} else if t.Sub(*softSince) > l.SoftTime {
			soft = true
		}
	} else {
		*softSince = time.Time{}
	}
	return hard || soft
}

// parsePubSubLimit parses client-output-buffer-limit's value ("<class>
// <hard> <soft> <seconds>" repeated) and returns its pubsub class; found
// is false when the value has none. ok is false on a syntax error.
func parsePubSubLimit(value string) (lim OutputLimit, found, ok bool) {
	f := strings.Fields(value)
	if len(f) == 0 || len(f)%4 != 0 {
		return lim, false, false
	}
	for i := 0; i < len(f); i += 4 {
		switch strings.ToLower(f[i]) {
		case "normal", "slave", "replica", "pubsub":
		default:
			return lim, false, false
		}
		hard, ok1 := parseMemory(f[i+1])
		soft, ok2 := parseMemory(f[i+2])
		secs, err := strconv.ParseInt(f[i+3], 10, 64)
		if !ok1 || !ok2 || err != nil || secs < 0 || secs > int64(time.Duration(1<<63-1)/time.Second) {
			return lim, false, false
		}
		if strings.EqualFold(f[i], "pubsub") {
			lim, found = OutputLimit{Hard: hard, Soft: soft, SoftTime: time.Duration(secs) * time.Second}, true
		}
	}
	return lim, found, true
}

// connPubSub is a connection's subscriptions and asynchronous output. It
// exists from the connection's first subscription until the serve
// goroutine, finding no subscription left, drains and stops its writer.
type connPubSub struct {
	c *conn

	// Guarded by hub.mu.
	subs [numKinds]map[string]uint64 // name -> subscription order
	seq  uint64

	mu        sync.Mutex
	buf       []byte    // output not yet handed to the writer
	spare     []byte    // a written buffer kept for reuse
	inflight  int       // bytes the writer is writing now
	proto     int       // the protocol as of the last reply committed
	dead      bool      // closed (limit, write error, stop): drop output
	drain     bool      // stop: write what is pending before returning
	softSince time.Time // client-output-buffer-limit soft timer

	wake chan struct{} // capacity 1: output is pending
	quit chan struct{} // closed by stop
	done chan struct{} // closed when the writer returns
}

// startPubSub switches c to asynchronous output and starts its writer,
// which the connection owns: flushAsync or endPubSub stop it and wait.
// hub.mu is held.
func (c *conn) startPubSub() *connPubSub {
	ps := &connPubSub{
		c:     c,
		proto: c.w.proto,
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for k := range ps.subs {
		ps.subs[k] = make(map[string]uint64)
	}
	c.ps = ps
	go ps.run()
	return ps
}

// replyCount is the count in (un)subscribe replies: channels plus
// patterns for the classic kinds, shard channels for the sharded one.
// hub.mu is held.
func (ps *connPubSub) replyCount(k subKind) int64 {
	if ps == nil {
		return 0
	}
	if k == kindShard {
		return int64(len(ps.subs[kindShard]))
	}
	return int64(len(ps.subs[kindChannel]) + len(ps.subs[kindPattern]))
}

func (ps *connPubSub) total() int {
	return len(ps.subs[kindChannel]) + len(ps.subs[kindPattern]) + len(ps.subs[kindShard])
}

// ordered returns the names of kind k in subscription order. hub.mu is held.
func (ps *connPubSub) ordered(k subKind) []string {
	out := make([]string, 0, len(ps.subs[k]))
	for name := range ps.subs[k] {
		out = append(out, name)
	}
	slices.SortFunc(out, func(a, b string) int {
		sa, sb := ps.subs[k][a], ps.subs[k][b]
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
	return out
}

// syncState publishes the CLIENT_PUBSUB flag and the counts CLIENT LIST
// shows after a subscription change. hub.mu is held.
func (ps *connPubSub) syncState() {
	c := ps.c
	c.subscribed.Store(ps.total() > 0)
	sub, psub, ssub := len(ps.subs[kindChannel]), len(ps.subs[kindPattern]), len(ps.subs[kindShard])
	c.setInfo(func(i *connInfo) { i.sub, i.psub, i.ssub = sub, psub, ssub })
}

// push appends one message (an array or push of n elements: kindBulk,
// pattern when not empty, then tail) and wakes the writer. A subscriber
// whose output exceeds the limit is disconnected, as Redis does.
func (ps *connPubSub) push(lim *OutputLimit, n int, kindBulk, pattern string, tail []byte) {
	ps.mu.Lock()
	if ps.dead {
		ps.mu.Unlock()
		return
	}
	ps.buf = appendPushLen(ps.buf, ps.proto, n)
	ps.buf = append(ps.buf, kindBulk...)
	if pattern != "" {
		ps.buf = redcon.AppendBulkString(ps.buf, pattern)
	}
	ps.buf = append(ps.buf, tail...)
	ps.appendedLocked(lim)
}

// commit appends the connection's own replies to the output, recording
// the protocol they were written in (messages that follow use it). It
// reports false when the connection is dead.
func (ps *connPubSub) commit(b []byte, proto int) bool {
	ps.mu.Lock()
	if ps.dead {
		ps.mu.Unlock()
		return false
	}
	ps.proto = proto
	if len(b) == 0 {
		ps.mu.Unlock()
		return true
	}
	ps.buf = append(ps.buf, b...)
	return ps.appendedLocked(ps.c.srv.pubsubLimit.Load())
}

// appendedLocked checks the output limit after an append, publishes the
// pending size, wakes the writer and unlocks ps.mu. It reports false when
// the limit closed the connection.
func (ps *connPubSub) appendedLocked(lim *OutputLimit) bool {
	used := int64(len(ps.buf) + ps.inflight)
	if ps.c.subscribed.Load() && lim.reached(used, &ps.softSince, time.Now) {
		ps.dead = true
		ps.buf = nil
		ps.c.outPending.Store(0)
		ps.mu.Unlock()
		ps.c.srv.log.Warn("closing subscriber that exceeded the pubsub output buffer limit",
			"client_id", ps.c.id, "addr", ps.c.addr, "omem", used, "hard", lim.Hard, "soft", lim.Soft)
		ps.c.kill()
		return false
	}
	ps.c.outPending.Store(used)
	ps.mu.Unlock()
	select {
	case ps.wake <- struct{}{}:
	default:
	}
	return true
}

// run is the writer goroutine.
func (ps *connPubSub) run() {
	defer close(ps.done)
	defer func() {
		if p := recover(); p != nil {
			ps.c.srv.log.Error("panic in subscriber writer; closing the connection",
				"client_id", ps.c.id, "panic", p)
			ps.c.kill()
		}
	}()
	for {
		select {
		case <-ps.wake:
			if !ps.writeOnce() {
				return
			}
		case <-ps.quit:
			ps.mu.Lock()
			drain := ps.drain
			ps.mu.Unlock()
			for drain {
				ps.mu.Lock()
				idle := len(ps.buf) == 0 || ps.dead
				ps.mu.Unlock()
				if idle || !ps.writeOnce() {
					return
				}
			}
			return
		}
	}
}

// writeOnce writes the pending output; it reports false once the
// connection is dead.
func (ps *connPubSub) writeOnce() bool {
	ps.mu.Lock()
	if ps.dead {
		ps.mu.Unlock()
		return false
	}
	buf := ps.buf
	if len(buf) == 0 {
		ps.mu.Unlock()
		return true
	}
	ps.buf, ps.spare = ps.spare[:0], nil
	ps.inflight = len(buf)
	ps.mu.Unlock()

	n, err := ps.c.nc.Write(buf)
	ps.c.srv.stats.netOutput.Add(int64(n))

	ps.mu.Lock()
	ps.inflight = 0
	if ps.spare == nil && cap(buf) <= shrinkAbove {
		ps.spare = buf[:0]
	}
	if err != nil {
		ps.dead = true
		ps.buf = nil
	}
	ps.c.outPending.Store(int64(len(ps.buf)))
	ps.mu.Unlock()
	if err != nil {
		if !ps.c.killed.Load() {
			ps.c.srv.log.Debug("client write failed", "client_id", ps.c.id, "err", err)
		}
		ps.c.kill()
		return false
	}
	return true
}

// stop ends the writer and waits for it; with drain, the pending output is
// written first. The caller must have closed the socket when not draining
// (a blocked Write would otherwise never return). It reports whether the
// output was all written.
func (ps *connPubSub) stop(drain bool) bool {
	ps.mu.Lock()
	ps.drain = drain
	if !drain {
		ps.dead = true
		ps.buf = nil
	}
	ps.mu.Unlock()
	close(ps.quit)
	<-ps.done
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.c.outPending.Store(0)
	return !ps.dead
}

// commitOutput hands the replies written so far to the asynchronous
// output, so that they precede any message published from now on.
func (c *conn) commitOutput() {
	c.ps.commit(c.w.b, c.w.proto)
	c.resetOutput()
	c.mark = 0
}

func (c *conn) resetOutput() {
	c.w.b = c.w.b[:0]
	if cap(c.w.b) > shrinkAbove {
		c.w.b = nil
	}
}

// flushAsync is flush for a connection with a connPubSub. Once the last
// subscription is gone, it drains the output and returns the connection
// to synchronous writes: nothing can publish to it any more, since it is
// in no subscriber set.
func (c *conn) flushAsync() bool {
	ps := c.ps
	ok := ps.commit(c.w.b, c.w.proto)
	c.resetOutput()
	if !ok {
		return false
	}
	h := &c.srv.hub
	h.mu.RLock()
	idle := ps.total() == 0
	h.mu.RUnlock()
	if !idle {
		return true
	}
	c.ps = nil
	return ps.stop(true)
}

// endPubSub runs when the connection ends: it leaves every channel, then
// stops the writer, first writing the pending output when the connection
// closes after its replies (drain: QUIT, protocol error) and dropping it
// when the client is gone.
func (c *conn) endPubSub(drain bool) {
	ps := c.ps
	if ps == nil {
		return
	}
	h := &c.srv.hub
	h.mu.Lock()
	h.removeAll(ps)
	c.ps = nil
	h.mu.Unlock()
	c.subscribed.Store(false)
	if !drain {
		c.kill()
	}
	ps.stop(drain)
}
